"""DCERPC over TCP (ports 135, 1025, MSMQ, MSDTC) against a running sensor:
impacket's rpcdump, replays of benign captures, garbage, and shellcode
aimed at an interface the host does not serve."""
import re
import struct
import subprocess
import uuid

from conftest import CORPORA, SUNDEW, closed_by_peer, connect, needs_corpus

PCAPS = CORPORA / "pcaps" / "protocol"
SC = CORPORA / "shellcode"
RPCDUMP = "/usr/share/doc/python3-impacket/examples/rpcdump.py"
EPM = "e1af8308-5d1f-11c9-91a4-08002b14a0fa"
NDR = uuid.UUID("8a885d04-1ceb-11c9-9fe8-08002b104860").bytes_le
DRSUAPI = "e3514235-4b06-11d1-ab04-00c04fc2dcd2"
SYSACT = "000001a0-0000-0000-c000-000000000046"


def replay(pcap, *args):
    return subprocess.run([str(SUNDEW), "replay", str(pcap), "--to", "127.0.0.1",
                           *args], capture_output=True, text=True, timeout=120)


def pdu(ptype, body, call_id=1, flags=3):
    return struct.pack("<BBBBIHHI", 5, 0, ptype, flags, 0x10, 16 + len(body),
                       0, call_id) + body


def bind(iface, major, call_id=1):
    item = struct.pack("<HBB", 0, 1, 0) + uuid.UUID(iface).bytes_le + \
        struct.pack("<HH", major, 0) + NDR + struct.pack("<I", 2)
    return pdu(11, struct.pack("<HHIB3x", 5840, 5840, 0, 1) + item, call_id)


def request(opnum, stub, call_id=2, flags=3):
    return pdu(0, struct.pack("<IHH", len(stub), 0, opnum) + stub, call_id,
               flags)


def recv_pdu(s):
    """One PDU from the sensor: (type, the whole PDU)."""
    head = b""
    while len(head) < 16:
        head += s.recv(16 - len(head))
    n = struct.unpack_from("<H", head, 8)[0]
    data = head
    while len(data) < n:
        data += s.recv(n - len(data))
    return data[2], data


def ack_results(ack):
    """A bind_ack's secondary address and (result, reason) of each item."""
    n = struct.unpack_from("<H", ack, 24)[0]
    sec = ack[26:26 + n].rstrip(b"\0").decode()
    off = (26 + n + 3) & ~3
    count = ack[off]
    return sec, [struct.unpack_from("<HH", ack, off + 4 + 24 * i)
                 for i in range(count)]


def dcerpc_events(d, **match):
    return [(e["dcerpc"], e.get("uuid"), e.get("version"), e.get("opnum"),
             e.get("size"))
            for e in d.events("sundew.request", emulator="dcerpc", **match)]


