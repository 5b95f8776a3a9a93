"""Reads the TCP connections out of a packet capture.

For two users: tests that serve, from a local server, the file a real
attack fetched (tcp_stream: the Honeynet capture's FTP data stream holds
ssms.exe), and scripts/carve-seeds.py, which carves fuzz seeds out of
the captures in ../shared/corpora (connections).  Standard library only.

Captures: pcap (little or big endian) and pcapng; Ethernet (VLAN tags),
Linux cooked (v1 and v2), raw IP and BSD loopback; IPv4 (fragments left
out) and IPv6, TCP.  A direction is put together by sequence number, so
retransmissions and reordering do no harm: a retransmission adds only
the bytes it adds.  Where the capture lost segments, Conn.stream can
take what follows the hole up again at the next message that starts
whole; tcp_stream takes no stream with a hole.
"""
import ipaddress
import struct

# Of a connection begun before the capture, the side on one of these
# ports is the server (connections).
SERVER_PORTS = (21, 80, 135, 139, 445)


def _pcap(data):
    """(link type, frame) of each packet of a classic pcap file."""
    if data[:4] in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        end = "<"
    elif data[:4] in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        end = ">"
    else:
        raise ValueError("neither pcap nor pcapng")
    link = struct.unpack(end + "I", data[20:24])[0] & 0xFFFF
    off = 24
    while off + 16 <= len(data):
        incl = struct.unpack(end + "I", data[off + 8:off + 12])[0]
        if off + 16 + incl > len(data):
            break                       # the last packet cut short
        yield link, data[off + 16:off + 16 + incl]
        off += 16 + incl


def _pcapng(data):
    """(link type, frame) of each packet of a pcapng file."""
    end, links, off = "<", [], 0
    while off + 12 <= len(data):
        if data[off:off + 4] == b"\x0a\x0d\x0d\x0a":
            # A section header: its byte order and interfaces are new.
            end = "<" if data[off + 8:off + 12] == b"\x4d\x3c\x2b\x1a" \
                else ">"
            links = []
        btype, blen = struct.unpack(end + "II", data[off:off + 8])
        if blen < 12 or off + blen > len(data):
            break
        body = data[off + 8:off + blen - 4]
        off += blen
        if btype == 1 and len(body) >= 2:               # interface
            links.append(struct.unpack(end + "H", body[:2])[0])
        elif btype in (2, 6) and len(body) >= 20:       # (enhanced) packet
            ifid = struct.unpack(end + ("I" if btype == 6 else "H"),
                                 body[:4 if btype == 6 else 2])[0]
            caplen = struct.unpack(end + "I", body[12:16])[0]
            if ifid < len(links):
                yield links[ifid], body[20:20 + caplen]
        elif btype == 3 and len(body) >= 4 and links:   # simple packet
            caplen = struct.unpack(end + "I", body[:4])[0]
            yield links[0], body[4:4 + caplen]


def _ip(link, frame):
    """The IP packet in a frame, or None."""
    if link == 1:                                       # Ethernet
        off = 12
        while frame[off:off + 2] in (b"\x81\x00", b"\x88\xa8", b"\x91\x00"):
            off += 4
        if frame[off:off + 2] not in (b"\x08\x00", b"\x86\xdd"):
            return None
        return frame[off + 2:]
    if link == 113:                                     # Linux cooked
        return frame[16:] if frame[14:16] in (b"\x08\x00", b"\x86\xdd") \
            else None
    if link == 276:                                     # Linux cooked v2
        return frame[20:] if frame[0:2] in (b"\x08\x00", b"\x86\xdd") \
            else None
    if link in (101, 12, 14, 228, 229):                 # raw IP
        return frame
    if link in (0, 108):                                # BSD loopback
        return frame[4:]
    return None


def _tcp(pkt):
    """(source, destination, TCP segment) of an IP packet, or None."""
    if len(pkt) < 20:
        return None
    if pkt[0] >> 4 == 4:
        ihl = (pkt[0] & 15) * 4
        total = struct.unpack(">H", pkt[2:4])[0] or len(pkt)
        # A fragment is left out: these captures have none to speak of.
        if ihl < 20 or pkt[9] != 6 or \
                struct.unpack(">H", pkt[6:8])[0] & 0x3FFF:
            return None
        return pkt[12:16], pkt[16:20], pkt[ihl:total]
    if pkt[0] >> 4 == 6 and len(pkt) >= 40:
        nh, off = pkt[6], 40
        end = 40 + struct.unpack(">H", pkt[4:6])[0] if pkt[4:6] != b"\0\0" \
            else len(pkt)
        while nh in (0, 43, 60) and off + 2 <= len(pkt):
            nh, off = pkt[off], off + (pkt[off + 1] + 1) * 8
        if nh != 6:
            return None
        return pkt[8:24], pkt[24:40], pkt[off:end]
    return None


