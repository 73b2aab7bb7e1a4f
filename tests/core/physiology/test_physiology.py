"""Pre/post physiology: windows, ECG and EDA measures on synthetic signals of known content."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest

from core.physiology.summary import (
    PhysiologySummary,
    describe_change,
    ecg_summary,
    eda_level_series,
    eda_summary,
    heart_rate_series,
    phase_windows,
    summarize,
)

RATE_HZ = 800.0


@pytest.fixture(scope="module")
def ecg70() -> np.ndarray:
    import neurokit2 as nk

    return np.asarray(
        nk.ecg_simulate(
            duration=90, sampling_rate=int(RATE_HZ), heart_rate=70, method="simple", random_state=3
        )
    )


def bateman_eda(
    duration_s: float, onsets_s: list[float], amp_us: float, base_us: float, rate_hz: float
) -> np.ndarray:
    """Tonic level plus Bateman-shaped SCRs (rise τ 0.75 s, decay τ 2 s) of given peak amplitude."""
    t = np.arange(int(duration_s * rate_hz)) / rate_hz
    x = np.full(t.size, base_us)
    for t0 in onsets_s:
        dt = np.clip(t - t0, 0.0, None)
        shape = np.where(t >= t0, np.exp(-dt / 2.0) - np.exp(-dt / 0.75), 0.0)
        x += amp_us * shape / shape.max()
    noise = np.random.default_rng(1).normal(0.0, 0.002, t.size)
    return x + noise


def test_windows_60_min() -> None:
    pre, post = phase_windows(3600.0)
    assert (pre.name, pre.start_s, pre.end_s) == ("pre", 0.0, 900.0)
    assert (post.name, post.start_s, post.end_s) == ("post", 2700.0, 3600.0)
    assert pre.label == "first 15:00" and post.label == "last 15:00"
    assert "shorter" not in pre.note


def test_windows_12_min_are_a_third_each() -> None:
    pre, post = phase_windows(720.0)
    assert (pre.start_s, pre.end_s) == (0.0, 240.0)
    assert (post.start_s, post.end_s) == (480.0, 720.0)
    assert "first and last 4:00" in pre.note and "a third of the session" in pre.note
    assert pre.label == "first 4:00"


def test_windows_from_markers() -> None:
    markers = [(30.0, "note"), (600.0, "treatment_start"), (2400.0, "treatment_end")]
    pre, post = phase_windows(3000.0, markers)
    assert (pre.start_s, pre.end_s, post.start_s, post.end_s) == (0.0, 600.0, 2400.0, 3000.0)
    assert pre.label == "before treatment" and post.label == "after treatment"
    assert "phase markers" in pre.note


def test_windows_end_before_start_falls_back() -> None:
    pre, post = phase_windows(3600.0, [(900.0, "treatment_end"), (1200.0, "treatment_start")])
    assert (pre.end_s, post.start_s) == (900.0, 2700.0)
    assert "incomplete" in pre.note


def test_ecg_known_heart_rate(ecg70: np.ndarray) -> None:
    r = ecg_summary(ecg70, RATE_HZ)
    assert r["hr_bpm"] == pytest.approx(70, abs=3)
    assert r["rmssd_ms"] is not None and r["rmssd_ms"] >= 0
    assert r["seconds_analysed"] == pytest.approx(90)
    assert r["n_beats"] == pytest.approx(70 * 90 / 60, abs=4)


def test_ecg_gap_gives_no_spurious_intervals(ecg70: np.ndarray) -> None:
    gapped = ecg70.copy()
    gapped[int(40 * RATE_HZ) : int(47.3 * RATE_HZ)] = np.nan  # 7.3 s lost mid-record
    r = ecg_summary(gapped, RATE_HZ)
    assert r["hr_bpm"] == pytest.approx(70, abs=3)
    assert r["seconds_analysed"] == pytest.approx(90 - 7.3, abs=0.01)
    # Beats match the analysed time; one RR fewer per stretch; no interval across the gap.
    assert r["n_beats"] == pytest.approx(70 * r["seconds_analysed"] / 60, abs=4)
    assert r["n_rr"] <= r["n_beats"] - 2
    t, bpm = heart_rate_series(gapped, RATE_HZ)
    assert np.all(np.abs(bpm - 70) < 5)
    assert not np.any((t > 40) & (t < 47.3))


def test_too_short_gives_none_with_reason(ecg70: np.ndarray) -> None:
    r = ecg_summary(ecg70[: int(5 * RATE_HZ)], RATE_HZ)
    assert r["hr_bpm"] is None and r["rmssd_ms"] is None
    assert "10 s" in r["reasons"]["hr_bpm"]
    e = eda_summary(np.full(int(5 * RATE_HZ), 4.0), RATE_HZ)
    assert e["tonic_us"] is None and e["scr_per_min"] is None and e["reasons"]["tonic_us"]
    e = eda_summary(np.full(int(30 * RATE_HZ), 4.0), RATE_HZ)  # level yes, rate needs a minute
    assert e["tonic_us"] == pytest.approx(4.0) and e["scr_per_min"] is None
    assert "60 s" in e["reasons"]["scr_per_min"]


def test_eda_tonic_level_follows_offset() -> None:
    onsets = [20.0, 55.0, 90.0]
    a = eda_summary(bateman_eda(120, onsets, 0.2, 2.0, RATE_HZ), RATE_HZ)
    b = eda_summary(bateman_eda(120, onsets, 0.2, 5.5, RATE_HZ), RATE_HZ)
    assert a["tonic_us"] == pytest.approx(2.0, abs=0.1)
    assert b["tonic_us"] - a["tonic_us"] == pytest.approx(3.5, abs=0.01)


def test_eda_scr_count_known() -> None:
    onsets = [8.0, 27.0, 41.0, 63.0, 80.0, 101.0, 119.0, 138.0, 160.0]
    r = eda_summary(bateman_eda(180, onsets, 0.3, 4.0, RATE_HZ), RATE_HZ)
    assert r["scr_count"] == len(onsets)
    assert r["scr_per_min"] == pytest.approx(len(onsets) / 3.0)
    flat = eda_summary(bateman_eda(180, [], 0.3, 4.0, RATE_HZ), RATE_HZ)
    assert flat["scr_count"] == 0


def test_summarize_roundtrip_and_sentence(ecg70: np.ndarray) -> None:
    import neurokit2 as nk

    ecg80 = nk.ecg_simulate(
        duration=90, sampling_rate=int(RATE_HZ), heart_rate=80, method="simple", random_state=4
    )
    ecg = np.concatenate([ecg80, ecg70, ecg70])
    eda = np.concatenate(
        [bateman_eda(90, [20, 50], 0.3, 6.0, RATE_HZ), np.full(90 * int(RATE_HZ), np.nan)]
        + [bateman_eda(90, [30], 0.3, 4.0, RATE_HZ)]
    )
    s = summarize(ecg, eda, RATE_HZ, 270.0, phase_minutes=1.5)
    assert [w.end_s for w in s.windows] == [90.0, 270.0]
    assert s.pre.hr_bpm == pytest.approx(80, abs=3) and s.post.hr_bpm == pytest.approx(70, abs=3)
    assert s.change["hr_bpm"] == pytest.approx(-10, abs=4)
    assert s.change["eda_tonic_us"] == pytest.approx(-2.0, abs=0.1)
    text = describe_change(s)
    assert text.startswith("Heart rate was ")
    assert "bpm lower and skin-conductance level " in text
    assert "µS lower in the last 1:30 than in the first 1:30." in text
    again = PhysiologySummary.from_dict(json.loads(json.dumps(s.to_dict())))
    assert again == s


def test_summarize_missing_stream_is_none() -> None:
    s = summarize(None, np.full(int(300 * RATE_HZ), 3.0), RATE_HZ, 300.0, phase_minutes=1.0)
    assert s.pre.hr_bpm is None and s.change["hr_bpm"] is None
    assert s.pre.reasons["hr_bpm"] == "no ECG recorded in this window"
    assert "Not compared: heart rate (no ECG recorded in this window)" in describe_change(s)


def test_series_fast_and_robust(ecg70: np.ndarray) -> None:
    last10 = ecg70[-int(10 * RATE_HZ) :]
    heart_rate_series(last10, RATE_HZ)  # warm the imports
    t0 = time.perf_counter()
    t, bpm = heart_rate_series(last10, RATE_HZ)
    tl, level = eda_level_series(np.full(last10.size, 3.0), RATE_HZ)
    assert time.perf_counter() - t0 < 0.05
    assert t.size >= 8 and np.all(np.abs(bpm - 70) < 5)
    assert tl.size == 40 and np.allclose(level, 3.0)
    for x in (np.zeros(0), np.zeros(3), np.full(500, np.nan)):
        assert heart_rate_series(x, RATE_HZ)[0].size == 0
    assert eda_level_series(np.zeros(0), RATE_HZ)[0].size == 0
    assert eda_level_series(np.zeros(3), RATE_HZ)[1].tolist() == [0.0]
    assert np.all(np.isnan(eda_level_series(np.full(500, np.nan), RATE_HZ)[1]))
