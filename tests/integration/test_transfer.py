"""Nepenthes' file transfers, end to end: real shellcode from the corpus
sent as an attacker would (the payload of a connection to a generic port,
left open), the sensor carrying out what the code asks, and a local test
server or client at the other end.

- link (libemu_12, the linkbot connect-back): the sensor connects to
  62.47.217.254:15385 (download.connect_to sends it to a server here),
  the server speaks first (its second stage), the sensor answers the key
  the shellcode hands that stage, exactly acac0685, then the file comes;
  a server that waits for the key gets it after 3 s of silence.
- csend (libemu_14, halle): a 4-byte little-endian length, then the file.
- bind file transfer (libemu_11, amberg): the sensor listens on 44028 and
  takes what the first peer pushes until it closes.
- blink (no corpus file has one: a Linux stager assembled by hand, the
  same bytes as test_sc_emu.c's): the sensor listens on 38963, the peer
  speaks first, the sensor answers the key d00dfeed, the file follows.

The file is stored under its sha256 and the events tell it under the
exploit's session id.  A file over download.max_size is refused (nothing
stored), one of exactly that size is stored, and one that the store is
too far behind to take fails as store_behind; a bind on a port already
in use is reported.
"""
import hashlib
import os
import signal
import socket
import struct
import threading
import time

from conftest import (CORPORA, GENERIC_PORT, connect, needs_corpus, sample,
                      wait_for)

SC = CORPORA / "shellcode"
LINKBOT = SC / "libemu_12_lindau-linkbot-connectback-version.bin"
CSEND = SC / "libemu_14_halle-filetransferr-via-csend.bin"
AMBERG = SC / "libemu_11_amberg.bin"

LINK_KEY = bytes.fromhex("acac0685")      # mov edi, 0x8506acac in the code
# bind 38963, listen, accept, recv 0x200 into the stack, mov edi, key; jmp ebp
BLINK = bytes.fromhex(
    "31dbf7e35343536a0289e1b066cd8089c65266689833666a0289e16a10515689e1"
    "436a6658cd806a015689e1b3046a6658cd8052525689e1b3056a6658cd8081ec00"
    "02000089e5526800020000555089e1b30a6a6658cd80bfd00dfeedffe5")
BLINK_KEY = bytes.fromhex("d00dfeed")
STAGE2 = b"\x90" * 200 + b"\xcc"          # what a linkbot sends first

corpus = needs_corpus(SC)


class Server:
    """A TCP server on 127.0.0.1 for one peer, talking in a thread: what
    it received is kept in .got, whether a peer came in .peers."""

    def __init__(self, talk):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(4)
        self.sock.settimeout(30)
        self.port = self.sock.getsockname()[1]
        self.talk = talk
        self.got = b""
        self.peers = 0
        self.error = None
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        try:
            c, _ = self.sock.accept()
            self.peers += 1
            c.settimeout(20)
            with c:
                self.talk(self, c)
        except Exception as e:      # reported by the test
            self.error = e
        finally:
            self.sock.close()

    def recv_exactly(self, c, n):
        while len(self.got) < n:
            part = c.recv(n - len(self.got))
            if not part:
                break
            self.got += part
        return self.got

    def join(self):
        self.thread.join(30)
        assert not self.thread.is_alive(), "the test server is still talking"
        assert self.error is None, self.error


def send_exploit(path):
    """The shellcode (a corpus file, or bytes) as the payload of a
    connection, left open."""
    s = connect(GENERIC_PORT)
    s.sendall(path if isinstance(path, bytes) else path.read_bytes())
    return s


def connect_when_listening(port):
    def attempt():
        try:
            return connect(port, timeout=2)
        except OSError:
            return None
    return wait_for(attempt, 10, f"the sensor to listen on {port}")


def exploit_session(d, s):
    """The session of connection s, as the sensor logged it."""
    port = s.getsockname()[1]
    return d.wait_events("sundew.connection.open", src_port=port)[0]["session"]


