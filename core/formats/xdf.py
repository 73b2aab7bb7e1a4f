"""XDF (Extensible Data Format, LabRecorder / Lab Streaming Layer), read and written.

The format (XDF 1.0, sccn/xdf wiki "Specifications"): the magic ``XDF:``, then chunks, each
``[NumLengthBytes: 1 byte, 1/4/8][Length: that many bytes, little-endian][Tag: uint16][content]``
where Length counts the tag and the content. Tags: 1 FileHeader (XML), 2 StreamHeader (uint32
StreamID + XML ``<info>``), 3 Samples (uint32 StreamID, a variable-length sample count, then per
sample ``[TimeStampBytes: 0 or 8][double timestamp][values]``; a string value is a
variable-length byte count and the bytes), 4 ClockOffset (uint32 StreamID, double
CollectionTime, double OffsetValue), 5 Boundary, 6 StreamFooter (uint32 StreamID + XML). A
variable-length number is one byte giving its width (1, 4 or 8) and then the number.

Reading
    Timestamps are corrected with the stream's clock offsets: ``t + a + b·t`` where ``a + b·T``
    is the least-squares line of the offsets against their collection times (one offset: a
    constant; none: no correction). A sample without a timestamp gets the previous one plus
    1/nominal rate. Regular numeric streams become channels; each sample is put on the
    channel's grid (nearest grid position of a line fitted through the timestamps, with samples
    less than 1.5 periods apart kept consecutive, so jitter and bunched timestamps do not make
    gaps while a jump of 1.5 periods or more is lost samples). String streams and irregular
    one-channel streams become annotations.
"""

from __future__ import annotations

import datetime as dt
import io
import re
import struct
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from core.formats.model import (
    Annotation,
    Channel,
    FormatError,
    Recording,
    guess_kind,
    normalise_units,
)

__all__ = ["read_xdf", "write_xdf"]

_MAGIC = b"XDF:"
_FORMATS: dict[str, str] = {
    "float32": "<f4",
    "double64": "<f8",
    "int8": "<i1",
    "int16": "<i2",
    "int32": "<i4",
    "int64": "<i8",
}
#: long unit names LSL streams use, to the short ones :func:`standard_unit` knows
_UNIT_ALIASES = {
    "microvolts": "uV",
    "microvolt": "uV",
    "millivolts": "mV",
    "millivolt": "mV",
    "volts": "V",
    "volt": "V",
    "microsiemens": "uS",
    "microsiemen": "uS",
}


@dataclass
class _Stream:
    sid: int
    info: ET.Element
    name: str = ""
    type: str = ""
    channel_count: int = 0
    srate: float = 0.0
    fmt: str = ""
    labels: list[str] = field(default_factory=list)
    units: list[str] = field(default_factory=list)
    ctypes: list[str] = field(default_factory=list)
    hostname: str = ""
    stamps: list[np.ndarray] = field(default_factory=list)
    values: list[Any] = field(default_factory=list)
    clock: list[tuple[float, float]] = field(default_factory=list)
    last_stamp: float | None = None


# ----------------------------------------------------------------------------------- reading


