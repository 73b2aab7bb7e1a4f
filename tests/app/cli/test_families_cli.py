"""``therascope train --model …`` and ``evaluate --models …`` on a tiny synthetic AMIGOS copy."""

from __future__ import annotations

import argparse

import pytest

from app.cli.families import models_spec
from app.cli.main import main


@pytest.fixture
def data(app_env, tmp_path):
    root = tmp_path / "amigos"
    args = ["synthetic-amigos", str(root), "--participants", "3", "--trials", "2"]
    assert main([*args, "--seconds", "6"]) == 0
    return root


COMMON = ["--size", "small", "--frame-step", "10", "--device", "cpu", "--batch", "16"]


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():
    """One intra-op thread: tiny models gain nothing from more, and on a busy machine two threads
    that spin-wait for each other made them ten times slower."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_models_list_is_checked() -> None:
    assert models_spec("bmmn, avigas") == ["bmmn", "avigas"]
    for bad in ("", "bmmn,bmmn", "resnet"):
        with pytest.raises(argparse.ArgumentTypeError, match="comma list"):
            models_spec(bad)


def test_train_a_sequence_family_writes_a_checkpoint_with_its_family(data, tmp_path, capsys):
    from core.models.checkpoint import load_any_checkpoint

    out = tmp_path / "avigas.pt"
    args = ["train", "--model", "avigas", "--amigos", str(data), "--out", str(out), *COMMON]
    assert main([*args, "--family-epochs", "1", "--detector", "haar"]) == 0
    _, cfg, meta = load_any_checkpoint(out)
    assert meta["family"] == "avigas" and meta["inputs"]["frames"] == cfg.steps
    assert meta["provenance"]["fine_tuning"]["fingerprint"] == meta["data_fingerprint"]
    assert main(["train", "--model", "deepvanet", "--describe"]) == 0
    assert "DeepVANet" in capsys.readouterr().out


def test_evaluate_prints_one_table_beside_the_papers(data, tmp_path, capsys):
    out_dir = tmp_path / "cmp"
    args = ["evaluate", "--amigos", str(data), "--models", "deepvanet,transformer", *COMMON]
    assert main([*args, "--family-epochs", "1,1", "--folds", "3", "--out-dir", str(out_dir)]) == 0
    text = (out_dir / "comparison.md").read_text()
    assert "| deepvanet | valence |" in text and "| transformer | arousal |" in text
    assert "DEAP" in text and "not comparable" in text
    assert text in capsys.readouterr().out


def test_transformer_pretrains_on_recorded_sessions_too(data, tmp_path) -> None:
    from app.demo.simulation import record_simulated
    from core.catalog import Catalog
    from core.config import Settings
    from core.models.checkpoint import load_any_checkpoint

    cat = Catalog.open(tmp_path / "catalog.sqlite")
    p = cat.add_patient("P1")
    small = Settings(camera_width=160, camera_height=120, camera_fps=10)
    rec = record_simulated(cat, tmp_path, p.id, 20.0, settings=small)
    cat.close()
    out = tmp_path / "tf.pt"
    args = ["train", "--model", "transformer", "--amigos", str(data), "--out", str(out), *COMMON]
    args += ["--family-epochs", "1,1", "--detector", "haar"]
    assert main([*args, "--pretrain-sessions", str(tmp_path / rec.folder)]) == 0
    _, _, meta = load_any_checkpoint(out)
    pre = meta["provenance"]["pretraining"]
    assert "1 recorded sessions" in pre["data"] and pre["sessions"][0]["segments"] > 0