def exploit_to_server(sundew, talk, code, target, options=()):
    """A Server that runs talk, a daemon (with options) whose
    download.connect_to sends target, the HOST:PORT in code, to it, and
    code sent as an exploit.  Once the server is done: the daemon, the
    exploit's session, the server and the exploit's socket."""
    srv = Server(talk)
    d = sundew([*options,
                f"download.connect_to={target}:127.0.0.1:{srv.port}"])
    s = send_exploit(code)
    session = exploit_session(d, s)
    srv.join()
    return d, session, srv, s


def stored(d, data):
    return d.data / "binaries" / hashlib.sha256(data).hexdigest()


def assert_stored(d, session, url, data):
    """Offer, download.complete, file stored, in that order and once
    each, all under the exploit's session; the file on disk."""
    sha = hashlib.sha256(data).hexdigest()
    st = d.wait_events("sundew.file.stored", session=session, kind="binary",
                       timeout=20)
    assert [(e["sha256"], e["size"], e["kind"], e["origin"], e["url"])
            for e in st] == [(sha, len(data), "binary", "transfer", url)]
    assert stored(d, data).read_bytes() == data
    offers = d.events("sundew.download.offer", session=session)
    assert [(e["url"], e["origin"]) for e in offers] == [(url, "transfer")]
    complete = d.events("sundew.download.complete", session=session)
    assert [(e["sha256"], e["md5"], e["url"], e["origin"], e["size"],
             e["duplicate"]) for e in complete] == \
        [(sha, hashlib.md5(data).hexdigest(), url, "transfer", len(data),
          False)]
    assert offers[0]["id"] < complete[0]["id"] < st[0]["id"]
    assert d.events("sundew.download.failed", session=session) == []


@corpus
def test_linkbot_link_sends_the_key_and_stores_the_file(sundew):
    data = sample(70000, "link")

    def talk(srv, c):
        c.sendall(STAGE2)
        if srv.recv_exactly(c, 4) == LINK_KEY:
            c.sendall(data)

    d, session, srv, s = exploit_to_server(sundew, talk, LINKBOT,
                                           "62.47.217.254:15385")
    assert srv.got == LINK_KEY          # exactly the key, nothing more
    assert_stored(d, session, "link://62.47.217.254:15385/rKwGhQ==", data)
    s.close()


@corpus
def test_link_peer_that_waits_for_the_key_gets_it(sundew):
    """A server that speaks only after the key (unlike a linkbot, which
    sends its second stage first) has it after 3 s of silence, and all
    it sends after is the file."""
    data = sample(20000, "link-quiet")

    def talk(srv, c):
        start = time.monotonic()
        if srv.recv_exactly(c, 4) == LINK_KEY:
            srv.waited = time.monotonic() - start
            c.sendall(data)

    d, session, srv, s = exploit_to_server(sundew, talk, LINKBOT,
                                           "62.47.217.254:15385")
    assert srv.got == LINK_KEY
    assert 2.5 < srv.waited < 6
    assert_stored(d, session, "link://62.47.217.254:15385/rKwGhQ==", data)
    s.close()


@corpus
def test_csend_reads_the_length_then_the_file(sundew):
    data = sample(50000, "csend")

    def talk(srv, c):
        # In pieces, the length split too, as a slow peer would send it.
        wire = struct.pack("<I", len(data)) + data
        sent = 0
        for cut in (2, 3, 1000, 20000, len(wire)):
            c.sendall(wire[sent:cut])
            sent = cut
            time.sleep(0.05)
        # The file is whole at the announced length: the sensor closes.
        srv.got = c.recv(1)

    d, session, srv, s = exploit_to_server(sundew, talk, CSEND,
                                           "70.228.36.118:11805")
    assert srv.got == b""               # csend sends nothing; then it closed
    assert_stored(d, session, "csend://70.228.36.118:11805/4", data)
    s.close()


@corpus
def test_amberg_bind_transfer_takes_what_the_peer_pushes(sundew):
    data = sample(30000, "amberg")
    d = sundew()
    s = send_exploit(AMBERG)
    session = exploit_session(d, s)

    p = connect_when_listening(44028)
    p.sendall(data)
    p.shutdown(socket.SHUT_WR)
    assert p.recv(1) == b""
    p.close()
    assert_stored(d, session, "creceive://127.0.0.1:44028/0", data)
    # One peer: the port is closed once it came.
    try:
        connect(44028, timeout=2).close()
        raise AssertionError("44028 still listens after its peer")
    except ConnectionRefusedError:
        pass
    s.close()


