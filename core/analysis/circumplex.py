"""Circumplex analytics of a session's per-frame emotion estimates, and of a cohort.

Valence (x, unpleasant → pleasant) and arousal (y, calm → activated) are on the circumplex
scale [-1, 1]; a 1–9 rating r maps to (r − 5) / 4. Quadrants are numbered as in mathematics
(Q1 HVHA top right … Q4 HVLA bottom right); a point within ``neutral_radius`` of the centre is
"near neutral" (0). NaN means "not estimated" (no face, lost bio samples): such frames are left
out of every statistic, never interpolated; a frame is estimated only when both values are finite.
scipy is imported inside the functions that need it, so ``import core`` stays fast.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
from numpy.typing import ArrayLike

from core.timefmt import format_clock

if TYPE_CHECKING:
    from core.physiology.summary import PhaseWindow

NEUTRAL = 0
NOT_ESTIMATED = -1
QUADRANTS: dict[int, tuple[str, str]] = {
    1: ("HVHA", "excited/happy"),
    2: ("LVHA", "stressed/anxious"),
    3: ("LVLA", "sad/depressed"),
    4: ("HVLA", "calm/relaxed"),
}
DEFAULT_NEUTRAL_RADIUS = 0.15
# Shifts smaller than this (circumplex units) are described as "about the same".
_SAME = 0.05
# Below this SD the paired shifts count as constant: float subtraction leaves ~1e-17 noise that
# would otherwise give an absurd t statistic.
_ZERO = 1e-12


def _none_if_nan(x: float) -> float | None:
    return None if np.isnan(x) else float(x)


def _nan_if_none(x: float | None) -> float:
    return float("nan") if x is None else float(x)


def to_circumplex(rating: ArrayLike) -> np.ndarray:
    """Map 1–9 self-assessment ratings to the circumplex scale: (r − 5) / 4; NaN stays NaN."""
    return (np.asarray(rating, dtype=np.float64) - 5.0) / 4.0


def quadrant_of(
    valence: ArrayLike, arousal: ArrayLike, neutral_radius: float = DEFAULT_NEUTRAL_RADIUS
) -> Any:
    """Quadrant of circumplex points.

    Parameters
    ----------
    valence, arousal : float or array — circumplex coordinates in [-1, 1] (broadcast together)
    neutral_radius : float — points with ``hypot(valence, arousal) < neutral_radius`` are near
        neutral (circumplex units)

    Returns
    -------
    int for scalar input, int ndarray otherwise — 1..4 (Q1 v≥0,a≥0; Q2 v<0,a≥0; Q3 v<0,a<0;
    Q4 v≥0,a<0; a point on an axis goes to the side with ≥ 0), 0 near neutral, -1 where either
    coordinate is not finite (not estimated).
    """
    v = np.asarray(valence, dtype=np.float64)
    a = np.asarray(arousal, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        q = np.where(v >= 0, np.where(a >= 0, 1, 4), np.where(a >= 0, 2, 3))
        q = np.where(np.hypot(v, a) < neutral_radius, NEUTRAL, q)
    q = np.where(np.isfinite(v) & np.isfinite(a), q, NOT_ESTIMATED).astype(np.int64)
    return int(q) if q.ndim == 0 else q


def quadrant_label(q: int, short: bool = False) -> str:
    """Label of a quadrant code: ``"Q2 LVHA (stressed/anxious)"`` (short: ``"Q2 LVHA"``),
    ``"near neutral"`` for 0, ``"not estimated"`` for -1."""
    q = int(q)
    if q == NEUTRAL:
        return "near neutral"
    if q == NOT_ESTIMATED:
        return "not estimated"
    if q not in QUADRANTS:
        raise ValueError(f"quadrant_label: unknown quadrant code {q}")
    letters, words = QUADRANTS[q]
    return f"Q{q} {letters}" if short else f"Q{q} {letters} ({words})"


@dataclass
class PhaseStats:
    """Circumplex statistics of one comparison window.

    Parameters
    ----------
    name : str — ``"pre"`` or ``"post"``
    label : str — plain words from the PhaseWindow, e.g. ``"first 15:00"``
    start_s, end_s : float — window bounds from the session start (s); frames in [start, end)
    n_frames : int — analysed frames in the window
    n_estimated : int — of which with finite valence and arousal
    mean_valence, mean_arousal : float — means over the estimated frames (circumplex units);
        NaN when none
    sd_valence, sd_arousal : float — sample SDs (ddof=1, circumplex units); NaN below 2 frames
    quadrant : int — :func:`quadrant_of` the mean point; -1 when not estimated
    shares : dict — quadrant code 0..4 → share of the estimated frames there (sums to 1, or all
        0.0 when none)
    """

    name: str
    label: str
    start_s: float
    end_s: float
    n_frames: int
    n_estimated: int
    mean_valence: float
    mean_arousal: float
    sd_valence: float
    sd_arousal: float
    quadrant: int
    shares: dict[int, float]

    @property
    def coverage(self) -> float:
        """Share of the window's frames with an estimate (0 when there are no frames)."""
        return self.n_estimated / self.n_frames if self.n_frames else 0.0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (NaN → None, share keys as strings)."""
        d = {k: _none_if_nan(x) if isinstance(x, float) else x for k, x in asdict(self).items()}
        d["shares"] = {str(k): float(v) for k, v in self.shares.items()}
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> PhaseStats:
        """Inverse of :meth:`to_dict` (None → NaN)."""
        mv, ma, sv, sa = (_nan_if_none(d[k]) for k in _MEANS_SDS)
        span = (str(d["name"]), str(d["label"]), float(d["start_s"]), float(d["end_s"]))
        shares = {int(k): float(v) for k, v in d["shares"].items()}
        counts = (int(d["n_frames"]), int(d["n_estimated"]))
        return cls(*span, *counts, mv, ma, sv, sa, int(d["quadrant"]), shares)


_MEANS_SDS = ("mean_valence", "mean_arousal", "sd_valence", "sd_arousal")
_TRAJECTORY = ("trajectory_t", "trajectory_valence", "trajectory_arousal")


@dataclass
class SessionCircumplex:
    """Pre/post circumplex summary and smoothed course of one session.

    Parameters
    ----------
    pre, post : PhaseStats — the two comparison windows
    note : str — how the windows were chosen, for the therapist
    neutral_radius : float — radius of the near-neutral disc (circumplex units)
    trajectory_t : ndarray — grid times of the smoothed course (s from the session start)
    trajectory_valence, trajectory_arousal : ndarray — smoothed coordinates (circumplex units)
    """

    pre: PhaseStats
    post: PhaseStats
    note: str
    neutral_radius: float
    trajectory_t: np.ndarray
    trajectory_valence: np.ndarray
    trajectory_arousal: np.ndarray

    @property
    def shift(self) -> tuple[float, float]:
        """(valence, arousal) of post − pre means (circumplex units); NaN where not estimated."""
        return (
            self.post.mean_valence - self.pre.mean_valence,
            self.post.mean_arousal - self.pre.mean_arousal,
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (lists, floats, strings; NaN → None)."""
        d: dict[str, Any] = {"pre": self.pre.to_dict(), "post": self.post.to_dict()}
        d.update(note=self.note, neutral_radius=float(self.neutral_radius))
        for k in _TRAJECTORY:
            d[k] = [_none_if_nan(x) for x in np.asarray(getattr(self, k), dtype=float).tolist()]
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SessionCircumplex:
        """Inverse of :meth:`to_dict` (None → NaN)."""
        traj = {k: np.array([_nan_if_none(x) for x in d[k]], dtype=float) for k in _TRAJECTORY}
        pre, post = PhaseStats.from_dict(d["pre"]), PhaseStats.from_dict(d["post"])
        return cls(pre, post, str(d["note"]), float(d["neutral_radius"]), **traj)


