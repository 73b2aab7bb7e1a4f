"""What an LSL stream's channels are: ECG and EDA columns, their units, and a counter column.

An LSL stream describes its channels (if at all) in its metadata, ``<desc><channels><channel>``
with ``label``, ``unit``, ``type`` and — OpenSignals — ``sensor``. OpenSignals (PLUX) names its
stream ``OpenSignals``, puts the device's MAC address in the stream type, sends the sample counter
``nSeq`` as the first data column and describes the sensor channels after it with their sensor
(``ECG``, ``EDA``…) and unit: ``mV`` / ``uS`` when it streams converted values, no physical unit
when it streams the raw ADC codes (pluxbiosignals/opensignals-samples, ``LSL/``). Raw codes are
converted with the PLUX transfer functions of :mod:`core.formats.opensignals` only where the
metadata names the device family and the channel's resolution; otherwise the stream is refused
in words (a raw code stored as millivolts would be silently wrong).

:func:`plan_channels` is pure (plain dicts in, a :class:`ChannelPlan` out) so that it is tested
without a network; :func:`read_channels` reads the dicts from a pylsl ``StreamInfo``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from core.formats.opensignals import TRANSFER

#: unit spellings → factor to mV (ECG) or µS (EDA)
ECG_UNITS = {"mv": 1.0, "millivolt": 1.0, "millivolts": 1.0, "v": 1000.0, "volts": 1000.0}
ECG_UNITS.update({"uv": 1e-3, "µv": 1e-3, "μv": 1e-3, "microvolts": 1e-3})
EDA_UNITS = {"us": 1.0, "µs": 1.0, "μs": 1.0, "microsiemens": 1.0, "ms": 1e3, "s": 1e6}
EDA_UNITS.update({"ns": 1e-3, "siemens": 1e6})
#: what a stream says for values that are not in a physical unit
RAW_UNITS = {"", "raw", "adc", "a.u.", "au", "counts", "count", "n/a", "none", "digital"}
#: channel labels of a sample counter
COUNTER_LABELS = {"nseq", "seq", "sequence", "counter", "samplecounter", "sample_counter"}


#: a MAC address: the content type OpenSignals gives its stream (the device's address)
MAC_ADDRESS = re.compile(r"^([0-9A-F]{2}[:-]){5}[0-9A-F]{2}$", re.I)


def is_opensignals(stream_name: str, stream_type: str) -> bool:
    """Whether a stream is OpenSignals': named ``OpenSignals`` or typed with a device's MAC
    address (pluxbiosignals/opensignals-samples ``LSL/Python/lsl_sample.py`` finds it so)."""
    return stream_name.strip().lower() == "opensignals" or bool(
        MAC_ADDRESS.match(stream_type.strip())
    )


class ChannelError(ValueError):
    """The stream's channels cannot be recorded as ECG/EDA (said in one sentence)."""

    expected = True


@dataclass(frozen=True)
class Column:
    """One recorded channel: the data column it comes from and how to bring it to its unit.

    Parameters
    ----------
    index : int — column in the LSL sample
    kind : str — ``"ECG"`` or ``"EDA"``
    unit : str — ``"mV"`` or ``"uS"``
    scale, offset : float — value = raw · scale + offset (converted values: offset 0)
    source_unit : str — what the stream said (``"raw"`` for ADC codes)
    """

    index: int
    kind: str
    unit: str
    scale: float
    offset: float
    source_unit: str


@dataclass(frozen=True)
class ChannelPlan:
    """How to read one LSL stream's samples.

    Parameters
    ----------
    columns : tuple of Column — the ECG/EDA columns recorded, in order
    counter : int or None — the column holding the stream's own sample counter (nSeq)
    labels : tuple of str — every column's label, as understood (for the session's description)
    counter_modulus : int or None — the value the counter wraps at, where the metadata says it
        (:func:`counter_modulus`); None: unknown (learnt from the stream) or it never wraps
    """

    columns: tuple[Column, ...]
    counter: int | None
    labels: tuple[str, ...]
    counter_modulus: int | None = None

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(c.kind for c in self.columns)

    @property
    def units(self) -> tuple[str, ...]:
        return tuple(c.unit for c in self.columns)

    def convert(self, data: np.ndarray) -> np.ndarray:
        """The recorded channels (n, len(columns)) float32 from the stream's (n, channels)."""
        out = np.empty((data.shape[0], len(self.columns)), dtype=np.float32)
        for j, c in enumerate(self.columns):
            col = np.asarray(data[:, c.index], dtype=np.float64)
            out[:, j] = col * c.scale + c.offset
        return out

    def describe(self) -> dict[str, object]:
        return {
            "columns": [
                {"index": c.index, "kind": c.kind, "unit": c.unit, "source_unit": c.source_unit}
                for c in self.columns
            ],
            "counter_column": self.counter,
            "counter_modulus": self.counter_modulus,
            "labels": list(self.labels),
        }


def _kind(text: str) -> str | None:
    """``"ECG"``, ``"EDA"``, ``"COUNTER"`` or None from a channel label, sensor or type."""
    t = text.strip().upper().replace("BITREV", "").replace("BIT", "").strip()
    if t.lower().replace(" ", "") in COUNTER_LABELS:
        return "COUNTER"
    if t.startswith(("ECG", "EKG")):
        return "ECG"
    if t.startswith(("EDA", "GSR", "SCL", "SKINCONDUCTANCE")):
        return "EDA"
    return None


