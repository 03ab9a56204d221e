# -*- coding: utf-8 -*-
# Copyright (c) ispsystem.dcimanager contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The AWX path: two converge jobs for one service, started in one order and reading WHMCS in the other.

AWX runs jobs in parallel and in any order, and nothing but WHMCS orders them: each run reads the status
now, and after its last write reads WHMCS again and converges once more when the status changed meanwhile.
"""

from __future__ import annotations

import threading
import time

from harness import run_ansible_playbook


def converge(shop, tmp_path, name):
    (tmp_path / name).mkdir()
    return run_ansible_playbook(
        tmp_path / name,
        ["ispsystem.dcimanager.converge", "-e", "service_id=20", "-e", "@%s" % shop.products_file, "-e", "dedicated_server_poll_interval=1"],
        env=shop.env,
    )


def test_two_converge_jobs_out_of_order_end_as_whmcs_says(shop, tmp_path):
    """An admin suspends service 20, then unsuspends it: the first job reads the older status last."""
    server = 101  # carol's server: blocked, her service Active (an overdue client who paid)
    shop.whmcs.services[20]["status"] = "Suspended"  # the admin suspends: job A is launched ...
    shop.whmcs.delay_next_answer("GetClientsProducts", 12)  # ... and its read of WHMCS (Suspended) is answered late
    shop.clear_calls()
    first = {}
    job_a = threading.Thread(target=lambda: first.update(run=converge(shop, tmp_path, "a")))
    job_a.start()
    deadline = time.monotonic() + 120
    while not any(call["name"] == "GetClientsProducts" for call in shop.whmcs.calls) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert any(call["name"] == "GetClientsProducts" for call in shop.whmcs.calls), "job A never read WHMCS: %s %s" % (
        [call["name"] for call in shop.whmcs.calls],
        first,
    )

    shop.whmcs.services[20]["status"] = "Active"  # the admin unsuspends: job B, launched later, reads Active at once
    second = converge(shop, tmp_path, "b")
    assert second.rc == 0, second.output
    assert shop.dci.server_state(server)["blocked"] is False

    job_a.join(timeout=300)
    assert not job_a.is_alive()
    assert first["run"].rc == 0, first["run"].output
    # A acted on the Suspended it read last (blocked the server), then read WHMCS again, saw Active and converged again.
    # (ansible-core 2.16 wraps a warning at the terminal's width: the words are compared, not the lines.)
    assert "while this run acted: converging again" in " ".join(first["run"].output.split())
    assert shop.dci.server_state(server)["blocked"] is False
    assert shop.whmcs.service(20)["status"] == "Active"
    assert [call for call in shop.whmcs.writes() if "status" in call["params"]] == []  # neither wrote a status
