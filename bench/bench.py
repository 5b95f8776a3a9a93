#!/usr/bin/python3
"""`make bench`: sundew's connection rate and memory, next to a baseline.

Measured in one run on loopback, with the load generator bench_load:

1. the connection rate of bench_trivial (accept, read to the end, close);
2. the connection rate of sundew on a generic TCP port, with full event
   logging, as a ratio to (1); the runs of (1) and (2) alternate;
3. the resident memory of sundew's sensor processes per idle connection,
   with 10,000 idle connections held;
4. how many of 50,000 concurrent connections sundew holds;
5. the store's CPU time per connection, in-process (bench_store);
6. the sensors' memory per open shell: a bind-shell shellcode sent N
   times (each asking for a port of its own), each shell then spoken to
   (banner, prompt, a command that writes a file), held open;
7. with ../shared/corpora: 1,000 downloads held in flight by a slow local
   HTTP server (each asked for by libemu's URL shellcode with a URL of its
   own), the sensors' memory per running download, and the connection
   rate of (2) again, runs alternating with (1) as before, meanwhile;
8. whole SMB1 sessions on 445 (bench_smb: negotiate, session setup, tree
   connect IPC$, open \\lsarpc, DCERPC bind, one request, close) a
   second, as a ratio to the generic connection rate of runs alternating
   with them; the same sessions against bench_trivial -m smb, which
   answers each step with a fixed reply (the bound of that ratio); and
   the sensors' memory per open SMB session (held after the bind).

Then sundew is stopped and its JSON log must hold one
sundew.connection.close event per connection completed in (2).

The figures are printed next to their targets with PASS or MISS.  This is
a measurement, not a test: the exit status is 0 whatever the figures, and
non-zero only when the benchmark could not run.  Standard library only.
"""

import argparse
import gzip
import json
import os
import re
import resource
import select
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

RATE_RE = re.compile(
    r"completed (\d+) in ([0-9.]+) s = (\d+) conn/s, errors (\d+)")
HOLD_RE = re.compile(r"established (\d+) of (\d+), errors (\d+)")
PEER_RE = re.compile(r"closed by peer (\d+)")

# Each rate run comes from source addresses of its own, 127.B.K.1-254 for
# run K (0: the warm-up) with B = SUNDEW_NET for sundew's runs and
# TRIVIAL_NET for the trivial server's, so that the close events in the
# log are counted run by run.  The held connections come from 127.0.0.x.
SUNDEW_NET = 10
TRIVIAL_NET = 20
HOLD_SOURCES = (128, 254)
# How long the JSON log must not change to be taken as caught up with a
# run: well over the store's flush interval (0.1 s, store_proc.c).
LOG_QUIET = 0.5

TARGET_RATIO = 0.70
# With downloads in flight, the ratio stays within this of the one without.
TARGET_DOWNLOAD_RATIO = 0.95
TARGET_DOWNLOAD_BYTES = 64 * 1024
DOWNLOADS = 1000
# The rate runs while downloads are in flight come from nets of their own.
SUNDEW_DL_NET = 11
TRIVIAL_DL_NET = 21
URL_SC = ("shellcode", "libemu_07_win32-downloadexec-url-http-nepenthes-"
          "mwcollect-org-bad-exe.bin")
URL_SC_URL = b"http://nepenthes.mwcollect.org/bad.exe"
SLOW_HOST = "slow.example.org"
TARGET_BYTES_PER_CONN = 4096
TARGET_CONCURRENT = 50000
TARGET_PREFILTER_MBS = 200
TARGET_ANALYSIS_MS = 10
TARGET_BYTES_PER_SHELL = 64 * 1024
BIND_SHELLCODE = "libemu_00_win32-bind-exitfunc-seh-lport-4444-size-317-" \
    "encoder-none.bin"
SHELL_PORTS = 20000     # the shells listen on SHELL_PORTS + i
# SMB1 sessions: their runs, the generic runs they alternate with and the
# held sessions come from nets of their own.
SMB_PORT = 445
SMB_NET = 12
SMB_GENERIC_NET = 22
SMB_HOLD_NET = 13
SMB_TRIVIAL_NET = 23
TARGET_SMB_RATIO = 0.50
TARGET_BYTES_PER_SMB = 16 * 1024
SMB_RATE_RE = re.compile(
    r"completed (\d+) in ([0-9.]+) s = (\d+) sessions/s, errors (\d+)")
CORPORA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                       "shared", "corpora")


class BenchError(Exception):
    """The benchmark cannot go on; the message says why."""


def say(msg):
    print(msg, flush=True)


def note(args, msg):
    if args.verbose:
        print("  " + msg, file=sys.stderr, flush=True)


