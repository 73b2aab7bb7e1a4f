"""Sample counters for an LSL stream: from its own counter channel, or from its time stamps.

The recorder stores every sample under a counter on the stream's sample grid; lost samples are
counter gaps, and the counter → session clock map is the lower-envelope fit of
:func:`core.clock.fit_counter_clock` over the batches' arrival times, with its segment rules. For
an LSL stream the "arrival" of a batch is the LSL time stamp of its last sample, brought to this
machine's clock (liblsl's clock synchronisation, then the host monotonic clock): like a BLE
packet's arrival it can only come *after* the sample was taken (an outlet stamps a chunk when it
pushes it, or stamps each sample when it is taken), so the same envelope and the same rules apply.

Counters:

* with a counter channel (OpenSignals sends ``nSeq``) a jump of the counter is that many lost
  samples. A counter that wraps (BITalino's 4-bit nSeq) tells the loss only modulo its period;
  whole periods lost are told by the time stamps (the step from the last sample placed, to the
  nearest period). The period comes from the metadata where it says it (``modulus``, ``max``,
  the counter's bits, a BITalino); otherwise it is measured at the first backward step as the
  counter's last value plus the samples the time stamps say passed, minus its new value (right
  for a 0…999 counter, and for a first wrap whose top values were lost) and confirmed at each
  later wrap. A backward step that no period explains, or one after more than ``restart_gap_s``
  of silence (with no period known), is a counter that restarted: its samples are placed by time,
  as after a reconnection, never counted as a near-whole period lost;
* without one, lost samples are gaps in the time stamps at the nominal rate. A run of samples
  whose stamps follow each other at the nominal period is one *packet*; at each packet the lower
  envelope (:class:`~devices.timebase.HostTimebase`) bounds the counter its last sample can have.
  A packet that arrives late looks like a loss until an on-time packet says otherwise, so
  packets that show more than half a sample of lateness are held (at most ``hold_s``) and the
  loss up to each one is the least evidence of the packets from it onwards (the least-delayed
  packet is tight); nothing is counted lost that an on-time packet contradicts.

After a reconnection the stream may be a new outlet (its counter restarts): its first packets
are held for ``restart_hold_s`` and placed by time alone on the session fit of the history
(:meth:`HostTimebase.refit`), as a BLE device's new acquisition is. Nothing is ever interpolated.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from core.types import SampleBatch
from devices.timebase import HostTimebase


@dataclass
class _Packet:
    rel: int  # first slot relative to the held run's origin (counter-told losses included)
    n: int
    bound: float  # counter bound of its last sample, from its arrival
    arrival_ns: int
    samples: np.ndarray
    last_seq: int | None
    first_ns: int = 0  # time stamp of its first sample


class LslAligner:
    """Counters for one LSL stream.

    Parameters
    ----------
    stream_id : int — stream id of the batches made
    rate_hz : float — nominal sampling rate (Hz)
    counter : bool — the stream has a counter channel
    hold_s : float — longest host time (s) a packet showing lateness is held
    restart_hold_s : float — host time (s) a new outlet's first packets are held before placing
    modulus : int, optional — the value the counter wraps at, from the stream's metadata
    restart_gap_s : float — a counter that goes back after this long (s) without samples, with
        no period known, restarted
    """

    def __init__(
        self,
        stream_id: int,
        rate_hz: float,
        counter: bool,
        hold_s: float = 0.5,
        restart_hold_s: float = 1.0,
        *,
        modulus: int | None = None,
        restart_gap_s: float = 0.5,
    ) -> None:
        self.stream_id = stream_id
        self.rate_hz = float(rate_hz)
        self.period_ns = 1e9 / self.rate_hz
        self.counter = counter
        self.hold_ns = int(hold_s * 1e9)
        self.restart_hold_ns = int(restart_hold_s * 1e9)
        self.timebase = HostTimebase(rate_hz)
        self.end: int | None = None  # counter one past the newest placed sample
        self.last_seq: int | None = None
        self.max_seq = 0
        self.modulus: int | None = modulus  # a wrapping counter's period (metadata, or seen)
        self.modulus_from_metadata = modulus is not None
        self.wraps_confirmed = 0  # later wraps that agreed with a measured period
        self._periods: list[int] = []  # the periods measured at the wraps so far
        self.restart_gap = restart_gap_s * self.rate_hz  # in samples
        self._seen_seq: int | None = None  # counter and stamp of the newest sample seen
        self._seen_stamp = 0
        self.lost_samples = 0
        self.samples = 0
        self.resets = 0
        self.packets = 0
        self._restart = False
        self._held: list[_Packet] = []
        self._held_restart = False
        self._held_origin = 0
        self._held_since = 0
        self._excess = 0.0
        self._held_restart_done = False
        self._last_stamp: int | None = None  # time stamp of the newest placed sample

    # ---- input -----------------------------------------------------------------------------------
    def restart(self) -> None:
        """A new outlet (a reconnection): place its next samples by time alone."""
        self._restart = self.end is not None

    def push(
        self, samples: np.ndarray, stamps_ns: np.ndarray, seqs: np.ndarray | None, now_ns: int
    ) -> list[SampleBatch]:
        """Place a chunk: ``samples`` (n, channels) float32 in the stream's units, their time
        stamps (ns, host clock) and, with a counter channel, their counter values.

        Returns the batches that can be placed now (held ones included)."""
        out = self.expire(now_ns)
        n = len(stamps_ns)
        if n == 0:
            return out
        brk = np.abs(np.diff(stamps_ns) - self.period_ns) > 0.25 * self.period_ns
        if seqs is not None:
            seqs = np.asarray(seqs, dtype=np.int64)
            brk |= np.diff(seqs) != 1
        starts = np.concatenate(([0], np.flatnonzero(brk) + 1))
        stops = np.concatenate((starts[1:], [n]))
        for a, b in zip(starts.tolist(), stops.tolist(), strict=True):
            seq = None if seqs is None else (int(seqs[a]), int(seqs[b - 1]))
            out += self._packet(samples[a:b], int(stamps_ns[b - 1]), seq, int(stamps_ns[a]))
        return _merge(out, self.period_ns)

    def expire(self, now_ns: int) -> list[SampleBatch]:
        """Place held packets that have been held long enough."""
        hold = self.restart_hold_ns if self._held_restart else self.hold_ns
        if not self._held or now_ns - self._held_since < hold:
            return []
        if self._held_restart:
            return self._resolve()
        # up to the least-delayed packet held, the loss is known; the packets after it wait for
        # an arrival that bounds them (a packet's own arrival bounds it only up to its latency)
        ev = [self._evidence(p) for p in self._held]
        j = int(np.argmin(ev))
        rest = self._held[j + 1 :]
        told = rest[0].rel - (self._held[j].rel + self._held[j].n) if rest else 0
        self._held = self._held[: j + 1]
        out = self._resolve()
        if rest:
            assert self.end is not None
            base = rest[0].rel
            for p in rest:
                p.rel -= base
            self._held = rest
            self._held_origin = self.end + told
            self._held_since = rest[0].arrival_ns
        return out

    def flush(self) -> list[SampleBatch]:
        """Place whatever is held (the stream stopped or dropped)."""
        return self._resolve() if self._held else []

    # ---- placing ---------------------------------------------------------------------------------
    def _told_loss(self, first_seq: int) -> int:
        """Samples lost before a packet starting at counter ``first_seq``, as the counter says
        (modulo its period where it wraps)."""
        assert self.last_seq is not None
        x = first_seq - self.last_seq - 1
        if self.modulus is not None:
            x %= self.modulus
        return max(0, x)

    def _counter_went_back(self, first_seq: int, first_ns: int) -> bool:
        """A packet's counter ``first_seq`` is not above the last one seen: learn or confirm the
        period from the time stamps; True when it is a counter that restarted instead."""
        assert self._seen_seq is not None
        gap = (first_ns - self._seen_stamp) / self.period_ns  # samples from the last one seen
        span = self._seen_seq + gap - first_seq  # the period, if exactly one wrap passed
        if self.modulus is not None and self.modulus_from_metadata:
            return False  # whole periods lost are told by time (_whole_wraps)
        if self.modulus is not None:
            k = max(1, int(math.floor(span / self.modulus + 0.5)))
            if abs(span - k * self.modulus) <= 1.5:
                self.wraps_confirmed += 1
                return False
        if gap - 1 > self.restart_gap:
            return True  # silence, then a counter from the start: a restart
        measured = int(math.floor(span + 0.5))
        if measured <= self.max_seq:
            return True  # no period explains it
        # one wrap, measured by time: the median of the wraps so far (stamps taken at the push
        # scatter by a sample or two)
        self._periods.append(measured)
        self.modulus = int(np.median(self._periods[-9:]) + 0.5)
        return False

    @property
    def _quantum(self) -> int | None:
        """Whole samples the evidence of time is counted in (None: the counter says it all)."""
        return None if self.counter else 1

    def _whole_wraps(self, told: int, first_ns: int) -> int:
        """Whole counter periods lost besides ``told`` samples, from the time stamps: the step
        from the last placed sample's stamp to this packet's first, to the nearest period (a
        stamp late by less than half a period cannot mislead it)."""
        if self.modulus is None or self._last_stamp is None:
            return 0
        gap = (first_ns - self._last_stamp) / self.period_ns - 1.0
        return max(0, int(math.floor((gap - told) / self.modulus + 0.5)))

    def _packet(
        self, samples: np.ndarray, arrival_ns: int, seq: tuple[int, int] | None, first_ns: int
    ) -> list[SampleBatch]:
        self.packets += 1
        n = samples.shape[0]
        out = self.expire(arrival_ns)
        if seq is not None:
            if (
                self.end is not None
                and not self._restart
                and self._seen_seq is not None
                and seq[0] <= self._seen_seq
                and self._counter_went_back(seq[0], first_ns)
            ):
                self._restart = True  # placed by time, like a new outlet
                self.max_seq = 0
            if (
                self.modulus is not None
                and not self.modulus_from_metadata
                and seq[1] >= self.modulus
            ):
                self.modulus, self._periods = None, []  # a value the period cannot hold
            self._seen_seq, self._seen_stamp = seq[1], arrival_ns
        bound = self.timebase.counter_bound(arrival_ns) if self.timebase.ready else 0.0
        if seq is not None:
            self.max_seq = max(self.max_seq, seq[1])
        last_seq = seq[1] if seq is not None else None
        if self.end is None:
            return out + self._place(
                0, _Packet(0, n, bound, arrival_ns, samples, last_seq, first_ns)
            )
        if self._restart:
            self._restart = False
            self.resets += 1
            out += self.flush()
            self._excess = self.timebase.refit(self.restart_hold_ns / 1e9)
            bound = self.timebase.counter_bound(arrival_ns)
            self._held = [_Packet(0, n, bound, arrival_ns, samples, last_seq, first_ns)]
            self._held_restart, self._held_since = True, arrival_ns
            return out
        if self._held:
            prev = self._held[-1]
            x = 0
            if seq is not None and prev.last_seq is not None:
                if not self._held_restart:
                    x = self._told_loss(seq[0])
                elif self.modulus is not None:
                    x = (seq[0] - prev.last_seq - 1) % self.modulus
                else:
                    x = max(0, seq[0] - prev.last_seq - 1)
            p = _Packet(prev.rel + prev.n + x, n, bound, arrival_ns, samples, last_seq, first_ns)
            self._held.append(p)
            if self.counter and seq is not None:
                self.last_seq = last_seq
            if not self._held_restart and self._evidence(p) < 0.5 * (self._quantum or 1):
                return out + self._resolve()  # on time: nothing lost beyond what was told
            return out
        x = self._told_loss(seq[0]) if seq is not None and self.last_seq is not None else 0
        if seq is not None:
            x += self._whole_wraps(x, first_ns) * (self.modulus or 0)
        origin = self.end + x
        p = _Packet(0, n, bound, arrival_ns, samples, last_seq, first_ns)
        quantum = self._quantum
        if quantum is None or bound - (origin + n - 1) < 0.5 * quantum:
            return out + self._place(origin, p)
        # late, or samples lost that the counter cannot tell: hold it
        self._held, self._held_restart = [p], False
        self._held_origin, self._held_since = origin, arrival_ns
        if seq is not None:
            self.last_seq = last_seq
        return out

    def _evidence(self, p: _Packet) -> float:
        """Samples the packet's arrival says were lost beyond the held run's origin."""
        return p.bound - (self._held_origin + p.rel + p.n - 1)

    def _resolve(self) -> list[SampleBatch]:
        held, self._held = self._held, []
        if not held:
            return []
        assert self.end is not None
        if self._held_restart:
            first = min(p.bound - (p.rel + p.n - 1) for p in held) - self._excess
            origin = max(self.end, int(math.floor(first + 0.5)))
            # the new outlet gets an envelope of its own: an error in this placement must not
            # bend the envelope that later decisions rest on
            self.timebase = HostTimebase(self.rate_hz)
            extra = [0] * len(held)
            self._held_restart_done = True
        else:
            origin = self._held_origin
            extra = self._attribute(held, self._quantum or 1)
            self._held_restart_done = False
        out: list[SampleBatch] = []
        for i, (p, w) in enumerate(zip(held, extra, strict=True)):
            # only the last packet (on time, or the least delayed) is placed tightly enough to
            # move the envelope: a late packet placed a few samples off would tilt the bounds
            # of every packet after it
            tight = self._held_restart_done or i == len(held) - 1
            out += self._place(origin + p.rel + w, p, observe=tight)
        return out

    def _attribute(self, held: list[_Packet], q: int) -> list[int]:
        """Samples lost (beyond what a counter told) up to each held packet.

        The arrivals bound them: up to packet *i* at most ``U_i``, the least evidence of the
        packets from *i* on (latency is one-sided; the least-delayed packet is tight), and the
        whole run lost ``U`` of its last packet. *Where* it was lost the arrivals cannot say (a
        late packet before the gap reads like one after it), so each boundary is given the loss
        its own time-stamp step shows, within those bounds, and what remains goes to the
        boundary where the bound rises most. Only the placement within the held run depends on
        that choice, never the count.
        """
        upper: list[int] = []
        running = math.inf
        for p in reversed(held):
            running = min(running, self._evidence(p))
            upper.append(max(0, int(math.floor(running / q + 0.5))) * q)
        upper.reverse()
        lost = [0] * len(held)
        for i in range(1, len(held)):
            a, b = held[i - 1], held[i]
            told = b.rel - (a.rel + a.n)
            step = (b.first_ns - a.arrival_ns) / self.period_ns - 1.0 - told
            local = max(0, int(math.floor(step / q + 0.5))) * q
            lost[i] = min(upper[i], lost[i - 1] + local)
        rest = upper[-1] - lost[-1]
        if rest > 0:
            rise = [upper[i] - (upper[i - 1] if i else 0) for i in range(len(held))]
            at = int(np.argmax(rise))
            for i in range(at, len(held)):
                lost[i] = min(upper[i], lost[i] + rest)
            for i in range(1, len(held)):  # non-decreasing
                lost[i] = max(lost[i], lost[i - 1])
        return lost

    def _place(self, first: int, p: _Packet, observe: bool = True) -> list[SampleBatch]:
        start = self.end if self.end is not None else first
        first = max(first, start)
        self.lost_samples += first - start
        self.samples += p.n
        self.end = first + p.n
        if p.last_seq is not None:
            self.last_seq = p.last_seq
        if observe:
            self.timebase.observe(self.end - 1, p.arrival_ns)
        self._last_stamp = p.arrival_ns
        return [SampleBatch(self.stream_id, first, p.samples, p.arrival_ns)]


def _merge(batches: list[SampleBatch], period_ns: float) -> list[SampleBatch]:
    """Join batches that follow each other without a gap into one: fewer, larger index entries.

    The joined batch's arrival is the tightest bound any of them gives for its last sample (each
    batch's arrival plus the nominal time from its last sample to the joined one's), so the lower
    envelope keeps its least-delayed point."""
    if len(batches) < 2:
        return batches
    out: list[SampleBatch] = []
    run: list[SampleBatch] = [batches[0]]
    for b in batches[1:]:
        if b.first_counter == run[-1].end_counter and b.stream_id == run[-1].stream_id:
            run.append(b)
            continue
        out.append(_join(run, period_ns))
        run = [b]
    out.append(_join(run, period_ns))
    return out


def _join(run: list[SampleBatch], period_ns: float) -> SampleBatch:
    if len(run) == 1:
        return run[0]
    last = run[-1].end_counter
    arrival = min(int(b.arrival_ns + round((last - b.end_counter) * period_ns)) for b in run)
    data = np.concatenate([b.samples for b in run])
    return SampleBatch(run[0].stream_id, run[0].first_counter, data, arrival)
