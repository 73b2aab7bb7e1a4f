"""Fast data for the review screens: short simulated sessions and hand-made estimates."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from app.demo.simulation import record_simulated
from core.analysis.results import SessionEstimates, save_estimates
from core.analysis.review import SessionReview, record_review, review_of
from core.catalog import Catalog, SessionRecord
from core.config import Settings

SMALL = Settings(camera_width=160, camera_height=120, camera_fps=10)
NAN_FRAMES = (3, 4, 70)


def record_short(
    catalog: Catalog, data_root: Path, patient_id: int, seconds: float = 20.0
) -> SessionRecord:
    """A short simulated session (virtual clock: about a second)."""
    return record_simulated(catalog, data_root, patient_id, seconds, settings=SMALL, virtual=True)


def hand_estimates(
    duration_s: float, demo: bool = True, calm_after: bool = True, step_s: float = 0.25
) -> SessionEstimates:
    """Anxious (Q2 LVHA) in the first half, calm (Q4 HVLA) in the second, with a small
    alternating spread and a few frames without an estimate (NaN)."""
    t = np.arange(0.0, duration_s, step_s)
    n = len(t)
    first = t < duration_s / 2
    wiggle = np.where(np.arange(n) % 2 == 0, 0.4, -0.4)  # ±0.1 on the circumplex scale
    # 1–9 scale: (r - 5) / 4 = circumplex value
    val = np.where(first, 2.0, 8.0 if calm_after else 2.0) + wiggle
    aro = np.where(first, 8.0, 3.0 if calm_after else 8.0) - wiggle
    out = np.full((n, 10), 5.0, np.float32)
    out[:, 0], out[:, 1] = val, aro
    out[list(NAN_FRAMES)] = np.nan
    has_face = np.ones(n, bool)
    has_face[list(NAN_FRAMES)] = False
    info = {
        "checkpoint": {
            "label": "Demo test model" if demo else "Clinic model v1",
            "demo": demo,
            "sha256": ("a" if demo else "b") * 64,
            "variant": "bae2",
            "backbone": "small",
            "modalities": "both",
            "file": "test.pt",
        },
        "device": "cpu: test",
        "inputs": "face + ECG + EDA",
        "counts": {
            "frames_stored": n,
            "frames_analysed": n,
            "estimated": n - len(NAN_FRAMES),
            "without_face": len(NAN_FRAMES),
            "bio_incomplete": 0,
            "unreadable": 0,
        },
        "timings_s": {"decode": 0.1, "faces": 0.2, "bio": 0.01, "model": 0.3, "wall": 0.8},
    }
    return SessionEstimates(
        t_s=t,
        frame=np.arange(n, dtype=np.int64),
        outputs=out,
        has_face=has_face,
        bio_complete=np.ones(n, bool),
        info=info,
    )


def make_analysed(
    catalog: Catalog,
    data_root: Path,
    patient_id: int,
    demo: bool = True,
    calm_after: bool = True,
    seconds: float = 20.0,
) -> tuple[SessionRecord, SessionReview]:
    """Record a short session and store hand-made estimates for it, as an analysis would."""
    rec = record_short(catalog, data_root, patient_id, seconds)
    est = hand_estimates(float(rec.duration_s or seconds), demo=demo, calm_after=calm_after)
    save_estimates(data_root / rec.folder, est)
    review = review_of(catalog, data_root, rec.id, Settings())
    assert review is not None
    record_review(catalog, review)
    return rec, review
