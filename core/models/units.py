"""The unit of each bio signal, from file to model: ECG in mV, EDA (skin conductance) in µS.

TheraScope records ECG in mV and EDA in µS (streams spell them ASCII: ``"mV"``, ``"uS"``), and a
model's bio input is a signal in these units scaled by the checkpoint's ``scaling`` (mean and SD
in the same units). A checkpoint states its units in ``metadata["units"]``
(``{"ECG": "mV", "EDA": "uS"}``; ``metadata["scaling"]["units"]`` is read too); the analysis converts a session's signals into them, or refuses
the checkpoint when it cannot (:func:`unit_factor`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

#: TheraScope's unit for each bio signal (ASCII spelling, as streams store it)
SIGNAL_UNITS: dict[str, str] = {"ECG": "mV", "EDA": "uS"}

#: per signal: unit → how many of the signal's TheraScope unit one of it makes
_FACTORS: dict[str, dict[str, float]] = {
    "ECG": {"V": 1e3, "mV": 1.0, "uV": 1e-3, "µV": 1e-3},
    "EDA": {"S": 1e6, "mS": 1e3, "uS": 1.0, "µS": 1.0, "nS": 1e-3},
}


def unit_factor(signal: str, from_unit: str, to_unit: str) -> float | None:
    """The factor that turns ``signal`` samples in ``from_unit`` into ``to_unit``.

    Parameters
    ----------
    signal : str — ``"ECG"`` or ``"EDA"`` (other signals convert only between equal units)
    from_unit, to_unit : str — e.g. ``"uV"`` and ``"mV"``

    Returns
    -------
    float or None — multiply by it; None when the units cannot be matched (unknown or of another
    kind, e.g. ``"a.u."`` or ``"kOhm"`` for EDA)
    """
    if from_unit == to_unit:
        return 1.0
    table = _FACTORS.get(signal, {})
    if from_unit in table and to_unit in table:
        return table[from_unit] / table[to_unit]
    return None


def display_unit(unit: str) -> str:
    """Units as people write them (``uS`` → ``µS``)."""
    return {"uS": "µS", "uV": "µV"}.get(unit, unit)


def default_units(signals: Sequence[str]) -> dict[str, str]:
    """TheraScope's unit of each of ``signals`` (signals without one are left out)."""
    return {s: SIGNAL_UNITS[s] for s in signals if s in SIGNAL_UNITS}


def checkpoint_units(metadata: Mapping[str, Any]) -> dict[str, str] | None:
    """The units a checkpoint's bio input was scaled in, or None when it does not record them.

    Read from ``metadata["units"]``, else from ``metadata["scaling"]["units"]``.
    """
    units = metadata.get("units")
    if not isinstance(units, Mapping) or not units:
        scaling = metadata.get("scaling")
        units = scaling.get("units") if isinstance(scaling, Mapping) else None
    if not isinstance(units, Mapping) or not units:
        return None
    return {str(k): str(v) for k, v in units.items()}
