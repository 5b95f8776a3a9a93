"""Session caps and time-outs: each cap gives a limit.hit event, never a crash."""
import hashlib
import os
import re
import resource
import time

import pytest

from conftest import GENERIC_PORT, closed_by_peer, connect, wait_for


def test_per_source_cap(sundew):
    d = sundew(["limits.per_source=3"])
    held = [connect(GENERIC_PORT) for _ in range(3)]
    d.wait_events("sundew.connection.open", count=4)   # + the probe
    extra = connect(GENERIC_PORT)
    # The fourth is accepted by the kernel, then closed by the sensor.
    extra.settimeout(5)
    assert extra.recv(1) == b""
    hit = d.wait_events("sundew.limit.hit", limit="per_source")[0]
    assert hit["src_ip"] == "127.0.0.1" and hit["dst_port"] == GENERIC_PORT
    # Another source is not affected.
    other = connect(GENERIC_PORT, src="127.0.0.9")
    other.sendall(b"other source")
    other.close()
    d.wait_events("sundew.request", data="other source")
    for s in held:
        s.close()
    # Once they are closed, the source may connect again.
    wait_for(lambda: len(d.events("sundew.connection.close")) >= 5, 10)
    again = connect(GENERIC_PORT)
    again.sendall(b"again")
    again.close()
    d.wait_events("sundew.request", data="again")
    d.stop()


def test_global_cap(sundew):
    d = sundew(["limits.max_connections=5", "limits.per_source=0"])
    held = [connect(GENERIC_PORT, src=f"127.0.0.{10 + i}") for i in range(5)]
    d.wait_events("sundew.connection.open", count=6)
    extra = connect(GENERIC_PORT, src="127.0.0.99")
    extra.settimeout(5)
    assert extra.recv(1) == b""
    d.wait_events("sundew.limit.hit", limit="max_connections")
    for s in held:
        s.close()
    d.stop()


# The time-outs are checked to the second: the time sundew takes to see
# one has passed, on a busy machine, is well under it.
SLACK = 1.0


def test_idle_timeout(sundew):
    idle = 2
    d = sundew([f"limits.idle_timeout={idle}s"])
    s = connect(GENERIC_PORT)
    t0 = time.monotonic()
    port = s.getsockname()[1]
    assert closed_by_peer(s, idle + SLACK + 2), "not closed"
    # The sensor's clock started after the client's (at accept).
    assert idle - 0.05 <= time.monotonic() - t0 <= idle + SLACK
    ev = d.wait_events("sundew.connection.close", src_port=port)[0]
    assert ev["reason"] == "idle_timeout" and ev["dst_port"] == GENERIC_PORT
    assert idle * 1000 <= ev["duration_ms"] <= (idle + SLACK) * 1000
    d.stop()


def test_input_restarts_the_idle_timeout(sundew):
    """A byte a second, for longer than the idle timeout, keeps the session;
    the timeout then runs from the last byte."""
    idle = 2
    d = sundew([f"limits.idle_timeout={idle}s", "limits.session_timeout=60s"])
    s = connect(GENERIC_PORT)
    port = s.getsockname()[1]
    for i in range(5):
        s.sendall(b"%d" % i)
        last = time.monotonic()
        assert not closed_by_peer(s, 1.0), f"closed after {i + 1} s of input"
    assert closed_by_peer(s, idle + SLACK + 2), "not closed"
    assert idle - 0.05 <= time.monotonic() - last <= idle + SLACK
    ev = d.wait_events("sundew.connection.close", src_port=port)[0]
    assert ev["reason"] == "idle_timeout" and ev["bytes_in"] == 5
    d.stop()


def test_session_timeout(sundew):
    limit = 2
    d = sundew([f"limits.session_timeout={limit}s", "limits.idle_timeout=10s"])
    s = connect(GENERIC_PORT)
    t0 = time.monotonic()
    port = s.getsockname()[1]
    # Input every 0.2 s: the session is never idle, and sundew sees it
    # has lived too long at the first input after the limit.
    while not closed_by_peer(s, 0.2):
        assert time.monotonic() - t0 < limit + SLACK + 2, "not closed"
        s.sendall(b"trickle ")
    assert limit - 0.05 <= time.monotonic() - t0 <= limit + SLACK
    hits = d.wait_events("sundew.limit.hit", src_port=port)
    assert [h["limit"] for h in hits] == ["session_timeout"]
    ev = d.wait_events("sundew.connection.close", src_port=port)[0]
    assert ev["reason"] == "session_timeout"
    assert limit * 1000 <= ev["duration_ms"] <= (limit + SLACK) * 1000
    d.stop()


def send_past_the_cap(s, payload):
    """Sends payload, which is over the session's input cap: sundew may
    close the connection before it has all gone out, nothing else."""
    try:
        s.sendall(payload)
    except (BrokenPipeError, ConnectionResetError):
        pass
    assert closed_by_peer(s, 10), "not closed at the input cap"


def assert_capped(d, port, payload, cap):
    """The session of port ended at the cap, with the first cap bytes of
    payload kept as its hexdump."""
    hits = d.wait_events("sundew.limit.hit", src_port=port)
    assert [h["limit"] for h in hits] == ["max_input"]
    close = d.wait_events("sundew.connection.close", src_port=port)[0]
    assert close["reason"] == "max_input"
    assert cap < close["bytes_in"] <= len(payload)
    kept = payload[:cap]
    digest = hashlib.sha256(kept).hexdigest()
    ev = d.wait_events("sundew.file.stored", src_port=port)[0]
    assert ev["size"] == cap and ev["sha256"] == digest
    assert (d.data / "hexdumps" / f"{digest}.bin").read_bytes() == kept


