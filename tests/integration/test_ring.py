"""The event path survives the death of any child and a full disk.

Each sensor writes its events into a ring in shared memory that the parent
keeps; the store commits a record only once the JSON log and SQLite hold
it.  These tests kill sensors and the store under load, and fill the disk,
and check every event against what the clients know they did.
"""
import collections
import multiprocessing
import os
import signal
import socket
import subprocess
import time

import pytest

from conftest import GENERIC_PORT, wait_for

LOAD_PROCS = 4
LOAD_SECONDS = 12


def _load_worker(idx, seconds, out, most=None, net=1):
    """Connections from 127.<net>.1.<idx+1> until time is up.

    A connection is complete when the server closed it after our FIN: the
    sensor writes the close event into its ring before it closes the
    socket, so a complete connection's events were published.
    """
    src = f"127.{net}.1.{idx + 1}"
    done = []
    errors = collections.Counter()
    end = time.monotonic() + seconds
    n = 0
    while time.monotonic() < end and (most is None or n < most):
        s = socket.socket()
        s.settimeout(5)
        try:
            s.bind((src, 0))
            s.connect(("127.0.0.1", GENERIC_PORT))
            port = s.getsockname()[1]
            s.sendall(b"the same request a worm sends\n")
            s.shutdown(socket.SHUT_WR)
            while s.recv(4096):
                pass
            done.append(port)
        except OSError as e:
            # Refused or reset: a sensor died under it.
            errors[type(e).__name__ + " " + str(e.errno)] += 1
        finally:
            s.close()
        n += 1
    out.put((src, done, n, dict(errors)))


def run_load(seconds=LOAD_SECONDS, procs=LOAD_PROCS, during=None, most=None):
    """Runs the load; during(elapsed) is called every 0.2 s meanwhile.

    Returns {(src_ip, src_port): how many} of the completed connections
    and the number tried.
    """
    # Sources no earlier load used: their ports are all free, none in
    # TIME_WAIT, so each (source, port) is one connection.
    run_load.net = getattr(run_load, "net", os.getpid() % 100) % 200 + 1
    q = multiprocessing.Queue()
    ps = [multiprocessing.Process(target=_load_worker,
                                  args=(i, seconds, q, most, run_load.net))
          for i in range(procs)]
    for p in ps:
        p.start()
    start = time.monotonic()
    while any(p.is_alive() for p in ps) and \
            time.monotonic() - start < seconds + 30:
        if during is not None:
            during(time.monotonic() - start)
        if q.qsize() == procs:
            break
        time.sleep(0.2)
    results = [q.get(timeout=60) for _ in ps]
    for p in ps:
        p.join(10)
    # A port may serve two connections of one run (TIME_WAIT reused).
    done = collections.Counter((src, port) for src, ports, _, _ in results
                               for port in ports)
    run_load.errors = collections.Counter()
    for r in results:
        run_load.errors.update(r[3])
    return done, sum(r[2] for r in results)


def sessions_by_addr(events):
    """{(src_ip, src_port): [eventid, ...]} of the last load's events."""
    out = {}
    for ev in events:
        if ev.get("src_ip", "").startswith(f"127.{run_load.net}.1."):
            out.setdefault((ev["src_ip"], ev["src_port"]), []).append(
                ev["eventid"])
    return out


def sql_events(d):
    rows = d.sql("SELECT id, eventid, src_ip, src_port, json_extract(data, "
                 "'$.id'), session FROM events")
    return rows


