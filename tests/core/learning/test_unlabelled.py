"""Recorded sessions as unlabelled data for the Transformer's MVP pre-training."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")

from app.demo.simulation import record_simulated  # noqa: E402
from core.catalog import Catalog  # noqa: E402
from core.config import Settings  # noqa: E402
from core.learning.unlabelled import session_segments  # noqa: E402

SCALING = {"mean": {"ecg": 0.0, "gsr": 5.0}, "std": {"ecg": 0.3, "gsr": 3.0}}


def test_a_recorded_session_gives_complete_scaled_segments(tmp_path: Path) -> None:
    cat = Catalog.open(tmp_path / "catalog.sqlite")
    p = cat.add_patient("P1")
    small = Settings(camera_width=160, camera_height=120, camera_fps=10)
    rec = record_simulated(cat, tmp_path, p.id, 30.0, settings=small)
    cat.close()
    segs, sources = session_segments([tmp_path / rec.folder], SCALING, samples=1280, hop_s=5.0)
    # centres at 5, 10, … 25 s of a 30-s session: 10-s segments inside it
    assert segs.shape == (5, 2, 1280) and segs.dtype == np.float32
    assert np.all(np.isfinite(segs)) and sources[0]["segments"] == 5
    assert abs(float(segs[:, 0].mean())) < 1.0  # scaled ECG, about zero mean