def _as_frames(
    t_s: ArrayLike, valence: ArrayLike, arousal: ArrayLike
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    t = np.asarray(t_s, dtype=np.float64).ravel()
    v = np.asarray(valence, dtype=np.float64).ravel()
    a = np.asarray(arousal, dtype=np.float64).ravel()
    if not t.size == v.size == a.size:
        raise ValueError(
            f"circumplex: lengths of t_s, valence, arousal {t.size}, {v.size}, {a.size}"
        )
    return t, v, a


def smooth_trajectory(
    t_s: ArrayLike,
    valence: ArrayLike,
    arousal: ArrayLike,
    window_s: float = 30.0,
    step_s: float | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Centred moving mean of the estimates over time, ignoring frames without an estimate.

    Parameters
    ----------
    t_s : array — frame times (s), any order
    valence, arousal : array — per-frame estimates (circumplex units), NaN = not estimated
    window_s : float — window width (s); a grid point averages the frames within ±window_s/2
    step_s : float, optional — grid spacing (s); default ``window_s / 2``

    Returns
    -------
    (t, valence, arousal) : ndarrays — grid from the first finite estimate towards the last
    every ``step_s``; grid points with no estimate in their window are dropped, so a long gap
    stays a gap. Empty when nothing was estimated. O(N log N) (cumulative sums + searchsorted).
    """
    if not window_s > 0:
        raise ValueError("smooth_trajectory: window_s must be positive")
    step = window_s / 2.0 if step_s is None else float(step_s)
    if not step > 0:
        raise ValueError("smooth_trajectory: step_s must be positive")
    t, v, a = _as_frames(t_s, valence, arousal)
    ok = np.isfinite(t) & np.isfinite(v) & np.isfinite(a)
    t, v, a = t[ok], v[ok], a[ok]
    if t.size == 0:
        empty = np.empty(0, dtype=np.float64)
        return empty, empty.copy(), empty.copy()
    order = np.argsort(t, kind="stable")
    t, v, a = t[order], v[order], a[order]
    n_grid = int(np.floor((t[-1] - t[0]) / step + 1e-9)) + 1
    grid = t[0] + step * np.arange(n_grid)
    half = window_s / 2.0
    lo = np.searchsorted(t, grid - half, side="left")
    hi = np.searchsorted(t, grid + half, side="right")
    count = hi - lo
    keep = count > 0
    lo, hi, count = lo[keep], hi[keep], count[keep]
    cv = np.concatenate(([0.0], np.cumsum(v)))
    ca = np.concatenate(([0.0], np.cumsum(a)))
    return grid[keep], (cv[hi] - cv[lo]) / count, (ca[hi] - ca[lo]) / count


def _phase_stats(
    t: np.ndarray, v: np.ndarray, a: np.ndarray, w: PhaseWindow, radius: float
) -> PhaseStats:
    inside = (t >= w.start_s) & (t < w.end_s)
    est = inside & np.isfinite(v) & np.isfinite(a)
    ve, ae = v[est], a[est]
    n, nan = int(ve.size), float("nan")
    mv, ma = (float(ve.mean()), float(ae.mean())) if n else (nan, nan)
    sv, sa = (float(ve.std(ddof=1)), float(ae.std(ddof=1))) if n >= 2 else (nan, nan)
    counts = np.bincount(quadrant_of(ve, ae, radius), minlength=5) if n else np.zeros(5)
    shares = {q: float(counts[q] / n) if n else 0.0 for q in range(5)}
    span = (w.name, w.label, float(w.start_s), float(w.end_s), int(inside.sum()), n)
    return PhaseStats(*span, mv, ma, sv, sa, quadrant_of(mv, ma, radius), shares)


def session_circumplex(
    t_s: ArrayLike,
    valence: ArrayLike,
    arousal: ArrayLike,
    windows: list[PhaseWindow],
    neutral_radius: float = DEFAULT_NEUTRAL_RADIUS,
    smooth_s: float = 30.0,
) -> SessionCircumplex:
    """Circumplex summary of one session.

    Parameters
    ----------
    t_s : array — analysed frame times from the session start (s)
    valence, arousal : array — per-frame estimates (circumplex units), NaN = not estimated
    windows : list of PhaseWindow — ``[pre, post]`` from :func:`core.physiology.summary.phase_windows`
    neutral_radius : float — radius of the near-neutral disc (circumplex units)
    smooth_s : float — moving-mean window of the trajectory (s)

    Returns
    -------
    SessionCircumplex
    """
    t, v, a = _as_frames(t_s, valence, arousal)
    if len(windows) < 2:
        raise ValueError("session_circumplex: windows must be [pre, post]")
    pre, post = (_phase_stats(t, v, a, w, neutral_radius) for w in windows[:2])
    traj = smooth_trajectory(t, v, a, window_s=smooth_s)
    return SessionCircumplex(pre, post, windows[0].note, float(neutral_radius), *traj)


#: Fewest patients for which the cohort's paired tests are run; below, the cohort is described
#: (means, SDs, shifts) but not tested: with a handful of patients a p-value or an effect size says
#: next to nothing and invites over-reading.
MIN_PATIENTS = 6
#: Resamples of the percentile bootstrap of Cohen's d_z.
BOOTSTRAP_RESAMPLES = 5000
#: Seed of the bootstrap: the same cohort always gets the same interval.
BOOTSTRAP_SEED = 0


def too_few_patients(n: int, min_patients: int = MIN_PATIENTS) -> str:
    """What is said instead of a test: ``"too few patients for a test (n = 4; at least 6)"``."""
    return f"too few patients for a test (n = {n}; at least {min_patients})"


@dataclass
class DimensionTest:
    """Paired pre→post test of one dimension over a cohort (circumplex units).

    Parameters
    ----------
    n : int — patients with both values
    mean_shift, sd_shift : float — mean and sample SD (ddof=1) of post − pre (circumplex units);
        always given (SD NaN below 2 patients)
    t, p : float — paired t statistic and two-sided p; NaN when not tested (fewer than
        :data:`MIN_PATIENTS` patients) or the SD is 0
    dz : float — Cohen's d_z = mean_shift / sd_shift (no unit); NaN when not tested or undefined
    wilcoxon_p : float — Wilcoxon signed-rank two-sided p; NaN when not tested or all shifts are 0
    dz_ci_low, dz_ci_high : float — 95 % percentile-bootstrap interval of d_z
        (:func:`dz_bootstrap_ci`); NaN where ``dz`` is
    """

    n: int
    mean_shift: float
    sd_shift: float
    t: float
    p: float
    dz: float
    wilcoxon_p: float
    dz_ci_low: float = float("nan")
    dz_ci_high: float = float("nan")


@dataclass
class CohortStats:
    """Pre→post shift of a cohort in valence and arousal.

    Parameters
    ----------
    n : int — patients with both a pre and a post value
    valence, arousal : DimensionTest — each dimension's shift and, from ``min_patients`` on, its
        tests
    min_patients : int — the fewest patients tested
    """

    n: int
    valence: DimensionTest
    arousal: DimensionTest
    min_patients: int = MIN_PATIENTS

    @property
    def tested(self) -> bool:
        """Enough patients for the tests (and d_z with its interval)."""
        return self.n >= self.min_patients

    @property
    def test_note(self) -> str:
        """``""`` when tested, else :func:`too_few_patients`."""
        return "" if self.tested else too_few_patients(self.n, self.min_patients)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (NaN → None), with ``tested`` and ``test_note``."""
        d = asdict(self)
        for dim in ("valence", "arousal"):
            d[dim] = {k: _none_if_nan(x) if isinstance(x, float) else x for k, x in d[dim].items()}
        d.update(tested=self.tested, test_note=self.test_note)
        return d


def dz_bootstrap_ci(
    shifts: ArrayLike,
    n_resamples: int = BOOTSTRAP_RESAMPLES,
    seed: int = BOOTSTRAP_SEED,
    level: float = 0.95,
) -> tuple[float, float]:
    """Percentile-bootstrap interval of Cohen's d_z over patients (numpy only, reproducible).

    ``n_resamples`` times, n patients are drawn with replacement (``numpy.random.default_rng(seed)
    .integers(0, n, size=(n_resamples, n))``) and d_z = mean / SD (ddof=1) of their shifts is
    computed; the interval is the ``(1 − level) / 2`` and ``(1 + level) / 2`` quantiles of these
    values as order statistics: the ⌈q·m⌉-th smallest of the m values (the 125th and the 4875th
    of 5000 for 95 %). A resample that drew a single patient (or only patients with the
    same shift) has no SD: its d_z counts as ±∞ by the sign of its shift, so it lies in the tail
    where it belongs, or is left out when that shift is 0.

    Parameters
    ----------
    shifts : array, shape (n,) — post − pre per patient (circumplex units), all finite
    n_resamples : int — bootstrap resamples
    seed : int — seed of the resampling
    level : float — coverage of the interval, in (0, 1)

    Returns
    -------
    (low, high) : float — NaN when n < 2 or every shift is the same
    """
    d = np.asarray(shifts, dtype=np.float64).ravel()
    n, nan = int(d.size), float("nan")
    if n < 2 or not np.all(np.isfinite(d)) or d.std(ddof=1) <= _ZERO:
        return nan, nan
    if not 0.0 < level < 1.0:
        raise ValueError(f"dz_bootstrap_ci: level must be in (0, 1), got {level}")
    idx = np.random.default_rng(seed).integers(0, n, size=(int(n_resamples), n))
    samples = d[idx]
    mean = samples.mean(axis=1)
    sd = samples.std(axis=1, ddof=1)
    flat = sd <= _ZERO
    with np.errstate(divide="ignore", invalid="ignore"):
        dz = np.where(flat, np.sign(mean) * np.inf, mean / np.where(flat, 1.0, sd))
    dz = np.sort(dz[~(flat & (mean == 0.0))])
    if not dz.size:
        return nan, nan
    tail = (1.0 - level) / 2.0

    def order_statistic(q: float) -> float:
        # the ⌈q·m⌉-th smallest; the tolerance keeps 0.025 · 5000 = 125.0000000001 at 125
        k = min(max(math.ceil(q * dz.size - 1e-9), 1), dz.size)
        return float(dz[k - 1])

    return order_statistic(tail), order_statistic(1.0 - tail)


def _dimension_test(
    pre: np.ndarray, post: np.ndarray, tested: bool, n_resamples: int, seed: int
) -> DimensionTest:
    from scipy import stats

    nan = float("nan")
    d = post - pre
    n = int(d.size)
    mean = float(d.mean()) if n else nan
    sd = float(d.std(ddof=1)) if n >= 2 else nan
    t = p = dz = w_p = lo = hi = nan
    if tested and n >= 2 and sd > _ZERO:
        res = stats.ttest_rel(post, pre)
        t, p, dz = float(res.statistic), float(res.pvalue), mean / sd
        lo, hi = dz_bootstrap_ci(d, n_resamples, seed)
    if tested and n >= 2 and np.any(np.abs(d) > _ZERO):
        w_p = float(stats.wilcoxon(post, pre).pvalue)
    return DimensionTest(n, mean, sd, t, p, dz, w_p, lo, hi)


def cohort_shift(
    pre: ArrayLike,
    post: ArrayLike,
    min_patients: int = MIN_PATIENTS,
    n_resamples: int = BOOTSTRAP_RESAMPLES,
    seed: int = BOOTSTRAP_SEED,
) -> CohortStats:
    """Paired pre→post shift of a cohort's mean valence and arousal, tested from ``min_patients``.

    Parameters
    ----------
    pre, post : array, shape (n_patients, 2) — (valence, arousal) per patient (circumplex
        units); rows with a NaN in either array are dropped
    min_patients : int — below this many patients only the shifts' mean and SD are given: no
        t-test, Wilcoxon test or d_z (see :attr:`CohortStats.test_note`)
    n_resamples, seed : int — the bootstrap of d_z's interval (:func:`dz_bootstrap_ci`); both
        dimensions resample the same patients

    Returns
    -------
    CohortStats — ``n`` counts the kept pairs
    """
    x = np.asarray(pre, dtype=np.float64).reshape(-1, 2)
    y = np.asarray(post, dtype=np.float64).reshape(-1, 2)
    if x.shape != y.shape:
        raise ValueError(f"cohort_shift: pre {x.shape} and post {y.shape} differ")
    keep = np.isfinite(x).all(axis=1) & np.isfinite(y).all(axis=1)
    x, y = x[keep], y[keep]
    n = int(x.shape[0])
    tested = n >= min_patients
    valence, arousal = (
        _dimension_test(x[:, k], y[:, k], tested, n_resamples, seed) for k in (0, 1)
    )
    return CohortStats(n, valence, arousal, min_patients)


def _num(x: float) -> str:
    return f"{round(x, 2) + 0.0:+.2f}"  # + 0.0 turns -0.0 into 0.0


def _where(s: PhaseStats, first: bool) -> str:
    if s.quadrant == NOT_ESTIMATED:
        return "not estimated (no frame with a usable estimate)"
    if s.quadrant == NEUTRAL:
        place = "near neutral"
    else:
        mostly = s.shares.get(s.quadrant, 0.0) >= 0.5
        place = f"{'mostly' if mostly else 'on average'} in {quadrant_label(s.quadrant)}"
    values = (
        f"{'mean ' if first else ''}valence {_num(s.mean_valence)}, arousal {_num(s.mean_arousal)}"
    )
    if s.coverage < 0.5:
        values += f"; only {s.coverage:.0%} of frames estimated"
    return f"{place} ({values})"


def _when(label: str) -> str:
    return f"in the {label}" if label.split(" ")[0] in ("first", "last") else label


def describe_shift(c: SessionCircumplex) -> str:
    """One plain-language, purely descriptive sentence on the pre→post course.

    Example: "In the first 15:00 the estimates were mostly in Q2 LVHA (stressed/anxious)
    (mean valence -0.52, arousal +0.61); in the last 15:00 mostly in Q4 HVLA (calm/relaxed)
    (valence +0.48, arousal -0.50): more pleasant and calmer." "Mostly" means at least half of
    the estimated frames lie in the quadrant of the mean; otherwise "on average". Shifts under
    0.05 are "about the same"; a window without estimates gives "no comparison is possible".
    """
    pre_when = _when(c.pre.label)
    head = f"{pre_when[0].upper()}{pre_when[1:]} the estimates were {_where(c.pre, True)}; "
    head += f"{_when(c.post.label)} {_where(c.post, False)}: "
    dv, da = c.shift
    if not (np.isfinite(dv) and np.isfinite(da)):
        return head + "no comparison is possible."
    changed: list[str] = []
    same: list[str] = []
    for name, delta, up, down in (
        ("valence", dv, "more pleasant", "less pleasant"),
        ("arousal", da, "more activated", "calmer"),
    ):
        if abs(delta) < _SAME:
            same.append(name)
        else:
            changed.append(up if delta > 0 else down)
    if not changed:
        return head + "about the same."
    tail = f"; {same[0]} about the same" if same else ""
    return head + " and ".join(changed) + tail + "."


#: Label of the pre window when the therapist's phase markers set it (``_BEFORE`` in
#: :mod:`core.physiology.summary`, not imported here to keep this module light).
MARKER_PRE_LABEL = "before treatment"


class PrePostWindow(Protocol):
    """What :func:`window_rule_sentence` reads of a window: a :class:`PhaseStats` or a
    :class:`core.physiology.summary.PhaseWindow`."""

    @property
    def label(self) -> str: ...

    @property
    def start_s(self) -> float: ...

    @property
    def end_s(self) -> float: ...


def window_rule_sentence(
    pre: PrePostWindow, post: PrePostWindow, phase_minutes: float | None = None
) -> str:
    """One plain sentence on which stretches of this session are "pre" and "post", in m:ss.

    The rule (:func:`core.physiology.summary.phase_windows`): with the therapist's phase markers,
    pre = before treatment and post = after treatment; without them, the first and last
    ``phase_minutes`` (15 by default), or a third of the session each when the session is
    shorter than three such windows, so the two never overlap.

    Parameters
    ----------
    pre, post : PhaseStats or PhaseWindow — the session's two windows; the post window ends
        with the session, so ``post.end_s`` is the session's length (s)
    phase_minutes : float, optional — the window length of the rule (min; Settings.phase_minutes).
        Without it a short session's sentence does not say the length it fell short of.

    Returns
    -------
    str — e.g. ``"Pre = the first 15:00, post = the last 15:00 of the 52:10 session."``,
    ``"This 6:00 session is shorter than 45:00, so pre = its first third (0:00–2:00) and post =
    its last third (4:00–6:00)."``, ``"Pre = before treatment (0:00–12:00), post = after
    treatment (40:00–52:10), as the phase markers of this 52:10 session set them."``
    """
    duration = float(post.end_s)
    length = float(pre.end_s) - float(pre.start_s)
    pre_span = f"{format_clock(pre.start_s)}–{format_clock(pre.end_s)}"
    post_span = f"{format_clock(post.start_s)}–{format_clock(post.end_s)}"
    session = format_clock(duration)
    if pre.label == MARKER_PRE_LABEL:
        return (
            f"Pre = before treatment ({pre_span}), post = after treatment ({post_span}), "
            f"as the phase markers of this {session} session set them."
        )
    third = math.isclose(length, duration / 3.0, rel_tol=1e-9, abs_tol=1e-6)
    short = third if phase_minutes is None else third and length < phase_minutes * 60.0 - 1e-6
    if short and phase_minutes is not None:
        return (
            f"This {session} session is shorter than {format_clock(3 * phase_minutes * 60.0)}, "
            f"so pre = its first third ({pre_span}) and post = its last third ({post_span})."
        )
    if short:
        return (
            f"Pre = the first third ({pre_span}), post = the last third ({post_span}) of this "
            f"{session} session."
        )
    span = format_clock(length)
    return f"Pre = the first {span}, post = the last {span} of the {session} session."
