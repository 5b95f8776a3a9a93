"""`sundew analyze` on the shellcode corpus, and the analyser in the daemon.

The expected actions are those of shared/corpora/MANIFEST.md (libemu's
sctest where it finds them, the label and the bytes where it does not),
each with its evidence: found by running the code ("emulated"), or in
what a decoder the code carries produced ("decoded"); never only in clear,
which would leave a real shellcode's action undone.
"""
import json
import os
import signal
import subprocess

import pytest

from conftest import (CORPORA, GENERIC_PORT, SUNDEW, connect, needs_corpus,
                      wait_for)

SC = CORPORA / "shellcode"
PCAPS = CORPORA / "pcaps"

EXPECTED = {
    "honeynet-fc2010-1_lsass_xor99_bindshell1957.bin": {"action": "bind_shell", "port": 1957, "evidence": "emulated"},
    "honeynet-fc2010-1_lsass_decoded_bindshell1957.bin": {"action": "bind_shell", "port": 1957, "evidence": "emulated"},
    "libemu_00_win32-bind-exitfunc-seh-lport-4444-size-317-encoder-none.bin": {"action": "bind_shell", "port": 4444, "evidence": "emulated"},
    "libemu_01_win32-bind-exitfunc-seh-lport-4444-size-344-encoder-pex.bin": {"action": "bind_shell", "port": 4444, "evidence": "emulated"},
    "libemu_02_win32-bind-exitfunc-seh-lport-4444-size-709-encoder-pexalpha.bin": {"action": "bind_shell", "port": 4444, "evidence": "emulated"},
    "libemu_06_win32-reverse-exitfunc-seh-lhost-216-75-15-231-lport-4321-si.bin": {"action": "connect_shell", "host": "216.75.15.231", "port": 4321, "evidence": "emulated"},
    "libemu_07_win32-downloadexec-url-http-nepenthes-mwcollect-org-bad-exe.bin": {"action": "download", "url": "http://nepenthes.mwcollect.org/bad.exe", "evidence": "emulated"},
    "libemu_09_some-old-dcom-shellcode.bin": {"action": "bind_shell", "port": 4444, "evidence": "emulated"},
    "libemu_12_lindau-linkbot-connectback-version.bin": {"action": "receive_file", "mode": "connect", "host": "62.47.217.254", "port": 15385, "proto": "link", "key": "acac0685", "evidence": "emulated"},
    "libemu_14_halle-filetransferr-via-csend.bin": {"action": "receive_file", "mode": "connect", "host": "70.228.36.118", "port": 11805, "proto": "csend", "length_prefix": 4, "evidence": "emulated"},
    "libemu_16_win32-bind-pex-clet-s-win32-bind-pex-b-50-t-b-c-f-spectrum-s.bin": {"action": "bind_shell", "port": 4444, "evidence": "decoded"},
    "libemu_18_the-hackers-choice-realplayer-8-exploit.bin": {"action": "bind_shell", "port": 6318, "evidence": "emulated"},
    "libemu_24_linux-bindshell.bin": {"action": "bind_shell", "port": 20000, "evidence": "emulated"},
}

corpus = needs_corpus(SC)


def analyze(*paths):
    r = subprocess.run([str(SUNDEW), "analyze", *map(str, paths)],
                       capture_output=True, text=True, timeout=120)
    return r, [json.loads(l) for l in r.stdout.splitlines()]


def has_action(result, want):
    return any(all(a.get(k) == v for k, v in want.items())
               for a in result["actions"])


@corpus
@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_corpus_file_gives_its_action(name):
    r, out = analyze(SC / name)
    assert r.returncode == 0, r.stderr
    res = out[0]
    assert res["file"].endswith(name) and len(res["sha256"]) == 64
    assert res["shellcode"] is True
    assert has_action(res, EXPECTED[name]), res


@corpus
def test_amberg_bind_file_transfer():
    r, out = analyze(SC / "libemu_11_amberg.bin")
    assert has_action(out[0], {"action": "receive_file", "mode": "bind", "port": 44028,
                               "proto": "creceive", "evidence": "emulated"}), out


