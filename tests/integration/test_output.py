"""What the store writes: rotation, ECS, the disk ceiling."""
import hashlib
import json
import os

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


def test_disk_ceiling_prunes_oldest_hexdumps(sundew):
    d = sundew(["store.max_disk=2MiB"])
    sizes = 0
    for i in range(12):
        payload = os.urandom(200 * 1024)
        s = connect(GENERIC_PORT)
        s.sendall(payload)
        s.close()
        d.wait_events("sundew.file.stored",
                      sha256=hashlib.sha256(payload).hexdigest())
    d.wait_events("sundew.limit.hit", limit="disk")
    total = sum(p.stat().st_size for p in (d.data / "hexdumps").iterdir())
    assert total < 2 * 1024 * 1024
    d.stop()
