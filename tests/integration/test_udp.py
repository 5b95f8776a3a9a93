"""Every datagram sent is accounted for: logged as a request, counted as a
udp_rate hit (its own event, or in the `suppressed` count of a summary),
or reported as dropped by the kernel (`udp_queue`), however hard the
ports are flooded."""
import pathlib
import random
import socket
import time

from conftest import wait_for

PORTS = (69, 1434)
N = 20000
SENDERS = 16


def rx_queued():
    """Bytes waiting in the receive queues of the sockets on PORTS."""
    total = 0
    for name in ("udp", "udp6"):
        for line in pathlib.Path(f"/proc/net/{name}").read_text().splitlines()[1:]:
            f = line.split()
            if int(f[1].rsplit(":", 1)[1], 16) in PORTS:
                total += int(f[4].split(":")[1], 16)
    return total


def accounted(d, srcs):
    """(logged, udp_rate hits, kernel drops) from the events so far."""
    logged = rate = dropped = 0
    for e in d.events():
        if e["eventid"] == "sundew.request":
            if e.get("transport") == "udp" and e.get("src_port") in srcs:
                logged += 1
        elif e["eventid"] == "sundew.limit.hit":
            if e["limit"] == "udp_rate":
                # A summary stands for its count, any other for one hit.
                rate += e.get("suppressed", 1)
            elif e["limit"] == "udp_queue":
                dropped += e["suppressed"]
    return logged, rate, dropped


def flood(sundew):
    """A daemon and N datagrams sent to it as fast as they go; returns
    both once the sensor has read all that the kernel kept."""
    # One sensor and no SQLite: fewer requests within udp_rate, and a
    # store that writes them faster; the same payloads again and again.
    d = sundew(["sensors=1", "output.sqlite.enabled=false"])
    rnd = random.Random(1434)
    payloads = [rnd.randbytes(rnd.randint(1, 1400)) for _ in range(64)]
    socks = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
             for _ in range(SENDERS)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    srcs = {s.getsockname()[1] for s in socks}
    for i in range(N):
        socks[i % SENDERS].sendto(payloads[i % len(payloads)],
                                  ("127.0.0.1", PORTS[i % 2]))
    for s in socks:
        s.close()
    time.sleep(0.2)     # what loopback has yet to hand over
    wait_for(lambda: rx_queued() == 0, 30, "the receive queues to drain")
    return d, srcs


def test_every_datagram_is_accounted_for(sundew):
    d, srcs = flood(sundew)
    # The summaries go out within a second, without waiting for a stop.
    end = time.monotonic() + 15
    while sum(accounted(d, srcs)) < N and time.monotonic() < end:
        time.sleep(0.5)
    got = accounted(d, srcs)
    assert sum(got) == N, got
    logged, rate, dropped = got
    assert logged > 0 and rate > 0
    d.stop()
    assert accounted(d, srcs) == got


def test_a_stop_sends_what_was_left_out(sundew):
    """Stopped at once, the sensor sends its summaries before it goes."""
    d, srcs = flood(sundew)
    d.stop()
    got = accounted(d, srcs)
    assert sum(got) == N, got
