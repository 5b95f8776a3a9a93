"""`sundew analyze` on the shellcode corpus, and the analyser in the daemon.

The expected actions are those of shared/corpora/MANIFEST.md (libemu's
sctest where it finds them, the label and the bytes where it does not).
"""
import json
import os
import subprocess

import pytest

from conftest import CORPORA, SUNDEW

SC = CORPORA / "shellcode"
PCAPS = CORPORA / "pcaps"

EXPECTED = {
    "honeynet-fc2010-1_lsass_xor99_bindshell1957.bin": {"action": "bind_shell", "port": 1957},
    "honeynet-fc2010-1_lsass_decoded_bindshell1957.bin": {"action": "bind_shell", "port": 1957},
    "libemu_00_win32-bind-exitfunc-seh-lport-4444-size-317-encoder-none.bin": {"action": "bind_shell", "port": 4444},
    "libemu_01_win32-bind-exitfunc-seh-lport-4444-size-344-encoder-pex.bin": {"action": "bind_shell", "port": 4444},
    "libemu_02_win32-bind-exitfunc-seh-lport-4444-size-709-encoder-pexalpha.bin": {"action": "bind_shell", "port": 4444},
    "libemu_06_win32-reverse-exitfunc-seh-lhost-216-75-15-231-lport-4321-si.bin": {"action": "connect_shell", "host": "216.75.15.231", "port": 4321},
    "libemu_07_win32-downloadexec-url-http-nepenthes-mwcollect-org-bad-exe.bin": {"action": "download", "url": "http://nepenthes.mwcollect.org/bad.exe"},
    "libemu_09_some-old-dcom-shellcode.bin": {"action": "bind_shell", "port": 4444},
    "libemu_12_lindau-linkbot-connectback-version.bin": {"action": "receive_file", "mode": "connect", "host": "62.47.217.254", "port": 15385},
    "libemu_14_halle-filetransferr-via-csend.bin": {"action": "receive_file", "mode": "connect", "host": "70.228.36.118", "port": 11805},
    "libemu_16_win32-bind-pex-clet-s-win32-bind-pex-b-50-t-b-c-f-spectrum-s.bin": {"action": "bind_shell", "port": 4444},
    "libemu_18_the-hackers-choice-realplayer-8-exploit.bin": {"action": "bind_shell", "port": 6318},
    "libemu_24_linux-bindshell.bin": {"action": "bind_shell", "port": 20000},
}

pytestmark = pytest.mark.skipif(not SC.exists(), reason="shared/corpora not present")


def analyze(*paths):
    r = subprocess.run([str(SUNDEW), "analyze", *map(str, paths)],
                       capture_output=True, text=True, timeout=120)
    return r, [json.loads(l) for l in r.stdout.splitlines()]


def has_action(result, want):
    return any(all(a.get(k) == v for k, v in want.items())
               for a in result["actions"])


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_corpus_file_gives_its_action(name):
    r, out = analyze(SC / name)
    assert r.returncode == 0, r.stderr
    res = out[0]
    assert res["file"].endswith(name) and len(res["sha256"]) == 64
    assert res["shellcode"] is True
    assert has_action(res, EXPECTED[name]), res


def test_amberg_bind_file_transfer():
    r, out = analyze(SC / "libemu_11_amberg.bin")
    assert has_action(out[0], {"action": "receive_file", "mode": "bind", "port": 44028}), out


def test_exec_command():
    r, out = analyze(SC / "libemu_08_win32-exec-exitfunc-seh-cmd-cmd-c-ftp-exe-s-foo-scripted-seq.bin")
    cmds = [a["command"] for a in out[0]["actions"] if a["action"] == "exec"]
    assert any(c.startswith("cmd -c ftp.exe -s foo.scripted_sequence") for c in cmds), out


def test_sql_slammer_is_named():
    r, out = analyze(SC / "libemu_23_sqlslammer.bin")
    assert out[0]["shellcode"] is True and out[0].get("family") == "sql-slammer"


def test_robustness_and_ordinary_bytes_give_nothing(tmp_path):
    rnd = tmp_path / "random.bin"
    rnd.write_bytes(bytes((i * 7919 + 13) % 251 for i in range(65536)))
    files = sorted((SC / "robustness").iterdir()) + [rnd]
    r, out = analyze(*files)
    assert r.returncode == 0, r.stderr
    assert len(out) == len(files)
    for res in out:
        assert res["actions"] == [], res
    assert out[-1]["shellcode"] is False


def test_unreadable_file_is_an_error(tmp_path):
    r, out = analyze(tmp_path / "missing.bin")
    assert r.returncode == 1 and "missing.bin" in r.stderr


