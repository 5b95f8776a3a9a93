"""Metasploit's x86 FPU and call/pop encoders, rewritten for the tests.

Three generators, each written from the published logic of a Metasploit
encoder module and deterministic for a given seed:

shikata_ga_nai
    The polymorphic XOR additive feedback encoder (spoonm).  The decoder
    stub is built from logical blocks, each with equivalent forms: one FPU
    instruction of 57 (whose address fnstenv [esp-0xc] stores), the pop
    of that address into a random register, xor/sub ecx,ecx, the loop
    count (mov cl / mov cx / mov ecx), mov key into a second random
    register, and a loop body of six orderings of xor [addr+d], key;
    add key, [addr+d]; add addr, 4 (or sub addr, -4), then loop.  The
    blocks are laid out in a random order that keeps their dependencies
    (the key's mov may fall anywhere before the loop).  The last 1 to 4
    bytes of the stub itself are encoded with the payload: the first turn
    of the loop decodes the end of the loop.
fnstenv_mov
    The dword XOR encoder: ecx set by the shortest of push/pop, clear and
    mov cl, clear and mov cx, mov ecx (whichever avoids the bad bytes),
    fldz, fnstenv [esp-0xc], pop ebx, xor [ebx+0x13], key, sub ebx, -4,
    loop.
jmp_call_additive
    The jmp/call/pop XOR additive feedback encoder (skape): cld, mov ebx,
    key, a jmp to a call back to pop esi, then xor [esi], ebx; lodsd;
    add ebx, eax until a dword decodes to zero, then ret into the payload.

Keys are random and, when bad bytes are given, chosen so that no bad byte
appears in the output, as msfvenom -b does.
"""
import random

EAX, ECX, EDX, EBX, ESP, EBP, ESI, EDI = range(8)

# The forms shikata_ga_nai draws its FPU instruction from: fld1 .. fldz,
# fld st(i), fxch st(i), fcmov*, fcmovn*, fcomi, fucomi, ffree st(i),
# fnop, fabs, fdecstp, fincstp, fxam.  Any of them sets the FPU
# instruction pointer that fnstenv then stores.
SHIKATA_FPU = ([bytes([0xd9, x]) for x in range(0xe8, 0xef)] +
               [bytes([0xd9, x]) for x in range(0xc0, 0xd0)] +
               [bytes([0xda, x]) for x in range(0xc0, 0xe0)] +
               [bytes([0xdb, x]) for x in range(0xc0, 0xe0)] +
               [bytes([0xdd, x]) for x in range(0xc0, 0xc8)] +
               [b"\xd9\xd0", b"\xd9\xe1", b"\xd9\xf6", b"\xd9\xf7",
                b"\xd9\xe5"])

FNSTENV = b"\xd9\x74\x24\xf4"           # fnstenv [esp-0xc]
CLEAR_OPS = (0x29, 0x2b, 0x31, 0x33)     # sub/xor r, r in both directions
MAX_TRIES = 2000


def u32(n):
    """Packs n as a little-endian dword."""
    return (n & 0xffffffff).to_bytes(4, "little")


def s8(n):
    """Packs n as a signed byte."""
    if not -128 <= n <= 127:
        raise ValueError(f"displacement {n} does not fit a byte")
    return (n & 0xff).to_bytes(1, "little")


def dwords(data):
    """Splits data into little-endian dwords, the last padded with zeros."""
    data = data + b"\x00" * (-len(data) % 4)
    return [int.from_bytes(data[i:i + 4], "little")
            for i in range(0, len(data), 4)]


def xor_additive(words, key):
    """Encodes dwords with XOR additive feedback; returns (bytes, last key).

    Each dword is XORed with the key, then the key grows by the clear
    dword, so the decoder's add key, [addr] after its xor follows it.
    """
    out = bytearray()
    for w in words:
        out += u32(w ^ key)
        key = (key + w) & 0xffffffff
    return bytes(out), key


def clean(data, badchars):
    """Whether data holds none of the bad bytes."""
    return not any(c in data for c in badchars)


def random_key(rng, badchars):
    """A random dword key whose four bytes are not bad."""
    good = [b for b in range(256) if b not in badchars]
    return int.from_bytes(bytes(rng.choice(good) for _ in range(4)),
                          "little")


def modrm(mod, reg, rm):
    """One ModRM byte."""
    return bytes([mod << 6 | reg << 3 | rm])


def clear_reg(rng, reg, badchars=b""):
    """xor or sub of reg with itself, opcode drawn among the four forms."""
    ops = [op for op in CLEAR_OPS if op not in badchars]
    if not ops:
        raise ValueError("no clear opcode avoids the bad bytes")
    return bytes([rng.choice(ops)]) + modrm(3, reg, reg)


