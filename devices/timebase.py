"""Host-clock help for live sources whose device counters are ambiguous, missing or restart.

Arrival latency is one-sided: a packet arrives *after* its last sample was taken. With a lower
envelope of the arrivals (``host_ns = offset + period · counter``, the line under every arrival:
the recent packets' at the nominal rate, or the session fit of :mod:`core.clock` to extrapolate),
a packet arriving at host time ``a`` therefore carries a last sample whose counter is at most
``(a − offset) / period`` (:meth:`HostTimebase.counter_bound`). The bound is reached by packets
that arrived with the least latency. Its uses:

* a short sequence number (BITalino: 4 bits) tells the loss only modulo 16 frames; the bound,
  taken over several packets, picks how many whole wraps were lost;
* a device that restarts its counter (new acquisition after a reconnect, a clock reset) is
  placed back on the stream's counter grid by the same bound;
* a device clock that jumped (Polar H10) is told from lost frames: its step disagrees with the
  bound by more than latency can explain;
* a stream with no counter at all (an LSL stream without nSeq, :mod:`devices.lsl.aligner`) has
  its lost samples bounded by the same envelope over its time stamps.

The lower envelope needs one packet near the latency floor; :class:`HeldRun` therefore holds a
few packets (a fraction of a second) before the decision is made. Samples are never interpolated:
whatever the decision, samples between runs are a recorded gap.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from core.clock import CounterClock, fit_counter_clock
from core.types import SampleBatch


class HostTimebase:
    """A running counter → host time map of one stream (lower envelope), and its inverse bound.

    Per packet the bound is the lower envelope of the packets of the last ``window_s`` seconds at
    the nominal rate: each packet at least bounds the ones after it, and over a couple of seconds
    even a few hundred ppm of crystal error is a fraction of a sample. (The running
    :class:`~core.clock.CounterClock` extrapolates a line through block minima; right after it
    starts using its slope, a block still being filled can tilt it by milliseconds.) With no
    packet in the window (the link was down) that running clock answers. For a long
    extrapolation (placing a new acquisition after a reconnect) :meth:`refit` fits the recent
    history with the session fit (:func:`~core.clock.fit_counter_clock`, which trims latency from
    the block minima). Arrivals are given in increasing order.

    Parameters
    ----------
    rate_hz : float — nominal sampling rate (Hz)
    history_s : float — how much recent history (s) :meth:`refit` uses
    window_s : float — how much recent history (s) the per-packet bound rests on
    """

    def __init__(self, rate_hz: float, history_s: float = 120.0, window_s: float = 2.0) -> None:
        self.rate_hz = float(rate_hz)
        self.clock = CounterClock(rate_hz)
        self.n_observed = 0
        self._hist: deque[tuple[int, int]] = deque(maxlen=max(64, int(history_s * 400)))
        self._fit: tuple[float, float] | None = None  # (offset_ns, period_ns) from refit()
        self._window_ns = int(window_s * 1e9)
        self._period = 1e9 / self.rate_hz
        # sliding minimum of (arrival_ns, arrival − nominal period · counter): increasing values
        self._env: deque[tuple[int, float]] = deque()

    @property
    def ready(self) -> bool:
        """Whether at least one packet was observed."""
        return self.n_observed > 0

    def observe(self, last_counter: int, arrival_ns: int) -> None:
        """Add a delivered packet: the counter of its last sample and its arrival (ns)."""
        self.clock.observe(int(last_counter), int(arrival_ns))
        self._hist.append((int(last_counter), int(arrival_ns)))
        v = float(arrival_ns) - self._period * float(last_counter)
        while self._env and self._env[-1][1] >= v:
            self._env.pop()
        self._env.append((int(arrival_ns), v))
        self.n_observed += 1
        self._fit = None

    def counter_bound(self, arrival_ns: int) -> float:
        """Largest counter (float) the last sample of a packet arriving at ``arrival_ns`` can have."""
        if self._fit is not None:
            offset, period = self._fit
            return (float(arrival_ns) - offset) / period
        env = self._env
        while env and env[0][0] < arrival_ns - self._window_ns:
            env.popleft()
        if env:
            return (float(arrival_ns) - env[0][1]) / self._period
        return (float(arrival_ns) - self.clock.offset_ns) / self.clock.period_ns

    def refit(self, window_s: float = 1.0) -> float:
        """Use the session fit of the recent history for the bounds (until the next packet).

        Returns the least latency above that fit among the packets of the last ``window_s``
        seconds, in samples: what the least-delayed of a few hundred packets typically exceeds
        the envelope by. A run of new packets held for as long is placed with the same margin,
        so that its placement is not biased late.
        """
        if len(self._hist) < 2:
            return 0.0
        h = np.array(self._hist, dtype=np.int64)
        f = fit_counter_clock(h[:, 0], h[:, 1], self.rate_hz)
        self._fit = (f["offset_ns"], f["period_ns"])
        recent = h[h[:, 1] >= h[-1, 1] - int(window_s * 1e9)]
        excess = recent[:, 1] - (f["offset_ns"] + f["period_ns"] * recent[:, 0].astype(float))
        return max(0.0, float(excess.min()) / f["period_ns"])

    def to_host_ns(self, counter: int | np.ndarray) -> np.ndarray:
        """Host time (ns) of ``counter`` on the current fit."""
        return self.clock.to_host_ns(counter)


@dataclass
class HeldPacket:
    """One packet held in a :class:`HeldRun`.

    Parameters
    ----------
    rel_first : int — counter of the packet's first slot, relative to the run's first slot
    n_span : int — slots the packet spans (valid or not)
    arrival_ns : int — host arrival time (ns)
    segments : list of (int, ndarray) — runs of valid samples: (offset within the packet,
        samples (n, channels) float32)
    """

    rel_first: int
    n_span: int
    arrival_ns: int
    segments: list[tuple[int, np.ndarray]]


@dataclass
class HeldRun:
    """Consecutive packets whose common counter origin is still to be decided.

    Parameters
    ----------
    started_ns : int — arrival (ns) of the first packet held
    """

    started_ns: int
    packets: list[HeldPacket] = field(default_factory=list)

    @property
    def rel_end(self) -> int:
        """Relative counter one past the last slot held."""
        return self.packets[-1].rel_first + self.packets[-1].n_span if self.packets else 0

    def add(
        self,
        n_span: int,
        arrival_ns: int,
        segments: list[tuple[int, np.ndarray]],
        rel_first: int | None = None,
    ) -> None:
        """Append the next packet, at ``rel_first`` (default: directly after the previous one)."""
        rel = self.rel_end if rel_first is None else int(rel_first)
        self.packets.append(HeldPacket(rel, n_span, arrival_ns, segments))

    def origin_bound(self, tb: HostTimebase) -> float:
        """Upper bound (float) of the run's first counter; tight for the least-delayed packet."""
        return min(
            tb.counter_bound(p.arrival_ns) - (p.rel_first + p.n_span - 1) for p in self.packets
        )

    def age_ns(self, now_ns: int) -> int:
        """Host time (ns) since the first packet was held."""
        return now_ns - self.started_ns

    def release(self, stream_id: int, origin: int) -> list[tuple[SampleBatch, int]]:
        """The held samples as batches with counters ``origin + rel``, each with its packet's
        last counter (for the clock)."""
        out = []
        for p in self.packets:
            last = origin + p.rel_first + p.n_span - 1
            for off, s in p.segments:
                out.append(
                    (SampleBatch(stream_id, origin + p.rel_first + off, s, p.arrival_ns), last)
                )
        return out


