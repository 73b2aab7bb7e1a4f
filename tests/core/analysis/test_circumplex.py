"""Circumplex analytics: quadrants, per-window statistics, smoothing, cohort tests, wording.

Expected numbers are worked out by hand from the small arrays in each test.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from core.analysis.circumplex import (
    DEFAULT_NEUTRAL_RADIUS,
    NEUTRAL,
    QUADRANTS,
    SessionCircumplex,
    cohort_shift,
    describe_shift,
    quadrant_label,
    quadrant_of,
    session_circumplex,
    smooth_trajectory,
    to_circumplex,
)
from core.physiology.summary import PhaseWindow, phase_windows

NAN = float("nan")
SD_PAIR = math.sqrt(0.02)  # sample SD of two values 0.2 apart: sqrt((0.1² + 0.1²) / 1)


def test_constants() -> None:
    assert NEUTRAL == 0
    assert DEFAULT_NEUTRAL_RADIUS == 0.15
    assert QUADRANTS[2] == ("LVHA", "stressed/anxious")
    assert QUADRANTS[4] == ("HVLA", "calm/relaxed")


def test_to_circumplex_maps_ratings_and_keeps_nan() -> None:
    out = to_circumplex([1, 5, 9, 7, NAN])
    np.testing.assert_array_equal(out[:4], [-1.0, 0.0, 1.0, 0.5])
    assert np.isnan(out[4])


@pytest.mark.parametrize(
    ("v", "a", "q"),
    [
        (0.5, 0.5, 1),
        (-0.5, 0.5, 2),
        (-0.5, -0.5, 3),
        (0.5, -0.5, 4),
        # exactly on an axis: the side with >= 0 wins
        (0.5, 0.0, 1),
        (0.0, 0.5, 1),
        (-0.5, 0.0, 2),
        (0.0, -0.5, 4),
        # neutral disc: hypot < 0.15 is neutral, hypot == 0.15 is not
        (0.1, 0.1, 0),  # hypot 0.1414
        (0.0, -0.149, 0),
        (0.15, 0.0, 1),
        (0.0, 0.0, 0),
        (NAN, 0.5, -1),
        (0.5, NAN, -1),
    ],
)
def test_quadrant_of_scalar(v: float, a: float, q: int) -> None:
    out = quadrant_of(v, a)
    assert out == q
    assert type(out) is int


def test_quadrant_of_radius_and_arrays() -> None:
    assert quadrant_of(0.3, 0.3, neutral_radius=0.5) == 0  # hypot 0.424
    assert quadrant_of(0.0, 0.0, neutral_radius=0.0) == 1
    out = quadrant_of(np.array([0.5, -0.5, 0.05, NAN]), np.array([-0.5, -0.5, 0.05, 0.2]))
    assert isinstance(out, np.ndarray)
    assert out.dtype.kind == "i"
    np.testing.assert_array_equal(out, [4, 3, 0, -1])


def test_quadrant_label() -> None:
    assert quadrant_label(2) == "Q2 LVHA (stressed/anxious)"
    assert quadrant_label(4, short=True) == "Q4 HVLA"
    assert quadrant_label(1) == "Q1 HVHA (excited/happy)"
    assert quadrant_label(3, short=True) == "Q3 LVLA"
    assert quadrant_label(0) == "near neutral"
    assert quadrant_label(-1) == "not estimated"
    with pytest.raises(ValueError):
        quadrant_label(5)


WINDOWS = [
    PhaseWindow("pre", "first 3 s", 0.0, 3.0, "test note"),
    PhaseWindow("post", "last 3 s", 6.0, 9.0, "test note"),
]
# t = 0..9 s. Frames 3-5 lie between the windows and t = 9 at the end of post ([6, 9) is
# half-open): their extreme values must not reach any statistic. t = 2 has no valence and
# t = 8 no arousal, so neither counts as estimated.
T = np.arange(10.0)
V = np.array([-0.4, -0.6, NAN, 0.9, 0.9, 0.9, 0.5, 0.3, 0.4, -0.9])
A = np.array([0.6, 0.8, 0.7, -0.9, -0.9, -0.9, -0.4, -0.6, NAN, 0.9])


def test_phase_stats_ignore_nan_and_frames_outside() -> None:
    c = session_circumplex(T, V, A, WINDOWS, smooth_s=2.0)
    pre, post = c.pre, c.post
    assert (pre.name, pre.label, pre.start_s, pre.end_s) == ("pre", "first 3 s", 0.0, 3.0)
    assert (pre.n_frames, pre.n_estimated) == (3, 2)
    assert pre.coverage == pytest.approx(2 / 3)
    assert pre.mean_valence == pytest.approx(-0.5)
    assert pre.mean_arousal == pytest.approx(0.7)
    assert pre.sd_valence == pytest.approx(SD_PAIR)
    assert pre.sd_arousal == pytest.approx(SD_PAIR)
    assert pre.quadrant == 2
    assert pre.shares == {0: 0.0, 1: 0.0, 2: 1.0, 3: 0.0, 4: 0.0}

    assert (post.n_frames, post.n_estimated) == (3, 2)
    assert post.mean_valence == pytest.approx(0.4)
    assert post.mean_arousal == pytest.approx(-0.5)
    assert post.sd_valence == pytest.approx(SD_PAIR)
    assert post.sd_arousal == pytest.approx(SD_PAIR)
    assert post.quadrant == 4
    assert post.shares[4] == 1.0
    dv, da = c.shift
    assert (dv, da) == (pytest.approx(0.9), pytest.approx(-1.2))
    assert c.note == "test note"
    assert c.neutral_radius == DEFAULT_NEUTRAL_RADIUS


def test_shares_with_neutral_frames() -> None:
    # Q0 (hypot 0.07), Q1, Q2, Q2; mean (-0.1125, 0.4125) lies in Q2
    v = [0.05, 0.5, -0.5, -0.5]
    a = [0.05, 0.5, 0.5, 0.6]
    c = session_circumplex([0.0, 1.0, 2.0, 2.5], v, a, WINDOWS)
    assert c.pre.shares == {0: 0.25, 1: 0.25, 2: 0.5, 3: 0.0, 4: 0.0}
    assert sum(c.pre.shares.values()) == pytest.approx(1.0)
    assert c.pre.mean_valence == pytest.approx(-0.1125)
    assert c.pre.mean_arousal == pytest.approx(0.4125)
    assert c.pre.quadrant == 2


def test_empty_and_single_frame_windows() -> None:
    # pre: one estimated frame (no SD); post: no frames at all
    c = session_circumplex([1.0, 2.0], [0.3, NAN], [0.4, 0.1], WINDOWS)
    assert (c.pre.n_frames, c.pre.n_estimated) == (2, 1)
    assert c.pre.mean_valence == pytest.approx(0.3)
    assert math.isnan(c.pre.sd_valence) and math.isnan(c.pre.sd_arousal)
    assert c.pre.quadrant == 1
    post = c.post
    assert (post.n_frames, post.n_estimated, post.coverage) == (0, 0, 0.0)
    assert math.isnan(post.mean_valence) and math.isnan(post.mean_arousal)
    assert math.isnan(post.sd_valence)
    assert post.quadrant == -1
    assert post.shares == {0: 0.0, 1: 0.0, 2: 0.0, 3: 0.0, 4: 0.0}
    assert all(math.isnan(x) for x in c.shift)


def test_length_mismatch_raises() -> None:
    with pytest.raises(ValueError):
        session_circumplex([0.0, 1.0], [0.1], [0.1, 0.2], WINDOWS)


def test_smooth_trajectory_hand_values() -> None:
    # window 2 s (±1 s), step 2 s → grid 0, 2, 4, 6. At t = 2 valence is NaN, so its
    # (finite) arousal 0.9 must be ignored too.
    t = np.arange(7.0)
    v = np.array([0.0, 0.1, NAN, 0.3, 0.4, 0.5, 0.6])
    a = np.array([0.2, 0.4, 0.9, 0.6, 0.0, -0.3, -0.6])
    gt, gv, ga = smooth_trajectory(t, v, a, window_s=2.0, step_s=2.0)
    np.testing.assert_array_equal(gt, [0.0, 2.0, 4.0, 6.0])
    # g=0: t0,t1; g=2: t1,t3; g=4: t3,t4,t5; g=6: t5,t6
    np.testing.assert_allclose(gv, [0.05, 0.2, 0.4, 0.55])
    np.testing.assert_allclose(ga, [0.3, 0.5, 0.1, -0.45])
    # frame order does not matter
    p = np.array([3, 0, 6, 1, 5, 2, 4])
    for x, y in zip(smooth_trajectory(t[p], v[p], a[p], 2.0, 2.0), (gt, gv, ga), strict=True):
        np.testing.assert_allclose(x, y)


def test_smooth_trajectory_drops_gaps() -> None:
    # leading frame without estimate; then 0-2 s and 100-101 s with nothing between.
    # window 4 s (±2 s), default step 2 s; the grid starts at the first estimate, t = 0.
    t = np.array([-5.0, 0.0, 1.0, 2.0, 100.0, 101.0])
    v = np.array([NAN, 0.1, 0.2, 0.3, 0.7, 0.9])
    a = np.array([0.5, -0.1, -0.2, -0.3, -0.7, -0.9])
    gt, gv, ga = smooth_trajectory(t, v, a, window_s=4.0)
    np.testing.assert_array_equal(gt, [0.0, 2.0, 4.0, 98.0, 100.0])
    np.testing.assert_allclose(gv, [0.2, 0.2, 0.3, 0.7, 0.8])
    np.testing.assert_allclose(ga, [-0.2, -0.2, -0.3, -0.7, -0.8])


def test_smooth_trajectory_empty_and_long() -> None:
    gt, gv, ga = smooth_trajectory([0.0, 1.0], [NAN, NAN], [0.1, 0.2])
    assert gt.size == gv.size == ga.size == 0
    # 60 min at 60 fps; a quadratic-time version would not finish in the test budget
    n = 216_000
    t = np.arange(n) / 60.0
    v = np.sin(t / 300.0)
    v[1000:5000] = NAN
    gt, gv, ga = smooth_trajectory(t, v, -v, window_s=30.0)
    # grid 0, 15, …, 3585 s (240 points) less 45 and 60 s, whose ±15 s windows lie inside the
    # 16.7–83.3 s stretch without estimates
    assert gt.size == 238
    np.testing.assert_array_equal(gt[:4], [0.0, 15.0, 30.0, 75.0])
    assert gt[-1] == 3585.0
    assert np.all(np.isfinite(gv)) and np.all(np.abs(gv) <= 1.0)
    with pytest.raises(ValueError):
        smooth_trajectory(t, v, v, window_s=0.0)


def test_session_trajectory_uses_smooth_s() -> None:
    c = session_circumplex(T, V, A, WINDOWS, smooth_s=2.0)
    # step 1 s from t = 0 to t = 9; each grid point averages the estimated frames within ±1 s
    # (t = 2 and t = 8 are not estimated, the frames between the windows are).
    np.testing.assert_array_equal(c.trajectory_t, np.arange(10.0))
    assert c.trajectory_valence[0] == pytest.approx(-0.5)  # t0, t1
    assert c.trajectory_valence[2] == pytest.approx(0.15)  # t1, t3
    assert c.trajectory_valence[8] == pytest.approx(-0.3)  # t7, t9
    assert c.trajectory_arousal[8] == pytest.approx(0.15)
    assert c.trajectory_valence[9] == pytest.approx(-0.9)  # t9 alone
    assert c.trajectory_arousal[9] == pytest.approx(0.9)


def test_to_dict_from_dict_round_trip_through_json() -> None:
    c = session_circumplex([1.0, 2.0, 7.0], [0.3, NAN, -0.2], [0.4, 0.1, 0.5], WINDOWS, 0.2, 2.0)
    assert math.isnan(c.pre.sd_valence)
    d = c.to_dict()
    text = json.dumps(d, allow_nan=False)  # NaN must have become None
    back = SessionCircumplex.from_dict(json.loads(text))
    assert back.to_dict() == d
    assert math.isnan(back.pre.sd_valence)
    assert back.pre.shares == c.pre.shares and all(isinstance(k, int) for k in back.pre.shares)
    assert back.post.mean_valence == c.post.mean_valence
    assert back.neutral_radius == 0.2
    assert back.note == "test note"
    for name in ("trajectory_t", "trajectory_valence", "trajectory_arousal"):
        np.testing.assert_array_equal(getattr(back, name), getattr(c, name))
        assert getattr(back, name).dtype == np.float64


# Four patients. Valence shifts d = 0.6, 0.4, 0.8, 0.2: mean 0.5, deviations ±0.1, ±0.3,
# SS = 0.2, SD = sqrt(0.2/3) = sqrt(1/15), d_z = 0.5·sqrt(15) = 1.936492, t = d_z·sqrt(4) =
# sqrt(15) = 3.872983. All four positive with distinct sizes: exact Wilcoxon p = 2/2⁴ = 0.125.
# Arousal shifts d = -0.3, -0.1, -0.5, -0.3: mean -0.3, SS = 0.08, SD = sqrt(0.08/3) = 0.163299,
# d_z = -1.837117, t = -3.674235.
PRE = np.array([[-0.5, 0.6], [-0.4, 0.5], [-0.6, 0.7], [-0.2, 0.4]])
POST = np.array([[0.1, 0.3], [0.0, 0.4], [0.2, 0.2], [0.0, 0.1]])


def test_cohort_shift_hand_values() -> None:
    from scipy import stats

    # four patients are below the minimum for a test (test_cohort.py): lowered here to check
    # the formulas against the hand values
    assert not cohort_shift(PRE, POST).tested
    c = cohort_shift(PRE, POST, min_patients=4)
    assert c.n == 4 and c.tested
    v = c.valence
    assert v.n == 4
    assert v.mean_shift == pytest.approx(0.5)
    assert v.sd_shift == pytest.approx(0.2581989)
    assert v.dz == pytest.approx(1.9364917)
    assert v.t == pytest.approx(3.8729833)
    assert v.p == pytest.approx(2 * stats.t.sf(math.sqrt(15), df=3))
    assert 0.03 < v.p < 0.04
    assert v.wilcoxon_p == pytest.approx(0.125)
    a = c.arousal
    assert a.mean_shift == pytest.approx(-0.3)
    assert a.sd_shift == pytest.approx(0.1632993)
    assert a.dz == pytest.approx(-1.8371173)
    assert a.t == pytest.approx(-3.6742346)
    assert a.p == pytest.approx(stats.ttest_rel(POST[:, 1], PRE[:, 1]).pvalue)
    assert a.wilcoxon_p == pytest.approx(stats.wilcoxon(POST[:, 1], PRE[:, 1]).pvalue)


def test_cohort_shift_drops_rows_with_nan() -> None:
    pre = np.vstack([PRE, [[NAN, 0.5], [0.1, 0.1]]])
    post = np.vstack([POST, [[0.3, 0.2], [0.2, NAN]]])
    c = cohort_shift(pre, post, min_patients=4)
    assert c.n == 4 and c.valence.n == 4
    assert c.valence.t == pytest.approx(3.8729833)
    assert c.arousal.dz == pytest.approx(-1.8371173)


def test_cohort_shift_degenerate() -> None:
    one = cohort_shift([[-0.5, 0.5]], [[0.0, 0.0]])
    assert one.n == 1 and one.valence.mean_shift == pytest.approx(0.5)
    for x in (one.valence.sd_shift, one.valence.t, one.valence.p, one.valence.dz):
        assert math.isnan(x)
    assert math.isnan(one.valence.wilcoxon_p)
    same = cohort_shift(PRE, PRE, min_patients=4)
    assert same.valence.sd_shift == 0.0
    assert math.isnan(same.valence.t) and math.isnan(same.valence.dz)
    assert math.isnan(same.valence.wilcoxon_p)
    none = cohort_shift(np.full((2, 2), NAN), np.zeros((2, 2)))
    assert none.n == 0 and math.isnan(none.arousal.mean_shift)
    d = json.loads(json.dumps(one.to_dict(), allow_nan=False))
    assert d["valence"]["t"] is None and d["n"] == 1
    assert d["valence"]["mean_shift"] == pytest.approx(0.5)


def _session(
    pre: list[tuple[float, float]],
    post: list[tuple[float, float]],
    markers: list[tuple[float, str]] | None = None,
) -> SessionCircumplex:
    windows = phase_windows(3600.0, markers)
    pre_t = [windows[0].start_s + 10.0 * i for i in range(len(pre))]
    post_t = [windows[1].start_s + 10.0 * i for i in range(len(post))]
    va = np.array(pre + post, dtype=float).reshape(-1, 2)
    return session_circumplex(pre_t + post_t, va[:, 0], va[:, 1], windows)


def test_describe_anxious_to_calm() -> None:
    c = _session([(-0.5, 0.6), (-0.54, 0.62)], [(0.48, -0.5), (0.48, -0.5)])
    assert describe_shift(c) == (
        "In the first 15:00 the estimates were mostly in Q2 LVHA (stressed/anxious) "
        "(mean valence -0.52, arousal +0.61); in the last 15:00 mostly in Q4 HVLA "
        "(calm/relaxed) (valence +0.48, arousal -0.50): more pleasant and calmer."
    )


def test_describe_near_neutral_and_small_shift() -> None:
    c = _session([(0.05, -0.02)], [(0.08, 0.01)])
    assert describe_shift(c) == (
        "In the first 15:00 the estimates were near neutral (mean valence +0.05, "
        "arousal -0.02); in the last 15:00 near neutral (valence +0.08, arousal +0.01): "
        "about the same."
    )


def test_describe_spread_and_one_dimension_the_same() -> None:
    # pre frames Q2, Q1, Q1 but mean (-0.1, 0.4) in Q2: only a third there → "on average"
    c = _session([(-0.6, 0.4), (0.2, 0.4), (0.1, 0.4)], [(-0.12, 0.7)])
    assert describe_shift(c) == (
        "In the first 15:00 the estimates were on average in Q2 LVHA (stressed/anxious) "
        "(mean valence -0.10, arousal +0.40); in the last 15:00 mostly in Q2 LVHA "
        "(stressed/anxious) (valence -0.12, arousal +0.70): more activated; valence about "
        "the same."
    )


def test_describe_not_estimated_and_low_coverage() -> None:
    c = _session([(-0.52, 0.61), (NAN, NAN), (NAN, 0.3)], [(NAN, NAN)])
    assert describe_shift(c) == (
        "In the first 15:00 the estimates were mostly in Q2 LVHA (stressed/anxious) "
        "(mean valence -0.52, arousal +0.61; only 33% of frames estimated); in the last "
        "15:00 not estimated (no frame with a usable estimate): no comparison is possible."
    )


def test_describe_marker_windows() -> None:
    markers = [(600.0, "treatment_start"), (3000.0, "treatment_end")]
    c = _session([(-0.4, 0.4)], [(-0.1, 0.05)], markers)
    assert describe_shift(c) == (
        "Before treatment the estimates were mostly in Q2 LVHA (stressed/anxious) "
        "(mean valence -0.40, arousal +0.40); after treatment near neutral "
        "(valence -0.10, arousal +0.05): more pleasant and calmer."
    )
