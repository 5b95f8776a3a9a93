"""The core daemon: ports, events, hexdumps, processes, signals."""
import collections
import hashlib
import os
import pathlib
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile

from conftest import (GENERIC_PORT, SUNDEW, TCP_PORTS, UDP_PORTS, connect,
                      proc_status, wait_for)


def listening_tcp_ports():
    """TCP ports something listens on, on 127.0.0.1 or every address."""
    out = subprocess.run(["ss", "-Htln"], capture_output=True, text=True,
                         check=True).stdout
    ports = set()
    for line in out.splitlines():
        local = line.split()[3]
        addr, _, port = local.rpartition(":")
        if addr in ("127.0.0.1", "0.0.0.0", "*", "[::ffff:127.0.0.1]"):
            ports.add(int(port))
    return ports


def test_default_run_opens_exactly_the_port_set(sundew):
    before = listening_tcp_ports()
    d = sundew()
    nmap = subprocess.run(
        ["nmap", "-sT", "-Pn", "-n", "-p1-65535", "--max-retries", "1",
         "-oG", "-", "127.0.0.1"], capture_output=True, text=True, check=True)
    m = re.search(r"Ports: (.*?)(\t|$)", nmap.stdout, re.M)
    assert m, nmap.stdout
    open_ports = {int(p.split("/")[0]) for p in m.group(1).split(", ")
                  if p.split("/")[1] == "open"}
    assert open_ports - before == TCP_PORTS - before
    assert TCP_PORTS <= open_ports
    # UDP: both datagram ports are bound by the sensor processes.
    ss = subprocess.run(["ss", "-Hulnp"], capture_output=True, text=True).stdout
    for port in UDP_PORTS:
        assert re.search(rf"127\.0\.0\.1:{port}\s.*sundew", ss), ss
    d.stop()


def test_every_port_gives_open_and_close_events(sundew):
    d = sundew()
    for port in sorted(TCP_PORTS):
        s = connect(port)
        s.close()
    # One session a port, and the probe's on the generic port.
    want = collections.Counter(TCP_PORTS | {GENERIC_PORT})
    want[GENERIC_PORT] += 1
    for port in TCP_PORTS:
        d.wait_events("sundew.connection.close", count=want[port],
                      dst_port=port)
    for eventid in ("sundew.connection.open", "sundew.connection.close"):
        got = collections.Counter(e["dst_port"] for e in d.events(eventid))
        assert got == want, eventid
    ev = d.events("sundew.connection.open", dst_port=445)[0]
    for key in ("timestamp", "sensor", "session", "src_ip", "src_port",
                "dst_ip", "transport", "service"):
        assert key in ev, key
    assert ev["service"] == "smb" and ev["transport"] == "tcp"
    assert ev["src_ip"] == "127.0.0.1" and ev["dst_ip"] == "127.0.0.1"
    assert re.fullmatch(r"[0-9a-f]{16}", ev["session"])
    d.stop()
    # The same events, queryable in SQLite.
    rows = d.sql("SELECT DISTINCT dst_port FROM events WHERE eventid = ?",
                 ("sundew.connection.close",))
    assert TCP_PORTS <= {r[0] for r in rows}
    n_json = len(d.events())
    assert d.sql("SELECT count(*) FROM events")[0][0] == n_json


def test_generic_payload_is_kept_as_hexdump(sundew):
    d = sundew()
    payload = bytes(range(256)) * 40 + b"\x90" * 100 + b"\r\n\"quoted\"\x00"
    s = connect(GENERIC_PORT)
    s.sendall(payload)
    s.shutdown(socket.SHUT_WR)
    assert s.recv(1) == b""      # the sensor closes after the peer does
    s.close()
    digest = hashlib.sha256(payload).hexdigest()
    ev = d.wait_events("sundew.file.stored", sha256=digest)[0]
    assert ev["kind"] == "hexdump" and ev["size"] == len(payload)
    assert ev["md5"] == hashlib.md5(payload).hexdigest()
    assert ev["duplicate"] is False
    path = d.data / "hexdumps" / f"{digest}.bin"
    assert path.read_bytes() == payload
    assert (path.stat().st_mode & 0o777) == 0o640
    req = d.events("sundew.request", session=ev["session"])[0]
    assert req["data"].encode("latin-1") == payload[:256]
    # The same payload again is not written twice.
    s = connect(GENERIC_PORT)
    s.sendall(payload)
    s.close()
    again = d.wait_events("sundew.file.stored", count=2, sha256=digest)
    assert again[1]["duplicate"] is True
    assert len(list((d.data / "hexdumps").iterdir())) == 1
    d.stop()


