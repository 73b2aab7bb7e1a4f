"""Checkpoints of every family: family and inputs recorded, round trip, old BMMN files, refusals."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

torch = pytest.importorskip("torch")

from core.models.avigas import AViGaSConfig  # noqa: E402
from core.models.bmmn import BMMN  # noqa: E402
from core.models.checkpoint import (  # noqa: E402
    CheckpointError,
    FamilyNotSupportedError,
    load_any_checkpoint,
    load_checkpoint,
    save_checkpoint,
)
from core.models.deepvanet import DeepVANetConfig  # noqa: E402
from core.models.families import build, inputs_of  # noqa: E402
from core.models.mvp_transformer import MVPTransformerConfig  # noqa: E402

TINY = {
    "deepvanet": DeepVANetConfig(
        face_size=32, frames=3, bio_samples=32, face_channels=(4, 8, 8), convlstm_hidden=4,
        fusion="decision",
    ),
    "transformer": MVPTransformerConfig(
        segment_s=1.0, frames=2, face_size=32, cnn_kernels=(9, 5, 3), cnn_channels=(8, 8, 16),
        token_pool=4, feedforward=32, mvp_hidden=16, head_hidden=8, fusion_hidden=(8, 4),
        face_backbone="small", face_weights="none",
    ),
    "avigas": AViGaSConfig(
        steps=2, step_s=0.25, face_size=32, latent=8, bio_channels=(4,), gmu=8, lstm_hidden=8
    ),
}  # fmt: skip
DEMO = Path(__file__).resolve().parents[3] / "resources" / "models" / "demo-bmmn-bae2.pt"
PROVENANCE = {
    "fine_tuning": {"data": "synthetic AMIGOS P01-P04", "fingerprint": "abc"},
    "pretraining": {"data": "P01-P04 signal and 2 recorded sessions", "segments": 120},
}


@pytest.mark.parametrize("name", list(TINY))
def test_round_trip_records_family_and_inputs(tmp_path: Path, name: str) -> None:
    torch.manual_seed(0)
    cfg = TINY[name]
    model = build(cfg)
    model.eval()
    inp = inputs_of(cfg)
    face = torch.randn(2, inp.frames, 3, inp.face_size, inp.face_size)
    bio = torch.randn(2, len(inp.signals), inp.bio_samples)
    if name == "deepvanet":
        model.boost_alpha.copy_(torch.tensor([[0.2, 1.0, 0.5], [1.0, 0.1, 0.5]]))
    path = save_checkpoint(tmp_path / f"{name}.pt", model, cfg, {"provenance": PROVENANCE})
    raw: dict[str, Any] = torch.load(path, weights_only=True)
    assert raw["family"] == name and raw["inputs"] == inp.to_dict()
    loaded, cfg2, meta = load_any_checkpoint(path)
    assert cfg2 == cfg and meta["family"] == name and meta["inputs"]["kind"] == "sequence"
    assert meta["inputs"]["frames"] == inp.frames and meta["provenance"] == PROVENANCE
    assert meta["units"] == {"ECG": "mV", "EDA": "uS"}
    with torch.no_grad():
        assert torch.allclose(model(face, bio)["out"], loaded(face, bio)["out"], atol=1e-6)
    # the analysis' loader refuses it in plain words, naming the family and its inputs
    with pytest.raises(FamilyNotSupportedError, match=f"family '{name}'.*needs .*face crops"):
        load_checkpoint(path)


def test_old_bmmn_checkpoints_load_as_family_bmmn() -> None:
    raw: dict[str, Any] = torch.load(DEMO, weights_only=True)
    assert raw["format_version"] == 1 and "family" not in raw  # written before families
    model, cfg, meta = load_any_checkpoint(DEMO)
    assert isinstance(model, BMMN) and meta["family"] == "bmmn"
    assert meta["inputs"]["kind"] == "frame" and meta["inputs"]["bio_samples"] == 1000
    assert load_checkpoint(DEMO)[1] == cfg


def test_unknown_family_is_refused(tmp_path: Path) -> None:
    cfg = TINY["avigas"]
    path = save_checkpoint(tmp_path / "a.pt", build(cfg), cfg, {})
    raw: dict[str, Any] = torch.load(path, weights_only=True)
    raw["family"] = "wav2vec"
    torch.save(raw, path)
    with pytest.raises(CheckpointError, match="unknown model family 'wav2vec'"):
        load_any_checkpoint(path)


def test_config_of_another_family_is_refused_on_save(tmp_path: Path) -> None:
    model = build(TINY["avigas"])
    with pytest.raises(ValueError, match="does not match"):
        save_checkpoint(tmp_path / "x.pt", model, TINY["deepvanet"], {})
