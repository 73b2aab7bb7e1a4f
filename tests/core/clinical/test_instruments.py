"""GAD-7, PHQ-9 and SUDS: scoring and severity bands against the published cut-offs (Spitzer et
al. 2006; Kroenke et al. 2001), out-of-range values refused with a message, never changed."""

from __future__ import annotations

import numpy as np
import pytest

from core.clinical import (
    GAD7,
    PHQ9,
    band_range,
    check_item,
    check_suds,
    score,
    severity_band,
    total_only,
)


def _answers_summing_to(n_items: int, total: int) -> dict[int, int]:
    """Items 0–3 whose sum is ``total`` (filled from item 1)."""
    out, left = {}, total
    for i in range(1, n_items + 1):
        out[i] = min(3, left)
        left -= out[i]
    assert left == 0
    return out


@pytest.mark.parametrize(
    ("total", "band"),
    [(0, "minimal"), (4, "minimal"), (5, "mild"), (9, "mild"), (10, "moderate"),
     (14, "moderate"), (15, "severe"), (21, "severe")],
)  # fmt: skip
def test_gad7_bands_at_the_published_cut_offs(total: int, band: str) -> None:
    assert severity_band(GAD7, total) == band
    r = score("gad7", _answers_summing_to(7, total), "post")
    assert (r.total, r.band, r.source, r.complete, r.phase) == (total, band, "items", True, "post")


@pytest.mark.parametrize(
    ("total", "band"),
    [(0, "minimal"), (4, "minimal"), (5, "mild"), (9, "mild"), (10, "moderate"),
     (14, "moderate"), (15, "moderately severe"), (19, "moderately severe"), (20, "severe"),
     (27, "severe")],
)  # fmt: skip
def test_phq9_bands_at_the_published_cut_offs(total: int, band: str) -> None:
    assert severity_band(PHQ9, total) == band
    assert score("phq9", _answers_summing_to(9, total)).band == band


def test_band_ranges_and_references() -> None:
    assert band_range(PHQ9, "moderately severe") == (15, 19)
    assert band_range(GAD7, "severe") == (15, 21)
    assert "Spitzer" in GAD7.reference and "2006" in GAD7.reference
    assert "Kroenke" in PHQ9.reference and "2001" in PHQ9.reference
    assert (GAD7.n_items, PHQ9.n_items, GAD7.max_total, PHQ9.max_total) == (7, 9, 21, 27)


def test_phq9_item_9_above_0_is_flagged_whatever_the_total() -> None:
    answers = dict.fromkeys(range(1, 10), 0)
    assert not score(PHQ9, answers).flagged
    answers[9] = 1
    r = score(PHQ9, answers)
    assert r.flagged and r.total == 1 and r.band == "minimal"
    partial = score(PHQ9, {9: 2})  # flagged even before the rest is answered
    assert partial.flagged and partial.total is None and partial.source == "incomplete"
    assert partial.summary() == "PHQ-9 incomplete: 1 of 9 items" and partial.missing[0] == 1


@pytest.mark.parametrize("bad", [4, -1, 99, 2.5, "2", True, None])
def test_an_item_out_of_range_is_refused_by_name_not_clamped(bad: object) -> None:
    with pytest.raises(ValueError, match=r"PHQ-9 item 9 \(Thoughts"):
        check_item(PHQ9, 9, bad)
    answers: dict[int, object] = dict.fromkeys(range(1, 8), 1)
    answers[3] = bad
    with pytest.raises(ValueError, match=r"GAD-7 item 3 \(Worrying too much"):
        score(GAD7, answers)  # type: ignore[arg-type]


def test_items_that_do_not_exist_are_refused() -> None:
    with pytest.raises(ValueError, match="GAD-7 item number must be from 1 to 7; 8"):
        check_item("gad7", 8, 0)
    with pytest.raises(ValueError, match="Unknown questionnaire 'bdi'"):
        check_item("bdi", 1, 0)


def test_numpy_integers_are_scores_and_totals_only_band() -> None:
    assert check_item(GAD7, np.int64(2), np.int16(3)) == 3
    r = total_only("gad7", 14, "pre")
    assert (r.total, r.band, r.source, r.answers) == (14, "moderate", "total only", {})
    assert r.summary() == "GAD-7 14 (moderate; total only)"
    with pytest.raises(ValueError, match="GAD-7 total must be from 0 to 21; 22"):
        total_only("gad7", 22)


@pytest.mark.parametrize("good", [0, 1, 50, 100])
def test_suds_accepts_0_to_100(good: int) -> None:
    assert check_suds(good) == good


@pytest.mark.parametrize("bad", [-1, 101, 150, 55.5, "60", None, False])
def test_suds_out_of_range_is_refused(bad: object) -> None:
    with pytest.raises(ValueError, match="SUDS must be"):
        check_suds(bad)
