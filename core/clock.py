"""One clock for everything: the host's monotonic clock, and the map from device counters to it.

* :class:`MonotonicClock` — real time (``time.monotonic_ns``).
* :class:`VirtualClock` — a clock that only moves when told; simulated devices and the recorder
  run on it faster than real time (tests, the demo patient).
* :class:`CounterClock` — a running linear fit ``host_ns = offset + period · counter`` for one
  stream. Arrival latency is one-sided (a packet can only arrive *after* its last sample was
  taken), so the fit follows the *lower envelope* of (counter, arrival) points: per block the
  earliest arrival relative to the nominal rate, then a least-squares line through those minima.
"""

from __future__ import annotations

import threading
import time
from typing import Protocol

import numpy as np


class Clock(Protocol):
    def now_ns(self) -> int: ...


class MonotonicClock:
    """The host monotonic clock (ns)."""

    def now_ns(self) -> int:
        return time.monotonic_ns()


class VirtualClock:
    """A clock advanced explicitly with :meth:`advance_to` (ns)."""

    def __init__(self, start_ns: int = 1_000_000_000) -> None:
        self._t = int(start_ns)
        self._lock = threading.Lock()

    def now_ns(self) -> int:
        with self._lock:
            return self._t

    def advance_to(self, t_ns: int) -> None:
        with self._lock:
            if t_ns < self._t:
                raise ValueError("VirtualClock cannot go backwards")
            self._t = int(t_ns)


class CounterClock:
    """Map one stream's sample counter to host monotonic time (ns).

    Parameters
    ----------
    rate_hz : float — nominal sampling rate (Hz)
    block : int — counter span (samples) over which one lower-envelope point is taken
    history : int — number of envelope points kept for the fit (older ones are dropped, so the
        fit follows slow drift)
    """

    def __init__(self, rate_hz: float, block: int | None = None, history: int = 120) -> None:
        self.rate_hz = float(rate_hz)
        self.nominal_period_ns = 1e9 / self.rate_hz
        self.block = int(block or max(1, round(self.rate_hz)))  # ≈ 1 s of samples
        self.history = history
        self._blk_id: int | None = None
        self._blk_best: tuple[int, int] | None = None  # (counter, arrival_ns) with least residual
        self._pts: list[tuple[int, int]] = []
        self._ref: tuple[int, int] | None = None
        self.offset_ns = 0.0
        self.period_ns = self.nominal_period_ns
        self.n_points = 0

    def observe(self, last_counter: int, arrival_ns: int) -> None:
        """Add one packet: the counter of its *last* sample and its host arrival time (ns)."""
        if self._ref is None:
            self._ref = (last_counter, arrival_ns)
        resid = arrival_ns - (self._ref[1] + (last_counter - self._ref[0]) * self.nominal_period_ns)
        blk = last_counter // self.block
        if self._blk_id != blk:
            if self._blk_best is not None:
                self._pts.append(self._blk_best)
                self._pts = self._pts[-self.history :]
            self._blk_id, self._blk_best = blk, (last_counter, arrival_ns)
        else:
            assert self._blk_best is not None
            b = self._blk_best
            bres = b[1] - (self._ref[1] + (b[0] - self._ref[0]) * self.nominal_period_ns)
            if resid < bres:
                self._blk_best = (last_counter, arrival_ns)
        self._refit()

    def _refit(self) -> None:
        pts = list(self._pts)
        if self._blk_best is not None:
            pts.append(self._blk_best)
        self.n_points = len(pts)
        c = np.array([p[0] for p in pts], dtype=float)
        t = np.array([p[1] for p in pts], dtype=float)
        if len(pts) >= 3 and c[-1] - c[0] >= 2 * self.block:
            c0, t0 = c[0], t[0]
            slope, icpt = np.polyfit(c - c0, t - t0, 1)
            # a sensor crystal is within a few hundred ppm of nominal; reject wild fits
            if abs(slope / self.nominal_period_ns - 1.0) < 0.01:
                self.period_ns = float(slope)
                # shift the line down onto the envelope: no point may lie below it
                res = (t - t0) - (icpt + slope * (c - c0))
                self.offset_ns = float(t0 + icpt + res.min() - slope * c0)
                return
        self.period_ns = self.nominal_period_ns
        self.offset_ns = float((t - c * self.period_ns).min())

    def to_host_ns(self, counter: np.ndarray | int) -> np.ndarray:
        """Host monotonic time (ns, float) of the given sample counter(s)."""
        return self.offset_ns + self.period_ns * np.asarray(counter, dtype=float)

    def state(self) -> dict[str, float]:
        """The current fit, JSON-serialisable (stored with the session)."""
        return {
            "offset_ns": self.offset_ns,
            "period_ns": self.period_ns,
            "nominal_rate": self.rate_hz,
            "n_points": float(self.n_points),
        }