class Conn:
    """A TCP connection: the segments each side sent, by direction."""

    def __init__(self, client, server):
        self.client, self.server = client, server       # (addr, port)
        self.isn = {}                   # side -> the first byte's seq
        self.segs = {client: [], server: []}
        self.closed = False

    def spans(self, side):
        """What side sent, in sequence order: the runs between holes, each
        as (offset from the first byte, run)."""
        segs = self.segs[side]
        base = self.isn.get(side)
        if base is None and segs:
            # No SYN: the earliest sequence number is the start.
            base = segs[0][0]
            for seq, _ in segs:
                if (base - seq) & 0xFFFFFFFF < 0x80000000:
                    base = seq
        runs, out, end = [], bytearray(), 0
        for rel, p in sorted((((s - base) & 0xFFFFFFFF, p) for s, p in segs),
                             key=lambda x: x[0]):
            if rel >= 0x80000000:
                continue                # before the start: a stray segment
            if rel > end:
                if out:
                    runs.append((end - len(out), bytes(out)))
                out, end = bytearray(), rel
            if rel + len(p) > end:
                out += p[end - rel:]
                end = rel + len(p)
        if out:
            runs.append((end - len(out), bytes(out)))
        return runs

    def runs(self, side):
        """What side sent, in sequence order: the runs between holes."""
        return [run for _, run in self.spans(side)]

    def stream(self, side, frame=None):
        """What side sent.  Across a hole, with frame (the length of the
        frame at an offset, or None), whole frames only: each run from
        the first frame that starts in it, the frame a hole cuts left
        out; without frame, up to the first hole."""
        runs = self.runs(side)
        if len(runs) <= 1 or frame is None:
            return runs[0] if runs else b""
        out = bytearray()
        for k, run in enumerate(runs):
            off = 0
            if k or side not in self.isn:
                while off < len(run) and frame(run, off, True) is None:
                    off += 1
            while off < len(run):
                n = frame(run, off, False)
                if n is None or off + n > len(run):
                    break
                out += run[off:off + n]
                off += n
        return bytes(out)


def connections(path):
    """The TCP connections of a capture, in the order they began."""
    with open(path, "rb") as f:
        data = f.read()
    packets = _pcapng(data) if data[:4] == b"\x0a\x0d\x0d\x0a" \
        else _pcap(data)
    conns, by_key = [], {}
    for link, frame in packets:
        pkt = _ip(link, frame)
        t = _tcp(pkt) if pkt is not None else None
        if t is None or len(t[2]) < 20:
            continue
        src, dst, seg = t
        sport, dport, seq = struct.unpack(">HHI", seg[:8])
        flags, doff = seg[13], (seg[12] >> 4) * 4
        a, b = (src, sport), (dst, dport)
        key = frozenset((a, b))
        c = by_key.get(key)
        if flags & 0x12 == 0x02:        # SYN: a client begins
            if c is None or c.isn.get(a) != (seq + 1) & 0xFFFFFFFF and \
                    (c.closed or c.segs[a] or c.segs[b]):
                c = by_key[key] = Conn(a, b)
                conns.append(c)
            c.isn[a] = (seq + 1) & 0xFFFFFFFF
            continue
        if c is None:
            # Begun before the capture: the server is the side on a
            # port of SERVER_PORTS, else the one on the lower port.
            if (dport in SERVER_PORTS) != (sport in SERVER_PORTS):
                to_b = dport in SERVER_PORTS
            else:
                to_b = dport <= sport
            c = by_key[key] = Conn(a, b) if to_b else Conn(b, a)
            conns.append(c)
        if flags & 0x02:                # SYN-ACK
            c.isn[a] = (seq + 1) & 0xFFFFFFFF
            continue
        if flags & 0x05:                # FIN, RST: a SYN after it is new
            c.closed = True
        if len(seg) > doff:
            c.segs[a].append((seq, seg[doff:]))
    return conns


def tcp_stream(path, src, sport, dst, dport):
    """The bytes src:sport sent to dst:dport, in sequence order, in the
    first connection between them where src sent a SYN (or SYN-ACK); a
    hole in them is a ValueError."""
    a = (ipaddress.ip_address(src).packed, sport)
    b = (ipaddress.ip_address(dst).packed, dport)
    for c in connections(path):
        if {c.client, c.server} == {a, b} and a in c.isn:
            out = b""
            for at, run in c.spans(a):
                if at != len(out):
                    raise ValueError(f"hole in the stream at {len(out)}")
                out += run
            return out
    raise ValueError("stream without its SYN")