def raise_nofile():
    """Soft RLIMIT_NOFILE up to the hard one; children inherit it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


def read_line(proc, timeout, what):
    """The next stdout line of proc, or BenchError after timeout seconds."""
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise BenchError(f"{what}: no answer in {timeout} s")
        ready, _, _ = select.select([proc.stdout], [], [], left)
        if ready:
            line = proc.stdout.readline()
            if line == "":
                raise BenchError(f"{what}: exited with status "
                                 f"{proc.wait()} before answering")
            return line.strip()


def stop(proc, timeout=10):
    """SIGTERM, then SIGKILL after timeout; returns the exit status."""
    if proc is None or proc.poll() is not None:
        return None if proc is None else proc.returncode
    proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.wait()


# ---------------------------------------------------------------- rate

def run_sources(net, k):
    """The source addresses of rate run k: 127.net.k.1-254."""
    return f"127.{net}.{k}.1-127.{net}.{k}.254"


def rate_once(args, port, seconds, net, k, datadir=None):
    """One bench_load rate run: a dict of completed, elapsed, rate, errors.

    With datadir (sundew's runs), waits until the JSON log has caught up
    with the run and adds log_end: the seconds from the start of the run
    to the log's last write, and lag: from the last connection's end."""
    cmd = [args.load, "rate", "-c", str(args.concurrency), "-t",
           str(seconds), "-s", run_sources(net, k), "127.0.0.1", str(port)]
    t0 = time.time()
    try:
        res = subprocess.run(cmd, capture_output=True, text=True,
                             timeout=seconds + 60)
    except subprocess.TimeoutExpired as e:
        raise BenchError(f"{' '.join(cmd)}: did not finish") from e
    t_end = time.time()
    m = RATE_RE.search(res.stdout)
    if res.returncode != 0 or m is None:
        raise BenchError(f"{' '.join(cmd)}: status {res.returncode}: "
                         f"{res.stdout.strip()} {res.stderr.strip()}")
    run = {"k": k, "completed": int(m.group(1)),
           "elapsed": float(m.group(2)), "rate": int(m.group(3)),
           "errors": int(m.group(4))}
    extra = ""
    if datadir is not None:
        last = log_settle(datadir)
        run["log_end"] = max(run["elapsed"], last - t0)
        run["lag"] = max(0.0, last - t_end)
        extra = f", JSON log caught up {run['lag']:.3f} s after the last"
    note(args, f"{m.group(0)}  ({res.stderr.strip()}{extra})")
    return run


def log_mark(datadir):
    """(newest mtime in ns, total size) of the JSON log files."""
    newest = size = 0
    for path in log_files(datadir):
        try:
            st = os.stat(path)
        except OSError:
            continue
        newest = max(newest, st.st_mtime_ns)
        size += st.st_size
    return newest, size


def log_settle(datadir, timeout=60):
    """Waits until the JSON log has not changed for LOG_QUIET seconds;
    returns the wall-clock time of its last write.  Nothing but a rate run
    writes to it meanwhile (sundew has no periodic events), so that is when
    the run's last event was logged."""
    deadline = time.monotonic() + timeout
    mark, since = log_mark(datadir), time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.05)
        now = log_mark(datadir)
        if now != mark:
            mark, since = now, time.monotonic()
        elif time.monotonic() - since >= LOG_QUIET:
            break
    return mark[0] / 1e9


def rate_summary(label, runs, key="rate"):
    """The median of key over runs (the first is a warm-up) and totals."""
    rates = [r[key] for r in runs[1:]]
    say(f"  {label}: {' '.join(f'{r:.0f}' for r in rates)} conn/s, median "
        f"{statistics.median(rates):.0f}, errors "
        f"{sum(r['errors'] for r in runs)}")
    return {"median": statistics.median(rates),
            "completed": sum(r["completed"] for r in runs),
            "errors": sum(r["errors"] for r in runs), "runs": runs}


def rate_measure(args, tport, sport, datadir, snet=SUNDEW_NET,
                 tnet=TRIVIAL_NET):
    """A warm-up run of each, then args.runs runs of the trivial server
    and of sundew in turn, so that both see the same machine (other load,
    a neighbour on the host) and its drift falls on both alike.  After
    each of sundew's runs the JSON log is let catch up, so that the store's
    tail does not fall on the next run of the trivial server.  The trivial
    server's summary, and sundew's runs: their rate needs the log, read
    once sundew has stopped (logged_rates)."""
    say(f"rate: warm-up, then {args.runs} runs of {args.seconds} s of the "
        f"trivial server and of sundew in turn, {args.concurrency} "
        "connections in flight")
    triv = [rate_once(args, tport, 1, tnet, 0)]
    sd = [rate_once(args, sport, 1, snet, 0, datadir)]
    for k in range(1, args.runs + 1):
        triv.append(rate_once(args, tport, args.seconds, tnet, k))
        sd.append(rate_once(args, sport, args.seconds, snet, k, datadir))
    return rate_summary("trivial server", triv), sd


def logged_rates(runs, per_run):
    """sundew's rate, run by run: the connections whose close event the
    JSON log holds (per_run, by the run's sources), over the time from the
    run's first connect until the log held its last event."""
    for r in runs:
        r["logged"] = per_run.get(r["k"], 0)
        r["rate_logged"] = r["logged"] / r["log_end"]
    res = rate_summary("sundew, logged connections", runs, "rate_logged")
    res["generator_median"] = statistics.median(r["rate"] for r in runs[1:])
    res["logged"] = sum(r["logged"] for r in runs)
    res["max_lag"] = max(r["lag"] for r in runs)
    return res


def trivial_start(args, workdir, mode=None):
    """bench_trivial on a free port, in its -m mode if given: (process,
    port)."""
    trivial = os.path.join(args.build, "bench", "bench_trivial")
    cmd = [trivial] + (["-m", mode] if mode else []) + ["0", "127.0.0.1"]
    with open(os.path.join(workdir, f"trivial{mode or ''}.out"), "w",
              encoding="utf-8") as err:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err,
                                text=True)
    line = read_line(proc, 10, "bench_trivial")
    m = re.fullmatch(r"listening 127\.0\.0\.1 (\d+) (\d+)", line)
    if m is None:
        stop(proc)
        raise BenchError(f"bench_trivial: unexpected '{line}'")
    say(f"trivial {mode or ''} server: {m.group(2)} processes (one per "
        "CPU), SO_REUSEPORT, SCHED_BATCH")
    return proc, int(m.group(1))


