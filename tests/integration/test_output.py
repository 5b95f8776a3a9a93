"""What the store writes: rotation, ECS, the disk ceiling."""
import hashlib
import json
import os
import pwd
import time

from conftest import GENERIC_PORT, connect, wait_for


def test_json_log_rotates_by_size_and_keeps_every_event(sundew):
    # No per-source cap: 200 connections in a row from one address may
    # overlap by more than 64 on a busy machine, and a refusal has no close.
    d = sundew(["output.json.max_size=20000", "output.json.keep=50",
                "limits.per_source=0"])
    for i in range(200):
        s = connect(GENERIC_PORT)
        s.sendall(b"rotate %d" % i)
        s.close()
    d.wait_events("sundew.connection.close", count=201, timeout=20)
    d.stop()
    logs = sorted(d.json_path.parent.glob("sundew.json*"))
    assert len(logs) > 3
    for p in logs:
        assert p.stat().st_size <= 20000 + 8192
    # Nothing lost across the files, and SQLite has the same count.
    n = len(d.events())
    assert d.sql("SELECT count(*) FROM events")[0][0] == n
    assert len(d.events("sundew.request")) == 200


def test_ecs_format(sundew):
    d = sundew(["output.json.format=ecs"])
    s = connect(GENERIC_PORT)
    s.sendall(b"ecs")
    s.close()

    def ecs_lines():
        lines = [json.loads(l) for l in d.json_path.read_text().splitlines()]
        return [l for l in lines if l.get("event", {}).get("action") ==
                "sundew.request"]
    ev = wait_for(ecs_lines, 10, "an ECS request event")[0]
    assert "@timestamp" in ev
    assert ev["source"]["ip"] == "127.0.0.1"
    assert ev["destination"]["port"] == GENERIC_PORT
    # SQLite keeps the flat names.
    rows = d.sql("SELECT src_ip, dst_port FROM events WHERE eventid = ?",
                 ("sundew.request",))
    assert rows[0] == ("127.0.0.1", GENERIC_PORT)
    d.stop()


KIB = 1024
CEILING = 3 * 1024 * KIB
TARGET = CEILING - CEILING // 10     # what a prune brings the use down to


def seed(path, data, mtime, owner):
    path.write_bytes(data)
    path.chmod(0o440)
    os.utime(path, (mtime, mtime))
    os.chown(path, *owner)


def disk_use(data):
    """What the ceiling counts without SQLite: samples, hexdumps, logs."""
    return sum(p.stat().st_size for d in ("binaries", "hexdumps", "log")
               for p in (data / d).iterdir())


def send_payload(d, size):
    payload = os.urandom(size)
    s = connect(GENERIC_PORT)
    s.sendall(payload)
    s.close()
    digest = hashlib.sha256(payload).hexdigest()
    d.wait_events("sundew.file.stored", sha256=digest, timeout=20)
    return d.data / "hexdumps" / f"{digest}.bin"


def test_disk_ceiling_prunes_oldest_hexdumps_then_rotated_logs(sundew, tmp_path):
    """At the ceiling the oldest hexdumps go first, then (only when no
    hexdump is left) the oldest rotated logs; samples and the live log
    stay.  The rotated logs are older than every hexdump: age alone does
    not decide.  SQLite is off, so that the use is known to the byte."""
    pw = pwd.getpwnam("sundew")
    owner = (pw.pw_uid, pw.pw_gid)
    data = tmp_path / "var"
    for sub in ("", "binaries", "hexdumps", "log"):
        (data / sub).mkdir(mode=0o750, exist_ok=True)
        os.chown(data / sub, *owner)
    now = time.time()
    sample = os.urandom(300 * KIB)
    sample_path = data / "binaries" / hashlib.sha256(sample).hexdigest()
    seed(sample_path, sample, now - 30 * 86400, owner)
    logs = {}
    for n in (1, 2, 3):              # ten days old, .3 the oldest
        line = json.dumps({"eventid": "test.filler", "n": n}) + "\n"
        logs[n] = data / "log" / f"sundew.json.{n}"
        seed(logs[n], (line * (256 * KIB // len(line))).encode(),
             now - 10 * 86400 - 3600 * n, owner)
    hexdumps = []
    for i in range(6):               # two days old, hexdumps[0] the oldest
        dump = os.urandom(128 * KIB)
        hexdumps.append(data / "hexdumps" /
                        f"{hashlib.sha256(dump).hexdigest()}.bin")
        seed(hexdumps[-1], dump, now - 2 * 86400 + 3600 * i, owner)
    d = sundew([f"store.max_disk={CEILING}", "output.sqlite.enabled=false"])

    # Over the ceiling by two and a half hexdumps: the oldest go, the
    # logs (older still) stay.
    new1 = send_payload(d, TARGET - disk_use(data) + 320 * KIB)
    gone = [not p.exists() for p in hexdumps]
    assert gone[0] and gone == sorted(gone, reverse=True), gone
    assert 2 <= gone.count(True) <= 4, gone
    assert all(p.exists() for p in logs.values())
    assert new1.exists() and sample_path.exists() and d.json_path.exists()
    pruned = d.wait_events("sundew.limit.hit", action="pruned")
    assert len(pruned) == 1 and pruned[0]["files"] == gone.count(True)

    # Over it by every hexdump and one and a half logs: every hexdump
    # goes, then .3 and .2; .1, the sample and the live log stay.
    left = [p for p in hexdumps + [new1] if p.exists()]
    use = disk_use(data) - sum(p.stat().st_size for p in left)
    new2 = send_payload(d, TARGET - use + 384 * KIB)
    assert [p for p in left if p.exists()] == []
    assert not logs[3].exists() and not logs[2].exists()
    assert logs[1].exists() and d.json_path.exists()
    assert new2.exists() and sample_path.exists()
    assert sorted(p.name for p in (data / "hexdumps").iterdir()) == [new2.name]
    refused = d.events("sundew.limit.hit", limit="disk")
    assert [e.get("action") for e in refused] == ["pruned", "pruned"]
    assert disk_use(data) <= CEILING
    d.stop()
