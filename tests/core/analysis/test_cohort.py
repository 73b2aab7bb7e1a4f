"""The cohort: who counts (real, consented, analysed sessions of non-demo patients), the minimum
number of patients for a test, and Cohen's d_z with its bootstrap interval."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from core.analysis.circumplex import (
    BOOTSTRAP_RESAMPLES,
    MIN_PATIENTS,
    cohort_shift,
    dz_bootstrap_ci,
    too_few_patients,
)
from core.analysis.review import cohort, counts_for_cohort
from core.catalog import Catalog
from tests.core.analysis.cohort_data import POST, PRE, add_cohort, add_session


@pytest.fixture
def catalog(tmp_path: Path):  # type: ignore[no-untyped-def]
    cat = Catalog.open(tmp_path / "catalog.sqlite")
    yield cat, tmp_path
    cat.close()


def test_the_minimum_is_six_patients() -> None:
    assert MIN_PATIENTS == 6
    assert too_few_patients(5) == "too few patients for a test (n = 5; at least 6)"


@pytest.mark.parametrize("n", [2, 5])
def test_below_six_patients_no_test_but_the_shifts(n: int) -> None:
    c = cohort_shift(PRE[:n], POST[:n])
    assert c.n == n and not c.tested
    assert c.test_note == f"too few patients for a test (n = {n}; at least 6)"
    for d, k in ((c.valence, 0), (c.arousal, 1)):
        shift = POST[:n, k] - PRE[:n, k]
        assert d.n == n
        assert d.mean_shift == pytest.approx(shift.mean())
        assert d.sd_shift == pytest.approx(shift.std(ddof=1))
        for x in (d.t, d.p, d.wilcoxon_p, d.dz, d.dz_ci_low, d.dz_ci_high):
            assert math.isnan(x)
    d = c.to_dict()
    assert d["tested"] is False and d["test_note"] == c.test_note
    assert d["valence"]["p"] is None and d["valence"]["mean_shift"] == pytest.approx(
        c.valence.mean_shift
    )


@pytest.mark.parametrize("n", [6, 8])
def test_from_six_patients_the_tests(n: int) -> None:
    c = cohort_shift(PRE[:n], POST[:n])
    assert c.n == n and c.tested and c.test_note == ""
    for d, k in ((c.valence, 0), (c.arousal, 1)):
        shift = POST[:n, k] - PRE[:n, k]
        ref = stats.ttest_rel(POST[:n, k], PRE[:n, k])
        assert d.t == pytest.approx(ref.statistic)
        assert d.p == pytest.approx(ref.pvalue)
        assert d.wilcoxon_p == pytest.approx(stats.wilcoxon(POST[:n, k], PRE[:n, k]).pvalue)
        assert d.dz == pytest.approx(shift.mean() / shift.std(ddof=1))
        assert d.dz_ci_low < d.dz < d.dz_ci_high


def direct_bootstrap(shifts: np.ndarray, n_resamples: int, seed: int) -> tuple[float, float]:
    """The percentile bootstrap written out, one resample at a time (same draws: same seed)."""
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, shifts.size, size=(n_resamples, shifts.size))
    values = []
    for row in draws:
        sample = shifts[row]
        sd = float(np.std(sample, ddof=1))
        mean = float(np.mean(sample))
        if sd > 1e-12:
            values.append(mean / sd)
        elif mean != 0.0:
            values.append(math.copysign(math.inf, mean))
    values.sort()
    m = len(values)  # the 2.5th and 97.5th percentiles as order statistics: the ⌈q·m⌉-th values
    return values[math.ceil(0.025 * m) - 1], values[math.ceil(0.975 * m) - 1]


def test_dz_interval_is_the_percentile_bootstrap_over_patients() -> None:
    shifts = POST[:, 0] - PRE[:, 0]
    c = cohort_shift(PRE, POST)
    assert (c.valence.dz_ci_low, c.valence.dz_ci_high) == pytest.approx(
        direct_bootstrap(shifts, BOOTSTRAP_RESAMPLES, 0), rel=1e-12
    )
    arousal = POST[:, 1] - PRE[:, 1]
    assert (c.arousal.dz_ci_low, c.arousal.dz_ci_high) == pytest.approx(
        direct_bootstrap(arousal, BOOTSTRAP_RESAMPLES, 0), rel=1e-12
    )
    # reproducible: the same cohort gets the same interval; another seed a slightly other one
    again = cohort_shift(PRE, POST)
    assert (again.valence.dz_ci_low, again.valence.dz_ci_high) == (
        c.valence.dz_ci_low,
        c.valence.dz_ci_high,
    )
    other = dz_bootstrap_ci(shifts, seed=1)
    assert other != (c.valence.dz_ci_low, c.valence.dz_ci_high)
    assert other == pytest.approx((c.valence.dz_ci_low, c.valence.dz_ci_high), rel=0.15)


def test_dz_interval_matches_theory_on_a_large_normal_sample() -> None:
    """200 patients with shifts ~ N(0.5, 1): d_z ≈ 0.5 with SE ≈ sqrt(1/n + d²/(2n))."""
    shifts = np.random.default_rng(7).normal(0.5, 1.0, 200)
    dz = shifts.mean() / shifts.std(ddof=1)
    low, high = dz_bootstrap_ci(shifts)
    se = math.sqrt(1 / 200 + dz**2 / 400)
    assert low == pytest.approx(dz - 1.96 * se, abs=0.03)
    assert high == pytest.approx(dz + 1.96 * se, abs=0.03)


def test_dz_interval_undefined_without_spread() -> None:
    assert all(math.isnan(x) for x in dz_bootstrap_ci(np.full(8, 0.3)))
    assert all(math.isnan(x) for x in dz_bootstrap_ci([0.3]))


# --- who counts ---------------------------------------------------------------------------------


def test_only_real_sessions_of_non_demo_patients_by_default(catalog) -> None:  # type: ignore[no-untyped-def]
    cat, root = catalog
    add_cohort(cat, root, 6)
    demo = cat.add_patient("DEMO", is_demo=True)
    add_session(cat, root, demo.id, (-0.9, 0.9), (0.9, -0.9))  # real data, but a demo patient
    sim_only = cat.add_patient("S-01")
    add_session(cat, root, sim_only.id, (-0.7, 0.6), (0.6, -0.6), simulated=True)
    mixed = cat.add_patient("M-01")  # a real session, then a later simulated one
    add_session(cat, root, mixed.id, tuple(PRE[6]), tuple(POST[6]), day=0)
    add_session(cat, root, mixed.id, (-0.8, 0.8), (0.8, -0.8), simulated=True, day=3)
    unanalysed = cat.add_patient("U-01")
    add_session(cat, root, unanalysed.id, (0.0, 0.0), (0.0, 0.0), analysed=False)

    entries, st = cohort(cat, root)
    codes = [e.code for e in entries]
    assert sorted(codes) == ["M-01", "R-01", "R-02", "R-03", "R-04", "R-05", "R-06"]
    assert not any(e.simulated for e in entries)
    m = next(e for e in entries if e.code == "M-01")
    assert m.pre == pytest.approx(tuple(PRE[6]), abs=1e-6)  # its real session, not the later one
    assert st.n == 7 and st.tested
    ref = cohort_shift([e.pre for e in entries], [e.post for e in entries])
    assert st.valence.p == pytest.approx(ref.valence.p)

    entries, st = cohort(cat, root, include_simulated=True)
    by_code = {e.code: e for e in entries}
    assert sorted(by_code) == ["M-01", "R-01", "R-02", "R-03", "R-04", "R-05", "R-06", "S-01"]
    assert "DEMO" not in by_code and "U-01" not in by_code  # never the demo patient
    assert by_code["S-01"].simulated and by_code["M-01"].simulated  # the latest session: simulated
    assert by_code["M-01"].pre == pytest.approx((-0.8, 0.8), abs=1e-6)
    assert not by_code["R-01"].simulated
    assert st.n == 8


def test_five_real_patients_are_too_few_even_with_simulated_ones_about(catalog) -> None:  # type: ignore[no-untyped-def]
    cat, root = catalog
    add_cohort(cat, root, 5)
    p = cat.add_patient("S-01")
    add_session(cat, root, p.id, (-0.7, 0.6), (0.6, -0.6), simulated=True)
    entries, st = cohort(cat, root)
    assert len(entries) == 5 and not st.tested
    assert st.test_note == "too few patients for a test (n = 5; at least 6)"
    assert math.isnan(st.valence.p) and math.isnan(st.arousal.wilcoxon_p)
    assert st.valence.mean_shift == pytest.approx((POST[:5, 0] - PRE[:5, 0]).mean(), abs=1e-6)
    entries, st = cohort(cat, root, include_simulated=True)
    assert len(entries) == 6 and st.tested and np.isfinite(st.valence.p)


def test_a_session_without_consent_on_record_does_not_count(catalog) -> None:  # type: ignore[no-untyped-def]
    cat, root = catalog
    p = cat.add_patient("R-01")
    rec = add_session(cat, root, p.id, (-0.5, 0.5), (0.5, -0.5))
    assert counts_for_cohort(rec)
    assert not counts_for_cohort(dataclasses.replace(rec, consent_at=""))
    sim = dataclasses.replace(rec, simulated=True)
    assert not counts_for_cohort(sim) and counts_for_cohort(sim, include_simulated=True)
