"""`sundew replay` plays real attack captures against a running sensor."""
import subprocess

from conftest import CORPORA, SUNDEW, needs_corpus

XOR_DECODER = bytes.fromhex("eb105a4a33c966b97d0180340a99e2fa")
PCAPS = CORPORA / "pcaps"


def replay(pcap, *args):
    return subprocess.run([str(SUNDEW), "replay", str(pcap), "--to", "127.0.0.1",
                           *args], capture_output=True, text=True, timeout=120)


def hexdumps(d):
    return {p.name: p.read_bytes() for p in (d.data / "hexdumps").glob("*.bin")}


@needs_corpus(PCAPS)
def test_honeynet_lsass_attack(sundew):
    # The exploit's two connections to 445, then the bind shell on 1957
    # that its shellcode opened (test_capture.py follows the story to
    # the stored file).
    d = sundew()
    r = replay(PCAPS / "attack" / "honeynet-fc2010-1_attack-trace.pcap",
               "--retry", "2")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "-> 445" in r.stdout and "-> 1957" in r.stdout
    assert "summary: 3 played, 0 failed, 2 skipped" in r.stdout, r.stdout
    d.wait_events("sundew.file.stored", dst_port=445)
    d.stop()
    # The first connection sends nothing; the second, the exploit.
    assert len(d.events("sundew.file.stored", dst_port=445)) == 1
    dumps = hexdumps(d)
    assert any(XOR_DECODER in b for b in dumps.values())
    smb = d.events("sundew.request", dst_port=445)[0]
    assert smb["service"] == "smb"
    # The NetBIOS session request of the exploit is the first thing sent.
    assert smb["data"].encode("latin-1")[:1] == b"\x00"


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
