"""`sundew analyze` on many instances of Metasploit's FPU and call/pop
encoders.

encoders.py rewrites shikata_ga_nai, fnstenv_mov and jmp_call_additive
from their published logic; each seed draws another instance (for
shikata_ga_nai another stub: FPU instruction, registers, block order, loop
body).  Nothing of the payload is in clear after encoding: only running the
decoder stub, with fnstenv giving the right address, finds the action,
which must be that of the plain payload, found by the code the emulator
ran ("evidence": "emulated"): an action only carried out when the code
asks for it must not be lost to an encoder.  Every file is analysed in
one run of `sundew analyze`.
"""
import random

import pytest

from encoders import (ENCODERS, FNSTENV, SHIKATA_FPU, fnstenv_mov,
                      shikata_ga_nai)
from conftest import CORPORA, CORPUS_SKIP
from test_analyze import SC, analyze, has_action

PAYLOADS = {
    "bind": ("libemu_00_win32-bind-exitfunc-seh-lport-4444-size-317-encoder-none.bin",
             {"action": "bind_shell", "port": 4444, "evidence": "emulated"}),
    "connect": ("libemu_06_win32-reverse-exitfunc-seh-lhost-216-75-15-231-lport-4321-si.bin",
                {"action": "connect_shell", "host": "216.75.15.231", "port": 4321,
                 "evidence": "emulated"}),
}
SEEDS = range(24)
# Cycled over the seeds, as msfvenom -b would be given them.
BADCHARS = (b"", b"\x00", b"\x00\x0a\x0d", b"\x00\x0a\x0d\x20")
TWICE_SEEDS = range(6)       # msfvenom -e x86/shikata_ga_nai -i 2
# A stub behind bytes that are not code; 198 put jmp_call_additive's key
# where it read as a xor, after junk that read as a mov r32, imm32.
BEHIND_SEEDS = list(range(12)) + [21, 56, 68, 198]


def runs_into_junk():
    """A bind shell, followed by bytes that are not code, fnstenv_mov
    encoded.  Its emulation runs on from the shell into the junk, which
    leaves SS null: the CPU state of a candidate once outlived it, and
    every later analysis of the process then faulted on its first push.
    Analysed first."""
    rng = random.Random(145)
    junk = bytes(rng.randrange(1, 256) for _ in range(1200))
    return fnstenv_mov(plain("bind") + junk, 145)


def plain(kind):
    """The bytes of a corpus payload."""
    return (SC / PAYLOADS[kind][0]).read_bytes()


def instances():
    """Every instance to analyse: {file name: (bytes, payload kind, what)}."""
    out = {"junk.bin": (runs_into_junk(), "bind", "junk")}
    for kind in PAYLOADS:
        data = plain(kind)
        out[f"plain-{kind}.bin"] = (data, kind, "plain")
        for name, encode in ENCODERS.items():
            for seed in SEEDS:
                bad = BADCHARS[seed % len(BADCHARS)]
                out[f"{name}-{kind}-{seed}.bin"] = (
                    encode(data, seed, bad), kind, name)
        for i, fpu in enumerate(SHIKATA_FPU):
            # Each of the FPU instructions fnstenv may follow (fnop was
            # not recorded as one by the emulator).
            out[f"shikata_fpu-{kind}-{fpu.hex()}.bin"] = (
                shikata_ga_nai(data, 100 + i, fpu=fpu), kind, "fpu")
        for seed in TWICE_SEEDS:
            twice = shikata_ga_nai(shikata_ga_nai(data, seed), seed + 1000)
            out[f"shikata_twice-{kind}-{seed}.bin"] = (twice, kind, "twice")
        for seed in BEHIND_SEEDS:
            rng = random.Random(seed)
            junk = bytes(rng.randrange(256)
                         for _ in range(rng.randrange(8, 48)))
            for name, encode in ENCODERS.items():
                out[f"{name}_behind-{kind}-{seed}.bin"] = (
                    junk + encode(data, seed), kind, "behind")
    return out


