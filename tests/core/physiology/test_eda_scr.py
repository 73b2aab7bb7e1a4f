"""SCR counts on neurokit2's simulated EDA with its own noise, slow drift and 10-bit quantisation.

Issue 14: the old fixed 0.02 µS threshold counted ~35 responses in two minutes of simulated
noise with 3–6 responses. The truth here is the simulator's ``scr_number`` (responses about
0.85 µS, every 120 / n s), over 2-minute windows at 800 Hz, as recorded (float) and as BITalino's
10-bit ADC would give it (its EDA transfer function, :func:`devices.ble.bitalino.eda_us`).
"""

from __future__ import annotations

from functools import cache

import numpy as np
import pytest

from core.physiology.signals import (
    SCR_METHOD,
    SCR_MIN_AMPLITUDE_US,
    eda_step_us,
    eda_summary,
    scr_threshold_us,
)
from core.physiology.summary import PhysiologySummary, summarize
from devices.ble.bitalino import eda_us

RATE_HZ = 800.0
WINDOW_S = 120
#: One step of BITalino's 10-bit EDA (µS), ≈ 0.0244.
STEP_US = float(eda_us(np.array([1.0]))[0])


@cache
def simulated(n_scr: int, seed: int, quantised: bool, noise: float = 0.01) -> np.ndarray:
    """Two minutes of ``nk.eda_simulate`` (its default noise and -0.01 µS/s drift) at 800 Hz.

    A tonic level of 3 µS and a slow sine drift (0.3 µS, period 60–200 s) are added; quantised,
    the signal goes through the 10-bit ADC (round to the step, 0–1023) and back to µS.
    """
    import neurokit2 as nk

    x = nk.eda_simulate(
        duration=WINDOW_S,
        sampling_rate=int(RATE_HZ),
        scr_number=n_scr,
        noise=noise,
        random_state=seed,
    )
    t = np.arange(x.size) / RATE_HZ
    rng = np.random.default_rng(1000 + seed)
    drift = 0.3 * np.sin(2 * np.pi * t / rng.uniform(60.0, 200.0) + rng.uniform(0.0, 2 * np.pi))
    x = np.asarray(x) + 3.0 + drift
    if quantised:
        x = eda_us(np.clip(np.round(x / STEP_US), 0, 1023))
    x.setflags(write=False)
    return x


@pytest.mark.parametrize("quantised", [False, True], ids=["800Hz", "10bit"])
@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("n_scr", [2, 5, 8])
def test_scr_count_within_one_of_truth(n_scr: int, seed: int, quantised: bool) -> None:
    r = eda_summary(simulated(n_scr, seed, quantised), RATE_HZ)
    assert abs(r["scr_count"] - n_scr) <= 1, (n_scr, r["scr_count"], r["scr_threshold_us"])
    assert r["scr_per_min"] == pytest.approx(r["scr_count"] / (WINDOW_S / 60.0))


@pytest.mark.parametrize("quantised", [False, True], ids=["800Hz", "10bit"])
@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_no_scr_in_noise_and_drift(seed: int, quantised: bool) -> None:
    r = eda_summary(simulated(0, seed, quantised), RATE_HZ)
    assert r["scr_count"] == 0, r["scr_threshold_us"]


@pytest.mark.parametrize("quantised", [False, True], ids=["800Hz", "10bit"])
def test_no_scr_on_flat_signal(quantised: bool) -> None:
    x = np.full(int(WINDOW_S * RATE_HZ), 4.0)
    if quantised:
        x = eda_us(np.round(x / STEP_US))
    r = eda_summary(x, RATE_HZ)
    assert r["scr_count"] == 0 and r["scr_per_min"] == 0.0
    assert r["scr_threshold_us"] == SCR_MIN_AMPLITUDE_US


def test_threshold_follows_the_signals_noise() -> None:
    """Three times the simulator's noise: the threshold rises with it, the count stays right."""
    quiet = eda_summary(simulated(5, 4, False), RATE_HZ)
    noisy = eda_summary(simulated(5, 4, False, noise=0.03), RATE_HZ)
    assert noisy["eda_noise_us"] > 1.5 * quiet["eda_noise_us"]
    assert noisy["scr_threshold_us"] > 1.5 * quiet["scr_threshold_us"]
    assert abs(noisy["scr_count"] - 5) <= 1
    assert eda_summary(simulated(0, 4, True, noise=0.03), RATE_HZ)["scr_count"] == 0


def test_resolution_and_threshold() -> None:
    assert eda_step_us(simulated(0, 0, True)) == pytest.approx(STEP_US, rel=1e-6)
    assert eda_step_us(np.full(100, 2.0)) == 0.0
    assert eda_step_us(simulated(0, 0, False)) < 1e-3
    assert scr_threshold_us(0.0) == SCR_MIN_AMPLITUDE_US
    assert scr_threshold_us(0.0, STEP_US) == pytest.approx(3 * STEP_US)
    assert scr_threshold_us(0.02) == pytest.approx(0.24)
    r = eda_summary(simulated(2, 0, True), RATE_HZ)
    assert r["scr_threshold_us"] >= 3 * STEP_US * (1 - 1e-9)


def test_method_stored_beside_the_figures() -> None:
    eda = simulated(5, 0, True)
    r = eda_summary(eda, RATE_HZ)
    assert r["scr_method"] == SCR_METHOD and "smoothmedian" in SCR_METHOD
    s = summarize(None, np.concatenate([eda] * 3), RATE_HZ, 3 * WINDOW_S, phase_minutes=2.0)
    for m in s.metrics:
        assert m.scr_method == SCR_METHOD and m.n_scr == r["scr_count"]
        assert m.scr_threshold_us == pytest.approx(r["scr_threshold_us"])
    back = PhysiologySummary.from_dict(s.to_dict())
    assert back.pre.scr_method == SCR_METHOD
    # a summary stored before the method was recorded still reads
    old = s.to_dict()
    for m in old["metrics"]:
        del m["scr_method"], m["scr_threshold_us"]
    assert PhysiologySummary.from_dict(old).pre.scr_method == ""