# ------------------------------------------------------------- processes

def proc_stat(pid):
    """(comm, ppid) of pid, or None if it is gone."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii",
                  errors="replace") as f:
            data = f.read()
    except OSError:
        return None
    # comm is in parentheses and may hold anything, so split at the last.
    lp, rp = data.find("("), data.rfind(")")
    fields = data[rp + 2:].split()
    return data[lp + 1:rp], int(fields[1])


def proc_title(pid):
    """argv[0] of pid: where a process title (setproctitle) would be."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().split(b"\0")[0].decode("ascii", "replace")
    except OSError:
        return ""


def children(ppid):
    kids = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            st = proc_stat(int(name))
            if st is not None and st[1] == ppid:
                kids.append((int(name), st[0]))
    return kids


def find_sensors(parent, fallback):
    """The sensor pids among parent's children, and how they were found.

    Preferred: comm or process title says "sensor" (the daemon names its sensors
    "sundew-sensor" with prctl(PR_SET_NAME)).  With fallback, if none is
    named so: every child but the one named sundew-store.
    """
    kids = children(parent)
    named = [pid for pid, comm in kids
             if "sensor" in comm or "sensor" in proc_title(pid)]
    if named or not fallback:
        return sorted(named), "children named 'sensor' (comm or process title)"
    rest = [pid for pid, comm in kids
            if "store" not in comm and "store" not in proc_title(pid)]
    return sorted(rest), "fallback: all children but sundew-store"


def rss_kib(pids):
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/status", encoding="ascii") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total


def rss_settled(pids, timeout=15):
    """The sensors' RSS once it stops moving: after a burst, the heap is
    handed back a second or so after the last session (conn.c) and once
    the queue to the store has drained (link.c)."""
    last = rss_kib(pids)
    stable = 0
    end = time.monotonic() + timeout
    while time.monotonic() < end and stable < 3:
        time.sleep(0.5)
        now = rss_kib(pids)
        stable = stable + 1 if now == last else 0
        last = now
    return last


def socket_fds(pids):
    """How many sockets pids have open: their connections and a few more."""
    total = 0
    for pid in pids:
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            continue
        for fd in fds:
            try:
                if os.readlink(f"/proc/{pid}/fd/{fd}").startswith("socket:"):
                    total += 1
            except OSError:
                pass
    return total


def settle(pids, want, timeout):
    """Waits until sockets of pids reach want or stop changing; returns it."""
    deadline = time.monotonic() + timeout
    last, same_since = -1, time.monotonic()
    while True:
        now_fds = socket_fds(pids)
        if now_fds == want:
            return now_fds
        if now_fds != last:
            last, same_since = now_fds, time.monotonic()
        elif time.monotonic() - same_since > 3:
            return now_fds
        if time.monotonic() > deadline:
            return now_fds
        time.sleep(0.25)


# ---------------------------------------------------------------- sundew

def wait_port(proc, port, timeout):
    """Until 127.0.0.1:port accepts; BenchError if proc dies or time runs."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise BenchError(f"sundew exited with status {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise BenchError(f"sundew: 127.0.0.1:{port} did not accept within "
                     f"{timeout} s")


def sundew_start(args, datadir, logpath, hard, extra=()):
    """sundew run -f on loopback, without the per-source cap (every
    connection comes from 127.0.0.x) and with a long idle time-out.
    Rotated JSON logs are all kept: the rate runs' close events are
    counted once sundew has stopped, after the downloads' and the held
    connections' events, which would otherwise push them out of the
    default ten.

    limits.max_connections keeps its default (60,000): where one process
    may open fewer files, the daemon starts enough sensors to hold them.
    limits.nofile asks for what this machine allows a process (the hard
    RLIMIT_NOFILE), no more (the daemon may not be able to raise it) and no
    less (a smaller default would cap the held connections).
    """
    cmd = [args.sundew, "run", "-f",
           "-o", "listen.address=127.0.0.1",
           "-o", f"data_dir={datadir}",
           "-o", "limits.per_source=0",
           "-o", "limits.idle_timeout=600s",
           "-o", "output.json.keep=10000",
           "-o", f"limits.nofile={hard}"]
    for o in extra:
        cmd += ["-o", o]
    say("sundew: " + " ".join(cmd))
    log = open(logpath, "w", encoding="utf-8")
    try:
        return subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log,
                                stderr=subprocess.STDOUT)
    finally:
        log.close()


def sensors_wait(proc, timeout):
    """Sensor pids: named ones if they appear within timeout, else any."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pids, how = find_sensors(proc.pid, False)
        if pids:
            return pids, how
        time.sleep(0.2)
    return find_sensors(proc.pid, True)