def test_rpcdump_lists_endpoints(sundew):
    d = sundew()
    r = subprocess.run(["/usr/bin/python3", RPCDUMP, "127.0.0.1", "-port", "135"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    m = re.search(r"Received (\d+) endpoints", r.stdout)
    assert m, r.stdout
    # Every entry the mapper sent is one binding that rpcdump printed.
    bindings = re.findall(r"^ {10}(ncacn_\S+)$", r.stdout, re.M)
    assert len(bindings) == int(m.group(1)) and len(bindings) >= 5
    # The services a Windows host of the time registers, where it does.
    assert "ncacn_np:\\\\ACCOUNTING-PC3[\\PIPE\\srvsvc]" in bindings
    assert "ncacn_ip_tcp:127.0.0.1[1025]" in bindings
    assert re.search(r"UUID    : 906B0CE0-C70B-1067-B317-00DD010662DA v1.0 \n"
                     r"Bindings: \n {10}ncacn_ip_tcp:127.0.0.1\[3372\]",
                     r.stdout), r.stdout
    d.wait_events("sundew.connection.close", dst_port=135)
    d.stop()
    # One bind of the endpoint mapper, one ept_lookup (opnum 2).
    assert dcerpc_events(d) == [("bind", EPM, 3, None, None),
                                ("request", EPM, 3, 2, 40)]
    close = d.events("sundew.connection.close", dst_port=135)
    assert [c["reason"] for c in close] == ["peer_closed"]


def test_rpcdump_over_the_epmapper_pipe(sundew):
    """The same endpoint behind SMB's \\pipe\\epmapper: the mapper says
    the same over 445 as over 135."""
    d = sundew()
    out = {}
    for port in (135, 445):
        r = subprocess.run(["/usr/bin/python3", RPCDUMP, "127.0.0.1", "-port",
                            str(port)], capture_output=True, text=True,
                           timeout=60)
        assert r.returncode == 0, r.stdout + r.stderr
        out[port] = r.stdout.split("\n", 2)[2]
    assert out[135] == out[445] and "Received" in out[445]
    d.wait_events("sundew.connection.close", dst_port=445)
    d.stop()
    reqs = d.events("sundew.request", emulator="dcerpc", dst_port=445)
    assert [(e["dcerpc"], e["uuid"], e["pipe"]) for e in reqs] == \
        [("bind", EPM, "\\epmapper"), ("request", EPM, "\\epmapper")]


@needs_corpus(PCAPS)
def test_replay_bind_alter_context_drsuapi(sundew):
    # The capture's server listened on 1024.
    d = sundew(["services.dcerpc.ports=[135,1024]"])
    r = replay(PCAPS / "zeek_dcerpc-bind-altercontext-drsuapi.pcap")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "summary: 1 played, 0 failed" in r.stdout, r.stdout
    d.wait_events("sundew.connection.close", dst_port=1024)
    d.stop()
    # Three context items, an alter_context, then DsBind, DsCrackNames
    # and DsUnbind: an interface the host does not serve (faults), the
    # requests still named.  Their stubs come without the Kerberos
    # verifier and its padding (as tshark counts them: frag_length 252,
    # 236, 140 less the header, 76 + 8 of verifier, 4, 10, 12 of padding).
    assert dcerpc_events(d, dst_port=1024) == \
        [("bind", DRSUAPI, 4, None, None)] * 3 + \
        [("alter_context", DRSUAPI, 4, None, None)] + \
        [("request", DRSUAPI, 4, op, size)
         for op, size in ((0, 140), (12, 118), (1, 20))]
    assert [c["reason"] for c in d.events("sundew.connection.close",
                                          dst_port=1024)] == ["peer_closed"]
    assert d.events("sundew.exploit.detected") == []


@needs_corpus(PCAPS)
def test_replay_isystemactivator_kerberos(sundew):
    d = sundew()
    r = replay(PCAPS / "zeek_dcerpc-tcp135-ISystemActivator-RemoteCreateInstance.pcapng")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "summary: 1 played, 0 failed" in r.stdout, r.stdout
    d.wait_events("sundew.connection.close", dst_port=135)
    d.stop()
    # Two context items (NDR, bind time features) with a Kerberos auth
    # verifier, an alter_context, RemoteCreateInstance (opnum 4).
    assert dcerpc_events(d, dst_port=135) == \
        [("bind", SYSACT, 0, None, None)] * 2 + \
        [("alter_context", SYSACT, 0, None, None),
         ("request", SYSACT, 0, 4, 800)]
    assert [c["reason"] for c in d.events("sundew.connection.close",
                                          dst_port=135)] == ["peer_closed"]
    assert d.events("sundew.exploit.detected") == []


def test_garbage_ends_that_session_only(sundew):
    d = sundew()
    s = connect(135, src="127.0.0.5")
    s.sendall(b"GET / HTTP/1.0\r\n\r\n")
    assert closed_by_peer(s, 5)
    s.close()
    # The next session binds and is answered.
    s = connect(135, src="127.0.0.6")
    s.sendall(bind(EPM, 3))
    ptype, ack = recv_pdu(s)
    assert ptype == 12
    assert ack_results(ack) == ("135", [(0, 0)])
    s.close()
    d.wait_events("sundew.connection.close", src_ip="127.0.0.6")
    d.stop()
    assert [c["reason"] for c in d.events("sundew.connection.close",
                                          src_ip="127.0.0.5")] == \
        ["protocol_error"]
    assert [c["reason"] for c in d.events("sundew.connection.close",
                                          src_ip="127.0.0.6")] == \
        ["peer_closed"]


def test_msmq_and_msdtc_ports(sundew):
    d = sundew()
    # The interface bound decides what a port speaks; the secondary
    # address is the port itself.
    for port, iface in ((2103, "fdb3a030-065f-11d1-bb9b-00a024ea5525"),
                        (2107, "fdb3a030-065f-11d1-bb9b-00a024ea5525"),
                        (3372, "906b0ce0-c70b-1067-b317-00dd010662da")):
        s = connect(port)
        s.sendall(bind(iface, 1) + bind("11223344-5566-7788-99aa-bbccddeeff00",
                                         1, call_id=2))
        ptype, ack = recv_pdu(s)
        assert ptype == 12
        assert ack_results(ack) == (str(port), [(0, 0)])
        # An interface the host does not serve: abstract syntax rejected.
        ptype, ack = recv_pdu(s)
        assert ack_results(ack)[1] == [(2, 1)]
        s.close()
    d.wait_events("sundew.connection.close", count=3)
    d.stop()
    # Sessions on different sensors: their events interleave in any order.
    binds = d.events("sundew.request", dcerpc="bind")
    assert sorted((b["port"], b["uuid"]) for b in binds) == [
        (2103, "11223344-5566-7788-99aa-bbccddeeff00"),
        (2103, "fdb3a030-065f-11d1-bb9b-00a024ea5525"),
        (2107, "11223344-5566-7788-99aa-bbccddeeff00"),
        (2107, "fdb3a030-065f-11d1-bb9b-00a024ea5525"),
        (3372, "11223344-5566-7788-99aa-bbccddeeff00"),
        (3372, "906b0ce0-c70b-1067-b317-00dd010662da")]
    assert {b["service"] for b in binds} == {"msmq", "msdtc"}


@needs_corpus(SC)
def test_shellcode_to_an_unknown_interface_is_analysed(sundew):
    """An exploit of an interface nobody knows: its request, in three
    fragments split across TCP writes, is answered with a fault and its
    stub reaches the analyser whole."""
    shellcode = (SC / "libemu_09_some-old-dcom-shellcode.bin").read_bytes()
    stub = b"\x90" * 64 + shellcode
    third = len(stub) // 3
    frags = [request(0, stub[:third], flags=1),
             request(0, stub[third:2 * third], flags=0),
             request(0, stub[2 * third:], flags=2)]
    d = sundew()
    s = connect(135, src="127.0.0.9")
    s.sendall(bind("deadbeef-0000-1111-2222-333344445555", 1))
    ptype, ack = recv_pdu(s)
    assert ack_results(ack)[1] == [(2, 1)]
    stream = b"".join(frags)
    for i in range(0, len(stream), 100):
        s.sendall(stream[i:i + 100])
    ptype, fault = recv_pdu(s)
    assert ptype == 3
    assert struct.unpack_from("<I", fault, 24)[0] == 0x1c010003
    ev = d.wait_events("sundew.shellcode.detected", src_ip="127.0.0.9",
                       timeout=20)[0]
    s.close()
    d.stop()
    assert {"action": "bind_shell", "port": 4444} == \
        {k: ev["actions"][0][k] for k in ("action", "port")}
    reqs = d.events("sundew.request", dcerpc="request", src_ip="127.0.0.9")
    assert [(r["uuid"], r["opnum"], r["size"]) for r in reqs] == \
        [("deadbeef-0000-1111-2222-333344445555", 0, len(stub))]
    assert d.events("sundew.exploit.detected") == []