def pair_clocks(
    host_now_ns: Callable[[], int],
    other_now_ns: Callable[[], int],
    tries: int = 20,
    spin_s: float = 0.05,
    good_ns: int = 50_000,
) -> int:
    """Host clock − other clock (ns), read where the host clock is exact: right after it ticks.

    ``time.monotonic_ns`` ticks every ~15.6 ms on Windows before Python 3.13, so a reading taken at
    a random moment lags the true time by up to a tick. Each try spins (at most ``spin_s``) until
    the host clock changes — that instant its value is right — reads the other clock, and adds
    half the fine interval (``perf_counter_ns``) between the two. The try with the shortest
    interval wins; tries end at the first within ``good_ns`` (a tick that fell while the process
    was pre-empted shows as a wide interval: on a loaded machine some tries are). On a fine clock
    the host changes at once and the first try is the usual midpoint.
    """
    best: tuple[int, int] | None = None
    perf = time.perf_counter_ns
    for _ in range(max(1, tries)):
        before = perf()  # a moment before a read that still gave a0: the tick comes after it
        a0 = host_now_ns()
        deadline = before + int(spin_s * 1e9)
        while True:
            now = perf()
            a = host_now_ns()
            if a != a0 or now >= deadline:
                break
            before = now
        o = other_now_ns()
        after = perf()
        # with `seen` the moment the tick was seen, the tick is at (before + seen) / 2 and the
        # other clock was read at (seen + after) / 2: (after − before) / 2 apart, whatever `seen`.
        # The whole uncertainty (a pre-emption anywhere widens it) picks the best try
        width = after - before
        if best is None or width < best[0]:
            best = (width, a + (after - before) // 2 - o)
        if width <= good_ns:
            break
    assert best is not None
    return best[1]
