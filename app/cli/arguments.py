"""Checked numbers for the command line: ``type=`` validators that turn NaN, infinities, negative,
zero or absurd values into argparse's one-line error (exit code 2) naming the allowed range.

Example
-------
``p.add_argument("--batch", type=bounded(int, 1, 4096))`` refuses ``--batch 0`` with::

    therascope train: error: argument --batch: expected a whole number from 1 to 4096, got '0'
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from typing import overload

from core.config import MAX_SESSION_S, MIN_SESSION_S


def _num(value: float) -> str:
    """``86400.0`` → ``"86400"``, ``0.25`` → ``"0.25"``: a bound as a person writes it."""
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


@overload
def bounded(
    kind: type[int],
    lo: float,
    hi: float,
    *,
    unit: str = "",
    lo_open: bool = False,
    hi_open: bool = False,
    note: str = "",
) -> Callable[[str], int]: ...


@overload
def bounded(
    kind: type[float],
    lo: float,
    hi: float,
    *,
    unit: str = "",
    lo_open: bool = False,
    hi_open: bool = False,
    note: str = "",
) -> Callable[[str], float]: ...


def bounded(
    kind: type[int] | type[float],
    lo: float,
    hi: float,
    *,
    unit: str = "",
    lo_open: bool = False,
    hi_open: bool = False,
    note: str = "",
) -> Callable[[str], int] | Callable[[str], float]:
    """An argparse ``type=`` that accepts a finite ``kind`` between ``lo`` and ``hi`` only.

    Parameters
    ----------
    kind : ``int`` or ``float`` — a whole number or any (finite) number
    lo, hi : float — the allowed range, both ends included unless ``lo_open``/``hi_open``
    unit : str — what is counted, for the message ("seconds" → "a number of seconds …")
    lo_open, hi_open : bool — leave that end out ("above 0", "below 1")
    note : str — appended to the range in the message, e.g. ``" (24 h)"``

    Returns
    -------
    callable — ``str`` → ``kind``; raises :class:`argparse.ArgumentTypeError` with one line,
    "expected <the allowed range>, got '<text>'", for anything else (NaN, ±inf, 1e308, text)
    """
    if not (math.isfinite(lo) and math.isfinite(hi) and lo <= hi):
        raise ValueError(f"bounded(): a finite range is needed, not {lo!r} to {hi!r}")
    number = "a whole number" if kind is int else "a number"
    if unit:
        number += f" of {unit}"
    if lo_open or hi_open:
        low = f"above {_num(lo)}" if lo_open else f"at least {_num(lo)}"
        high = f"below {_num(hi)}" if hi_open else f"at most {_num(hi)}"
        allowed = f"{number} {low} and {high}{note}"
    else:
        allowed = f"{number} from {_num(lo)} to {_num(hi)}{note}"

    def check(text: str) -> int | float:
        try:
            value = kind(text.strip())
            # NaN fails every comparison; ±inf and 1e308 fail the range
            ok = (value > lo if lo_open else value >= lo) and (
                value < hi if hi_open else value <= hi
            )
        except (TypeError, ValueError, OverflowError):
            ok = False
        if not ok:
            raise argparse.ArgumentTypeError(f"expected {allowed}, got {text!r}")
        return value

    check.__name__ = kind.__name__  # argparse names the type in its own messages
    check.allowed = allowed  # type: ignore[attr-defined]  # for help texts and tests
    return check  # type: ignore[return-value]  # int or float, as ``kind`` (the overloads)


#: a session's length (s): from a second to a day (:data:`core.config.MAX_SESSION_S`)
SESSION_SECONDS = bounded(float, MIN_SESSION_S, MAX_SESSION_S, unit="seconds", note=" (24 h)")
#: a random seed: what NumPy and torch both take
SEED = bounded(int, 0, 2**32 - 1)