def counter_modulus(entry: dict[str, str], device: str = "") -> int | None:
    """The value a counter channel wraps at, where the metadata tells it: ``modulus``;
    ``max`` (+1); a ``resolution`` in bits (2^bits); or a BITalino (its nSeq has 4 bits)."""

    def number(key: str) -> int | None:
        try:
            v = int(float(entry.get(key, "")))
        except ValueError:
            return None
        return v if v > 0 else None

    if (m := number("modulus")) is not None and m > 1:
        return m
    if (m := number("max")) is not None:
        return m + 1
    if (bits := number("resolution")) is not None and bits <= 63:
        return 1 << bits
    return 16 if _family(device) == "bitalino" else None


def _family(device: str) -> str:
    d = device.strip().lower()
    if d.startswith("bitalino"):
        return "bitalino"
    if "plux" in d:
        return "biosignalsplux"
    return ""


def _raw_transfer(kind: str, device: str, resolution: str, label: str) -> tuple[float, float]:
    family = _family(device)
    tf = TRANSFER.get((family, kind)) if family else None
    try:
        bits = int(float(resolution))
    except ValueError:
        bits = 0
    if tf is None or not 1 <= bits <= 24:
        raise ChannelError(
            f"Channel {label!r} carries raw ADC codes, and the stream does not say the device and "
            "resolution needed to convert them: stream converted values (mV for ECG, µS for EDA) "
            "from OpenSignals instead."
        )
    vcc, div = tf
    step = vcc / 2.0**bits / div
    if kind == "ECG":  # ECG(mV) = (ADC/2^n − 1/2) · VCC / G · 1000
        return step * 1000.0, -0.5 * vcc / div * 1000.0
    return step, 0.0  # EDA(µS) = ADC/2^n · VCC / divisor


def plan_channels(
    stream_name: str,
    stream_type: str,
    channel_count: int,
    channels: list[dict[str, str]],
    device: str = "",
) -> ChannelPlan:
    """Which columns of a stream are ECG, EDA and its sample counter, and in which units.

    Parameters
    ----------
    stream_name, stream_type : str — the stream's name and content type
    channel_count : int — values per sample
    channels : list of dict — the metadata's channel entries (``label``, ``unit``, ``type``,
        ``sensor``, ``resolution``; any may be missing); ``channel_count`` of them, or — an
        OpenSignals stream only (:func:`is_opensignals`) — one fewer, its first column being the
        undescribed counter nSeq
    device : str — the device the stream names (``desc/device`` or similar), for raw codes

    Raises
    ------
    ChannelError — no ECG or EDA channel, or one whose unit cannot be brought to mV / µS
    """
    entries = list(channels)
    lead_counter = False
    if len(entries) == channel_count - 1 and channel_count > 1:
        if not is_opensignals(stream_name, stream_type):
            # another program's layout is unknown: a column taken for a counter would shift
            # every channel by one
            raise ChannelError(
                f"The stream {stream_name!r} describes {len(entries)} channels but sends "
                f"{channel_count}, so TheraScope cannot tell which column is which (only "
                "OpenSignals streams are known to send an undescribed sample counter first)."
            )
        entries = [{"label": "nSeq"}, *entries]  # OpenSignals: nSeq first, undescribed
        lead_counter = True
    if not entries:
        kind = _kind(stream_type) or _kind(stream_name)
        if kind in ("ECG", "EDA") and channel_count == 1:
            entries = [{"label": kind, "type": kind}]
        else:
            raise ChannelError(
                f"The stream {stream_name!r} does not describe its channels, so TheraScope cannot "
                "tell which one is ECG or EDA."
            )
    if len(entries) != channel_count:
        raise ChannelError(
            f"The stream {stream_name!r} describes {len(entries)} channels but sends "
            f"{channel_count}."
        )
    columns: list[Column] = []
    counter: int | None = 0 if lead_counter else None
    modulus = counter_modulus(entries[0], device) if lead_counter else None
    labels: list[str] = []
    for i, e in enumerate(entries):
        label = (e.get("label") or e.get("sensor") or e.get("type") or f"ch{i + 1}").strip()
        labels.append(label)
        kind = None
        for key in ("sensor", "label", "type"):
            kind = kind or _kind(e.get(key, ""))
        if kind == "COUNTER":
            if counter is None:
                counter, modulus = i, counter_modulus(e, device)
            continue
        if kind not in ("ECG", "EDA"):
            continue
        unit = (e.get("unit") or "").strip()
        key = unit.lower().replace(" ", "")
        table = ECG_UNITS if kind == "ECG" else EDA_UNITS
        if key in table:
            scale, offset = table[key], 0.0
        elif key in RAW_UNITS:
            scale, offset = _raw_transfer(kind, device, e.get("resolution", ""), label)
            unit = "raw"
        else:
            want = "mV" if kind == "ECG" else "µS"
            raise ChannelError(
                f"Channel {label!r} is in {unit!r}, which TheraScope cannot bring to {want}."
            )
        columns.append(Column(i, kind, "mV" if kind == "ECG" else "uS", scale, offset, unit))
    if not columns:
        raise ChannelError(
            f"The stream {stream_name!r} has no ECG or EDA channel (channels: {', '.join(labels)})."
        )
    return ChannelPlan(tuple(columns), counter, tuple(labels), modulus)


def read_channels(info: Any) -> tuple[list[dict[str, str]], str]:
    """The channel entries and the device name from a full pylsl ``StreamInfo`` (from an inlet)."""
    desc = info.desc()
    out: list[dict[str, str]] = []
    ch = desc.child("channels").child("channel")
    while not ch.empty() and len(out) < 4096:
        out.append(
            {
                k: ch.child_value(k)
                for k in ("label", "unit", "type", "sensor", "resolution", "modulus", "max")
                if ch.child_value(k)
            }
        )
        ch = ch.next_sibling("channel")
    device = desc.child_value("device") or desc.child_value("model")
    return out, device