def set_reg(rng, reg, value, badchars=b""):
    """The shortest instructions that set reg to value without bad bytes:
    push imm8/pop, clear + mov r8, clear + mov r16, mov r32, as Rex's
    X86.set tries them."""
    tries = []
    if value < 0x80:
        tries.append(lambda: bytes([0x6a, value, 0x58 + reg]))
    if value <= 0xff and reg < 4:
        tries.append(lambda: clear_reg(rng, reg, badchars) +
                     bytes([0xb0 + reg, value]))
    if value <= 0xffff:
        tries.append(lambda: clear_reg(rng, reg, badchars) +
                     bytes([0x66, 0xb8 + reg]) + value.to_bytes(2, "little"))
    tries.append(lambda: bytes([0xb8 + reg]) + u32(value))
    for make in tries:
        try:
            code = make()
        except ValueError:
            continue
        if clean(code, badchars):
            return code
    raise ValueError(f"cannot set register {reg} to {value} without bad bytes")


# ---------------------------------------------------------------------
# shikata_ga_nai

# The decoder's logical blocks and what each must follow.
SHIKATA_DEPENDS = {
    "fpu": (),
    "fnstenv": ("fpu",),
    "getpc": ("fnstenv",),
    "clear": ("getpc",),
    "count": ("clear",),
    "key": (),
    "loop_block": ("count", "key"),
    "loop_inst": ("loop_block",),
}

# The six orderings of the loop body: x1/a1 address the block at addr,
# x2/a2 after addr has already moved on by 4.
SHIKATA_LOOPS = (("x1", "a1", "sub4"), ("x1", "sub4", "a2"),
                 ("sub4", "x2", "a2"), ("x1", "a1", "add4"),
                 ("x1", "add4", "a2"), ("add4", "x2", "a2"))


def shikata_order(rng):
    """A random layout of the stub's blocks that keeps their dependencies.

    As Rex::Poly does: walk from the last block down through a random
    dependency not yet laid out until a block whose dependencies all are,
    lay it out, and start again.
    """
    done = []
    while "loop_inst" not in done:
        block = "loop_inst"
        while True:
            todo = [d for d in SHIKATA_DEPENDS[block] if d not in done]
            if not todo:
                break
            block = rng.choice(todo)
        done.append(block)
    return done


def shikata_stub(rng, nbytes, cutoff, fpu=None):
    """One decoder stub for nbytes encoded bytes (a multiple of 4, the
    stub's own last cutoff bytes included), with b"XORK" where the key
    goes, its FPU instruction fpu or a random one; returns (stub, offset
    of the key)."""
    addr, key = rng.sample([EAX, EDX, EBX, EBP, ESI, EDI], 2)
    count = nbytes
    count += (4 + (4 - (count & 3))) & 3
    count //= 4
    if count <= 0xff:
        init_count = bytes([0xb1, count])
    elif count <= 0xffff:
        init_count = b"\x66\xb9" + count.to_bytes(2, "little")
    else:
        init_count = b"\xb9" + u32(count)
    order = shikata_order(rng)
    loop = rng.choice(SHIKATA_LOOPS)
    fixed = {
        "fpu": fpu if fpu is not None else rng.choice(SHIKATA_FPU),
        "fnstenv": FNSTENV,
        "getpc": bytes([0x58 + addr]),
        "clear": clear_reg(rng, ECX),
        "count": init_count,
        "key": bytes([0xb8 + key]) + b"XORK",
        "loop_inst": b"\xe2\xf5",       # back over the 9-byte body
    }
    # Every block but the loop body has its size now: place them.
    size = sum(len(v) for v in fixed.values()) + 9
    offs, pos = {}, 0
    for name in order:
        offs[name] = pos
        pos += 9 if name == "loop_block" else len(fixed[name])
    # addr holds the FPU instruction's address: the encoded bytes start
    # cutoff bytes before the end of the whole stub.
    disp = size - offs["fpu"] - cutoff
    parts = {
        "x1": b"\x31" + modrm(1, key, addr) + s8(disp),
        "x2": b"\x31" + modrm(1, key, addr) + s8(disp - 4),
        "a1": b"\x03" + modrm(1, key, addr) + s8(disp),
        "a2": b"\x03" + modrm(1, key, addr) + s8(disp - 4),
        "sub4": b"\x83" + modrm(3, 5, addr) + s8(-4),
        "add4": b"\x83" + modrm(3, 0, addr) + s8(4),
    }
    fixed["loop_block"] = b"".join(parts[p] for p in loop)
    stub = b"".join(fixed[name] for name in order)
    assert len(stub) == size
    return stub, stub.index(b"XORK")


