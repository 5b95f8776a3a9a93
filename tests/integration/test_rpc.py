"""The DCERPC interfaces through real clients and real captures: impacket's
rpcdump and lookupsid, nmap's msrpc-enum and smb-vuln-ms08-067 (VULNERABLE,
no exploit event), the Honeynet attack trace as one MS04-011 exploit on
\\lsarpc with its shellcode analysed, MS04-011 and MS03-026 over TCP, and
the benign DCERPC captures with no exploit event."""
import hashlib
import socket
import struct
import subprocess

import pcapcarve
from conftest import CORPORA, SUNDEW, needs_corpus
from test_dcerpc import bind, recv_pdu, request

PCAPS = CORPORA / "pcaps"
HONEYNET = PCAPS / "attack" / "honeynet-fc2010-1_attack-trace.pcap"
DSSETUP = PCAPS / "protocol" / \
    "zeek_smb1-lsarpc-dssetup-bind-DsRoleGetPrimaryDomainInformation.cap"
SYSACT = PCAPS / "protocol" / \
    "zeek_dcerpc-tcp135-ISystemActivator-RemoteCreateInstance.pcapng"
ATTACKER, VICTIM = "98.114.205.102", "192.150.11.111"

RPCDUMP = """
import sys
from impacket.dcerpc.v5 import transport, epm
t = transport.DCERPCTransportFactory('ncacn_ip_tcp:127.0.0.1[135]')
dce = t.get_dce_rpc()
dce.connect()
for e in epm.hept_lookup(None, dce=dce):
    print(epm.PrintStringBinding(e['tower']['Floors']),
          str(e['tower']['Floors'][0]))
dce.disconnect()
"""


def replay(pcap, *args):
    return subprocess.run([str(SUNDEW), "replay", str(pcap), "--to",
                           "127.0.0.1", *args], capture_output=True,
                          text=True, timeout=120)


def test_rpcdump_lists_endpoints(sundew):
    d = sundew()
    r = subprocess.run(["/usr/bin/python3", "-c", RPCDUMP],
                       capture_output=True, text=True, timeout=60)
    d.stop()
    assert r.returncode == 0, r.stdout + r.stderr
    lines = r.stdout.splitlines()
    # What rpcdump.py prints: one string binding an endpoint, 12 of them.
    assert len(lines) == 12, r.stdout
    assert "ncacn_np:\\\\ACCOUNTING-PC3[\\PIPE\\lsass]" in lines[0]
    assert "12345778-1234-ABCD-EF00-0123456789AB" in lines[0].upper()
    assert lines[1].startswith("ncacn_ip_tcp:127.0.0.1[1025]")
    assert sum("ncacn_ip_tcp:127.0.0.1[2103]" in x for x in lines) == 1
    assert sum("ncacn_ip_tcp:127.0.0.1[3372]" in x for x in lines) == 1
    assert sum("[\\PIPE\\srvsvc]" in x for x in lines) == 1
    reqs = d.events("sundew.request", dst_port=135)
    assert [e.get("opnum") for e in reqs if "opnum" in e] == [2]
    assert d.events("sundew.exploit.detected") == []


RPCDUMP_PY = "/usr/share/doc/python3-impacket/examples/rpcdump.py"
LOOKUPSID_PY = "/usr/share/doc/python3-impacket/examples/lookupsid.py"


def test_rpcdump_py(sundew):
    # The example script itself, as a user runs it.
    d = sundew()
    r = subprocess.run(["/usr/bin/python3", RPCDUMP_PY, "127.0.0.1"],
                       capture_output=True, text=True, timeout=60)
    d.stop()
    assert r.returncode == 0, r.stdout + r.stderr
    assert "[*] Received 12 endpoints." in r.stdout, r.stdout
    assert "Protocol: [MS-RPRN]: Print System Remote Protocol" in r.stdout
    assert "Provider: spoolsv.exe" in r.stdout


