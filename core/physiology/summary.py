"""Pre/post physiology summary of a session: heart rate, RMSSD, EDA level and SCR rate.

The session is compared in two windows: before treatment and after treatment (from the
therapist's phase markers) or, without markers, the first and last ``phase_minutes``.
Lost data is stored as NaN; every metric is computed on NaN-free stretches only, and a metric
that cannot be computed is ``None`` with a reason, never an estimate.

neurokit2 is imported inside the functions (slow import); only the steps needed are called,
because the full ``ecg_process`` is far too slow on long recordings.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from core.physiology.signals import (
    SCR_METHOD,
    SCR_RULE,
    ecg_summary,
    eda_level_series,
    eda_summary,
    heart_rate_series,
)
from core.timefmt import format_clock

__all__ = [
    "METRICS",
    "SCR_METHOD",
    "SCR_RULE",
    "MetricInfo",
    "PhaseWindow",
    "PhysiologySummary",
    "WindowMetrics",
    "describe_change",
    "ecg_summary",
    "eda_level_series",
    "eda_summary",
    "heart_rate_series",
    "phase_windows",
    "summarize",
]

# Label of the marker-based pre window; also tells summaries which kind of window they hold.
_BEFORE = "before treatment"


@dataclass(frozen=True)
class MetricInfo:
    """How one metric is named and shown.

    Parameters
    ----------
    key : str — attribute name in :class:`WindowMetrics`
    label : str — plain name for tables
    unit : str — unit printed after the value
    decimals : int — digits after the decimal point when shown (the change uses the same)
    phrase : str — lower-case name used in the plain-language sentence
    """

    key: str
    label: str
    unit: str
    decimals: int
    phrase: str


METRICS: tuple[MetricInfo, ...] = (
    MetricInfo("hr_bpm", "Heart rate", "bpm", 1, "heart rate"),
    MetricInfo(
        "rmssd_ms", "RMSSD (heart-rate variability)", "ms", 1, "heart-rate variability (RMSSD)"
    ),
    MetricInfo("eda_tonic_us", "EDA tonic level", "µS", 2, "skin-conductance level"),
    MetricInfo("scr_per_min", "SCR rate", "/min", 1, "skin-conductance response rate"),
)


@dataclass(frozen=True)
class PhaseWindow:
    """One comparison window of the session.

    Parameters
    ----------
    name : str — ``"pre"`` or ``"post"``
    label : str — plain words, e.g. ``"first 15:00"`` or ``"before treatment"``
    start_s, end_s : float — window bounds from the session start (s)
    note : str — how the window was chosen, for the therapist
    """

    name: str
    label: str
    start_s: float
    end_s: float
    note: str

    @property
    def length_s(self) -> float:
        """Window length (s)."""
        return self.end_s - self.start_s


def phase_windows(
    duration_s: float,
    markers: list[tuple[float, str]] | None = None,
    phase_minutes: float = 15.0,
) -> list[PhaseWindow]:
    """Choose the pre and post windows of a session.

    Parameters
    ----------
    duration_s : float — session length (s), > 0
    markers : list of (t_s, kind), optional — session markers; kinds ``"treatment_start"`` and
        ``"treatment_end"`` (a later one) switch to marker-based windows
    phase_minutes : float — window length without markers (min)

    Returns
    -------
    list of PhaseWindow — ``[pre, post]``. With markers: pre = [0, treatment start] and
    post = [treatment end, duration] (first start, last end after it). Without: the first and last
    ``min(phase_minutes, duration / 3)`` minutes, so the windows never overlap.
    """
    if not duration_s > 0:
        raise ValueError("phase_windows: duration_s must be positive")
    if phase_minutes <= 0:
        raise ValueError("phase_windows: phase_minutes must be positive")
    starts = sorted(t for t, kind in markers or [] if kind == "treatment_start")
    ends = sorted(t for t, kind in markers or [] if kind == "treatment_end")
    fallback = ""
    if starts:
        t_start = starts[0]
        later_ends = [t for t in ends if t > t_start]
        if later_ends and t_start > 0 and later_ends[-1] < duration_s:
            t_end = later_ends[-1]
            note = (
                f"Windows follow the therapist's phase markers: treatment start at "
                f"{format_clock(t_start)}, treatment end at {format_clock(t_end)}."
            )
            return [
                PhaseWindow("pre", _BEFORE, 0.0, float(t_start), note),
                PhaseWindow("post", "after treatment", float(t_end), float(duration_s), note),
            ]
        fallback = "Phase markers incomplete (no usable treatment start and later end): "
    elif ends:
        fallback = "Phase markers incomplete (treatment end without a start): "

    length = min(phase_minutes * 60.0, duration_s / 3.0)
    span = format_clock(length)  # m:ss, never decimal minutes ("first 0.1 min")
    if length < phase_minutes * 60.0:
        note = (
            f"Session shorter than {format_clock(3 * phase_minutes * 60.0)}: windows are the "
            f"first and last {span} (a third of the session each)."
        )
    else:
        note = f"Windows are the first and last {span} of the session."
    note = fallback + note
    return [
        PhaseWindow("pre", f"first {span}", 0.0, length, note),
        PhaseWindow("post", f"last {span}", float(duration_s) - length, float(duration_s), note),
    ]


@dataclass
class WindowMetrics:
    """Physiology of one window; ``None`` where it could not be measured (see ``reasons``).

    Parameters
    ----------
    hr_bpm : float or None — mean heart rate (beats/min)
    rmssd_ms : float or None — RMSSD of successive RR intervals (ms)
    eda_tonic_us : float or None — mean tonic skin conductance (µS)
    scr_per_min : float or None — skin-conductance responses per minute
    n_beats : int — R-peaks found
    n_scr : int — SCRs counted
    ecg_seconds_analysed, eda_seconds_analysed : float — usable signal (s)
    reasons : dict — metric key → why it is ``None``
    scr_method : str — how the SCRs were found (:data:`core.physiology.signals.SCR_METHOD`);
        empty where no EDA was analysed (or in a summary stored before it was recorded)
    scr_threshold_us : float or None — smallest SCR counted in this window (µS), from the
        signal's own noise and resolution
    """

    hr_bpm: float | None = None
    rmssd_ms: float | None = None
    eda_tonic_us: float | None = None
    scr_per_min: float | None = None
    n_beats: int = 0
    n_scr: int = 0
    ecg_seconds_analysed: float = 0.0
    eda_seconds_analysed: float = 0.0
    reasons: dict[str, str] = field(default_factory=dict)
    scr_method: str = ""
    scr_threshold_us: float | None = None

    @property
    def seconds_analysed(self) -> float:
        """Seconds covered by both signals at most: the smaller of the two (s)."""
        return min(self.ecg_seconds_analysed, self.eda_seconds_analysed)

    def value(self, key: str) -> float | None:
        """The metric named ``key`` (see :data:`METRICS`)."""
        v = getattr(self, key)
        return None if v is None else float(v)


@dataclass
class PhysiologySummary:
    """Pre/post comparison of one session.

    Parameters
    ----------
    windows : list of PhaseWindow — ``[pre, post]``
    metrics : list of WindowMetrics — one per window, same order
    change : dict — metric key → post − pre at display precision (unit of the metric), or None
    from_markers : bool — windows come from the therapist's phase markers
    duration_s : float — session length (s)
    phase_minutes : float — requested window length without markers (min)
    """

    windows: list[PhaseWindow]
    metrics: list[WindowMetrics]
    change: dict[str, float | None]
    from_markers: bool
    duration_s: float
    phase_minutes: float

    @property
    def pre(self) -> WindowMetrics:
        """Metrics of the pre window."""
        return self.metrics[0]

    @property
    def post(self) -> WindowMetrics:
        """Metrics of the post window."""
        return self.metrics[1]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (floats, ints, strings, None)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> PhysiologySummary:
        """Inverse of :meth:`to_dict`."""
        return cls(
            windows=[PhaseWindow(**w) for w in d["windows"]],
            metrics=[WindowMetrics(**m) for m in d["metrics"]],
            change={str(k): None if v is None else float(v) for k, v in d["change"].items()},
            from_markers=bool(d["from_markers"]),
            duration_s=float(d["duration_s"]),
            phase_minutes=float(d["phase_minutes"]),
        )


def _window_metrics(
    ecg: np.ndarray | None,
    eda: np.ndarray | None,
    rate_hz: float,
    w: PhaseWindow,
    eda_rate_hz: float | None = None,
) -> WindowMetrics:
    i0, i1 = int(round(w.start_s * rate_hz)), int(round(w.end_s * rate_hz))
    m = WindowMetrics()
    if ecg is None or ecg.size <= i0:
        for key in ("hr_bpm", "rmssd_ms"):
            m.reasons[key] = "no ECG recorded in this window"
    else:
        e = ecg_summary(ecg[i0:i1], rate_hz)
        m.hr_bpm, m.rmssd_ms = e["hr_bpm"], e["rmssd_ms"]
        m.n_beats, m.ecg_seconds_analysed = e["n_beats"], e["seconds_analysed"]
        m.reasons.update(e["reasons"])
    eda_hz = eda_rate_hz or rate_hz
    j0, j1 = int(round(w.start_s * eda_hz)), int(round(w.end_s * eda_hz))
    if eda is None or eda.size <= j0:
        for key in ("eda_tonic_us", "scr_per_min"):
            m.reasons[key] = "no EDA recorded in this window"
    else:
        s = eda_summary(eda[j0:j1], eda_hz)
        m.eda_tonic_us, m.scr_per_min = s["tonic_us"], s["scr_per_min"]
        m.n_scr, m.eda_seconds_analysed = s["scr_count"], s["seconds_analysed"]
        m.scr_method, m.scr_threshold_us = s["scr_method"], s["scr_threshold_us"]
        for src, dst in (("tonic_us", "eda_tonic_us"), ("scr_per_min", "scr_per_min")):
            if src in s["reasons"]:
                m.reasons[dst] = s["reasons"][src]
    return m


def summarize(
    ecg: np.ndarray | None,
    eda: np.ndarray | None,
    rate_hz: float,
    duration_s: float,
    markers: list[tuple[float, str]] | None = None,
    phase_minutes: float = 15.0,
    eda_rate_hz: float | None = None,
) -> PhysiologySummary:
    """Summarise the pre and post windows of a session.

    Parameters
    ----------
    ecg : ndarray or None — ECG (mV) from the session start, NaN where data was lost
    eda : ndarray or None — EDA (µS) from the session start, on the same clock as ``ecg``
    rate_hz : float — sampling rate (Hz) of ``ecg`` (and of ``eda`` unless ``eda_rate_hz``)
    eda_rate_hz : float, optional — the EDA's own rate when it differs (an imported recording:
        e.g. ECG at 500 Hz, EDA at 16 Hz)
    duration_s : float — session length (s)
    markers : list of (t_s, kind), optional — see :func:`phase_windows`
    phase_minutes : float — window length without markers (min)

    Returns
    -------
    PhysiologySummary
    """
    windows = phase_windows(duration_s, markers, phase_minutes)
    ecg_a = None if ecg is None else np.asarray(ecg, dtype=np.float64).ravel()
    eda_a = None if eda is None else np.asarray(eda, dtype=np.float64).ravel()
    metrics = [_window_metrics(ecg_a, eda_a, rate_hz, w, eda_rate_hz) for w in windows]
    change: dict[str, float | None] = {}
    for info in METRICS:
        a, b = metrics[0].value(info.key), metrics[1].value(info.key)
        # From the rounded values, so the report table's change column adds up.
        change[info.key] = (
            None
            if a is None or b is None
            else round(round(b, info.decimals) - round(a, info.decimals), info.decimals)
        )
    return PhysiologySummary(
        windows=windows,
        metrics=metrics,
        change=change,
        from_markers=windows[0].label == _BEFORE,
        duration_s=float(duration_s),
        phase_minutes=float(phase_minutes),
    )


def _change_phrase(info: MetricInfo, delta: float, first: bool) -> str:
    name = info.phrase[0].upper() + info.phrase[1:] if first else info.phrase
    verb = " was" if first else ""
    if delta == 0:
        return f"{name}{verb} unchanged"
    unit = info.unit if info.unit.startswith("/") else f" {info.unit}"
    size = f"{abs(delta):.{info.decimals}f}{unit}"
    return f"{name}{verb} {size} {'lower' if delta < 0 else 'higher'}"


def describe_change(summary: PhysiologySummary) -> str:
    """Plain-language, purely descriptive sentences on the pre→post change.

    Example: "Heart rate was 12.0 bpm lower and skin-conductance level 3.10 µS lower in the last
    15:00 than in the first 15:00." Metrics that could not be compared are named with
    the reason.
    """
    if summary.from_markers:
        when = "after treatment than before treatment"
    else:
        span = format_clock(summary.windows[0].length_s)
        when = f"in the last {span} than in the first {span}"
    sentences: list[str] = []
    missing: list[str] = []
    for pair in (METRICS[0::2], METRICS[1::2]):
        parts: list[str] = []
        for info in pair:
            delta = summary.change.get(info.key)
            if delta is None:
                reason = summary.pre.reasons.get(info.key) or summary.post.reasons.get(info.key)
                missing.append(f"{info.phrase} ({reason or 'no value'})")
            else:
                parts.append(_change_phrase(info, delta, first=not parts))
        if parts:
            sentences.append(" and ".join(parts) + f" {when}.")
    if missing:
        sentences.append("Not compared: " + "; ".join(missing) + ".")
    return " ".join(sentences)