def test_udp_datagram_is_recorded(sundew):
    d = sundew()
    payload = b"\x04" + b"\x01" * 60 + b"slammer-like"
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.sendto(payload, ("127.0.0.1", 1434))
    digest = hashlib.sha256(payload).hexdigest()
    ev = d.wait_events("sundew.file.stored", sha256=digest)[0]
    assert ev["transport"] == "udp" and ev["dst_port"] == 1434
    req = d.events("sundew.request", session=ev["session"])[0]
    assert req["service"] == "mssql"
    d.stop()


# Tries to create a file in a chroot as a user: prints the error's name.
CHROOT_WRITE = """
import os, sys
root, uid, gid, groups = sys.argv[1:]
os.chroot(root)
os.chdir("/")
os.setgroups([int(g) for g in groups.split(",") if g])
os.setgid(int(gid))
os.setuid(int(uid))
for attempt in (lambda: open("/probe", "w"), lambda: os.mkdir("/probe")):
    try:
        attempt()
        print("created")
    except OSError as e:
        print(type(e).__name__)
        break
"""


def test_sensor_sandbox(sundew):
    d = sundew()
    sensors = d.sensors()
    # One per CPU, more if one process may not open enough files.
    assert len(sensors) >= os.cpu_count()
    assert re.search(r", %d sensors," % len(sensors), d.log_text())
    for pid in sensors + [d.store_pid(), d.analyser_pid()]:
        st = proc_status(pid)
        assert all(int(u) != 0 for u in st["Uid"].split()), st["Uid"]
        assert all(int(g) != 0 for g in st["Gid"].split()), st["Gid"]
        assert int(st["CapEff"], 16) == 0 and int(st["CapPrm"], 16) == 0
        assert int(st["CapBnd"], 16) == 0
        assert st["NoNewPrivs"] == "1"
        assert st["Seccomp"] == "2"
    # Sensors give way to running work rather than preempt it.
    assert all(os.sched_getscheduler(p) == os.SCHED_BATCH for p in sensors)
    for pid in sensors + [d.analyser_pid()]:
        root = os.readlink(f"/proc/{pid}/root")
        assert root == str(d.data / "empty")
        assert os.listdir(root) == []
        # Root's and writable by no one else ...
        sb = os.stat(root)
        assert sb.st_uid == 0 and sb.st_mode & 0o022 == 0, oct(sb.st_mode)
        # ... so that the process, as it is, cannot write into its chroot:
        # tried in the same chroot with the same user and groups.
        st = proc_status(pid)
        uid, gid = int(st["Uid"].split()[0]), int(st["Gid"].split()[0])
        groups = [int(g) for g in st["Groups"].split()]
        r = subprocess.run([sys.executable, "-c", CHROOT_WRITE, root,
                            str(uid), str(gid), ",".join(map(str, groups))],
                           capture_output=True, text=True, timeout=10)
        assert r.returncode == 0 and r.stdout == "PermissionError\n", \
            (r.stdout, r.stderr)
    assert os.readlink(f"/proc/{d.store_pid()}/root") == str(d.data)
    # The parent keeps root to bind and restart; it reads no network byte.
    assert proc_status(d.pid)["Uid"].split()[0] == "0"
    d.stop()


def sessions_of(d, ports):
    """{client port: {eventid: [events]}} of the sessions from 127.0.0.1
    to the generic port whose client ports are given."""
    out = {p: {} for p in ports}
    for e in d.events():
        if e.get("src_ip") == "127.0.0.1" and e.get("dst_port") == GENERIC_PORT \
                and e.get("src_port") in out:
            out[e["src_port"]].setdefault(e["eventid"], []).append(e)
    return out


def complete(s, data):
    """Sends data, ends the connection and waits for the sensor to close
    its side: then the session is over.  Returns the client port."""
    port = s.getsockname()[1]
    s.sendall(data)
    s.shutdown(socket.SHUT_WR)
    assert s.recv(1) == b""
    s.close()
    return port


