"""SMB2/3 on 445 (issue 10) against a running sensor: smbclient and
impacket list the shares over the dialect the configured Windows version
speaks, a large WRITE is stored whole with memory capped, and the SMB2
captures of shared/corpora replay without a protocol error."""
import hashlib
import io
import subprocess

import pytest
from impacket.smb3structs import SMB2_DIALECT_311
from impacket.smbconnection import SMBConnection

from conftest import CORPORA, SUNDEW, needs_corpus, sample, wait_for

PCAPS = CORPORA / "pcaps"
SHARES = {"IPC$", "ADMIN$", "C$", "SharedDocs"}


def replay(pcap, *args):
    return subprocess.run([str(SUNDEW), "replay", str(pcap), "--to",
                           "127.0.0.1", *args],
                          capture_output=True, text=True, timeout=120)


def smbclient_list(*args):
    return subprocess.run(["smbclient", "-L", "//127.0.0.1", "-N", *args],
                          capture_output=True, text=True, timeout=60)


def listed(out):
    """The share names of smbclient -L's table."""
    names = set()
    for line in out.splitlines():
        f = line.split()
        if len(f) >= 2 and f[1] in ("Disk", "IPC", "Printer"):
            names.add(f[0])
    return names


def negotiated(d):
    """The dialects of the negotiate request events, in order."""
    return [e.get("dialect") for e in d.events("sundew.request",
                                               command="negotiate")]


def closes(d):
    return d.events("sundew.connection.close", dst_port=445)


def sensors_hwm(d):
    """The sensors' peak resident memory together, in KiB."""
    total = 0
    for pid in d.sensors():
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    total += int(line.split()[1])
    return total


@pytest.mark.parametrize("version,dialect,signing", [
    (None, "2.0.2", False),         # the default host: XP, as the lead set it
    (None, "2.0.2", True),          # HMAC-SHA256
    ("6.3.9600", "3.0.2", True),    # Windows 2012 R2: AES-CMAC
    ("10.0.14393", "3.1.1", False),     # Windows Server 2016
    ("10.0.14393", "3.1.1", True),      # ... the key over the preauth hash
])
def test_smbclient_lists_shares(sundew, version, dialect, signing):
    # smbclient -N logs in as the Unix user without an NT response: a
    # guest, whose answers are signed (the key is one the host can know)
    # when the client requires it.
    d = sundew([f"host.version={version}"] if version else [])
    r = smbclient_list(*(["--option=client signing=required"]
                         if signing else []))
    assert r.returncode == 0, r.stdout + r.stderr
    assert listed(r.stdout) == SHARES, r.stdout
    wait_for(lambda: closes(d), 10, "the session's close")
    d.stop()
    assert negotiated(d) == [dialect]
    assert [e["reason"] for e in closes(d)] == ["peer_closed"]
    # One login: an answer the client cannot verify would end it.
    logins = d.events("sundew.login.attempt", dst_port=445)
    assert [(e["nt_response"], e["success"]) for e in logins] == [("", True)]
    assert logins[0]["username"] != ""
    # The share list came through srvsvc over the \srvsvc pipe.
    creates = d.events("sundew.request", command="create")
    assert [e["name"] for e in creates] == ["srvsvc"]
    trees = d.events("sundew.request", command="tree_connect")
    assert [e["path"] for e in trees] == ["\\\\127.0.0.1\\IPC$"]


@pytest.mark.parametrize("version,dialect", [
    (None, 0x0202), ("6.1.7601", 0x0210), ("10.0.14393", 0x0300)])
def test_impacket_logs_in_and_lists_shares(sundew, version, dialect):
    d = sundew([f"host.version={version}"] if version else [])
    c = SMBConnection("127.0.0.1", "127.0.0.1", timeout=10)
    c.login("alice", "Secret1", "CORP")
    assert c.getDialect() == dialect
    names = {s["shi1_netname"][:-1] for s in c.listShares()}
    c.logoff()
    c.close()
    assert names == SHARES
    wait_for(lambda: closes(d), 10, "the session's close")
    d.stop()
    logins = d.events("sundew.login.attempt", dst_port=445)
    assert [(e["username"], e["domain"], e["success"]) for e in logins] == \
        [("alice", "CORP", True)]
    # The SMB1 negotiate upgraded: 2.??? unless the host speaks 2.0.2 only.
    want = {0x0202: ["2.0.2"], 0x0210: ["2.???", "2.1"],
            0x0300: ["2.???", "3.0"]}[dialect]
    assert [x for x in negotiated(d) if x != "NT LM 0.12"] == want


def test_impacket_null_session_over_311(sundew):
    # impacket signs every request of a 3.1.1 session: the null session's
    # key is the one the host can know.
    d = sundew(["host.version=10.0.14393"])
    c = SMBConnection("127.0.0.1", "127.0.0.1", timeout=10,
                      preferredDialect=SMB2_DIALECT_311)
    c.login("", "")
    assert c.getDialect() == SMB2_DIALECT_311
    assert c.isSigningRequired()
    # SMB2_SESSION_FLAG_IS_NULL, as MS-SMB2 3.3.5.5.3 says for it.
    assert c._SMBConnection._Session["SessionFlags"] == 0x0002
    names = {s["shi1_netname"][:-1] for s in c.listShares()}
    c.close()
    assert names == SHARES
    wait_for(lambda: closes(d), 10, "the session's close")
    d.stop()
    logins = d.events("sundew.login.attempt", dst_port=445)
    assert [(e["username"], e["ntlm_version"]) for e in logins] == \
        [("", "anonymous")]


