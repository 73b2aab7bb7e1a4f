"""A course of therapy for the tests: one patient with three short simulated sessions, each
analysed with hand-made estimates that move a little further towards calm every week, and
GAD-7 and SAM ratings before and after; plus the hand computations the tests check against."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from core.analysis.results import SessionEstimates, save_estimates
from core.analysis.review import record_review, review_of
from core.catalog import Catalog, SessionRecord
from core.config import Settings
from core.physiology.summary import ecg_summary, eda_summary, phase_windows
from core.recording import open_session
from tests.app.review_data import hand_estimates, record_short

#: per session: shift of the estimates on the 1–9 scale (towards pleasant and calm), GAD-7
#: before/after, SAM valence before/after
SHIFTS = (0.0, 0.3, 0.6)
GAD7 = ((15, 12), (12, 9), (9, 5))
SAM_VALENCE = ((3, 5), (4, 6), (5, 7))
SECONDS = 33.0
#: PHQ-9 before each session, item by item (session 1: item 9 above 0, flagged)
PHQ9_PRE = ((2, 2, 1, 2, 1, 1, 1, 1, 1), (1, 1, 1, 1, 1, 1, 1, 1, 0), (1, 1, 0, 1, 0, 0, 1, 0, 0))
#: session 3's GAD-7 before, item by item (sums to its total in GAD7)
GAD7_ITEMS_3 = (2, 2, 1, 1, 1, 1, 1)
#: SUDS during each session: (t_s, rating)
SUDS = (((2.0, 80), (30.0, 50)), ((2.0, 70), (15.0, 60), (30.0, 40)), ((2.0, 60), (30.0, 30)))


@dataclass
class CourseFixture:
    catalog: Catalog
    data_root: Path
    patient_id: int
    sessions: list[SessionRecord]  # oldest first
    estimates: list[SessionEstimates]


def shifted_estimates(duration_s: float, shift: float) -> SessionEstimates:
    """:func:`hand_estimates` moved ``shift`` towards pleasant (valence +) and calm (arousal −)
    on the 1–9 scale."""
    est = hand_estimates(duration_s, demo=True)
    est.outputs[:, 0] += np.float32(shift)
    est.outputs[:, 1] -= np.float32(shift)
    return est


def build_course(catalog: Catalog, data_root: Path, code: str = "C-3") -> CourseFixture:
    """The patient ``code`` with three analysed sessions and their ratings (a few seconds)."""
    p = catalog.add_patient(code)
    recs, ests = [], []
    for shift, gad, sam, phq, suds in zip(SHIFTS, GAD7, SAM_VALENCE, PHQ9_PRE, SUDS, strict=True):
        rec = record_short(catalog, data_root, p.id, SECONDS)
        est = shifted_estimates(float(rec.duration_s or SECONDS), shift)
        save_estimates(data_root / rec.folder, est)
        review = review_of(catalog, data_root, rec.id, Settings())
        assert review is not None
        record_review(catalog, review)
        for phase, g, v in (("pre", gad[0], sam[0]), ("post", gad[1], sam[1])):
            catalog.set_self_report(rec.id, phase, sam_valence=v, sam_arousal=9 - v, gad7=g)
        catalog.set_questionnaire(rec.id, "pre", "phq9", dict(enumerate(phq, start=1)))
        for t_s, rating in suds:
            catalog.add_suds(rec.id, t_s, rating)
        if len(recs) == 2:  # the third session: GAD-7 before item by item, PHQ-9 after half-done
            catalog.set_questionnaire(rec.id, "pre", "gad7", dict(enumerate(GAD7_ITEMS_3, 1)))
            catalog.set_questionnaire(rec.id, "post", "phq9", {1: 1, 2: 0, 3: 1})
        recs.append(catalog.get_session(rec.id))
        ests.append(est)
    return CourseFixture(catalog, data_root, p.id, recs, ests)


def hand_window_stats(
    est: SessionEstimates, duration_s: float, phase_minutes: float = 15.0
) -> dict[str, tuple[float, float, float, float]]:
    """phase → (valence mean, valence SD, arousal mean, arousal SD), by hand from the
    estimates: frames in [start, end) of the first and last third of a short session, finite
    values only, sample SD."""
    length = min(phase_minutes * 60.0, duration_s / 3.0)
    bounds = {"pre": (0.0, length), "post": (duration_s - length, duration_s)}
    out = {}
    for phase, (a, b) in bounds.items():
        m = (est.t_s >= a) & (est.t_s < b)
        v = (est.outputs[m, 0].astype(np.float64) - 5.0) / 4.0
        ar = (est.outputs[m, 1].astype(np.float64) - 5.0) / 4.0
        ok = np.isfinite(v) & np.isfinite(ar)
        out[phase] = (
            float(np.mean(v[ok])),
            float(np.std(v[ok], ddof=1)),
            float(np.mean(ar[ok])),
            float(np.std(ar[ok], ddof=1)),
        )
    return out


def hand_physiology(
    data_root: Path, rec: SessionRecord, phase_minutes: float = 15.0
) -> dict[str, dict[str, float | None]]:
    """phase → heart rate, RMSSD, EDA level, SCR rate, from slices of the recorded signals."""
    data = open_session(data_root / rec.folder)
    ecg, eda = data.signal("ECG"), data.signal("EDA")
    out: dict[str, dict[str, float | None]] = {}
    for w in phase_windows(float(rec.duration_s or 0.0), [], phase_minutes):
        cut = {}
        for name, s in (("ECG", ecg), ("EDA", eda)):
            pad = int(round(s.t_s[0] * s.rate_hz))
            x = np.concatenate([np.full(pad, np.nan), s.values.astype(np.float64)])
            cut[name] = x[int(round(w.start_s * s.rate_hz)) : int(round(w.end_s * s.rate_hz))]
        e = ecg_summary(cut["ECG"], ecg.rate_hz)
        d = eda_summary(cut["EDA"], eda.rate_hz)
        out[w.name] = {
            "hr_bpm": e["hr_bpm"],
            "rmssd_ms": e["rmssd_ms"],
            "eda_tonic_us": d["tonic_us"],
            "scr_per_min": d["scr_per_min"],
        }
    return out


#: the folder :func:`course_folder` built in this test run (each test module that imports the
#: fixture gets its own fixture instance; they share the folder)
_BUILT: dict[Path, Path] = {}


@pytest.fixture(scope="session")
def course_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data folder (plain, no account) holding :func:`build_course`'s patient "C-3", built once
    per test run; tests read it as it is and copy it before writing."""
    base = tmp_path_factory.getbasetemp()
    if base not in _BUILT:
        root = tmp_path_factory.mktemp("course")
        cat = Catalog.open(root / "catalog.sqlite")
        try:
            build_course(cat, root)
        finally:
            cat.close()
        _BUILT[base] = root
    return _BUILT[base]


def course_of(root: Path) -> CourseFixture:
    """The :class:`CourseFixture` of a :func:`course_folder` (or a copy), its catalog open."""
    cat = Catalog.open(root / "catalog.sqlite")
    p = cat.patient_by_code("C-3")
    assert p is not None
    recs = sorted(cat.list_sessions(patient_id=p.id), key=lambda r: (r.started_at, r.id))[:3]
    ests = [
        shifted_estimates(float(r.duration_s or SECONDS), shift)
        for r, shift in zip(recs, SHIFTS, strict=True)
    ]
    return CourseFixture(cat, root, p.id, recs, ests)
