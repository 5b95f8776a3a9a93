#!/usr/bin/python3
"""Carves fuzz seeds out of the captures in ../shared/corpora/pcaps.

The captures are third-party material: they stay in ../shared and are
never copied into the repository (see its MANIFEST.md).  scripts/fuzz.sh
runs this into a temporary folder, OUT/TARGET/NAME, and hands OUT/TARGET
to fuzz_TARGET next to fuzz/corpus/TARGET.  Each seed is in its target's
input format (the comment at the top of fuzz/fuzz_TARGET.c):

  smb1        a client's stream to 445 or 139, at once and in 7-byte pieces
  smb1_trans  its transactions (Trans, Trans2, NT Transact, secondaries,
              NT Create AndX, echo) as records: all, and one of each kind
  smb2        an SMB2 client's messages: all, and each SMB2 one alone
  ntlm        a session's first security blob with its second, with the
              server's challenge, and after the server's negotiate hint
  dcerpc      a DCERPC stream (over TCP, or what a client wrote to a pipe),
              auth verifiers left out, written and read in several ways
  ndr         the stub of each request, under a program of reads
  dce_ifaces  the stub of each request to an interface of ours
  cmd, ftp    what a peer typed into a shell; the ftp -s: scripts it
              wrote with echo

Usage: carve-seeds.py [-c CORPORA] OUT

Standard library only.  tests/integration/pcapcarve.py reads the
captures: pcap and pcapng; Ethernet (VLAN tags), Linux cooked (v1 and
v2), raw IP and BSD loopback; IPv4 and IPv6, TCP.  A direction is put
together by sequence number: a retransmission adds only the bytes it
adds.  Where the capture lost segments, what follows the hole is taken
up again at the next message that starts whole, and the message the
hole cut is left out.
"""
import argparse
import os
import re
import struct
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# The captures are read by pcapcarve, the reader the integration tests use
# too; it lives in tests/integration, no package: that folder goes on the
# path, so that the one copy serves both.
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
import pcapcarve  # noqa: E402 (needs the path above)

SMB_PORTS = (139, 445)
# libFuzzer's -max_len in scripts/fuzz.sh: a longer seed would be cut.
MAX_SEED = 65536
# A larger SMB session is carved only if it does something new (carve_smb).
LARGE_SESSION = 4096


# --- SMB -------------------------------------------------------------------

def _u16(b, off):
    return struct.unpack("<H", b[off:off + 2])[0] if off + 2 <= len(b) else 0


def _u32(b, off):
    return struct.unpack("<I", b[off:off + 4])[0] if off + 4 <= len(b) else 0


def nbss_frame(b, off, strict):
    """The length of the NBSS frame at off, or None; strict: only an
    SMB message's frame, which a resynchronisation may trust."""
    if off + 8 > len(b):
        return None
    if b[off] == 0 and b[off + 4] in (0xfc, 0xfd, 0xfe, 0xff) and \
            b[off + 5:off + 8] == b"SMB" or \
            not strict and 0x81 <= b[off] <= 0x85:
        return 4 + int.from_bytes(b[off + 1:off + 4], "big")
    return None


def nbss(stream):
    """The type and payload of a stream's NBSS messages; one cut short
    ends them."""
    msgs, off = [], 0
    while off + 4 <= len(stream):
        n = int.from_bytes(stream[off + 1:off + 4], "big")
        if off + 4 + n > len(stream):
            break
        msgs.append((stream[off], stream[off + 4:off + 4 + n]))
        off += 4 + n
    return msgs


def smb1_msgs(stream):
    """The SMB1 messages of a stream, NBSS session messages only."""
    return [m for t, m in nbss(stream)
            if t == 0 and m[:4] == b"\xffSMB" and len(m) >= 35]


def smb1_words(m):
    """An SMB1 message's words and bytes, the bytes as many as it says."""
    wc = m[32]
    bcc = _u16(m, 33 + 2 * wc)
    return m[33:33 + 2 * wc], m[35 + 2 * wc:35 + 2 * wc + bcc]


def smb2_msgs(stream):
    """The SMB2 messages of a stream, compounds taken apart."""
    out = []
    for t, m in nbss(stream):
        while t == 0 and m[:4] == b"\xfeSMB" and len(m) >= 64:
            nxt = _u32(m, 20)
            out.append(m[:nxt] if nxt else m)
            if not nxt or nxt >= len(m):
                break
            m = m[nxt:]
    return out


