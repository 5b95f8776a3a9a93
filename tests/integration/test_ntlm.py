"""NTLMSSP logins and the one host (issue 10), against a running sensor:
impacket's logins give exactly one sundew.login.attempt each with the
names and responses it sent, the client's NTLMv2 blob carries the host's
target information back, and the MS04-007 token is recognised without
closing the session (test_host.py: the host that nmap and the shells
see)."""
import re
import struct

import pytest
from impacket import smb
from impacket.smb3structs import SMB2_DIALECT_002, SMB2_DIALECT_21
from impacket.smbconnection import SMBConnection

from conftest import connect


def utf16_hex(s):
    return s.encode("utf-16-le").hex()


def login(user, password, domain, dialect=smb.SMB_DIALECT):
    c = SMBConnection("*SMBSERVER", "127.0.0.1", sess_port=445,
                      preferredDialect=dialect, timeout=10)
    c.login(user, password, domain)
    return c


# SMB1 and SMB 2.0.2 of the default XP; 2.1 of a Windows 7.
DIALECTS = [(smb.SMB_DIALECT, "5.1.2600"), (SMB2_DIALECT_002, "5.1.2600"),
            (SMB2_DIALECT_21, "6.1.7601")]


@pytest.mark.parametrize("dialect,version", DIALECTS)
def test_impacket_login_is_one_event_with_its_names(sundew, dialect,
                                                    version):
    """login('alice', 'secret', 'CORP') over SMB1 and SMB2: one login
    event with those names and an NTLMv2 response whose blob holds the
    target information the CHALLENGE gave (the host's names)."""
    d = sundew([f"host.version={version}"])
    c = login("alice", "secret", "CORP", dialect)
    c.logoff()
    c.close()
    d.wait_events("sundew.connection.close", dst_port=445)
    ev = d.events("sundew.login.attempt")
    assert len(ev) == 1, ev
    ev = ev[0]
    assert ev["protocol"] == "smb"
    assert ev["service"] == "smb"
    assert ev["username"] == "alice"
    assert ev["domain"] == "CORP"
    assert ev["success"] is True
    assert ev["ntlm_version"] == "v2"
    nt = ev["nt_response"]
    assert re.fullmatch("[0-9a-f]+", nt) and len(nt) > 48
    # NTProofStr (16 bytes), then the blob: 0x0101, reserved, time,
    # client challenge, reserved, then our AV pairs.
    assert nt[32:36] == "0101"
    assert utf16_hex("ACCOUNTING-PC3") in nt
    assert utf16_hex("WORKGROUP") in nt
    # LMv2: HMAC (16 bytes) and the client challenge (8)
    assert len(ev["lm_response"]) == 48


@pytest.mark.parametrize("dialect,version", DIALECTS)
def test_anonymous_login_is_one_event(sundew, dialect, version):
    """An anonymous login (no name, no password) gives one event with an
    empty username, and is let in."""
    d = sundew([f"host.version={version}"])
    c = login("", "", "", dialect)
    assert c.getServerName() == "ACCOUNTING-PC3"
    c.close()
    d.wait_events("sundew.connection.close", dst_port=445)
    ev = d.events("sundew.login.attempt")
    assert len(ev) == 1, ev
    assert ev[0]["username"] == ""
    assert ev[0]["nt_response"] == ""
    assert ev[0]["ntlm_version"] == "anonymous"
    assert ev[0]["success"] is True


def test_server_names_come_from_the_host_keys(sundew):
    """What impacket reads of the server (NTLM target info, NativeOS)
    follows host.name, host.domain, host.dns_domain and host.version."""
    d = sundew(["host.name=FILESRV01", "host.domain=CORP",
                "host.dns_domain=corp.example.com",
                "host.version=5.2.3790"])
    c = login("bob", "pw", "CORP")
    assert c.getServerName() == "FILESRV01"
    assert c.getServerDomain() == "CORP"
    assert c.getServerDNSDomainName() == "corp.example.com"
    assert c.getServerDNSHostName() == "filesrv01.corp.example.com"
    assert c.getServerOS() == "Windows Server 2003 3790 Service Pack 2"
    c.close()
    d.wait_events("sundew.login.attempt", username="bob")


def kill_bill_token():
    """A SPNEGO negTokenInit whose reqFlags is kill-bill's constructed BIT
    STRING (the MS04-007 heap overflow), a GetPC stub inside."""
    def tlv(tag, v):
        n = len(v)
        if n < 0x80:
            return bytes([tag, n]) + v
        if n < 0x100:
            return bytes([tag, 0x81, n]) + v
        return bytes([tag, 0x82, n >> 8, n & 0xff]) + v
    stage = bytes.fromhex("d9eed97424f45b81731311223344") + b"\x90" * 64
    bits = tlv(0x03, b"\0" + b"A" * 1024) + b"\x03\x00" + \
        tlv(0x23, tlv(0x03, b"\0\xf8\x0f\x01\x00\xf8\x0f\x01")) + \
        tlv(0x23, tlv(0x03, b"\0CCCC\x20\xf0\xfd\x7f" + stage))
    inner = tlv(0xa0, tlv(0x30, tlv(0xa1, tlv(0x23, bits))))
    return tlv(0x60, bytes.fromhex("06062b0601050502") + inner)


def smb1(cmd, words=b"", data=b"", flags2=0xc807, uid=0, mid=1):
    hdr = b"\xffSMB" + struct.pack("<BIBHH8sHHHHH", cmd, 0, 0x18, flags2, 0,
                                   b"\0" * 8, 0, 0, 0x1337, uid, mid)
    msg = hdr + bytes([len(words) // 2]) + words + \
        struct.pack("<H", len(data)) + data
    return struct.pack(">I", len(msg)) + msg


def recv_msg(s):
    hdr = b""
    while len(hdr) < 4:
        chunk = s.recv(4 - len(hdr))
        assert chunk, "closed"
        hdr += chunk
    n = int.from_bytes(hdr[1:], "big")
    out = b""
    while len(out) < n:
        chunk = s.recv(n - len(out))
        assert chunk, "closed"
        out += chunk
    return out


def test_ms04_007_token_is_recognised_and_answered(sundew):
    """kill-bill's session setup: one MS04-007 event, the token to the
    analyser, and an answer (more processing, NTLMSSP chosen) rather
    than a closed session."""
    d = sundew()
    s = connect(445)
    s.sendall(smb1(0x72, data=b"\x02NT LM 0.12\0"))
    assert recv_msg(s)[5:9] == b"\0\0\0\0"
    tok = kill_bill_token()
    words = struct.pack("<BBHHHHIHII", 0xff, 0, 0, 4356, 10, 0, 0, len(tok),
                        0, 0x800000d4)
    s.sendall(smb1(0x73, words, tok + b"\0\0\0\0\0\0", mid=2))
    reply = recv_msg(s)
    assert struct.unpack_from("<I", reply, 5)[0] == 0xc0000016
    ev = d.wait_events("sundew.exploit.detected", vuln="MS04-007")
    assert len(ev) == 1
    assert ev[0]["cve"] == "CVE-2003-0818"
    assert ev[0]["detail"] == "constructed bit string"
    s.close()
    d.wait_events("sundew.connection.close", dst_port=445)
    assert len(d.events("sundew.exploit.detected")) == 1
    assert d.events("sundew.connection.close",
                    dst_port=445)[0]["reason"] != "protocol_error"
