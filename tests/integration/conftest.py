"""Fixtures for the integration tests: a real sundew daemon on loopback.

Every test starts its own daemon (as root, on the default ports bound to
127.0.0.1) with a fresh data directory, talks to it with real clients and
reads what it wrote: the JSON log and the SQLite database.

The tests run in a network namespace of their own whose only interface is
loopback (`make integration` starts pytest under `unshare --net`): a
sundew already running on the machine holds the same ports, and a test
must reach nothing beyond the namespace.  A daemon test outside such a
namespace fails at once, and says how to run it.

Without ../shared/corpora (CORPORA) the tests that need it are skipped
with the reason "corpus test skipped: ...", and counted at the end.
"""
import fcntl
import json
import os
import pathlib
import random
import select
import signal
import socket
import sqlite3
import struct
import subprocess
import time

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
SUNDEW = pathlib.Path(os.environ.get("SUNDEW_BIN", ROOT / "build" / "sundew")).resolve()
CORPORA = pathlib.Path(os.environ.get("CORPORA", ROOT.parent / "shared" / "corpora"))

# DESIGN.md section 2: the TCP and UDP ports of a default run.
TCP_PORTS = {21, 25, 220, 465, 42, 80, 110, 995, 135, 1025, 139, 143, 993,
             443, 445, 1023, 5554, 2103, 2105, 2107, 2745, 3127, 3140, 3372,
             5000, 6129, 10000, 17300, 27347}
UDP_PORTS = {69, 1434}
GENERIC_PORT = 3127      # served by the generic service

CORPUS_SKIP = "corpus test skipped"


def needs_corpus(path):
    """Skips a test (a mark) when the corpus path it reads is not there."""
    return pytest.mark.skipif(not path.exists(),
                              reason=f"{CORPUS_SKIP}: {CORPORA} not found")


def netns_ino(pid="self"):
    """The inode of a process's network namespace, or None if unreadable."""
    try:
        return os.stat(f"/proc/{pid}/ns/net").st_ino
    except OSError:
        return None


def outside_pid():
    """The nearest ancestor in another network namespace (the shell that
    ran `unshare --net`), or None: then the tests share their callers'."""
    mine = netns_ino()
    pid = os.getppid()
    while pid > 1:
        ino = netns_ino(pid)
        if ino is not None and ino != mine:
            return pid
        stat = pathlib.Path(f"/proc/{pid}/stat").read_text()
        pid = int(stat.rsplit(")", 1)[1].split()[1])
    return None


def netns_problem():
    """Why the network here is not a namespace of its own with only an up
    loopback, or None.  The interfaces come from this namespace (netlink),
    not from /sys/class/net, which shows the namespace that mounted it."""
    if outside_pid() is None:
        return "the tests share the network namespace of the shell that ran them"
    names = sorted(name for _, name in socket.if_nameindex())
    if names != ["lo"]:
        return f"the namespace has the interfaces {names}, not only lo"
    if not lo_is_up():
        return "lo is down (ip link set lo up)"
    return None


