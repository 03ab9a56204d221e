# -*- coding: utf-8 -*-
# Copyright (c) ispsystem.dcimanager contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Private helper of benchmarks/allocation_race.py and tests/integration/test_allocation_race.py: the allocation race.

One round: a DCImanager simulator with ``free`` free servers of one package (and a few busy ones),
and ``contenders`` allocations started at the same moment, each a real ``ansible-playbook`` that
shares nothing with the others (its own DCIMANAGER_LOCK_DIR, TMPDIR and ansible temporary
directories, as AWX runs each job in its own pod) - or, with ``forks``, one ansible-playbook for
all of them (one controller, its forks sharing the lock). Each allocation runs
``dci_user`` (its own customer account), ``dci_server_allocate`` (its own hostname) and
``dci_os_install`` (``wait: false``, with the owner and hostname it allocated).

``judge()`` then reads the simulator's true state, its record of installs and every run's task
results, and says what broke:

* a server reported by two allocations (a double allocation), or held by an allocation that did not report it;
* a hostname on two servers, a claim left behind (a hostname other than free.ds without an owner);
* an install started on a server whose hostname or owner was not those of the allocation that
  started it (the simulator records both at the moment each install starts);
* a server of the package that is neither free nor exactly one successful allocation's (its hostname
  on every address and its owner), unless a contender was paused (see ``Round.pause``);
* more successes than free servers; a failure without a clear message; fewer successes than
  the free servers minus the claims whose answer was lost (each can cost its allocation the
  server, no more), or, in a strict round (no faults, no pause), any missing success.

