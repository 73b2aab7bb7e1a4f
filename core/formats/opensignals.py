"""OpenSignals (r)evolution recordings (PLUX: BITalino, biosignalsplux), text (.txt) and HDF5 (.h5).

Text files
    Line 1 ``# OpenSignals Text File Format``, line 2 ``# {json}`` (one key per device MAC, each
    with ``"column"``, ``"sampling rate"``, ``"resolution"`` (bits per column), ``"sensor"`` and
    ``"label"`` (per analog channel), ``"device"``, ``"device name"``, ``"date"``, ``"time"``...),
    then ``# EndOfHeader`` and tab-separated integer rows. A row holds the columns of every device
    one after the other, in the order of the header's keys.

HDF5 files
    One group per device MAC; the header fields are attributes of the group (plain values, or
    JSON text); the samples are datasets under ``raw``: ``raw/nSeq`` and ``raw/channel_<n>`` (one
    column each, ``n`` as in the ``"channels"`` attribute), each channel dataset with a
    ``"sensor"`` attribute (the layout biosignalsnotebooks' ``load`` module reads).

Transfer functions (ADC → physical unit, ``n`` = the channel's resolution in bits)
    * BITalino ECG — PLUX, *Electrocardiography (ECG) Sensor Data Sheet* (BITalino):
      ``ECG(mV) = ((ADC/2^n − 1/2) · VCC / G_ECG) · 1000`` with VCC = 3.3 V, G_ECG = 1100.
    * biosignalsplux ECG — PLUX, *biosignalsplux Electrocardiography (ECG) Sensor User Manual*:
      the same formula with VCC = 3 V, G_ECG = 1019 (PLUX's biosignalsnotebooks ``conversion.py``
      uses the same 3.0 V / 1.019 V/mV; the 2015 *ECG Sensor Data Sheet* for biosignalsplux gave
      a gain of 1000, about 2 % apart).
    * BITalino (r)evolution EDA — PLUX, *Electrodermal Activity (EDA) Sensor User Manual*
      (BITalino, v1.0 2020): ``EDA(µS) = (ADC/2^n · VCC) / 0.132`` with VCC = 3.3 V (range 0–25 µS
      at 3.3 V; the pre-(r)evolution sensor had another formula and is not handled).
    * biosignalsplux EDA — PLUX, *biosignalsplux Electrodermal Activity (EDA) Sensor User
      Manual*: ``EDA(µS) = (ADC/2^n · VCC) / 0.12`` with VCC = 3 V.

    Other sensors keep their raw ADC codes (unit ``"ADC"``). ``Channel.resolution`` is one ADC
    step through the transfer function.

Lost samples
    ``nSeq`` is the device's sample counter: BITalino sends 4 bits (0..15, wrapping at 16), so a
    jump of 16 or more samples cannot be seen; biosignalsplux counts on (a wrap, if one shows, is
    taken at the next power of two above the largest count). Each jump of the unwrapped counter
    is lost samples: they are gaps in ``sample_index``.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from core.formats.model import Channel, FormatError, Recording, guess_kind

__all__ = ["read_opensignals", "TRANSFER"]

#: (VCC volts, divisor) of each transfer function, by (device family, sensor)
TRANSFER: dict[tuple[str, str], tuple[float, float]] = {
    ("bitalino", "ECG"): (3.3, 1100.0),
    ("biosignalsplux", "ECG"): (3.0, 1019.0),
    ("bitalino", "EDA"): (3.3, 0.132),
    ("biosignalsplux", "EDA"): (3.0, 0.12),
}

#: device types that use the biosignalsplux transfer functions (PLUX's 3 V hubs)
_PLUX_3V = (
    "biosignalsplux",
    "biosignalspluxsolo",
    "bioplux",
    "bioplux_exp",
    "channeller",
    "rachimeter",
    "swifter",
    "openbanplux",
    "ddme_openbanplux",
)

#: OpenSignals' HDF5 nSeq is uint16 and stays at this value once the count passes it
_NSEQ_CLIP = 65535

_DIGITAL_COLUMN = re.compile(r"^(I\d+|O\d+|DI\d*|DO\d*)$", re.I)
_ANALOG_COLUMN = re.compile(r"^(A\d+|CH\d+\w*|AI\d+\w*)$", re.I)


@dataclass
class _Device:
    """One device's part of a file: its header and its columns of samples."""

    key: str
    header: dict[str, Any]
    nseq: np.ndarray | None
    analog: list[np.ndarray]
    labels: list[str]
    sensors: list[str]
    bits: list[int]