def put(c, name, data):
    c.putFile("SharedDocs", name, io.BytesIO(data).read)


def test_large_write_is_stored_whole(sundew):
    # Windows 7 (2.1) takes 1 MiB WRITEs: each is larger than an NBSS
    # frame the emulator holds (128 KiB) and comes in pieces.
    d = sundew(["host.version=6.1.7601"])
    data = sample(3_000_000, 10)
    c = SMBConnection("127.0.0.1", "127.0.0.1", timeout=10)
    c.login("bob", "pw", "CORP")
    assert c.getDialect() == 0x0210
    put(c, "\\drop.exe", data)
    c.logoff()
    ev = d.wait_events("sundew.file.stored", dst_port=445)
    d.stop()
    assert [(e["sha256"], e["size"]) for e in ev] == \
        [(hashlib.sha256(data).hexdigest(), len(data))]
    assert [e["name"] for e in d.events("sundew.request", command="create")] \
        == ["drop.exe"]


def test_smbclient_puts_and_lists_a_share(sundew, tmp_path):
    d = sundew()
    data = sample(200_000, 12)
    (tmp_path / "tool.exe").write_bytes(data)
    r = subprocess.run(["smbclient", "//127.0.0.1/SharedDocs", "-N", "-c",
                        "put tool.exe; ls"], cwd=tmp_path,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    # What was written is taken away at close: "." and ".." are left.
    names = [line.split()[0] for line in r.stdout.splitlines()
             if line.startswith("  ") and " D " in line]
    assert names == [".", ".."], r.stdout
    assert "blocks of size 4096" in r.stdout
    ev = d.wait_events("sundew.file.stored", dst_port=445)
    d.stop()
    assert [(e["sha256"], e["size"]) for e in ev] == \
        [(hashlib.sha256(data).hexdigest(), len(data))]


def test_huge_write_keeps_memory_capped(sundew):
    # 20 MiB in 1 MiB WRITEs: past the 8 MiB a file may take it is cut,
    # not stored, and the sensor never holds much more than that cap.
    d = sundew(["host.version=6.1.7601"])
    before = sensors_hwm(d)
    data = sample(20 << 20, 11)
    c = SMBConnection("127.0.0.1", "127.0.0.1", timeout=30)
    c.login("bob", "pw", "CORP")
    put(c, "\\big.iso", data)
    c.logoff()
    c.close()
    wait_for(lambda: closes(d), 10, "the session's close")
    grown = sensors_hwm(d) - before
    d.stop()
    assert d.events("sundew.file.stored", dst_port=445) == []
    hits = d.events("sundew.limit.hit", dst_port=445)
    assert [e["limit"] for e in hits] == ["smb_file"]
    assert grown < 12 * 1024, f"sensors grew by {grown} KiB"


@needs_corpus(PCAPS)
def test_replay_311_negotiate_and_session_setup(sundew):
    d = sundew(["host.version=10.0.14393"])
    r = replay(PCAPS / "protocol" / "zeek_smb2-311-negotiate-sessionsetup.pcap")
    assert "-> 445" in r.stdout, r.stdout + r.stderr
    wait_for(lambda: closes(d), 10, "the session's close")
    d.stop()
    assert negotiated(d) == ["3.1.1"]
    logins = d.events("sundew.login.attempt", dst_port=445)
    assert [e["username"] for e in logins] == ["administrator"]
    # Then the client encrypts, which the host never offered: it drops the
    # connection as Windows does when it cannot decrypt, not as garbage.
    assert [e["reason"] for e in closes(d)] == ["encrypted"]


@needs_corpus(PCAPS)
@pytest.mark.parametrize("version,dialects", [
    # The SMB1 negotiate is one event, with the SMB2 dialect it answered
    # (2.0.2, or the wildcard), then the SMB2 negotiate's.
    (None, ["2.0.2", "2.0.2"]),
    ("10.0.14393", ["2.???", "3.1.1"])])
def test_replay_multiprotocol_upgrade(sundew, version, dialects):
    d = sundew([f"host.version={version}"] if version else [])
    r = replay(PCAPS / "protocol" /
               "zeek_smb1-to-smb2-multiprotocol-negotiate.pcap")
    assert r.returncode == 0, r.stdout + r.stderr
    wait_for(lambda: closes(d), 10, "the session's close")
    d.stop()
    assert [e["reason"] for e in closes(d)] != ["protocol_error"]
    assert negotiated(d)[:len(dialects)] == dialects


@needs_corpus(PCAPS)
@pytest.mark.parametrize("version,exploit", [
    ("10.0.14393", False), ("10.0.18362", True), (None, False)])
def test_replay_smbghost_negotiate(sundew, version, exploit):
    d = sundew([f"host.version={version}"] if version else [])
    r = replay(PCAPS / "attack" / "zeek_smb2-SMBGhost-negotiate-compression.pcap")
    assert r.returncode == 0, r.stdout + r.stderr
    wait_for(lambda: closes(d), 10, "the session's close")
    d.stop()
    assert [e["reason"] for e in closes(d)] == ["peer_closed"]
    assert negotiated(d) == ["3.1.1" if version else "2.0.2"]
    ghost = d.events("sundew.exploit.detected", dst_port=445)
    assert [(e["vuln"], e["cve"]) for e in ghost] == \
        ([("SMBGhost", "CVE-2020-0796")] if exploit else [])