# fuzz_smb1_trans.c's fuzz_cmds: a record's first byte indexes it.
TRANS_CMDS = (0x25, 0x26, 0x32, 0x33, 0xa0, 0xa1, 0xa2, 0x2b)
TRANS_NAMES = {0x25: "trans", 0x26: "trans-sec", 0x32: "trans2",
               0x33: "trans2-sec", 0xa0: "nttrans", 0xa1: "nttrans-sec",
               0xa2: "ntcreate", 0x2b: "echo"}


def trans_record(m):
    """An SMB1 message as a fuzz_smb1_trans record, or None."""
    if m[4] not in TRANS_CMDS:
        return None
    wc = m[32]
    words, data = smb1_words(m)
    # The byte count is what the message holds, if it holds less than
    # it says: the target frames every record whole.
    return bytes([TRANS_CMDS.index(m[4]), wc]) + \
        struct.pack("<H", len(data)) + \
        bytes([m[30], 1 if _u16(m, 10) & 0x8000 else 0]) + \
        words.ljust(2 * wc, b"\0") + data


def trans_kind(m):
    """A transaction's command and sub-command, as a name."""
    words, _ = smb1_words(m)
    kind = TRANS_NAMES[m[4]]
    if m[4] in (0x25, 0x32) and len(words) >= 30 and words[26] > 0:
        kind += "-%04x" % _u16(words, 28)
    elif m[4] == 0xa0 and len(words) >= 38:
        kind += "-%04x" % _u16(words, 36)
    return kind


def pipe_writes(stream):
    """What a client wrote to each pipe (by fid) through TransactNmPipe
    and WriteAndX, in order."""
    pipes = {}
    for m in smb1_msgs(stream):
        words, _ = smb1_words(m)
        if m[4] == 0x25 and len(words) >= 32 and words[26] >= 2 and \
                _u16(words, 28) == 0x0026:
            fid, n, off = _u16(words, 30), _u16(words, 22), _u16(words, 24)
        elif m[4] == 0x2f and len(words) >= 24:
            fid, n, off = _u16(words, 4), _u16(words, 20), _u16(words, 22)
        else:
            continue
        pipes.setdefault(fid, bytearray()).extend(m[off:off + n])
    return {fid: bytes(b) for fid, b in pipes.items()}


def security_blobs(stream, server=False):
    """The security blobs of a client's session setups, SMB1 and SMB2,
    or with server those of the server's answers."""
    blobs = []
    for m in smb1_msgs(stream):
        words, data = smb1_words(m)
        if m[4] == 0x73 and m[32] == (4 if server else 12):
            blobs.append(data[:_u16(words, 6 if server else 14)])
    for m in smb2_msgs(stream):
        if _u16(m, 12) == 1 and bool(_u32(m, 16) & 1) == server:
            at = 64 + (4 if server else 12)
            blobs.append(m[_u16(m, at):_u16(m, at) + _u16(m, at + 2)])
    return [b for b in blobs if b]


def server_hint(stream):
    """The security blob of a server's negotiate response, or b""."""
    for m in smb1_msgs(stream):
        words, data = smb1_words(m)
        if m[4] == 0x72 and m[32] == 17 and _u32(words, 19) & 0x80000000:
            return data[16:]
    for m in smb2_msgs(stream):
        if _u16(m, 12) == 0 and _u32(m, 16) & 1:
            off, n = _u16(m, 64 + 56), _u16(m, 64 + 58)
            return m[off:off + n]
    return b""


def smb2_host(msgs):
    """fuzz_smb2's host byte for a client: 2 (1903, SMBGhost's) if it
    offers compression, 1 (2016) if it offers SMB 3, else 0 (XP)."""
    host = 0
    for m in msgs:
        if _u16(m, 12) != 0 or _u32(m, 16) & 1:
            continue
        n = _u16(m, 64 + 2)
        dialects = [_u16(m, 64 + 36 + 2 * i) for i in range(n)]
        if any(d >= 0x0300 for d in dialects):
            host = max(host, 1)
        if 0x0311 in dialects:
            off, count = _u32(m, 64 + 28), _u16(m, 64 + 32)
            for _ in range(count):
                if off + 8 > len(m):
                    break
                if _u16(m, off) == 3:           # compression capabilities
                    host = 2
                off += (8 + _u16(m, off + 2) + 7) & ~7
    return host


