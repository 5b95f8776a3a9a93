"""`sundew replay` plays real attack captures against a running sensor."""
import subprocess

from conftest import CORPORA, SUNDEW, needs_corpus

PCAPS = CORPORA / "pcaps"


def replay(pcap, *args):
    return subprocess.run([str(SUNDEW), "replay", str(pcap), "--to", "127.0.0.1",
                           *args], capture_output=True, text=True, timeout=120)


@needs_corpus(PCAPS)
def test_honeynet_lsass_attack(sundew):
    # The exploit's two connections to 445, then the bind shell on 1957
    # that its shellcode opened (test_capture.py follows the story to
    # the stored file).  445 speaks SMB: the exploit goes through its
    # session to \\lsarpc, where DSSETUP's opnum 9 is recognised.
    d = sundew()
    r = replay(PCAPS / "attack" / "honeynet-fc2010-1_attack-trace.pcap",
               "--retry", "2")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "-> 445" in r.stdout and "-> 1957" in r.stdout
    assert "summary: 3 played, 0 failed, 2 skipped" in r.stdout, r.stdout
    d.wait_events("sundew.connection.close", 2, dst_port=445)
    d.wait_events("sundew.shellcode.detected", dst_port=445)
    d.stop()
    ex = d.events("sundew.exploit.detected", dst_port=445)
    assert [(e["vuln"], e["opnum"], e["pipe"]) for e in ex] == \
        [("MS04-011", 9, "\\lsarpc")]
    sc = d.events("sundew.shellcode.detected", dst_port=445)
    assert len(sc) == 1 and "xor" in sc[0]["decoders"]
    assert sc[0]["session"] == ex[0]["session"]
    # The first connection sends nothing; the second is a whole session.
    closes = d.events("sundew.connection.close", dst_port=445)
    assert sorted(e["bytes_in"] for e in closes)[0] == 0
    assert {e["reason"] for e in closes} == {"peer_closed"}
    smb = d.events("sundew.request", dst_port=445)[0]
    assert smb["service"] == "smb" and smb["command"] == "negotiate"


@needs_corpus(PCAPS)
def test_blaster_shell_session(sundew):
    d = sundew(["services.sub7.ports=[27347,4444]"])
    r = replay(PCAPS / "attack" / "ppa_blaster-remote-shell-4444.pcap")
    assert r.returncode == 0, r.stdout + r.stderr
    reqs = d.wait_events("sundew.request", dst_port=4444)
    assert reqs[0]["data"].startswith("start msblast.exe")
    d.stop()


@needs_corpus(PCAPS)
def test_tftp_write_request_datagrams(sundew):
    d = sundew()
    r = replay(PCAPS / "protocol" / "sv_tftp-wrq-octet.pcap")
    assert r.returncode == 0, r.stdout + r.stderr
    reqs = d.wait_events("sundew.request", dst_port=69)
    assert reqs[0]["transport"] == "udp"
    assert "rfc1350.txt" in reqs[0]["data"]
    d.stop()


def test_bad_capture_is_an_error(tmp_path):
    bad = tmp_path / "bad.pcap"
    bad.write_bytes(b"\xd4\xc3\xb2\xa1" + b"\x00" * 7)
    r = replay(bad)
    assert r.returncode == 2
    assert str(bad) in r.stderr