def read_opensignals(path: str | Path) -> Recording:
    """Read an OpenSignals (r)evolution text (.txt) or HDF5 (.h5) file.

    Parameters
    ----------
    path : str or Path
        The file; HDF5 is recognised by its signature, anything else is read as text.

    Returns
    -------
    Recording
        One channel per analog channel of every device (labels prefixed with the device name
        when the file holds several devices), ECG in mV and EDA in µS where the sensor and device
        are known, raw ADC codes otherwise; lost samples (nSeq jumps) are gaps in
        ``sample_index`` and counted in ``notes``.

    Raises
    ------
    FormatError
        When the file is not an OpenSignals file or is damaged (the message says where).
    """
    path = Path(path)
    try:
        with path.open("rb") as f:
            magic = f.read(8)
    except OSError as e:
        raise FormatError(f"Cannot open {path.name}: {e.strerror or e}") from None
    notes: list[str] = []
    if magic == b"\x89HDF\r\n\x1a\n":
        devices = _read_h5(path, notes)
        fmt = "OpenSignals HDF5"
    else:
        devices = _read_text(path, notes)
        fmt = "OpenSignals text"
    return _recording(fmt, devices, notes)


# ------------------------------------------------------------------------------------- text


def _read_text(path: Path, notes: list[str]) -> list[_Device]:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as e:
        raise FormatError(f"Cannot read {path.name}: {e.strerror or e}") from None
    lines = text.split("\n")
    if not lines or "opensignals" not in lines[0].lower():
        raise FormatError(
            f"{path.name} is not an OpenSignals text file: its first line should be "
            "'# OpenSignals Text File Format'"
        )
    header: dict[str, Any] | None = None
    end = None
    for i, line in enumerate(lines[1:], start=1):
        s = line.strip()
        if not s.startswith("#"):
            break
        body = s.lstrip("#").strip()
        if body.lower() == "endofheader":
            end = i
            break
        if body.startswith("{") and header is None:
            try:
                parsed = json.loads(body)
            except json.JSONDecodeError as e:
                raise FormatError(
                    f"OpenSignals header (line {i + 1}) is not valid JSON: {e.msg} at column "
                    f"{e.colno}"
                ) from None
            if not isinstance(parsed, dict) or not parsed:
                raise FormatError(f"OpenSignals header (line {i + 1}) names no device")
            header = parsed
    if header is None:
        raise FormatError(f"{path.name} has no OpenSignals JSON header on its second line")
    if end is None:
        raise FormatError(f"{path.name}: the header has no '# EndOfHeader' line")

    layouts = []
    for key, h in header.items():
        if not isinstance(h, dict):
            raise FormatError(f"OpenSignals header: the entry for device {key!r} is not a record")
        columns = h.get("column")
        if not isinstance(columns, list) or not all(isinstance(c, str) for c in columns):
            raise FormatError(f"OpenSignals header: device {key!r} lists no columns")
        layouts.append((key, h, [str(c) for c in columns]))
    n_fields = sum(len(c) for _, _, c in layouts)

    tokens: list[str] = []
    used: list[tuple[int, list[str]]] = []
    data_lines = [(i + 1, lines[i]) for i in range(end + 1, len(lines)) if lines[i].strip()]
    for k, (lineno, line) in enumerate(data_lines):
        fields = line.split()
        if len(fields) != n_fields:
            if k == len(data_lines) - 1 and len(fields) < n_fields:
                notes.append(
                    f"The last line, line {lineno}, was cut short ({len(fields)} of {n_fields} "
                    "values) and was left out."
                )
                break
            raise FormatError(
                f"{path.name}, line {lineno}: {len(fields)} values where the header's columns "
                f"call for {n_fields}"
            )
        tokens.extend(fields)
        used.append((lineno, fields))
    if not used:
        raise FormatError(f"{path.name} holds no samples after its header")
    try:
        data = np.array(tokens, dtype=np.int64).reshape(len(used), n_fields)
    except (ValueError, OverflowError):
        for lineno, fields in used:
            bad = next((v for v in fields if not _is_int(v)), None)
            if bad is not None:
                raise FormatError(
                    f"{path.name}, line {lineno}: {bad!r} is not a whole number"
                ) from None
        raise FormatError(f"{path.name}: a value is too large for a sample") from None

    devices = []
    col = 0
    for key, h, columns in layouts:
        block = data[:, col : col + len(columns)]
        col += len(columns)
        devices.append(_device_from_columns(key, h, columns, block))
    return devices