# --- DCERPC ----------------------------------------------------------------

def dce_frame(b, off, strict):
    """The length of the DCERPC PDU at off (version 5.0, little-endian),
    or None."""
    if off + 16 > len(b) or b[off:off + 2] != b"\x05\x00" or \
            b[off + 2] > 20 or b[off + 4] & 0xf0 != 0x10 or \
            _u16(b, off + 8) < 16:
        return None
    return _u16(b, off + 8)


def dce_pdus(stream):
    """A DCERPC stream's PDUs, auth verifiers left out (the endpoint
    checks none, and the fuzzer need not mutate them)."""
    pdus, off = [], 0
    while (n := dce_frame(stream, off, False)) is not None and \
            off + n <= len(stream):
        auth = _u16(stream, off + 10)
        p = bytearray(stream[off:off + n])
        off += n
        if auth and auth + 8 <= n - 16:
            pad = p[n - auth - 8 + 2]
            del p[max(16, n - auth - 8 - pad):]
            p[8:12] = struct.pack("<HH", len(p), 0)
        pdus.append(bytes(p))
    return pdus


def dce_calls(pdus):
    """(abstract syntax, version, opnum, stub) of each whole request."""
    ctx, calls, stub = {}, [], bytearray()
    for p in pdus:
        if p[2] in (11, 14) and len(p) >= 28:   # bind, alter_context
            off = 28
            for _ in range(p[24]):
                if off + 24 > len(p):
                    break
                ctx[_u16(p, off)] = (p[off + 4:off + 20], _u16(p, off + 20))
                off += 24 + 20 * p[off + 2]
        elif p[2] == 0 and len(p) >= 24:        # request
            if p[3] & 1:
                stub = bytearray()
            stub += p[40 if p[3] & 0x80 else 24:]
            if p[3] & 2 and _u16(p, 20) in ctx:
                uuid, major = ctx[_u16(p, 20)]
                calls.append((uuid, major, _u16(p, 22), bytes(stub)))
    return calls


IFACE_DEF = re.compile(r"const struct dce_iface dce_(\w+) = \{\s*"
                       r"\"([^\"]*)\",\s*DCE_UUID\(([^)]*)\),\s*(\d+)")


def iface_table():
    """(UUID on the wire, major version) -> (index, name) of each entry of
    dce_ifaces[] (src/proto/dce_iface.c), as fuzz_dce_ifaces picks them;
    read from the source so that the seeds follow the table."""
    src = os.path.join(ROOT, "src", "proto")
    try:
        with open(os.path.join(src, "dce_iface.c")) as f:
            table = re.search(r"dce_ifaces\[\]\s*=\s*\{(.*?)\};", f.read(),
                              re.S)
        order = re.findall(r"&dce_(\w+)", table.group(1))
        defs = {}
        for name in sorted(os.listdir(src)):
            if not name.endswith(".c"):
                continue
            with open(os.path.join(src, name)) as f:
                for m in IFACE_DEF.finditer(f.read()):
                    n = [int(x, 0) for x in m.group(3).split(",")]
                    uuid = struct.pack("<IHH", *n[:3]) + bytes(n[3:])
                    defs[m.group(1)] = (uuid, int(m.group(4)), m.group(2))
        return {defs[o][:2]: (i, defs[o][2]) for i, o in enumerate(order)}
    except (OSError, AttributeError, KeyError, ValueError,
            struct.error) as e:
        print("carve-seeds: no dce_ifaces seeds: dce_ifaces[] not read "
              "(%s)" % e, file=sys.stderr)
        return {}


# fuzz_ndr's program for a stub: reads of each kind over the start of a
# call's arguments (u32, pointer, u32, wstr, align 4, wstr_max, u64,
# 16 bytes, u16, u8); the same bytes run as writes into 64 bytes.
NDR_PROG = bytes([2, 4, 2, 7, 25, 8, 3, 166, 1, 0])


# --- cmd.exe ----------------------------------------------------------------

PROMPT = re.compile(rb"[A-Za-z]:\\[^\r\n>]*>")
CMD_LINE = re.compile(rb"\s*(echo|start|cmd|tftp|ftp|cd|dir|del|copy|net|md)"
                      rb"\b", re.I)
