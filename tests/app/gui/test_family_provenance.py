"""Settings describes a checkpoint of any family, with its model card."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("torch")

from app.gui.settings_dialog import checkpoint_provenance  # noqa: E402
from core.learning.comparison import family_config  # noqa: E402
from core.models.checkpoint import save_checkpoint  # noqa: E402
from core.models.families import build  # noqa: E402


def test_a_deepvanet_checkpoint_is_described_with_its_card(tmp_path: Path) -> None:
    cfg = family_config("deepvanet", "small")
    path = save_checkpoint(tmp_path / "dvn.pt", build(cfg), cfg, {"training_data": "synthetic"})
    text = checkpoint_provenance(path)
    assert "DeepVANet (paper 001" in text and "3 face crops 32x32 at 5 frames/s" in text
    assert "cards/deepvanet.md" in text and "Cannot use" not in text
