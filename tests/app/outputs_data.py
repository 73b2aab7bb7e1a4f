"""Checkpoints for the tests of the model's full output: one trained on all ten outputs (a tiny
BMMN, trained for one epoch by the real training code on generated samples with every label),
and the shipped demo model (valence and arousal only); sessions analysed by the real engine."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from core.analysis.review import SessionReview, analyse_and_review
from core.catalog import Catalog, SessionRecord
from core.config import Settings
from tests.app.review_data import record_short

#: the faster of the face detectors: the test is about the outputs, not the faces
ANALYSIS = Settings(face_detector="haar")


def train_full_checkpoint(path: Path) -> Path:
    """A tiny BMMN trained (one epoch, CPU) on 24 generated samples carrying all ten labels;
    its checkpoint records ``outputs_trained`` from the data, as ``therascope train`` does."""
    from core.learning.training import FrameDataset, TrainConfig, train
    from core.models import BMMNConfig
    from core.models.checkpoint import save_checkpoint
    from core.models.outputs import to_training_scale

    rng = np.random.default_rng(19)
    n = 24
    faces = rng.integers(0, 255, (n, 64, 64, 3), dtype=np.uint8)
    bio = rng.normal(size=(n, 2, 1000)).astype(np.float32)
    ratings = rng.uniform(1.0, 9.0, (n, 3))
    emotions = np.eye(7)[rng.integers(0, 7, n)]
    labels = np.concatenate([ratings, emotions], axis=1).astype(np.float32)
    ds = FrameDataset(faces, bio, to_training_scale(labels))
    mc = BMMNConfig(variant="bmmn", backbone="small", backbone_weights="none", face_size=64)
    tc = TrainConfig(epochs_bmmn=1, epochs_bae=0, epochs_joint=0, batch_size=12, device="cpu")
    model, hist = train(mc, tc, ds)
    meta = {
        "scaling": {"mean": {"ecg": 0.0, "gsr": 5.0}, "std": {"ecg": 0.3, "gsr": 3.0}},
        "label": "Clinic test model (all outputs)",
        "training_data": "24 generated samples with all ten labels (test)",
        "outputs_trained": ds.outputs_trained,
        "history": hist,
    }
    return save_checkpoint(path, model, mc, meta)


def analysed_by(
    catalog: Catalog, data_root: Path, patient_id: int, checkpoint: Path, seconds: float = 20.0
) -> tuple[SessionRecord, SessionReview]:
    """A short simulated session, analysed by ``checkpoint`` through the real engine, stored
    and registered as the review screen's "Analyse" does."""
    rec = record_short(catalog, data_root, patient_id, seconds)
    review = analyse_and_review(catalog, data_root, rec.id, checkpoint, ANALYSIS)
    return rec, review
