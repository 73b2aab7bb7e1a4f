"""From a short frame sequence number to a sample counter, with the host clock's help.

A device that numbers its frames modulo 16 (BITalino) tells a receiver how many frames it missed
only modulo 16. Two further facts narrow it down:

* notifications carry a fixed number *m* of frames, so whole notifications are lost: the loss is
  a multiple of the *granularity* (the gcd of the notification sizes seen). The sequence then
  fixes the loss modulo ``P = lcm(16, granularity)`` (80 frames for m = 5);
* arrival latency is one-sided, so a packet cannot arrive before its last frame was taken: the
  lower envelope of arrivals (:class:`~devices.ble.timebase.HostTimebase`) bounds its counter.

A packet that fits the smallest loss and is not later than ``P`` frames' worth is placed at
once. A later one (a long stall, or ``P`` frames or more lost) starts a *held chain*: following
packets are added with their smallest losses, each carrying its own evidence of how many whole
periods were lost up to it. Latency only ever makes that evidence too large, and a later packet
bounds every earlier one, so each run gets the minimum of the evidence from itself onwards; the
chain is placed as soon as a packet shows no period was lost, or after ``hold_s``.

A packet is old (a duplicate or a late, reordered copy) only when both its sequence and its
arrival say so: its sequence reads as a loss of half a period or more (what a copy of one of the
last few packets reads as), and it would have to arrive *before* it was taken. A packet that
continues the last exactly is never old: if it looks early, the envelope is too high (it started
at a late first packet; with several notifications per connection event the first ones wait
longest) and placing it lowers the envelope. Until half a period's worth of notifications has
been seen, the envelope may still rest on late packets only, and is trusted to half a period.
Inside a burst (a stall being released) a late copy looks like a packet after a loss; such a
packet is held *tentatively* and withdrawn if the next one follows its predecessor with a
smaller loss.

After a reconnect the device starts a new acquisition; its first chain is placed by host time
alone. Nothing is ever interpolated: whatever is not delivered is a counted gap.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from core.types import SampleBatch
from devices.ble.timebase import HostTimebase

OLD_MARGIN = 4  # frames: how far a settled envelope may be off (old packets, lost periods)


@dataclass
class _Held:
    seg: int  # run index within the chain (a new run starts after each loss)
    rel: int  # first slot, relative to the chain start, assuming no whole period lost
    m: int  # slots in the packet
    bound: float  # counter bound of its last slot from its arrival
    arrival_ns: int
    parts: list[tuple[int, np.ndarray]]  # (offset in packet, valid samples)
    last_seq: int  # sequence number of its last slot
    tentative: bool = False  # may be a late copy: confirmed or withdrawn by the next packet


class SequenceAligner:
    """Counters for one stream whose packets carry a short sequence number.

    Parameters
    ----------
    stream_id : int — stream id of the batches made
    rate_hz : float — nominal sampling rate (Hz)
    modulus : int — the sequence number's modulus (16 for a 4-bit sequence)
    hold_s : float — longest host time (s) an ambiguous chain is held
    restart_hold_s : float — host time (s) a new acquisition's packets are held before it is
        placed (the longer, the likelier one of them arrived near the latency floor)
    """

    def __init__(
        self,
        stream_id: int,
        rate_hz: float,
        modulus: int = 16,
        hold_s: float = 0.25,
        restart_hold_s: float = 1.0,
    ) -> None:
        self.stream_id = stream_id
        self.modulus = modulus
        self.hold_ns = int(hold_s * 1e9)
        self.restart_hold_ns = int(restart_hold_s * 1e9)
        self.timebase = HostTimebase(rate_hz)
        self.granularity = 0
        self.end: int | None = None  # counter one past the newest placed slot
        self.last_seq = 0
        self.lost_samples = 0
        self.resets = 0
        self.withdrawn = 0  # tentatively held packets found to be late copies
        self._restart = False
        self._chain: list[_Held] = []
        self._chain_restart = False
        self._chain_origin = 0  # counter of the chain start if no period was lost
        self._chain_w = 0  # smallest evidence of lost periods so far
        self._chain_excess = 0.0  # usual latency excess (frames) of a held window, for restarts
        self._chain_started = 0

    @property
    def period(self) -> int:
        """Frames after which the (sequence, granularity) pair repeats."""
        g = max(1, self.granularity)
        return self.modulus * g // math.gcd(self.modulus, g)

    def restart(self) -> None:
        """The device begins a new acquisition: place its next packets by host time."""
        self._restart = self.end is not None

    def _loss(self, seq: int, last_seq: int) -> int:
        """Smallest number of frames lost between ``last_seq`` and ``seq`` (a whole number of
        notifications where the granularity allows)."""
        m0 = (seq - last_seq - 1) % self.modulus
        g = max(1, self.granularity)
        for k in range(self.period // self.modulus):
            if (m0 + self.modulus * k) % g == 0:
                return m0 + self.modulus * k
        self.granularity = 1  # notification sizes changed: fall back to the sequence alone
        return m0

    def push(
        self, seq: int, m: int, parts: list[tuple[int, np.ndarray]], arrival_ns: int
    ) -> tuple[list[SampleBatch], bool]:
        """Place a packet of ``m`` slots whose first frame has sequence ``seq``.

        Parameters
        ----------
        seq : int — sequence number of the packet's first slot
        m : int — slots (frames) in the packet, valid or not
        parts : list of (int, ndarray) — runs of valid samples: (slot offset, samples)
        arrival_ns : int — host arrival time (ns)

        Returns
        -------
        (batches, accepted) — the batches that could be placed now (held ones included);
        ``accepted`` is False when the packet is old (a duplicate or out of order) and dropped
        """
        self.granularity = math.gcd(self.granularity, m)
        out = self.expire(arrival_ns)
        bound = self.timebase.counter_bound(arrival_ns) if self.timebase.ready else 0.0
        new = _Held(0, 0, m, bound, arrival_ns, parts, (seq + m - 1) % self.modulus)
        if self._chain:
            more, accepted = self._add_to_chain(seq, new)
            return out + more, accepted
        more, accepted = self._push_free(seq, new)
        return out + more, accepted

    def _push_free(self, seq: int, p: _Held) -> tuple[list[SampleBatch], bool]:
        """A packet when nothing is held."""
        if self.end is None:
            return self._place(0, p, seq_known=True), True
        if self._restart:
            self._restart = False
            self.resets += 1
            # the new acquisition is placed by extrapolating the clock across the gap: use the
            # session fit of the history, not the running one
            self._chain_excess = self.timebase.refit(self.restart_hold_ns / 1e9)
            p.bound = self.timebase.counter_bound(p.arrival_ns)
            self._start_chain(p, restart=True, origin=0)
            return [], True
        x = self._loss(seq, self.last_seq)
        origin = self.end + x
        d = p.bound - (origin + p.m - 1)
        if self._is_old(x, d):
            return [], False
        margin = self._margin()
        if d < self.period - margin:
            return self._place(origin, p, seq_known=True), True
        self._start_chain(p, restart=False, origin=origin)
        self._chain_w = int((d + margin) // self.period)
        return [], True

    # ---- held chains -----------------------------------------------------------------------------
    def _start_chain(self, p: _Held, restart: bool, origin: int) -> None:
        self._chain = [p]
        self._chain_restart = restart
        self._chain_origin = origin
        self._chain_started = p.arrival_ns

    @staticmethod
    def _restart_origin(chain: list[_Held]) -> float:
        """Counter of a new acquisition's first slot, from its first run's arrivals."""
        return min(h.bound - (h.rel + h.m - 1) for h in chain if h.seg == 0)

    def _after(self, prev: _Held, seq: int, p: _Held) -> tuple[int, float, bool]:
        """Place ``p`` after ``prev`` in the chain (no period lost): (loss, lateness, old).

        Also sets ``p.rel`` and ``p.seg``. Lateness is the evidence of lost periods, in frames;
        ``old`` says it would have arrived before it was taken.
        """
        x = self._loss(seq, prev.last_seq)
        p.rel = prev.rel + prev.m + x
        p.seg = prev.seg + (1 if x else 0)
        if self._chain_restart:
            d = p.bound - (self._restart_origin(self._chain) + p.rel + p.m - 1)
            return x, d, False  # the origin is still an upper bound: nothing is early yet
        d = p.bound - (self._chain_origin + p.rel + p.m - 1)
        return x, d, self._is_old(x, d)

    def _is_old(self, x: int, d: float) -> bool:
        """Whether a packet that would follow the last one after ``x`` lost frames, yet arrive
        ``-d`` frames before the envelope allows, is an old (late) copy.

        Only when both say so: the sequence (a copy of one of the last half-period's packets
        reads as a loss of more than half a period) and the arrival (earlier than the envelope
        allows by more than the fit's possible error). A packet that continues the last exactly
        is never old: when it looks early the fit is too high, and placing it corrects the fit
        (a fit that starts at a late first packet is high by that packet's excess latency).
        """
        return self._copy_like(x) and d < -self._margin()

    def _copy_like(self, x: int) -> bool:
        """Whether a loss of ``x`` frames also reads as a copy of a packet from at most half a
        period back (the sequence alone cannot tell the two apart)."""
        return 2 * x >= self.period

    def _margin(self) -> float:
        """How far (frames) the envelope may be too high: a few frames once it rests on half a
        period's worth of notifications (more than one connection event carries, so at least one
        of them was sent right after it was taken); before, it may rest on a late first packet
        only, and no more than half a period can be told."""
        if self.timebase.n_observed >= self.period // max(1, self.granularity) // 2:
            return OLD_MARGIN
        return self.period / 2

    def _add_to_chain(self, seq: int, p: _Held) -> tuple[list[SampleBatch], bool]:
        out: list[SampleBatch] = []
        last = self._chain[-1]
        if last.tentative:
            x, d, old = self._after(last, seq, p)
            prev = self._chain[-2]
            x2, d2, old2 = self._after(prev, seq, p)
            if not old2 and (old or x2 < x):
                # it follows the packet before with a smaller loss than the tentative one (which
                # read as a loss of half a period or more): the tentative one was a late copy
                # (losses around it adding up to a whole period are far less likely)
                self._chain.pop()
                self.withdrawn += 1
            else:
                last.tentative = False
                if not self._chain_restart:
                    ev = last.bound - (self._chain_origin + last.rel + last.m - 1)
                    self._chain_w = min(self._chain_w, int((ev + self._margin()) // self.period))
                    if self._chain_w <= 0:
                        out = self._resolve()
                        more, accepted = self._push_free(seq, p)
                        return out + more, accepted
        x, d, old = self._after(self._chain[-1], seq, p)
        if old:
            return out, False
        est = int((d + self._margin()) // self.period)
        if self._chain_restart:
            conflict = self._copy_like(x) and d < -OLD_MARGIN
        else:
            conflict = self._copy_like(x) and est < self._chain_w
        if conflict:
            if not self._bursting():
                # after a loss, yet earlier than the packets held so far, which arrived at their
                # own pace (so were on time): a late copy of an old packet
                return out, False
            p.tentative = True  # in a burst: a late copy or a loss, the next packet will tell
            self._chain.append(p)
            return out, True
        self._chain.append(p)
        if not self._chain_restart:
            self._chain_w = min(self._chain_w, est)
            if self._chain_w <= 0:
                out += self._resolve()
        return out, True

    def _bursting(self) -> bool:
        """Whether the newest held packets arrived faster than they were sampled (a stall being
        released), rather than at their own pace."""
        c = [h for h in self._chain if not h.tentative]
        if len(c) < 2:
            return True
        a, b = c[max(0, len(c) - 5)], c[-1]
        sampled_ns = (b.rel + b.m - a.rel - a.m) * 1e9 / self.timebase.rate_hz
        return b.arrival_ns - a.arrival_ns < 0.5 * sampled_ns

    def expire(self, now_ns: int) -> list[SampleBatch]:
        """Place a held chain once it has been held long enough."""
        hold = self.restart_hold_ns if self._chain_restart else self.hold_ns
        if self._chain and now_ns - self._chain_started >= hold:
            return self._resolve()
        return []

    def flush(self) -> list[SampleBatch]:
        """Place whatever is held (the stream stops or the link dropped)."""
        return self._resolve() if self._chain else []

    def _resolve(self) -> list[SampleBatch]:
        chain, self._chain = self._chain, []
        if chain[-1].tentative:
            # unconfirmed: dropping it costs its samples (a counted gap) if it was real, while
            # placing a late copy would shift everything after it
            chain.pop()
            self.withdrawn += 1
        assert self.end is not None
        if not chain:
            return []
        if self._chain_restart:
            first = self._restart_origin(chain) - self._chain_excess
            origin = max(self.end, int(np.floor(first + 0.5)))
            # the new acquisition gets a fit of its own: an error in its placement must not
            # bend the envelope that later decisions rest on
            self.timebase = HostTimebase(self.timebase.rate_hz)
        else:
            origin = self._chain_origin
        # evidence of whole periods lost up to each packet; a later packet bounds earlier ones
        margin = OLD_MARGIN if self._chain_restart else self._margin()
        est = [int((h.bound - (origin + h.rel + h.m - 1) + margin) // self.period) for h in chain]
        w_seg: dict[int, int] = {}
        running = max(est)
        for h, e in zip(reversed(chain), reversed(est), strict=True):
            running = min(running, e)
            w_seg[h.seg] = max(0, running)
        out = []
        for h in chain:
            out += self._place(origin + h.rel + self.period * w_seg[h.seg], h, seq_known=False)
        self.last_seq = chain[-1].last_seq
        return out

    def _place(self, first: int, p: _Held, seq_known: bool) -> list[SampleBatch]:
        start = self.end if self.end is not None else first
        first = max(first, start)
        valid = sum(len(s) for _, s in p.parts)
        self.lost_samples += first - start + p.m - valid
        self.end = first + p.m
        if seq_known:
            self.last_seq = p.last_seq
        self.timebase.observe(first + p.m - 1, p.arrival_ns)
        return [SampleBatch(self.stream_id, first + off, s, p.arrival_ns) for off, s in p.parts]