def assert_sessions_logged(d, sent):
    """Every connection the client completed ({client port: payload}) is
    one session with exactly its open, request, file (the payload's
    hexdump) and close events."""
    def logged():
        got = sessions_of(d, sent)
        return got if all(len(v.get("sundew.connection.close", [])) == 1
                          for v in got.values()) else None
    got = wait_for(logged, 20, f"the close events of {len(sent)} sessions")
    for port, data in sent.items():
        ev = got[port]
        assert sorted(ev) == ["sundew.connection.close",
                              "sundew.connection.open", "sundew.file.stored",
                              "sundew.request"], (port, sorted(ev))
        assert [len(v) for v in ev.values()] == [1, 1, 1, 1], (port, ev)
        sessions = {e["session"] for v in ev.values() for e in v}
        assert len(sessions) == 1, (port, sessions)
        assert ev["sundew.request"][0]["data"] == data.decode()
        assert ev["sundew.connection.close"][0]["reason"] == "peer_closed"
        assert ev["sundew.file.stored"][0]["sha256"] == \
            hashlib.sha256(data).hexdigest()


def test_sigkill_sensor_is_restarted_and_loses_no_event(sundew):
    d = sundew()
    # What the client knows it did: 50 sessions, each ended by the sensor.
    before = {}
    for i in range(50):
        data = b"before the kill %d" % i
        before[complete(connect(GENERIC_PORT), data)] = data
    assert_sessions_logged(d, before)
    nsensors = len(d.sensors())
    victim = d.sensors()[0]
    os.kill(victim, signal.SIGKILL)
    wait_for(lambda: victim not in d.sensors() and
             len(d.sensors()) == nsensors, 10, "a new sensor")
    assert re.search(r"sensor \d+ \(pid %d\) killed by signal 9" % victim,
                     d.log_text())
    # And the new sensor serves.
    after = {}
    for i in range(20):
        data = b"after the kill %d" % i
        after[complete(connect(GENERIC_PORT), data)] = data
    d.stop()
    # Every session before the kill still has its events, each once, and
    # every one after has its own; the probe is the only other session.
    assert_sessions_logged(d, before)
    assert_sessions_logged(d, after)
    opens = d.events("sundew.connection.open")
    assert len(opens) == 1 + len(before) + len(after)
    assert len(d.events("sundew.connection.close")) == len(opens)


def test_sigterm_flushes_every_event(sundew):
    d = sundew()
    held = [connect(GENERIC_PORT) for _ in range(30)]
    for s in held:
        s.sendall(b"held open")
    d.wait_events("sundew.request", count=30, data="held open")
    assert d.stop() == 0
    ports = {s.getsockname()[1] for s in held}
    closes = d.events("sundew.connection.close", reason="shutdown")
    assert sorted(e["src_port"] for e in closes) == sorted(ports)
    sessions = {e["session"] for e in closes}
    assert len(sessions) == 30
    # Each held session's payload, handed to the store at shutdown: 30
    # file events, one file (the same 9 bytes), one of them new.
    stored = d.events("sundew.file.stored")
    assert sorted(e["session"] for e in stored) == sorted(sessions)
    digest = hashlib.sha256(b"held open").hexdigest()
    assert {e["sha256"] for e in stored} == {digest}
    assert [e["duplicate"] for e in stored].count(False) == 1
    assert os.listdir(d.data / "hexdumps") == [f"{digest}.bin"]
    assert d.sql("SELECT count FROM files WHERE sha256 = ?", (digest,)) == [(30,)]
    for s in held:
        s.close()


def test_sighup_reopens_the_log(sundew):
    d = sundew()
    moved = d.json_path.with_name("moved.json")
    d.json_path.rename(moved)
    os.kill(d.pid, signal.SIGHUP)
    # The store creates the file again when it reopens it.
    wait_for(d.json_path.exists, 10, "the log reopened")
    port = complete(connect(GENERIC_PORT), b"after hup")
    assert_sessions_logged(d, {port: b"after hup"})
    d.stop()
    # The new session is in the new file only; the old file keeps the
    # probe's session, written before the signal.
    assert f'"src_port":{port},' in d.json_path.read_text()
    old = moved.read_text()
    assert "after hup" not in old and f'"src_port":{port},' not in old
    assert '"sundew.connection.close"' in old