def test_daemon_analyses_the_lsass_exploit(sundew):
    d = sundew(["services.kuang2.ports=[17300,1957]"])
    r = subprocess.run([str(SUNDEW), "replay",
                        str(PCAPS / "attack" / "honeynet-fc2010-1_attack-trace.pcap"),
                        "--to", "127.0.0.1", "--retry", "2"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    ev = d.wait_events("sundew.shellcode.detected", dst_port=445, timeout=20)[0]
    assert {"action": "bind_shell", "port": 1957} in ev["actions"]
    assert "xor" in ev["decoders"]
    # The commands then typed into the bind shell fetch the worm by FTP
    # from "0.0.0.0", which stands for the attacker: here, the replayer.
    shell = d.wait_events("sundew.shellcode.detected", dst_port=1957)[0]
    urls = [a.get("url") for a in shell["actions"] if a["action"] == "download"]
    assert "ftp://1:1@127.0.0.1:8884/ssms.exe" in urls, shell
    d.stop()


# Metasploit's FPU and call/pop encoders, written here from their published
# shapes: the payload is the corpus' plain win32 bind shell (port 4444).
# After encoding nothing of it is in clear: only following the decoder stub
# (for the additive ones, emulating it with the right GetPC address) finds
# the port.
PLAIN = SC / "libemu_00_win32-bind-exitfunc-seh-lport-4444-size-317-encoder-none.bin"


def dwords(data):
    data += b"\x90" * (-len(data) % 4)
    return [int.from_bytes(data[i:i + 4], "little") for i in range(0, len(data), 4)]


def pack(words):
    return b"".join(w.to_bytes(4, "little") for w in words)


def fnstenv_mov(payload, key=0x5a3c9e17):
    """push N; pop ecx; fldz; fnstenv [esp-12]; pop ebx;
    xor dword [ebx+19], key; sub ebx, -4; loop."""
    words = dwords(payload)
    stub = (bytes([0x6a, len(words), 0x59, 0xd9, 0xee, 0xd9, 0x74, 0x24, 0xf4,
                   0x5b, 0x81, 0x73, 0x13]) + key.to_bytes(4, "little") +
            bytes([0x83, 0xeb, 0xfc, 0xe2, 0xf4]))
    return stub + pack([w ^ key for w in words])


def shikata_like(payload, key=0x1f2e3d4c):
    """fldz; fnstenv [esp-12]; mov ebx, key; pop eax; xor ecx, ecx;
    mov cl, N; xor [eax+27], ebx; add ebx, [eax+27]; add eax, 4; loop:
    the additive feedback of shikata_ga_nai."""
    words = dwords(payload)
    stub = (bytes([0xd9, 0xee, 0xd9, 0x74, 0x24, 0xf4, 0xbb]) +
            key.to_bytes(4, "little") +
            bytes([0x58, 0x31, 0xc9, 0xb1, len(words), 0x31, 0x58, 0x1b,
                   0x03, 0x58, 0x1b, 0x83, 0xc0, 0x04, 0xe2, 0xf5]))
    out, k = [], key
    for w in words:
        out.append(w ^ k)
        k = (k + w) & 0xffffffff
    return stub + pack(out)


def jmp_call_additive(payload, key=0x7b1d2a93):
    """cld; mov ebx, key; jmp to call; pop esi; push esi; xor [esi], ebx;
    lodsd; add ebx, eax; test eax, eax; jnz; ret; call back; payload
    ending with a dword that decodes to zero."""
    words = dwords(payload) + [0]
    assert 0 not in words[:-1]
    stub = (bytes([0xfc, 0xbb]) + key.to_bytes(4, "little") +
            bytes([0xeb, 0x0c, 0x5e, 0x56, 0x31, 0x1e, 0xad, 0x01, 0xc3,
                   0x85, 0xc0, 0x75, 0xf7, 0xc3, 0xe8, 0xef, 0xff, 0xff,
                   0xff]))
    out, k = [], key
    for w in words:
        out.append(w ^ k)
        k = (k + w) & 0xffffffff
    return stub + pack(out)


@pytest.mark.parametrize("encode", [fnstenv_mov, shikata_like, jmp_call_additive])
def test_encoded_bind_shell_is_decoded_by_emulation(tmp_path, encode):
    plain = PLAIN.read_bytes()
    encoded = b"\x90" * 16 + encode(plain)
    assert b"\x11\x5c" not in encoded       # port 4444 is not in clear
    path = tmp_path / f"{encode.__name__}.bin"
    path.write_bytes(encoded)
    r, out = analyze(path)
    assert r.returncode == 0, r.stderr
    assert has_action(out[0], {"action": "bind_shell", "port": 4444}), out[0]