def test_blink_answers_the_key_to_its_peer(sundew):
    data = sample(40000, "blink")
    d = sundew()
    s = send_exploit(BLINK)
    session = exploit_session(d, s)
    p = connect_when_listening(38963)
    p.sendall(STAGE2)
    p.settimeout(10)
    key = b""
    while len(key) < 4:
        part = p.recv(4 - len(key))
        assert part, "closed before the key"
        key += part
    assert key == BLINK_KEY
    p.sendall(data)
    p.shutdown(socket.SHUT_WR)
    assert p.recv(1) == b""     # nothing after the key
    p.close()
    assert_stored(d, session, "blink://127.0.0.1:38963/0A3+7Q==", data)
    s.close()


@corpus
def test_transfer_over_max_size_is_refused_and_nothing_stored(sundew):
    data = sample(5000, "big")

    def talk_link(srv, c):
        c.sendall(STAGE2)
        if srv.recv_exactly(c, 4) == LINK_KEY:
            try:
                c.sendall(data)
            except OSError:     # the sensor closes at the cap
                pass

    def talk_csend(srv, c):
        c.sendall(struct.pack("<I", len(data)))
        srv.got = c.recv(1)     # refused at the length: closed at once

    link, csend = Server(talk_link), Server(talk_csend)
    d = sundew(["download.max_size=4096",
                f"download.connect_to=62.47.217.254:15385:127.0.0.1:{link.port},"
                f"70.228.36.118:11805:127.0.0.1:{csend.port}"])
    s1 = send_exploit(LINKBOT)
    s2 = send_exploit(CSEND)
    sessions = [exploit_session(d, s1), exploit_session(d, s2)]
    link.join()
    csend.join()
    urls = ["link://62.47.217.254:15385/rKwGhQ==", "csend://70.228.36.118:11805/4"]
    for session, url in zip(sessions, urls):
        failed = d.wait_events("sundew.download.failed", session=session)
        assert [(e["url"], e["reason"], e["origin"]) for e in failed] == \
            [(url, "max_size", "transfer")]
    time.sleep(1)
    assert d.events("sundew.file.stored", kind="binary") == []
    assert not stored(d, data).exists()
    s1.close()
    s2.close()


@corpus
def test_transfer_of_exactly_max_size_is_stored(sundew):
    """A file of exactly download.max_size, past a quarter of the 64 MiB
    ring a sensor had before, reaches the store: the ring is sized for
    it."""
    size = 20 * 1024 * 1024
    data = sample(size, "max-size")

    def talk(srv, c):
        c.sendall(struct.pack("<I", len(data)) + data)
        srv.got = c.recv(1)

    d, session, srv, s = exploit_to_server(sundew, talk, CSEND,
                                           "70.228.36.118:11805",
                                           ["download.max_size=20MiB"])
    assert_stored(d, session, "csend://70.228.36.118:11805/4", data)
    s.close()


def blink_on(port):
    """The blink stager, listening on port instead of 38963."""
    code = BLINK.hex()
    assert code.count("66689833") == 1
    return bytes.fromhex(code.replace("66689833", f"6668{port:04x}"))


