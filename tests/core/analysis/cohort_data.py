"""Cohorts for the tests: analysed sessions in a real catalog, with pre/post means known exactly.

A session here is registered through the catalog's own API (consent, start, finalisation) with
a session folder holding stored estimates, as the analysis engine leaves them. Its estimates are
constant within each third of the 60-s session: without phase markers the windows are the first
and last 20 s (a third each), so the review's pre and post means are exactly the values given.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np

from core.analysis.results import SessionEstimates, save_estimates
from core.analysis.review import record_review, review_of
from core.catalog import Catalog, SessionRecord

DURATION_S = 60.0
STEP_S = 0.5
START = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)

# Eight patients' (valence, arousal) means before and after: anxious before, calmer after, with
# different sizes of change so that the shifts' SD is not zero.
PRE = np.array(
    [
        [-0.50, 0.60],
        [-0.40, 0.50],
        [-0.60, 0.70],
        [-0.20, 0.40],
        [-0.30, 0.55],
        [-0.45, 0.65],
        [-0.35, 0.45],
        [-0.55, 0.50],
    ]
)
POST = np.array(
    [
        [0.10, 0.30],
        [0.00, 0.40],
        [0.20, 0.20],
        [0.00, 0.10],
        [-0.10, 0.50],
        [0.25, 0.05],
        [-0.05, 0.35],
        [0.15, 0.30],
    ]
)


def estimates(pre: tuple[float, float], post: tuple[float, float], demo: bool) -> SessionEstimates:
    """Per-frame estimates: ``pre`` in the first third, neutral in the middle, ``post`` after."""
    t = np.arange(0.0, DURATION_S, STEP_S)
    third = DURATION_S / 3.0
    v = np.where(t < third, pre[0], np.where(t >= 2 * third, post[0], 0.0))
    a = np.where(t < third, pre[1], np.where(t >= 2 * third, post[1], 0.0))
    out = np.full((t.size, 10), 5.0, np.float32)
    out[:, 0], out[:, 1] = 5.0 + 4.0 * v, 5.0 + 4.0 * a  # stored on the 1–9 scale
    info = {
        "checkpoint": {
            "label": "Demo test model" if demo else "Clinic model v1",
            "demo": demo,
            "sha256": ("a" if demo else "b") * 64,
        },
        "device": "cpu: test",
        "inputs": "face + ECG + EDA",
    }
    n = t.size
    return SessionEstimates(t, np.arange(n), out, np.ones(n, bool), np.ones(n, bool), info)


def add_session(
    catalog: Catalog,
    data_root: Path,
    patient_id: int,
    pre: tuple[float, float],
    post: tuple[float, float],
    *,
    simulated: bool = False,
    day: int = 0,
    demo_model: bool = False,
    analysed: bool = True,
) -> SessionRecord:
    """A finalised 60-s session ``day`` days after :data:`START`, analysed unless told not."""
    started = START + timedelta(days=day, minutes=patient_id)
    uid = f"cohort-{patient_id}-{day}-{int(simulated)}"
    folder = f"sessions/{uid}"
    (data_root / folder).mkdir(parents=True)
    sensor = {"name": "Simulated ECG+EDA" if simulated else "Polar H10", "simulated": simulated}
    rec = catalog.create_session(
        patient_id,
        uid,
        started,
        {"sensor": sensor},
        {},
        consent_at=started - timedelta(minutes=2),
        consent_note="written consent",
        simulated=simulated,
        folder=folder,
    )
    catalog.finalise_session(rec.id, started + timedelta(seconds=DURATION_S), DURATION_S, {})
    if analysed:
        save_estimates(data_root / folder, estimates(pre, post, demo_model))
        review = review_of(catalog, data_root, rec.id)
        assert review is not None
        record_review(catalog, review)
    out = catalog.get_session(rec.id)
    assert out is not None
    return out


def add_cohort(
    catalog: Catalog, data_root: Path, n: int, first: int = 0, code: str = "R"
) -> list[int]:
    """Patients ``first … first + n − 1`` of :data:`PRE`/:data:`POST`, one real session each."""
    ids = []
    for k in range(first, first + n):
        p = catalog.add_patient(f"{code}-{k + 1:02d}")
        add_session(catalog, data_root, p.id, tuple(PRE[k]), tuple(POST[k]))
        ids.append(p.id)
    return ids
