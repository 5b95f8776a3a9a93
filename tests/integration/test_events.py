"""Event fields a user reads and counts: the default listeners' addresses,
the close event's figures, the caps that only show as sundew.limit.hit
(memory, udp_rate, analyser_backlog), and session ids that sort by time.
"""
import math
import os
import pathlib
import random
import re
import signal
import socket
import subprocess
import time

import pytest

from conftest import GENERIC_PORT, SUNDEW, Sundew, connect, wait_for

pytestmark = pytest.mark.skipif(os.geteuid() != 0,
                                reason="the daemon binds ports below 1024: run as root")

COMMON = {"timestamp", "eventid", "sensor", "session", "src_ip", "src_port",
          "dst_ip", "dst_port", "transport", "service"}

# A Linux bind shell on port 4444 after a NOP sled, written for these
# tests: socketcall(bind) then socketcall(listen).  The analyser finds
# {"action": "bind_shell", "evidence": "emulated", "port": 4444}.
BIND_SHELL = bytes.fromhex(
    "90" * 16 +
    "31c0" "31db" "53" "680200115c" "89e1" "6a10" "51" "53" "89e1"
    "b302" "b066" "cd80" "b304" "b066" "cd80")


def fields(ev):
    """An event's keys, less "id" (the store may number events)."""
    return set(ev) - {"id"}


def launch_defaults(tmp, overrides=()):
    """sundew with the built-in listen.address (every IPv4 and IPv6
    address): as conftest's Sundew, without its 127.0.0.1 override.
    Meant for a private network namespace, as every test here."""
    d = Sundew.__new__(Sundew)
    d.tmp = pathlib.Path(tmp)
    d.data = d.tmp / "var"
    d.stderr_path = d.tmp / "stderr.log"
    d.args = [str(SUNDEW), "run", "-f", "-o", f"data_dir={d.data}"]
    for o in overrides:
        d.args += ["-o", o]
    d.stderr = open(d.stderr_path, "wb")
    d.proc = subprocess.Popen(d.args, stdout=d.stderr, stderr=d.stderr,
                              cwd=d.tmp)
    d.pid = d.proc.pid
    return d


def opened(d, src, count=1):
    """The open events of the sessions from address src."""
    return d.wait_events("sundew.connection.open", count=count, src_ip=src)


# ----------------------------------------------------------------------


def test_default_listeners_log_ipv6_peers_as_such(tmp_path):
    """With the default listen.address, a connection to [::1] is logged
    with src_ip and dst_ip "::1", one to 127.0.0.1 with the IPv4
    addresses (the "::" listener is IPv6 only)."""
    d = launch_defaults(tmp_path)
    try:
        d.wait_ready()
        assert "listen.address" not in " ".join(d.args)
        for host, data in (("::1", b"over ipv6"), ("127.0.0.1", b"over ipv4")):
            s = connect(GENERIC_PORT, host=host)
            s.sendall(data)
            s.shutdown(socket.SHUT_WR)
            assert s.recv(1) == b""
            s.close()
        v6 = d.wait_events("sundew.request", data="over ipv6")[0]
        v4 = d.wait_events("sundew.request", data="over ipv4")[0]
        for ev in d.events(session=v6["session"]):
            assert (ev["src_ip"], ev["dst_ip"]) == ("::1", "::1"), ev
        for ev in d.events(session=v4["session"]):
            assert (ev["src_ip"], ev["dst_ip"]) == ("127.0.0.1", "127.0.0.1")
        close = d.wait_events("sundew.connection.close",
                              session=v6["session"])[0]
        assert close["reason"] == "peer_closed"
        ss = subprocess.run(["ss", "-Htln"], capture_output=True,
                            text=True).stdout
        assert f"[::]:{GENERIC_PORT}" in ss and f"0.0.0.0:{GENERIC_PORT}" in ss
    finally:
        assert d.stop() == 0
    assert d.sql("SELECT src_ip, dst_ip FROM sessions WHERE session = ?",
                 (v6["session"],)) == [("::1", "::1")]


def tcp_queued(port):
    """Bytes sent over TCP to port and not yet read by the server."""
    total = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in pathlib.Path(table).read_text().splitlines()[1:]:
            f = line.split()
            if f[3] != "01":                   # established
                continue
            tx, rx = (int(x, 16) for x in f[4].split(":"))
            if int(f[1].rsplit(":", 1)[1], 16) == port:
                total += rx
            if int(f[2].rsplit(":", 1)[1], 16) == port:
                total += tx
    return total


