"""The daemon's life as an operator sees it: how it starts (foreground or
background, with ./sundew.yaml), how it stops (SIGINT, SIGTERM), and how it
rides out a store that dies or stalls.

Every check is on what a user can look at: the JSON log, SQLite, the
processes, the log lines (stderr, or syslog in the background).
"""
import os
import pathlib
import re
import signal
import socket
import subprocess
import threading
import time

import pytest

from conftest import (GENERIC_PORT, SUNDEW, Sundew, children, comm, connect,
                      wait_for)

pytestmark = pytest.mark.skipif(os.geteuid() != 0,
                                reason="the daemon binds ports below 1024: run as root")


def launch(tmp, overrides=(), foreground=True, wrap=(), **popen):
    """Starts sundew like conftest's Sundew does, with what it cannot do:
    in the background, behind a wrapper command, in a session of its own.
    The object is a conftest Sundew, so its helpers all apply."""
    d = Sundew.__new__(Sundew)
    d.tmp = pathlib.Path(tmp)
    d.data = d.tmp / "var"
    d.stderr_path = d.tmp / "stderr.log"
    args = [str(SUNDEW), "run"] + (["-f"] if foreground else [])
    args += ["-o", "listen.address=127.0.0.1", "-o", f"data_dir={d.data}"]
    for o in overrides:
        args += ["-o", o]
    d.args = args
    d.stderr = open(d.stderr_path, "wb")
    d.proc = subprocess.Popen(list(wrap) + args, stdout=d.stderr,
                              stderr=d.stderr, cwd=d.tmp, **popen)
    d.pid = d.proc.pid
    return d


def alive(pid):
    """Whether pid is a process that has not exited (a zombie has)."""
    try:
        stat = pathlib.Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def family(d):
    """The parent's children, by kind."""
    return {"sensors": d.sensors(), "store": d.store_pid(),
            "analyser": d.analyser_pid()}


def session_of(d, data):
    """The session whose request carried data."""
    return d.wait_events("sundew.request", data=data)[0]["session"]


def sql_eventids(d, session):
    return sorted(r[0] for r in d.sql(
        "SELECT eventid FROM events WHERE session = ?", (session,)))


# ----------------------------------------------------------------------
# Stopping


@pytest.mark.parametrize("target", ["parent", "process group"])
def test_sigint_stops_everything_with_every_event(tmp_path, target):
    """SIGINT to the parent, or to its whole process group as Ctrl-C at a
    terminal sends it: every held session gets its close event (reason
    shutdown) in JSON and SQLite, every process ends, the exit status
    is 0."""
    d = launch(tmp_path, start_new_session=True)
    try:
        d.wait_ready()
        n = 25
        held = [connect(GENERIC_PORT, src=f"127.0.0.{10 + i}") for i in range(n)]
        for i, s in enumerate(held):
            s.sendall(b"held %d" % i)
        d.wait_events("sundew.request", count=n)
        kids = family(d)
        pids = kids["sensors"] + [kids["store"], kids["analyser"]]
        assert all(pids) and len(pids) >= 3
        if target == "parent":
            os.kill(d.pid, signal.SIGINT)
        else:
            os.killpg(d.pid, signal.SIGINT)
        assert d.proc.wait(30) == 0, d.log_text()
    finally:
        if d.proc.poll() is None:
            d.proc.kill()
            d.proc.wait()
        d.stderr.close()
    assert not [p for p in pids if alive(p)]
    log = d.stderr_path.read_text()
    assert "parent: stopping" in log and "parent: stopped" in log
    # Each held session: one open, one request, one close, "shutdown".
    sessions = {e["session"]: e for e in d.events("sundew.request")}
    assert len(sessions) == n
    closes = d.events("sundew.connection.close", reason="shutdown")
    assert sorted(e["session"] for e in closes) == sorted(sessions)
    opens = [e["session"] for e in d.events("sundew.connection.open")]
    assert set(sessions) <= set(opens) and len(opens) == n + 1  # + probe
    rows = d.sql("SELECT session FROM events WHERE eventid = ? AND "
                 "json_extract(data, '$.reason') = 'shutdown'",
                 ("sundew.connection.close",))
    assert sorted(r[0] for r in rows) == sorted(sessions)
    for s in held:
        s.close()


# ----------------------------------------------------------------------
# Starting