def check_every_event(d, done):
    """Every completed connection has its open and close in JSON and SQLite;
    every session of the load has exactly one open and one close in
    SQLite, no event is there twice; JSON and SQLite hold the same ids."""
    def json_complete():
        got = sessions_by_addr(d.events())
        missing = [a for a, k in done.items() if
                   got.get(a, []).count("sundew.connection.close") < k]
        return got if not missing else None
    json_by = wait_for(json_complete, 60, "close events of every completed "
                       "connection in the JSON log")
    for a, k in done.items():
        assert json_by[a].count("sundew.connection.open") >= k, a

    def sql_complete():
        rows = sql_events(d)
        by = {}
        for _, eventid, ip, port, _, _ in rows:
            if ip and ip.startswith(f"127.{run_load.net}.1."):
                by.setdefault((ip, port), []).append(eventid)
        missing = [a for a, k in done.items() if
                   by.get(a, []).count("sundew.connection.close") < k]
        return (rows, by) if not missing else None
    rows, sql_by = wait_for(sql_complete, 60, "close events of every "
                            "completed connection in SQLite")
    for a, k in done.items():
        assert sql_by[a].count("sundew.connection.open") >= k, a
    # Each session: one open, one close (one a killed sensor held has its
    # close from the next sensor, without the payload's events).
    sessions = {}
    for _, eventid, ip, _, _, session in rows:
        if ip and ip.startswith(f"127.{run_load.net}.1.") and \
                eventid in ("sundew.connection.open",
                            "sundew.connection.close"):
            sessions.setdefault(session, []).append(eventid)
    assert len(sessions) >= sum(done.values())
    for session, got in sessions.items():
        assert sorted(got) == ["sundew.connection.close",
                               "sundew.connection.open"], (session, got)
    ids = [r[0] for r in rows]
    assert len(ids) == len(set(ids)), "an event twice in SQLite"
    # Both logs hold the same events: every JSON id is in SQLite, once.
    json_ids = {e["id"] for e in d.events() if "id" in e}
    sql_ids = {r[4] for r in rows}
    assert json_ids == sql_ids


def test_sigkill_sensor_and_store_under_load(sundew):
    d = sundew(["sensors=2", "limits.per_source=0"])
    killed = {}

    def during(t):
        if t > 3 and "sensor" not in killed:
            killed["sensor"] = d.sensors()[0]
            os.kill(killed["sensor"], signal.SIGKILL)
        if t > 7 and "store" not in killed:
            killed["store"] = d.store_pid()
            os.kill(killed["store"], signal.SIGKILL)
    done, tried = run_load(during=during)
    assert set(killed) == {"sensor", "store"}
    assert sum(done.values()) > 2000, (done, tried)
    wait_for(lambda: d.store_pid() not in (None, killed["store"]), 10,
             "a new store")
    check_every_event(d, done)
    text = d.log_text()
    assert "(pid %d) killed by signal 9" % killed["sensor"] in text
    assert "(pid %d) killed by signal 9" % killed["store"] in text


def test_store_stopped_then_killed_loses_nothing(sundew):
    """The store stopped (SIGSTOP) while connections come, then killed
    instead of resumed: its successor reads everything from the rings."""
    d = sundew(["limits.per_source=0"])
    store = d.store_pid()
    os.kill(store, signal.SIGSTOP)
    try:
        done, _ = run_load(seconds=3, procs=2)
    finally:
        os.kill(store, signal.SIGKILL)     # a stopped process dies too
    assert sum(done.values()) > 200
    check_every_event(d, done)


@pytest.fixture
def small_disk(tmp_path):
    """A tmpfs of 64 MiB under tmp_path/var, unmounted afterwards."""
    var = tmp_path / "var"
    var.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs",
                        str(var)], capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip("cannot mount a tmpfs here: " + r.stderr.strip())
    yield var
    subprocess.run(["umount", "-l", str(var)], check=False)


def fill(path):
    """Writes path until the filesystem says ENOSPC; returns its size."""
    n = 0
    chunk = b"\0" * 65536
    with open(path, "wb", buffering=0) as f:
        try:
            while True:
                n += f.write(chunk)
        except OSError as e:
            assert e.errno == 28, e      # ENOSPC
    return n


