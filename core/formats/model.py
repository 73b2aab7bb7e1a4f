"""What every reader of a foreign recording returns: channels in physical units on their own
sample grid (lost samples are gaps in ``sample_index``), annotations, and what the file said
about itself.

A reader never resamples and never invents a sample: a channel keeps its own rate, and a sample
the file lacks (a BITalino nSeq jump, an EDF+D gap, an XDF stream's missing counter) is simply
absent from ``sample_index``. Units are normalised to the ones TheraScope stores (ECG in mV, EDA
in µS, see :func:`standard_unit`); a unit the readers do not know is kept as written, and the
import refuses such a channel as ECG or EDA with a plain message.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

import numpy as np

#: what a channel measures, as far as the file tells
KINDS = ("ecg", "eda", "other")


class FormatError(ValueError):
    """A file that cannot be read as the format it claims to be, in words a user understands
    (what is wrong and where), e.g. ``"EDF header: the file is 1,024 bytes long but its header
    says 3 data records of 2,048 bytes (truncated?)"``."""


@dataclass
class Channel:
    """One signal of a foreign recording.

    Parameters
    ----------
    label : str — the channel's name in the file (e.g. ``"A2"``, ``"ECG"``, ``"EDA-PZT"``)
    kind : str — ``"ecg"``, ``"eda"`` or ``"other"`` (from the file's sensor/type/label)
    unit : str — physical unit of ``values`` (``"mV"`` and ``"uS"`` for ECG and EDA where the
        file's unit is known; otherwise as written in the file)
    rate_hz : float — the channel's own sampling rate
    values : ndarray float64 — one value per sample present, in ``unit``
    sample_index : ndarray int64 — position of each value on the channel's grid (sample
        ``k`` is at ``t0_s + k / rate_hz``), strictly increasing; a jump is lost samples
    t0_s : float — time of grid position 0, seconds after the recording's start
    resolution : float or None — one quantisation step in ``unit`` (ADC step after the
        transfer function, EDF's physical range / digital range), None when unknown
    transducer : str — the sensor as the file names it (e.g. ``"ECG"``, ``"AgAgCl electrode"``)
    """

    label: str
    kind: str
    unit: str
    rate_hz: float
    values: np.ndarray
    sample_index: np.ndarray
    t0_s: float = 0.0
    resolution: float | None = None
    transducer: str = ""

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"Channel kind must be one of {KINDS}; got {self.kind!r}")
        if not self.rate_hz > 0:
            raise FormatError(
                f"Channel {self.label!r}: sampling rate {self.rate_hz!r} is not positive"
            )
        self.values = np.asarray(self.values, dtype=np.float64)
        self.sample_index = np.asarray(self.sample_index, dtype=np.int64)
        if self.values.shape != self.sample_index.shape or self.values.ndim != 1:
            raise ValueError(f"Channel {self.label!r}: one sample index per value is required")
        if len(self.sample_index) > 1 and np.any(np.diff(self.sample_index) <= 0):
            raise FormatError(f"Channel {self.label!r}: sample positions are not increasing")

    @property
    def n_grid(self) -> int:
        """Samples on the grid from position 0 to the last sample present (received + lost)."""
        return int(self.sample_index[-1]) + 1 if len(self.sample_index) else 0

    @property
    def n_lost(self) -> int:
        """Grid positions between the first and the last sample that the file lacks."""
        if len(self.sample_index) == 0:
            return 0
        return int(self.sample_index[-1] - self.sample_index[0] + 1 - len(self.sample_index))

    @property
    def duration_s(self) -> float:
        return self.n_grid / self.rate_hz

    def grid(self) -> np.ndarray:
        """The values on the full grid from position 0, NaN where a sample is missing."""
        out = np.full(self.n_grid, np.nan)
        out[self.sample_index] = self.values
        return out

    def times_s(self) -> np.ndarray:
        """Time of each value present, seconds after the recording's start."""
        return self.t0_s + self.sample_index / self.rate_hz


@dataclass(frozen=True)
class Annotation:
    """A timed note of the file (EDF+ TAL, XDF marker stream, OpenSignals event)."""

    onset_s: float
    duration_s: float
    text: str