def test_file_the_ring_cannot_take_fails_as_store_behind(sundew):
    """With the store stopped, a sensor's ring (four files of
    download.max_size) and then its overflow memory (32 MiB) fill: the
    sixth file is lost, and that transfer ends in sundew.download.failed
    reason store_behind, not in silence; the five others are stored once
    the store goes on."""
    data = sample(20 * 1024 * 1024, "store-behind")
    d = sundew(["download.max_size=20MiB", "sensors=1"])
    ports = list(range(38970, 38976))
    exploits = [send_exploit(blink_on(port)) for port in ports]
    sessions = [exploit_session(d, s) for s in exploits]
    peers = [connect_when_listening(port) for port in ports]
    store = d.store_pid()
    os.kill(store, signal.SIGSTOP)
    try:
        for p in peers:
            p.sendall(STAGE2)
            p.settimeout(10)
            key = b""
            while len(key) < 4:
                part = p.recv(4 - len(key))
                assert part, "closed before the key"
                key += part
            p.sendall(data)
            p.shutdown(socket.SHUT_WR)
            assert p.recv(1) == b""     # the transfer ended
            p.close()
    finally:
        os.kill(store, signal.SIGCONT)
    urls = [f"blink://127.0.0.1:{port}/0A3+7Q==" for port in ports]
    failed = d.wait_events("sundew.download.failed", timeout=30)
    assert [(e["session"], e["url"], e["reason"], e["received"])
            for e in failed] == [(sessions[5], urls[5], "store_behind",
                                  len(STAGE2) + len(data))]
    complete = d.wait_events("sundew.download.complete", count=5,
                             timeout=60)
    assert sorted((e["session"], e["url"], e["size"]) for e in complete) \
        == sorted(zip(sessions[:5], urls[:5], [len(data)] * 5))
    assert stored(d, data).read_bytes() == data
    assert "the store is far behind: a record of" in d.log_text()
    for s in exploits:
        s.close()


@corpus
def test_bind_on_a_port_in_use_is_reported(sundew):
    d = sundew()
    busy = socket.socket()
    busy.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    busy.bind(("127.0.0.1", 44028))
    busy.listen(1)
    s = send_exploit(AMBERG)
    session = exploit_session(d, s)
    failed = d.wait_events("sundew.download.failed", session=session)
    assert [(e["url"], e["reason"]) for e in failed] == \
        [("creceive://127.0.0.1:44028/0", "port_in_use")]
    # The port stays the test's: the sensor did not take it over.
    busy.settimeout(0.2)
    try:
        busy.accept()
        raise AssertionError("a peer came to the busy port")
    except socket.timeout:
        pass
    busy.close()
    s.close()


@corpus
def test_time_cap_and_early_close_fail_with_their_reason(sundew):
    """download.timeout caps a transfer: a linkbot that never speaks;
    shell.listen_timeout a bind transfer's wait for a peer that never
    comes; a csend peer closes short of its announced length.  Nothing is
    stored."""
    def silent(srv, c):
        srv.got = c.recv(1)     # the sensor gives up and closes

    def short(srv, c):
        c.sendall(struct.pack("<I", 1000) + b"x" * 10)

    link, csend = Server(silent), Server(short)
    d = sundew(["download.timeout=2s", "shell.listen_timeout=2s",
                f"download.connect_to=62.47.217.254:15385:127.0.0.1:{link.port},"
                f"70.228.36.118:11805:127.0.0.1:{csend.port}"])
    start = time.monotonic()
    conns = [send_exploit(p) for p in (LINKBOT, CSEND, AMBERG)]
    sessions = [exploit_session(d, s) for s in conns]
    want = [("link://62.47.217.254:15385/rKwGhQ==", "timeout", 0),
            ("csend://70.228.36.118:11805/4", "closed_early", 14),
            ("creceive://127.0.0.1:44028/0", "no_peer", 0)]
    for session, w in zip(sessions, want):
        failed = d.wait_events("sundew.download.failed", session=session)
        assert [(e["url"], e["reason"], e["received"]) for e in failed] == [w]
    assert 2 <= time.monotonic() - start < 8
    link.join()
    csend.join()
    assert link.got == b""      # no key: the peer never had its turn
    assert d.events("sundew.file.stored", kind="binary") == []
    for s in conns:
        s.close()


@corpus
def test_shutdown_ends_a_running_transfer_with_its_event(sundew):
    """SIGTERM while a link transfer waits for its peer's turn: the
    transfer ends, logged as failed with reason shutdown, before sundew
    exits."""
    def silent(srv, c):
        srv.got = c.recv(1)

    link = Server(silent)
    d = sundew([f"download.connect_to=62.47.217.254:15385:127.0.0.1:{link.port}"])
    s = send_exploit(LINKBOT)
    session = exploit_session(d, s)
    wait_for(lambda: link.peers == 1, 10, "the sensor to connect")
    assert d.stop() == 0
    link.join()
    failed = d.events("sundew.download.failed", session=session)
    assert [(e["url"], e["reason"]) for e in failed] == \
        [("link://62.47.217.254:15385/rKwGhQ==", "shutdown")]
    s.close()