def _is_int(v: str) -> bool:
    return re.fullmatch(r"[+-]?\d+", v) is not None


def _device_from_columns(
    key: str, h: dict[str, Any], columns: list[str], block: np.ndarray
) -> _Device:
    nseq = None
    nseq_cols = [j for j, name in enumerate(columns) if name.lower() == "nseq"]
    if nseq_cols:
        nseq = block[:, nseq_cols[0]]
    # The analog columns are the last ones, one per entry of "sensor" (OpenSignals names them
    # after the channel's label, which may be anything: "A3", "CH1", "PORT3_CHN1", "X"); the
    # columns before them are nSeq and the digital ports ("DI", "I1", "O2"...).
    n_sensors = _list_len(h.get("sensor"))
    if n_sensors is None:
        n_sensors = _list_len(h.get("label"))
    if n_sensors is not None and 0 < n_sensors <= len(columns) - len(nseq_cols):
        analog_cols = list(range(len(columns) - n_sensors, len(columns)))
        for j, name in enumerate(columns[: analog_cols[0]]):
            if j not in nseq_cols and not _DIGITAL_COLUMN.match(name):
                raise FormatError(
                    f"OpenSignals header: device {key!r} has an unknown column {name!r} "
                    f"before its {n_sensors} analog column{'s' if n_sensors != 1 else ''}"
                )
        if any(j in nseq_cols for j in analog_cols):
            raise FormatError(
                f"OpenSignals header: device {key!r} lists {n_sensors} sensors but only "
                f"{len(columns) - len(nseq_cols)} columns besides nSeq"
            )
    else:
        analog_cols = []
        for j, name in enumerate(columns):
            if j in nseq_cols or _DIGITAL_COLUMN.match(name):
                continue
            if _ANALOG_COLUMN.match(name):
                analog_cols.append(j)
            else:
                raise FormatError(
                    f"OpenSignals header: device {key!r} has an unknown column {name!r}"
                )
    bits_all = _int_list(h.get("resolution"), f"device {key!r}: resolution")
    if len(bits_all) == len(columns):
        bits = [bits_all[j] for j in analog_cols]
    elif len(bits_all) == len(analog_cols):
        bits = bits_all
    elif len(bits_all) == 1:
        bits = bits_all * len(analog_cols)
    else:
        raise FormatError(
            f"OpenSignals header: device {key!r} gives {len(bits_all)} resolutions for "
            f"{len(columns)} columns"
        )
    names = [columns[j] for j in analog_cols]
    sensors = _str_list(h.get("sensor"), len(analog_cols), ["RAW"] * len(analog_cols))
    labels = _str_list(h.get("label"), len(analog_cols), names)
    if len(labels) != len(analog_cols):
        labels = names
    if len(sensors) != len(analog_cols):
        raise FormatError(
            f"OpenSignals header: device {key!r} names {len(sensors)} sensors for "
            f"{len(analog_cols)} analog columns"
        )
    return _Device(
        key=key,
        header=h,
        nseq=nseq,
        analog=[block[:, j] for j in analog_cols],
        labels=labels,
        sensors=sensors,
        bits=bits,
    )