class SyslogReceiver:
    """A /dev/log of our own: a datagram socket whose messages a thread
    collects, so that a blocked syslog(3) never stalls the daemon."""

    def __init__(self, path):
        self.path = str(path)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        os.chmod(self.path, 0o666)
        self.sock.settimeout(0.2)
        self.lines = []
        self.done = False
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        while not self.done:
            try:
                self.lines.append(self.sock.recv(65536).decode(errors="replace"))
            except socket.timeout:
                pass
            except OSError:
                return

    def grep(self, pattern):
        return [l for l in list(self.lines) if re.search(pattern, l)]

    def close(self):
        self.done = True
        self.thread.join()
        self.sock.close()


# Run in a mount namespace of its own: /dev is a tmpfs there, with the
# host's null, zero, random and urandom, and /dev/log a link to our socket
# (which may be made again, as a restarted syslogd does).  The host's
# /dev, and its syslog, are not touched.
PRIVATE_DEVLOG = r'''
set -e
mkdir -p "$T/hostdev"
mount --rbind /dev "$T/hostdev"
mount -t tmpfs -o mode=0755,size=64k sundew-test-dev /dev
for n in null zero full random urandom; do
    touch "/dev/$n"
    mount --bind "$T/hostdev/$n" "/dev/$n"
done
ln -s /proc/self/fd /dev/fd
ln -s "$T/log.sock" /dev/log
umount -l "$T/hostdev"
exec "$@"
'''


def test_background_mode_daemonizes_and_logs_to_syslog(tmp_path):
    """Without -f: the command returns 0 once the daemon runs; .lock holds
    the daemon's pid (a session leader with its output on /dev/null);
    lines go to syslog, the children's too; SIGTERM stops it all."""
    if subprocess.run(["unshare", "-m", "true"]).returncode != 0:
        pytest.skip("cannot make a mount namespace (unshare -m)")
    log = SyslogReceiver(tmp_path / "log.sock")
    d = launch(tmp_path, foreground=False,
               wrap=["unshare", "-m", "--propagation", "private",
                     "sh", "-c", PRIVATE_DEVLOG, "sh"],
               env=dict(os.environ, T=str(tmp_path)))
    daemon = None
    try:
        assert d.proc.wait(30) == 0, d.log_text()
        lock = d.data / ".lock"
        daemon = int(lock.read_text())
        assert daemon != d.pid
        assert alive(daemon) and comm(daemon) == "sundew"
        stat = pathlib.Path(f"/proc/{daemon}/stat").read_text()
        assert int(stat.rsplit(")", 1)[1].split()[3]) == daemon   # setsid
        for fd in (0, 1, 2):
            assert os.readlink(f"/proc/{daemon}/fd/{fd}") == "/dev/null"
        # conftest's helpers, on the daemon rather than the first process.
        d.pid = daemon
        wait_for(lambda: d.sensors() and d.store_pid() and d.analyser_pid(),
                 15, "the daemon's children")
        started = wait_for(lambda: log.grep(
            rf"^<30>.*sundew\[{daemon}\]: parent: sundew \S+: \d+ sockets, "
            rf"\d+ sensors, data in {re.escape(str(d.data))}$"), 10,
            "the start line in syslog")
        assert len(started) == 1
        # Nothing went to the terminal the command was started from.
        assert "sockets," not in d.log_text()
        s = connect(GENERIC_PORT)
        s.sendall(b"in the background")
        s.close()
        session = session_of(d, "in the background")
        d.wait_events("sundew.connection.close", session=session)
        # A child's line (the store, chrooted and filtered) reaches syslog.
        store = d.store_pid()
        os.kill(daemon, signal.SIGHUP)
        wait_for(lambda: log.grep(
            rf"sundew\[{store}\]: store: store: reopened log/sundew.json"),
            10, "the store's line in syslog")
        # syslogd restarts (logrotate does that): the parent's lines reach
        # the new one, and the children go on, their lines or not.
        log.close()
        os.unlink(tmp_path / "log.sock")
        log = SyslogReceiver(tmp_path / "log.sock")
        d.json_path.rename(d.json_path.with_name("before-hup.json"))
        os.kill(daemon, signal.SIGHUP)
        wait_for(lambda: log.grep(
            rf"^<30>.*sundew\[{daemon}\]: parent: SIGHUP: reopening the logs$"),
            10, "the parent's line in the new syslog")
        wait_for(d.json_path.exists, 10, "the store to reopen its log")
        s = connect(GENERIC_PORT)
        s.sendall(b"after syslog restarted")
        s.close()
        d.wait_events("sundew.connection.close",
                      session=session_of(d, "after syslog restarted"))
        assert d.store_pid() == store and not log.grep("killed by signal")
        held = connect(GENERIC_PORT)
        held.sendall(b"held in the background")
        held_session = session_of(d, "held in the background")
        pids = [daemon, store, d.analyser_pid()] + d.sensors()
        os.kill(daemon, signal.SIGTERM)
        wait_for(lambda: not [p for p in pids if alive(p)], 30,
                 "every process to end")
        daemon = None
        assert log.grep(r"parent: stopping$") and log.grep(r"parent: stopped$")
        close = d.events("sundew.connection.close", session=held_session)
        assert [e["reason"] for e in close] == ["shutdown"]
        held.close()
    finally:
        if daemon is not None and alive(daemon):
            os.kill(daemon, signal.SIGKILL)
        d.stderr.close()
        log.close()


