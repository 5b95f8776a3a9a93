"""The DCERPC interfaces through real clients and real captures: impacket's
rpcdump lists the host's endpoints over 135, the Honeynet attack trace is
one MS04-011 exploit on \\lsarpc with its shellcode analysed, and the benign
DCERPC captures give no exploit event."""
import hashlib
import struct
import subprocess
import sys

from conftest import CORPORA, SUNDEW, needs_corpus

sys.path.insert(0, str(__import__("pathlib").Path(__file__).parent))
import pcapcarve  # noqa: E402

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
