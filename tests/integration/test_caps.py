"""The per-source cap counts each source address exactly, however many
sources there are: a source is refused only when it holds the cap itself."""
import os
import socket
import time

from conftest import GENERIC_PORT, connect, wait_for

SOURCES = 400
PER_SOURCE = 50
WORKERS = 2             # a process may hold fewer than 20,000 files here


def source(i):
    return f"127.0.{1 + i // 250}.{1 + i % 250}"


def hold(first, count, ready_w, stop_r):
    """In a child: PER_SOURCE connections from each of count sources, held
    until told; writes 'ok' (each still open) or what went wrong."""
    try:
        socks = []
        for i in range(first, first + count):
            for _ in range(PER_SOURCE):
                socks.append(connect(GENERIC_PORT, src=source(i), timeout=20))
        # A refused one is closed by the sensor: give it the time to be.
        time.sleep(1)
        closed = 0
        for s in socks:
            s.setblocking(False)
            try:
                if s.recv(1) == b"":
                    closed += 1
            except BlockingIOError:
                pass
        os.write(ready_w, b"ok" if closed == 0 else f"{closed} closed".encode())
        os.read(stop_r, 1)
        for s in socks:
            s.close()
    except BaseException as e:      # noqa: BLE001 (reported to the parent)
        os.write(ready_w, repr(e).encode()[:200])
    os._exit(0)


def opens_from(d, srcs):
    return [e for e in d.events("sundew.connection.open") if e["src_ip"] in srcs]


def test_per_source_cap_is_exact_for_400_sources(sundew):
    d = sundew(["limits.per_source=64"])
    srcs = {source(i) for i in range(SOURCES)}
    ready_r, ready_w = os.pipe()
    stop_r, stop_w = os.pipe()
    pids = []
    share = SOURCES // WORKERS
    for w in range(WORKERS):
        pid = os.fork()
        if pid == 0:
            hold(w * share, share, ready_w, stop_r)
        pids.append(pid)
    try:
        for _ in range(WORKERS):
            msg = os.read(ready_r, 200)
            assert msg == b"ok", msg
        total = SOURCES * PER_SOURCE
        wait_for(lambda: len(opens_from(d, srcs)) >= total, 30,
                 f"{total} open events")
        assert len(opens_from(d, srcs)) == total
        assert d.events("sundew.limit.hit") == []

        # While they are held, one more source: 64 in, the 65th refused.
        one = "127.1.0.1"
        socks = [connect(GENERIC_PORT, src=one) for _ in range(65)]
        hit = d.wait_events("sundew.limit.hit", src_ip=one)
        time.sleep(0.5)
        refused = 0
        for s in socks:
            s.setblocking(False)
            try:
                if s.recv(1) == b"":
                    refused += 1
            except BlockingIOError:
                pass
        assert refused == 1
        assert len(opens_from(d, {one})) == 64
        hits = d.events("sundew.limit.hit")
        assert len(hits) == 1 and hit[0]["limit"] == "per_source", hits
        assert "suppressed" not in hits[0]
        for s in socks:
            s.close()
    finally:
        os.write(stop_w, b"x" * WORKERS)
        for pid in pids:
            os.waitpid(pid, 0)
    d.stop()