def read_xdf(path: str | Path) -> Recording:
    """Read an XDF file (as LabRecorder writes it).

    Parameters
    ----------
    path : str or Path

    Returns
    -------
    Recording
        One channel per channel of every regular numeric stream (t0 of each relative to the
        earliest first sample of those streams, after clock correction), the marker streams as
        annotations on the same time base, ``start`` from the FileHeader's ``datetime``.

    Raises
    ------
    FormatError
        Bad magic, a corrupt chunk, or no regular numeric stream (the message lists the streams).
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as e:
        raise FormatError(f"Cannot read {path.name}: {e.strerror or e}") from None
    if data[:4] != _MAGIC:
        raise FormatError(f"{path.name} is not an XDF file: it does not start with 'XDF:'")
    notes: list[str] = []
    streams: dict[int, _Stream] = {}
    file_header: ET.Element | None = None
    pos = 4
    n = len(data)
    while pos < n:
        start = pos
        width = data[pos]
        if width not in (1, 4, 8):
            raise FormatError(
                f"XDF chunk at byte {start:,}: length field of {width} bytes (must be 1, 4 or 8);"
                " the file is corrupt here"
            )
        if pos + 1 + width > n:
            notes.append(_cut_note(start, n))
            break
        length = int.from_bytes(data[pos + 1 : pos + 1 + width], "little")
        pos += 1 + width
        if length < 2:
            raise FormatError(f"XDF chunk at byte {start:,}: length {length} is too short")
        if pos + length > n:
            notes.append(_cut_note(start, n))
            break
        tag = int.from_bytes(data[pos : pos + 2], "little")
        body = data[pos + 2 : pos + length]
        pos += length
        try:
            if tag == 1:
                file_header = _xml(body, start)
            elif tag == 2:
                sid = _sid(body, start)
                streams[sid] = _stream_header(sid, _xml(body[4:], start))
            elif tag == 3:
                _samples(streams, body, start)
            elif tag == 4:
                sid = _sid(body, start)
                if len(body) != 20:
                    raise FormatError(f"XDF clock offset chunk at byte {start:,} has a bad size")
                ct, off = struct.unpack("<dd", body[4:20])
                if sid in streams:
                    streams[sid].clock.append((ct, off))
            elif tag in (5, 6):
                pass
            else:
                raise FormatError(
                    f"XDF chunk at byte {start:,}: unknown tag {tag}; the file is corrupt here"
                )
        except (struct.error, ValueError, IndexError) as e:
            if isinstance(e, FormatError):
                raise
            raise FormatError(f"XDF chunk at byte {start:,} (tag {tag}) is damaged: {e}") from None
    return _recording(path, streams, file_header, notes)


def _cut_note(start: int, n: int) -> str:
    return (
        f"The file ends inside its last chunk (at byte {start:,}, {n - start:,} bytes kept "
        "of it); that chunk was left out (a recording cut short?)."
    )


def _sid(body: bytes, start: int) -> int:
    if len(body) < 4:
        raise FormatError(f"XDF chunk at byte {start:,} is too short for a stream id")
    return int.from_bytes(body[:4], "little")


def _xml(body: bytes, start: int) -> ET.Element:
    try:
        return ET.fromstring(body.decode("utf-8", errors="replace"))
    except ET.ParseError as e:
        raise FormatError(f"XDF chunk at byte {start:,}: its XML cannot be read ({e})") from None


def _stream_header(sid: int, info: ET.Element) -> _Stream:
    s = _Stream(sid=sid, info=info)
    s.name = (info.findtext("name") or "").strip()
    s.type = (info.findtext("type") or "").strip()
    s.hostname = (info.findtext("hostname") or "").strip()
    s.fmt = (info.findtext("channel_format") or "").strip()
    if s.fmt != "string" and s.fmt not in _FORMATS:
        raise FormatError(f"XDF stream {s.name or sid!r}: unknown channel format {s.fmt!r}")
    try:
        s.channel_count = int((info.findtext("channel_count") or "").strip())
        s.srate = float((info.findtext("nominal_srate") or "0").strip())
    except ValueError:
        raise FormatError(
            f"XDF stream {s.name or sid!r}: channel count or nominal rate is not a number"
        ) from None
    if s.channel_count < 1:
        raise FormatError(f"XDF stream {s.name or sid!r} has {s.channel_count} channels")
    for ch in info.findall("./desc/channels/channel"):
        s.labels.append((ch.findtext("label") or "").strip())
        s.units.append((ch.findtext("unit") or "").strip())
        s.ctypes.append((ch.findtext("type") or "").strip())
    return s


def _varlen(buf: bytes, pos: int) -> tuple[int, int]:
    w = buf[pos]
    if w not in (1, 4, 8):
        raise ValueError(f"a variable-length number of {w} bytes")
    end = pos + 1 + w
    if end > len(buf):
        raise ValueError("a number runs past the end of the chunk")
    return int.from_bytes(buf[pos + 1 : end], "little"), end


def _samples(streams: dict[int, _Stream], body: bytes, start: int) -> None:
    sid = _sid(body, start)
    s = streams.get(sid)
    if s is None:
        raise FormatError(f"XDF samples chunk at byte {start:,} belongs to no declared stream")
    count, pos = _varlen(body, 4)
    c = s.channel_count
    if s.fmt != "string":
        dtype = np.dtype(_FORMATS[s.fmt])
        rest = len(body) - pos
        rec = c * dtype.itemsize
        for ts_bytes in (8, 0):
            if count * (1 + ts_bytes + rec) == rest:
                fields: list[tuple[Any, ...]] = [("flag", "u1")]
                if ts_bytes:
                    fields.append(("t", "<f8"))
                fields.append(("v", dtype.str, (c,)))
                arr = np.frombuffer(body, dtype=np.dtype(fields), count=count, offset=pos)
                if np.all(arr["flag"] == ts_bytes):
                    stamps = arr["t"].astype(np.float64) if ts_bytes else np.full(count, np.nan)
                    block = np.array(arr["v"], dtype=np.float64).reshape(count, c)
                    _add(s, stamps, block)
                    return
    stamps = np.full(count, np.nan)
    vals: list[Any] = []
    for i in range(count):
        flag = body[pos]
        pos += 1
        if flag == 8:
            stamps[i] = struct.unpack_from("<d", body, pos)[0]
            pos += 8
        elif flag != 0:
            raise ValueError(f"sample {i} has a timestamp of {flag} bytes")
        if s.fmt == "string":
            row = []
            for _ in range(c):
                ln, pos = _varlen(body, pos)
                if pos + ln > len(body):
                    raise ValueError("a string runs past the end of the chunk")
                row.append(body[pos : pos + ln].decode("utf-8", errors="replace"))
                pos += ln
            vals.append(row)
        else:
            dtype = np.dtype(_FORMATS[s.fmt])
            end = pos + c * dtype.itemsize
            if end > len(body):
                raise ValueError("a sample runs past the end of the chunk")
            vals.append(np.frombuffer(body[pos:end], dtype=dtype).astype(np.float64))
            pos = end
    if pos != len(body):
        raise ValueError(f"{len(body) - pos} bytes left over after {count} samples")
    if s.fmt == "string":
        _add(s, stamps, vals)
    else:
        _add(s, stamps, np.asarray(vals, dtype=np.float64).reshape(count, c))


def _add(s: _Stream, stamps: np.ndarray, values: Any) -> None:
    """Fill missing timestamps (previous + 1/nominal rate) and keep the chunk's samples."""
    stamps = np.array(stamps, dtype=np.float64)
    missing = np.isnan(stamps)
    if missing.any():
        period = 1.0 / s.srate if s.srate > 0 else 0.0
        for i in np.flatnonzero(missing):
            prev = stamps[i - 1] if i > 0 else s.last_stamp
            stamps[i] = (prev + period) if prev is not None else np.nan
    if len(stamps):
        s.last_stamp = float(stamps[-1])
    s.stamps.append(stamps)
    s.values.append(values)