def hold_spawn(args, port, count, per_proc):
    """bench_load hold processes, at most per_proc connections each."""
    procs, left = [], count
    nproc = -(-count // per_proc)
    share = -(-count // nproc)
    while left > 0:
        n = min(share, left)
        procs.append(subprocess.Popen(
            [args.load, "hold", "-n", str(n), "-p", "256", "-w", "5",
             "-s", "%d-%d" % HOLD_SOURCES, "127.0.0.1", str(port)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True))
        left -= n
    return procs


def hold_wait(procs):
    """Once every connect is done: (established, errors) of all procs."""
    established = errors = 0
    for p in procs:
        line = read_line(p, 600, "bench_load hold")
        m = HOLD_RE.fullmatch(line)
        if m is None:
            raise BenchError(f"bench_load hold: unexpected '{line}'")
        established += int(m.group(1))
        errors += int(m.group(3))
    return established, errors


def hold_end(procs):
    """Closes the held connections; how many the server had closed."""
    closed = 0
    for p in procs:
        p.stdin.close()
    for p in procs:
        try:
            p.wait(60)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
        out = p.stdout.read()
        m = PEER_RE.search(out)
        if m:
            closed += int(m.group(1))
    return closed


def hold_measure(args, proc, sensors, port, count, hard):
    """Holds count idle connections; what sundew holds and its memory."""
    base_fds = socket_fds(sensors)
    base_rss = rss_settled(sensors)
    per_proc = max(1, min(count, hard - 64))
    t0 = time.monotonic()
    procs = hold_spawn(args, port, count, per_proc)
    try:
        established, errors = hold_wait(procs)
        held_fds = settle(sensors, base_fds + established, 60) - base_fds
        time.sleep(1)
        rss = rss_kib(sensors)
        held = max(0, min(held_fds, established))
        if proc.poll() is not None:
            raise BenchError(f"sundew exited with status {proc.returncode} "
                             f"holding {count} connections")
        now, _ = find_sensors(proc.pid, True)
        if not set(sensors) <= set(now):
            raise BenchError(f"a sensor process died holding {count} "
                             f"connections (pids {sensors} -> {now})")
    finally:
        peer_closed = hold_end(procs)
    settle(sensors, base_fds, 60)
    res = {"count": count, "established": established, "errors": errors,
           "held": held, "rss_before": base_rss, "rss_after": rss,
           "peer_closed": peer_closed, "seconds": time.monotonic() - t0}
    res["per_conn"] = ((rss - base_rss) * 1024 / held) if held else None
    say(f"  {count} held: established {established} (errors {errors}), "
        f"held by sundew {held}, sensor RSS {base_rss} -> {rss} KiB, "
        f"closed by sundew meanwhile {peer_closed}")
    return res


def log_files(datadir):
    logdir = os.path.join(datadir, "log")
    try:
        names = os.listdir(logdir)
    except OSError:
        return []
    return [os.path.join(logdir, n) for n in sorted(names)
            if n.startswith("sundew.json")]


def log_count(datadir, port, net=SUNDEW_NET):
    """({rate run: its close events}, all close events, files read), for
    the runs from 127.net.K.x."""
    prefix = f"127.{net}."
    per_run = {}
    total = 0
    files = log_files(datadir)
    for path in files:
        opener = gzip.open if path.endswith(".gz") else open
        with opener(path, "rt", encoding="utf-8", errors="replace") as f:
            for line in f:
                if "sundew.connection.close" not in line:
                    continue
                try:
                    ev = json.loads(line)
                except ValueError:
                    continue
                if ev.get("eventid") != "sundew.connection.close":
                    continue
                total += 1
                src = str(ev.get("src_ip"))
                if src.startswith(prefix) and \
                        str(ev.get("dst_port")) == str(port):
                    k = int(src.split(".")[2])
                    per_run[k] = per_run.get(k, 0) + 1
    return per_run, total, files


def smb_rate_once(args, seconds, k, port=SMB_PORT, net=SMB_NET):
    """One bench_smb rate run of whole SMB1 sessions: completed, rate,
    errors."""
    cmd = [args.smb, "rate", "-c", str(args.concurrency), "-t",
           str(seconds), "-s", run_sources(net, k), "127.0.0.1",
           str(port)]
    try:
        res = subprocess.run(cmd, capture_output=True, text=True,
                             timeout=seconds + 60)
    except subprocess.TimeoutExpired as e:
        raise BenchError(f"{' '.join(cmd)}: did not finish") from e
    m = SMB_RATE_RE.search(res.stdout)
    if res.returncode != 0 or m is None:
        raise BenchError(f"{' '.join(cmd)}: status {res.returncode}: "
                         f"{res.stdout.strip()} {res.stderr.strip()}")
    note(args, m.group(0))
    return {"k": k, "completed": int(m.group(1)), "rate": int(m.group(3)),
            "errors": int(m.group(4))}


def smb_measure(args, proc, sensors, workdir, datadir):
    """SMB1 sessions a second against generic connections a second, and
    the same sessions against bench_trivial's SMB responder (the least a
    server can do for them), runs in turn (each as its load generator
    counts them), then the memory of args.smb_sessions SMB sessions held
    open after their bind.  As in rate_measure, the JSON log is let catch
    up after each of sundew's runs, so that the store's tail of one run
    does not fall on the next (a generic run's on an SMB run, an SMB
    run's on the trivial responder's)."""
    say(f"smb: warm-up, then {args.runs} runs of {args.seconds} s of whole "
        f"SMB1 sessions on {SMB_PORT}, of generic connections and of SMB1 "
        "sessions against the trivial responder in turn")
    tproc, tport = trivial_start(args, workdir, "smb")
    try:
        gen, smb, triv = [], [], []
        for k in range(args.runs + 1):
            secs = args.seconds if k else 1      # run 0 is a warm-up
            gen.append(rate_once(args, args.port, secs, SMB_GENERIC_NET,
                                 k, datadir))
            smb.append(smb_rate_once(args, secs, k))
            log_settle(datadir)
            triv.append(smb_rate_once(args, secs, k, tport,
                                      SMB_TRIVIAL_NET))
    finally:
        stop(tproc)
    res = {"generic": rate_summary("generic connections", gen),
           "sessions": rate_summary("SMB1 sessions", smb),
           "trivial": rate_summary("SMB1 sessions, trivial responder",
                                   triv)}
    base = rss_settled(sensors)
    cmd = [args.smb, "hold", "-n", str(args.smb_sessions), "-s",
           f"127.{SMB_HOLD_NET}.0.1-127.{SMB_HOLD_NET}.255.254", "-w", "60",
           "127.0.0.1", str(SMB_PORT)]
    hold = subprocess.Popen(cmd, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    try:
        line = read_line(hold, 300, "bench_smb hold")
        m = HOLD_RE.search(line)
        if m is None:
            raise BenchError(f"bench_smb hold: unexpected '{line}'")
        held, errors = int(m.group(1)), int(m.group(3))
        time.sleep(1)
        rss = rss_kib(sensors)
    finally:
        hold.stdin.close()
        stop(hold)
    res.update(held=held, hold_errors=errors, rss_before=base,
               rss_after=rss,
               per_session=(rss - base) * 1024 / held if held else None)
    say(f"  {held} SMB sessions held (errors {errors}), sensor RSS {base} "
        f"-> {rss} KiB")
    return res


def sundew_measure(args, hard, workdir, tport):
    datadir = os.path.join(workdir, "data")
    logpath = os.path.join(workdir, "sundew.out")
    extra = []
    if args.slow_port:
        # Downloads of the slow server: no cap on how many run at once or
        # start from one source, a time cap longer than the bench.
        extra = [f"download.connect_to={SLOW_HOST}:80:127.0.0.1:"
                 f"{args.slow_port}", "download.max_concurrent=0",
                 "download.per_source=0", "download.timeout=600s"]
    proc = sundew_start(args, datadir, logpath, hard, extra)
    res = {"datadir": datadir, "logpath": logpath}
    try:
        wait_port(proc, args.port, 30)
        sensors, how = sensors_wait(proc, 10)
        if not sensors:
            raise BenchError("sundew: no sensor process found among the "
                             f"children of {proc.pid}")
        say(f"  sensors: pids {' '.join(map(str, sensors))} ({how})")
        res["sensors_how"] = how
        res["trivial"], sd_runs = rate_measure(args, tport, args.port,
                                               datadir)
        res["smb"] = smb_measure(args, proc, sensors, workdir, datadir)
        if args.slow_port:
            res["dl"] = downloads_measure(args, proc, sensors, tport,
                                          datadir)
        say(f"sundew: holding {args.idle} idle connections")
        res["idle"] = hold_measure(args, proc, sensors, args.port,
                                   args.idle, hard)
        say(f"sundew: holding {args.max} connections")
        res["max"] = hold_measure(args, proc, sensors, args.port,
                                  args.max, hard)
    except BaseException:
        sundew_stop(proc)
        say("sundew's output (last lines):")
        show_tail(logpath)
        raise
    status = sundew_stop(proc)
    if status not in (0, -signal.SIGTERM):
        say(f"  sundew exited with status {status} after SIGTERM")
    res["log"] = log_count(datadir, args.port)
    res["rate"] = logged_rates(sd_runs, res["log"][0])
    if "dl" in res:
        res["dl"]["rate"] = logged_rates(
            res["dl"]["sd_runs"], log_count(datadir, args.port,
                                            SUNDEW_DL_NET)[0])
    return res


def shell_open(port, timeout=60):
    """A connection to the bind shell on port once it listens, the banner
    and prompt read, a file written; the socket."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            s = socket.create_connection(("127.0.0.1", port), timeout=10)
            break
        except ConnectionRefusedError:
            if time.monotonic() > deadline:
                raise BenchError(f"no bind shell on port {port} within "
                                 f"{timeout} s")
            time.sleep(0.05)
    want = [b"system32>", b"system32>"]
    got = b""
    for i, end in enumerate(want):
        if i == 1:
            s.sendall(b"echo open 0.0.0.0 21 > o\r\n")
        while not got.endswith(end):
            chunk = s.recv(4096)
            if not chunk:
                raise BenchError(f"the shell on port {port} closed")
            got += chunk
        got = b""
    return s


def shells_measure(args, hard, workdir):
    """Memory of the sensors per open shell: RSS after minus before."""
    with open(os.path.join(CORPORA, "shellcode", BIND_SHELLCODE), "rb") as f:
        code = bytearray(f.read())
    at = code.find(b"\x11\x5c")       # its port, 4444
    datadir = os.path.join(workdir, "shells")
    logpath = os.path.join(workdir, "shells.out")
    proc = sundew_start(args, datadir, logpath, hard,
                        ["shell.max_open=65536", "shell.listen_timeout=600s",
                         "shell.session_timeout=3600s"])
    held = []
    try:
        wait_port(proc, args.port, 30)
        sensors, _ = sensors_wait(proc, 10)
        base = rss_settled(sensors)
        for i in range(args.shells):
            code[at:at + 2] = (SHELL_PORTS + i).to_bytes(2, "big")
            # A source each: a sensor holds 8 shells of one attacker.
            s = socket.create_connection(
                ("127.0.0.1", args.port),
                source_address=(f"127.1.{i // 250}.{i % 250 + 1}", 0))
            s.sendall(code)
            s.close()
        for i in range(args.shells):
            held.append(shell_open(SHELL_PORTS + i))
        after = rss_settled(sensors)
    except BaseException:
        sundew_stop(proc)
        say("sundew's output (last lines):")
        show_tail(logpath)
        raise
    finally:
        for s in held:
            s.close()
    sundew_stop(proc)
    say(f"shells: {len(held)} open, sensors' VmRSS {base} -> {after} KiB")
    return {"held": len(held), "per_shell":
            (after - base) * 1024 / len(held) if held else None}


def show_tail(path, lines=20):
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            for line in f.readlines()[-lines:]:
                say("  | " + line.rstrip())
    except OSError:
        pass


def sundew_stop(proc):
    """SIGTERM to the daemon; its status.  Children it left are killed."""
    kids = children(proc.pid)
    status = stop(proc, 30)
    # A store still flushing the log gets some time before it is killed.
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(
            (proc_stat(pid) or ("",))[0] == comm for pid, comm in kids):
        time.sleep(0.2)
    for pid, comm in kids:
        st = proc_stat(pid)
        if st is not None and st[0] == comm:
            say(f"  sundew left its child {pid} ({comm}) running: killed")
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
    return status


# ------------------------------------------------------------- downloads

class SlowServer:
    """An HTTP server on 127.0.0.1 that holds every download: it reads a
    request, answers with headers that announce a large body, and sends
    nothing more.  One thread, selectors; counts the requests."""

    def __init__(self):
        import selectors
        import threading
        self.sel = selectors.DefaultSelector()
        self.lsock = socket.socket()
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(4096)
        self.lsock.setblocking(False)
        self.port = self.lsock.getsockname()[1]
        self.sel.register(self.lsock, selectors.EVENT_READ)
        self.held = []
        self.requests = 0
        self.running = True
        self.thread = threading.Thread(target=self.loop, daemon=True)
        self.thread.start()

    def loop(self):
        import selectors
        while self.running:
            for key, _ in self.sel.select(0.1):
                if key.fileobj is self.lsock:
                    try:
                        c, _ = self.lsock.accept()
                    except OSError:
                        continue
                    c.setblocking(False)
                    self.sel.register(c, selectors.EVENT_READ)
                    continue
                c = key.fileobj
                try:
                    data = c.recv(4096)
                except OSError:
                    data = b""
                self.sel.unregister(c)
                if b"\r\n\r\n" in data:
                    self.requests += 1
                    c.send(b"HTTP/1.1 200 OK\r\nContent-Length: 1000000"
                           b"\r\n\r\n")
                    self.held.append(c)
                else:
                    c.close()

    def close(self):
        self.running = False
        self.thread.join(5)
        for c in self.held:
            c.close()
        self.lsock.close()


def download_payloads(n):
    """n payloads of libemu's URL shellcode, each with a URL of its own
    on the slow server's name."""
    with open(os.path.join(CORPORA, *URL_SC), "rb") as f:
        sc = f.read()
    at = sc.index(URL_SC_URL)
    return [sc[:at] + f"http://{SLOW_HOST}/{i:04d}.exe".encode() +
            sc[at + len(URL_SC_URL):] for i in range(n)]


def downloads_measure(args, proc, sensors, tport, datadir):
    """DOWNLOADS downloads held in flight by the slow server: the sensors'
    memory per running download (their RSS, settled, after minus before,
    with no byte of a body received: what a download costs besides its
    body), then the rate runs again while they run."""
    say(f"sundew: {DOWNLOADS} downloads held in flight by a slow server")
    before = rss_settled(sensors)
    for p in download_payloads(DOWNLOADS):
        with socket.create_connection(("127.0.0.1", args.port)) as c:
            c.sendall(p)
    # Until all arrived, or none for 10 s: an analysis that ran out of
    # its budget under load asks for no download (the URL is "clear").
    deadline = time.monotonic() + 120
    last, since = -1, time.monotonic()
    while args.slow.requests < DOWNLOADS and time.monotonic() < deadline \
            and time.monotonic() - since < 10:
        if args.slow.requests != last:
            last, since = args.slow.requests, time.monotonic()
        time.sleep(0.2)
    held = args.slow.requests
    if held < DOWNLOADS * 9 // 10:
        raise BenchError(f"only {held} of {DOWNLOADS} downloads reached "
                         "the slow server")
    log_settle(datadir)
    after = rss_settled(sensors)
    per = (after - before) * 1024 / held
    say(f"  {held} in flight, sensor RSS {before} -> {after} KiB: "
        f"{per / 1024:.1f} KiB a download")
    triv, sd_runs = rate_measure(args, tport, args.port, datadir,
                                 SUNDEW_DL_NET, TRIVIAL_DL_NET)
    return {"per_download": per, "rss_before": before, "rss_after": after,
            "in_flight": held, "trivial": triv, "sd_runs": sd_runs}


# ---------------------------------------------------------------- report

def verdict(ok):
    return "PASS" if ok else "MISS"


def analyser_measure(args):
    """bench_sc: the pre-filter over the pcaps (ordinary traffic) next to
    memchr over the same bytes, and the median analysis of the corpus."""
    pcaps = os.path.join(CORPORA, "pcaps")
    traffic = sorted(os.path.join(pcaps, "protocol", f)
                     for f in os.listdir(os.path.join(pcaps, "protocol")))
    traffic.append(os.path.join(pcaps, "attack",
                                "es_wannacry-ms17-010-doublepulsar.pcap"))
    out = subprocess.run([os.path.join(args.build, "bench", "bench_sc"),
                          os.path.join(CORPORA, "shellcode"), *traffic],
                         capture_output=True, text=True, check=True).stdout
    say("analyser: " + out.strip().replace("\n", "; "))
    words = out.split()
    return {"prefilter": float(words[1]), "memchr": float(words[4]),
            "median_ms": float(words[words.index("median") + 1])}


def store_measure(args, workdir):
    """bench_store: the store's CPU time per connection of the rate runs
    (4 events and a hexdump), with no output, the JSON log, and both."""
    d = os.path.join(workdir, "store")
    os.mkdir(d)
    out = subprocess.run([os.path.join(args.build, "bench", "bench_store"),
                          d], capture_output=True, text=True,
                         check=True).stdout
    say(out.strip())
    return out.strip()


def report(args, triv, sd, hard, sc=None, sh=None):
    rows = []
    ratio = sd["rate"]["median"] / triv["median"] if triv["median"] else 0
    rows.append(("connections/s, full logging",
                 f"{sd['rate']['median']:.0f}", f"{triv['median']:.0f}",
                 f"{ratio:.0%}", f">= {TARGET_RATIO:.0%}",
                 verdict(ratio >= TARGET_RATIO)))
    _, total, files = sd["log"]
    ours = sd["rate"]["logged"]
    done = sd["rate"]["completed"]
    rows.append(("close events / completed",
                 f"{ours}/{done}", "-", "-", "all logged",
                 verdict(ours == done and done > 0)))
    per = sd["idle"]["per_conn"]
    rows.append((f"memory per idle conn ({args.idle})",
                 "n/a" if per is None else f"{per / 1024:.2f} KiB", "-", "-",
                 f"< {TARGET_BYTES_PER_CONN // 1024} KiB",
                 verdict(per is not None and per < TARGET_BYTES_PER_CONN
                         and sd["idle"]["held"] == args.idle)))
    mx = sd["max"]
    rows.append(("concurrent connections held",
                 str(mx["held"]), "-", "-", f">= {TARGET_CONCURRENT}",
                 verdict(mx["held"] >= TARGET_CONCURRENT)))
    per = mx["per_conn"]
    rows.append((f"memory per conn ({mx['held']} held)",
                 "n/a" if per is None else f"{per / 1024:.2f} KiB", "-", "-",
                 f"< {TARGET_BYTES_PER_CONN // 1024} KiB",
                 verdict(per is not None and per < TARGET_BYTES_PER_CONN)))

    dl = sd.get("dl")
    if dl is not None:
        dl_ratio = (dl["rate"]["median"] / dl["trivial"]["median"]
                    if dl["trivial"]["median"] else 0)
        rel = dl_ratio / ratio if ratio else 0
        rows.append((f"conn/s, {dl['in_flight']} downloads in flight",
                     f"{dl['rate']['median']:.0f}",
                     f"{dl['trivial']['median']:.0f}", f"{dl_ratio:.0%}",
                     f">= {TARGET_DOWNLOAD_RATIO:.0%} of {ratio:.0%}",
                     verdict(rel >= TARGET_DOWNLOAD_RATIO)))
        rows.append(("memory per running download",
                     f"{dl['per_download'] / 1024:.1f} KiB", "-", "-",
                     f"< {TARGET_DOWNLOAD_BYTES // 1024} KiB",
                     verdict(dl["per_download"] < TARGET_DOWNLOAD_BYTES)))

    smb = sd["smb"]
    smb_ratio = (smb["sessions"]["median"] / smb["generic"]["median"]
                 if smb["generic"]["median"] else 0)
    rows.append(("SMB1 sessions/s (vs generic conn/s)",
                 f"{smb['sessions']['median']:.0f}",
                 f"{smb['generic']['median']:.0f} (generic)",
                 f"{smb_ratio:.0%}", f">= {TARGET_SMB_RATIO:.0%}",
                 verdict(smb_ratio >= TARGET_SMB_RATIO and
                         smb["sessions"]["errors"] == 0)))
    triv_ratio = (smb["trivial"]["median"] / smb["generic"]["median"]
                  if smb["generic"]["median"] else 0)
    rows.append(("  the same, trivial SMB responder",
                 f"{smb['trivial']['median']:.0f}",
                 f"{smb['generic']['median']:.0f} (generic)",
                 f"{triv_ratio:.0%}", "(bound)", "-"))
    per = smb["per_session"]
    rows.append((f"memory per open SMB session ({smb['held']})",
                 "n/a" if per is None else f"{per / 1024:.2f} KiB", "-", "-",
                 f"< {TARGET_BYTES_PER_SMB // 1024} KiB",
                 verdict(per is not None and per < TARGET_BYTES_PER_SMB and
                         smb["held"] == args.smb_sessions)))

    if sc is not None:
        rows.append(("pre-filter MB/s, pcap traffic",
                     f"{sc['prefilter']:.0f}", f"{sc['memchr']:.0f} (memchr)",
                     "-", f">= {TARGET_PREFILTER_MBS}",
                     verdict(sc["prefilter"] >= TARGET_PREFILTER_MBS)))
        rows.append(("analysis median, corpus",
                     f"{sc['median_ms']:.2f} ms", "-", "-",
                     f"< {TARGET_ANALYSIS_MS} ms",
                     verdict(sc["median_ms"] < TARGET_ANALYSIS_MS)))

    if sh is not None:
        per = sh["per_shell"]
        rows.append((f"memory per open shell ({sh['held']})",
                     "n/a" if per is None else f"{per / 1024:.2f} KiB",
                     "-", "-", f"< {TARGET_BYTES_PER_SHELL // 1024} KiB",
                     verdict(per is not None and sh["held"] == args.shells
                             and per < TARGET_BYTES_PER_SHELL)))

    head = ("figure", "sundew", "trivial", "ratio", "target", "result")
    widths = [max(len(r[i]) for r in rows + [head]) for i in range(6)]
    say("")
    for r in [head] + rows:
        say("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())
    say("")
    say(f"rate: median of {args.runs} runs of {args.seconds} s each, the "
        "trivial server's and sundew's in turn, "
        f"{args.concurrency} in flight, each connection: connect, send 100 "
        "bytes, shut down, read to the end, close; errors: trivial "
        f"{triv['errors']}, sundew {sd['rate']['errors']}")
    say("rate: the trivial server's is connections completed over the run; "
        "sundew's is connections whose close event the JSON log holds, "
        "over the time until the log held the run's last event (up to "
        f"{sd['rate']['max_lag']:.2f} s after the run's last connection; "
        "the store flushes every 0.1 s); counting completed connections "
        f"over the run, sundew's median is "
        f"{sd['rate']['generator_median']:.0f}")
    say(f"log: {total} sundew.connection.close events in "
        f"{len(files)} file(s) under {sd['datadir']}/log, {ours} from the "
        "rate runs")
    say("smb: a session is negotiate, anonymous session setup, tree "
        "connect IPC$, NT create \\lsarpc, DCERPC bind and one request "
        "(each a TransactNmPipe, as Windows and the MS04-011 worm send "
        "them), close, each step awaited; all rates as their load "
        "generators count them; the trivial responder answers each step "
        "with a fixed reply and logs nothing: no SMB server can do less "
        "per session on this machine, so its ratio bounds sundew's; "
        f"errors: SMB {smb['sessions']['errors']}, generic "
        f"{smb['generic']['errors']}, trivial {smb['trivial']['errors']}; "
        "memory per SMB session is the sensors' VmRSS after minus before, "
        "over the sessions held after their bind")
    say(f"memory: VmRSS of the sensor processes ({sd['sensors_how']}), "
        "after minus before, per connection held by sundew (its sockets)")
    if dl is not None:
        say(f"downloads: {DOWNLOADS} payloads of libemu's URL shellcode, "
            "each with a URL of its own, sent to the generic service; a "
            "local server answers each request with headers only and "
            "holds it; memory is the sensors' VmRSS, settled, after minus "
            "before, over the downloads (no body byte received); then the "
            "rate runs again, alternating with the trivial server's, while "
            f"they run (ratio {dl_ratio:.0%} against {ratio:.0%} "
            "without)")
    elif not os.path.isdir(CORPORA):
        say(f"downloads: not measured, {CORPORA} not found (the URL "
            "shellcode comes from it)")
    if mx["established"] > mx["held"]:
        say(f"held: the load generator saw {mx['established']} established; "
            "the rest waited in the kernel's accept queue")
    if hard < TARGET_CONCURRENT:
        say(f"note: the hard RLIMIT_NOFILE here is {hard} and cannot be "
            "raised without CAP_SYS_RESOURCE: one sensor process cannot "
            f"hold more than {hard} connections")


# ------------------------------------------------------------------ main

def parse_args(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sundew", required=True, help="the daemon binary")
    ap.add_argument("--build", required=True, help="the build directory")
    ap.add_argument("--port", type=int, default=3127,
                    help="a port of sundew's generic TCP service")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--seconds", type=int, default=4)
    ap.add_argument("--concurrency", type=int, default=128)
    ap.add_argument("--idle", type=int, default=10000)
    ap.add_argument("--max", type=int, default=50000)
    ap.add_argument("--smb-sessions", type=int, default=2000,
                    help="SMB sessions held for their memory")
    ap.add_argument("--shells", type=int, default=1000,
                    help="bind shells held open for their memory")
    ap.add_argument("--keep", action="store_true",
                    help="keep the data directory")
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args(argv)
    if min(args.runs, args.seconds, args.concurrency, args.idle,
           args.max) < 1:
        ap.error("counts and durations must be positive")
    args.load = os.path.join(args.build, "bench", "bench_load")
    return args


def preflight(name, paths):
    """The binaries are built and we are root: the raised file limit, or
    None after saying what is missing."""
    for path in paths:
        if not os.access(path, os.X_OK):
            print(f"{name}: {path}: not built; run 'make build' first",
                  file=sys.stderr)
            return None
    if os.geteuid() != 0:
        print(f"{name}: sundew binds its default ports and drops "
              f"privileges: run 'make {name}' as root", file=sys.stderr)
        return None
    return raise_nofile()


def main(argv):
    args = parse_args(argv)
    args.smb = os.path.join(args.build, "bench", "bench_smb")
    hard = preflight("bench", (args.sundew, args.load, args.smb, os.path.join(
        args.build, "bench", "bench_trivial")))
    if hard is None:
        return 2
    say(f"bench: {os.cpu_count()} CPUs, Linux {os.uname().release}, "
        f"RLIMIT_NOFILE {hard}")
    workdir = tempfile.mkdtemp(prefix="sundew-bench-")
    # The daemon's unprivileged children must reach the data directory.
    os.chmod(workdir, 0o755)
    ok = False
    try:
        tproc, tport = trivial_start(args, workdir)
        args.slow = SlowServer() if os.path.isdir(CORPORA) else None
        args.slow_port = args.slow.port if args.slow else 0
        try:
            sd = sundew_measure(args, hard, workdir, tport)
        finally:
            stop(tproc)
            if args.slow:
                args.slow.close()
        triv = sd["trivial"]
        store_measure(args, workdir)
        sc = analyser_measure(args) if os.path.isdir(CORPORA) else None
        sh = shells_measure(args, hard, workdir) \
            if os.path.isdir(CORPORA) else None
        report(args, triv, sd, hard, sc, sh)
        ok = True
    except BenchError as e:
        print(f"bench: {e}", file=sys.stderr)
    except KeyboardInterrupt:
        print("bench: interrupted", file=sys.stderr)
    finally:
        if ok and not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            say(f"bench: data and sundew's output kept in {workdir}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