The options of the timed claim live in ``CLAIM_OPTIONS`` and ``INSTALL_CHECKS_OWNER`` only.
"""

from __future__ import annotations

import collections
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
for _path in (REPO / "tests", REPO / "tests" / "integration", REPO / "benchmarks" / "_lib"):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

from procs import descendants, parent_of  # noqa: E402  pylint: disable=wrong-import-position

from harness import ansible_env  # noqa: E402  pylint: disable=wrong-import-position
from simulators.dcimanager import FREE_DOMAIN, DCImanagerSimulator, make_state, new_server  # noqa: E402  pylint: disable=wrong-import-position

# THE place for the options of the timed claim (issue 16): dci_server_allocate's claim_bound /
# claim_settle (short, for the tests' speed: the settle must outlast the bound, the list lag and
# the longest delay of a delayed write) and whether dci_os_install gets the owner to check again
# right before the install starts. Set CLAIM_OPTIONS = {} and INSTALL_CHECKS_OWNER = False to run
# the race against a collection without them (what issue 16 describes: double allocations).
CLAIM_OPTIONS = {"claim_bound": 2.0, "claim_settle": 3.5}
INSTALL_CHECKS_OWNER = True

PACKAGE = "DL360-G9"
TEMPLATE = "ISPsystem__Debian-12-amd64"
# A panel about 40 ms away, give or take 20.
LATENCY, JITTER = 0.04, 0.02
# What a failed allocation says when it found no free server or lost every one it tried (a test
# of the message's clarity: the words, not the sentence, which the module may change).
CLEAR_FAILURE = re.compile(r"free server|taken|claim|allocat", re.IGNORECASE)
UNCLEAR = re.compile(r"Traceback|MODULE FAILURE|Unsupported parameters|NoneType|KeyError", re.IGNORECASE)


# The rounds of the test and the benchmark: Round() keywords. "lost_answers": 5 % of all requests
# lose their answer after the panel handled them, and the first claim lands 1.2 s after its answer
# was lost (a dropped connection): less than claim_settle - claim_bound (1.5 s), the bound a
# panel's or proxy's request time-out must keep. "lagging_list": the server list 1 s behind (less
# than claim_settle). "paused": the process of the first free read stopped until another
# allocation owns that server. "forks": one ansible-playbook, one fork per allocation, one lock
# directory (one controller). "all_at_once": the lagging list, the lost answers, the late claim and
# the paused contender in one round (the integration test's round: one round of twelve playbooks
# takes about a minute on two cores).
VARIANTS = {
    "plain": {},
    "lagging_list": {"list_lag": 1.0},
    "lost_answers": {
        "faults": {"rate": 0.05, "kinds": ["http500", "drop", "badbody"], "after": 1.0, "seed": 16},
        "lose_claim_answer": {"kind": "drop", "apply_after": 1.2},
    },
    "paused": {"pause": 1.0, "pause_limit": 25.0},
    "forks": {"forks": -1},  # -1: as many forks as contenders
}
VARIANTS["all_at_once"] = dict(VARIANTS["lagging_list"], **VARIANTS["lost_answers"], **VARIANTS["paused"])


def variant(name, round_number=0):
    """Round() keywords of a variant; fault seeds differ from round to round."""
    keywords = json.loads(json.dumps(VARIANTS[name]))
    if "faults" in keywords:
        keywords["faults"]["seed"] += round_number
    return keywords


def hostname(round_id, number):
    return "r%s-%02d.race.example.net" % (round_id, number)


def owner(round_id, number):
    return "race%s-%02d" % (round_id, number)


def password(round_id, number):
    return "Race-pw-%s-%02d-x7Q" % (round_id, number)


def panel_state(free, busy=2, other=2):
    """``free`` free servers of PACKAGE, ``busy`` of it that are not free, ``other`` of another package."""
    state = make_state(free, package=PACKAGE, ipv4=8, ipv6=8)
    base = len(state["servers"])
    for index in range(busy):
        new_server(state, base + index + 1, "busy%02d" % index, PACKAGE, "10.9.0.%d" % (index + 1), hwproblem=True)
    for index in range(other):
        new_server(state, base + busy + index + 1, "other%02d" % index, "R640", "10.9.1.%d" % (index + 1))
    return state


def start_panel(workdir, free, list_lag=0.0, latency=LATENCY, jitter=JITTER):
    sim = DCImanagerSimulator(
        state=panel_state(free),
        tls_dir=str(Path(workdir) / "tls"),
        latency=latency,
        jitter=jitter,
        list_lag=list_lag,
        poweron_seconds=0.3,
        poweroff_seconds=0.2,
        install_seconds=600.0,  # still running when the round is judged
        enable_seconds=0.2,
    )
    return sim.start()


def free_servers(sim):
    """Ids of the servers of PACKAGE that are free now (true state)."""
    state = sim.dump_state()
    return sorted(
        s["id"]
        for s in state["servers"]
        if (s["chassis_templ"] or s["type"]) == PACKAGE and not s["owner"] and not s["hwproblem"] and {a["domain"] for a in s["addresses"]} == {FREE_DOMAIN}
    )


def tasks(name, login, secret, claim=None, install_owner=None):
    """The allocation's three tasks; ``name``, ``login``, ``secret`` are values or Jinja expressions."""
    claim = CLAIM_OPTIONS if claim is None else claim
    install_owner = INSTALL_CHECKS_OWNER if install_owner is None else install_owner
    allocate = dict({"owner": login, "hostname": name, "package": PACKAGE}, **claim)
    install = {"hostname": name, "os_template": TEMPLATE, "root_password": secret, "wait": False}
    if install_owner:
        install["owner"] = login
    return [
        {"name": "account", "ispsystem.dcimanager.dci_user": {"name": login, "password": secret}},
        {"name": "allocate", "ispsystem.dcimanager.dci_server_allocate": allocate},
        {"name": "install", "ispsystem.dcimanager.dci_os_install": install},
    ]


class Contender:
    """One allocation: its hostname, owner and password, and (after the round) its run's outcome."""

    def __init__(self, round_id, number):
        self.number = number
        self.hostname = hostname(round_id, number)
        self.owner = owner(round_id, number)
        self.password = password(round_id, number)
        self.rc = None
        self.records = []
        self.output = ""
        self.host = "localhost"

    def record(self, task):
        found = [r for r in self.records if r["task"] == task and r["host"] == self.host]
        return found[-1] if found else None

    @property
    def allocated(self):
        """The server id the allocate task reported, or None."""
        record = self.record("allocate")
        if record is None or record["status"] not in ("ok", "changed"):
            return None
        return str((record["result"].get("server") or {}).get("id") or "") or None

    @property
    def succeeded(self):
        return all((self.record(task) or {}).get("status") in ("ok", "changed") for task in ("account", "allocate", "install"))

    @property
    def failure(self):
        """(task, message) of the first failed task, or None."""
        if self.succeeded:
            return None
        for record in self.records:
            if record["host"] == self.host and record["status"] in ("failed", "unreachable"):
                return record["task"], str(record["result"].get("msg") or "").strip()
        return "run", (self.output[-500:] or "no output").strip()

    @property
    def claim(self):
        record = self.record("allocate")
        return (record or {}).get("result", {}).get("claim") if record else None