def _clock_fit(clock: list[tuple[float, float]]) -> tuple[float, float]:
    """(a, b) of offset ≈ a + b·collection time, least squares; one offset: (it, 0)."""
    if not clock:
        return 0.0, 0.0
    if len(clock) == 1:
        return clock[0][1], 0.0
    ct = np.array([c[0] for c in clock])
    off = np.array([c[1] for c in clock])
    ctm = ct.mean()
    denom = float(np.sum((ct - ctm) ** 2))
    if denom == 0:
        return float(off.mean()), 0.0
    b = float(np.sum((ct - ctm) * (off - off.mean())) / denom)
    return float(off.mean() - b * ctm), b


#: a timestamp or clock-offset time this far (s) before the previous one is a clock reset
_RESET_S = 1.0


def _clock_resets(stamps: np.ndarray, clock: list[tuple[float, float]]) -> np.ndarray | None:
    """Corrected timestamps for a stream whose sending machine's clock was reset (LSL's clock
    restarts when that machine reboots or sleeps: its timestamps and the clock offsets'
    collection times jump back), or None when there was no reset.

    The samples and the offsets are cut where their times jump back; part k of the samples is
    corrected with a fit of part k of the offsets (pyxdf's ``handle_clock_resets`` does the
    same). When the parts do not pair up, each sample part takes the offset part whose times
    lie nearest to its own.
    """
    if len(clock) < 2 or len(stamps) < 2:
        return None
    ct = np.array([c[0] for c in clock])
    cut_s = np.flatnonzero(np.diff(stamps) < -_RESET_S) + 1
    cut_c = np.flatnonzero(np.diff(ct) < -_RESET_S) + 1
    if len(cut_c) == 0:
        return None
    s_parts = np.split(np.arange(len(stamps)), cut_s)
    c_parts = [clock[a:b] for a, b in zip([0, *cut_c], [*cut_c, len(clock)], strict=True)]
    out = np.empty(len(stamps))
    for k, part in enumerate(s_parts):
        if len(s_parts) == len(c_parts):
            cpart = c_parts[k]
        else:
            mid = float(np.median(stamps[part]))
            cpart = min(c_parts, key=lambda c: min(abs(x[0] - mid) for x in c))
        a, b = _clock_fit(cpart)
        out[part] = stamps[part] + a + b * stamps[part]
    return out


