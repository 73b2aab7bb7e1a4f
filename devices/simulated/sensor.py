"""A simulated 800 Hz ECG + EDA sensor that speaks stream format v1 over a lossy, jittery link.

The physiology (:mod:`core.simulation.physiology`) follows a :class:`~core.simulation.scenario.Scenario`. Samples
are quantised and packed into v1 packets exactly as custom hardware would send them; the packets
get arrival times (latency, bursts, connection-interval quantisation, sensor clock drift), some are
lost, and the rest go through the same :class:`~devices.protocol.StreamDecoder` as a real sensor's.

Time zero of the session is ``start_ns`` if given, else ``clock.now_ns()`` when the sensor starts.
Sample k (counter ``counter_start + k``) is taken at ``t0 + k / true_rate_hz`` seconds, where
``true_rate_hz = rate_hz · (1 + drift_ppm·1e-6)`` — the sensor's crystal, not the host, sets the
pace.
"""

from __future__ import annotations

import math
import threading
from collections import deque
from collections.abc import Iterable

import numpy as np

from core.clock import Clock, MonotonicClock, VirtualClock
from core.recording.sources import BatchSink, EventSink
from core.simulation.physiology import PhysiologyGenerator
from core.simulation.scenario import Scenario, preset
from core.types import DeviceEvent, StreamInfo
from devices.base import BioSensorBase
from devices.protocol import (
    SampleFormat,
    StreamDecoder,
    descriptor_for,
    encode_data,
    encode_descriptor,
    max_samples_per_packet,
    to_raw,
)

#: (scale, offset) per channel (ECG mV, EDA µS) for each format; int16 gives 1 µV / 1 nS steps
#: over ±32.8 mV and 0–65.5 µS
_SCALING: dict[SampleFormat, tuple[tuple[float, float], tuple[float, float]]] = {
    SampleFormat.INT16: ((0.001, 0.0), (0.001, 32.768)),
    SampleFormat.INT24: ((1e-5, 0.0), (1e-5, 80.0)),
    SampleFormat.INT32: ((1e-7, 0.0), (1e-7, 200.0)),
    SampleFormat.FLOAT32: ((1.0, 0.0), (1.0, 0.0)),
}
_PACKETS_PER_CHUNK = 20  # physiology is synthesised this many packets at a time