def _list_len(value: Any) -> int | None:
    """How many entries a header list has (None when the field is missing or not a list)."""
    if isinstance(value, np.ndarray):
        return int(value.size)
    if isinstance(value, list):
        return len(value)
    return None


def _int_list(value: Any, what: str) -> list[int]:
    if isinstance(value, (int, np.integer)):
        return [int(value)]
    if isinstance(value, np.ndarray):
        value = value.ravel().tolist()
    if isinstance(value, list) and value and all(isinstance(v, (int, np.integer)) for v in value):
        return [int(v) for v in value]
    raise FormatError(f"OpenSignals header, {what}: expected whole numbers, found {value!r}")


def _str_list(value: Any, n: int, default: list[str]) -> list[str]:
    if value is None:
        return default
    if isinstance(value, str):
        value = [value]
    if isinstance(value, np.ndarray):
        value = value.ravel().tolist()
    if not isinstance(value, list):
        return default
    out = [_text(v) for v in value]
    return out if out else default


# ------------------------------------------------------------------------------------- HDF5


def _read_h5(path: Path, notes: list[str]) -> list[_Device]:
    import h5py

    try:
        f = h5py.File(path, "r")
    except OSError as e:
        raise FormatError(f"{path.name} cannot be opened as HDF5: {e}") from None
    try:
        return _h5_devices(path, f)
    except FormatError:
        raise
    except (KeyError, TypeError, ValueError, OSError, AttributeError, IndexError) as e:
        raise FormatError(f"{path.name}: the OpenSignals HDF5 layout is damaged ({e})") from None
    finally:
        f.close()


def _h5_devices(path: Path, f: Any) -> list[_Device]:
    import h5py

    devices = []
    for key in f:
        grp = f[key]
        if not isinstance(grp, h5py.Group):
            continue
        if "raw" not in grp or not isinstance(grp["raw"], h5py.Group):
            raise FormatError(f"OpenSignals HDF5: device {key!r} has no 'raw' group")
        h = {k: _attr(v) for k, v in grp.attrs.items()}
        raw = grp["raw"]
        chans = h.get("channels")
        if chans is None:
            chans = sorted(int(n.split("_")[1]) for n in raw if re.fullmatch(r"channel_\d+", n))
        channels = _int_list(chans, f"device {key!r}: channels")
        analog, sensors, labels, own_bits = [], [], [], []
        for c in channels:
            name = f"channel_{c}"
            if name not in raw:
                raise FormatError(f"OpenSignals HDF5: device {key!r} has no raw/{name}")
            ds = raw[name]
            try:
                analog.append(np.asarray(ds[()]).ravel().astype(np.int64))
            except (TypeError, ValueError):
                raise FormatError(
                    f"OpenSignals HDF5: raw/{name} of device {key!r} is not integer samples"
                ) from None
            a = {k: _attr(v) for k, v in ds.attrs.items()}
            sensors.append(_text(a.get("sensor", "RAW")) or "RAW")
            labels.append(_text(a.get("label", f"CH{c}")) or f"CH{c}")
            own_bits.append(a.get("resolution"))
        if "sensor" in h and not any("sensor" in raw[f"channel_{c}"].attrs for c in channels):
            sensors = _str_list(h["sensor"], len(channels), sensors)
        if "label" in h:
            group_labels = _str_list(h["label"], len(channels), labels)
            labels = group_labels if len(group_labels) == len(channels) else labels
        if len(sensors) != len(channels):
            raise FormatError(
                f"OpenSignals HDF5: device {key!r} names {len(sensors)} sensors for "
                f"{len(channels)} channels"
            )
        if all(b is not None for b in own_bits):
            bits = [_int_list(b, f"device {key!r}: resolution")[0] for b in own_bits]
        else:
            res = _int_list(h.get("resolution"), f"device {key!r}: resolution")
            bits = res[-len(channels) :] if len(res) >= len(channels) else res * len(channels)
        nseq = np.asarray(raw["nSeq"][()]).ravel().astype(np.int64) if "nSeq" in raw else None
        lengths = {len(a) for a in analog} | ({len(nseq)} if nseq is not None else set())
        if len(lengths) > 1:
            raise FormatError(
                f"OpenSignals HDF5: the datasets of device {key!r} differ in length "
                f"({sorted(lengths)})"
            )
        devices.append(
            _Device(
                key=str(key),
                header=h,
                nseq=nseq,
                analog=analog,
                labels=labels,
                sensors=sensors,
                bits=bits,
            )
        )
    if not devices:
        raise FormatError(f"{path.name} holds no OpenSignals device group")
    return devices