TEXT = re.compile(rb"[\t\r\n\x20-\x7e]+")


def shell_lines(a, b):
    """What a peer typed into a shell, of the two sides a and b, or b""."""
    for lines, other in ((a, b), (b, a)):
        if lines and TEXT.fullmatch(lines) and \
                (PROMPT.search(other) or CMD_LINE.match(lines)):
            return lines
    return b""


def ftp_scripts(lines):
    """The files that echo redirections write and ftp -s: runs."""
    files, scripts = {}, {}
    for part in re.split(rb"[&\r\n]+", lines):
        m = re.fullmatch(rb"\s*echo (.*?)\s*(>>?)\s*(\S+)\s*", part)
        if m:
            text = m.group(1) + b"\n"
            files[m.group(3)] = text if m.group(2) == b">" else \
                files.get(m.group(3), b"") + text
        for name in re.findall(rb"-s:(\S+)", part):
            if name in files:
                scripts[name.decode("latin-1")] = files[name]
    return scripts


# --- Seeds -------------------------------------------------------------------

class Seeds:
    """The seeds written, one file each, none twice in a target."""

    def __init__(self, out):
        self.out, self.seen, self.count = out, set(), {}

    def add(self, target, name, data):
        if len(data) > MAX_SEED or (target, data) in self.seen:
            return
        self.seen.add((target, data))
        os.makedirs(os.path.join(self.out, target), exist_ok=True)
        name = re.sub(r"[^A-Za-z0-9._-]", "_", name)
        with open(os.path.join(self.out, target, name), "wb") as f:
            f.write(data)
        self.count[target] = self.count.get(target, 0) + 1


def smb_kinds(stream):
    """The kinds of message a session sends."""
    kinds = set()
    for t, m in nbss(stream):
        if m[:4] == b"\xffSMB" and len(m) >= 35:
            kind = trans_kind(m) if m[4] in TRANS_CMDS else "%02x" % m[4]
        elif m[:4] == b"\xfeSMB" and len(m) >= 64:
            kind = "smb2-%d" % _u16(m, 12)
        else:
            kind = "nbss-%02x" % t
        kinds.add(kind)
    return kinds


def carve_smb(seeds, name, conn, ifaces, seen):
    """The seeds of a session to 139 or 445.  A large one is left out if
    the sessions before it in its capture sent every kind of message it
    sends (seen): a worm's sessions differ mostly in what the capture
    lost of them, and large seeds slow a short run down."""
    cs = conn.stream(conn.client, nbss_frame)
    ss = conn.stream(conn.server, nbss_frame)
    if not cs:
        return
    kinds = smb_kinds(cs)
    if len(cs) > LARGE_SESSION and kinds <= seen:
        return
    seen |= kinds
    port = 1 if conn.server[1] == 139 else 0
    for piece in (0, 7):
        seeds.add("smb1", "%s-p%d" % (name, piece),
                  bytes([piece, port]) + cs[:MAX_SEED - 2])
    msgs = smb1_msgs(cs)
    recs = [(m, trans_record(m)) for m in msgs]
    recs = [(m, r) for m, r in recs if r is not None]
    if recs:
        run = b""
        for _, r in recs:
            if len(run) + len(r) > MAX_SEED - 1:
                break
            run += r
        for piece in (0, 7):
            seeds.add("smb1_trans", "%s-p%d" % (name, piece),
                      bytes([piece]) + run)
        kinds = set()
        for i, (m, r) in enumerate(recs):
            if trans_kind(m) not in kinds or i == len(recs) - 1:
                kinds.add(trans_kind(m))
                seeds.add("smb1_trans", "%s-%d-%s" % (name, i, trans_kind(m)),
                          b"\0" + r)
    msgs2 = smb2_msgs(cs)
    if msgs2:
        # fuzz_smb2's messages: each NBSS message, SMB1 ones too (the
        # multi-protocol negotiate), a compound whole.
        host = bytes([smb2_host(msgs2)])
        frames = [m for t, m in nbss(cs) if t == 0 and len(m) < 65536]
        seeds.add("smb2", name, host + b"".join(
            struct.pack("<H", len(m)) + m for m in frames)[:MAX_SEED - 1])
        for i, m in enumerate(m for m in frames if m[:4] == b"\xfeSMB"):
            seeds.add("smb2", "%s-%d" % (name, i),
                      host + struct.pack("<H", len(m)) + m)
    blobs = security_blobs(cs)
    if blobs:
        seeds.add("ntlm", name, pair(blobs[0], blobs[1:2]))
        # What the server challenged with, as if a client sent it.
        answers = security_blobs(ss, True)
        if answers:
            seeds.add("ntlm", name + "-challenge", pair(blobs[0], answers[:1]))
        hint = server_hint(ss)
        if hint:
            seeds.add("ntlm", name + "-hint", pair(hint, blobs[:1]))
    for fid, data in sorted(pipe_writes(cs).items()):
        carve_dce(seeds, "%s-fid%04x" % (name, fid), data, True, ifaces)