def test_lookupsid_py(sundew):
    # lsarpc over \\lsarpc: the machine's SID, then its accounts by RID.
    d = sundew()
    r = subprocess.run(["/usr/bin/python3", LOOKUPSID_PY, "-no-pass",
                        "guest@127.0.0.1", "2000"],
                       capture_output=True, text=True, timeout=120)
    d.stop()
    assert r.returncode == 0, r.stdout + r.stderr
    assert "Domain SID is: S-1-5-21-" in r.stdout, r.stdout
    names = [x for x in r.stdout.splitlines() if x[:1].isdigit()]
    assert names == ["500: ACCOUNTING-PC3\\Administrator (SidTypeUser)",
                     "501: ACCOUNTING-PC3\\Guest (SidTypeUser)",
                     "513: ACCOUNTING-PC3\\None (SidTypeGroup)",
                     "1000: ACCOUNTING-PC3\\HelpAssistant (SidTypeUser)",
                     "1002: ACCOUNTING-PC3\\SUPPORT_388945a0 (SidTypeUser)"]


def test_nmap_ms08_067_and_msrpc_enum(sundew):
    # nmap's check compares "\\A...A\\..\\n" with "\\n" through
    # NetPathCompare: an unpatched host says they are the same path.  The
    # check stays within its start: no exploit event.
    d = sundew()
    r = subprocess.run(["nmap", "-Pn", "-p445", "--script",
                        "smb-vuln-ms08-067,msrpc-enum", "127.0.0.1"],
                       capture_output=True, text=True, timeout=300)
    d.stop()
    assert r.returncode == 0, r.stdout + r.stderr
    assert "State: VULNERABLE" in r.stdout, r.stdout
    assert "CVE:CVE-2008-4250" in r.stdout
    assert r.stdout.count("uuid: ") == 12, r.stdout
    assert "ncacn_np: \\PIPE\\lsass" in r.stdout
    assert "tcp_port: 3372" in r.stdout
    calls = [e["opnum"] for e in d.events("sundew.request")
             if e.get("uuid") == "4b324fc8-1670-01d3-1278-5a47bf6ee188"
             and "opnum" in e]
    assert calls == [32]
    assert d.events("sundew.exploit.detected") == []


def lsass_stub():
    """The DsRolerUpgradeDownlevelServer stub the attacker sent, carved from
    the capture's client stream: one SMB write of one whole request PDU."""
    s = pcapcarve.tcp_stream(HONEYNET, ATTACKER, 1828, VICTIM, 445)
    at = s.index(bytes([5, 0, 0, 3, 0x10, 0, 0, 0]))
    frag, = struct.unpack_from("<H", s, at + 8)
    pdu = s[at:at + frag]
    assert struct.unpack_from("<H", pdu, 22)[0] == 9     # opnum
    return pdu[24:]


@needs_corpus(HONEYNET)
def test_honeynet_ms04_011(sundew):
    stub = lsass_stub()
    assert len(stub) == 3208
    d = sundew()
    r = replay(HONEYNET, "--server", VICTIM)
    assert r.returncode == 0, r.stdout + r.stderr
    sc = d.wait_events("sundew.shellcode.detected", dst_port=445,
                       timeout=30)
    d.wait_events("sundew.file.stored", kind="hexdump", dst_port=445)
    d.stop()
    ex = d.events("sundew.exploit.detected")
    assert len(ex) == 1, ex
    e = ex[0]
    assert (e["vuln"], e["cve"], e["uuid"], e["opnum"], e["pipe"],
            e["dst_port"]) == ("MS04-011", "CVE-2003-0533",
                               "3919286a-b10c-11d0-9ba8-00c04fd92ef5", 9,
                               "\\lsarpc", 445)
    assert len(sc) == 1 and sc[0]["session"] == e["session"]
    assert {"action": "bind_shell", "port": 1957} in [
        {k: a[k] for k in ("action", "port")} for a in sc[0]["actions"]]
    # The stub the analyser got, kept whole: the carved stub's sha256.
    kept = d.events("sundew.file.stored", kind="hexdump",
                    session=e["session"])
    assert [k["sha256"] for k in kept] == [hashlib.sha256(stub).hexdigest()]


