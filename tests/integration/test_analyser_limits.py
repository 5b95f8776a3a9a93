"""The analyser's limits and verdicts: its alarm per analysis (a hang costs
that analysis and a restart), its address-space limit, the largest payload
it emulates, and sundew.shellcode.unknown.

No payload makes the emulator hang: every run stops at a step budget (2
million instructions) and a CPU-time budget (200 ms, looked at every 256
blocks of translated code, and before each candidate and SEH re-entry),
and the pattern layer is linear (decoders at most 4 a level, 3 levels
deep); crafted 4 MiB payloads (NOP runs, thousands of GetPC sequences,
XOR decoders, alphanumeric stubs, int 0x80 runs, rep stos, jmp $) take
0.1 to 0.5 s whole.  The hang is made here instead by holding the
analyser, traced, right after it armed the alarm of an analysis.
"""
import ctypes
import hashlib
import os
import platform
import re
import signal
import socket
import subprocess
import time

import pytest

from conftest import GENERIC_PORT, SUNDEW, connect, wait_for

pytestmark = pytest.mark.skipif(os.geteuid() != 0,
                                reason="the daemon binds ports below 1024: run as root")

# A Linux bind shell on port 4444 after a NOP sled, written for these
# tests: socketcall(bind) then socketcall(listen).
BIND_SHELL = bytes.fromhex(
    "90" * 16 +
    "31c0" "31db" "53" "680200115c" "89e1" "6a10" "51" "53" "89e1"
    "b302" "b066" "cd80" "b304" "b066" "cd80")
BIND_ACTION = {"action": "bind_shell", "evidence": "emulated", "port": 4444}

# Code that makes system calls (getpid twice, then exit) and asks for
# nothing the analyser knows: shellcode without an action.
NO_ACTION = b"GET /" + b"\x90" * 16 + bytes.fromhex(
    "31c0" "b014" "cd80" "b014" "cd80" "31c0" "40" "cd80")


def send(data, src="127.0.0.1"):
    """One session that sends data and ends; its source port."""
    s = connect(GENERIC_PORT, src=src)
    s.sendall(data)
    s.shutdown(socket.SHUT_WR)
    assert s.recv(1) == b""
    port = s.getsockname()[1]
    s.close()
    return port


def session_from(d, src):
    return d.wait_events("sundew.connection.open", src_ip=src)[0]["session"]


def test_analyser_address_space_limit(sundew):
    """The analyser runs Unicorn on attacker bytes within 4 GiB of
    address space, soft and hard: it cannot raise it."""
    d = sundew()
    limits = open(f"/proc/{d.analyser_pid()}/limits").read()
    m = re.search(r"^Max address space\s+(\S+)\s+(\S+)\s+bytes", limits, re.M)
    assert m and m.groups() == (str(4 << 30), str(4 << 30)), limits
    d.stop()


def test_shellcode_unknown(sundew):
    """Code that the emulator runs (system calls) but that asks for no
    known action: a sundew.shellcode.unknown event, actions empty, and
    no sundew.shellcode.detected."""
    d = sundew()
    send(NO_ACTION, src="127.0.0.21")
    session = session_from(d, "127.0.0.21")
    ev = d.wait_events("sundew.shellcode.unknown", session=session,
                       timeout=20)[0]
    assert ev["shellcode"] is True and ev["actions"] == []
    assert ev["decoders"] == [] and ev["offset"] == len(b"GET /") + 16
    assert ev["src_ip"] == "127.0.0.21" and ev["dst_port"] == GENERIC_PORT
    # The same payload with an action is "detected", not "unknown".
    send(BIND_SHELL, src="127.0.0.22")
    other = session_from(d, "127.0.0.22")
    det = d.wait_events("sundew.shellcode.detected", session=other,
                        timeout=20)[0]
    assert BIND_ACTION in det["actions"]
    d.stop()
    assert len(d.events("sundew.shellcode.unknown")) == 1
    assert [e["session"] for e in d.events("sundew.shellcode.detected")] == \
        [other]
    assert d.sql("SELECT count(*) FROM events WHERE eventid = ?",
                 ("sundew.shellcode.unknown",)) == [(1,)]