def pair(first, rest):
    """Two blobs as fuzz_ntlm's input: a cut byte, then both."""
    if len(first) > 255:
        return b"\0" + first        # too long to cut: the second alone
    return bytes([len(first)]) + first + b"".join(rest)


def carve_dce(seeds, name, stream, pipe, ifaces):
    """The seeds of a DCERPC stream: the endpoint's and its calls'."""
    pdus = dce_pdus(stream)
    if not pdus or pdus[0][2] not in (11, 14):
        return
    whole = b"".join(pdus)[:MAX_SEED - 1]
    # fuzz_dcerpc's first byte: 1 a pipe, 2 written at once, 4 read at
    # the end only.
    for suffix, flags, data in (("-bind", 0, pdus[0]),
                                ("-bind-late", 4, pdus[0]),
                                ("", 0, whole), ("-whole", 2, whole),
                                ("-pipe", 1, whole),
                                ("-pipe-whole", 3, whole)):
        seeds.add("dcerpc", name + suffix, bytes([flags]) + data)
    for i, (uuid, major, opnum, stub) in enumerate(dce_calls(pdus)):
        seeds.add("ndr", "%s-%d-op%d" % (name, i, opnum),
                  bytes([len(NDR_PROG), 64]) + NDR_PROG + stub)
        if (uuid, major) in ifaces:
            idx, iname = ifaces[(uuid, major)]
            seeds.add("dce_ifaces", "%s-%s-%d" % (name, iname, opnum),
                      bytes([idx | (0x80 if pipe else 0)]) +
                      struct.pack("<H", opnum) + stub)


def carve(path, seeds, ifaces):
    """The seeds of each TCP connection of a capture."""
    stem = os.path.splitext(os.path.basename(path))[0]
    seen = set()
    for i, conn in enumerate(pcapcarve.connections(path)):
        name = "%s-%d" % (stem, i)
        cs, ss = conn.stream(conn.client), conn.stream(conn.server)
        if conn.server[1] in SMB_PORTS:
            carve_smb(seeds, name, conn, ifaces, seen)
        elif cs[:1] == b"\x05":
            carve_dce(seeds, name, conn.stream(conn.client, dce_frame), False,
                      ifaces)
        lines = shell_lines(cs, ss)
        if lines:
            seeds.add("cmd", name, lines)
            for script, text in ftp_scripts(lines).items():
                seeds.add("ftp", "%s-%s" % (name, script), text)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("-c", "--corpora",
                    default=os.path.join(ROOT, "..", "shared", "corpora"),
                    help="the corpora folder (default ../shared/corpora)")
    ap.add_argument("out", help="the folder to write OUT/TARGET/NAME into")
    args = ap.parse_args()
    pcaps = os.path.join(args.corpora, "pcaps")
    if not os.path.isdir(pcaps):
        sys.exit("carve-seeds: %s: no such folder" % pcaps)
    seeds, ifaces = Seeds(args.out), iface_table()
    for sub in sorted(os.listdir(pcaps)):
        for name in sorted(os.listdir(os.path.join(pcaps, sub))):
            path = os.path.join(pcaps, sub, name)
            try:
                carve(path, seeds, ifaces)
            except (OSError, ValueError, struct.error, IndexError) as e:
                print("carve-seeds: %s: %s" % (path, e), file=sys.stderr)
    print("carve-seeds: " + ", ".join("%s %d" % kv
                                      for kv in sorted(seeds.count.items())))


if __name__ == "__main__":
    main()
