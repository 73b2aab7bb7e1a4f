"""A course of therapy (core/analysis/course.py): the trend values of a patient with three
recorded sessions against hand-computed ones; a session not analysed shows no estimate."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.analysis.course import (
    ANALYSED,
    NOT_ANALYSED,
    estimate_text,
    patient_course,
)
from core.catalog import Catalog
from core.config import Settings
from tests.app.course_data import (
    GAD7,
    PHQ9_PRE,
    SAM_VALENCE,
    SUDS,
    CourseFixture,
    course_folder,  # noqa: F401 — the fixture
    course_of,
    hand_physiology,
    hand_window_stats,
)
from tests.app.review_data import record_short


@pytest.fixture
def built(course_folder: Path) -> Iterator[tuple[Path, CourseFixture]]:  # noqa: F811
    fx = course_of(course_folder)
    yield course_folder, fx
    fx.catalog.close()


def test_trends_equal_hand_computed_values(built: tuple[Path, CourseFixture]) -> None:
    root, fx = built
    course = patient_course(fx.catalog, root, fx.patient_id, Settings())
    assert course.code == "C-3" and [s.number for s in course.sessions] == [1, 2, 3]
    assert [s.session_id for s in course.sessions] == [r.id for r in fx.sessions]
    assert all(s.state == ANALYSED and s.demo_model for s in course.sessions)
    assert course.demo_model and course.simulated
    for s, rec, est, gad, sam, phq, suds in zip(
        course.sessions, fx.sessions, fx.estimates, GAD7, SAM_VALENCE, PHQ9_PRE, SUDS, strict=True
    ):
        hand = hand_window_stats(est, float(rec.duration_s or 0.0))
        phys = hand_physiology(root, rec)
        for phase in ("pre", "post"):
            v_mean, v_sd, a_mean, a_sd = hand[phase]
            v, a = s.estimate("valence", phase), s.estimate("arousal", phase)
            assert v is not None and a is not None
            assert v.mean == pytest.approx(v_mean, abs=1e-9)
            assert v.sd == pytest.approx(v_sd, abs=1e-9)
            assert a.mean == pytest.approx(a_mean, abs=1e-9)
            assert a.sd == pytest.approx(a_sd, abs=1e-9)
            assert s.value("valence", phase) == pytest.approx(v_mean, abs=1e-9)
            for key, want in phys[phase].items():
                got = s.value(key, phase)
                assert got == (None if want is None else pytest.approx(want, rel=1e-9)), key
            # 11-s windows: heart rate, RMSSD and EDA level are measured (SCR rate may not be)
            assert all(phys[phase][k] is not None for k in ("hr_bpm", "rmssd_ms", "eda_tonic_us"))
        assert s.value("gad7", "pre") == gad[0] and s.value("gad7", "post") == gad[1]
        assert s.value("sam_valence", "pre") == sam[0]
        assert s.value("sam_arousal", "post") == 9 - sam[1]
        assert s.change("gad7") == gad[1] - gad[0]
        assert s.value("phq9", "pre") == sum(phq)
        assert s.value("suds", "pre") == suds[0][1] and s.value("suds", "post") == suds[-1][1]
        assert s.suds == [(t, r) for t, r in suds]
        assert s.flagged == (phq[8] > 0)
    third = course.sessions[2]
    assert third.questionnaires["pre"]["gad7"].source == "items"  # the items' sum: 9
    assert third.value("phq9", "post") is None  # 3 of 9 items: no total, said in words
    assert third.questionnaire_text("phq9", "post") == "incomplete (3 of 9 items)"
    assert third.questionnaire_text("gad7", "pre") == "9 (mild)"
    assert (
        course.sessions[0].questionnaire_text("gad7", "pre") == "15 (severe; total only)"
    )  # entered alone
    # the estimates move towards pleasant and calm each week: the trend says so
    post_v = [v for _, v in course.trend("valence", "post")]
    pre_a = [v for _, v in course.trend("arousal", "pre")]
    assert post_v == sorted(post_v) and pre_a == sorted(pre_a, reverse=True)
    assert course.has("gad7") and course.has("phq9") and course.has("suds")


def test_a_session_not_analysed_shows_no_estimate(
    built: tuple[Path, CourseFixture], tmp_path: Path
) -> None:
    src, _ = built
    root = tmp_path / "data"
    shutil.copytree(src, root)
    cat = Catalog.open(root / "catalog.sqlite")
    try:
        p = cat.patient_by_code("C-3")
        assert p is not None
        rec = record_short(cat, root, p.id, 4.0)
        cat.add_suds(rec.id, 1.5, 55)  # a single SUDS rating: one point, not before and after
        cat.set_self_report(rec.id, "pre", gad7=14)  # a GAD-7 total entered alone
        course = patient_course(cat, root, p.id, Settings())
        last = course.sessions[-1]
        assert last.suds == [(1.5, 55)]
        assert (last.value("suds", "pre"), last.value("suds", "post")) == (55.0, None)
        assert last.change("suds") is None
        assert last.questionnaire_text("gad7", "pre") == "14 (moderate; total only)"
        cat.set_questionnaire(rec.id, "pre", "gad7", {1: 2})  # items begun: the total stays
        course = patient_course(cat, root, p.id, Settings())
        assert course.sessions[-1].questionnaire_text("gad7", "pre") == (
            "14 (moderate; total only, items being entered: 1 of 7)"
        )
        assert last.session_id == rec.id and last.number == 4
        assert last.state == NOT_ANALYSED and not last.analysed
        for phase in ("pre", "post"):
            assert last.value("valence", phase) is None
            assert last.value("arousal", phase) is None
            assert estimate_text(last.estimate("valence", phase), last.analysed) == NOT_ANALYSED
        assert last.physiology is not None  # recorded: the physiology is there
        assert [s.session_id for s, _ in course.trend("valence", "pre")] == [
            s.session_id for s in course.sessions[:3]
        ]
    finally:
        cat.close()
