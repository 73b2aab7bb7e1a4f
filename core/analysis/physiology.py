"""A session's physiology as every screen, the PDF and the exports show it: the pre/post
summary (:func:`core.physiology.summary.summarize`) of ECG and EDA from session time 0, each at
its own rate, and the whole-session heart-rate and EDA-level series for charts."""

from __future__ import annotations

import numpy as np

from core.physiology.summary import PhysiologySummary, summarize
from core.recording import SessionData


def from_start(data: SessionData, channel: str) -> tuple[np.ndarray | None, float]:
    """A channel on a grid from session time 0 (NaN before the first sample) and its rate (Hz)."""
    try:
        s = data.signal(channel)
    except KeyError:
        return None, 0.0
    if not len(s.t_s):
        return None, s.rate_hz
    pad = max(0, int(round(s.t_s[0] * s.rate_hz)))
    x = np.concatenate([np.full(pad, np.nan, np.float32), s.values]) if pad else s.values
    return x, s.rate_hz


def binned(t: np.ndarray, y: np.ndarray, width_s: float) -> tuple[np.ndarray, np.ndarray]:
    """Medians of ``y`` in bins of ``width_s`` seconds (empty bins left out)."""
    if not len(t):
        return t, y
    b = np.floor(t / width_s).astype(np.int64)
    _, start = np.unique(b, return_index=True)
    # each bin is placed at the median time of its beats, so the series never runs past the data
    t_mid = [np.median(p) for p in np.split(t, start[1:])]
    return np.array(t_mid), np.array([np.nanmedian(p) for p in np.split(y, start[1:])])


def session_physiology(
    data: SessionData,
    markers: list[tuple[float, str]],
    phase_minutes: float,
    with_series: bool = True,
) -> tuple[PhysiologySummary, dict[str, np.ndarray | None]]:
    """The pre/post summary and (``with_series``) the whole-session heart-rate and EDA series
    for charts. ECG and EDA each keep their own rate."""
    from core.physiology.summary import eda_level_series, heart_rate_series

    ecg, ecg_rate_hz = from_start(data, "ECG")
    eda, eda_rate_hz = from_start(data, "EDA")
    rate_hz = ecg_rate_hz or eda_rate_hz
    summary = summarize(
        ecg, eda, rate_hz, data.duration_s, markers, phase_minutes, eda_rate_hz or None
    )
    series: dict[str, np.ndarray | None] = {"hr_t": None, "hr": None, "eda_t": None, "eda": None}
    if not with_series:
        return summary, series
    width = max(5.0, data.duration_s / 300)  # at most ~300 points per chart
    if ecg is not None:
        t, bpm = heart_rate_series(ecg, rate_hz)
        series["hr_t"], series["hr"] = binned(t, bpm, width)
    if eda is not None:
        series["eda_t"], series["eda"] = eda_level_series(eda, eda_rate_hz, step_s=width)
    return summary, series