@pytest.fixture(scope="module")
def analysed(tmp_path_factory):
    """Writes every instance and analyses them all in one run; returns
    {file name: (analysis, payload kind, what, bytes)}."""
    if not SC.exists():
        pytest.skip(f"{CORPUS_SKIP}: {CORPORA} not found")
    d = tmp_path_factory.mktemp("encoded")
    todo = instances()
    paths = []
    for name, (data, _, _) in todo.items():
        (d / name).write_bytes(data)
        paths.append(d / name)
    r, out = analyze(*paths)
    assert r.returncode == 0, r.stderr
    assert len(out) == len(paths)
    res = {}
    for o in out:
        name = o["file"].rsplit("/", 1)[-1]
        data, kind, what = todo[name]
        res[name] = (o, kind, what, data)
    return res


def failures(analysed, what):
    """The instances of one kind that do not give their payload's action."""
    bad = []
    for name, (o, kind, w, _) in sorted(analysed.items()):
        if w == what and not (o["shellcode"] and
                              has_action(o, PAYLOADS[kind][1])):
            bad.append((name, o["decoders"], o["actions"]))
    return bad


def count(analysed, what):
    """How many instances of one kind there are."""
    return sum(1 for v in analysed.values() if v[2] == what)


def test_plain_payloads_give_their_action(analysed):
    assert failures(analysed, "junk") == []
    assert failures(analysed, "plain") == []


@pytest.mark.parametrize("encoder", sorted(ENCODERS))
def test_every_instance_decodes_to_the_plain_action(analysed, encoder):
    assert count(analysed, encoder) == len(PAYLOADS) * len(SEEDS)
    assert failures(analysed, encoder) == []


def test_shikata_instances_name_a_decoder_or_give_the_action(analysed):
    for name, (o, kind, what, _) in analysed.items():
        if what == "shikata_ga_nai":
            assert o["decoders"] or has_action(o, PAYLOADS[kind][1]), name


def test_shikata_decodes_after_every_fpu_instruction(analysed):
    assert count(analysed, "fpu") == len(PAYLOADS) * len(SHIKATA_FPU)
    assert failures(analysed, "fpu") == []


def test_shikata_applied_twice_decodes(analysed):
    assert count(analysed, "twice") == len(PAYLOADS) * len(TWICE_SEEDS)
    assert failures(analysed, "twice") == []


def test_stub_behind_other_bytes_is_found(analysed):
    # Not at offset 0 and after no NOP sled: the emulator must start at
    # the stub's head, whatever order shikata's blocks came in, and
    # whatever the bytes before the stub look like.
    assert count(analysed, "behind") == \
        len(PAYLOADS) * len(BEHIND_SEEDS) * len(ENCODERS)
    assert failures(analysed, "behind") == []


def test_encoding_hides_the_payload(analysed):
    for name, (_, kind, what, data) in analysed.items():
        if what == "plain":
            continue
        p = plain(kind)
        runs = [p[i:i + 8] for i in range(0, len(p) - 8, 8)]
        assert not any(r in data for r in runs), name


def test_bad_bytes_are_avoided(analysed):
    for name, (_, _, what, data) in analysed.items():
        if what in ENCODERS:
            seed = int(name.rsplit("-", 1)[1].split(".")[0])
            bad = BADCHARS[seed % len(BADCHARS)]
            assert not any(c in data for c in bad), name


def test_generators_are_deterministic_and_polymorphic():
    # Any payload will do: the stubs do not depend on it (no corpus).
    data = bytes((i * 73 + 11) % 256 for i in range(317))
    for encode in ENCODERS.values():
        assert encode(data, 7) == encode(data, 7)
        assert encode(data, 7) != encode(data, 8)
    stubs = [shikata_ga_nai(data, seed)[:24] for seed in range(64)]
    assert len(set(stubs)) == len(stubs)
    fpus, layouts = set(), set()
    for s in stubs:
        f = s.index(FNSTENV)
        fpu = s[f - 2:f] if s[f - 2:f] in SHIKATA_FPU else s[f - 7:f - 5]
        assert fpu in SHIKATA_FPU
        fpus.add(fpu)
        # the key's mov first, between the FPU instruction and fnstenv,
        # right after fnstenv, or later
        layouts.add((f, 0x58 <= s[f + 4] <= 0x5f))
    assert len(fpus) >= 20
    assert layouts == {(2, True), (2, False), (7, True)}