def test_sundew_yaml_in_the_working_directory_is_read(sundew, tmp_path):
    """No -c: ./sundew.yaml is the configuration (the fixture starts
    sundew in tmp_path, without -c unless told)."""
    name = "from-cwd-yaml-4f1c"
    (tmp_path / "sundew.yaml").write_text(f"sensor: {name}\n")
    d = sundew()
    assert "-c" not in d.args
    s = connect(GENERIC_PORT)
    s.sendall(b"which sensor")
    s.close()
    session = session_of(d, "which sensor")
    evs = d.wait_events("sundew.connection.close", session=session)
    assert evs[0]["sensor"] == name
    assert {e["sensor"] for e in d.events()} == {name}
    d.stop()
    assert d.sql("SELECT DISTINCT sensor FROM events") == [(name,)]
    r = subprocess.run([str(SUNDEW), "check-config"], cwd=tmp_path,
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0 and "sundew.yaml: configuration OK" in r.stdout


# ----------------------------------------------------------------------
# A store that dies or stalls


def burst(tag, n, first_src=1):
    """n sessions that each send "<tag> <i>" and end; their payloads."""
    sent = []
    for i in range(n):
        s = connect(GENERIC_PORT, src=f"127.0.1.{first_src + i}")
        data = "%s %d" % (tag, i)
        s.sendall(data.encode())
        s.close()
        sent.append(data)
    return sent


def assert_whole(d, payloads):
    """Each payload's session has exactly one open, request and close
    event in JSON, and the same three in SQLite."""
    want = ["sundew.connection.close", "sundew.connection.open",
            "sundew.request"]
    sessions = []
    for data in payloads:
        reqs = d.events("sundew.request", data=data)
        assert len(reqs) == 1, (data, reqs)
        session = reqs[0]["session"]
        got = sorted(e["eventid"] for e in d.events(session=session)
                     if e["eventid"] in want)
        assert got == want, (data, got)
        assert [x for x in sql_eventids(d, session) if x in want] == want
        sessions.append(session)
    return sessions


def test_store_killed_is_restarted_and_no_event_is_lost(sundew):
    """SIGKILL to the store: the parent starts another; the sessions
    before, while the store is missing and after all have their open,
    request and close events, once each, in JSON and SQLite."""
    d = sundew(["limits.per_source=0"])
    before = burst("before", 10)
    d.wait_events("sundew.connection.close", count=11)
    old = d.store_pid()
    os.kill(old, signal.SIGKILL)
    # The parent stopped: no new store until we say, whatever the timing.
    os.kill(d.pid, signal.SIGSTOP)
    try:
        wait_for(lambda: not alive(old), 10, "the store to die")
        during = burst("while missing", 10, 40)
    finally:
        os.kill(d.pid, signal.SIGCONT)
    wait_for(lambda: d.store_pid() not in (None, old), 15, "a new store")
    assert re.search(r"store \(pid %d\) killed by signal 9" % old,
                     d.log_text())
    after = burst("after", 10, 60)
    wait_for(lambda: len(d.events("sundew.connection.close")) >= 31, 20,
             "31 close events")
    d.stop()
    assert len(set(assert_whole(d, before + during + after))) == 30
    assert len(d.events("sundew.connection.open")) == 31


def test_store_killed_loses_no_event_it_was_sent(sundew):
    """A store that hangs and is then killed (by a watchdog, the OOM
    killer): the events the sensor had written to it are logged by the
    next store all the same."""
    d = sundew(["limits.per_source=0"])
    store = d.store_pid()
    os.kill(store, signal.SIGSTOP)
    sent = []
    for i in range(10):
        s = connect(GENERIC_PORT, src=f"127.0.1.{1 + i}")
        sent.append("sent %d" % i)
        s.sendall(sent[-1].encode())
        s.shutdown(socket.SHUT_WR)
        assert s.recv(1) == b""      # the session ended in the sensor
        s.close()
    # Each session ended in the sensor, which wrote its events into its
    # ring first; the stopped store never read them.
    os.kill(store, signal.SIGKILL)
    wait_for(lambda: d.store_pid() not in (None, store), 15, "a new store")
    burst("after", 1, 100)
    d.wait_events("sundew.connection.close", session=session_of(d, "after 0"))
    d.stop()
    assert_whole(d, sent)


def listen_queue(port):
    """Connections waiting in the accept queue of port's TCP listener."""
    out = subprocess.run(["ss", "-Htln", "sport", "=", f":{port}"],
                         capture_output=True, text=True, check=True).stdout
    return sum(int(l.split()[1]) for l in out.splitlines())


def test_store_stopped_sessions_queue_then_accepting_pauses(sundew):
    """While the store is stopped the sensor keeps every event; once it
    holds 16 MiB for the store (a quarter of its ring) it stops accepting (and says so) rather
    than drop events; when the store resumes, everything is logged and
    the connections that waited are accepted."""
    d = sundew(["sensors=1", "limits.per_source=0"])
    store = d.store_pid()
    os.kill(store, signal.SIGSTOP)
    try:
        # A few sessions: queued, nothing lost.
        queued = burst("queued", 20)
        # 1 MiB payloads (the same, so that the store keeps one hexdump),
        # each session ended by the sensor before the next begins, until
        # the sensor says it stopped accepting.
        blob = b"A" * (1 << 20)
        big = 0
        while "not accepting until it catches up" not in d.log_text():
            assert big < 100, "the sensor still accepts with %d MiB queued" % big
            s = connect(GENERIC_PORT, src=f"127.0.2.{1 + big % 250}")
            s.sendall(b"big %d " % big + blob)
            s.shutdown(socket.SHUT_WR)
            assert s.recv(1) == b""
            s.close()
            big += 1
        assert 16 <= big <= 20, big
        assert re.search(r"sensor 0: the store is behind \(\d+ bytes "
                         r"queued\): not accepting until it catches up",
                         d.log_text())
        # Now connections wait in the accept queue, taken by no sensor.
        waiting = [connect(GENERIC_PORT, src=f"127.0.3.{1 + i}")
                   for i in range(8)]
        for i, s in enumerate(waiting):
            s.sendall(b"waiting %d" % i)
            s.shutdown(socket.SHUT_WR)
        wait_for(lambda: listen_queue(GENERIC_PORT) == 8, 5,
                 "8 connections in the accept queue")
        time.sleep(0.3)             # and they stay there
        assert listen_queue(GENERIC_PORT) == 8
        assert "caught up" not in d.log_text()
    finally:
        os.kill(store, signal.SIGCONT)
    wait_for(lambda: "sensor 0: the store caught up: accepting again"
             in d.log_text(), 30, "the sensor to accept again")
    wait_for(lambda: listen_queue(GENERIC_PORT) == 0, 10,
             "the waiting connections to be accepted")
    for s in waiting:
        assert s.recv(1) == b""
        s.close()
    total = 1 + 20 + big + 8
    wait_for(lambda: len(d.events("sundew.connection.close")) >= total, 60,
             f"{total} close events")
    d.stop()
    assert_whole(d, queued + ["waiting %d" % i for i in range(8)])
    bigs = [e for e in d.events("sundew.request")
            if e["data"].startswith("big ")]
    assert sorted(int(e["data"].split()[1]) for e in bigs) == list(range(big))
    assert len(d.events("sundew.connection.close")) == total
    assert len(d.events("sundew.connection.open")) == total
