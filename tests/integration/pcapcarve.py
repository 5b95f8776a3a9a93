"""Carves what one side of a TCP stream sent out of a pcap capture.

For tests that serve, from a local server, the file a real attack
fetched: the Honeynet capture's FTP data stream holds ssms.exe.  Classic
pcap (little or big endian), Ethernet and IPv4 only; segments are placed
by sequence number, so retransmissions and reordering do no harm.
"""
import ipaddress
import struct


def _packets(path):
    data = open(path, "rb").read()
    magic = data[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        end = "<"
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        end = ">"
    else:
        raise ValueError(f"{path}: not a classic pcap file")
    linktype = struct.unpack(end + "I", data[20:24])[0]
    if linktype != 1:
        raise ValueError(f"{path}: link type {linktype}, not Ethernet")
    off = 24
    while off + 16 <= len(data):
        incl = struct.unpack(end + "I", data[off + 8:off + 12])[0]
        yield data[off + 16:off + 16 + incl]
        off += 16 + incl


def tcp_stream(path, src, sport, dst, dport):
    """The bytes src:sport sent to dst:dport, in sequence order."""
    src, dst = ipaddress.ip_address(src), ipaddress.ip_address(dst)
    segs = {}
    isn = None
    for frame in _packets(path):
        if len(frame) < 14 or frame[12:14] != b"\x08\x00":
            continue
        ip = frame[14:]
        ihl = (ip[0] & 0x0F) * 4
        total = struct.unpack(">H", ip[2:4])[0]
        if ip[9] != 6 or ipaddress.ip_address(ip[12:16]) != src or \
                ipaddress.ip_address(ip[16:20]) != dst:
            continue
        tcp = ip[ihl:total]
        sp, dp, seq = struct.unpack(">HHI", tcp[:8])
        if sp != sport or dp != dport:
            continue
        doff = (tcp[12] >> 4) * 4
        flags = tcp[13]
        if flags & 0x02:                    # SYN: the payload starts after
            isn = (seq + 1) & 0xFFFFFFFF
            continue
        payload = tcp[doff:]
        if payload:
            segs[seq] = payload
    if isn is None:
        raise ValueError("stream without its SYN")
    out = bytearray()
    for seq in sorted(segs, key=lambda s: (s - isn) & 0xFFFFFFFF):
        rel = (seq - isn) & 0xFFFFFFFF
        p = segs[seq]
        if rel + len(p) <= len(out):
            continue
        if rel > len(out):
            raise ValueError(f"hole in the stream at {len(out)}")
        out += p[len(out) - rel:]
    return bytes(out)
