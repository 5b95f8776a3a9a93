"""SMB1 on 445 and the NetBIOS session service on 139 (issue 10), against
a running sensor with real clients (smbclient, impacket) and replays of
the SMB1 captures in shared/corpora."""
import hashlib
import io
import struct
import subprocess
import time

import pytest
from impacket import smb
from impacket.dcerpc.v5 import srvs, transport
from impacket.smbconnection import SMBConnection, SessionError

from conftest import CORPORA, connect, needs_corpus, sample
from test_replay import replay

PCAPS = CORPORA / "pcaps"
HOST = "ACCOUNTING-PC3"         # the host.* defaults
DOMAIN = "WORKGROUP"
SHARES = ["IPC$", "ADMIN$", "C$", "SharedDocs"]
STATUS_BAD_NETWORK_NAME = 0xc00000cc


def nbss(msg, kind=0):
    return struct.pack(">I", kind << 24 | len(msg)) + msg


def smb1(cmd, words=b"", data=b"", flags2=0xc001, tid=0, uid=0, mid=1):
    """An SMB1 request: header, words, bytes."""
    hdr = b"\xffSMB" + struct.pack("<BIBHH8sHHHHH", cmd, 0, 0x18, flags2, 0,
                                   b"\0" * 8, 0, tid, 0x4242, uid, mid)
    return hdr + bytes([len(words) // 2]) + words + \
        struct.pack("<H", len(data)) + data


def dialects(*names):
    return b"".join(b"\x02" + n + b"\0" for n in names)


def recv_frame(s):
    """One NBSS frame: its type and message."""
    hdr = recv_exact(s, 4)
    kind, n = hdr[0], int.from_bytes(hdr[1:], "big")
    return kind, recv_exact(s, n)


def recv_exact(s, n):
    out = b""
    while len(out) < n:
        chunk = s.recv(n - len(out))
        assert chunk, f"closed after {len(out)} of {n} bytes"
        out += chunk
    return out


def words_of(msg):
    """A reply's status, word count and words, and bytes."""
    status = struct.unpack_from("<I", msg, 5)[0]
    wct = msg[32]
    words = msg[33:33 + 2 * wct]
    bcc = struct.unpack_from("<H", msg, 33 + 2 * wct)[0]
    return status, wct, words, msg[35 + 2 * wct:35 + 2 * wct + bcc]


def session_request(called=b"*SMBSERVER", suffix=0x20):
    """A NetBIOS session request (RFC 1002 4.3.2) to a called name."""
    def encode(name, sfx):
        raw = name.ljust(15, b" ")[:15] + bytes([sfx])
        return b"\x20" + bytes(c for b in raw for c in
                               (0x41 + (b >> 4), 0x41 + (b & 15))) + b"\0"
    return nbss(encode(called, suffix) + encode(b"ATTACKER", 0), 0x81)


def smb1_login(user="alice", password="Secret1", domain="CORP"):
    c = SMBConnection("127.0.0.1", "127.0.0.1", sess_port=445,
                      preferredDialect=smb.SMB_DIALECT, timeout=10)
    c.login(user, password, domain)
    return c


def test_smbclient_lists_shares_over_nt1(sundew):
    d = sundew()
    r = subprocess.run(["smbclient", "-L", "//127.0.0.1", "-N",
                        "--option=client min protocol=NT1",
                        "--option=client max protocol=NT1"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    listed = [line.split()[0] for line in r.stdout.splitlines()
              if line.startswith("\t") and len(line.split()) > 1]
    for share in SHARES:
        assert share in listed, r.stdout
    d.stop()
    assert not d.events("sundew.connection.close", reason="protocol_error")


def test_impacket_smb1_login_and_trees(sundew):
    d = sundew()
    c = smb1_login()
    assert c.getDialect() == smb.SMB_DIALECT
    assert c.getServerName() == HOST
    assert c.getServerDomain() == DOMAIN
    assert c.getServerOS() == "Windows 5.1"
    for share in SHARES:
        assert c.connectTree(share) > 0
    with pytest.raises(SessionError) as e:
        c.connectTree("NOSUCHSHARE")
    assert e.value.getErrorCode() == STATUS_BAD_NETWORK_NAME
    c.logoff()
    c.close()
    logins = d.wait_events("sundew.login.attempt", dst_port=445)
    d.wait_events("sundew.connection.close", dst_port=445)
    d.stop()
    assert len(logins) == 1
    assert logins[0]["username"] == "alice"
    assert logins[0]["domain"] == "CORP"
    assert logins[0]["success"] is True
    trees = d.events("sundew.request", dst_port=445, command="tree_connect")
    assert [t["path"].rsplit("\\", 1)[1] for t in trees] == \
        SHARES + ["NOSUCHSHARE"]
    assert not d.events("sundew.connection.close", reason="protocol_error")


def test_srvsvc_share_list_over_smb1_pipe(sundew):
    # DCERPC on \srvsvc through NT create, write and read AndX.
    d = sundew()
    c = smb1_login("", "", "")
    t = transport.SMBTransport("127.0.0.1", filename=r"\srvsvc",
                               smb_connection=c)
    dce = t.get_dce_rpc()
    dce.connect()
    dce.bind(srvs.MSRPC_UUID_SRVS)
    resp = srvs.hNetrShareEnum(dce, 1)
    names = [s["shi1_netname"][:-1]
             for s in resp["InfoStruct"]["ShareInfo"]["Level1"]["Buffer"]]
    dce.disconnect()
    c.close()
    d.wait_events("sundew.connection.close", dst_port=445)
    d.stop()
    assert sorted(names) == sorted(SHARES)
    creates = d.events("sundew.request", dst_port=445, command="create")
    assert [e["name"] for e in creates] == ["srvsvc"]


def test_file_written_to_admin_share_is_stored(sundew):
    # A worm copies its program to ADMIN$ or C$: stored, byte for byte.
    d = sundew()
    exe = sample(150000, "smb-admin-share")
    c = smb1_login()
    c.putFile("C$", "WINDOWS\\system32\\msupd.exe", io.BytesIO(exe).read)
    c.close()
    stored = d.wait_events("sundew.file.stored", dst_port=445)
    d.stop()
    assert len(stored) == 1
    assert stored[0]["sha256"] == hashlib.sha256(exe).hexdigest()
    assert stored[0]["size"] == len(exe)
    written = d.events("sundew.request", command="file_written")
    assert [e["name"] for e in written] == ["WINDOWS\\system32\\msupd.exe"]


def test_netbios_session_then_split_negotiate(sundew):
    d = sundew()
    s = connect(139)
    s.sendall(session_request())
    assert recv_exact(s, 4) == b"\x82\0\0\0"
    msg = nbss(smb1(0x72, data=dialects(b"PC NETWORK PROGRAM 1.0",
                                         b"NT LM 0.12")))
    # The frame in three segments: inside its header, inside the message.
    for part in (msg[:2], msg[2:20], msg[20:]):
        s.sendall(part)
        time.sleep(0.2)
    kind, rep = recv_frame(s)
    assert kind == 0
    status, wct, words, data = words_of(rep)
    assert (status, wct) == (0, 17)
    assert struct.unpack_from("<H", words)[0] == 1      # NT LM 0.12
    # Non-extended: the challenge, then domain and name in UTF-16.
    assert words[33] == 8
    assert data[8:] == (DOMAIN + "\0" + HOST + "\0").encode("utf-16-le")
    s.sendall(nbss(b"", 0x85))          # a keepalive: no answer
    s.close()
    closes = d.wait_events("sundew.connection.close", dst_port=139)
    d.stop()
    assert [e["reason"] for e in closes] == ["peer_closed"]


def test_lanman_negotiate(sundew):
    d = sundew()
    s = connect(445)
    s.sendall(nbss(smb1(0x72, flags2=0x0001, data=dialects(
        b"PC NETWORK PROGRAM 1.0", b"LANMAN1.0", b"LM1.2X002",
        b"LANMAN2.1"))))
    _, rep = recv_frame(s)
    status, wct, words, data = words_of(rep)
    assert (status, wct) == (0, 13)
    assert struct.unpack_from("<HH", words) == (3, 3)   # LANMAN2.1, user
    assert struct.unpack_from("<H", words, 22)[0] == 8   # challenge
    assert data[8:] == DOMAIN.encode() + b"\0"
    s.close()
    d.stop()


def test_netdde_exploit_on_139(sundew):
    # A called name with NetDDE's suffix: answered; what follows is not
    # SMB; an overlong NetDDE message is MS04-031, said once.
    d = sundew()
    s = connect(139)
    s.sendall(session_request(b"ACCOUNTING-PC3", 0x1f))
    assert recv_exact(s, 4) == b"\x82\0\0\0"
    body = b"\x11\x22\x33\x44EDDN" + b"\x90" * 3000
    s.sendall(nbss(body))
    s.sendall(nbss(body))
    time.sleep(0.3)
    s.close()
    d.wait_events("sundew.connection.close", dst_port=139)
    d.stop()
    ex = d.events("sundew.exploit.detected", dst_port=139)
    assert [(e["vuln"], e["cve"]) for e in ex] == \
        [("MS04-031", "CVE-2004-0206")]
    assert d.events("sundew.connection.close", dst_port=139)[0]["reason"] \
        == "peer_closed"


def test_garbage_closes_only_that_session(sundew):
    d = sundew()
    s = connect(445)
    s.sendall(nbss(b"\xffSMB" + b"\x72" + b"\0" * 20))     # a short header
    assert s.recv(100) == b""
    s.close()
    s = connect(445)
    s.sendall(nbss(smb1(0x72, data=dialects(b"NT LM 0.12"))))
    _, rep = recv_frame(s)
    assert words_of(rep)[:2] == (0, 17)
    s.close()
    closes = d.wait_events("sundew.connection.close", 2, dst_port=445)
    d.stop()
    # Two sensors write their events each in turn: counted, not ordered.
    assert sorted(e["reason"] for e in closes) == \
        ["peer_closed", "protocol_error"]


def test_hundred_sessions_hundred_closes(sundew):
    d = sundew(["limits.per_source=0"])
    for i in range(100):
        s = connect(445)
        s.sendall(nbss(smb1(0x72, data=dialects(b"NT LM 0.12"), mid=i)))
        _, rep = recv_frame(s)
        assert struct.unpack_from("<H", rep, 30)[0] == i
        s.close()
    d.wait_events("sundew.connection.close", 100, dst_port=445)
    time.sleep(0.5)
    d.stop()
    closes = d.events("sundew.connection.close", dst_port=445)
    assert len(closes) == 100
    assert {e["reason"] for e in closes} == {"peer_closed"}


@needs_corpus(PCAPS)
def test_replay_split_netbios_message(sundew):
    # The capture's session message is split after its NBSS header and
    # the first bytes of SMB; its SMB header is cut short (32 bytes, no
    # word count), which ends the session once the message is whole.
    # (The replay sends both segments back to back, as the capture has
    # no answer between them; test_netbios_session_then_split_negotiate
    # waits between the pieces.)
    d = sundew()
    r = replay(PCAPS / "protocol" /
               "zeek_netbios-ssn-139-split-session-message.pcap")
    assert r.returncode == 0, r.stdout + r.stderr
    closes = d.wait_events("sundew.connection.close", dst_port=139)
    d.stop()
    assert len(closes) == 1
    assert closes[0]["reason"] == "protocol_error"
    assert closes[0]["bytes_in"] == 44


@needs_corpus(PCAPS)
@pytest.mark.parametrize("pcap", [
    "zeek_smb1-session-treeconnect-ipc-trans.pcap",
    "zeek_smb1-negotiate-lanman.pcap",
    "sv_smb1-osx-negotiate-ntlmssp.pcap",
])
def test_replay_benign_smb1(sundew, pcap):
    d = sundew()
    r = replay(PCAPS / "protocol" / pcap)
    assert r.returncode == 0, r.stdout + r.stderr
    played = int(r.stdout.split("summary: ")[1].split()[0])
    assert played >= 1
    d.wait_events("sundew.connection.close", played, dst_port=445)
    d.stop()
    closes = d.events("sundew.connection.close", dst_port=445)
    assert len(closes) == played
    assert all(e["reason"] != "protocol_error" for e in closes), closes
    assert not d.events("sundew.exploit.detected")
    assert d.events("sundew.request", dst_port=445, command="negotiate")
