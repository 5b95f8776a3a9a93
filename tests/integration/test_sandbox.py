"""The children's sandboxes, seen from outside: what the real daemon does
under its live seccomp filters (the filters call by call are in
tests/unit/test_sandbox.c)."""
import fcntl
import json
import os
import pathlib
import re
import signal
import subprocess
import time
from collections import Counter

import pytest

from conftest import (CORPORA, GENERIC_PORT, SUNDEW, children, comm, connect,
                      proc_status, wait_for)


def test_store_survives_pruning_hundreds_of_hexdumps(sundew):
    # Pruning sorts the hexdumps (qsort), which in glibc 2.36 asks
    # sysinfo(2) for the memory size once the array passes 1 KiB: the
    # store must live through it and lose no event.  (The ceiling leaves
    # room for the database and the live log, 10 MiB here, and the 16 MiB
    # of hexdumps pass it: past them it would delete the log, then make
    # the events wait.)
    d = sundew(["store.max_disk=20MiB"])
    store = d.store_pid()
    ports = []
    for i in range(2000):
        # From 100 sources: 2,000 from one address would need as many
        # ephemeral ports, with the earlier tests' still in TIME_WAIT.
        s = connect(GENERIC_PORT, src=f"127.0.8.{1 + i % 100}")
        ports.append(s.getsockname()[1])
        s.sendall(b"%08d" % i + os.urandom(8184))
        s.close()
    # Every connection's close, with the first store still running.
    d.wait_events("sundew.connection.close", count=2001, timeout=120)
    assert d.store_pid() == store
    assert d.stop() == 0
    assert "killed by signal" not in d.stderr_path.read_text()
    pruned = [e for e in d.events("sundew.limit.hit", limit="disk")
              if e.get("action") == "pruned"]
    assert sum(e["files"] for e in pruned) >= 100, pruned
    # Every connection's close, exactly once: the probe and the 2,000.
    closes = d.events("sundew.connection.close")
    assert len(closes) == 2001
    assert not Counter(ports) - Counter(e["src_port"] for e in closes)
    rows = d.sql("SELECT src_port FROM events WHERE eventid = ?",
                 ("sundew.connection.close",))
    assert len(rows) == 2001
    assert not Counter(ports) - Counter(r[0] for r in rows)


def test_background_children_live_through_their_log_lines(tmp_path):
    # In the background the children log through glibc's syslog, which
    # opens a new AF_UNIX socket whenever it has no connection (no
    # /dev/log in a chroot, or syslogd restarted): the filter refuses
    # that socket; it must not kill the store or the analyser.
    data = tmp_path / "var"
    r = subprocess.run([str(SUNDEW), "run", "-v", "-o", "listen.address=127.0.0.1",
                        "-o", f"data_dir={data}"], capture_output=True, text=True,
                       timeout=30)
    assert r.returncode == 0, r.stderr
    pid = int(wait_for(lambda: (data / ".lock").read_text().strip(), 10, "pid"))
    try:
        def kids():
            return sorted((comm(p), p) for p in children(pid))
        def settled():
            # Every child forked and named (a sensor names itself just
            # after its fork): the same list twice, half a second apart.
            first = kids()
            time.sleep(0.5)
            return first if first == kids() and len(first) >= 3 else None
        wait_for(lambda: (data / "log" / "sundew.json").exists(), 15, "log")
        before = wait_for(settled, 15, "children")
        for i in range(20):
            s = connect(GENERIC_PORT)
            s.sendall(b"\x90" * 64 + b"\xeb\xfe" + b"%d" % i)
            s.close()
        os.kill(pid, signal.SIGHUP)      # the store logs its reopen
        time.sleep(3)
        assert kids() == before
    finally:
        os.kill(pid, signal.SIGTERM)
        wait_for(lambda: not os.path.exists(f"/proc/{pid}"), 30, "the stop")


def open_fds(pid):
    """What each descriptor of pid is open on."""
    out = {}
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            out[int(fd)] = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            pass
    return out


