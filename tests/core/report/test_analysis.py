"""The full session report of an analysed session, built from a real (simulated) recording.

One 20-s simulated session (markers at 6.667 s and 13.333 s: pre = [0, 6.667), post =
[13.333, 20)) is recorded once and copied for each test; the estimates are made by hand, so every
number printed is worked out below. PDFs are read back with pypdf.
"""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import numpy as np
import pytest

from app.demo.simulation import record_simulated
from core.analysis.circumplex import describe_shift, session_circumplex
from core.analysis.results import SessionEstimates, save_estimates
from core.analysis.review import record_review, review_of
from core.catalog import Catalog
from core.config import Settings
from core.report.charts import MAX_POINTS, _reduce_tolerant
from core.report.data import (
    DEMO_BANNER,
    DISCLAIMER,
    INTENDED_USE,
    NOT_ANALYSED,
    SIMULATED_BANNER,
    ReportAnalysis,
)
from core.report.document import build_session_report
from core.report.session import export_session_report
from tests.core.report.test_document import make_data, read_pages

SMALL_VIDEO = Settings(camera_width=160, camera_height=120, camera_fps=10)
SHA = "ab" * 32
# Frames every 0.25 s: k = 0…79. Pre window k = 0…26 (27 frames), post k = 54…79 (26 frames).
T = 0.25 * np.arange(80)
SD_PRE = math.sqrt(24 * 0.01 / 23)  # 24 frames, each 0.1 from the mean: 0.1021…
SD_POST = math.sqrt(26 * 0.01 / 25)  # 0.1020…


def hand_made_estimates(demo: bool = True) -> SessionEstimates:
    """First half anxious (valence -0.5, arousal +0.6), second half calm (+0.5, -0.5).

    Pre: k 0…23 alternate valence -0.4/-0.6 and arousal +0.7/+0.5 (means -0.5 and +0.6, SD
    0.102), k 24…26 have no face (NaN): coverage 24 of 27 = 89 %. A gap k 30…45. Post: k 54…79
    alternate +0.6/+0.4 and -0.4/-0.6 (means +0.5, -0.5, SD 0.102), coverage 26 of 26 = 100 %.
    """
    k = np.arange(80)
    even = k % 2 == 0
    first = T < 10.0
    v = np.where(first, np.where(even, -0.4, -0.6), np.where(even, 0.6, 0.4))
    a = np.where(first, np.where(even, 0.7, 0.5), np.where(even, -0.4, -0.6))
    no_face = np.zeros(80, bool)
    no_face[24:27] = True
    no_face[30:46] = True
    v[no_face] = np.nan
    a[no_face] = np.nan
    outputs = np.full((80, 10), np.nan, np.float32)
    outputs[:, 0] = 5.0 + 4.0 * v  # stored on the 1–9 scale
    outputs[:, 1] = 5.0 + 4.0 * a
    outputs[:, 2] = 5.0
    info = {
        "checkpoint": {
            "label": "Test model",
            "sha256": SHA,
            "demo": demo,
            "variant": "bae2",
            "backbone": "small",
            "modalities": "both",
            "training_data": "simulated sessions (synthetic faces and signals)",
        },
        "inputs": "face + ECG + EDA",
        "device": "cpu: test",
        "precision": "fp32",
        "counts": {
            "frames_stored": 201,
            "frames_analysed": 80,
            "estimated": 61,
            "without_face": 19,
            "bio_incomplete": 2,
        },
        "timings_s": {"wall": 1.0},
        "spans": None,
        "frames_per_s": 4.0,
    }
    return SessionEstimates(
        t_s=T.copy(),
        frame=(T * 10).astype(np.int64),
        outputs=outputs,
        has_face=~no_face,
        bio_complete=np.ones(80, bool),
        info=info,
    )


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("recorded")
    cat = Catalog.open(root / "catalog.sqlite")
    p = cat.add_patient("P-0042", name="Erika Mustermann")
    record_simulated(cat, root, p.id, 20.0, settings=SMALL_VIDEO, virtual=True, with_markers=True)
    cat.close()
    return root


@pytest.fixture
def session(recorded: Path, tmp_path: Path):  # type: ignore[no-untyped-def]
    """(catalog, data root, session record) on a fresh copy of the recorded session."""
    root = tmp_path / "data"
    shutil.copytree(recorded, root)
    cat = Catalog.open(root / "catalog.sqlite")
    rec = cat.list_sessions()[0]
    yield cat, root, rec
    cat.close()