class SimulatedSensor(BioSensorBase):
    """Simulated ECG (mV) + EDA (µS) sensor emitting stream-format-v1 packets.

    Parameters
    ----------
    scenario : Scenario — valence/arousal course (default: neutral, 60 min)
    rate_hz : float — nominal sampling rate (Hz)
    seed : int — all randomness (signal and link) derives from it
    clock : Clock — time source; a :class:`VirtualClock` means virtual mode (drive with
        :meth:`pump`), anything else real time (a thread delivers on :meth:`start`)
    start_ns : int or None — session time zero (ns); default ``clock.now_ns()`` at start
    realtime : bool or None — override the mode chosen from ``clock``
    stream_id : int — stream id in the packets (0–255)
    samples_per_packet : int — samples per data packet (40 × 2 ch × int16 = 170-byte packets)
    fmt : SampleFormat — sample format on the wire
    latency_s : float — fixed part of the link latency (s)
    jitter_s : float — mean of the exponential extra latency (s)
    burst_prob : float — per-packet probability that the link stalls, releasing the held
        packets together afterwards
    burst_s : (float, float) — range of a stall's length (s), drawn uniformly
    conn_interval_s : float — BLE connection interval (s); arrivals fall on its grid (0: off)
    drift_ppm : float — sensor clock error (ppm); positive means it samples fast
    drop_prob : float — probability that a data packet is lost
    drop_packets : iterable of int — indices (0-based, data packets only) always lost
    counter_start : int — counter of the first sample (< 2³²; near 2³² tests the wrap)
    """

    simulated = True

    def __init__(
        self,
        scenario: Scenario | None = None,
        *,
        rate_hz: float = 800.0,
        seed: int = 0,
        clock: Clock | None = None,
        start_ns: int | None = None,
        realtime: bool | None = None,
        stream_id: int = 0,
        samples_per_packet: int = 40,
        fmt: SampleFormat = SampleFormat.INT16,
        latency_s: float = 0.003,
        jitter_s: float = 0.002,
        burst_prob: float = 0.005,
        burst_s: tuple[float, float] = (0.02, 0.1),
        conn_interval_s: float = 0.0075,
        drift_ppm: float = 0.0,
        drop_prob: float = 0.0,
        drop_packets: Iterable[int] = (),
        counter_start: int = 0,
    ) -> None:
        self.fmt = SampleFormat(fmt)
        if not 1 <= samples_per_packet <= max_samples_per_packet(2, self.fmt):
            raise ValueError(f"samples_per_packet must be 1–{max_samples_per_packet(2, fmt)}")
        if not 0 <= counter_start < 1 << 32:
            raise ValueError("counter_start must be a 32-bit unsigned value")
        self.scenario = scenario if scenario is not None else preset("neutral", 3600.0)
        self.rate_hz = float(rate_hz)
        self.seed = int(seed)
        self.clock: Clock = clock if clock is not None else MonotonicClock()
        self.realtime = not isinstance(self.clock, VirtualClock) if realtime is None else realtime
        self.samples_per_packet = int(samples_per_packet)
        self.latency_s, self.jitter_s = float(latency_s), float(jitter_s)
        self.burst_prob, self.burst_s = float(burst_prob), (float(burst_s[0]), float(burst_s[1]))
        self.conn_interval_s = float(conn_interval_s)
        self.drift_ppm = float(drift_ppm)
        self.drop_prob = float(drop_prob)
        self._drop_set = {int(i) for i in drop_packets}
        self.counter_start = int(counter_start)
        self.name = f"Simulated ECG+EDA ({self.rate_hz:g} Hz)"
        self.info = StreamInfo(stream_id, "bio", ("ECG", "EDA"), ("mV", "uS"), self.rate_hz)
        (s_ecg, o_ecg), (s_eda, o_eda) = _SCALING[self.fmt]
        self.descriptor = descriptor_for(self.info, (s_ecg, s_eda), (o_ecg, o_eda))
        self.decoder = StreamDecoder()
        #: (first_counter, n_samples) of every lost data packet; counters unwrapped, as delivered
        self.dropped: list[tuple[int, int]] = []
        sig_ss, lat_ss, drop_ss = np.random.SeedSequence(self.seed).spawn(3)
        # the link has its own generators: changing loss or jitter leaves the signal unchanged
        self._rng_lat = np.random.default_rng(lat_ss)
        self._rng_drop = np.random.default_rng(drop_ss)
        self._gen = PhysiologyGenerator(self.scenario, self.true_rate_hz, sig_ss)
        self._start_ns = start_ns
        self.t0_ns: int | None = None
        self._queue: deque[tuple[int, bytes]] = deque()
        self._n_packets = 0  # data packets generated (sent or lost)
        self._last_arrival_ns = 0  # newest arrival time given out; the link keeps order
        self._stall_until_ns = 0
        self._lock = threading.RLock()
        self._on_batch: BatchSink | None = None
        self._on_event: EventSink | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    # -- facts for tests and the session record -------------------------------------------------
    @property
    def streams(self) -> list[StreamInfo]:
        return [self.info]

    @property
    def true_rate_hz(self) -> float:
        """The rate (Hz) the simulated crystal really samples at."""
        return self.rate_hz * (1.0 + self.drift_ppm * 1e-6)

    @property
    def n_generated(self) -> int:
        """Samples synthesised so far (delivered, lost or still in flight)."""
        return self._gen.k

    def truth_rpeaks_s(self) -> np.ndarray:
        """True R-peak times (s since time zero, host seconds) of the samples generated so far."""
        return self._gen.rpeaks_s()

    def truth_rpeak_counters(self) -> np.ndarray:
        """True R-peak positions as fractional (unwrapped) sample counters."""
        return self.counter_start + self._gen.rpeaks_s() * self.true_rate_hz

    def describe(self) -> dict[str, object]:
        d = super().describe()
        d.update(
            seed=self.seed,
            scenario=self.scenario.to_dict(),
            format=self.fmt.name,
            samples_per_packet=self.samples_per_packet,
            drift_ppm=self.drift_ppm,
            drop_prob=self.drop_prob,
            latency_s=self.latency_s,
            jitter_s=self.jitter_s,
            counter_start=self.counter_start,
        )
        return d

    # -- packet generation ----------------------------------------------------------------------
    def _ensure_t0(self) -> int:
        if self.t0_ns is None:
            self.t0_ns = int(self._start_ns if self._start_ns is not None else self.clock.now_ns())
            arrival = self.t0_ns + int(self.latency_s * 1e9)
            self._queue.append((arrival, encode_descriptor(self.descriptor)))
            self._last_arrival_ns = arrival
        return self.t0_ns

    def _arrivals(self, ready_ns: np.ndarray) -> list[int]:
        """Arrival times (ns) for packets ready at ``ready_ns``; order is preserved."""
        m = len(ready_ns)
        t0 = self._ensure_t0()
        extra = self._rng_lat.exponential(self.jitter_s, m) if self.jitter_s > 0 else np.zeros(m)
        natural = ready_ns + (self.latency_s + extra) * 1e9
        stalls = self._rng_lat.random(m) < self.burst_prob
        lengths = self._rng_lat.uniform(*self.burst_s, m) * 1e9
        ci = self.conn_interval_s * 1e9
        out = []
        for i in range(m):  # one step per packet (20 per chunk); the stall state is sequential
            a = float(natural[i])
            if stalls[i] and a >= self._stall_until_ns:
                self._stall_until_ns = int(a + lengths[i])
            if a < self._stall_until_ns:
                a = float(self._stall_until_ns)
            if ci > 0:
                a = t0 + math.ceil((a - t0) / ci) * ci
            self._last_arrival_ns = max(self._last_arrival_ns, int(a))
            out.append(self._last_arrival_ns)
        return out

    def _generate_chunk(self) -> None:
        spp = self.samples_per_packet
        n = spp * _PACKETS_PER_CHUNK
        k0 = self._gen.k
        raw = to_raw(self.descriptor, self._gen.next_block(n), self.fmt)
        ks = k0 + spp * np.arange(1, _PACKETS_PER_CHUNK + 1)  # one past each packet's last sample
        ready = self._ensure_t0() + ks / self.true_rate_hz * 1e9
        arrivals = self._arrivals(ready)
        lost = self._rng_drop.random(_PACKETS_PER_CHUNK) < self.drop_prob
        sid = self.info.stream_id
        for j in range(_PACKETS_PER_CHUNK):
            idx = self._n_packets + j
            first = self.counter_start + k0 + j * spp
            if lost[j] or idx in self._drop_set:
                self.dropped.append((first, spp))
                continue
            payload = encode_data(sid, first, raw[j * spp : (j + 1) * spp], self.fmt)
            self._queue.append((arrivals[j], payload))
        self._n_packets += _PACKETS_PER_CHUNK

    def packets_until(self, until_ns: int) -> list[tuple[int, bytes]]:
        """Take every packet (arrival ns, payload) arriving by ``until_ns``, without decoding.

        The first is the descriptor. Packets taken here are not delivered by :meth:`pump`.
        """
        with self._lock:
            self._ensure_t0()
            while self._last_arrival_ns <= until_ns:
                self._generate_chunk()
            out = []
            while self._queue and self._queue[0][0] <= until_ns:
                out.append(self._queue.popleft())
            return out

    def _deliver(self, until_ns: int) -> None:
        for arrival, payload in self.packets_until(until_ns):
            batch = self.decoder.feed(payload, arrival)
            if batch is not None and self._on_batch is not None:
                self._on_batch(batch)

    # -- BioSensor -------------------------------------------------------------------------------
    def start(self, on_batch: BatchSink, on_event: EventSink) -> None:
        """Connect the sinks and start the session; in real-time mode a thread delivers packets.

        In virtual mode nothing runs: call :meth:`pump` with the virtual time.
        """
        if self._thread is not None:
            raise RuntimeError("SimulatedSensor is already running")
        self._on_batch, self._on_event = on_batch, on_event
        with self._lock:
            self._ensure_t0()
        if self.realtime:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="sim-sensor", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                now = self.clock.now_ns()
                self._deliver(now)
                with self._lock:
                    nxt = self._queue[0][0] if self._queue else now + 10_000_000
                self._stop.wait(min(max((nxt - self.clock.now_ns()) / 1e9, 0.001), 0.05))
        except Exception as e:  # a simulator fault must reach the recorder's log, not vanish
            if self._on_event is not None:
                self._on_event(DeviceEvent("error", self.clock.now_ns(), {"error": repr(e)}))

    def stop(self) -> None:
        """Stop the delivery thread (if any) and join it. Idempotent."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def pump(self, until_ns: int) -> None:
        """Virtual mode: deliver, in this thread, every packet that has arrived by ``until_ns``."""
        if self._thread is not None:
            raise RuntimeError("pump() is for virtual mode; this sensor runs its own thread")
        if self._on_batch is None:
            raise RuntimeError("call start(on_batch, on_event) before pump()")
        self._deliver(until_ns)