@needs_corpus(HONEYNET)
def test_ms04_011_over_tcp(sundew):
    # The same call over ncacn_ip_tcp, to 135 and to 1025: no pipe.
    stub = lsass_stub()
    d = sundew()
    for port in (135, 1025):
        s = socket.create_connection(("127.0.0.1", port))
        s.sendall(bind("3919286a-b10c-11d0-9ba8-00c04fd92ef5", 0))
        assert recv_pdu(s)[0] == 12
        s.sendall(request(9, stub))
        ptype, resp = recv_pdu(s)
        assert ptype == 2
        s.close()
    d.wait_events("sundew.exploit.detected", count=2)
    d.stop()
    ex = sorted(d.events("sundew.exploit.detected"),
                key=lambda e: e["dst_port"])
    assert [(e["vuln"], e["opnum"], e["dst_port"], "pipe" in e)
            for e in ex] == [("MS04-011", 9, 135, False),
                             ("MS04-011", 9, 1025, False)]


def blaster_stub(server):
    """RemoteActivation as the LSD exploit builds it: ORPCTHIS, a nil
    CLSID, the object name "\\\\<server>\\", one interface."""
    name = "\\\\".encode("utf-16le") + server + "\\\0".encode("utf-16le")
    n = len(name) // 2
    stub = struct.pack("<HHII", 5, 1, 0, 0) + b"\x11" * 16 + \
        struct.pack("<I", 0) + b"\0" * 16 + \
        struct.pack("<IIII", 0x20000, n, 0, n) + name
    stub += b"\0" * (-len(stub) % 4)
    return stub + struct.pack("<IIIIII", 0, 2, 0, 1, 0x20004, 1) + \
        b"\0" * 16 + struct.pack("<HHIH", 1, 0, 1, 7)


def test_ms03_026_over_tcp(sundew):
    d = sundew()
    for server in (b"\x90" * 400, "ACCOUNTING-PC3".encode("utf-16le")):
        s = socket.create_connection(("127.0.0.1", 135))
        s.sendall(bind("4d9f4ab8-7d1c-11cf-861e-0020af6e7c57", 0))
        assert recv_pdu(s)[0] == 12
        s.sendall(request(0, blaster_stub(server)))
        ptype, resp = recv_pdu(s)
        assert ptype == 2
        # phr: REGDB_E_CLASSNOTREG, as for a class the host has not.
        assert struct.unpack_from("<I", resp, 24 + 44)[0] == 0x80040154
        s.close()
    d.wait_events("sundew.connection.close", count=2)
    d.stop()
    ex = d.events("sundew.exploit.detected")
    assert [(e["vuln"], e["cve"], e["opnum"], e["dst_port"]) for e in ex] \
        == [("MS03-026", "CVE-2003-0352", 0, 135)]
    assert "200 characters" in ex[0]["detail"]


@needs_corpus(DSSETUP)
def test_benign_dssetup_capture(sundew):
    d = sundew()
    r = replay(DSSETUP)
    assert r.returncode == 0, r.stdout + r.stderr
    reqs = d.wait_events("sundew.request", opnum=0)
    d.stop()
    assert reqs[0]["uuid"] == "3919286a-b10c-11d0-9ba8-00c04fd92ef5"
    assert d.events("sundew.exploit.detected") == []


@needs_corpus(SYSACT)
def test_benign_remote_create_instance(sundew):
    d = sundew()
    r = replay(SYSACT)
    assert r.returncode == 0, r.stdout + r.stderr
    reqs = d.wait_events("sundew.request", opnum=4, dst_port=135)
    d.stop()
    assert reqs[0]["uuid"] == "000001a0-0000-0000-c000-000000000046"
    assert d.events("sundew.exploit.detected") == []