class Round:
    """One race: ``contenders`` allocations of ``free`` free servers (see the module docstring).

    ``forks``: run them all from one ansible-playbook with that many forks (one controller, one lock
    directory) instead of one process each. ``faults``: set_faults() keywords for the whole round.
    ``lose_claim_answer``: lose_next_answer() keywords for the first claim (``iplist.edit``).
    ``pause``: seconds the first free read's answer is held, in which its process is stopped
    (SIGSTOP); it is let go (SIGCONT) once another allocation owns the server it read, or after
    ``pause_limit`` seconds.
    """

    def __init__(
        self,
        workdir,
        round_id="a",
        contenders=12,
        free=10,
        forks=0,
        list_lag=0.0,
        faults=None,
        lose_claim_answer=None,
        pause=0.0,
        pause_limit=30.0,
        claim=None,
        install_owner=None,
        timeout=300,
        latency=LATENCY,
        jitter=JITTER,
    ):
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.round_id = round_id
        self.contenders = [Contender(round_id, number) for number in range(1, contenders + 1)]
        self.free = free
        self.forks = len(self.contenders) if forks == -1 else forks
        self.list_lag = list_lag
        self.faults = faults
        self.lose_claim_answer = lose_claim_answer
        self.pause = pause
        self.pause_limit = pause_limit
        self.claim = claim
        self.install_owner = install_owner
        self.timeout = timeout
        self.latency, self.jitter = latency, jitter
        self.sim = None
        self.free_ids = []
        # After the round: the simulator's true state, its record of installs, its call log and errors.
        self.state, self.installs, self.calls, self.errors = None, [], [], []
        self.seconds = None
        self.paused = None  # {"pid", "server", "seconds", "taken_by"} when a contender was stopped

    # --- running ---------------------------------------------------------------------------

    def run(self):
        self.sim = start_panel(self.workdir, self.free, list_lag=self.list_lag, latency=self.latency, jitter=self.jitter)
        try:
            self.free_ids = free_servers(self.sim)
            assert len(self.free_ids) == self.free
            if self.faults:
                self.sim.set_faults(**self.faults)
            if self.lose_claim_answer:
                self.sim.lose_next_answer("iplist.edit", writes_only=True, **self.lose_claim_answer)
            if self.pause:
                self.sim.delay_next_answer("iplist", self.pause)
            started = time.monotonic()
            procs = self._start()
            watcher = None
            if self.pause:
                watcher = threading.Thread(target=self._pause_one, args=([p for p, dummy in procs],), daemon=True)
                watcher.start()
            self._wait(procs)
            if watcher is not None:
                watcher.join(self.pause_limit + 10)  # the playbooks have ended: it only finishes its bookkeeping
            self.seconds = time.monotonic() - started
            self.sim.set_faults()
            self.state = self.sim.dump_state()
            self.installs = list(self.sim.installs)
            self.calls = self.sim.calls
            self.errors = list(self.sim.errors)
        finally:
            self.sim.close()
        return self

    def _env(self, directory):
        directory.mkdir(parents=True, exist_ok=True)
        tmp = directory / "tmp"
        tmp.mkdir(exist_ok=True)
        return ansible_env(
            {
                **self.sim.env(),
                "DCIMANAGER_LOCK_DIR": str(directory),
                "TMPDIR": str(tmp),
                "ANSIBLE_LOCAL_TEMP": str(tmp / "ansible-local"),
                "ANSIBLE_REMOTE_TEMP": str(tmp / "ansible-remote"),
                "RECORD_RESULTS_FILE": str(directory / "records.json"),
            }
        )

    def _start(self):
        """Popen every ansible-playbook first (a start as close to simultaneous as processes allow)."""
        command = [str(Path(sys.executable).parent / "ansible-playbook")]
        if self.forks:
            directory = self.workdir / "controller"
            directory.mkdir(parents=True, exist_ok=True)
            hosts = {}
            for contender in self.contenders:
                contender.host = "c%02d" % contender.number
                hosts[contender.host] = {"race_hostname": contender.hostname, "race_owner": contender.owner, "race_password": contender.password}
            inventory = directory / "inventory.yml"
            inventory.write_text(yaml.safe_dump({"all": {"hosts": hosts, "vars": {"ansible_connection": "local"}}}))
            play = {
                "name": "allocation race",
                "hosts": "all",
                "gather_facts": False,
                "tasks": tasks("{{ race_hostname }}", "{{ race_owner }}", "{{ race_password }}", self.claim, self.install_owner),
            }
            (directory / "race.yml").write_text(yaml.safe_dump([play], sort_keys=False))
            proc = self._popen(command + ["-i", str(inventory), "-f", str(self.forks), "race.yml"], directory)
            return [(proc, self.contenders)]
        procs = []
        plays = {}
        for contender in self.contenders:
            directory = self.workdir / ("c%02d" % contender.number)
            directory.mkdir(parents=True, exist_ok=True)
            play = {
                "name": "allocation race",
                "hosts": "localhost",
                "connection": "local",
                "gather_facts": False,
                "tasks": tasks(contender.hostname, contender.owner, contender.password, self.claim, self.install_owner),
            }
            (directory / "race.yml").write_text(yaml.safe_dump([play], sort_keys=False))
            plays[contender.number] = directory
        for contender in self.contenders:
            directory = plays[contender.number]
            procs.append((self._popen(command + ["-i", "localhost,", "race.yml"], directory), [contender]))
        return procs

    def _popen(self, command, directory):
        """Start ``command`` in ``directory``, its output to output.txt there; the caller waits for it."""
        env = self._env(directory)
        with open(directory / "output.txt", "wb") as output:
            return subprocess.Popen(command, cwd=str(directory), env=env, stdout=output, stderr=subprocess.STDOUT)  # pylint: disable=consider-using-with

    def _wait(self, procs):
        deadline = time.monotonic() + self.timeout
        for proc, contenders in procs:
            try:
                proc.wait(max(1.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                _kill_tree(proc.pid)
                proc.wait(10)
            directory = self.workdir / ("controller" if self.forks else "c%02d" % contenders[0].number)
            records_file = directory / "records.json"
            records = json.loads(records_file.read_text()) if records_file.exists() else []
            output = (directory / "output.txt").read_text(errors="replace")
            for contender in contenders:
                contender.rc = proc.returncode
                contender.records = records
                contender.output = output

    # --- the paused contender -------------------------------------------------------------------------

    def _pause_one(self, procs):
        """Stop the process whose free read is held, until another allocation owns that server."""
        # The playbooks start slowly on a busy machine (tens of seconds before the first free read):
        # the held read is awaited as long as any playbook runs, not pause_limit.
        entry = None
        while entry is None and any(p.poll() is None for p in procs):
            entry = next((c for c in self.sim.calls if c.get("held")), None)
            if entry is None:
                time.sleep(0.01)
        if entry is None:
            self.paused = {"pid": None, "why": "no free read was held"}
            return
        roots = [p.pid for p in procs]
        # /proc/net/tcp is read in pieces while a dozen playbooks open and close connections, and a line can slip
        # between two pieces: the socket of the held read is looked for again for up to a second.
        pid = None
        for dummy in range(50):
            pid = process_of_port(entry["client_port"], roots)
            if pid is not None:
                break
            time.sleep(0.02)
        server = str(entry["params"].get("elid"))
        if pid is None:
            self.paused = {"pid": None, "server": server, "why": "no process holds port %s" % entry["client_port"]}
            return
        try:
            os.kill(pid, signal.SIGSTOP)
        except ProcessLookupError:
            self.paused = {"pid": None, "server": server, "why": "process %d ended before it could be stopped" % pid}
            return
        stopped = time.monotonic()
        stopped_at = time.time()  # on the call log's clock
        taken_by = None
        try:
            while time.monotonic() - stopped < self.pause_limit:
                state = self.sim.server_state(server)
                if state["owner"]:
                    taken_by = state["owner"]
                    break
                if all(p.poll() is not None for p in procs if p.pid not in _ancestors(pid)):
                    break
                time.sleep(0.02)
        finally:
            try:
                os.kill(pid, signal.SIGCONT)
            except ProcessLookupError:
                pass
        contender = next((c for (p, c) in zip(procs, self.contenders) if p.pid in _ancestors(pid)), None) if not self.forks else None
        self.paused = {
            "pid": pid,
            "server": server,
            "seconds": round(time.monotonic() - stopped, 2),
            "taken_by": taken_by,
            "hostname": contender.hostname if contender else None,
            "stopped_at": stopped_at,
        }

    # --- judging -------------------------------------------------------------------------------

    def judge(self, strict=None):
        """The broken invariants (sentences) and the figures of the round (see the module docstring).

        ``strict``: every free server must go to one contender (no faults, no pause): default when
        the round had neither.
        """
        if strict is None:
            strict = not (self.faults or self.lose_claim_answer or self.pause)
        problems = list("simulator error: %s" % error.splitlines()[-1] for error in self.errors)
        state, installs = self.state, self.installs
        logins = {user["id"]: user["name"] for user in state["users"]}
        by_owner = {c.owner: c for c in self.contenders}
        by_hostname = {c.hostname.lower(): c for c in self.contenders}
        by_password = {c.password: c for c in self.contenders}
        servers = {s["id"]: s for s in state["servers"]}

        # 1. No server reported to two allocations.
        reported = collections.defaultdict(list)
        for contender in self.contenders:
            if contender.allocated:
                reported[contender.allocated].append(contender)
        doubles = {sid: [c.hostname for c in who] for sid, who in reported.items() if len(who) > 1}
        for sid, names in sorted(doubles.items()):
            problems.append("server %s reported to %d allocations: %s" % (sid, len(names), ", ".join(names)))

        # 2. No hostname on two servers; 3. nothing left claimed.
        domains = collections.defaultdict(list)
        leftover = []
        for server in state["servers"]:
            for domain in {a["domain"].lower() for a in server["addresses"]} - {FREE_DOMAIN}:
                domains[domain].append(server["id"])
            if server["addresses"] and server["addresses"][0]["domain"] != FREE_DOMAIN and not server["owner"]:
                leftover.append(server["id"])
        for domain, ids in sorted(domains.items()):
            if len(ids) > 1:
                problems.append("hostname %s on servers %s" % (domain, ", ".join(ids)))
        for sid in leftover:
            problems.append("server %s left claimed: hostname %s, no owner" % (sid, servers[sid]["addresses"][0]["domain"]))

        # 4. No install on a server whose hostname or owner was not the installing allocation's.
        mismatched = []
        for install in installs:
            contender = by_password.get(install["root_password"])
            if contender is None:
                problems.append("install on server %s by no allocation of the round" % install["server"])
                continue
            if (install["hostname"] or "").lower() != contender.hostname.lower() or install["owner"] != contender.owner:
                mismatched.append(install)
                problems.append(
                    "install by %s started on server %s while it showed hostname %s, owner %s"
                    % (contender.hostname, install["server"], install["hostname"], install["owner"])
                )

        # 5. Every server of the package is free or exactly one successful allocation's.
        successes = [c for c in self.contenders if c.succeeded]
        damaged = []
        for sid in self.free_ids:
            server = servers[sid]
            names = {a["domain"].lower() for a in server["addresses"]}
            login = logins.get(server["owner"]) if server["owner"] else None
            if names == {FREE_DOMAIN} and login is None:
                continue
            holder = by_owner.get(login)
            if holder is not None and names == {holder.hostname.lower()} and holder.succeeded and holder.allocated == sid:
                continue
            damaged.append(sid)
            claimed_by = [by_hostname[n].hostname for n in names if n in by_hostname]
            line = "server %s is neither free nor one successful allocation's: hostname(s) %s, owner %s" % (sid, sorted(names), login)
            if not self.pause:
                problems.append(line + (" (hostname of %s)" % ", ".join(claimed_by) if claimed_by else ""))
        for contender in successes:
            if contender.allocated is None or servers.get(contender.allocated, {}).get("owner") is None:
                problems.append("%s succeeded but holds no server" % contender.hostname)

        # 6. Counts and messages.
        lost_claims = sum(
            1 for c in self.calls if c["name"] == "iplist.edit" and c["write"] and c["fault"] and c["params"].get("domain", "").lower() != FREE_DOMAIN
        )
        if len(successes) > self.free:
            problems.append("%d allocations succeeded with %d free servers" % (len(successes), self.free))
        wanted = min(self.free, len(self.contenders))
        if strict and len(successes) != wanted:
            problems.append(
                "%d allocations succeeded, %d expected (%d free servers, %d contenders)" % (len(successes), wanted, self.free, len(self.contenders))
            )
        elif len(successes) < wanted - lost_claims - (1 if self.pause else 0):
            problems.append("only %d allocations succeeded (free servers %d, claim answers lost %d)" % (len(successes), self.free, lost_claims))
        unclear = []
        for contender in self.contenders:
            failure = contender.failure
            if failure is None:
                continue
            task, message = failure
            clear = message and not UNCLEAR.search(message)
            if strict:
                clear = clear and task == "allocate" and CLEAR_FAILURE.search(message)
            if not clear:
                unclear.append(contender)
                problems.append("%s failed unclearly in task %s: %s" % (contender.hostname, task, " ".join(message.split())[:300]))

        claims = [c.claim for c in self.contenders if isinstance(c.claim, dict)]
        figures = {
            "contenders": len(self.contenders),
            "free": self.free,
            "succeeded": len(successes),
            "failed": len(self.contenders) - len(successes),
            "double_allocations": sum(len(who) - 1 for who in reported.values() if len(who) > 1),
            "hostnames_on_two_servers": sum(1 for ids in domains.values() if len(ids) > 1),
            "leftover_claims": len(leftover),
            "installs_on_mismatch": len(mismatched),
            "damaged": len(damaged),
            "lost_claim_answers": lost_claims,
            "settle": [float(c.get("settle") or 0.0) for c in claims],
            "read_to_answer": [float(c.get("read_to_answer") or 0.0) for c in claims],
            "untrusted": sum(int(c.get("untrusted") or 0) for c in claims),
            "added": self.added_times(successes, logins),
            "attempts": [int(c.get("attempts") or 0) for c in claims],
            "seconds": self.seconds,
            "paused": self.paused,
            "unclear": len(unclear),
        }
        return problems, figures

    def added_times(self, contenders, logins):
        """Seconds the timed claim added to each of ``contenders``' allocations, from the simulator's call log: from its
        claim's arrival to the arrival of the owner's save on the same server (the settle wait and the verifying reads,
        which an allocation that set the owner right after its claim would not spend). ``logins``: account id -> login."""
        added = []
        for contender in contenders:
            sid, name = contender.allocated, contender.hostname.lower()
            claimed = owned = None
            for call in self.calls:
                params = call["params"]
                if call["name"] == "iplist.edit" and call["write"] and params.get("plid") == sid and (params.get("domain") or "").lower() == name:
                    claimed = call["time"] if owned is None else claimed
                elif (
                    call["name"] == "server.edit"
                    and call["write"]
                    and params.get("elid") == sid
                    and logins.get(params.get("owner"), params.get("owner")) == contender.owner
                ):
                    if claimed is not None and owned is None:
                        owned = call["time"]
            if claimed is not None and owned is not None:
                added.append(round(owned - claimed, 3))
        return added


def _ancestors(pid):
    """pid and the pids of its parents up to init."""
    chain = []
    while pid and pid not in chain:
        chain.append(pid)
        pid = parent_of(pid)
    return chain


def process_of_port(port, roots):
    """The pid, among ``roots`` and their descendants, that holds the TCP socket whose local port is ``port``."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table, encoding="ascii") as handle:
                next(handle)
                for line in handle:
                    fields = line.split()
                    if int(fields[1].rsplit(":", 1)[1], 16) == port:
                        inodes.add("socket:[%s]" % fields[9])
        except OSError:
            continue
    for pid in descendants(roots):
        try:
            for fd in os.listdir("/proc/%d/fd" % pid):
                if os.readlink("/proc/%d/fd/%s" % (pid, fd)) in inodes:
                    return pid
        except OSError:
            continue
    return None


def _kill_tree(pid):
    for child in reversed(descendants([pid])):
        try:
            os.kill(child, signal.SIGKILL)
        except OSError:
            pass