def shikata_ga_nai(payload, seed=0, badchars=b"", fpu=None):
    """Encodes payload as msfvenom -e x86/shikata_ga_nai would, the stub's
    variant drawn from random.Random(seed) (but for its FPU instruction,
    when fpu names one of SHIKATA_FPU); returns the encoded bytes."""
    if fpu is not None and fpu not in SHIKATA_FPU:
        raise ValueError("shikata_ga_nai: not one of its FPU instructions")
    rng = random.Random(seed)
    cutoff = 4 - (len(payload) & 3)
    for _ in range(MAX_TRIES):
        stub, keyoff = shikata_stub(rng, len(payload) + cutoff, cutoff, fpu)
        if not clean(stub.replace(b"XORK", b""), badchars):
            continue
        key = random_key(rng, badchars)
        # The stub's tail goes in front of the payload and is encoded
        # with it: the loop's first turn restores the loop itself.
        head, tail = stub[:-cutoff], stub[-cutoff:]
        head = head[:keyoff] + u32(key) + head[keyoff + 4:]
        body, _ = xor_additive(dwords(tail + payload), key)
        out = head + body
        if clean(out, badchars):
            return out
    raise ValueError("shikata_ga_nai: no encoding avoids the bad bytes")


# ---------------------------------------------------------------------
# fnstenv_mov

def fnstenv_mov_key(rng, words, badchars):
    """A dword key that turns no payload byte into a bad byte: each key
    byte is drawn among those that avoid it at its position."""
    key = bytearray(4)
    for i in range(4):
        bad = set(badchars)
        for w in words:
            b = (w >> (8 * i)) & 0xff
            bad.update(b ^ c for c in badchars)
        good = [k for k in range(256) if k not in bad]
        if not good:
            raise ValueError("fnstenv_mov: no key avoids the bad bytes")
        key[i] = rng.choice(good)
    return int.from_bytes(key, "little")


def fnstenv_mov(payload, seed=0, badchars=b""):
    """Encodes payload as msfvenom -e x86/fnstenv_mov would, the key (and
    the clear opcode, when one is used) drawn from random.Random(seed)."""
    rng = random.Random(seed)
    words = dwords(payload)
    key = fnstenv_mov_key(rng, words, badchars)
    # ebx gets the address of fldz; 0x13 bytes from there is the end of
    # the stub, whatever sets ecx before it.
    stub = (set_reg(rng, ECX, len(words), badchars) +
            b"\xd9\xee" + FNSTENV + b"\x5b" +
            b"\x81\x73\x13" + u32(key) + b"\x83\xeb\xfc" + b"\xe2\xf4")
    out = stub + b"".join(u32(w ^ key) for w in words)
    if not clean(out, badchars):
        raise ValueError("fnstenv_mov: the stub holds a bad byte")
    return out


# ---------------------------------------------------------------------
# jmp_call_additive

# cld; mov ebx, key (inserted after these two bytes); then the loop.
JMP_CALL_STUB = (b"\xfc\xbb" +
                 b"\xeb\x0c" +             # jmp to the call
                 b"\x5e\x56" +             # pop esi; push esi
                 b"\x31\x1e\xad" +         # xor [esi], ebx; lodsd
                 b"\x01\xc3\x85\xc0" +     # add ebx, eax; test eax, eax
                 b"\x75\xf7\xc3" +         # jnz to the xor; ret
                 b"\xe8\xef\xff\xff\xff")  # call back to the pop


def jmp_call_additive(payload, seed=0, badchars=b""):
    """Encodes payload as msfvenom -e x86/jmp_call_additive would, the key
    drawn from random.Random(seed); a last dword, the final key, decodes
    to zero and ends the loop."""
    rng = random.Random(seed)
    if not clean(JMP_CALL_STUB, badchars):
        raise ValueError("jmp_call_additive: the stub holds a bad byte")
    words = dwords(payload)
    if 0 in words:
        # The decoder would stop there and run a half-decoded payload.
        raise ValueError("jmp_call_additive: a payload dword is zero")
    for _ in range(MAX_TRIES):
        key = random_key(rng, badchars)
        stub = JMP_CALL_STUB[:2] + u32(key) + JMP_CALL_STUB[2:]
        body, last = xor_additive(words, key)
        out = stub + body + u32(last)
        if clean(out, badchars):
            return out
    raise ValueError("jmp_call_additive: no key avoids the bad bytes")


ENCODERS = {
    "shikata_ga_nai": shikata_ga_nai,
    "fnstenv_mov": fnstenv_mov,
    "jmp_call_additive": jmp_call_additive,
}
