"""MS17-010 and the DoublePulsar implant (smb1_trans.c, doublepulsar.c):
the WannaCry capture replayed once per victim, the implant's check, the
failed EternalBlue, nmap's MS17-010 check, and a DoublePulsar upload built
here, stored byte for byte whatever key it was encrypted with."""
import hashlib
import os
import re
import shutil
import socket
import struct
import subprocess

import pytest

from conftest import CORPORA, SUNDEW, needs_corpus, wait_for

ATTACK = CORPORA / "pcaps" / "attack"
WANNACRY = ATTACK / "es_wannacry-ms17-010-doublepulsar.pcap"
DP_CHECK = ATTACK / "es_doublepulsar-backdoor-check-win7.pcap"
EB_FAILED = ATTACK / "es_eternalblue-failed-patched-win7.pcap"

# The victims in the capture and what each was sent (counted with tshark:
# TCP streams to 445 with an NT Transact followed by a Trans2 secondary,
# and those with a DoublePulsar exec chunk that the capture holds: only
# the last chunk of two uploads to .172, 776 of 5,272,328 bytes each).
VICTIMS = {
    "192.168.116.138": {"ms17": 2, "exec": 0},
    "192.168.116.143": {"ms17": 5, "exec": 0},
    "192.168.116.149": {"ms17": 2, "exec": 0},
    "192.168.116.172": {"ms17": 4, "exec": 2},
}
WANNACRY_TOTAL = 5272328

PING = 0x00ee3401       # the Timeout of WannaCry's ping: bytes sum to 0x23
EXEC = 0x001a8925       # and of its upload: 0xc8


def replay(pcap, *args, timeout=600):
    return subprocess.run([str(SUNDEW), "replay", str(pcap), "--to", "127.0.0.1",
                           *args], capture_output=True, text=True,
                          timeout=timeout)


def binaries(d):
    b = d.data / "binaries"
    return sorted(p.name for p in b.iterdir()) if b.exists() else []


@needs_corpus(WANNACRY)
def test_wannacry(sundew):
    d = sundew()
    sensors = d.sensors()
    for ip, v in VICTIMS.items():
        r = replay(WANNACRY, "--server", ip)
        # An EternalBlue session breaks where the capture has a hole in
        # the middle of a message: the sensor closes it, the replay says
        # so ("failed"), nothing else does.
        m = re.search(r"summary: (\d+) played, (\d+) failed", r.stdout)
        assert m and r.returncode in (0, 1), r.stdout + r.stderr
        assert int(m.group(2)) <= v["ms17"], r.stdout
    ms17 = sum(v["ms17"] for v in VICTIMS.values())
    ex = sum(v["exec"] for v in VICTIMS.values())
    d.wait_events("sundew.exploit.detected", ms17 + ex)
    # No sensor died on the way.
    assert d.sensors() == sensors
    d.stop()
    evs = d.events("sundew.exploit.detected")
    assert len([e for e in evs if e["vuln"] == "MS17-010"]) == ms17
    assert all(e["detail"] == "transaction_type_confusion"
               for e in evs if e["vuln"] == "MS17-010")
    dp = [e for e in evs if e["vuln"] == "DoublePulsar"]
    assert len(dp) == ex
    assert all(e["dst_port"] == 445 for e in evs)
    # The uploads the capture holds in part: said, never stored.
    inc = d.events("sundew.request", command="doublepulsar_upload")
    assert len(inc) == ex
    assert all(e["status"] == "incomplete" and e["received"] == 776 and
               e["size"] == WANNACRY_TOTAL for e in inc)
    # Each attacker's own key, recovered from its traffic (.149 was given
    # 0x7b200e39 by the victim's ping answer, .138 used 0x1740bad9).
    assert sorted(e["key"] for e in inc) == ["1740bad9", "7b200e39"]
    assert d.events("sundew.file.stored") == []
    assert binaries(d) == []
    # Only an EternalBlue session broke, each at most once.
    closes = d.events("sundew.connection.close")
    assert not [c for c in closes if c.get("reason") == "sensor_died"]
    exploited = {e["session"] for e in evs}
    broken = [c for c in closes if c.get("reason") == "protocol_error" and
              c["session"] in exploited]
    assert len(broken) <= ms17
    assert not [c for c in broken if c["session"] in
                {e["session"] for e in dp}]


# A client of our own: SMB1 over a raw socket, as the implant's users do.

