"""Session caps and time-outs: each cap gives a limit.hit event, never a crash."""
import hashlib
import os
import re
import resource
import socket
import time

import pytest

from conftest import GENERIC_PORT, connect, wait_for


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


def test_idle_timeout(sundew):
    d = sundew(["limits.idle_timeout=1s"])
    s = connect(GENERIC_PORT)
    t0 = time.monotonic()
    s.settimeout(10)
    assert s.recv(1) == b""
    assert 0.5 < time.monotonic() - t0 < 5
    ev = d.wait_events("sundew.connection.close", reason="idle_timeout")[0]
    assert ev["dst_port"] == GENERIC_PORT
    d.stop()


def test_session_timeout(sundew):
    d = sundew(["limits.session_timeout=2s", "limits.idle_timeout=10s"])
    s = connect(GENERIC_PORT)
    end = time.monotonic() + 8
    closed = False
    while time.monotonic() < end:
        try:
            s.sendall(b"trickle ")
        except OSError:
            closed = True
            break
        time.sleep(0.3)
    d.wait_events("sundew.limit.hit", limit="session_timeout")
    d.wait_events("sundew.connection.close", reason="session_timeout")
    d.stop()


def test_input_cap_keeps_what_fits(sundew):
    d = sundew(["limits.max_input=1000"])
    payload = b"A" * 5000
    s = connect(GENERIC_PORT)
    try:
        s.sendall(payload)
        s.settimeout(5)
        s.recv(1)
    except OSError:
        pass
    s.close()
    d.wait_events("sundew.limit.hit", limit="max_input")
    ev = d.wait_events("sundew.file.stored")[0]
    assert ev["size"] == 1000
    assert ev["sha256"] == hashlib.sha256(payload[:1000]).hexdigest()
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
