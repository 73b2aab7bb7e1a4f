"""The course report read back with pypdf: the numbers printed equal the computed trends, the
demo model and the simulated devices are labelled, a session not analysed shows no estimate,
the export is audited and a patient without sessions is refused in words."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from pypdf import PdfReader

from core.analysis.course import (
    SUDS_POINTS,
    estimate_text,
    format_trend_value,
    patient_course,
    trend_measure,
)
from core.clinical import PHQ9
from core.config import Settings
from core.report.course import ITEM9_BANNER_COURSE, TITLE, export_course_report
from core.report.data import DEMO_BANNER, SIMULATED_BANNER
from core.report.times import local_time
from tests.app.course_data import GAD7, course_folder, course_of  # noqa: F401 — the fixture
from tests.app.review_data import record_short


def pdf_text(path: Path) -> list[str]:
    return [" ".join((p.extract_text() or "").split()) for p in PdfReader(path).pages]


def test_course_pdf_prints_the_computed_trends(course_folder: Path, tmp_path: Path) -> None:  # noqa: F811
    root = tmp_path / "data"
    shutil.copytree(course_folder, root)
    fx = course_of(root)
    try:
        fourth = record_short(fx.catalog, root, fx.patient_id, 4.0)  # a fourth, not analysed
        fx.catalog.add_suds(fourth.id, 1.0, 55)  # its single SUDS rating
        fx.catalog.set_self_report(fourth.id, "pre", gad7=14)  # a GAD-7 total entered alone
        out = export_course_report(
            fx.catalog, root, fx.patient_id, tmp_path / "course.pdf", settings=Settings()
        )
        course = patient_course(fx.catalog, root, fx.patient_id, Settings())
        audit = fx.catalog.audit_log(entity="patient", entity_id=fx.patient_id)
    finally:
        fx.catalog.close()
    pages = pdf_text(out)
    text = " ".join(pages)
    assert pages[0].count(TITLE) == 1 and "Patient code C-3" in pages[0]
    assert "Sessions 4 (3 analysed)" in pages[0]
    assert all(SIMULATED_BANNER in p and DEMO_BANNER in p for p in pages)
    # PHQ-9 item 9 above 0 in session 1: a red banner on every page and a sentence on page one
    assert len(pages) > 1
    assert all(f"{ITEM9_BANNER_COURSE} — session 1 (see the ratings)" in p for p in pages)
    assert (
        "PHQ-9 item 9 (thoughts of being better off dead or of self-harm) was answered "
        in (pages[0])
    )
    assert "above 0 in session 1" in pages[0]
    assert all(f"Page {i} of {len(pages)}" in p for i, p in enumerate(pages, start=1))
    assert "Decision support only" in pages[-1]
    # the per-session table: each row's four estimates as computed (mean ± SD)
    for s in course.sessions:
        cells = [
            estimate_text(s.estimate(k, p), s.analysed)
            for k in ("valence", "arousal")
            for p in ("pre", "post")
        ]
        if s.analysed:
            assert all("±" in c for c in cells)
        row = f"{s.number} {local_time(s.started_at)[:10]} "
        assert row in text
        assert " ".join(cells) in text, (s.number, cells)
    last = course.sessions[-1]
    assert not last.analysed and "not analysed (simulated) not analysed not analysed" in text
    # physiology and questionnaires: "before / after" as computed
    for s in course.sessions[:3]:
        for key in ("hr_bpm", "rmssd_ms", "eda_tonic_us"):
            m = trend_measure(key)
            pair = f"{format_trend_value(s.value(key, 'pre'), m)} / "
            pair += format_trend_value(s.value(key, "post"), m)
            assert pair in text, (key, pair)
    for s in course.sessions[:3]:
        gad = f"before: {s.questionnaire_text('gad7', 'pre')} after: "
        assert gad + s.questionnaire_text("gad7", "post") in text
        assert f"before: {s.questionnaire_text('phq9', 'pre')}" in text
        assert f"{s.suds[0][1]} / {s.suds[-1][1]} ({len(s.suds)} ratings)" in text
    assert [s.value("gad7", "pre") for s in course.sessions[:3]] == [g[0] for g in GAD7]
    assert "before: 12 (moderate) [item 9 above 0]" in text  # PHQ-9 item 9 in session 1
    assert f"{PHQ9.flag_text} (session 1)" in text
    assert "after: incomplete (3 of 9 items)" in text
    # SUDS: the session's first and last rating (not the windows); a single rating once
    assert f"SUDS (0–100) — {SUDS_POINTS}" in text and "55 (1 rating)" in text
    assert "55 / 55" not in text
    assert "before: 14 (moderate; total only)" in text  # as the session report says it
    # the sentence compares the first and last analysed sessions' post windows
    first, third = course.sessions[0], course.sessions[2]
    dv = (third.value("valence", "post") or 0.0) - (first.value("valence", "post") or 0.0)
    assert f"more pleasant ({dv:+.2f})" in pages[0]
    assert any("course report, 4 sessions" in e.detail for e in audit)


def test_a_patient_without_sessions_is_refused(course_folder: Path, tmp_path: Path) -> None:  # noqa: F811
    root = tmp_path / "data"
    shutil.copytree(course_folder, root)
    fx = course_of(root)
    try:
        p = fx.catalog.add_patient("EMPTY-1")
        with pytest.raises(ValueError, match="no session yet"):
            export_course_report(fx.catalog, root, p.id, tmp_path / "x.pdf", settings=Settings())
    finally:
        fx.catalog.close()
    assert not (tmp_path / "x.pdf").exists()


def test_chart_axis_widens_to_show_estimates_beyond_the_fixed_range(
    course_folder: Path,  # noqa: F811
) -> None:
    """A valence mean or its ±1 SD bar beyond −1…+1 is drawn where it is (the axis widens),
    never clamped to the edge."""
    from dataclasses import replace

    from reportlab.graphics.shapes import Circle, Line, String

    from core.analysis.course import WindowEstimate
    from core.report.course_charts import trend_chart

    fx = course_of(course_folder)
    try:
        course = patient_course(fx.catalog, course_folder, fx.patient_id, Settings())
    finally:
        fx.catalog.close()
    s0 = course.sessions[0]
    wide = replace(s0, valence={**s0.valence, "post": WindowEstimate(0.95, 0.4, 100)})
    course = replace(course, sessions=[wide, *course.sessions[1:]])
    d = trend_chart(course, trend_measure("valence"), 400.0)
    labels = [float(x.text) for x in d.contents if isinstance(x, String) and x.x == 27.0]
    assert max(labels) >= 0.95 + 0.4 and min(labels) <= -1.0
    frame_top = 130 - 8.0
    ys = [y for x in d.contents if isinstance(x, Line) for y in (x.y1, x.y2)]
    ys += [c.cy for c in d.contents if isinstance(c, Circle)]
    assert max(ys) <= frame_top + 1e-6
    # the point and the bar's top are apart (not both squeezed onto the edge)
    circles = sorted(c.cy for c in d.contents if isinstance(c, Circle))
    assert max(ys) - circles[-1] > 5