class Smb1:
    def __init__(self, port=445):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.uid = self.tid = 0

    def close(self):
        self.s.close()

    def send(self, cmd, words, data, mid=1, flags2=0x4001):
        hdr = b"\xffSMB" + bytes([cmd]) + b"\0" * 4 + b"\x18" + \
            struct.pack("<H", flags2) + b"\0" * 12 + \
            struct.pack("<HHHH", self.tid, 0xfeff, self.uid, mid)
        msg = hdr + bytes([len(words) // 2]) + words + \
            struct.pack("<H", len(data)) + data
        self.s.sendall(struct.pack(">I", len(msg)) + msg)

    def recv(self):
        def exact(n):
            b = b""
            while len(b) < n:
                c = self.s.recv(n - len(b))
                assert c, "closed by the sensor"
                b += c
            return b
        n = struct.unpack(">I", exact(4))[0] & 0xffffff
        return exact(n)

    def login(self):
        self.send(0x72, b"", b"\x02NT LM 0.12\0")
        r = self.recv()
        assert r[4] == 0x72 and r[5:9] == b"\0\0\0\0"
        words = struct.pack("<BBHHHHIHHII", 0xff, 0, 0, 4356, 10, 0, 0, 1, 0,
                            0, 0)
        self.send(0x73, words, b"\0\0\0Windows 2000 2195\0Windows 2000 5.0\0")
        r = self.recv()
        assert r[5:9] == b"\0\0\0\0", r[5:9].hex()
        self.uid = struct.unpack_from("<H", r, 28)[0]
        words = struct.pack("<BBHHH", 0xff, 0, 0, 0, 1)
        self.send(0x75, words, b"\0\\\\127.0.0.1\\IPC$\0?????\0")
        r = self.recv()
        assert r[5:9] == b"\0\0\0\0"
        self.tid = struct.unpack_from("<H", r, 24)[0]

    def trans2(self, mid, timeout, params, data=b"", setup=0x000e):
        po = 32 + 1 + 30 + 2
        words = struct.pack("<HHHHBBHIHHHHHBBH", len(params), len(data), 1, 0,
                            0, 0, 0, timeout, 0, len(params), po, len(data),
                            po + len(params), 1, 0, setup)
        self.send(0x32, words, params + data, mid=mid, flags2=0xc007)
        return self.recv()


def dp_key(sig):
    """The key an attacker derives from the ping's answer."""
    swapped = struct.unpack("<I", struct.pack(">I", sig))[0]
    return ((sig << 1) ^ swapped) & 0xffffffff


def ping(c):
    r = c.trans2(0x41, PING, b"\0" * 12)
    assert struct.unpack_from("<I", r, 5)[0] == 0xc0000002
    assert struct.unpack_from("<H", r, 30)[0] == 0x51
    sig, arch = struct.unpack_from("<II", r, 14)
    assert arch == 0 and sig != 0
    return dp_key(sig)


def xor(data, key, off):
    k = struct.pack("<I", key) * (len(data) // 4 + 2)
    k = k[off & 3:(off & 3) + len(data)]
    n = int.from_bytes(data, "little") ^ int.from_bytes(k, "little")
    return n.to_bytes(len(data), "little")


def upload(c, payload, key, chunk=4096):
    """WannaCry's layout: Trans2 SESSION_SETUP, 12 parameter bytes (total,
    chunk, offset, each XOR key), the chunk XOR key as data."""
    for off in range(0, len(payload), chunk):
        part = payload[off:off + chunk]
        params = struct.pack("<III", len(payload) ^ key, len(part) ^ key,
                             off ^ key)
        r = c.trans2(0x42, EXEC, params, xor(part, key, off))
        assert struct.unpack_from("<H", r, 30)[0] == 0x52


def make_pe(size, seed):
    """A PE32 DLL-shaped file: DOS and PE headers, one section."""
    body = bytearray(hashlib.sha256(b"%d" % seed).digest() * (size // 32 + 1))
    pe = bytearray(size)
    pe[0x200:] = body[:size - 0x200]
    pe[0:2] = b"MZ"
    struct.pack_into("<I", pe, 0x3c, 0x80)
    pe[0x80:0x84] = b"PE\0\0"
    struct.pack_into("<HH", pe, 0x84, 0x14c, 1)
    struct.pack_into("<H", pe, 0x94, 0xe0)
    struct.pack_into("<H", pe, 0x98, 0x10b)
    struct.pack_into("<I", pe, 0x98 + 60, 0x200)
    pe[0x178:0x17d] = b".text"
    struct.pack_into("<II", pe, 0x178 + 16, size - 0x200, 0x200)
    return bytes(pe)


def test_doublepulsar_upload(sundew):
    d = sundew()
    shellcode = bytes(range(256)) * 6 + b"\x90" * 11
    # As large as WannaCry's DLL: the sensor holds it whole under its
    # sandbox and past limits.max_input (4 MiB).
    pe1 = make_pe(5 * 1024 * 1024 + 0x200, 1)
    c = Smb1()
    c.login()
    key = ping(c)
    upload(c, shellcode + pe1, key)
    c.close()
    # The same again by an attacker with the key of an earlier infection
    # (not the one this sensor's ping gives), in a new session.
    old = int.from_bytes(os.urandom(4), "little")
    pe2 = make_pe(0x5200, 2)
    c = Smb1()
    c.login()
    assert ping(c) == key
    upload(c, shellcode + pe2, old)
    c.close()
    want = {hashlib.sha256(x).hexdigest() for x in
            (shellcode + pe1, pe1, shellcode + pe2, pe2)}
    d.wait_events("sundew.file.stored", 4)
    d.stop()
    assert set(binaries(d)) == want
    for h in want:
        assert hashlib.sha256((d.data / "binaries" / h).read_bytes()
                              ).hexdigest() == h
    assert len(d.events("sundew.exploit.detected", vuln="DoublePulsar")) == 2
    assert d.events("sundew.request", command="doublepulsar_upload") == []


def test_doublepulsar_check(sundew):
    """nmap's smb-double-pulsar-backdoor knock: multiplex id 65 back as
    81, and a ping is a request, not an exploit."""
    d = sundew()
    c = Smb1()
    c.login()
    ping(c)
    c.close()
    d.wait_events("sundew.request", doublepulsar="ping")
    d.stop()
    assert d.events("sundew.exploit.detected") == []


@needs_corpus(DP_CHECK)
def test_doublepulsar_check_capture(sundew):
    d = sundew()
    # The 445 session's server is .203; the 139 sessions' is .204.
    for ip in ("192.168.198.203", "192.168.198.204"):
        r = replay(DP_CHECK, "--server", ip)
        assert r.returncode == 0, r.stdout + r.stderr
    d.wait_events("sundew.request", doublepulsar="ping")
    # NetServerEnum2 twice over \PIPE\LANMAN on 139.
    d.wait_events("sundew.request", 2, function="NetServerEnum2")
    d.stop()
    assert d.events("sundew.exploit.detected") == []
    assert binaries(d) == []


@needs_corpus(EB_FAILED)
def test_eternalblue_failed_capture(sundew):
    d = sundew()
    sensors = d.sensors()
    r = replay(EB_FAILED, "--server", "192.168.198.203")
    assert r.returncode == 0, r.stdout + r.stderr
    assert d.sensors() == sensors
    d.stop()
    assert d.events("sundew.exploit.detected") == []


@pytest.mark.skipif(shutil.which("nmap") is None, reason="nmap missing")
def test_nmap_ms17_010(sundew):
    d = sundew()
    r = subprocess.run(["nmap", "-Pn", "-n", "-p445", "--script",
                        "smb-vuln-ms17-010", "127.0.0.1"],
                       capture_output=True, text=True, timeout=120)
    assert "VULNERABLE" in r.stdout and "CVE-2017-0143" in r.stdout, r.stdout
    d.wait_events("sundew.request", check="ms17-010")
    d.stop()
    assert d.events("sundew.exploit.detected") == []


def test_smb1_clients(sundew):
    """What SMB1 clients do with transactions: smbclient's share list
    (srvsvc over TransactNmPipe) and workgroup list (RAP NetServerEnum2),
    a directory listing (FIND_FIRST2) and the disk's size (QUERY_FS_INFO);
    impacket's share list over SMB1."""
    from impacket import smb
    from impacket.smbconnection import SMBConnection
    d = sundew()
    nt1 = ["--option=client min protocol=NT1",
           "--option=client max protocol=NT1"]
    r = subprocess.run(["smbclient", "-L", "//127.0.0.1", "-N", *nt1],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    lines = [line.split() for line in r.stdout.splitlines()]
    host = [w for w in lines if len(w) == 2 and w[0] == "WORKGROUP"]
    assert host and host[0][1] == "ACCOUNTING-PC3", r.stdout
    r = subprocess.run(["smbclient", "//127.0.0.1/C$", "-N", *nt1, "-c",
                        "ls"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    names = [line.split()[0] for line in r.stdout.splitlines()
             if line.startswith("  ")]
    assert names == [".", ".."], r.stdout
    assert "blocks of size 4096. 1487291 blocks available" in r.stdout
    c = SMBConnection("127.0.0.1", "127.0.0.1",
                      preferredDialect=smb.SMB_DIALECT)
    c.login("", "")
    shares = [s["shi1_netname"][:-1] for s in c.listShares()]
    assert shares == ["IPC$", "SharedDocs", "ADMIN$", "C$"]
    c.close()
    d.wait_events("sundew.request", function="NetServerEnum2")
    d.stop()
    assert not d.events("sundew.connection.close", reason="protocol_error")
    assert d.events("sundew.exploit.detected") == []
