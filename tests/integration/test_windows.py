"""The one Windows host that the emulators present, as a scanner sees it
from outside: the IP TTL of its packets, and (with nmap's smb-* scripts)
one story of names, version and time."""
import calendar
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


NMAP_SCRIPTS = ("smb-protocols,smb-os-discovery,smb-security-mode,"
                "smb2-capabilities,smb2-time,smb-vuln-ms08-067,"
                "smb-vuln-ms17-010,msrpc-enum")


def nmap_scripts(ports):
    """nmap's Windows scripts against the loopback: {script id: output}
    of the host and of each port, from its XML report."""
    import xml.etree.ElementTree as ET
    import subprocess
    out = subprocess.run(
        ["nmap", "-n", "-Pn", "-sT", "-p", ports, "--script", NMAP_SCRIPTS,
         "--script-timeout", "60s", "-oX", "-", "127.0.0.1"],
        capture_output=True, timeout=300, check=True).stdout
    root = ET.fromstring(out)
    found = {}
    for script in root.iter("script"):
        found[script.get("id")] = script.get("output")
    return found


def test_nmap_sees_one_unpatched_windows_host(sundew):
    """nmap's SMB and MSRPC scripts run to completion and tell one story:
    the configured name, workgroup and OS, SMB2 time that agrees with the
    clock, and MS08-067 and MS17-010 open."""
    d = sundew(["host.name=PAYROLL-7", "host.domain=FINANCE"])
    before = time.time()
    found = nmap_scripts("135,139,445")
    after = time.time()
    for script in NMAP_SCRIPTS.split(","):
        assert script in found, (script, sorted(found))
    # As nmap reports a real XP (the NUL is XP's own, in its negotiate).
    osd = [l.strip() for l in found["smb-os-discovery"].splitlines()]
    assert osd[:6] == [
        "", "OS: Windows XP (Windows 2000 LAN Manager)",
        "OS CPE: cpe:/o:microsoft:windows_xp::-",
        "Computer name: payroll-7",
        "NetBIOS computer name: PAYROLL-7\\x00",
        "Workgroup: FINANCE\\x00"], osd
    assert osd[6].startswith("System time: ") and len(osd) == 7, osd
    assert "VULNERABLE" in found["smb-vuln-ms08-067"], found["smb-vuln-ms08-067"]
    assert "VULNERABLE" in found["smb-vuln-ms17-010"], found["smb-vuln-ms17-010"]
    assert "message_signing: disabled" in found["smb-security-mode"]
    # XP spoke no SMB2; the host offers 2.0.2 only, which smbclient needs.
    assert [l.strip() for l in found["smb-protocols"].splitlines()] == [
        "", "dialects:", "NT LM 0.12 (SMBv1) [dangerous, but default]",
        "202"], found["smb-protocols"]
    # smb2-time: "date: 2026-12-02T08:01:02" within the run
    import re
    m = re.search(r"date: (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)", found["smb2-time"])
    assert m, found["smb2-time"]
    t = calendar.timegm(time.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S"))
    assert before - 2 <= t <= after + 2, (m.group(1), before, after)
    assert "12345778-1234-abcd-ef00-0123456789ab" in found["msrpc-enum"] or \
        "lsarpc" in found["msrpc-enum"].lower(), found["msrpc-enum"]
    d.stop()
    assert d.events("sundew.exploit.detected") == []


IMPACKET_EXAMPLES = "/usr/share/doc/python3-impacket/examples"


def test_impacket_smbclient_logs_in_and_lists_shares(sundew, tmp_path):
    """impacket's smbclient.py, as an operator runs it: logs in with a
    password, lists the host's shares and their remarks, and the login
    is one sundew.login.attempt with the names it gave."""
    import subprocess
    d = sundew()
    cmds = tmp_path / "cmds"
    cmds.write_text("shares\nexit\n")
    r = subprocess.run(
        ["/usr/bin/python3", f"{IMPACKET_EXAMPLES}/smbclient.py", "-file",
         str(cmds), "CORP/alice:Winter2026@127.0.0.1"],
        capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    shares = [l.strip() for l in r.stdout.splitlines()
              if l.strip() in ("IPC$", "ADMIN$", "C$", "SharedDocs")]
    assert sorted(shares) == ["ADMIN$", "C$", "IPC$", "SharedDocs"], r.stdout
    logins = d.wait_events("sundew.login.attempt", src_ip="127.0.0.1",
                           username="alice")
    assert [(l["domain"], l["success"]) for l in logins] == [("CORP", True)]
