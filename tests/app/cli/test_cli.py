"""The headless command line: patients, record, sessions, report, recover."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest
from pypdf import PdfReader

from app.cli.main import main


@pytest.fixture
def env(app_env):
    return app_env


def test_record_list_report(env, capsys):
    assert main(["patients", "add", "C-7", "--name", "Chris Cli"]) == 0
    assert (
        main(
            [
                "record",
                "--patient",
                "C-7",
                "--simulate",
                "--virtual",
                "--consent",
                "--duration",
                "12",
                "--drop-prob",
                "0.01",
                "--markers",
                "--quiet",
            ]
        )
        == 0
    )
    uid = capsys.readouterr().out.strip().splitlines()[-1]
    assert main(["sessions", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["uid"] for r in rows] == [uid]
    assert rows[0]["status"] == "finalised" and rows[0]["simulated"] is True
    out = env / "r.pdf"
    assert main(["report", uid, "--out", str(out)]) == 0
    text = "".join(p.extract_text() for p in PdfReader(out).pages)
    assert "C-7" in text and "SIMULATED DATA" in text
    assert "Chris Cli" not in text
    assert main(["patients"]) == 0
    assert "C-7" in capsys.readouterr().out


def test_record_refuses_without_consent_or_patient(env, capsys):
    assert main(["patients", "add", "C-8"]) == 0
    with pytest.raises(SystemExit, match="consent"):
        main(["record", "--patient", "C-8", "--simulate", "--virtual", "--duration", "2"])
    with pytest.raises(SystemExit, match="No patient"):
        main(["record", "--patient", "NOPE", "--simulate", "--consent", "--duration", "2"])
    assert main(["patients", "add", "C-8"]) == 2  # duplicate code: clear error, exit 2
    assert "already exists" in capsys.readouterr().err


def test_recover_with_nothing_to_do(env, capsys):
    assert main(["recover"]) == 0
    assert "nothing to recover" in capsys.readouterr().out


def test_user_mistakes_get_a_message_not_a_traceback(env, capsys):
    assert main(["patients", "add", "C-9"]) == 0
    record = ["record", "--patient", "C-9", "--simulate", "--virtual", "--consent",
              "--duration", "2"]  # fmt: skip
    with pytest.raises(SystemExit, match="probability"):
        main([*record, "--drop-prob", "5"])
    assert main([*record, "--quiet"]) == 0
    uid = capsys.readouterr().out.strip().splitlines()[-1]
    assert main(["report", uid, "--out", str(env)]) == 2  # a folder, not a file
    assert "therascope:" in capsys.readouterr().err


def test_train_writes_a_checkpoint_that_loads(env, capsys):
    from core.models.checkpoint import load_checkpoint

    data = env / "amigos"
    assert (
        main(
            [
                "synthetic-amigos",
                str(data),
                "--participants",
                "3",
                "--trials",
                "2",
                "--seconds",
                "6",
            ]
        )
        == 0
    )
    out = env / "model.pt"
    assert (
        main(
            [
                "train",
                "--amigos",
                str(data),
                "--backbone",
                "small",
                "--weights",
                "none",
                "--face-size",
                "48",
                "--epochs",
                "1,1,1",
                "--batch",
                "32",
                "--frame-step",
                "10",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    model, cfg, meta = load_checkpoint(out)
    assert cfg.variant == "bae2" and cfg.backbone == "small"
    assert meta["scaling"]["fitted_on"] == [1, 2, 3] and len(meta["data_fingerprint"]) == 16
    assert list(meta["history"]) == ["bmmn", "bae", "joint"]


@pytest.mark.skipif(sys.platform == "win32", reason="gloo process group on POSIX in CI")
def test_train_under_torchrun_two_cpu_processes(env, tmp_path):
    """The same command, launched by torchrun: two gloo processes, one checkpoint from rank 0."""
    import subprocess

    from core.models.checkpoint import load_checkpoint

    data = env / "amigos"
    assert main(["synthetic-amigos", str(data), "--participants", "2", "--trials", "2",
                 "--seconds", "4"]) == 0  # fmt: skip
    out = tmp_path / "ddp.pt"
    torchrun = Path(sys.executable).with_name("torchrun")
    cmd = [str(torchrun), "--standalone", "--nproc-per-node", "2", "-m", "app", "train",
           "--amigos", str(data), "--backbone", "small", "--weights", "none", "--face-size", "48",
           "--epochs", "1,0,1", "--batch", "8", "--frame-step", "10", "--device", "cpu",
           "--out", str(out)]  # fmt: skip
    env_vars = {**os.environ, "OMP_NUM_THREADS": "1"}
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env_vars)
    assert res.returncode == 0, res.stderr[-2000:]
    assert res.stdout.strip().splitlines() == [str(out)]  # printed once: only rank 0 saves
    _, cfg, meta = load_checkpoint(out)
    assert cfg.variant == "bae2" and meta["history"]["joint"]