def analyse(cat: Catalog, root: Path, rec, demo: bool = True) -> None:  # type: ignore[no-untyped-def]
    save_estimates(root / rec.folder, hand_made_estimates(demo))
    review = review_of(cat, root, rec.id, SMALL_VIDEO)
    assert review is not None
    record_review(cat, review)


def test_analysed_report(session, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    cat, root, rec = session
    analyse(cat, root, rec)
    cat.set_self_report(rec.id, "pre", sam_valence=3, sam_arousal=8, gad7=14)
    cat.set_self_report(rec.id, "post", sam_valence=7, sam_arousal=3)
    settings = Settings(clinic_name="Praxis am See")
    out = export_session_report(cat, root, rec.id, tmp_path / "out" / "r.pdf", settings=settings)
    pages = read_pages(out)
    first = pages[0]
    # header
    assert "TheraScope session report" in first and "Praxis am See" in first
    assert "P-0042" in first and "Mustermann" not in " ".join(pages)
    assert "0 min 20 s" in first and rec.started_at[:10] in first
    # circumplex captions and axes
    for caption in (
        "Q1 HVHA",
        "excited/happy",
        "Q2 LVHA",
        "stressed/anxious",
        "Q3 LVLA",
        "sad/depressed",
        "Q4 HVLA",
        "calm/relaxed",
    ):
        assert caption in first
    assert "Valence: unpleasant" in first and "Arousal: calm" in first
    # pre/post table: means ± SD by hand, quadrant of the mean, coverage
    assert f"Before treatment 0:00–0:07 -0.50 ± {SD_PRE:.2f} +0.60 ± {SD_PRE:.2f}" in first
    assert "Q2 LVHA (stressed/anxious) 89% (24 of 27)" in first
    assert f"After treatment 0:13–0:20 +0.50 ± {SD_POST:.2f} -0.50 ± {SD_POST:.2f}" in first
    assert "Q4 HVLA (calm/relaxed) 100% (26 of 26)" in first
    review = review_of(cat, root, rec.id, SMALL_VIDEO)
    assert review is not None
    sentence = describe_shift(review.circumplex)
    assert "mostly in Q2 LVHA (stressed/anxious) (mean valence -0.50, arousal +0.60)" in sentence
    assert sentence in first
    assert "more pleasant and calmer" in first
    assert "The patient's own ratings (SAM, 1–9): valence 3 before and 7 after" in first
    # demo model and simulated data on every page, footer everywhere
    for text in pages:
        assert DEMO_BANNER in text and SIMULATED_BANNER in text and DISCLAIMER in text
    rest = " ".join(pages[1:])
    assert "Valence and arousal over the session" in rest
    assert "Time in each quadrant" in rest
    # shares: pre all in Q2, post all in Q4 (columns Q1 Q2 Q3 Q4 near neutral, frames)
    assert "Before treatment 0% 100% 0% 0% 0% 24" in rest
    assert "After treatment 0% 0% 0% 100% 0% 26" in rest
    # self-ratings beside the model's means on the 1–9 scale (5 + 4 × mean)
    assert "Valence, SAM 1–9 (unpleasant–pleasant) 3 3.0 7 7.0" in rest
    assert "Arousal, SAM 1–9 (calm–activated) 8 7.4 3 3.0" in rest
    assert "GAD-7 total (0–21) 14" in rest and "not entered" in rest
    # model and data quality
    assert "Model and data quality" in rest
    assert "Test model — DEMO MODEL, not clinically valid" in rest
    assert "abababababab…" in rest and SHA not in rest
    assert "Trained on simulated sessions (synthetic faces and signals)" in rest
    assert "bae2 / small" in rest and "face + ECG + EDA" in rest
    assert "cpu: test" in rest and "fp32" in rest
    assert "Frames analysed of stored 80 of 201 (40 %)" in rest
    assert "Frames with an estimate 61 (76 %)" in rest
    assert "Frames without a face 19 (24 %)" in rest
    assert "Frames with an incomplete bio-signal window 2 (2 %)" in rest
    assert "Lost bio-signal samples (recording) 0" in rest
    assert "Parts of the session analysed the whole session" in rest
    assert "Analysis rate 4 frames per second" in rest
    assert " ".join(INTENDED_USE.split()) in rest
    assert "Physiology before and after" in rest and "Heart rate over the session" in rest
    assert NOT_ANALYSED not in " ".join(pages)
    # the export is recorded once: a reports row and its audit entry, no other export entry
    reports = cat.list_reports(rec.id)
    assert [(r.pages, r.include_name) for r in reports] == [(len(pages), False)]
    exports = [e for e in cat.audit_log() if e.action == "export"]
    assert [(e.entity, e.entity_id) for e in exports] == [("report", reports[0].id)]
    assert cat.session_state(rec.id) == "reported"
    assert not list(out.parent.glob("*.partial"))


def test_clinical_checkpoint_has_no_demo_banner(session, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    cat, root, rec = session
    analyse(cat, root, rec, demo=False)
    out = export_session_report(
        cat, root, rec.id, tmp_path / "r.pdf", include_name=True, settings=SMALL_VIDEO
    )
    pages = read_pages(out)
    assert all("DEMO MODEL" not in p for p in pages)
    assert "Erika Mustermann" in pages[0]
    assert "Test model" in " ".join(pages)
    assert cat.list_reports(rec.id)[0].include_name is True


def test_unanalysed_session_says_so(session, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    cat, root, rec = session
    out = export_session_report(cat, root, rec.id, tmp_path / "r.pdf", settings=SMALL_VIDEO)
    pages = read_pages(out)
    assert NOT_ANALYSED in pages[0]
    assert "Physiology before and after" in pages[0] and "Q2 LVHA" not in " ".join(pages)
    assert all("DEMO MODEL" not in p for p in pages)
    assert [r.pages for r in cat.list_reports(rec.id)] == [len(pages)]


def test_failed_build_leaves_no_file(session, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    cat, root, rec = session
    target = tmp_path / "reports" / "r.pdf"
    target.parent.mkdir()
    target.write_bytes(b"earlier report")

    def boom(_data: object, path: Path) -> int:
        Path(path).write_bytes(b"half a pdf")
        raise RuntimeError("disk full")

    monkeypatch.setattr("core.report.session.render_session_report", boom)
    with pytest.raises(RuntimeError):
        export_session_report(cat, root, rec.id, target, settings=SMALL_VIDEO)
    assert target.read_bytes() == b"earlier report"
    assert list(target.parent.iterdir()) == [target]
    assert cat.list_reports(rec.id) == []


# --- without a recording: a window without any estimate, and the timeline's reduction ----------


def test_window_without_estimates_prints_dashes(tmp_path: Path) -> None:
    data = make_data(simulated=False)
    t = np.arange(0.0, 3600.0, 1.0)
    v = np.where(t < 1800, -0.5, np.nan)  # nothing estimated in the last 15 min
    a = np.where(t < 1800, 0.6, np.nan)
    circ = session_circumplex(t, v, a, data.physiology.windows)
    info = {
        "checkpoint": {"label": "Clinic model", "sha256": SHA, "demo": False},
        "spans": [[0, 900], [2700, 3600]],
    }
    data.analysis = ReportAnalysis(circ, t, v, a, info)
    pages = read_pages(build_session_report(data, tmp_path / "r.pdf"))
    first = pages[0]
    assert "Last 15:00 45:00–1:00:00 — — not estimated 0% (0 of 900)" in first
    assert "no comparison is possible" in first
    rest = " ".join(pages[1:])
    assert "Last 15:00 — — — — — 0" in rest  # shares
    assert "Parts of the session analysed 0:00–15:00, 45:00–1:00:00" in rest
    assert "Frames analysed of stored — of —" in rest
    assert all("DEMO MODEL" not in p for p in pages)


def test_timeline_reduction_keeps_gaps_and_bridges_scattered_misses() -> None:
    t = np.arange(0.0, 3600.0, 0.25)
    y = np.ones_like(t)
    y[::7] = np.nan  # scattered frames without a face
    y[(t >= 600) & (t < 900)] = np.nan  # five minutes without a face
    keep = (t < 1800) | (t >= 2700)  # 15 minutes not analysed
    rt, ry = _reduce_tolerant(t[keep], y[keep])
    assert rt.size <= MAX_POINTS + 2
    finite = np.isfinite(ry)
    assert np.all(ry[finite] == 1.0)
    # no point inside either gap, and a NaN in each
    assert not np.any(finite & (rt > 605) & (rt < 895))
    assert not np.any((rt > 1805) & (rt < 2695) & finite)
    assert np.any(~finite & (rt > 600) & (rt < 900)) and np.any(~finite & (rt > 1800) & (rt < 2700))
    # elsewhere the line is whole
    assert finite[(rt > 10) & (rt < 590)].all() and finite[(rt > 2710) & (rt < 3590)].all()
