"""The plain sentence on which stretches of a session are "pre" and "post" (issue 12)."""

from __future__ import annotations

import re

import numpy as np
import pytest

from core.analysis.circumplex import MARKER_PRE_LABEL, session_circumplex, window_rule_sentence
from core.physiology import summary
from core.physiology.summary import phase_windows

DECIMAL_MINUTES = re.compile(r"\d+[.,]\d+\s*min\b")


def sentence(duration_s: float, markers=None, phase_minutes: float | None = 15.0) -> str:
    pre, post = phase_windows(duration_s, markers, phase_minutes or 15.0)
    return window_rule_sentence(pre, post, phase_minutes)


def test_long_session_first_and_last_minutes() -> None:
    assert (
        sentence(52 * 60 + 10)
        == "Pre = the first 15:00, post = the last 15:00 of the 52:10 session."
    )
    # exactly three windows long: still the first and last 15 minutes
    assert sentence(45 * 60) == "Pre = the first 15:00, post = the last 15:00 of the 45:00 session."
    # another window length from the settings
    assert sentence(3600, phase_minutes=10) == (
        "Pre = the first 10:00, post = the last 10:00 of the 1:00:00 session."
    )


def test_short_session_thirds() -> None:
    assert sentence(6 * 60) == (
        "This 6:00 session is shorter than 45:00, so pre = its first third (0:00–2:00) and "
        "post = its last third (4:00–6:00)."
    )
    assert sentence(25 * 60, phase_minutes=10) == (
        "This 25:00 session is shorter than 30:00, so pre = its first third (0:00–8:20) and "
        "post = its last third (16:40–25:00)."
    )
    # 20 s: seconds on a clock, never "first 0.1 min"
    short = sentence(20.0)
    assert short == (
        "This 0:20 session is shorter than 45:00, so pre = its first third (0:00–0:07) and "
        "post = its last third (0:13–0:20)."
    )
    assert not DECIMAL_MINUTES.search(short)


def test_without_the_window_length_the_windows_tell() -> None:
    assert sentence(52 * 60 + 10, phase_minutes=None) == (
        "Pre = the first 15:00, post = the last 15:00 of the 52:10 session."
    )
    assert sentence(6 * 60, phase_minutes=None) == (
        "Pre = the first third (0:00–2:00), post = the last third (4:00–6:00) of this 6:00 session."
    )


def test_phase_markers() -> None:
    marks = [(12 * 60, "treatment_start"), (40 * 60, "treatment_end")]
    assert sentence(52 * 60 + 10, marks) == (
        "Pre = before treatment (0:00–12:00), post = after treatment (40:00–52:10), as the phase "
        "markers of this 52:10 session set them."
    )
    # markers that cannot be used: the rule without them
    assert sentence(6 * 60, [(100.0, "treatment_end")]).startswith("This 6:00 session is shorter")
    assert MARKER_PRE_LABEL == summary._BEFORE


@pytest.mark.parametrize("duration_s", [20.0, 6 * 60.0, 52 * 60 + 10.0])
def test_the_circumplex_windows_give_the_same_sentence(duration_s: float) -> None:
    pre, post = phase_windows(duration_s)
    expected = window_rule_sentence(pre, post, 15.0)
    t = np.arange(0.0, duration_s, 0.5)
    c = session_circumplex(t, np.zeros_like(t), np.zeros_like(t), [pre, post])
    assert window_rule_sentence(c.pre, c.post, 15.0) == expected
    # a summary read back from the catalog says the same
    back = type(c).from_dict(c.to_dict())
    assert window_rule_sentence(back.pre, back.post, 15.0) == expected