def test_full_disk_then_space_again(sundew, small_disk):
    d = sundew(["limits.per_source=0", "store.max_disk=0"])
    store, sensors = d.store_pid(), sorted(d.sensors())
    filler = small_disk / "filler"
    fill(filler)
    done, _ = run_load(seconds=10, procs=2, most=1000)
    assert sum(done.values()) == 2000, run_load.errors
    # The daemon stays up and says why nothing is written.
    wait_for(lambda: "the disk refused" in d.log_text(), 10,
             "the disk condition in the daemon's log")
    assert d.proc.poll() is None
    assert d.store_pid() == store and sorted(d.sensors()) == sensors
    filler.unlink()
    check_every_event(d, done)
    refused = d.events("sundew.limit.hit", limit="disk", action="waiting")
    assert len(refused) >= 1
    assert {e["id"] for e in refused} <= {r[4] for r in sql_events(d)}
    assert d.store_pid() == store


def test_sessions_of_a_killed_sensor_are_closed(sundew):
    """A sensor killed with sessions open: its successor writes their close
    events (reason sensor_died), so every open has its close."""
    d = sundew(["sensors=1"])
    socks = []
    for i in range(20):
        s = socket.create_connection(("127.0.0.1", GENERIC_PORT), timeout=5)
        s.sendall(b"held open %02d\n" % i)
        socks.append(s)
    ports = {s.getsockname()[1] for s in socks}
    opens = d.wait_events("sundew.request", 20, src_ip="127.0.0.1")
    sessions = {e["session"] for e in opens if e["src_port"] in ports}
    assert len(sessions) == 20
    victim = d.sensors()[0]
    os.kill(victim, signal.SIGKILL)
    closes = d.wait_events("sundew.connection.close", 20,
                           reason="sensor_died")
    assert {e["session"] for e in closes} == sessions
    assert {e["src_port"] for e in closes} == ports
    for e in closes:
        assert e["bytes_in"] == 13 and e["bytes_out"] == 0, e
        assert e["service"] == "mydoom" and e["dst_port"] == GENERIC_PORT
    assert "closed the 20 sessions that the last sensor left open" in \
        d.log_text()
    rows = wait_for(lambda: (lambda r: r if len(r) == 20 else None)(
        d.sql("SELECT session FROM events WHERE eventid = "
              "'sundew.connection.close' AND json_extract(data, '$.reason')"
              " = 'sensor_died'")), 10, "the closes in SQLite")
    assert {r[0] for r in rows} == sessions
    for s in socks:
        s.close()
    # The new sensor does not write them again when it stops.
    d.stop()
    assert len(d.events("sundew.connection.close",
                        reason="sensor_died")) == 20


def data_bytes(var):
    """What the store counts against store.max_disk: every regular file."""
    total = 0
    for root, _, files in os.walk(var):
        if os.path.basename(root) == "empty":
            continue
        for f in files:
            p = os.path.join(root, f)
            if os.path.isfile(p) and not os.path.islink(p) and f != ".lock":
                total += os.path.getsize(p)
    return total


def test_disk_ceiling_holds(sundew):
    """Past store.max_disk the store deletes hexdumps, rotated logs and then
    the live JSON log (SQLite keeps every event): the data directory stays
    under the ceiling, give or take one batch, and SQLite has every
    connection."""
    ceiling = 16 << 20       # the database and its WAL take 13 MiB
    d = sundew(["limits.per_source=0", f"store.max_disk={ceiling}"])
    peak = [0]

    def during(t):
        peak[0] = max(peak[0], data_bytes(d.data))
    done, _ = run_load(seconds=30, procs=2, most=3000, during=during)
    assert sum(done.values()) == 6000
    check_sql = lambda: (lambda r: r if r[0][0] >= 6000 else None)(d.sql(
        "SELECT count(*) FROM events WHERE eventid = "
        f"'sundew.connection.close' AND src_ip LIKE '127.{run_load.net}.1.%'"))
    wait_for(check_sql, 60, "6000 close events in SQLite")
    d.stop()
    peak[0] = max(peak[0], data_bytes(d.data))
    # One batch of lines may be written before the next measure.
    assert peak[0] <= ceiling + (1 << 20), peak[0]
    pruned = d.events("sundew.limit.hit", limit="disk", action="pruned")
    assert pruned, "no pruning event"
