"""``therascope selftest`` through the real command line: every step passes and is listed with its
time, a failing step makes the exit status non-zero and is named, and the clinic's data folder is
never created or opened."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from app.cli.main import main
from app.demo.selftest import STEPS
from tests.faults import read_only


@pytest.fixture
def clinic(tmp_path, monkeypatch):
    """Where the clinic's data folder and settings would be: the self-test must create neither."""
    monkeypatch.setenv("THERASCOPE_DATA_DIR", str(tmp_path / "clinic-data"))
    monkeypatch.setenv("THERASCOPE_CONFIG_DIR", str(tmp_path / "clinic-config"))
    temp = tmp_path / "temp"
    temp.mkdir()
    return tmp_path, temp


def step_lines(out: str) -> dict[str, str]:
    """Each step's printed line, by step name."""
    found = {}
    for name, _what in STEPS:
        m = re.search(rf"^  (PASS|FAIL|--)\s+{re.escape(name)}\s+.*$", out, re.MULTILINE)
        assert m, f"step {name!r} is not listed:\n{out}"
        found[name] = m.group(0)
    return found


def test_selftest_passes_every_step(clinic, capsys):
    tmp, temp = clinic
    assert main(["selftest", "--temp-dir", str(temp)]) == 0
    out = capsys.readouterr().out
    lines = step_lines(out)
    for line in lines.values():
        assert line.startswith("  PASS"), line
        assert re.search(r"\d+\.\d s", line), f"no time on {line!r}"
    assert "20 s: " in lines["record"] and "none lost; files encrypted" in lines["record"]
    assert "by the demo model" in lines["analyse"]
    assert "read back" in lines["report"]
    assert "integrity checks pass" in lines["catalog"]
    assert re.search(r"Self-test PASSED: 6 of 6 steps in \d+\.\d s\.", out)
    # what this computer offers, in words
    for topic in ("Data folder", "Bluetooth", "Camera", "GPU", "torch"):
        assert re.search(rf"^  {topic}: \S", out, re.MULTILINE), topic
    assert str(tmp / "clinic-data") in out and "did not open it" in out
    # nothing left behind, nothing made where the clinic's data and settings live
    assert list(temp.iterdir()) == []
    assert not (tmp / "clinic-data").exists()
    assert not (tmp / "clinic-config").exists()


def test_a_read_only_temporary_folder_fails_the_first_step(clinic, capsys, monkeypatch):
    tmp, temp = clinic
    read_only(monkeypatch, temp)
    assert main(["selftest", "--temp-dir", str(temp)]) == 1
    out = capsys.readouterr().out
    lines = step_lines(out)
    assert lines["data folder"].startswith("  FAIL")
    assert "read-only" in lines["data folder"]
    for name in ("record", "analyse", "report", "catalog"):
        assert lines[name].startswith("  --") and "not run: an earlier step failed" in lines[name]
    assert lines["clean up"].startswith("  PASS")
    assert "Self-test FAILED at step 'data folder': 1 of 6 steps passed" in out
    assert not (tmp / "clinic-data").exists()


def test_a_missing_demo_model_fails_the_analysis_and_cleans_up(clinic, capsys, monkeypatch):
    """An installation without its demo model: the recording passes, the analysis fails in
    words, the temporary folder is removed all the same."""
    tmp, temp = clinic
    monkeypatch.setattr("core.learning.demo_model.find_demo_checkpoint", lambda root=None: None)
    assert main(["selftest", "--temp-dir", str(temp), "--seconds", "5"]) == 1
    out = capsys.readouterr().out
    lines = step_lines(out)
    assert lines["data folder"].startswith("  PASS") and lines["record"].startswith("  PASS")
    assert lines["analyse"].startswith("  FAIL")
    assert "the demo model is missing from this installation" in lines["analyse"]
    assert lines["report"].startswith("  --") and lines["catalog"].startswith("  --")
    assert lines["clean up"].startswith("  PASS")
    assert "Self-test FAILED at step 'analyse'" in out
    assert list(Path(temp).iterdir()) == []
