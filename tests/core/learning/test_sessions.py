"""Training on TheraScope's own sessions: labels from the scenario, unknown labels left out, demo model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from app.demo.simulation import record_simulated
from core.catalog import Catalog
from core.config import Settings
from core.learning.datasets.sessions import session_samples
from core.learning.training import FrameDataset, TrainConfig, _label_loss, train
from core.models.outputs import to_training_scale
from core.simulation.scenario import preset


def test_session_samples_carry_the_scenario_as_labels(tmp_path: Path) -> None:
    with Catalog.open(tmp_path / "c.sqlite") as cat:
        p = cat.add_patient("T")
        rec = record_simulated(
            cat,
            tmp_path,
            p.id,
            30.0,
            scenario="quadrant_tour",
            seed=5,
            settings=Settings(camera_width=160, camera_height=120, camera_fps=10),
        )
    s = session_samples([tmp_path / rec.folder], frames_per_s=2.0, crop_size=64)
    assert s.counts["frames"] == 61 and len(s) == 61 - s.counts["without_face"]
    assert s.faces.shape[1:] == (64, 64, 3) and s.faces.dtype == np.uint8
    assert s.bio.shape[1:] == (2, 1000)
    v, a = preset("quadrant_tour", 30.0).at(s.times_s)
    np.testing.assert_allclose(s.targets[:, 0], 5 + 4 * v, atol=1e-5)
    np.testing.assert_allclose(s.targets[:, 1], 5 + 4 * a, atol=1e-5)
    assert np.isnan(s.targets[:, 2:]).all()  # liking and emotions are unknown for a session
    # scaled with statistics of these sessions: the windows are roughly standardised
    assert abs(float(s.bio[:, 1].mean())) < 1.0 and 0.2 < float(s.bio[:, 1].std()) < 3.0


def test_unknown_labels_take_no_part_in_the_loss() -> None:
    y = torch.tensor([[0.5, -0.5, float("nan")], [0.0, 1.0, float("nan")]])
    pred = torch.tensor([[0.0, 0.0, 100.0], [0.0, 0.0, -100.0]])
    loss = _label_loss({"out": pred}, y, torch.zeros(1))
    assert float(loss) == (0.25 + 0.25 + 0.0 + 1.0) / 4


def test_training_on_partly_labelled_samples_converges() -> None:
    rng = np.random.default_rng(0)
    n = 64
    a = rng.uniform(-1, 1, n).astype(np.float32)
    faces = np.zeros((n, 64, 64, 3), np.uint8)
    faces[..., 1] = ((a[:, None, None] + 1) * 120).astype(np.uint8)
    bio = (rng.standard_normal((n, 2, 1000)) * 0.1 + a[:, None, None]).astype(np.float32)
    y = np.full((n, 10), np.nan, np.float32)
    y[:, 0], y[:, 1] = 5 + 4 * a, 5 - 4 * a
    ds = FrameDataset(faces, bio, to_training_scale(y))
    from core.models import BMMNConfig

    cfg = BMMNConfig(variant="bae2", backbone="small", backbone_weights="none", face_size=64)
    _, hist = train(
        cfg, TrainConfig(epochs_bmmn=3, epochs_bae=1, epochs_joint=2, batch_size=16), ds
    )
    assert all(np.isfinite(h).all() for h in hist.values())
    assert hist["bmmn"][-1] < hist["bmmn"][0]


def test_demo_training_writes_a_labelled_small_checkpoint(tmp_path: Path) -> None:
    from app.demo.training import DemoPlan, train_demo_model
    from core.models.checkpoint import load_checkpoint

    plan = DemoPlan(
        sessions=(("quadrant_tour", 0.5, 11), ("quadrant_tour_reverse", 0.5, 12)),
        camera=(160, 120, 10.0),
        face_size=64,
        epochs=(1, 1, 1),
    )
    out = train_demo_model(tmp_path / "demo.pt", plan, work_dir=tmp_path / "work")
    assert out.stat().st_size < 25e6
    model, cfg, meta = load_checkpoint(out)
    assert meta["demo"] is True and "not clinically valid" in meta["label"]
    assert cfg.variant == "bae2" and cfg.backbone == "small"
    assert set(meta["scaling"]["mean"]) == {"ecg", "gsr"}
    assert "2 simulated sessions" in meta["training_data"]


def test_demo_training_can_be_cancelled_and_writes_nothing(tmp_path: Path) -> None:
    import pytest

    from app.demo.simulation import Cancelled
    from app.demo.training import DemoPlan, train_demo_model

    calls = []

    def cancel() -> bool:
        calls.append(1)
        return len(calls) > 3

    plan = DemoPlan(sessions=(("quadrant_tour", 0.5, 11),), camera=(160, 120, 10.0), face_size=64)
    with pytest.raises(Cancelled):
        train_demo_model(tmp_path / "demo.pt", plan, cancel=cancel)
    assert not (tmp_path / "demo.pt").exists()