def _grid_index(t: np.ndarray, rate: float) -> tuple[np.ndarray, float, float]:
    """Grid positions of timestamps ``t`` (strictly increasing, first 0), the rate fitted and
    the time of position 0 relative to ``t[0]`` (s).

    A first pass places each sample at the nearest position of the nominal grid; a line is
    fitted through (position, time) to get the stream's own rate; the second pass places each
    sample at the nearest position of that fitted grid. Samples less than 1.5 periods after the
    previous one always follow it directly (jitter, bunched timestamps); a repeated position
    moves to the next free one.
    """
    n = len(t)
    if n == 0:
        return np.zeros(0, dtype=np.int64), rate, 0.0
    steps = np.arange(n)
    rel = t - t[0]
    dt_ = np.diff(t)

    def place(p: np.ndarray, period: float) -> np.ndarray:
        x = np.rint(p).astype(np.int64)
        near = np.concatenate([[False], dt_ < 1.5 * period])
        x[near] = np.iinfo(np.int64).min // 2
        idx = np.maximum.accumulate(x - steps) + steps
        return idx - idx[0]

    idx = place(rel * rate, 1.0 / rate)
    fitted = rate
    if n > 2 and idx[-1] > 0:
        slope = np.polyfit(idx.astype(np.float64), rel, 1)[0]
        if slope > 0 and abs(1.0 / slope - rate) < 0.2 * rate:
            fitted = 1.0 / slope
            p = rel * fitted
            # the grid's phase: the circular mean of the samples' fractional positions (jitter
            # averages out; bunched stamps on the grid all have phase 0)
            phase = float(np.angle(np.mean(np.exp(2j * np.pi * p)))) / (2 * np.pi)
            idx = place(p - phase, 1.0 / fitted)
            # the grid as the clock saw it: its rate and where position 0 falls
            slope, origin = np.polyfit(idx.astype(np.float64), rel, 1)
            if slope > 0:
                fitted = 1.0 / float(slope)
                return idx.astype(np.int64), fitted, float(origin)
    return idx.astype(np.int64), fitted, 0.0