def _attr(v: Any) -> Any:
    """An HDF5 attribute as plain Python: bytes decoded, JSON text parsed, arrays as lists."""
    if isinstance(v, bytes):
        v = v.decode("utf-8", errors="replace")
    if isinstance(v, np.ndarray):
        return [_attr(x) for x in v.ravel().tolist()] if v.ndim else _attr(v.item())
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, str):
        s = v.strip()
        if s[:1] in "[{":
            try:
                return json.loads(s)
            except json.JSONDecodeError:
                return v
    return v


def _text(v: Any) -> str:
    if isinstance(v, bytes):
        return v.decode("utf-8", errors="replace")
    return str(v)


# ------------------------------------------------------------------------------ recording


def _recording(fmt: str, devices: list[_Device], notes: list[str]) -> Recording:
    channels: list[Channel] = []
    several = len(devices) > 1
    names = []
    start = None
    for d in devices:
        h = d.header
        dev_type = _text(h.get("device", "")).strip()
        dev_name = _text(h.get("device name", d.key)).strip() or d.key
        names.append(" ".join(p for p in (dev_type, dev_name) if p))
        rate = _rate(h.get("sampling rate"), d.key)
        n = len(d.analog[0]) if d.analog else (len(d.nseq) if d.nseq is not None else 0)
        index = _sample_index(d, dev_type, dev_name, n, notes)
        family = _family(dev_type)
        for raw, label, sensor, bits in zip(d.analog, d.labels, d.sensors, d.bits, strict=True):
            base = _sensor_base(sensor)
            full_label = f"{dev_name} {label}" if several else label
            tf = TRANSFER.get((family, base)) if family else None
            if tf is not None:
                vcc, div = tf
                step = vcc / 2.0**bits / div
                if base == "ECG":
                    values = (raw / 2.0**bits - 0.5) * vcc / div * 1000.0
                    kind, unit, resolution = "ecg", "mV", step * 1000.0
                else:
                    values = raw / 2.0**bits * vcc / div
                    kind, unit, resolution = "eda", "uS", step
            else:
                values = raw.astype(np.float64)
                kind = guess_kind(label)
                if base in ("ECG", "EDA"):
                    kind = base.lower()
                    notes.append(
                        f"{full_label}: no transfer function is known for a {base} sensor on a "
                        f"{dev_type or 'unnamed'} device; raw ADC codes kept."
                    )
                unit, resolution = "ADC", 1.0
            channels.append(
                Channel(
                    label=full_label,
                    kind=kind,
                    unit=unit,
                    rate_hz=rate,
                    values=values,
                    sample_index=index,
                    t0_s=0.0,
                    resolution=resolution,
                    transducer=sensor,
                )
            )
        if start is None:
            start = _start(h)
    if not channels:
        raise FormatError("The OpenSignals file has no analog channels")
    return Recording(
        format=fmt,
        channels=channels,
        start=start,
        device=", ".join(names),
        notes=notes,
    )