def tcp_unread(sock):
    """Bytes the server side of our connection sock has not read."""
    mine = sock.getsockname()[1]
    for line in pathlib.Path("/proc/net/tcp").read_text().splitlines()[1:]:
        f = line.split()
        if int(f[2].rsplit(":", 1)[1], 16) == mine:
            return int(f[4].split(":")[1], 16)
    return None


def poll(pred, timeout, what):
    """wait_for at a millisecond's resolution, for timings."""
    end = time.monotonic() + timeout
    while not pred():
        assert time.monotonic() < end, f"timed out waiting for {what}"
        time.sleep(0.001)


def test_close_event_figures_are_exact(sundew):
    """K bytes sent, held about a second, then the peer closes: the close
    event says bytes_in K, bytes_out 0 (the generic service says nothing)
    and the duration the sensor held the session, in JSON and SQLite."""
    d = sundew()
    k = 50_001
    payload = random.Random(7).randbytes(k)
    t0 = time.monotonic()
    s = connect(GENERIC_PORT, src="127.0.0.77")
    s.sendall(payload)
    # All in the server's buffer at once; the sensor reads it when it
    # accepts: read, accepted.
    poll(lambda: tcp_unread(s) == 0, 10, "the sensor to read")
    t_read = time.monotonic()
    while time.monotonic() < t_read + 1.0:
        time.sleep(t_read + 1.0 - time.monotonic())
    t_shut = time.monotonic()
    s.shutdown(socket.SHUT_WR)
    assert s.recv(1) == b""          # the sensor closed: duration taken
    t1 = time.monotonic()
    s.close()
    session = opened(d, "127.0.0.77")[0]["session"]
    ev = d.wait_events("sundew.connection.close", session=session)[0]
    assert fields(ev) == COMMON | {"reason", "duration_ms", "bytes_in",
                                   "bytes_out"}
    assert ev["reason"] == "peer_closed"
    assert ev["bytes_in"] == k and ev["bytes_out"] == 0
    # Accepted between t0 and t_read, closed between t_shut and t1.
    low = math.floor((t_shut - t_read) * 1000)
    high = math.ceil((t1 - t0) * 1000)
    assert low <= ev["duration_ms"] <= high, (low, ev["duration_ms"], high)
    stored = d.wait_events("sundew.file.stored", session=session)[0]
    assert stored["size"] == k
    d.stop()
    rows = d.sql("SELECT json_extract(data, '$.bytes_in'), "
                 "json_extract(data, '$.bytes_out'), "
                 "json_extract(data, '$.duration_ms') FROM events "
                 "WHERE session = ? AND eventid = ?",
                 (session, "sundew.connection.close"))
    assert rows == [(k, 0, ev["duration_ms"])]


# ----------------------------------------------------------------------
# sundew.limit.hit for the caps no other test reaches