def _recording(
    path: Path, streams: dict[int, _Stream], file_header: ET.Element | None, notes: list[str]
) -> Recording:
    numeric: list[tuple[_Stream, np.ndarray, np.ndarray]] = []
    markers: list[tuple[_Stream, np.ndarray, list[str]]] = []
    for s in streams.values():
        what = _describe(s)
        if not s.stamps or sum(len(x) for x in s.stamps) == 0:
            notes.append(f"Stream {what} holds no samples; left out.")
            continue
        stamps = np.concatenate(s.stamps)
        a, b = _clock_fit(s.clock)
        t = stamps + a + b * stamps
        resets = _clock_resets(stamps, s.clock)
        if resets is not None:
            t = resets
            notes.append(
                f"Stream {what}: the sending machine's clock was reset during the recording; "
                "each part was corrected with its own clock offsets."
            )
        elif s.clock:
            notes.append(
                f"Stream {what}: timestamps corrected with {len(s.clock)} clock offset"
                f"{'s' if len(s.clock) != 1 else ''} (offset {a:+.6f} s"
                + (f", drift {b * 1e6:+.3f} ppm" if b else "")
                + ")."
            )
        if np.isnan(t).any():
            keep = ~np.isnan(t)
            notes.append(
                f"Stream {what}: {int((~keep).sum())} samples before the first timestamp left out."
            )
        else:
            keep = np.ones(len(t), dtype=bool)
        if s.fmt == "string":
            texts = [" | ".join(row) for chunk in s.values for row in chunk]
            markers.append((s, t[keep], [x for x, k in zip(texts, keep, strict=True) if k]))
        elif s.srate > 0:
            vals = np.concatenate(s.values, axis=0)[keep]
            numeric.append((s, t[keep], vals))
        elif s.channel_count == 1:
            vals = np.concatenate(s.values, axis=0)[keep, 0]
            markers.append((s, t[keep], [_num_text(v) for v in vals]))
        else:
            notes.append(
                f"Stream {what} is irregular (no nominal rate) with several channels; left out."
            )
    if not numeric:
        found = ", ".join(_describe(s) for s in streams.values()) or "none"
        raise FormatError(
            f"{path.name} has no regular numeric stream (signals with a sampling rate); "
            f"streams found: {found}"
        )
    t_start = min(float(t[0]) for _, t, _ in numeric)
    channels: list[Channel] = []
    for s, t, vals in numeric:
        order = np.argsort(t, kind="stable")
        if np.any(order != np.arange(len(t))):
            notes.append(f"Stream {_describe(s)}: timestamps out of order were sorted.")
            t, vals = t[order], vals[order]
        index, fitted, origin = _grid_index(t, s.srate)
        # Samples are timed by the rate the clock measured, not the declared one: a device
        # 200 ppm fast would otherwise drift 0.7 s from the markers over an hour.
        rate = fitted if abs(fitted - s.srate) > 1e-6 * s.srate else s.srate
        ppm = (fitted / s.srate - 1.0) * 1e6
        if abs(ppm) >= 100:
            notes.append(
                f"Stream {_describe(s)}: its samples come at {fitted:.4f} Hz by the recording's "
                f"clock, not the {s.srate:g} Hz it declares ({ppm:+.0f} ppm); they are timed "
                "by the clock."
            )
        lost = int(index[-1] + 1 - len(index)) if len(index) else 0
        if lost:
            gaps = int(np.count_nonzero(np.diff(index) > 1))
            notes.append(
                f"Stream {_describe(s)}: {lost} samples lost in {gaps} gap"
                f"{'s' if gaps != 1 else ''}."
            )
        for i in range(s.channel_count):
            label = s.labels[i] if i < len(s.labels) and s.labels[i] else f"{s.name} {i + 1}"
            unit = s.units[i] if i < len(s.units) else ""
            unit = _UNIT_ALIASES.get(unit.lower(), unit)
            ctype = s.ctypes[i] if i < len(s.ctypes) else ""
            kind = guess_kind(label, ctype, s.type, s.name)
            channels.append(
                normalise_units(
                    Channel(
                        label=label,
                        kind=kind,
                        unit=unit,
                        rate_hz=rate,
                        values=vals[:, i],
                        sample_index=index,
                        t0_s=float(t[0]) + origin - t_start,
                        resolution=None,
                        transducer=ctype,
                    )
                )
            )
    annotations = [
        Annotation(onset_s=float(tt) - t_start, duration_s=0.0, text=text)
        for _, t, texts in markers
        for tt, text in zip(t, texts, strict=True)
    ]
    annotations.sort(key=lambda a: a.onset_s)
    names = []
    for s in streams.values():
        if s.fmt != "string" and s.srate > 0:
            names.append(f"{s.name} ({s.hostname})" if s.hostname else s.name)
    return Recording(
        format="XDF",
        channels=channels,
        annotations=annotations,
        start=_file_datetime(file_header),
        device=", ".join(n for n in dict.fromkeys(names) if n),
        notes=notes,
    )