def test_input_cap_keeps_what_fits(sundew):
    d = sundew(["limits.max_input=1000"])
    payload = bytes(range(256)) * 20
    s = connect(GENERIC_PORT)
    port = s.getsockname()[1]
    send_past_the_cap(s, payload)
    assert_capped(d, port, payload, 1000)
    d.stop()


def test_default_input_cap_is_4_mib(sundew):
    """The built-in default (no configuration file, no override)."""
    d = sundew()
    cap = 4 * 1024 * 1024
    payload = os.urandom(cap + 256 * 1024)
    s = connect(GENERIC_PORT)
    port = s.getsockname()[1]
    send_past_the_cap(s, payload)
    assert_capped(d, port, payload, cap)
    d.stop()


def test_extra_sensors_take_connections_as_the_first_fill(sundew):
    """When the open-file limit makes more sensors than CPUs, new
    connections go to as many sensors as CPUs, and on to the others as
    those fill (80% of what one may hold)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    ncpu = os.cpu_count() or 1
    nofile = 5200
    if hard < ncpu * nofile:
        pytest.skip(f"needs an open-file limit of {ncpu * nofile}")
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    d = sundew(["limits.per_source=0", f"limits.nofile={nofile}",
                f"limits.max_connections={(ncpu + 2) * 5000}"])
    pids = d.sensors()
    assert len(pids) > ncpu, d.log_text()
    base = {p: len(os.listdir(f"/proc/{p}/fd")) for p in pids}
    # What one sensor may hold: the limit less its listeners and 64.
    sockets = int(re.search(r"(\d+) sockets", d.log_text()).group(1))
    per = nofile - sockets - 64

    def held():
        return [len(os.listdir(f"/proc/{p}/fd")) - base[p] for p in pids]

    conns = [connect(GENERIC_PORT, src=f"127.0.1.{1 + i % 250}")
             for i in range(100)]
    wait_for(lambda: sum(held()) == 100, 10, "100 connections held")
    assert len([h for h in held() if h > 0]) <= ncpu, held()
    # Past 80% of a sensor's share, the next sensors take the rest.
    for i in range(ncpu * per * 9 // 10):
        conns.append(connect(GENERIC_PORT,
                             src=f"127.0.{2 + i // 250}.{1 + i % 250}"))
        if i % 200 == 0:
            time.sleep(0.02)
    wait_for(lambda: sum(held()) == len(conns), 10, f"{len(conns)} held")
    assert len([h for h in held() if h > 0]) > ncpu, held()
    assert max(held()) <= per, (held(), per)
    assert "new connections go to sensors" in d.log_text()
    for s in conns:
        s.close()
    d.stop()
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_out_of_file_descriptors(sundew):
    """A sensor that runs out of file descriptors says so (a log line and
    a limit.hit event), keeps the sessions it has, and accepts again once
    some have ended."""
    d = sundew(["sensors=1", "limits.nofile=300", "limits.per_source=0",
                "limits.max_connections=100000"])
    conns = [connect(GENERIC_PORT, src=f"127.0.3.{1 + i % 250}")
             for i in range(600)]
    wait_for(lambda: "Too many open files" in d.log_text(), 10,
             "the sensor's warning")
    assert len(d.sensors()) == 1, d.log_text()
    hit = d.wait_events("sundew.limit.hit", limit="nofile")[0]
    assert hit["dst_port"] == GENERIC_PORT and hit["transport"] == "tcp"
    assert "session" not in hit and "src_ip" not in hit
    for s in conns:
        s.close()
    # Every connection the sensor took, and those that waited in the
    # accept queue meanwhile, is a session with its close event.
    wait_for(lambda: len(d.events("sundew.connection.close")) >= 601, 20,
             "601 close events")
    after = connect(GENERIC_PORT, src="127.0.4.1")
    after.sendall(b"after the shortage")
    after.close()
    d.wait_events("sundew.request", data="after the shortage")
    d.stop()
    # Exactly: the probe, the 600 and the one after, each open and closed.
    for eventid in ("sundew.connection.open", "sundew.connection.close"):
        assert len(d.events(eventid)) == 602, eventid


def smb1_echo(data, count=8, mid=1):
    """An SMB1 ECHO request in its NBSS frame: count answers of data."""
    import struct
    hdr = b"\xffSMB" + bytes([0x2b]) + b"\0" * 4 + bytes([0x18]) + \
        struct.pack("<H", 0xc801) + b"\0" * 12 + struct.pack("<HHHH", 0, 1, 0, mid)
    msg = hdr + bytes([1]) + struct.pack("<H", count) + \
        struct.pack("<H", len(data)) + data
    return struct.pack(">I", len(msg)) + msg


def test_output_to_a_peer_that_does_not_read_is_capped(sundew):
    """A client that asks for answers and never reads them (SMB1 ECHO
    repeats its data eight times) cannot make the sensor queue without
    end: past 1 MiB queued the session ends ("output") with one
    limit.hit; the next session is answered."""
    import socket
    d = sundew()
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.bind(("127.0.0.9", 0))
    s.connect(("127.0.0.1", 445))
    s.settimeout(10)
    sent = 0
    try:
        for mid in range(1, 200):      # up to 200 * 480 KB of answers
            s.sendall(smb1_echo(b"A" * 60000, mid=mid))
            sent += 1
    except OSError:
        pass
    close = d.wait_events("sundew.connection.close", src_ip="127.0.0.9",
                          timeout=20)
    assert [c["reason"] for c in close] == ["output"]
    hits = d.events("sundew.limit.hit", src_ip="127.0.0.9")
    assert [h["limit"] for h in hits] == ["output"]
    s.close()
    t = connect(445, src="127.0.0.10")
    t.sendall(smb1_echo(b"hello", count=1))
    t.settimeout(5)
    answer = t.recv(4)
    assert len(answer) == 4
    t.close()
