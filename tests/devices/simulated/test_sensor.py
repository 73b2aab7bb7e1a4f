"""SimulatedSensor: exact sample accounting, physiology that follows arousal, timing and modes."""

from __future__ import annotations

import time

import numpy as np
import pytest

from core.clock import CounterClock, MonotonicClock, VirtualClock
from core.simulation.physiology import PhysiologyGenerator
from core.simulation.scenario import preset
from core.types import DeviceEvent, SampleBatch
from devices.protocol import (
    PKT_DATA,
    PKT_DESCRIPTOR,
    SampleFormat,
    StreamDecoder,
    parse_packet,
)
from devices.simulated.sensor import SimulatedSensor

T0 = 5_000_000_000
RATE_HZ = 800


def _run_virtual(
    sensor: SimulatedSensor, seconds: float, step_s: float = 0.25
) -> list[SampleBatch]:
    batches: list[SampleBatch] = []
    events: list[DeviceEvent] = []
    sensor.start(batches.append, events.append)
    t = T0
    while t < T0 + seconds * 1e9:
        t += int(step_s * 1e9)
        sensor.pump(t)
    assert not events
    return batches


def _signal(batches: list[SampleBatch]) -> np.ndarray:
    return np.concatenate([b.samples for b in batches])


@pytest.fixture(scope="module")
def calm_to_anxious() -> tuple[SimulatedSensor, list[SampleBatch]]:
    s = SimulatedSensor(
        preset("calm_to_anxious", 60.0), seed=11, clock=VirtualClock(T0), start_ns=T0
    )
    return s, _run_virtual(s, 61.0)


def test_samples_are_accounted_for_exactly_and_gaps_match_the_drop_list() -> None:
    s = SimulatedSensor(
        preset("neutral", 60.0),
        seed=2,
        clock=VirtualClock(T0),
        drop_prob=0.03,
        drop_packets=[0, 7, 8, 9, 500],
    )
    batches = _run_virtual(s, 61.0)
    n_total = RATE_HZ * 60
    delivered = sum(b.n for b in batches if b.first_counter < n_total)
    lost = [d for d in s.dropped if d[0] < n_total]
    assert delivered + sum(n for _, n in lost) == n_total
    assert len(lost) > 20 and (0, 40) in lost and (7 * 40, 40) in lost

    gaps, prev_end = [], 0
    for b in batches:
        assert b.first_counter >= prev_end
        if b.first_counter > prev_end:
            gaps.append((prev_end, b.first_counter - prev_end))
        prev_end = b.end_counter
    merged: list[list[int]] = []  # consecutive lost packets make one gap
    for first, n in s.dropped:
        if merged and merged[-1][0] + merged[-1][1] == first:
            merged[-1][1] += n
        else:
            merged.append([first, n])
    assert gaps == [tuple(m) for m in merged if m[0] < prev_end]
    assert s.decoder.n_lost_samples == sum(n for f, n in gaps if f > 0)
    assert s.decoder.n_dropped == 0


def test_heart_rate_follows_arousal(calm_to_anxious: tuple[SimulatedSensor, list]) -> None:
    import neurokit2 as nk

    s, batches = calm_to_anxious
    assert batches[0].first_counter == 0 and s.dropped == []
    ecg = _signal(batches)[:, 0].astype(float)
    assert len(ecg) >= 60 * RATE_HZ
    _, info = nk.ecg_peaks(nk.ecg_clean(ecg, sampling_rate=RATE_HZ), sampling_rate=RATE_HZ)
    peaks = np.asarray(info["ECG_R_Peaks"]) / RATE_HZ
    truth = s.truth_rpeaks_s()
    # each detected peak lies on a true R peak
    assert np.all(np.min(np.abs(peaks[:, None] - truth[None, :]), axis=1) < 0.02)
    assert len(peaks) >= 0.95 * np.sum(truth < len(ecg) / RATE_HZ)

    def hr(lo: float, hi: float) -> float:
        p = peaks[(peaks >= lo) & (peaks < hi)]
        return 60.0 / float(np.mean(np.diff(p)))

    calm, anxious = hr(0, 18), hr(42, 60)
    assert 60 < calm < 78 and 85 < anxious < 102
    assert anxious > calm + 12


def test_eda_follows_arousal(calm_to_anxious: tuple[SimulatedSensor, list]) -> None:
    _, batches = calm_to_anxious
    eda = _signal(batches)[:, 1]
    calm, anxious = eda[: 18 * RATE_HZ].mean(), eda[42 * RATE_HZ : 60 * RATE_HZ].mean()
    assert 1.5 < calm < 4.5 and anxious > calm + 1.0
    assert eda.min() > 0.5 and eda.max() < 20


def test_batches_are_well_formed(calm_to_anxious: tuple[SimulatedSensor, list]) -> None:
    s, batches = calm_to_anxious
    assert s.streams[0].channels == ("ECG", "EDA") and s.streams[0].units == ("mV", "uS")
    assert s.decoder.streams == {0: s.streams[0]}
    for b in batches:
        assert b.samples.dtype == np.float32 and b.samples.shape == (40, 2)
        # latency is one-sided: nothing arrives before its last sample was taken
        assert b.arrival_ns >= T0 + b.end_counter / RATE_HZ * 1e9
    arrivals = np.array([b.arrival_ns for b in batches])
    assert np.all(np.diff(arrivals) >= 0)
    lat_ms = (arrivals - T0 - np.array([b.end_counter for b in batches]) / RATE_HZ * 1e9) / 1e6
    assert 3 <= np.median(lat_ms) < 15


