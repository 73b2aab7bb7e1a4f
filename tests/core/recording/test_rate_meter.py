"""The live rate meter reads a steady stream at its rate ("800 of 800 Hz", never "801" or "810")
and falls when the data stop."""

from __future__ import annotations

import pytest

from core.recording.recorder import _RateMeter

MS = 1_000_000


def _steady(meter: _RateMeter, rate_hz: float, batch: int, until_ns: int) -> int:
    """Batches of ``batch`` items arriving at ``rate_hz`` items/s; returns the last arrival."""
    period = int(batch / rate_hz * 1e9)
    t = period
    while t <= until_ns:
        meter.add(t, batch)
        t += period
    return t - period


@pytest.mark.parametrize("phase_ms", [0, 1, 7, 12, 24])
def test_a_steady_stream_in_batches_reads_its_rate(phase_ms: int) -> None:
    meter = _RateMeter(0)
    last = _steady(meter, 800.0, 20, 5000 * MS)  # 20 samples every 25 ms
    assert meter.rate_hz(last + phase_ms * MS) == pytest.approx(800.0, rel=1e-9)


def test_frames_read_as_frames_per_second() -> None:
    meter = _RateMeter(0)
    last = _steady(meter, 60.0, 1, 4000 * MS)
    assert meter.rate_hz(last + 5 * MS) == pytest.approx(60.0, rel=1e-3)


def test_the_rate_falls_when_the_data_stop() -> None:
    meter = _RateMeter(0)
    last = _steady(meter, 800.0, 20, 5000 * MS)
    assert meter.rate_hz(last + 1000 * MS) < 800.0 * 0.6  # a second without data
    assert meter.rate_hz(last + 2100 * MS) == 0.0  # nothing left in the window
