"""The command line and the configuration, as an operator meets them."""
import re
import subprocess

from conftest import ROOT, SUNDEW


def run(*args, **kw):
    return subprocess.run([str(SUNDEW), *args], capture_output=True,
                          text=True, timeout=30, **kw)


def test_help_and_version():
    r = run("--help")
    assert r.returncode == 0
    for word in ("run", "check-config", "replay", "-c FILE", "-o KEY=VALUE"):
        assert word in r.stdout
    r = run("--version")
    assert r.returncode == 0 and r.stdout.startswith("sundew ")
    r = run("frobnicate")
    assert r.returncode == 2 and "unknown command" in r.stderr
    r = run()
    assert r.returncode == 2


def test_shipped_configuration_is_valid():
    r = run("check-config", "-c", str(ROOT / "sundew.yaml"))
    assert r.returncode == 0, r.stderr
    assert "configuration OK" in r.stdout


def test_bad_value_names_file_line_and_key(tmp_path):
    cfg = tmp_path / "bad.yaml"
    cfg.write_text("sensor: test\nlimits:\n  per_source: 10\n"
                   "  idle_timeout: soon\n")
    r = run("check-config", "-c", str(cfg))
    assert r.returncode != 0
    assert f"{cfg}:4:" in r.stderr
    assert "limits.idle_timeout" in r.stderr


def test_unknown_key_and_syntax_error(tmp_path):
    cfg = tmp_path / "typo.yaml"
    cfg.write_text("listen:\n  adress: 127.0.0.1\n")
    r = run("check-config", "-c", str(cfg))
    assert r.returncode != 0
    assert f"{cfg}:2:" in r.stderr and "listen.adress" in r.stderr
    cfg.write_text("limits:\n  per_source: [1, 2\n")
    r = run("check-config", "-c", str(cfg))
    assert r.returncode != 0 and f"{cfg}:" in r.stderr


def test_bad_override_is_refused():
    r = run("check-config", "-o", "limits.per_source=lots")
    assert r.returncode != 0
    assert "-o limits.per_source" in r.stderr
    r = run("check-config", "-o", "no.such.key=1")
    assert r.returncode != 0 and "no.such.key" in r.stderr


def test_overrides_show_in_the_effective_configuration():
    r = run("check-config", "-v", "-o", "listen.address=127.0.0.1",
            "-o", "data_dir=/srv/sundew", "-o", "services.http.ports=[8080,8081]")
    assert r.returncode == 0, r.stderr
    assert "/srv/sundew" in r.stdout
    assert "8080" in r.stdout and "8081" in r.stdout


def test_bad_configuration_does_not_start_the_daemon(tmp_path):
    cfg = tmp_path / "bad.yaml"
    cfg.write_text("services:\n  smb:\n    ports: [445, 70000]\n")
    trace = tmp_path / "strace.out"
    # Every socket call of every process it might start, traced: after
    # it exits, a port it bound and let go would not show.
    r = subprocess.run(
        ["strace", "-f", "-q", "-e", "trace=socket,bind,listen,fork,vfork,clone,clone3",
         "-o", str(trace), str(SUNDEW), "run", "-f", "-c", str(cfg),
         "-o", "listen.address=127.0.0.1", "-o", f"data_dir={tmp_path / 'var'}"],
        capture_output=True, text=True, timeout=30)
    assert r.returncode != 0
    assert f"{cfg}:3:" in r.stderr and "services.smb.ports" in r.stderr
    calls = trace.read_text()
    # The trace worked (strace says how the process ended) ...
    assert f"+++ exited with {r.returncode} +++" in calls, calls
    # ... and shows no socket, no bind, no child: nothing was bound.
    assert not re.search(r"^\S*\s*(socket|bind|listen|fork|vfork|clone3?)\(",
                         calls, re.M), calls
    assert not (tmp_path / "var").exists()
