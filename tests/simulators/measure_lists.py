"""How fast the simulators serve a big shop: ``python -m tests.simulators.measure_lists [--services 10000]``.

Generates a consistent shop (``fleet.make_consistent_shop``), loads it into both simulators and
times, over HTTPS on one keep-alive connection (best of ``--repeat``): the DCImanager ``server``
list, and WHMCS ``GetClientsProducts`` whole and in pages; also the generator and ``load_state``.
"""

import argparse
import time

import requests

from .dcimanager import DCImanagerSimulator
from .fleet import make_consistent_shop
from .whmcs import WHMCSSimulator


def best(repeat, action):
    """(the fastest of ``repeat`` runs in seconds, the last result)."""
    times, result = [], None
    for dummy in range(repeat):
        started = time.perf_counter()
        result = action()
        times.append(time.perf_counter() - started)
    return min(times), result


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--services", type=int, default=10000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)

    seconds, (dci, whmcs, dummy) = best(1, lambda: make_consistent_shop(args.services))
    print("make_consistent_shop(%d): %.2f s (%d servers)" % (args.services, seconds, len(dci["servers"])))
    with DCImanagerSimulator(state=dci) as sim, WHMCSSimulator(state=whmcs) as billing:
        print("DCImanager load_state: %.3f s" % best(args.repeat, lambda: sim.load_state(dci))[0])
        print("WHMCS load_state: %.3f s" % best(args.repeat, lambda: billing.load_state(whmcs))[0])
        session = requests.Session()

        def server_list():
            return session.post(sim.url, data={"func": "server", "out": "xml", "authinfo": "admin:admin-secret-pw"}, verify=sim.ca_path, timeout=60)

        seconds, answer = best(args.repeat, server_list)
        print("DCImanager func=server, %d rows, %d bytes: %.3f s" % (answer.text.count("<elem>"), len(answer.content), seconds))

        def products(start, limit):
            return session.post(
                billing.api_url,
                verify=billing.ca_path,
                timeout=60,
                data={
                    "action": "GetClientsProducts",
                    "identifier": billing.identifier,
                    "secret": billing.secret,
                    "responsetype": "json",
                    "limitstart": start,
                    "limitnum": limit,
                },
            ).json()

        seconds, answer = best(args.repeat, lambda: products(0, 0))
        print("WHMCS GetClientsProducts, all %s services: %.3f s" % (answer["numreturned"], seconds))
        for limit in (1000, 250):

            def pages(limit=limit):
                start = 0
                while start < args.services:
                    start += products(start, limit)["numreturned"]

            seconds = best(args.repeat, pages)[0]
            count = -(-args.services // limit)
            print("WHMCS GetClientsProducts, %d pages of %d: %.3f s (%.3f s a page)" % (count, limit, seconds, seconds / count))


if __name__ == "__main__":
    main()
