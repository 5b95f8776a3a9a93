"""What check-config says about a configuration that is valid YAML but
probably not what the operator meant."""
import subprocess

from conftest import SUNDEW


def check(cfg, *args):
    return subprocess.run([str(SUNDEW), "check-config", "-c", str(cfg), *args],
                          capture_output=True, text=True, timeout=30)


def test_empty_file_warns(tmp_path):
    cfg = tmp_path / "empty.yaml"
    cfg.write_text("# to be written\n")
    r = check(cfg)
    assert r.returncode == 0, r.stderr
    assert r.stderr == (f"sundew: warning: {cfg}: empty (no key set): the "
                        "built-in defaults apply, and every port listens on "
                        "all addresses (0.0.0.0 and ::)\n")
    assert "configuration OK" in r.stdout


def test_section_written_twice_is_an_error(tmp_path):
    cfg = tmp_path / "twice.yaml"
    cfg.write_text("limits:\n  per_source: 3\nsensors: 1\n"
                   "limits:\n  idle_timeout: 5s\n")
    r = check(cfg)
    assert r.returncode == 1
    assert r.stderr == (f"sundew: {cfg}:4: limits: section written twice, "
                        "first on line 1; put all its keys in one\n")
