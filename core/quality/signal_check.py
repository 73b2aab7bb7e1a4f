"""The set-up screen's signal check: is a few seconds of test signal good enough to record?

A quick verdict per channel from what a sensor has sent since it was connected, in the terms a
therapist acts on: no data (is it switched on, in range?), lost data (move closer, fewer walls),
a flat line (electrodes not touching), clipping (electrode gel, cable), an EDA level outside what
skin gives (dry or detached electrodes). Heart rate is shown when beats are found. No Qt here.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from core.physiology.signals import heart_rate_series
from core.types import StreamInfo

#: worst first, so max() over levels picks the verdict
LEVELS = ("green", "amber", "red")

#: peak-to-peak below this (per unit) is a flat line: electrodes not on the skin
FLAT_PP = {"uV": 20.0, "mV": 0.02, "V": 2e-5}
#: plausible skin conductance (µS); outside it the electrodes are dry, detached or shorted
EDA_RANGE_US = (0.05, 60.0)
#: share of samples sitting at the window's extremes that means the signal is clipped
CLIP_SHARE = 0.05


@dataclass
class ChannelCheck:
    """The verdict on one channel.

    Parameters
    ----------
    channel : str — e.g. ``"ECG"``
    level : str — ``"green"``, ``"amber"`` or ``"red"``
    text : str — what the therapist reads ("flat line — check the electrodes")
    value : float or None — heart rate (bpm) for ECG, mean level (µS) for EDA, where found
    """

    channel: str
    level: str
    text: str
    value: float | None = None


@dataclass
class SignalCheck:
    """The verdict on one stream's test signal.

    Parameters
    ----------
    stream : str — stream name
    level : str — the worst of the rate and channel levels
    achieved_rate_hz : float or None — achieved sampling rate over the check (Hz), None before
        two batches
    nominal_rate_hz : float — the stream's nominal sampling rate (Hz)
    lost_pct : float — samples lost (counter gaps) as a share of the window (%)
    channels : list of ChannelCheck
    text : str — one line for the screen
    """

    stream: str
    level: str
    achieved_rate_hz: float | None
    nominal_rate_hz: float
    lost_pct: float
    channels: list[ChannelCheck] = field(default_factory=list)
    text: str = ""


def worst(levels: list[str]) -> str:
    """The most serious of ``levels`` ("green" for none)."""
    return max(levels, key=LEVELS.index, default="green")


def _is_clipped(x: np.ndarray) -> bool:
    lo, hi = float(x.min()), float(x.max())
    if hi <= lo:
        return False
    at_edges = np.count_nonzero((x == lo) | (x == hi))
    return bool(at_edges > CLIP_SHARE * x.size)


def check_channel(name: str, unit: str, x: np.ndarray, rate_hz: float) -> ChannelCheck:
    """The verdict on one channel's samples (NaN where lost)."""
    x = np.asarray(x, dtype=np.float64)
    fin = x[np.isfinite(x)]
    if fin.size < max(2, int(rate_hz)):
        return ChannelCheck(name, "red", "no signal yet")
    kind = name.upper()
    if kind == "EDA":
        level = float(np.mean(fin))
        lo, hi = EDA_RANGE_US
        scale = {"uS": 1.0, "nS": 1e-3, "S": 1e6}.get(unit, 1.0)
        us = level * scale
        if not lo <= us <= hi:
            return ChannelCheck(
                name, "amber", f"{us:.2f} µS — outside skin's range: check the electrodes", us
            )
        return ChannelCheck(name, "green", f"{us:.2f} µS", us)
    pp = float(fin.max() - fin.min())
    if pp < FLAT_PP.get(unit, 0.0) or pp == 0.0:
        return ChannelCheck(name, "red", "flat line — check the electrodes and their contact")
    if _is_clipped(fin):
        return ChannelCheck(name, "amber", "clipped — check the electrodes and the cable")
    if kind == "ECG":
        _, bpm = heart_rate_series(x, rate_hz)
        if len(bpm) >= 2:
            hr = float(np.median(bpm))
            return ChannelCheck(name, "green", f"beats found, {hr:.0f} bpm", hr)
        if fin.size >= 4 * rate_hz:
            return ChannelCheck(name, "amber", "no heart beats found — check the electrodes")
        return ChannelCheck(name, "green", "signal present")
    return ChannelCheck(name, "green", "signal present")


def check_stream(
    info: StreamInfo,
    counters: np.ndarray,
    samples: np.ndarray,
    achieved_rate_hz: float | None,
) -> SignalCheck:
    """The verdict on a stream from its recent samples.

    Parameters
    ----------
    info : StreamInfo
    counters : ndarray — sample counters of ``samples`` (the ring's grid; lost samples are NaN)
    samples : ndarray (n, channels)
    achieved_rate_hz : float or None — samples received per second over the check (Hz)
    """
    if counters.size == 0:
        return SignalCheck(
            info.name, "red", achieved_rate_hz, info.rate_hz, 0.0, [], "no data received"
        )
    lost = int(np.count_nonzero(~np.isfinite(samples).all(axis=1)))
    lost_pct = 100.0 * lost / counters.size
    chans = [
        check_channel(ch, info.units[i], samples[:, i], info.rate_hz)
        for i, ch in enumerate(info.channels)
    ]
    levels = [c.level for c in chans]
    parts = []
    if achieved_rate_hz is not None:
        parts.append(f"{achieved_rate_hz:,.0f} of {info.rate_hz:,.0f} Hz")
        if achieved_rate_hz < 0.5 * info.rate_hz:
            levels.append("red")
        elif achieved_rate_hz < 0.95 * info.rate_hz:
            levels.append("amber")
    if lost_pct >= 5.0:
        levels.append("red")
        parts.append(f"{lost_pct:.1f} % lost — move the sensor closer")
    elif lost_pct >= 0.5:
        levels.append("amber")
        parts.append(f"{lost_pct:.1f} % lost")
    parts += [f"{c.channel}: {c.text}" for c in chans]
    return SignalCheck(
        info.name, worst(levels), achieved_rate_hz, info.rate_hz, lost_pct, chans, " · ".join(parts)
    )


def face_aim(
    box: tuple[float, float, float, float] | None, width: int, height: int
) -> tuple[str, str]:
    """Advice for aiming the camera from the detected face box ``(x, y, w, h)`` in a frame.

    Returns
    -------
    (level, text) — ``"green"`` when a face is found, large enough and near the middle
    """
    if box is None:
        return "amber", "no face found — aim the camera at the patient's face"
    x, y, w, h = box
    if w < 0.12 * width:
        return "amber", "face small — move the camera closer or zoom in"
    cx, cy = (x + w / 2) / width, (y + h / 2) / height
    if not (0.2 <= cx <= 0.8 and 0.15 <= cy <= 0.85):
        return "amber", "face near the edge — turn the camera towards the patient"
    return "green", "face found and centred"