def _describe(s: _Stream) -> str:
    return f"{s.name!r} (type {s.type!r})" if s.type else repr(s.name or f"#{s.sid}")


def _num_text(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else repr(float(v))


def _file_datetime(header: ET.Element | None) -> dt.datetime | None:
    if header is None:
        return None
    text = (header.findtext("datetime") or "").strip()
    if not text:
        return None
    m = re.match(r"(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}:\d{2})(\.\d+)?", text)
    if not m:
        return None
    try:
        base = dt.datetime.strptime(f"{m.group(1)} {m.group(2)}", "%Y-%m-%d %H:%M:%S")
    except ValueError:
        return None
    if m.group(3):
        base += dt.timedelta(microseconds=round(float(m.group(3)) * 1e6))
    return base


# ----------------------------------------------------------------------------------- writing


def write_xdf(path: str | Path, streams: Sequence[dict[str, Any]], *, block: int = 256) -> None:
    """Write an XDF 1.0 file (for tests and exports; LabRecorder writes the real ones).

    Parameters
    ----------
    path : str or Path
    streams : sequence of dict
        Each with ``name``, ``type``, ``channel_format`` (``"float32"``, ``"double64"``,
        ``"int8"``..``"int64"`` or ``"string"``), ``nominal_srate``, ``labels`` and ``units``
        (per channel, optional), ``timestamps`` (one per sample; NaN writes a sample without a
        timestamp), ``values`` (n × c numbers, or n strings / n lists of c strings) and
        ``clock_offsets`` (list of (collection time, offset), optional); optional ``hostname``,
        ``source_id``, ``channel_types``; optional ``datetime`` of the first stream goes into
        the FileHeader.
    block : int
        Samples per Samples chunk.
    """
    out = io.BytesIO()
    out.write(_MAGIC)
    header = ET.Element("info")
    ET.SubElement(header, "version").text = "1.0"
    when = next((s["datetime"] for s in streams if s.get("datetime") is not None), None)
    if when is not None:
        ET.SubElement(header, "datetime").text = when.strftime("%Y-%m-%dT%H:%M:%S%z")
    _chunk(out, 1, _xml_bytes(header))
    prepared = []
    for sid, s in enumerate(streams, start=1):
        fmt = s["channel_format"]
        if fmt != "string" and fmt not in _FORMATS:
            raise ValueError(f"unknown channel_format {fmt!r}")
        stamps = np.asarray(s["timestamps"], dtype=np.float64)
        if fmt == "string":
            values: Any = [[v] if isinstance(v, str) else list(v) for v in s["values"]]
            count = len(values[0]) if values else 1
        else:
            values = np.asarray(s["values"])
            if values.ndim == 1:
                values = values[:, None]
            count = values.shape[1]
        if len(values) != len(stamps):
            raise ValueError(
                f"stream {s['name']!r}: {len(values)} samples, {len(stamps)} timestamps"
            )
        _chunk(out, 2, sid.to_bytes(4, "little") + _xml_bytes(_info(s, count)))
        prepared.append((sid, s, fmt, stamps, values, count))
    events: list[tuple[float, int, bytes, bytes]] = []
    for sid, s, fmt, stamps, values, _ in prepared:
        when_t = -np.inf  # a chunk without timestamps goes right after the one before it
        for i in range(0, len(stamps), block):
            body = _sample_body(fmt, stamps[i : i + block], values[i : i + block])
            known = stamps[i : i + block][~np.isnan(stamps[i : i + block])]
            # never before the stream's earlier chunks, even when its clock was reset
            when_t = max(when_t, float(known[0])) if len(known) else when_t
            events.append((when_t, 3, sid.to_bytes(4, "little"), body))
        when_c = -np.inf
        for ct, off in s.get("clock_offsets") or []:
            when_c = max(when_c, float(ct))
            events.append((when_c, 4, sid.to_bytes(4, "little"), struct.pack("<dd", ct, off)))
    events.sort(key=lambda e: e[0])  # stable: a stream's chunks keep their order
    for _, tag, sid_bytes, body in events:
        _chunk(out, tag, sid_bytes + body)
    for sid, s, _, stamps, _values, _ in prepared:
        footer = ET.Element("info")
        known = stamps[~np.isnan(stamps)]
        ET.SubElement(footer, "first_timestamp").text = repr(float(known[0])) if len(known) else "0"
        ET.SubElement(footer, "last_timestamp").text = repr(float(known[-1])) if len(known) else "0"
        ET.SubElement(footer, "sample_count").text = str(len(stamps))
        offsets = ET.SubElement(footer, "clock_offsets")
        for ct, off in s.get("clock_offsets") or []:
            o = ET.SubElement(offsets, "offset")
            ET.SubElement(o, "time").text = repr(float(ct))
            ET.SubElement(o, "value").text = repr(float(off))
        _chunk(out, 6, sid.to_bytes(4, "little") + _xml_bytes(footer))
    Path(path).write_bytes(out.getvalue())


def _info(s: dict[str, Any], count: int) -> ET.Element:
    info = ET.Element("info")
    for tag, value in (
        ("name", s["name"]),
        ("type", s.get("type", "")),
        ("channel_count", str(count)),
        ("nominal_srate", repr(float(s.get("nominal_srate", 0.0)))),
        ("channel_format", s["channel_format"]),
        ("source_id", s.get("source_id", "")),
        ("version", "1.1"),
        ("created_at", "0"),
        ("uid", f"therascope-{s['name']}"),
        ("session_id", "default"),
        ("hostname", s.get("hostname", "")),
    ):
        ET.SubElement(info, tag).text = str(value)
    desc = ET.SubElement(info, "desc")
    labels = list(s.get("labels") or [])
    units = list(s.get("units") or [])
    types = list(s.get("channel_types") or [])
    if labels or units or types:
        chans = ET.SubElement(desc, "channels")
        for i in range(count):
            ch = ET.SubElement(chans, "channel")
            ET.SubElement(ch, "label").text = labels[i] if i < len(labels) else ""
            ET.SubElement(ch, "unit").text = units[i] if i < len(units) else ""
            ET.SubElement(ch, "type").text = types[i] if i < len(types) else s.get("type", "")
    return info


def _xml_bytes(el: ET.Element) -> bytes:
    return b'<?xml version="1.0"?>' + ET.tostring(el, encoding="utf-8", xml_declaration=False)


def _varlen_bytes(v: int) -> bytes:
    if v < 1 << 8:
        return b"\x01" + v.to_bytes(1, "little")
    if v < 1 << 32:
        return b"\x04" + v.to_bytes(4, "little")
    return b"\x08" + v.to_bytes(8, "little")


def _sample_body(fmt: str, stamps: np.ndarray, values: Any) -> bytes:
    parts = [_varlen_bytes(len(stamps))]
    dtype = np.dtype(_FORMATS[fmt]) if fmt != "string" else None
    for i, t in enumerate(stamps):
        parts.append(b"\x00" if np.isnan(t) else b"\x08" + struct.pack("<d", float(t)))
        if dtype is None:
            for text in values[i]:
                b = str(text).encode("utf-8")
                parts.append(_varlen_bytes(len(b)) + b)
        else:
            parts.append(np.asarray(values[i], dtype=dtype).tobytes())
    return b"".join(parts)


def _chunk(out: io.BytesIO, tag: int, content: bytes) -> None:
    length = len(content) + 2
    if length < 1 << 8:
        out.write(b"\x01" + length.to_bytes(1, "little"))
    elif length < 1 << 32:
        out.write(b"\x04" + length.to_bytes(4, "little"))
    else:
        out.write(b"\x08" + length.to_bytes(8, "little"))
    out.write(tag.to_bytes(2, "little"))
    out.write(content)