def test_connections_leave_no_descriptors_or_memory(sundew):
    d = sundew(["limits.per_source=0"])

    def fds():
        return sum(len(os.listdir(f"/proc/{p}/fd")) for p in d.sensors())

    def rss():
        return sum(int(proc_status(p)["VmRSS"].split()[0]) for p in d.sensors())

    def loop(n, base):
        # Each connection ends before the next begins (the sensor closes
        # once the client has shut its side): a sensor's arrays for its
        # descriptors grow with the most it held at once, which a loop
        # that raced ahead of it would make a matter of chance.
        for i in range(n):
            s = connect(GENERIC_PORT,
                        src=f"127.0.{2 + i // 250 % 200}.{i % 250 + 1}")
            if i % 2:
                s.send(b"x")
            s.shutdown(socket.SHUT_WR)
            s.recv(1)
            s.close()
        d.wait_events("sundew.connection.close", count=base + n, timeout=60)

    fd_start = fds()
    # A first round takes the allocator and the queues to their working
    # size; three more must not grow them further: no leak per session.
    # The heap of a sensor moves by about a megabyte from round to round
    # (fragments that malloc_trim cannot give back); 100 bytes kept per
    # session would be 6 MB over the 60,000 sessions.
    n = 20000
    loop(n, 1)
    wait_for(lambda: fds() == fd_start, 10, "descriptors back to %d" % fd_start)
    rss0 = rss()
    for r in range(3):
        loop(n, 1 + (r + 1) * n)
        wait_for(lambda: fds() == fd_start, 10,
                 "descriptors back to %d" % fd_start)
    wait_for(lambda: rss() - rss0 < 4096, 5,
             "sensor memory back within 4 MB of %d KiB" % rss0)
    d.stop()


def test_nonroot_start_explains_how_to_bind():
    work = pathlib.Path(tempfile.mkdtemp(prefix="sundew-nonroot-"))
    work.chmod(0o777)
    data = work / "var"
    r = subprocess.run(
        ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
         str(SUNDEW),
         "run", "-f", "-o", "listen.address=127.0.0.1", "-o", f"data_dir={data}"],
        capture_output=True, text=True, timeout=30)
    assert r.returncode != 0
    err = r.stderr
    assert "Permission denied" in err
    assert "run sundew as root" in err
    assert "cap_net_bind_service" in err
    assert "ports above 1023" in err
    shutil.rmtree(work)


def test_ipv6_listeners(sundew):
    d = sundew(['listen.address=["127.0.0.1", "::1"]'])
    s = connect(GENERIC_PORT, host="::1")
    s.sendall(b"over ipv6")
    s.close()
    ev = d.wait_events("sundew.request", data="over ipv6")[0]
    assert ev["src_ip"] == "::1" and ev["dst_ip"] == "::1"
    ss = subprocess.run(["ss", "-Htln"], capture_output=True, text=True).stdout
    assert "[::1]:445" in ss and "127.0.0.1:445" in ss
    d.stop()


def test_second_instance_refuses_to_start(sundew):
    """A second sundew, started by mistake, must neither share the ports
    (SO_REUSEPORT would let it take half the connections) nor the data
    directory; the first goes on."""
    d = sundew()

    def second(data):
        return subprocess.run(
            [str(SUNDEW), "run", "-f", "-o", "listen.address=127.0.0.1",
             "-o", f"data_dir={data}"], capture_output=True, text=True,
            timeout=30)

    r = second(d.data)
    assert r.returncode != 0
    assert f"another sundew (pid {d.proc.pid}) uses the data directory" \
        in r.stderr, r.stderr
    other = pathlib.Path(tempfile.mkdtemp(prefix="sundew-second-"))
    try:
        r = second(other / "var")
        assert r.returncode != 0
        assert "Address already in use" in r.stderr, r.stderr
        assert "perhaps another sundew" in r.stderr
    finally:
        shutil.rmtree(other, ignore_errors=True)
    s = connect(GENERIC_PORT)
    s.sendall(b"still here")
    s.close()
    d.wait_events("sundew.request", data="still here")
    d.stop()
