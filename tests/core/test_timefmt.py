"""Times as printed: one function per format, the outputs the screens and reports rely on."""

from __future__ import annotations

import pytest

from core.timefmt import (
    format_clock,
    format_clock_tenths,
    format_duration,
    format_seconds,
)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0.0, "0:00"),
        (7.4, "0:07"),
        (59.5, "1:00"),
        (725.0, "12:05"),
        (3599.4, "59:59"),
        (3600.0, "1:00:00"),
        (3725.0, "1:02:05"),
        (36000.0, "10:00:00"),
        (-5.0, "0:00"),
        (None, "–"),
    ],
)
def test_format_clock(seconds: float | None, text: str) -> None:
    assert format_clock(seconds) == text


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0.0, "0:00.0"),
        (7.46, "0:07.5"),
        (725.0, "12:05.0"),
        (3723.4, "1:02:03.4"),
        (-1.0, "0:00.0"),
    ],
)
def test_format_clock_tenths(seconds: float, text: str) -> None:
    assert format_clock_tenths(seconds) == text


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0.0, "0 min 00 s"),
        (725.0, "12 min 05 s"),
        (3725.0, "1 h 02 min 05 s"),
        (-3.0, "0 min 00 s"),
    ],
)
def test_format_duration(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


@pytest.mark.parametrize(
    ("seconds", "text"), [(4.24, "4.2 s"), (1.0, "1.0 s"), (0.999, "1.00 s"), (0.352, "0.35 s")]
)
def test_format_seconds(seconds: float, text: str) -> None:
    assert format_seconds(seconds) == text