def test_limit_hit_memory(sundew):
    """A sensor keeps at most 256 MiB of generic payloads: four sessions
    that each hold a 64 MiB buffer (32 MiB and one byte sent, with
    limits.max_input 64MiB) use it up; the next session's first byte
    ends it with a limit.hit "memory" and a close "memory".  Once one
    of the four has ended, a new session is served again."""
    d = sundew(["sensors=1", "limits.max_input=64MiB", "limits.per_source=0"])
    chunk = b"B" * (1 << 20)
    held = []
    for i in range(4):
        s = connect(GENERIC_PORT, src=f"127.0.5.{i + 1}")
        for _ in range(32):
            s.sendall(chunk)
        s.sendall(b"B")
        held.append(s)
    poll(lambda: tcp_queued(GENERIC_PORT) == 0, 30,
         "the sensor to read the 4 x 32 MiB")
    over = connect(GENERIC_PORT, src="127.0.5.9")
    over.sendall(b"x")
    assert over.recv(1) == b""
    over.close()
    session = opened(d, "127.0.5.9")[0]["session"]
    hit = d.wait_events("sundew.limit.hit", session=session)[0]
    assert fields(hit) == COMMON | {"limit"}
    assert hit["limit"] == "memory" and hit["src_ip"] == "127.0.5.9"
    assert hit["dst_port"] == GENERIC_PORT and hit["transport"] == "tcp"
    close = d.wait_events("sundew.connection.close", session=session)[0]
    assert close["reason"] == "memory" and close["bytes_in"] == 1
    # One ends: its 64 MiB go back to the budget.
    held[0].shutdown(socket.SHUT_WR)
    assert held[0].recv(1) == b""
    again = connect(GENERIC_PORT, src="127.0.5.10")
    again.sendall(b"after memory came back")
    again.shutdown(socket.SHUT_WR)
    assert again.recv(1) == b""
    again.close()
    session = opened(d, "127.0.5.10")[0]["session"]
    close = d.wait_events("sundew.connection.close", session=session)[0]
    assert close["reason"] == "peer_closed"
    for s in held:
        s.close()
    d.wait_events("sundew.connection.close", count=1 + 4 + 2, timeout=30)
    d.stop()
    hits = d.events("sundew.limit.hit")
    assert [h["src_ip"] for h in hits] == ["127.0.5.9"]
    closes = d.events("sundew.connection.close")
    assert sorted(c["bytes_in"] for c in closes
                  if c["src_ip"].startswith("127.0.5.")
                  and c["src_ip"] not in ("127.0.5.9", "127.0.5.10")) == \
        [32 * (1 << 20) + 1] * 4


def udp_socket_state(port):
    """(bytes queued, datagrams dropped) of the UDP sockets bound to port."""
    queued = dropped = 0
    for line in pathlib.Path("/proc/net/udp").read_text().splitlines()[1:]:
        f = line.split()
        if int(f[1].split(":")[1], 16) == port:
            queued += int(f[4].split(":")[1], 16)
            dropped += int(f[-1])
    return queued, dropped


def test_limit_hit_udp_rate(sundew):
    """A sensor takes 2,000 datagrams a second: of 2,010 sent within one
    second, 2,000 are served (a request each) and 10 are refused, each
    with a limit.hit "udp_rate" that names its source and port."""
    d = sundew(["sensors=1"])
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.bind(("127.0.0.1", 0))
    src_port = u.getsockname()[1]
    dgram = b"\x00\x01rate-test\x00octet\x00"
    # Start as a second begins: the sensor counts per second of the clock.
    time.sleep(math.ceil(time.time()) - time.time() + 0.01)
    second = int(time.time())
    sent = 0
    while sent < 2010:
        # In bursts the socket buffer holds, each read before the next.
        for _ in range(min(100, 2010 - sent)):
            u.sendto(dgram, ("127.0.0.1", 69))
            sent += 1
        end = time.monotonic() + 1
        while udp_socket_state(69)[0] != 0:
            assert time.monotonic() < end, "the sensor did not read a burst"
            time.sleep(0.001)
    assert int(time.time()) == second, "2,010 datagrams took over a second"
    assert udp_socket_state(69)[1] == 0, "datagrams were dropped"
    hits = d.wait_events("sundew.limit.hit", count=10, limit="udp_rate")
    d.wait_events("sundew.request", count=2000, transport="udp")
    d.stop()
    hits = d.events("sundew.limit.hit")
    assert len(hits) == 10
    assert len(d.events("sundew.request", transport="udp")) == 2000
    assert len({h["session"] for h in hits}) == 10
    for h in hits:
        assert fields(h) == COMMON | {"limit"}, h       # none suppressed
        assert h["limit"] == "udp_rate" and h["transport"] == "udp"
        assert h["service"] == "tftp" and h["dst_port"] == 69
        assert (h["src_ip"], h["src_port"]) == ("127.0.0.1", src_port)
        assert int(h["session"][:8], 16) == second


