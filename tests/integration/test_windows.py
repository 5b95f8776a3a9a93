"""The one Windows host that the emulators present, as a scanner sees it
from outside: the IP TTL of its packets, and (with nmap's smb-* scripts)
one story of names, version and time."""
import os
import socket
import struct
import time

import pytest

from conftest import GENERIC_PORT, connect, wait_for

pytestmark = pytest.mark.skipif(os.geteuid() != 0,
                                reason="the daemon binds ports below 1024: run as root")

ETH_P_ALL = 0x0003


def ttls_from(port, family, act):
    """The TTL (hop limit) of every packet sent from local TCP port `port`
    on the loopback while act() runs, read with a packet socket."""
    sniff = socket.socket(socket.AF_PACKET, socket.SOCK_RAW,
                          socket.htons(ETH_P_ALL))
    sniff.bind(("lo", 0))
    sniff.settimeout(0.2)
    act()
    seen = []
    end = time.monotonic() + 2
    while time.monotonic() < end:
        try:
            frame = sniff.recv(65535)
        except socket.timeout:
            break
        ip = frame[14:]
        if family == socket.AF_INET and ip[:1] and ip[0] >> 4 == 4:
            ihl = (ip[0] & 15) * 4
            if ip[9] == 6 and struct.unpack("!H", ip[ihl:ihl + 2])[0] == port:
                seen.append(ip[8])
        elif family == socket.AF_INET6 and ip[:1] and ip[0] >> 4 == 6:
            if ip[6] == 6 and struct.unpack("!H", ip[40:42])[0] == port:
                seen.append(ip[7])
    sniff.close()
    return seen


def probe(host):
    try:
        connect(GENERIC_PORT, host=host, timeout=1).close()
        return True
    except OSError:
        return False


@pytest.mark.parametrize("family,host", [(socket.AF_INET, "127.0.0.1"),
                                         (socket.AF_INET6, "::1")])
def test_packets_carry_the_windows_ttl(sundew, family, host):
    """Windows sends with a TTL of 128 (Linux: 64): every packet of a
    session, from the SYN-ACK on, says so."""
    sundew([f"listen.address={host}"], ready=False)
    wait_for(lambda: probe(host), 15, "sundew to accept on " + host)

    def session():
        s = connect(GENERIC_PORT, host=host)
        s.sendall(b"hello")
        time.sleep(0.3)
        s.close()
        time.sleep(0.3)

    ttls = ttls_from(GENERIC_PORT, family, session)
    assert len(ttls) >= 3, ttls       # SYN-ACK, ACK of the data, FIN
    assert set(ttls) == {128}, ttls
