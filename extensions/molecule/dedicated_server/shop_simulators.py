# -*- coding: utf-8 -*-
# Copyright (c) ispsystem.dcimanager contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Start and stop the DCImanager and WHMCS simulators of the Molecule scenario.

    python shop_simulators.py start DIR   # both simulators with the sample shop; writes DIR/connection.json
    python shop_simulators.py stop DIR    # SIGTERM (then SIGKILL) to the simulators started in DIR

``create.yml`` and ``destroy.yml`` call it with a directory under Molecule's ephemeral directory.
The simulators are this checkout's ``tests/simulators`` run as processes (``python -m
simulators.NAME --state FILE``); each prints one JSON line (url, ca_path, control) and serves until
SIGTERM. ``connection.json`` holds the role's connection variables and ``dedicated_server_products``,
ready for ``vars_files``.

Every wait is bounded, and a start that fails stops what it started. The simulators outlive this
script on purpose (converge, idempotence and verify use them): their pids are in ``DIR/pids.json``
and ``stop`` signals a pid only while that process still runs with this directory's state file,
so a stale pid that the system has since reused is left alone.
"""

import argparse
import importlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

# extensions/molecule/dedicated_server/ -> the checkout's tests/ (where the simulators package lives)
TESTS_DIR = Path(__file__).resolve().parents[3] / "tests"

START_TIMEOUT = 30.0  # seconds for a simulator to print its JSON line (it makes a CA first)
STOP_TIMEOUT = 10.0  # seconds for a simulator to exit after SIGTERM, before SIGKILL

# The credentials the simulators accept; passed on their command lines so they are stated once.
DCI_ADMIN = ("admin", "molecule-admin-pw")
WHMCS_API = ("molecule-identifier", "molecule-secret")
# Short waits, so the role's install wait takes seconds (real panels take minutes).
DCI_TIMINGS = ["--install-seconds", "2", "--poweron-seconds", "0.5", "--poweroff-seconds", "0.2", "--enable-seconds", "0.2"]


class SimulatorError(Exception):
    """A simulator did not come up."""


def _command_line(pid):
    """The process's arguments, or None when it is gone (a zombie has none either)."""
    try:
        raw = Path("/proc/%d/cmdline" % pid).read_bytes()
    except OSError:
        return None
    return raw.decode("utf-8", "replace").split("\0") if raw else None


def _is_ours(pid, state_file):
    """True while ``pid`` is a running simulator started with ``state_file``."""
    if not Path("/proc/self/cmdline").exists():  # no procfs: trust the pid file
        try:
            os.kill(pid, 0)
        except OSError:
            return False
        return True
    args = _command_line(pid)
    return bool(args) and state_file in args


def _launch(directory, name, state, options):
    """Start ``python -m simulators.NAME`` on ``state``; return (pid, state file)."""
    state_file = directory / ("%s-state.json" % name)
    state_file.write_text(json.dumps(state), encoding="utf-8")
    # stdout/stderr go to files, never to pipes: the simulators outlive this script, and a pipe
    # inherited from Ansible's command module would make that task wait for them.
    with open(directory / ("%s.out" % name), "wb") as out, open(directory / ("%s.log" % name), "wb") as log:
        process = subprocess.Popen(  # pylint: disable=consider-using-with  # it must outlive this script
            [sys.executable, "-m", "simulators.%s" % name, "--state", str(state_file), "--tls-dir", str(directory / ("%s-tls" % name))] + options,
            cwd=str(TESTS_DIR),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=log,
            # A session of its own: no signal meant for the process group of the create step's
            # ansible-playbook (or Molecule's) reaches the simulators; destroy stops them by pid.
            start_new_session=True,
        )
    return process, str(state_file)


def _read_line(directory, name, process, deadline):
    """The simulator's JSON line, waiting until ``deadline``."""
    out = directory / ("%s.out" % name)
    while time.monotonic() < deadline:
        text = out.read_text(encoding="utf-8")
        if text.endswith("\n"):
            return json.loads(text.splitlines()[0])
        if process.poll() is not None:
            break
        time.sleep(0.1)
    log = (directory / ("%s.log" % name)).read_text(encoding="utf-8", errors="replace")
    raise SimulatorError("the %s simulator did not start (exit code %s); its stderr ends with:\n%s" % (name, process.poll(), log[-2000:]))


def stop(directory):
    """Stop the simulators listed in ``directory``/pids.json; return how many were running."""
    pids_file = directory / "pids.json"
    if not pids_file.exists():
        return 0
    running = [(pid, state_file) for pid, state_file in json.loads(pids_file.read_text(encoding="utf-8")) if _is_ours(pid, state_file)]
    for pid, dummy in running:
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT
    while time.monotonic() < deadline and any(_is_ours(pid, state_file) for pid, state_file in running):
        time.sleep(0.1)
    for pid, state_file in running:
        if _is_ours(pid, state_file):
            os.kill(pid, signal.SIGKILL)
    pids_file.unlink()
    return len(running)


def start(directory):
    """Start both simulators with the sample shop; write and return the connection variables."""
    directory.mkdir(parents=True, exist_ok=True)
    stop(directory)  # leftovers of a run that ended before its destroy step
    sys.path.insert(0, str(TESTS_DIR))
    dci_state, whmcs_state, products = importlib.import_module("simulators.shop").make_shop()

    launched = {}
    pids = []
    try:
        for name, state, options in (
            ("dcimanager", dci_state, ["--admin-user", DCI_ADMIN[0], "--admin-password", DCI_ADMIN[1]] + DCI_TIMINGS),
            ("whmcs", whmcs_state, ["--identifier", WHMCS_API[0], "--secret", WHMCS_API[1]]),
        ):
            process, state_file = _launch(directory, name, state, options)
            launched[name] = process
            # Written after every start, so a stop can find each simulator that is running.
            pids.append((process.pid, state_file))
            (directory / "pids.json").write_text(json.dumps(pids), encoding="utf-8")
        deadline = time.monotonic() + START_TIMEOUT
        dci, whmcs = (_read_line(directory, name, launched[name], deadline) for name in ("dcimanager", "whmcs"))
    except BaseException:
        stop(directory)
        raise

    connection = {
        "dcimanager_url": dci["url"],
        "dcimanager_username": DCI_ADMIN[0],
        "dcimanager_password": DCI_ADMIN[1],
        "dcimanager_ca_path": dci["ca_path"],
        "whmcs_url": whmcs["url"],
        "whmcs_identifier": WHMCS_API[0],
        "whmcs_secret": WHMCS_API[1],
        "whmcs_ca_path": whmcs["ca_path"],
        "dedicated_server_products": products,
    }
    (directory / "connection.json").write_text(json.dumps(connection, indent=2), encoding="utf-8")
    return connection


def main(argv=None):
    """``start DIR`` or ``stop DIR``; the exit code is 1 when the simulators did not start."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", maxsplit=1)[0])
    parser.add_argument("action", choices=["start", "stop"])
    parser.add_argument("directory", type=Path)
    args = parser.parse_args(argv)
    if args.action == "stop":
        print("stopped %d simulator(s)" % stop(args.directory))
        return 0
    try:
        connection = start(args.directory)
    except (SimulatorError, OSError, ValueError) as exc:
        print(exc, file=sys.stderr)
        return 1
    print("DCImanager simulator at %s, WHMCS simulator at %s" % (connection["dcimanager_url"], connection["whmcs_url"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