def test_four_mib_payload_is_emulated(sundew, tmp_path):
    """A payload as long as limits.max_input (4 MiB) is emulated, by
    `sundew analyze` and in the daemon: its bind shell is found at the
    offset where the emulator ran it."""
    payload = BIND_SHELL + b"\0" * (4 * (1 << 20) - len(BIND_SHELL))
    path = tmp_path / "four-mib.bin"
    path.write_bytes(payload)
    r = subprocess.run([str(SUNDEW), "analyze", str(path)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert '"action":"bind_shell","evidence":"emulated","port":4444' \
        in r.stdout
    d = sundew()
    send(payload, src="127.0.0.23")
    session = session_from(d, "127.0.0.23")
    ev = d.wait_events("sundew.shellcode.detected", session=session,
                       timeout=20)[0]
    assert BIND_ACTION in ev["actions"] and ev["offset"] == 16
    stored = d.wait_events("sundew.file.stored", session=session)[0]
    assert stored["sha256"] == hashlib.sha256(payload).hexdigest()
    d.stop()


# ----------------------------------------------------------------------
# The alarm: ptrace holds the analyser right after alarm(5).

PTRACE_SYSCALL = 24
PTRACE_GETREGS = 12
PTRACE_DETACH = 17
PTRACE_SEIZE = 0x4206
PTRACE_INTERRUPT = 0x4207
PTRACE_O_TRACESYSGOOD = 1
PTRACE_EVENT_STOP = 128
WALL = 0x40000000
SYS_ALARM = 37                      # x86_64
ENOSYS = 38


class Regs(ctypes.Structure):       # struct user_regs_struct, x86_64
    _fields_ = [(n, ctypes.c_ulonglong) for n in (
        "r15 r14 r13 r12 rbp rbx r11 r10 r9 r8 rax rcx rdx rsi rdi "
        "orig_rax rip cs eflags rsp ss fs_base gs_base ds es fs gs").split()]


class Tracer:
    """ptrace(2) on one process: seize, run from system call to system
    call, hold, let go."""

    def __init__(self, pid):
        self.libc = ctypes.CDLL(None, use_errno=True)
        self.libc.ptrace.restype = ctypes.c_long
        self.libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long,
                                     ctypes.c_void_p, ctypes.c_void_p]
        self.pid = pid
        self.stopped = False
        self.call(PTRACE_SEIZE, 0, PTRACE_O_TRACESYSGOOD)
        self.call(PTRACE_INTERRUPT)
        self.wait(10)

    def call(self, req, addr=0, data=0):
        if self.libc.ptrace(req, self.pid, addr, data) == -1:
            err = ctypes.get_errno()
            raise OSError(err, f"ptrace {req}: {os.strerror(err)}")

    def wait(self, timeout):
        """The next stop; its waitpid status."""
        end = time.monotonic() + timeout
        while True:
            pid, status = os.waitpid(self.pid, os.WNOHANG | WALL)
            if pid == self.pid:
                assert os.WIFSTOPPED(status), f"the tracee ended ({status:#x})"
                self.stopped = True
                return status
            if time.monotonic() > end:
                return None
            time.sleep(0.001)

    def until_syscall(self, nr, arg0, timeout):
        """Runs it until it returns from system call nr(arg0), and holds
        it there: True; False if that did not happen in time."""
        end = time.monotonic() + timeout
        sig, entered = 0, False
        while time.monotonic() < end:
            self.call(PTRACE_SYSCALL, 0, sig)
            self.stopped, sig = False, 0
            status = self.wait(end - time.monotonic())
            if status is None:
                return False
            stopsig = os.WSTOPSIG(status)
            if stopsig == signal.SIGTRAP | 0x80:
                regs = Regs()
                self.call(PTRACE_GETREGS, 0, ctypes.addressof(regs))
                at_entry = regs.rax == (-ENOSYS) % (1 << 64)
                if entered and not at_entry and regs.orig_rax == nr:
                    return True
                entered = at_entry and regs.orig_rax == nr and regs.rdi == arg0
            elif status >> 16 != PTRACE_EVENT_STOP:
                sig = stopsig            # a signal for it: deliver it
        return False

    def detach(self):
        if not self.stopped:
            self.call(PTRACE_INTERRUPT)
            self.wait(10)
        self.call(PTRACE_DETACH)


def pending_signals(pid):
    """The signals pending for the process as a whole."""
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("ShdPnd:"):
            return int(line.split()[1], 16)
    return 0


def hang_analysis(d, src, meanwhile):
    """Sends the bind shell from src and holds the analyser, traced, once
    it armed alarm(5) for it; calls meanwhile(); lets it go once the
    alarm went off; waits for the new analyser.  The old one's pid."""
    old = d.analyser_pid()
    try:
        tracer = Tracer(old)
    except OSError as e:
        pytest.skip(f"cannot trace the analyser: {e}")
    try:
        send(BIND_SHELL, src=src)
        assert tracer.until_syscall(SYS_ALARM, 5, 15), \
            "the analyser never armed alarm(5) for an analysis"
        meanwhile()
        wait_for(lambda: pending_signals(old) & (1 << (signal.SIGALRM - 1)),
                 10, "the alarm to go off")
    finally:
        tracer.detach()
    wait_for(lambda: d.analyser_pid() not in (None, old), 15,
             "a new analyser")
    return old


x86_64 = pytest.mark.skipif(platform.machine() != "x86_64",
                            reason="reads x86_64 registers")


@x86_64
def test_hung_analysis_costs_itself_and_a_restart(sundew):
    """An analysis that runs past the alarm (5 s) kills the analyser:
    the parent starts another, that payload gets no verdict, the sensors
    serve meanwhile, and the next payloads are analysed."""
    d = sundew()

    def meanwhile():
        send(b"while the analyser hangs", src="127.0.0.32")
        d.wait_events("sundew.connection.close",
                      session=session_from(d, "127.0.0.32"))

    old = hang_analysis(d, "127.0.0.31", meanwhile)
    hung = session_from(d, "127.0.0.31")
    assert re.search(r"analyser \(pid %d\) killed by signal %d" %
                     (old, signal.SIGALRM), d.log_text()), d.log_text()
    send(BIND_SHELL, src="127.0.0.33")
    after = session_from(d, "127.0.0.33")
    ev = d.wait_events("sundew.shellcode.detected", session=after,
                       timeout=20)[0]
    assert BIND_ACTION in ev["actions"]
    d.stop()
    verdicts = [e["session"] for e in d.events("sundew.shellcode.detected")]
    assert verdicts == [after] and hung not in verdicts


@x86_64
def test_hung_analysis_costs_no_other(sundew):
    """The payloads that arrive while an analysis hangs are analysed by
    the next analyser: the hang costs that one analysis only."""
    d = sundew()

    def meanwhile():
        send(BIND_SHELL + b"queued", src="127.0.0.42")
        d.wait_events("sundew.connection.close",
                      session=session_from(d, "127.0.0.42"))

    hang_analysis(d, "127.0.0.41", meanwhile)
    queued = session_from(d, "127.0.0.42")
    send(BIND_SHELL + b"after", src="127.0.0.43")
    after = session_from(d, "127.0.0.43")
    # Two sensors: the two verdicts may come in either order.
    d.wait_events("sundew.shellcode.detected", session=after, timeout=20)
    d.wait_events("sundew.shellcode.detected", session=queued, timeout=20)
    d.stop()
    verdicts = [e["session"] for e in d.events("sundew.shellcode.detected")]
    assert sorted(verdicts) == sorted([queued, after])
