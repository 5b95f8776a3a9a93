#!/usr/bin/python3
"""`make soak`: a million connections of every kind, with kills on the way.

sundew runs on loopback; bench_load (soak mode) makes SOAK_CONNECTIONS
connections (1,000,000) from a million source addresses, mixing plain
requests, garbage, slow drips, idle holds and inputs over limits.max_input,
while a second bench_load floods the UDP ports 69 and 1434.  On the way it
SIGKILLs a sensor (at 25 % of the connections), the store (50 %) and the
analyser (75 %); the daemon restarts each.  At the end it prints:

- connections made (started, established, completed by the server);
- events logged in the JSON log and in SQLite: they must agree;
- lost events: connections the generator completed with no close event
  (each connection is matched by its source address and port); target 0;
- duplicate events in SQLite: open or close events of one session twice;
  target 0;
- each process's RSS and descriptor count before (after a warm-up) and
  after (once idle again); target: descriptors within 10 %, RSS grown by
  at most 10 %.

Exit status: 0 when every target is met, 1 when one is missed, 2 when the
soak could not run.  Standard library only.
"""

import argparse
import collections
import gzip
import json
import os
import re
import select
import shutil
import signal
import socket
import sqlite3
import struct
import subprocess
import sys
import tempfile
import time

import bench
from bench import BenchError, say

OPEN = "sundew.connection.open"
CLOSE = "sundew.connection.close"
LIMIT = "sundew.limit.hit"
EVENTID_RE = re.compile(r'"eventid":"([^"]*)"')
ID_RE = re.compile(r'"id":"([0-9a-f]{16})"')
# A payload the pre-filter passes and the analyser emulates (call $+5;
# pop esi): its engine is made before the memory is first measured.
EMULATED = b"\x90" * 16 + b"\xe8\x00\x00\x00\x00\x5e" + b"\x90" * 64

WARM_SOURCES = "127.63.0.1-127.63.255.254"
SOAK_SOURCES = "127.64.0.1-127.79.255.254"
MIX = "plain=90,garbage=4,drip=2,idle=2,big=2"
UDP_PORTS = "69,1434"
# What is killed, at which share of the connections ended.
KILLS = ((0.25, "sundew-sensor"), (0.50, "sundew-store"),
         (0.75, "sundew-analyser"))
ROLES = ("sundew-sensor", "sundew-store", "sundew-analyser")
KINDS = ("plain", "garbage", "drip", "idle", "big")
OUTCOMES = {1: "eof", 2: "reset", 3: "timeout", 4: "other"}
# A lost connection that ended this close to a kill (before it: its close
# event was still queued in the killed process; after it: the session was
# in flight there) is shown next to it.
KILL_WINDOW = 10.0
TARGET_GROWTH = 0.10

KIND_RE = re.compile(r"kind (\w+) started (\d+) established (\d+) eof (\d+) "
                     r"reset (\d+) timeout (\d+) other (\d+) "
                     r"connect_failed (\d+)")
SOAK_RE = re.compile(r"soak started (\d+) established (\d+) completed (\d+) "
                     r"errors (\d+)")
UDP_RE = re.compile(r"udp sent (\d+), not sent (\d+)")


def note(args, msg):
    bench.note(args, msg)


# ------------------------------------------------------------- processes

def fd_count(pid):
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return None


def daemon_children(parent):
    """{comm: [pids]} of the daemon's children of the three roles."""
    kids = {role: [] for role in ROLES}
    for pid, comm in bench.children(parent):
        if comm in kids:
            kids[comm].append(pid)
    return {role: sorted(pids) for role, pids in kids.items()}


def wait_children(proc, nsensors, timeout):
    """The children, once there are sensors, a store and an analyser."""
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise BenchError(f"sundew exited with status {proc.returncode}")
        kids = daemon_children(proc.pid)
        if (len(kids["sundew-sensor"]) >= max(nsensors, 1) and
                kids["sundew-store"] and kids["sundew-analyser"]):
            return kids
        if time.monotonic() > deadline:
            raise BenchError(f"sundew's children did not all start: {kids}")
        time.sleep(0.1)