def test_descriptors_of_the_starting_shell_reach_no_process(sundew, tmp_path):
    # As after `exec 10<stray 251<stray` in the shell that starts sundew.
    stray = tmp_path / "stray"
    stray.write_text("not for the children\n")
    # F_DUPFD takes the first free number from 10 and from 251: dup2 onto
    # a fixed number would close whatever pytest itself holds there (its
    # log file, in CI), and pytest would fail at exit.
    fd = os.open(stray, os.O_RDONLY)
    strays = [fcntl.fcntl(fd, fcntl.F_DUPFD, n) for n in (10, 251)]
    try:
        d = sundew(pass_fds=strays)
    finally:
        for n in [fd] + strays:
            os.close(n)
    procs = [d.pid, d.store_pid(), d.analyser_pid()] + d.sensors()
    assert len(procs) >= 4
    for pid in procs:
        held = open_fds(pid)
        assert str(stray) not in held.values(), (comm(pid), held)
    d.stop()


def test_data_files_have_one_mode(sundew):
    # Started from a shell with the usual umask 022: the database, its
    # WAL and shared memory, the logs (live and rotated) and the hexdumps
    # are all 0640, readable by the sundew group, by no one else.
    old = os.umask(0o022)
    try:
        d = sundew(["output.json.max_size=4000", "output.json.keep=50",
                    "limits.per_source=0"])
    finally:
        os.umask(old)
    for i in range(40):
        s = connect(GENERIC_PORT)
        s.sendall(b"mode %d" % i)
        s.close()
    d.wait_events("sundew.file.stored", count=40, timeout=20)
    d.wait_events("sundew.connection.close", count=41, timeout=20)
    files = [d.data / "sundew.sqlite", d.data / "sundew.sqlite-wal",
             d.data / "sundew.sqlite-shm"]
    files += sorted(d.json_path.parent.glob("sundew.json*"))
    files += sorted((d.data / "hexdumps").iterdir())
    assert len(files) >= 3 + 2 + 40
    modes = {str(p.relative_to(d.data)): oct(p.stat().st_mode & 0o7777)
             for p in files}
    assert set(modes.values()) == {"0o640"}, modes
    d.stop()


def test_analyze_confines_each_analysis_and_a_hang_costs_one_file(tmp_path):
    # `sundew analyze` runs Unicorn on untrusted files: as the daemon's
    # analyser does, in a child chrooted into an empty directory, as the
    # sundew user, under the analyser's filter and limits.  A hang there
    # (the child stopped past its 5 s alarm) costs that file only.
    sc = CORPORA / "shellcode"
    if not sc.exists():
        pytest.skip("shared/corpora not present")
    big = tmp_path / "big.bin"          # about 3 s of analysis
    big.write_bytes(b"\0" * (60 << 20))
    small = tmp_path / "small.bin"
    small.write_bytes(b"\0" * 4096)
    a = sc / "libemu_00_win32-bind-exitfunc-seh-lport-4444-size-317-encoder-none.bin"
    b = sc / "libemu_24_linux-bindshell.bin"
    p = subprocess.Popen([str(SUNDEW), "analyze", str(big), str(a), str(small), str(b)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        def confined():
            for c in children(p.pid):
                try:
                    if proc_status(c)["Seccomp"] == "2":
                        return c
                except OSError:
                    pass
            return None
        child = wait_for(confined, 20, "a confined analysis child")
        st = proc_status(child)
        assert all(int(u) != 0 for u in st["Uid"].split()), st["Uid"]
        assert all(int(g) != 0 for g in st["Gid"].split()), st["Gid"]
        assert int(st["CapEff"], 16) == 0 and int(st["CapBnd"], 16) == 0
        assert st["NoNewPrivs"] == "1"
        root = os.readlink(f"/proc/{child}/root")
        assert root.startswith("/tmp/sundew-empty."), root
        assert os.listdir(root) == []
        limits = pathlib.Path(f"/proc/{child}/limits").read_text()
        assert re.search(r"Max address space\s+4294967296\s+4294967296", limits)
        # Still on the first file: hang it past its alarm.
        os.kill(child, signal.SIGSTOP)
        time.sleep(6)
        os.kill(child, signal.SIGCONT)
        out, err = p.communicate(timeout=60)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert p.returncode == 1
    assert "big.bin: the analysis took more than 5 s" in err, err
    got = [json.loads(l) for l in out.splitlines()]
    assert [o["file"] for o in got] == [str(a), str(small), str(b)]
    assert got[0]["actions"] == [
        {"action": "bind_shell", "evidence": "emulated", "port": 4444}]
    assert got[2]["actions"] == [
        {"action": "bind_shell", "evidence": "emulated", "port": 20000}]
    assert not os.path.exists(root)