def lo_is_up():
    """Whether lo is up (SIOCGIFFLAGS, IFF_UP) in this namespace."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        ifr = fcntl.ioctl(s, 0x8913, struct.pack("16sH14x", b"lo", 0))
    return bool(struct.unpack("16sH14x", ifr)[1] & 0x1)


_netns_checked = []


def require_private_netns():
    """Fails the test unless it runs in a namespace of its own (once a run)."""
    if not _netns_checked:
        _netns_checked.append(netns_problem())
        if _netns_checked[0] is None:
            # The namespace's own outbound connections take their ports
            # from 50000 up, so that none holds a port a test listens on
            # or a shellcode asks for (4444, 44028, ...), even in
            # TIME_WAIT.
            with open("/proc/sys/net/ipv4/ip_local_port_range", "w") as f:
                f.write("50000 65000\n")
    if _netns_checked[0] is not None:
        pytest.fail(f"{_netns_checked[0]}: run the integration tests with "
                    "`make integration`, or under `unshare --net sh -c 'ip "
                    "link set lo up && /usr/bin/python3 -m pytest ...'`",
                    pytrace=False)


def pytest_terminal_summary(terminalreporter):
    """Says how many corpus tests were skipped; writes the count to the
    file SUNDEW_CORPUS_SKIPS names, for the summary of `make test`."""
    n = 0
    for rep in terminalreporter.stats.get("skipped", []):
        reason = rep.longrepr[2] if isinstance(rep.longrepr, tuple) else ""
        n += CORPUS_SKIP in reason
    if n:
        terminalreporter.write_line(
            f"corpus tests skipped: {n} ({CORPORA} not found)")
    out = os.environ.get("SUNDEW_CORPUS_SKIPS")
    if out:
        pathlib.Path(out).write_text(f"{n} {CORPORA if n else ''}\n")


def pytest_collection_modifyitems(config, items):
    if os.geteuid() != 0:
        skip = pytest.mark.skip(reason="the daemon binds ports below 1024: run as root")
        for item in items:
            if "needs_root" in item.keywords or "sundew" in item.fixturenames:
                item.add_marker(skip)


def sample(n, seed):
    """n bytes that look like a Windows program and are unique to seed
    (a file for a download or transfer test to send)."""
    rng = random.Random(seed)
    return b"MZ\x90\x00" + rng.randbytes(n - 4)


def wait_for(pred, timeout=10.0, what="condition"):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        v = pred()
        if v:
            return v
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def children(pid):
    """PIDs of the direct children of pid."""
    out = []
    for d in pathlib.Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            stat = (d / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == pid:
            out.append(int(d.name))
    return out


def comm(pid):
    try:
        return pathlib.Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


def proc_status(pid):
    fields = {}
    for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
        k, _, v = line.partition(":")
        fields[k] = v.strip()
    return fields


def closed_by_peer(s, timeout):
    """Whether sundew closes s within timeout seconds: an end of input, or
    a reset when it closed with input unread.  Data from it is an error
    (the generic service says nothing)."""
    end = time.monotonic() + timeout
    while True:
        left = end - time.monotonic()
        if left <= 0 or not select.select([s], [], [], left)[0]:
            return False
        try:
            data = s.recv(65536)
        except ConnectionResetError:
            return True
        if data == b"":
            return True
        raise AssertionError(f"sundew sent {data[:64]!r}")


def connect(port, host="127.0.0.1", src=None, timeout=5.0):
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.settimeout(timeout)
    if src:
        s.bind((src, 0))
    s.connect((host, port))
    return s


class Sundew:
    """A running daemon and what it wrote."""

    def __init__(self, tmp, overrides=(), config=None, env=None, pass_fds=()):
        self.tmp = pathlib.Path(tmp)
        self.data = self.tmp / "var"
        self.stderr_path = self.tmp / "stderr.log"
        args = [str(SUNDEW), "run", "-f"]
        if config is not None:
            cfg = self.tmp / "sundew.yaml"
            cfg.write_text(config)
            args += ["-c", str(cfg)]
        args += ["-o", "listen.address=127.0.0.1", "-o", f"data_dir={self.data}"]
        for o in overrides:
            args += ["-o", o]
        self.args = args
        self.stderr = open(self.stderr_path, "wb")
        self.proc = subprocess.Popen(args, stdout=self.stderr, stderr=self.stderr,
                                     pass_fds=pass_fds,
                                     cwd=self.tmp, env=env)
        self.pid = self.proc.pid

    def wait_ready(self, port=GENERIC_PORT, timeout=15.0):
        def ready():
            if self.proc.poll() is not None:
                raise AssertionError("sundew exited: " + self.log_text())
            if len(self.sensors()) < 1 or not self.store_pid() or \
                    not self.analyser_pid():
                return False
            try:
                connect(port, timeout=1).close()
                return True
            except OSError:
                return False
        wait_for(ready, timeout, "sundew to accept connections")
        # The probe connection above is an event too; wait for it.
        wait_for(lambda: self.events("sundew.connection.close"), 10, "first events")
        return self

    def log_text(self):
        self.stderr.flush()
        return self.stderr_path.read_text(errors="replace")

    def sensors(self):
        return [p for p in children(self.pid) if comm(p) == "sundew-sensor"]

    def child(self, name):
        for p in children(self.pid):
            if comm(p) == name:
                return p
        return None

    def store_pid(self):
        return self.child("sundew-store")

    def analyser_pid(self):
        return self.child("sundew-analyser")

    @property
    def json_path(self):
        return self.data / "log" / "sundew.json"

    def events(self, eventid=None, **match):
        out = []
        paths = sorted(self.json_path.parent.glob("sundew.json*"))
        for path in paths:
            try:
                text = path.read_text()
            except FileNotFoundError:    # pruned or rotated meanwhile
                continue
            # A line the store is writing right now is not read yet.
            for line in text[:text.rfind("\n") + 1].splitlines():
                ev = json.loads(line)
                if "eventid" not in ev:      # output.json.format: ecs
                    ev = dict(ev, eventid=ev["event"]["action"])
                if eventid and ev["eventid"] != eventid:
                    continue
                if all(ev.get(k) == v for k, v in match.items()):
                    out.append(ev)
        return out

    def wait_events(self, eventid, count=1, timeout=10.0, **match):
        return wait_for(lambda: (lambda e: e if len(e) >= count else None)(
            self.events(eventid, **match)), timeout,
            f"{count} {eventid} events matching {match}")

    def sql(self, query, args=()):
        db = sqlite3.connect(f"file:{self.data / 'sundew.sqlite'}?mode=ro", uri=True)
        try:
            return db.execute(query, args).fetchall()
        finally:
            db.close()

    def stop(self, sig=signal.SIGTERM, timeout=30):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError("sundew did not stop on SIGTERM")
        self.stderr.close()
        return self.proc.returncode


@pytest.fixture
def sundew(tmp_path):
    """A factory: sundew(overrides=[...], config=..., env=...) starts a
    daemon (env: its whole environment, None: the tests')."""
    require_private_netns()
    started = []

    def start(overrides=(), config=None, ready=True, pass_fds=(), env=None):
        d = Sundew(tmp_path, overrides, config, env=env, pass_fds=pass_fds)
        started.append(d)
        if ready:
            d.wait_ready()
        return d

    yield start
    for d in started:
        if d.proc.poll() is None:
            d.stop()