def _common_slope(x: np.ndarray, y: np.ndarray, seg: np.ndarray) -> tuple[float, np.ndarray]:
    """Least-squares slope shared by all segments, each with its own intercept.

    Returns (slope, intercept of each point's segment); a single segment is a plain line fit.
    """
    _, inv = np.unique(seg, return_inverse=True)
    xm = np.bincount(inv, x) / np.bincount(inv)
    ym = np.bincount(inv, y) / np.bincount(inv)
    dx, dy = x - xm[inv], y - ym[inv]
    den = float(dx @ dx)
    slope = float(dx @ dy) / den if den > 0 else float("nan")
    return slope, (ym - slope * xm)[inv]


def _envelope_slope(
    x: np.ndarray, y: np.ndarray, sel: np.ndarray, seg: np.ndarray, block: int, nominal: float
) -> float:
    """Slope of the lower envelope through the block minima ``sel`` (nominal if unreliable)."""
    period = nominal
    if len(sel) >= 3 and x[sel][-1] - x[sel][0] >= 2 * block:
        pts = sel
        for _ in range(3):
            slope, icpt0 = _common_slope(x[pts], y[pts], seg[pts])
            if not abs(slope / nominal - 1.0) < 0.01:
                break  # a sensor crystal is within a few hundred ppm: reject a wild fit
            period = float(slope)
            # block minima still carry some latency; the lower half of them hugs the envelope
            r = y[pts] - (icpt0 + slope * x[pts])
            lower = pts[r <= np.median(r)]
            if len(lower) < 3 or x[lower][-1] - x[lower][0] < 2 * block:
                break
            pts = lower
    return period


def fit_counter_clock(
    last_counters: np.ndarray,
    arrivals_ns: np.ndarray,
    rate_hz: float,
    block_s: float = 1.0,
    split_s: float = 1.0,
) -> dict[str, float]:
    """Fit ``host_ns = offset_ns + period_ns · counter`` to a whole recording's packets at once.

    Parameters
    ----------
    last_counters : ndarray of int — counter of each packet's *last* sample
    arrivals_ns : ndarray of int — host monotonic arrival time of each packet (ns)
    rate_hz : float — nominal sampling rate (Hz)
    block_s : float — span (s) of device time over which one lower-envelope point is taken
    split_s : float — a gap of lost samples longer than this (s) starts a new segment (a link
        that was down). A device that restarted its counting meanwhile is placed back on the
        grid only to within the latency floor; when the segments' envelopes disagree by more
        than half a sample, the drift is fitted as one slope with an intercept per segment, so
        that the step cannot tilt the drift of the whole recording

    Returns
    -------
    dict with ``offset_ns``, ``period_ns``, ``nominal_rate``, ``n_points``, ``drift_ppm``
    (positive when the device's clock runs fast: more samples per host second than nominal)
    """
    c = np.asarray(last_counters, dtype=np.int64)
    t = np.asarray(arrivals_ns, dtype=np.int64)
    nominal = 1e9 / rate_hz
    if len(c) == 0:
        return {
            "offset_ns": 0.0,
            "period_ns": nominal,
            "nominal_rate": rate_hz,
            "n_points": 0.0,
            "drift_ppm": 0.0,
        }
    c0, t0 = int(c[0]), int(t[0])
    x = (c - c0).astype(float)
    y = (t - t0).astype(float)
    resid = y - x * nominal
    block = max(1, int(round(rate_hz * block_s)))
    blk = (c - c0) // block
    step = np.diff(c, prepend=c0)
    seg = np.cumsum(step > rate_hz * split_s + (np.median(step[1:]) if len(c) > 1 else 0))
    # index of the earliest arrival (relative to the nominal rate) in every block
    order = np.lexsort((resid, blk))
    first = np.ones(len(order), dtype=bool)
    first[1:] = blk[order][1:] != blk[order][:-1]
    sel = order[first]
    period = _envelope_slope(x, y, sel, np.zeros_like(seg), block, nominal)
    if seg[-1] > 0:
        # with the drift fitted within the segments (a step cannot tilt it), are the segments'
        # envelopes off one line by a noticeable part of a sample? Then a restarted counter was
        # placed back with a step, and that drift is the one to keep
        within = _envelope_slope(x, y, sel, seg, block, nominal)
        r = y[sel] - within * x[sel]
        lows = [r[seg[sel] == k].min() for k in np.unique(seg[sel])]
        if max(lows) - min(lows) > 0.5 * nominal:
            period = within
    # the line through the lowest point: latency is one-sided, no packet arrives early
    icpt = float((y[sel] - period * x[sel]).min())
    return {
        "offset_ns": float(t0) + icpt - period * c0,
        "period_ns": period,
        "nominal_rate": float(rate_hz),
        "n_points": float(len(sel)),
        "drift_ppm": (nominal / period - 1.0) * 1e6,
    }