def _family(dev_type: str) -> str:
    t = dev_type.lower()
    if t.startswith("bitalino"):
        return "bitalino"
    if t in _PLUX_3V:
        return "biosignalsplux"
    return ""


def _sensor_base(sensor: str) -> str:
    s = sensor.upper().replace("BITREV", "").replace("BIT", "").strip()
    if s.startswith("ECG"):
        return "ECG"
    if s.startswith("EDA"):
        return "EDA"
    return s


def _rate(value: Any, key: str) -> float:
    try:
        rate = float(value)
    except (TypeError, ValueError):
        raise FormatError(
            f"OpenSignals header: device {key!r} gives no usable sampling rate ({value!r})"
        ) from None
    if not rate > 0:
        raise FormatError(f"OpenSignals header: device {key!r} has sampling rate {rate!r}")
    return rate


def _sample_index(d: _Device, dev_type: str, dev_name: str, n: int, notes: list[str]) -> np.ndarray:
    if d.nseq is None or n == 0:
        if n:
            notes.append(f"{dev_name}: no nSeq column; lost samples cannot be detected.")
        return np.arange(n, dtype=np.int64)
    seq = d.nseq
    tail = 0
    if n > 1 and seq[-1] == _NSEQ_CLIP and seq[-2] == _NSEQ_CLIP:
        # OpenSignals stores nSeq in HDF5 as uint16 clipped (not wrapped) at 65535: from there
        # on the counter says nothing. Trust it up to its first 65535, then take the samples
        # as consecutive.
        stuck = np.flatnonzero(seq != _NSEQ_CLIP)
        first = int(stuck[-1]) + 1 if len(stuck) else 0
        tail = n - 1 - first
        seq = seq[: first + 1]
        notes.append(
            f"{dev_name}: the file's nSeq counter stops at {_NSEQ_CLIP} (sample {first + 1:,} "
            f"of {n:,}); samples lost after that cannot be detected."
        )
    if dev_type.lower().startswith("bitalino"):
        modulus: int | None = 16
    elif np.any(np.diff(seq) < 0):
        modulus = 1 << int(seq.max()).bit_length()
    else:
        modulus = None
    if modulus is None:
        steps = np.diff(seq)
        if np.any(steps == 0):
            raise FormatError(f"{dev_name}: the nSeq counter repeats a value")
    else:
        steps = np.mod(np.diff(seq), modulus)
        steps[steps == 0] = modulus
    index = np.concatenate([[0], np.cumsum(steps)]).astype(np.int64)
    if tail:
        index = np.concatenate([index, index[-1] + np.arange(1, tail + 1, dtype=np.int64)])
    lost = int(index[-1] + 1 - n)
    if lost:
        gaps = int(np.count_nonzero(steps > 1))
        notes.append(
            f"{dev_name}: {lost} samples lost in {gaps} gap{'s' if gaps != 1 else ''} "
            "(jumps of the nSeq counter)."
        )
    if modulus == 16:
        notes.append(
            f"{dev_name}: BITalino's nSeq counts 0-15, so a run of 16 or more lost samples "
            "would not show."
        )
    return index


def _start(h: Mapping[str, Any]) -> dt.datetime | None:
    date = _text(h.get("date", "")).strip()
    time = _text(h.get("time", "")).strip()
    m = re.fullmatch(r"(\d{4})-(\d{1,2})-(\d{1,2})", date)
    t = re.fullmatch(r"(\d{1,2}):(\d{1,2}):(\d{1,2})(?:\.(\d+))?", time)
    if not m or not t:
        return None
    micro = int((t.group(4) or "0")[:6].ljust(6, "0"))
    try:
        return dt.datetime(
            int(m.group(1)),
            int(m.group(2)),
            int(m.group(3)),
            int(t.group(1)),
            int(t.group(2)),
            int(t.group(3)),
            micro,
        )
    except ValueError:
        return None