def test_same_seed_same_bytes_and_link_settings_leave_the_signal_alone() -> None:
    def packets(seed: int, **kw: object) -> list[tuple[int, bytes]]:
        s = SimulatedSensor(preset("neutral", 30.0), seed=seed, start_ns=0, **kw)  # type: ignore[arg-type]
        return s.packets_until(10 * 10**9)

    a, b, c = packets(4), packets(4), packets(5)
    assert a == b and a != c
    assert a[0][1][1] == PKT_DESCRIPTOR and all(p[1] == PKT_DATA for _, p in a[1:])
    assert all(len(p) == 170 for _, p in a[1:])
    lossy = packets(4, drop_prob=0.2, jitter_s=0.01)
    by_counter = {parse_packet(p).counter: p for _, p in a[1:]}  # type: ignore[union-attr]
    assert len(lossy) < len(a)
    for _, p in lossy[1:]:
        assert by_counter[parse_packet(p).counter] == p  # type: ignore[union-attr]


def test_exact_bytes_feed_a_fresh_decoder() -> None:
    s = SimulatedSensor(
        preset("neutral", 10.0), seed=1, start_ns=0, fmt=SampleFormat.INT24, samples_per_packet=30
    )
    dec = StreamDecoder()
    out = [dec.feed(p, t) for t, p in s.packets_until(2 * 10**9)]
    got = [b for b in out if b is not None]
    assert out[0] is None and len(got) == len(out) - 1
    assert [b.first_counter for b in got] == [30 * i for i in range(len(got))]


def test_formats_carry_the_same_signal() -> None:
    sig = {}
    for fmt in (SampleFormat.INT16, SampleFormat.INT24, SampleFormat.FLOAT32):
        s = SimulatedSensor(
            preset("neutral", 10.0), seed=6, clock=VirtualClock(T0), fmt=fmt, samples_per_packet=20
        )
        sig[fmt] = _signal(_run_virtual(s, 3.0))[: 2 * RATE_HZ]
    np.testing.assert_allclose(sig[SampleFormat.INT16], sig[SampleFormat.FLOAT32], atol=6e-4)
    np.testing.assert_allclose(sig[SampleFormat.INT24], sig[SampleFormat.FLOAT32], atol=2e-5)


def test_counter_wrap_is_seamless() -> None:
    start = 2**32 - 1000
    s = SimulatedSensor(preset("neutral", 10.0), clock=VirtualClock(T0), counter_start=start)
    batches = _run_virtual(s, 3.0)
    firsts = [b.first_counter for b in batches]
    assert firsts[0] == start and firsts[-1] > 2**32
    assert np.all(np.diff(firsts) == 40)
    assert s.truth_rpeak_counters()[0] > start


def test_drift_is_visible_in_arrivals_and_recoverable() -> None:
    ppm = 300.0
    s = SimulatedSensor(preset("neutral", 60.0), clock=VirtualClock(T0), drift_ppm=ppm)
    assert s.true_rate_hz == pytest.approx(RATE_HZ * (1 + ppm * 1e-6))
    cc = CounterClock(RATE_HZ)
    for b in _run_virtual(s, 60.0):
        cc.observe(b.end_counter - 1, b.arrival_ns)
    fitted_ppm = (1e9 / RATE_HZ / cc.period_ns - 1.0) * 1e6
    assert abs(fitted_ppm - ppm) < 50


def test_virtual_mode_needs_start_and_refuses_pump_while_threaded() -> None:
    s = SimulatedSensor(clock=VirtualClock(T0))
    assert not s.realtime
    with pytest.raises(RuntimeError):
        s.pump(T0 + 10**9)
    rt = SimulatedSensor(clock=MonotonicClock())
    rt.start(lambda b: None, lambda e: None)
    try:
        with pytest.raises(RuntimeError):
            rt.pump(0)
    finally:
        rt.stop()
        rt.stop()  # idempotent


def test_real_time_mode_delivers_about_rate_samples_per_second() -> None:
    s = SimulatedSensor(preset("neutral", 10.0), seed=3)
    assert s.realtime and s.describe()["simulated"] is True
    batches: list[SampleBatch] = []
    events: list[DeviceEvent] = []
    s.start(batches.append, events.append)
    time.sleep(1.0)
    s.stop()
    n = sum(b.n for b in batches)
    assert not events
    assert 600 <= n <= 880
    assert [b.first_counter for b in batches] == [40 * i for i in range(len(batches))]
    assert all(b.arrival_ns <= time.monotonic_ns() for b in batches)


def test_sixty_minutes_generate_fast() -> None:
    s = SimulatedSensor(preset("anxious_to_calm", 3600.0), seed=9, start_ns=0)
    t = time.perf_counter()
    packets = s.packets_until(3600 * 10**9)
    elapsed = time.perf_counter() - t
    assert len(packets) >= 3600 * 20 - 5
    assert elapsed < 30.0
    assert len(s.truth_rpeaks_s()) > 3600


def test_signal_does_not_depend_on_block_size() -> None:
    sc = preset("calm_to_anxious", 20.0)
    g1 = PhysiologyGenerator(sc, RATE_HZ, 5)
    whole = g1.next_block(12 * RATE_HZ)
    g2 = PhysiologyGenerator(sc, RATE_HZ, 5)
    parts = np.concatenate([g2.next_block(n) for n in (1, 333, 2466, 12 * RATE_HZ - 2800)])
    np.testing.assert_allclose(parts, whole, atol=1e-9)
    np.testing.assert_array_equal(g1.rpeaks_s(), g2.rpeaks_s())