@dataclass
class Recording:
    """A foreign recording as read from its file(s).

    Parameters
    ----------
    format : str — the format as found, e.g. ``"OpenSignals text"``, ``"EDF+D"``, ``"BDF"``, ``"XDF"``
    channels : list of Channel
    annotations : list of Annotation — onsets in seconds after the recording's start
    start : datetime or None — when the recording started as the file says (naive: local time
        of the recording machine, as EDF and OpenSignals write it)
    device : str — the device as the file names it (``""`` when it does not)
    notes : list of str — what the reader assumed or found (a conversion, lost samples), for the
        session's import record
    """

    format: str
    channels: list[Channel]
    annotations: list[Annotation] = field(default_factory=list)
    start: dt.datetime | None = None
    device: str = ""
    notes: list[str] = field(default_factory=list)

    def of_kind(self, kind: str) -> list[Channel]:
        return [c for c in self.channels if c.kind == kind]

    def channel(self, label: str) -> Channel:
        """The channel labelled ``label`` (exact, then case-insensitive)."""
        for c in self.channels:
            if c.label == label:
                return c
        for c in self.channels:
            if c.label.lower() == label.lower():
                return c
        raise FormatError(
            f"No channel {label!r} in this file; it has: "
            + (", ".join(repr(c.label) for c in self.channels) or "no signal channels")
        )

    @property
    def duration_s(self) -> float:
        return max((c.t0_s + c.duration_s for c in self.channels), default=0.0)


_ECG_WORDS = re.compile(r"\b(ecg|ekg|electrocardio\w*|lead\s*(i{1,3}|v\d)|ii)\b", re.I)
_EDA_WORDS = re.compile(r"\b(eda|gsr|scl|scr|electrodermal|skin\s*conductance|galvanic)\b", re.I)


def guess_kind(*names: str) -> str:
    """``"ecg"``, ``"eda"`` or ``"other"`` from a channel's label, type or sensor name(s).

    Words are matched whole (``"ECG"``, ``"EKG"``, ``"GSR"``, ``"EDA"``, ``"skin conductance"``;
    labels like ``"ECG1"``/``"EDA-PZT"`` too); the first name that says anything wins.
    """
    for name in names:
        if not name:
            continue
        text = re.sub(r"[_\-.:/]", " ", name)
        text = re.sub(r"(?<=[A-Za-z])(?=\d)", " ", text)  # "ECG1" → "ECG 1"
        if _ECG_WORDS.search(text):
            return "ecg"
        if _EDA_WORDS.search(text):
            return "eda"
    return "other"


#: factors to TheraScope's units: ECG in mV, EDA in µS
_TO_MV = {"v": 1e3, "mv": 1.0, "uv": 1e-3, "µv": 1e-3, "μv": 1e-3, "nv": 1e-6}
_TO_US = {
    "s": 1e6,
    "siemens": 1e6,
    "ms": 1e3,
    "us": 1.0,
    "µs": 1.0,
    "μs": 1.0,
    "usiemens": 1.0,
    "microsiemens": 1.0,
    "micro siemens": 1.0,
    "ns": 1e-3,
}


def standard_unit(kind: str, unit: str) -> tuple[str, float] | None:
    """(TheraScope's unit, factor) for a channel of ``kind`` written in ``unit``: values × factor
    are in the returned unit; None when ``unit`` is not one the kind is measured in (e.g. an ECG
    in ``"uS"``, an EDA in ``"a.u."``). Other kinds keep their unit (factor 1)."""
    u = unit.strip().replace(" ", "").lower() if unit else ""
    if kind == "ecg":
        f = _TO_MV.get(u)
        return ("mV", f) if f is not None else None
    if kind == "eda":
        f = _TO_US.get(u) or _TO_US.get(unit.strip().lower())
        return ("uS", f) if f is not None else None
    return (unit, 1.0)


def normalise_units(channel: Channel) -> Channel:
    """``channel`` with ECG in mV and EDA in µS (values and resolution scaled), unchanged when it
    already is or when its unit is unknown (the import then refuses it as ECG/EDA)."""
    std = standard_unit(channel.kind, channel.unit)
    if std is None or (std[0] == channel.unit and std[1] == 1.0):
        return channel
    unit, f = std
    channel.values = channel.values * f
    channel.unit = unit
    if channel.resolution is not None:
        channel.resolution = channel.resolution * f
    return channel