@corpus
def test_exec_command():
    r, out = analyze(SC / "libemu_08_win32-exec-exitfunc-seh-cmd-cmd-c-ftp-exe-s-foo-scripted-seq.bin")
    cmds = [a["command"] for a in out[0]["actions"]
            if a["action"] == "exec" and a["evidence"] == "emulated"]
    assert any(c.startswith("cmd -c ftp.exe -s foo.scripted_sequence") for c in cmds), out


@corpus
def test_sql_slammer_is_named():
    r, out = analyze(SC / "libemu_23_sqlslammer.bin")
    assert out[0]["shellcode"] is True and out[0].get("family") == "sql-slammer"


@corpus
def test_robustness_files_give_nothing():
    files = sorted((SC / "robustness").iterdir())
    r, out = analyze(*files)
    assert r.returncode == 0, r.stderr
    assert len(out) == len(files) >= 7
    for res in out:
        assert res["actions"] == [], res


def test_ordinary_bytes_give_nothing(tmp_path):
    """No corpus needed: bytes that are not code, and text."""
    rnd = tmp_path / "random.bin"
    rnd.write_bytes(bytes((i * 7919 + 13) % 251 for i in range(65536)))
    text = tmp_path / "text.bin"
    text.write_bytes(b"GET / HTTP/1.1\r\nHost: example\r\n\r\n" * 100)
    r, out = analyze(rnd, text)
    assert r.returncode == 0, r.stderr
    assert [o["file"] for o in out] == [str(rnd), str(text)]
    for res in out:
        assert res["actions"] == [] and res["shellcode"] is False, res


def test_unreadable_file_is_an_error(tmp_path):
    r, out = analyze(tmp_path / "missing.bin")
    assert r.returncode == 1 and "missing.bin" in r.stderr


@corpus
def test_daemon_analyses_the_lsass_exploit(sundew):
    d = sundew(["services.kuang2.ports=[17300,1957]"])
    r = subprocess.run([str(SUNDEW), "replay",
                        str(PCAPS / "attack" / "honeynet-fc2010-1_attack-trace.pcap"),
                        "--to", "127.0.0.1", "--retry", "2"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    ev = d.wait_events("sundew.shellcode.detected", dst_port=445, timeout=20)[0]
    assert {"action": "bind_shell", "evidence": "emulated",
            "port": 1957} in ev["actions"]
    assert "xor" in ev["decoders"]
    # The commands then typed into the bind shell fetch the worm by FTP
    # from "0.0.0.0", which stands for the attacker: here, the replayer.
    # The analyser only reports them ("clear"): a command typed into a
    # shell is the shell's to run, not the verdict's.
    shell = d.wait_events("sundew.shellcode.detected", dst_port=1957)[0]
    urls = [(a.get("url"), a["evidence"]) for a in shell["actions"]
            if a["action"] == "download"]
    assert ("ftp://1:1@127.0.0.1:8884/ssms.exe", "clear") in urls, shell
    d.stop()



@corpus
def test_analyser_killed_is_restarted_and_analyses_again(sundew):
    """A crash of the analyser costs what it was doing, nothing more: the
    parent starts a new one and the next payload is analysed."""
    d = sundew()
    shellcode = (SC / "honeynet-fc2010-1_lsass_xor99_bindshell1957.bin").read_bytes()
    old = d.analyser_pid()
    os.kill(old, signal.SIGKILL)
    wait_for(lambda: d.analyser_pid() not in (None, old), 15,
             "a new analyser")
    assert "analyser" in d.log_text()
    s = connect(GENERIC_PORT)
    s.sendall(shellcode)
    s.close()
    ev = d.wait_events("sundew.shellcode.detected", dst_port=GENERIC_PORT,
                       timeout=20)[0]
    assert {"action": "bind_shell", "evidence": "emulated",
            "port": 1957} in ev["actions"]
    d.stop()