def test_limit_hit_analyser_backlog(sundew):
    """With the analyser stopped, a sensor keeps payloads for it up to
    64 MiB; the next one is not analysed: a limit.hit "analyser_backlog"
    for its session, its hexdump kept all the same.  Resumed, the
    analyser gives the queued ones their verdicts."""
    d = sundew(["sensors=1", "limits.per_source=0"])
    size = 4 * (1 << 20) - (128 << 10)
    payload = BIND_SHELL + b"\0" * (size - len(BIND_SHELL))
    analyser = d.analyser_pid()
    os.kill(analyser, signal.SIGSTOP)
    sessions = []
    try:
        for i in range(24):
            s = connect(GENERIC_PORT, src=f"127.0.6.{i + 1}")
            s.sendall(payload)
            s.shutdown(socket.SHUT_WR)
            assert s.recv(1) == b""
            s.close()
            sessions.append(opened(d, f"127.0.6.{i + 1}")[0]["session"])
            # The hit, if any, is queued before the close event.
            d.wait_events("sundew.connection.close", session=sessions[-1])
            if d.events("sundew.limit.hit"):
                break
        hits = d.events("sundew.limit.hit")
        # The sensor keeps each payload until its verdict: 16 are 62 MiB,
        # the 17th would pass 64 MiB and is refused.
        assert len(hits) == 1 and len(sessions) == 17, (len(sessions), hits)
        hit = hits[0]
        assert hit["session"] == sessions[-1]
        assert fields(hit) == COMMON | {"limit"}
        assert hit["limit"] == "analyser_backlog"
        assert hit["src_ip"] == f"127.0.6.{len(sessions)}"
        stored = d.wait_events("sundew.file.stored", session=sessions[-1])
        assert stored[0]["size"] == size and stored[0]["duplicate"] is True
    finally:
        os.kill(analyser, signal.SIGCONT)
    first = d.wait_events("sundew.shellcode.detected", session=sessions[0],
                          timeout=30)[0]
    assert {"action": "bind_shell", "evidence": "emulated",
            "port": 4444} in first["actions"]
    d.stop()
    verdicts = [e["session"] for e in d.events("sundew.shellcode.detected")]
    assert sessions[-1] not in verdicts
    assert verdicts == sessions[:len(verdicts)]


# ----------------------------------------------------------------------


def unix_seconds(timestamp):
    """The Unix second of an event timestamp, 2026-11-25T18:06:34.123456Z."""
    return int(time.mktime(time.strptime(timestamp[:19], "%Y-%m-%dT%H:%M:%S"))
               - time.timezone)


def test_session_ids_sort_by_time(sundew):
    """Session ids begin with the second the session began, then the
    sensor: sorted as text they are in the order of time, to the second,
    across sensors, and in order of opening within one sensor."""
    d = sundew(["sensors=2", "limits.per_source=0"])
    end = math.floor(time.time()) + 2.2     # over two turns of the second
    n = 0
    # One after the other, each ended by the sensor before the next.
    while time.time() < end:
        assert n < 200000       # a loop that cannot end, not a rate
        s = connect(GENERIC_PORT, src=f"127.0.7.{1 + n % 250}")
        s.shutdown(socket.SHUT_WR)
        assert s.recv(1) == b""
        s.close()
        n += 1
    d.wait_events("sundew.connection.close", count=n + 1)
    d.stop()
    opens = [e for e in d.events("sundew.connection.open")
             if e["src_ip"].startswith("127.0.7.")]
    assert len(opens) == n
    opens.sort(key=lambda e: e["timestamp"])
    ids = [e["session"] for e in opens]
    secs = [unix_seconds(e["timestamp"]) for e in opens]
    assert all(re.fullmatch(r"[0-9a-f]{16}", i) for i in ids)
    assert len(set(ids)) == n
    for i, ts, e in zip(ids, secs, opens):
        # The id's second is the open's (the clock is read twice, so the
        # open may fall just past the turn of the second).
        frac = float("0." + e["timestamp"][20:26])
        assert int(i[:8], 16) == ts or (int(i[:8], 16) == ts - 1 and
                                        frac < 0.05), (i, e["timestamp"])
    assert len(set(secs)) >= 2
    sensors = {i[8:10] for i in ids}
    assert sensors == {"00", "01"}, sensors
    # Text order of the ids is time order, to the second.
    by_id = sorted(zip(ids, secs))
    assert [t for _, t in by_id] == sorted(secs)
    # Within one sensor, exactly the order of opening.
    for sensor in sensors:
        mine = [i for i in ids if i[8:10] == sensor]
        assert mine == sorted(mine)
    # The same in SQLite: ORDER BY session is ORDER BY time.
    rows = d.sql("SELECT timestamp FROM sessions WHERE src_ip LIKE "
                 "'127.0.7.%' ORDER BY session")
    row_secs = [unix_seconds(r[0]) for r in rows]
    assert len(rows) == n and row_secs == sorted(row_secs)