class Tracked:
    """The processes measured before and after, by role: a killed child's
    successor takes its place."""

    def __init__(self, parent, kids):
        self.pids = {"parent": parent}
        for i, pid in enumerate(kids["sundew-sensor"]):
            self.pids[f"sensor {i}"] = pid
        self.pids["store"] = kids["sundew-store"][0]
        self.pids["analyser"] = kids["sundew-analyser"][0]

    def role_of(self, pid):
        for name, p in self.pids.items():
            if p == pid:
                return name
        return None

    def sensors(self):
        return [p for n, p in self.pids.items() if n.startswith("sensor")]

    def measure(self):
        """{name: (pid, rss KiB, descriptors)}, each RSS once settled."""
        out = {}
        for name, pid in self.pids.items():
            out[name] = (pid, bench.rss_settled([pid], 10), fd_count(pid))
        return out


def settle_idle(args, tracked, base_sockets, datadir, timeout=90):
    """After the load: until the sensors hold no more sockets than before
    and the JSON log has been quiet for a second."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if bench.socket_fds(tracked.sensors()) <= base_sockets:
            break
        time.sleep(0.25)
    else:
        say(f"  the sensors still hold "
            f"{bench.socket_fds(tracked.sensors()) - base_sockets} more "
            f"sockets than before after {timeout} s")
    mark, since = bench.log_mark(datadir), time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.2)
        now = bench.log_mark(datadir)
        if now != mark:
            mark, since = now, time.monotonic()
        elif time.monotonic() - since >= 1.0:
            break


# ---------------------------------------------------------------- sundew

def sundew_start(args, datadir, logpath, hard):
    """sundew on loopback, every default but what the soak needs:
    - a short idle time-out (args.idle_timeout), so that the idle holds
      end within the run;
    - a small limits.max_input (args.max_input), so that the big inputs
      pass it at little cost;
    - no rotation of the JSON log: it is read whole at the end, and a
      rotated file past output.json.keep would be deleted;
    - limits.nofile: what this machine allows.
    The per-source cap keeps its default (64): the sources are many, so
    it should not refuse; refusals are counted if it does."""
    cmd = [args.sundew, "run", "-f",
           "-o", "listen.address=127.0.0.1",
           "-o", f"data_dir={datadir}",
           "-o", f"limits.idle_timeout={args.idle_timeout}s",
           "-o", f"limits.max_input={args.max_input}",
           "-o", "output.json.max_size=0",
           "-o", "output.json.max_age=0",
           "-o", f"limits.nofile={hard}"]
    say("sundew: " + " ".join(cmd))
    with open(logpath, "w", encoding="utf-8") as log:
        return subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log,
                                stderr=subprocess.STDOUT)


# ------------------------------------------------------------- generator

def soak_cmd(args, count, sources, records):
    return [args.load, "soak", "-n", str(count), "-c", str(args.concurrency),
            "-m", args.mix, "-B", str(2 * args.max_input),
            "-w", str(args.idle_timeout + 30), "-s", sources, "-o", records,
            "127.0.0.1", str(args.port)]


def parse_soak_output(lines):
    res = {"kinds": {}}
    for line in lines:
        m = KIND_RE.fullmatch(line)
        if m:
            res["kinds"][m.group(1)] = [int(x) for x in m.groups()[1:]]
        m = SOAK_RE.fullmatch(line)
        if m:
            res["started"], res["established"], res["completed"], \
                res["errors"] = (int(x) for x in m.groups())
    if "started" not in res:
        raise BenchError("bench_load soak: no summary line in "
                         f"{lines[-3:]}")
    return res


def warm_up(args, workdir):
    records = os.path.join(workdir, "records.warm")
    cmd = soak_cmd(args, args.warmup, WARM_SOURCES, records)
    res = subprocess.run(cmd, capture_output=True, text=True, check=False,
                         timeout=600)
    if res.returncode != 0:
        raise BenchError(f"warm-up: status {res.returncode}: {res.stderr}")
    out = parse_soak_output(res.stdout.splitlines())
    say(f"  warm-up: {out['started']} connections, completed "
        f"{out['completed']}, errors {out['errors']}")
    return records, out


def warm_analyser(args, tracked):
    """One payload the analyser emulates: a new analyser makes its engine
    (some MB) at its first emulation, which is not growth."""
    pid = tracked.pids["analyser"]

    def rss():
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0
    start = rss()
    with socket.create_connection(("127.0.0.1", args.port), timeout=5) as s:
        s.sendall(EMULATED)
    end = time.monotonic() + 10
    while time.monotonic() < end and rss() < start + 1024:
        time.sleep(0.1)
    note(args, f"analyser RSS {start} -> {rss()} KiB after one emulation")


def kill_child(proc, tracked, comm):
    """SIGKILLs one child named comm; (role, pid).  A sensor: the one that
    holds the most sockets, so that it is one taking connections."""
    kids = daemon_children(proc.pid)[comm]
    if not kids:
        raise BenchError(f"no {comm} to kill")
    if comm == "sundew-sensor":
        kids.sort(key=lambda p: -bench.socket_fds([p]))
    pid = kids[0]
    os.kill(pid, signal.SIGKILL)
    return tracked.role_of(pid), pid


def find_successor(proc, tracked, comm):
    """A child named comm that is not tracked yet, or None."""
    known = set(tracked.pids.values())
    for pid in daemon_children(proc.pid)[comm]:
        if pid not in known:
            return pid
    return None


def run_soak(args, proc, tracked, workdir):
    """The soak itself, with the UDP flood and the kills; its results."""
    records = os.path.join(workdir, "records.soak")
    udp = subprocess.Popen(
        [args.load, "udp", "-r", str(args.udp_rate), "-k",
         str(args.udp_burst), "127.0.0.1", UDP_PORTS],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    cmd = soak_cmd(args, args.connections, SOAK_SOURCES, records)
    note(args, " ".join(cmd))
    t0 = time.monotonic()
    gen = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    plan = list(KILLS)
    kills = []          # dicts: comm, role, pid, at, share, successor
    waiting = None      # a kill whose successor has not started yet
    lines = []
    buf = ""
    last_say = t0
    try:
        while True:
            ready, _, _ = select.select([gen.stdout], [], [], 0.2)
            if ready:
                chunk = os.read(gen.stdout.fileno(), 65536).decode()
                if chunk == "":
                    break
                buf += chunk
                *done, buf = buf.split("\n")
                lines.extend(done)
            if proc.poll() is not None:
                raise BenchError(f"sundew exited with status "
                                 f"{proc.returncode} during the soak")
            ended = 0
            for line in reversed(lines):
                if line.startswith("progress "):
                    ended = int(line.split()[2])
                    break
            now = time.monotonic()
            if waiting is not None:
                succ = find_successor(proc, tracked, waiting["comm"])
                if succ is not None:
                    waiting["successor"] = succ
                    waiting["restart"] = now - t0 - waiting["at"]
                    if waiting["role"] is not None:
                        tracked.pids[waiting["role"]] = succ
                    waiting = None
            if waiting is None and plan and \
                    ended >= plan[0][0] * args.connections:
                share, comm = plan.pop(0)
                role, pid = kill_child(proc, tracked, comm)
                waiting = {"comm": comm, "role": role, "pid": pid,
                           "at": now - t0, "share": share,
                           "successor": None, "restart": None}
                kills.append(waiting)
                say(f"  {now - t0:6.1f} s: SIGKILL {comm} (pid {pid}) at "
                    f"{ended} connections")
            if now - last_say >= 30:
                say(f"  {now - t0:6.1f} s: {ended} connections ended")
                last_say = now
        gen.wait()
    finally:
        if gen.poll() is None:
            gen.kill()
            gen.wait()
        try:
            # EOF on its stdin ends the flood.
            udp_out = udp.communicate(timeout=30)[0]
        except subprocess.TimeoutExpired:
            udp.kill()
            udp_out = udp.communicate()[0]
    elapsed = time.monotonic() - t0
    if buf:
        lines.append(buf)
    if gen.returncode != 0:
        raise BenchError(f"bench_load soak: status {gen.returncode}")
    res = parse_soak_output(lines)
    res["elapsed"] = elapsed
    res["kills"] = kills
    res["records"] = records
    m = UDP_RE.search(udp_out or "")
    res["udp_sent"], res["udp_unsent"] = \
        (int(m.group(1)), int(m.group(2))) if m else (0, 0)
    # A successor that came late (after the last progress line).
    deadline = time.monotonic() + 30
    while waiting is not None and time.monotonic() < deadline:
        succ = find_successor(proc, tracked, waiting["comm"])
        if succ is not None:
            waiting["successor"] = succ
            waiting["restart"] = time.monotonic() - t0 - waiting["at"]
            if waiting["role"] is not None:
                tracked.pids[waiting["role"]] = succ
            waiting = None
        else:
            time.sleep(0.1)
    return res


# ------------------------------------------------------------------ logs

def ip_key(ip, port):
    """An address and port as one integer, as the records give them."""
    try:
        return int.from_bytes(socket.inet_aton(ip), "big") << 16 | int(port)
    except (OSError, TypeError, ValueError):
        return None


def scan_json(datadir, port):
    """What the JSON log holds: counts by eventid; TCP close and open
    events on port by source; refusals at a cap by source; the limit.hit
    events' suppressed counts; open and close sessions (for duplicates and
    the comparison with SQLite); UDP request events."""
    res = {"eventids": collections.Counter(), "closes": collections.Counter(),
           "opens": collections.Counter(), "refused": collections.Counter(),
           "limits": collections.Counter(), "suppressed": 0,
           "sessions": {OPEN: collections.Counter(),
                        CLOSE: collections.Counter()},
           "udp_requests": 0, "malformed": 0, "files": 0, "repeated": 0}
    seen = set()
    for path in bench.log_files(datadir):
        res["files"] += 1
        opener = gzip.open if path.endswith(".gz") else open
        with opener(path, "rt", encoding="utf-8", errors="replace") as f:
            for line in f:
                m = EVENTID_RE.search(line)
                if m is None:
                    res["malformed"] += 1
                    continue
                eid = m.group(1)
                # A store killed mid-batch may write a batch's lines again,
                # with their ids: an event counts once.
                m = ID_RE.search(line)
                if m is not None:
                    i = int(m.group(1), 16)
                    if i in seen:
                        res["repeated"] += 1
                        continue
                    seen.add(i)
                res["eventids"][eid] += 1
                if eid == "sundew.request":
                    if '"transport":"udp"' in line:
                        res["udp_requests"] += 1
                    continue
                if eid not in (OPEN, CLOSE, LIMIT):
                    continue
                try:
                    ev = json.loads(line)
                except ValueError:
                    res["malformed"] += 1
                    continue
                if eid == LIMIT:
                    res["limits"][ev.get("limit")] += 1
                    res["suppressed"] += int(ev.get("suppressed", 0))
                    if ev.get("limit") in ("per_source", "max_connections"):
                        k = ip_key(ev.get("src_ip"), ev.get("src_port"))
                        if k is not None:
                            res["refused"][k] += 1
                    continue
                try:
                    res["sessions"][eid][int(ev.get("session"), 16)] += 1
                except (TypeError, ValueError):
                    pass
                if ev.get("transport") != "tcp" or \
                        str(ev.get("dst_port")) != str(port):
                    continue
                k = ip_key(ev.get("src_ip"), ev.get("src_port"))
                if k is not None:
                    res["closes" if eid == CLOSE else "opens"][k] += 1
    return res


def scan_sqlite(datadir):
    """Counts by eventid, duplicates of open and close events by (session,
    eventid), and the open and close sessions."""
    path = os.path.join(datadir, "sundew.sqlite")
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        res = {"eventids": collections.Counter(
            dict(db.execute("SELECT eventid, count(*) FROM events "
                            "GROUP BY eventid")))}
        dup_keys, dup_rows = db.execute(
            "SELECT count(*), coalesce(sum(n - 1), 0) FROM (SELECT count(*)"
            " AS n FROM events WHERE eventid IN (?, ?) GROUP BY session,"
            " eventid HAVING n > 1)", (OPEN, CLOSE)).fetchone()
        res["dup_keys"], res["dup_rows"] = dup_keys, dup_rows
        res["sessions"] = {}
        for eid in (OPEN, CLOSE):
            c = collections.Counter()
            for (s,) in db.execute("SELECT session FROM events WHERE "
                                   "eventid = ?", (eid,)):
                try:
                    c[int(s, 16)] += 1
                except (TypeError, ValueError):
                    pass
            res["sessions"][eid] = c
    finally:
        db.close()
    return res


def read_records(path, soak):
    """(key, kind, outcome, seconds, soak) of each established connection:
    seconds since the generator started; soak: not the warm-up."""
    with open(path, "rb") as f:
        data = f.read()
    out = []
    for src, sport, kind, outcome, ms in struct.iter_unpack("=4sHBBI", data):
        out.append((int.from_bytes(src, "big") << 16 | sport, kind, outcome,
                    ms / 1000.0, soak))
    return out


def match(records, js, kills):
    """Lost connections: completed by the generator (the server ended
    them) with no close event; refusals at a cap (a limit.hit event with
    the connection's source) are counted apart.  Matched by source address
    and port, as often as each occurs."""
    left = collections.Counter(js["closes"])
    refused = collections.Counter(js["refused"])
    opens = collections.Counter(js["opens"])
    res = {"completed": 0, "logged": 0, "refused": 0, "lost": 0,
           "lost_open": 0, "by_kind": collections.Counter(),
           "by_outcome": collections.Counter(),
           "by_kill": collections.Counter(), "offsets": {}, "examples": []}
    for key, kind, outcome, t, soak in records:
        if outcome not in (1, 2):
            continue
        res["completed"] += 1
        if left[key] > 0:
            left[key] -= 1
            opens[key] -= 1
            res["logged"] += 1
            continue
        if refused[key] > 0:
            refused[key] -= 1
            res["refused"] += 1
            continue
        res["lost"] += 1
        if opens[key] > 0:
            opens[key] -= 1
            res["lost_open"] += 1
        res["by_kind"][KINDS[kind] if kind < len(KINDS) else kind] += 1
        res["by_outcome"][OUTCOMES.get(outcome, outcome)] += 1
        near = min(kills if soak else (), key=lambda k: abs(t - k["at"]),
                   default=None)
        if near is not None and abs(t - near["at"]) <= KILL_WINDOW:
            cause = f"around the {near['comm']} kill"
            lo, hi = res["offsets"].get(cause, (t - near["at"],) * 2)
            res["offsets"][cause] = (min(lo, t - near["at"]),
                                     max(hi, t - near["at"]))
        else:
            cause = "far from any kill" if soak else "in the warm-up"
        res["by_kill"][cause] += 1
        if len(res["examples"]) < 5:
            ip = socket.inet_ntoa((key >> 16).to_bytes(4, "big"))
            res["examples"].append(f"{ip}:{key & 0xffff} "
                                   f"{KINDS[kind]} at {t:.1f} s")
    return res


# ---------------------------------------------------------------- report

def verdict(ok):
    return "PASS" if ok else "MISS"


def table(rows, head):
    widths = [max(len(str(r[i])) for r in rows + [head])
              for i in range(len(head))]
    for r in [head] + rows:
        say("  " + "  ".join(str(c).ljust(w)
                             for c, w in zip(r, widths)).rstrip())


def report(args, warm, soak, js, sq, lost, before, after):
    misses = []
    made = soak["started"] + warm["started"]
    say("")
    say(f"connections made: {made} ({warm['started']} warm-up, "
        f"{soak['started']} soak in {soak['elapsed']:.0f} s, "
        f"{soak['started'] / soak['elapsed']:.0f}/s); established "
        f"{soak['established'] + warm['established']}, completed by the "
        f"server {soak['completed'] + warm['completed']}, errors (failed "
        f"connect, time-out, other) {soak['errors'] + warm['errors']}")
    for kind, v in soak["kinds"].items():
        say(f"  {kind:8} started {v[0]:8} eof {v[2]:8} reset {v[3]:7} "
            f"timeout {v[4]:5} other {v[5]:5} connect failed {v[6]}")
    for k in soak["kills"]:
        rs = "not restarted" if k["restart"] is None else \
            f"restarted in {k['restart']:.1f} s (pid {k['successor']})"
        say(f"kill: {k['comm']} pid {k['pid']} at {k['at']:.1f} s "
            f"({k['share']:.0%}), {rs}")
        if k["restart"] is None:
            misses.append(f"{k['comm']} not restarted")
    say(f"UDP: {soak['udp_sent']} datagrams sent to {UDP_PORTS} "
        f"({soak['udp_unsent']} not sent: buffer full), "
        f"{js['udp_requests']} request events logged, "
        f"{js['limits'].get('udp_rate', 0)} udp_rate limit events "
        "(no target: the kernel and sundew's rate cap drop datagrams)")

    say("")
    say("events logged (JSON log, SQLite):")
    rows = []
    agree = True
    for eid in sorted(set(js["eventids"]) | set(sq["eventids"])):
        a, b = js["eventids"].get(eid, 0), sq["eventids"].get(eid, 0)
        agree &= a == b
        rows.append((eid, a, b, "" if a == b else f"differ by {a - b:+d}"))
    rows.append(("total", sum(js["eventids"].values()),
                 sum(sq["eventids"].values()), ""))
    table(rows, ("eventid", "JSON", "SQLite", ""))
    only = {}
    for eid in (OPEN, CLOSE):
        a, b = js["sessions"][eid], sq["sessions"][eid]
        only[eid] = (len(a.keys() - b.keys()), len(b.keys() - a.keys()))
        agree &= only[eid] == (0, 0)
    if js["malformed"]:
        say(f"  {js['malformed']} lines of the JSON log unreadable")
        agree = False
    say("  sessions with an open / close event in one and not the other: "
        f"JSON only {only[OPEN][0]} / {only[CLOSE][0]}, SQLite only "
        f"{only[OPEN][1]} / {only[CLOSE][1]}")
    json_dups = sum(n - 1 for eid in (OPEN, CLOSE)
                    for n in js["sessions"][eid].values() if n > 1)
    say(f"  lines of the JSON log repeated with the id of an earlier one "
        f"(a store killed mid-batch writes its batch again): "
        f"{js['repeated']}")

    say("")
    say(f"lost: {lost['lost']} of {lost['completed']} connections the "
        f"generator completed have no close event ({lost['logged']} "
        f"matched, {lost['refused']} refused at a cap with a limit.hit "
        "event)")
    if lost["lost"]:
        say(f"  of the lost, {lost['lost_open']} have an open event (the "
            f"session began, its end is missing), "
            f"{lost['lost'] - lost['lost_open']} have none")
        say("  by kind: " + ", ".join(f"{k} {n}" for k, n in
                                      lost["by_kind"].most_common()))
        say("  by how the client saw the end: " + ", ".join(
            f"{k} {n}" for k, n in lost["by_outcome"].most_common()))
        say("  by when they ended: " + ", ".join(
            f"{n} {k}" + (" (from {:+.1f} s to {:+.1f} s)".format(
                *lost["offsets"][k]) if k in lost["offsets"] else "")
            for k, n in lost["by_kill"].most_common()))
        say("  e.g. " + "; ".join(lost["examples"]))
    refusals = sum(js["limits"].get(k, 0)
                   for k in ("per_source", "max_connections"))
    if refusals or js["suppressed"]:
        say(f"limits: {dict(js['limits'])}; {js['suppressed']} more left "
            "out by the limit.hit rate cap (they name no connection)")

    say("")
    prow = []
    for name in before:
        pid0, rss0, fd0 = before[name]
        pid1, rss1, fd1 = after.get(name, (None, None, None))
        ok_rss = rss1 is not None and rss0 and \
            rss1 <= rss0 * (1 + TARGET_GROWTH)
        ok_fd = fd1 is not None and fd0 and \
            abs(fd1 - fd0) <= fd0 * TARGET_GROWTH
        prow.append((name, f"{pid0}" + ("" if pid1 == pid0 else f"->{pid1}"),
                     rss0, rss1, fd0, fd1, verdict(ok_rss and ok_fd)))
        if not (ok_rss and ok_fd):
            misses.append(f"{name} RSS/descriptors")
    table(prow, ("process", "pid", "RSS KiB before", "after", "fds before",
                 "after", "result"))

    say("")
    rows = [("JSON and SQLite agree", "yes" if agree else "no", "yes",
             verdict(agree)),
            ("lost close events", lost["lost"], 0,
             verdict(lost["lost"] == 0)),
            ("duplicate events in SQLite", sq["dup_rows"], 0,
             verdict(sq["dup_rows"] == 0)),
            ("duplicate events in JSON", json_dups, "(shown)", "-"),
            ("processes back within 10%",
             sum(1 for r in prow if r[-1] == "PASS"), len(prow),
             verdict(all(r[-1] == "PASS" for r in prow)))]
    table(rows, ("figure", "value", "target", "result"))
    if not agree:
        misses.append("JSON and SQLite differ")
    if lost["lost"]:
        misses.append("lost events")
    if sq["dup_rows"]:
        misses.append("duplicates in SQLite")
    say("")
    say("soak: " + ("every target met" if not misses else
                    "MISSED: " + ", ".join(misses)))
    return not misses


# ------------------------------------------------------------------ main

def parse_args(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sundew", required=True, help="the daemon binary")
    ap.add_argument("--build", required=True, help="the build directory")
    ap.add_argument("--connections", type=int,
                    default=int(os.environ.get("SOAK_CONNECTIONS",
                                               1000000)))
    ap.add_argument("--warmup", type=int, default=20000,
                    help="warm-up connections, before the 'before' "
                    "figures: enough to fill the store's SQLite cache "
                    "(32 MiB)")
    ap.add_argument("--port", type=int, default=3127,
                    help="a port of sundew's generic TCP service")
    ap.add_argument("--concurrency", type=int, default=1000,
                    help="connections in flight (the idle and drip ones "
                    "take 3 s each)")
    ap.add_argument("--mix", default=MIX)
    ap.add_argument("--idle-timeout", type=int, default=3,
                    help="limits.idle_timeout in seconds")
    ap.add_argument("--max-input", type=int, default=65536,
                    help="limits.max_input in bytes; big inputs send twice")
    ap.add_argument("--udp-rate", type=int, default=1000)
    ap.add_argument("--udp-burst", type=int, default=2000)
    ap.add_argument("--keep", action="store_true",
                    help="keep the data directory")
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args(argv)
    if args.connections < 100:
        ap.error("--connections: at least 100")
    if args.warmup < 1:
        ap.error("--warmup: at least 1")
    args.load = os.path.join(args.build, "bench", "bench_load")
    return args


def main(argv):
    args = parse_args(argv)
    hard = bench.preflight("soak", (args.sundew, args.load))
    if hard is None:
        return 2
    say(f"soak: {args.connections} connections, {os.cpu_count()} CPUs, "
        f"Linux {os.uname().release}, RLIMIT_NOFILE {hard}")
    workdir = tempfile.mkdtemp(prefix="sundew-soak-")
    os.chmod(workdir, 0o755)
    datadir = os.path.join(workdir, "data")
    logpath = os.path.join(workdir, "sundew.out")
    ran = ok = False
    proc = None
    try:
        proc = sundew_start(args, datadir, logpath, hard)
        bench.wait_port(proc, args.port, 30)
        kids = wait_children(proc, 1, 30)
        tracked = Tracked(proc.pid, kids)
        say(f"  children: {len(kids['sundew-sensor'])} sensors, store, "
            "analyser")
        warm_records, warm = warm_up(args, workdir)
        warm_analyser(args, tracked)
        base_sockets = bench.socket_fds(tracked.sensors())
        settle_idle(args, tracked, base_sockets, datadir)
        before = tracked.measure()
        base_sockets = bench.socket_fds(tracked.sensors())
        say(f"soak: {args.connections} connections ({args.mix}) from "
            f"{SOAK_SOURCES}, UDP flood of {args.udp_rate}/s to "
            f"{UDP_PORTS}, kills at "
            + ", ".join(f"{s:.0%} ({c})" for s, c in KILLS))
        soak = run_soak(args, proc, tracked, workdir)
        say(f"  generator done in {soak['elapsed']:.0f} s; waiting for "
            "sundew to be idle")
        settle_idle(args, tracked, base_sockets, datadir)
        after = tracked.measure()
        status = bench.sundew_stop(proc)
        if status not in (0, -signal.SIGTERM):
            say(f"  sundew exited with status {status} after SIGTERM")
        say("reading the JSON log and SQLite")
        t = time.monotonic()
        js = scan_json(datadir, args.port)
        sq = scan_sqlite(datadir)
        records = read_records(warm_records, False) + \
            read_records(soak["records"], True)
        lost = match(records, js, soak["kills"])
        note(args, f"read in {time.monotonic() - t:.0f} s")
        ran = True
        ok = report(args, warm, soak, js, sq, lost, before, after)
    except BenchError as e:
        print(f"soak: {e}", file=sys.stderr)
        if proc is not None:
            bench.sundew_stop(proc)
            say("sundew's output (last lines):")
            bench.show_tail(logpath)
    except KeyboardInterrupt:
        print("soak: interrupted", file=sys.stderr)
    finally:
        if proc is not None and proc.poll() is None:
            bench.sundew_stop(proc)
        if ran and not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            say(f"soak: data, records and sundew's output kept in {workdir}")
    if not ran:
        return 2
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
