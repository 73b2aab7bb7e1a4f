"""EDF, EDF+ (C and D), BDF and BDF+ (C and D): our own reader and writer, numpy and the standard
library only.

The format (edfplus.info): a 256-byte ASCII header, then 256 bytes per signal (each field stored
for all signals in turn: label, transducer, physical dimension, physical minimum and maximum,
digital minimum and maximum, prefiltering, samples per data record, reserved), then the data
records, each holding every signal's samples for one record duration, one after the other. EDF
stores a sample as a 16-bit little-endian integer; BDF (first byte 0xFF, then ``BIOSEMI``) as a
24-bit one. A sample's physical value is the linear map of its digital value from the digital
range onto the physical range. EDF+ and BDF+ say so in the reserved field (``EDF+C``/``EDF+D``,
``BDF+C``/``BDF+D``) and add an annotations signal (``EDF Annotations``/``BDF Annotations``)
whose bytes hold time-stamped annotation lists (TALs, ``+onset\\x15duration\\x14text\\x14\\x00``).
The first TAL of every data record is the record's time keeping (``+t\\x14\\x14\\x00``): when the
record starts, in seconds after the header's start time; in the first record its fraction of a
second is the start's subsecond part. A ``+D`` (discontinuous) file may leave time out between
records; a ``+C`` file's records follow each other without gaps.

Reading (:func:`read_edf`) gives a :class:`~core.formats.model.Recording`: each ordinary signal
becomes a Channel in physical units (ECG in mV and EDA in µS where the unit is known), at its own
rate (samples per record / record duration), with the quantisation step as ``resolution``. Time
zero of the Recording is its first data record: ``start`` is the header's date and time plus
the first record's time keeping, and annotations count from there. In an EDF+D/BDF+D file the time between records is lost
samples: a jump in ``sample_index``.

Writing (:func:`write_edf`) makes an EDF+ file, or a BDF+ file when 16 bits would be coarser than
a channel's own resolution (see :func:`write_edf` for the rule). Lost samples (jumps in a
channel's ``sample_index``) are kept as follows:

* a data record in which no channel has any sample is not written, and the file is then ``+D``
  (the time keeping of the records written says where the gap is; every EDF+ reader sees it);
* lost samples inside a record that is written must still have a value in the file: the
  channel's nearest preceding real value is repeated (the next real one at the channel's start)
  and an annotation ``"TheraScope: lost samples (LABEL)"`` (:data:`LOST_TEXT`, then the channel's
  label as written in the header) covers them, one per run of lost samples per channel, onset
  and duration in seconds. Our reader recognises the :data:`LOST_TEXT` prefix, removes the
  covered samples of the named channel (all channels when no label follows) and does not return
  the annotation; other readers show it as an ordinary annotation and the repeated values as
  samples.
"""

from __future__ import annotations

import datetime as dt
import math
import os
import re
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
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

#: the start of the text of an annotation that marks lost samples of a channel in our files
LOST_TEXT = "TheraScope: lost samples"

#: record durations the writer tries, in this order (seconds)
RECORD_DURATIONS = (1.0, 0.5, 0.25, 0.2, 0.1, 2.0, 5.0, 10.0)

#: a data record should not be larger than this (the EDF specification's advice)
MAX_RECORD_BYTES = 61440

_BDF_VERSION = b"\xffBIOSEMI"
_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_ANNOTATION_LABELS = ("EDF Annotations", "BDF Annotations")

#: the fixed part of the header: (name, first byte, width)
_MAIN_FIELDS = (
    ("version", 0, 8),
    ("patient", 8, 80),
    ("recording", 88, 80),
    ("start date", 168, 8),
    ("start time", 176, 8),
    ("number of header bytes", 184, 8),
    ("reserved", 192, 44),
    ("number of data records", 236, 8),
    ("duration of a data record", 244, 8),
    ("number of signals", 252, 4),
)

#: the signal part of the header: (name, width); each field is stored for all signals in turn
_SIGNAL_FIELDS = (
    ("label", 16),
    ("transducer type", 80),
    ("physical dimension", 8),
    ("physical minimum", 8),
    ("physical maximum", 8),
    ("digital minimum", 8),
    ("digital maximum", 8),
    ("prefiltering", 80),
    ("samples per data record", 8),
    ("reserved", 32),
)


# ---------------------------------------------------------------------------------------------
# reading


@dataclass
class _Signal:
    """One signal as the header describes it."""

    number: int
    label: str
    transducer: str
    unit: str
    pmin: float
    pmax: float
    dmin: int
    dmax: int
    samples: int
    offset: int  # first sample of the signal inside a data record


def _text(raw: bytes) -> str:
    return raw.decode("latin-1").strip()


def _number(raw: bytes, what: str, where: str) -> float:
    text = raw.decode("latin-1").strip()
    try:
        value = float(text)
    except ValueError:
        raise FormatError(
            f"EDF header: {what} {where}is {text!r}, not a number (a broken or foreign file?)"
        ) from None
    if not math.isfinite(value):
        raise FormatError(f"EDF header: {what} {where}is {text!r}, not a finite number")
    return value


def _integer(raw: bytes, what: str, where: str) -> int:
    value = _number(raw, what, where)
    if value != int(value):
        raise FormatError(f"EDF header: {what} {where}is {value!r}, not a whole number")
    return int(value)


def _parse_start(date: str, time: str, recording: str, plus: bool) -> dt.datetime | None:
    """The header's start (whole seconds), None when its date or time cannot be read."""
    d = re.fullmatch(r"(\d{1,2})\D(\d{1,2})\D(\d{2})", date)
    t = re.fullmatch(r"(\d{1,2})\D(\d{1,2})\D(\d{1,2})", time)
    if d is None or t is None:
        return None
    day, month, yy = (int(x) for x in d.groups())
    year = 1900 + yy if yy >= 85 else 2000 + yy
    if plus:  # EDF+: the recording field's 4-digit year wins (years after 2084)
        m = re.match(r"Startdate\s+(\d{2})-([A-Za-z]{3})-(\d{4})", recording)
        if (
            m
            and m.group(2).upper() in _MONTHS
            and int(m.group(1)) == day
            and _MONTHS.index(m.group(2).upper()) + 1 == month
        ):
            year = int(m.group(3))
    hour, minute, second = (int(x) for x in t.groups())
    try:
        return dt.datetime(year, month, day, hour, minute, second)
    except ValueError:
        return None


def _parse_tals(raw: bytes) -> list[tuple[float, float, list[str]]]:
    """The TALs in one record's annotation bytes: (onset, duration or 0, texts); the texts of
    the first TAL start with its empty time-keeping text when it is one."""
    out: list[tuple[float, float, list[str]]] = []
    for tal in raw.rstrip(b"\x00").split(b"\x00"):
        if not tal:
            continue
        parts = tal.split(b"\x14")
        head = parts[0].split(b"\x15")
        try:
            onset = float(head[0].decode("ascii"))
            duration = float(head[1].decode("ascii")) if len(head) > 1 and head[1] else 0.0
        except (ValueError, UnicodeDecodeError):
            raise FormatError(
                f"EDF+ annotations: a TAL starts with {parts[0][:20]!r}, not an onset in seconds"
            ) from None
        texts = [p.decode("utf-8", errors="replace") for p in parts[1:]]
        if texts and texts[-1] == "":
            texts.pop()  # the TAL's closing 0x14
        out.append((onset, duration, texts))
    return out


def read_edf(path: str | os.PathLike[str]) -> Recording:
    """Read an EDF, EDF+, BDF or BDF+ file.

    Parameters
    ----------
    path : the file

    Returns
    -------
    Recording — ``format`` is ``"EDF"``, ``"EDF+C"``, ``"EDF+D"``, ``"BDF"``, ``"BDF+C"`` or
    ``"BDF+D"``; one Channel per ordinary signal (physical values; ECG in mV and EDA in µS where
    the unit is known); the annotations (the time keeping and our lost-sample marks left out);
    ``start`` from the header plus the first record's subsecond start.

    Raises
    ------
    FormatError — not an EDF/BDF file, a truncated file, a header field that is not a number, no
    signals, a record duration of 0 with signals, a broken annotation; the message says what and
    where. OSError when the file cannot be opened.
    """
    path = Path(path)
    name = path.name
    size = path.stat().st_size
    if size == 0:
        raise FormatError(f"{name}: the file is empty (0 bytes), not an EDF or BDF file")
    with open(path, "rb") as f:
        head = f.read(256)
    version = head[:8]
    if version == _BDF_VERSION:
        family = "BDF"
    elif version[:1] == b"0" and version[1:].strip(b" ") == b"" and len(version) == 8:
        family = "EDF"
    else:
        raise FormatError(
            f"{name}: not an EDF or BDF file (it starts with {head[:8]!r}; an EDF file starts "
            "with '0' and spaces, a BDF file with 0xFF and 'BIOSEMI')"
        )
    if len(head) < 256:
        raise FormatError(
            f"{name}: EDF header: the file is {size:,} bytes long, but the header alone takes "
            "256 bytes (truncated?)"
        )
    fields = {n: head[a : a + w] for n, a, w in _MAIN_FIELDS}
    n_signals = _integer(fields["number of signals"], "the number of signals", "")
    header_bytes = _integer(fields["number of header bytes"], "the number of header bytes", "")
    n_records = _integer(fields["number of data records"], "the number of data records", "")
    record_s = _number(fields["duration of a data record"], "the duration of a data record", "")
    if n_signals <= 0:
        raise FormatError(
            f"{name}: EDF header: the file has no signals (number of signals {n_signals})"
        )
    if header_bytes != 256 * (n_signals + 1):
        raise FormatError(
            f"{name}: EDF header: it says {header_bytes:,} header bytes, but {n_signals} signals "
            f"need {256 * (n_signals + 1):,}"
        )
    if size < header_bytes:
        raise FormatError(
            f"{name}: EDF header: the file is {size:,} bytes long, but the header of its "
            f"{n_signals} signals takes {header_bytes:,} bytes (truncated?)"
        )
    if n_records < -1:
        raise FormatError(f"{name}: EDF header: the number of data records is {n_records}")
    if record_s < 0:
        raise FormatError(f"{name}: EDF header: the duration of a data record is {record_s} s")
    reserved = _text(fields["reserved"])
    plus = ""
    for tag in ("EDF+C", "EDF+D", "BDF+C", "BDF+D"):
        if reserved.startswith(tag):
            plus = tag[3:]
    fmt = family + plus
    recording_field = _text(fields["recording"])

    with open(path, "rb") as f:
        f.seek(256)
        sig_head = f.read(256 * n_signals)
    columns: dict[str, list[bytes]] = {}
    pos = 0
    for fname, width in _SIGNAL_FIELDS:
        columns[fname] = [
            sig_head[pos + i * width : pos + (i + 1) * width] for i in range(n_signals)
        ]
        pos += width * n_signals

    bps = 3 if family == "BDF" else 2
    notes: list[str] = []
    signals: list[_Signal] = []
    offset = 0
    for i in range(n_signals):
        label = _text(columns["label"][i])
        where = f"of signal {i + 1} ({label!r}) "
        samples = _integer(
            columns["samples per data record"][i], "the samples per data record", where
        )
        if samples < 0:
            raise FormatError(
                f"{name}: EDF header: signal {i + 1} ({label!r}) has {samples} samples per record"
            )
        sig = _Signal(
            number=i + 1,
            label=label,
            transducer=_text(columns["transducer type"][i]),
            unit=_text(columns["physical dimension"][i]),
            pmin=_number(columns["physical minimum"][i], "the physical minimum", where),
            pmax=_number(columns["physical maximum"][i], "the physical maximum", where),
            dmin=_integer(columns["digital minimum"][i], "the digital minimum", where),
            dmax=_integer(columns["digital maximum"][i], "the digital maximum", where),
            samples=samples,
            offset=offset,
        )
        offset += samples
        signals.append(sig)
    record_samples = offset
    record_bytes = record_samples * bps

    annotation_signals = [s for s in signals if s.label in _ANNOTATION_LABELS and s.samples > 0]
    ordinary = [s for s in signals if s.label not in _ANNOTATION_LABELS]
    for s in ordinary:
        if s.samples == 0:
            notes.append(f"Signal {s.label!r} has no samples per data record; skipped.")
    ordinary = [s for s in ordinary if s.samples > 0]
    if ordinary and record_s == 0:
        raise FormatError(
            f"{name}: EDF header: the duration of a data record is 0, but the file has signals "
            "with samples (only an annotations-only EDF+ file may have records of 0 s)"
        )
    for s in ordinary:
        if s.dmax <= s.dmin:
            raise FormatError(
                f"{name}: EDF header: signal {s.number} ({s.label!r}) has digital maximum "
                f"{s.dmax} not above its digital minimum {s.dmin}"
            )
        if s.pmax == s.pmin:
            raise FormatError(
                f"{name}: EDF header: signal {s.number} ({s.label!r}) has physical minimum and "
                f"maximum both {s.pmin}"
            )

    data_bytes = size - header_bytes
    complete = data_bytes // record_bytes if record_bytes else 0
    if n_records == -1:
        n_records = complete
        notes.append(
            f"The header's number of data records was -1; {complete} complete records read."
        )
        if record_bytes and data_bytes % record_bytes:
            notes.append(
                f"{data_bytes % record_bytes:,} bytes after the last complete record ignored."
            )
    elif complete < n_records:
        raise FormatError(
            f"{name}: EDF data: the file is {size:,} bytes long, but its header says "
            f"{n_records:,} data records of {record_bytes:,} bytes after a header of "
            f"{header_bytes:,} bytes ({header_bytes + n_records * record_bytes:,} bytes); only "
            f"{complete:,} records are complete (truncated?)"
        )
    elif data_bytes > n_records * record_bytes:
        notes.append(
            f"{data_bytes - n_records * record_bytes:,} bytes after the last data record ignored."
        )

    if record_bytes:
        raw = np.fromfile(path, dtype=np.uint8, count=n_records * record_bytes, offset=header_bytes)
        raw = raw.reshape(n_records, record_bytes)
    else:
        raw = np.zeros((n_records, 0), dtype=np.uint8)

    # annotations and time keeping
    onsets = np.arange(n_records, dtype=np.float64) * record_s
    annotations: list[Annotation] = []
    first = 0.0  # the first record's time keeping (EDF+): the Recording's time zero
    if annotation_signals:
        keeping: list[float | None] = [None] * n_records
        found: list[tuple[float, float, str]] = []
        for j, s in enumerate(annotation_signals):
            block = raw[:, s.offset * bps : (s.offset + s.samples) * bps]
            for r in range(n_records):
                try:
                    tals = _parse_tals(block[r].tobytes())
                except FormatError as e:
                    raise FormatError(f"{name}: data record {r + 1}: {e}") from None
                for t, (onset, duration, texts) in enumerate(tals):
                    if j == 0 and t == 0 and texts[:1] == [""]:
                        keeping[r] = onset
                        texts = texts[1:]
                    found.extend((onset, duration, x) for x in texts if x)
        if plus and n_records:
            if keeping[0] is None:
                raise FormatError(f"{name}: EDF+ data record 1 has no time-keeping annotation")
            first = float(keeping[0])
            if plus == "+D":
                missing = [r + 1 for r, k in enumerate(keeping) if k is None]
                if missing:
                    raise FormatError(
                        f"{name}: EDF+D data record {missing[0]} has no time-keeping annotation"
                    )
                onsets = np.array(keeping, dtype=np.float64)
                if n_records > 1 and np.any(np.diff(onsets) < record_s - 1e-6):
                    r = int(np.argmax(np.diff(onsets) < record_s - 1e-6)) + 2
                    raise FormatError(
                        f"{name}: EDF+D data record {r} starts at {onsets[r - 1]} s, before the "
                        "previous record ends"
                    )
            else:
                onsets = first + np.arange(n_records, dtype=np.float64) * record_s
        annotations = [Annotation(round(o - first, 7), d, x) for o, d, x in found]
    # the first record is time zero: channels and annotations agree
    zero = first if plus and n_records else 0.0
    header_start = _parse_start(
        _text(fields["start date"]), _text(fields["start time"]), recording_field, bool(plus)
    )
    start = header_start + dt.timedelta(seconds=zero) if header_start is not None else None
    if header_start is None:
        notes.append(
            f"Start date/time {_text(fields['start date'])!r} {_text(fields['start time'])!r} not understood."
        )

    channels: list[Channel] = []
    for s in ordinary:
        block = raw[:, s.offset * bps : (s.offset + s.samples) * bps]
        if family == "BDF":
            b = block.reshape(n_records, s.samples, 3)
            digital = (
                b[..., 0].astype(np.int32)
                | (b[..., 1].astype(np.int32) << 8)
                | (b[..., 2].view(np.int8).astype(np.int32) << 16)
            )
        else:
            digital = np.ascontiguousarray(block).view("<i2").reshape(n_records, s.samples)
        gain = (s.pmax - s.pmin) / (s.dmax - s.dmin)
        values = s.pmin + (digital.reshape(-1).astype(np.float64) - s.dmin) * gain
        rate = s.samples / record_s
        if abs(rate - round(rate)) < 1e-9 * max(rate, 1.0):
            rate = float(round(rate))
        k = np.arange(s.samples, dtype=np.int64)
        if plus == "+D":
            starts = np.round((onsets - onsets[0]) * rate).astype(np.int64) if n_records else onsets
            index = (starts[:, None] + k[None, :]).reshape(-1)
        else:
            index = np.arange(n_records * s.samples, dtype=np.int64)
        t0 = (float(onsets[0]) if n_records else zero) - zero
        channels.append(
            Channel(
                label=s.label,
                kind=guess_kind(s.label, s.transducer),
                unit=s.unit,
                rate_hz=rate,
                values=values,
                sample_index=index,
                t0_s=t0,
                resolution=abs(gain),
                transducer=s.transducer,
            )
        )

    # our lost-sample marks become gaps again
    kept: list[Annotation] = []
    lost: dict[int, list[tuple[float, float]]] = {}
    for a in annotations:
        if not a.text.startswith(LOST_TEXT):
            kept.append(a)
            continue
        rest = a.text[len(LOST_TEXT) :].strip()
        target = rest[1:-1] if rest.startswith("(") and rest.endswith(")") else None
        for c, ch in enumerate(channels):
            if target is None or ch.label == target:
                lost.setdefault(c, []).append((a.onset_s, a.duration_s))
    for c, spans in lost.items():
        ch = channels[c]
        keep = np.ones(len(ch.sample_index), dtype=bool)
        for onset, duration in spans:
            lo = round((onset - ch.t0_s) * ch.rate_hz)
            hi = round((onset + duration - ch.t0_s) * ch.rate_hz)
            a0, a1 = np.searchsorted(ch.sample_index, [lo, hi])
            keep[a0:a1] = False
        n_gone = int(keep.size - keep.sum())
        ch.values = ch.values[keep]
        ch.sample_index = ch.sample_index[keep]
        notes.append(f"{ch.label}: {n_gone:,} samples marked lost by the writer removed.")
    for ch in channels:
        if ch.n_lost:
            notes.append(f"{ch.label}: {ch.n_lost:,} lost samples (gaps between data records).")
    channels = [normalise_units(ch) for ch in channels]
    kept.sort(key=lambda a: a.onset_s)

    device = ""
    if plus:
        parts = recording_field.split()
        if len(parts) >= 5 and parts[0] == "Startdate" and parts[4] != "X":
            device = parts[4].replace("_", " ")
    return Recording(
        format=fmt,
        channels=channels,
        annotations=kept,
        start=start,
        device=device,
        notes=notes,
    )


# ---------------------------------------------------------------------------------------------
# writing


def _ascii(text: str, *, underscores: bool = False) -> str:
    """``text`` in printable ASCII: µ becomes u, other characters outside ASCII become ``?``;
    with ``underscores`` spaces become ``_`` (EDF+ subfields)."""
    text = text.replace("µ", "u").replace("μ", "u").replace("°", "deg").replace("Ω", "Ohm")
    text = "".join(ch if 32 <= ord(ch) < 127 else ("?" if ord(ch) >= 127 else " ") for ch in text)
    if underscores:
        text = "_".join(text.split())
    return text


def _field(text: str, width: int) -> bytes:
    return text[:width].ljust(width).encode("ascii")


def _fixed(n: int, decimals: int) -> str:
    """The integer ``n`` × 10^-decimals as plain decimal text without trailing zeros."""
    text = format(Decimal(n).scaleb(-decimals), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _number_field(x: float, up: bool) -> str:
    """``x`` as text of at most 8 characters, rounded up (``up``) or down so that the text's
    value is ≥ (≤) ``x``, with as many decimals as fit."""
    for decimals in range(7, -1, -1):
        n = round(x * 10**decimals)
        text = _fixed(n, decimals)
        while (float(text) < x) if up else (float(text) > x):
            n += 1 if up else -1
            text = _fixed(n, decimals)
        if len(text) <= 8:
            return text
    raise FormatError(f"EDF writer: the value {x!r} does not fit the header's 8-character field")


def _tal_time(t: float, sign: bool = True) -> str:
    text = f"{t:.7f}".rstrip("0").rstrip(".")
    if text in ("-0", ""):
        text = "0"
    if sign and not text.startswith("-"):
        text = "+" + text
    return text


def _tal(onset: float, duration: float, text: str) -> bytes:
    clean = text.replace("\x00", " ").replace("\x14", " ").replace("\x15", " ")
    head = _tal_time(onset)
    if duration > 0:
        head += "\x15" + _tal_time(duration, sign=False)
    return head.encode("ascii") + b"\x14" + clean.encode("utf-8") + b"\x14\x00"


def _record_duration(rates: list[float], labels: list[str]) -> list[float]:
    """Record durations (of :data:`RECORD_DURATIONS`) giving every rate a whole number of
    samples per record, in order of preference."""
    fits = []
    for d in RECORD_DURATIONS:
        if all(
            abs(r * d - round(r * d)) < 1e-6 * max(1.0, r * d) and round(r * d) >= 1 for r in rates
        ):
            fits.append(d)
    if not fits:
        bad = [
            f"{lab!r} ({r:g} Hz)"
            for lab, r in zip(labels, rates, strict=True)
            if not any(
                abs(r * d - round(r * d)) < 1e-6 and round(r * d) >= 1 for d in RECORD_DURATIONS
            )
        ]
        raise FormatError(
            "EDF writer: no data record duration of "
            + ", ".join(f"{d:g}" for d in RECORD_DURATIONS)
            + " s holds a whole number of samples of "
            + (", ".join(bad) or "every channel at once")
        )
    return fits


def write_edf(
    path: str | os.PathLike[str],
    channels: Sequence[Channel],
    annotations: Sequence[Annotation],
    *,
    start: dt.datetime,
    patient_code: str = "X",
    patient_name: str | None = None,
    recording: str = "",
    bdf: bool | None = None,
) -> dict[str, Any]:
    """Write ``channels`` and ``annotations`` as an EDF+ or BDF+ file.

    Parameters
    ----------
    path : the file to write (replaced when it exists); written to a temporary file in the same
        folder first and renamed, so a failed write leaves nothing
    channels : the signals, values in their units; a jump in ``sample_index`` is lost samples
        (see the module's description for how they are kept); non-finite values are written as
        lost samples; a channel's ``t0_s`` is rounded to its nearest sample
    annotations : onsets in seconds after ``start``
    start : when the recording started (wall clock; a time zone is dropped); its microseconds go
        into the first record's time keeping
    patient_code, patient_name : the EDF+ patient field's code and name (ASCII, spaces → ``_``;
        unknown name → ``X``); sex and birth date are written as unknown (``X``)
    recording : free text after the EDF+ recording field's ``Startdate dd-MMM-yyyy X X X``
    bdf : True for BDF+ (24 bits), False for EDF+ (16 bits), None to choose: EDF+ unless some
        channel's 16-bit step (its physical range / 65535) would be coarser than its
        ``resolution``; a channel without a resolution never asks for BDF (16 bits keep 1/65535
        of its range, far finer than any use of a channel whose source precision is unknown)

    Returns
    -------
    dict — ``format`` (``"EDF+C"``, ``"EDF+D"``, ``"BDF+C"``, ``"BDF+D"``),
    ``record_duration_s``, ``n_records`` (written), ``skipped_records`` (records without any
    sample, left out), ``lost_runs`` (lost-sample annotations added), ``notes`` (list of str) and
    ``channels``: per channel a dict with ``label`` (as written), ``physical_min``,
    ``physical_max``, ``step`` (quantisation step in the channel's unit), ``resolution`` and
    ``step_ok`` (step ≤ resolution; None without a resolution).

    Raises
    ------
    FormatError — no channels, a rate that fits no record duration, a value too large for the
    header, a negative ``t0_s``, two channels with the same label. OSError when the file cannot
    be written.
    """
    if not channels:
        raise FormatError("EDF writer: no channels to write")
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(f"EDF writer: {path} is a folder, not a file name")
    notes: list[str] = []
    labels = [_ascii(c.label).strip()[:16] or f"Signal {i + 1}" for i, c in enumerate(channels)]
    if len(set(labels)) < len(labels):
        dup = sorted({x for x in labels if labels.count(x) > 1})
        raise FormatError(f"EDF writer: two channels would have the same label {dup[0]!r}")
    rates = [float(c.rate_hz) for c in channels]

    # each channel on the file's grid: position, digital-ready physical values
    positions: list[np.ndarray] = []
    values: list[np.ndarray] = []
    for c, lab in zip(channels, labels, strict=True):
        if c.t0_s < 0:
            raise FormatError(f"EDF writer: channel {lab!r} starts {c.t0_s} s before the recording")
        shift = round(c.t0_s * c.rate_hz)
        if abs(shift - c.t0_s * c.rate_hz) > 1e-3:
            notes.append(
                f"{lab}: start moved by {shift / c.rate_hz - c.t0_s:+.6f} s onto the sample grid."
            )
        ok = np.isfinite(c.values)
        if not ok.all():
            notes.append(f"{lab}: {int((~ok).sum()):,} non-finite values written as lost samples.")
        positions.append(c.sample_index[ok] + shift)
        values.append(c.values[ok])

    # physical ranges (outward, as written) and the format
    ranges: list[tuple[str, str]] = []
    for v, c in zip(values, channels, strict=True):
        if v.size == 0:
            lo, hi = -1.0, 1.0
        else:
            lo, hi = float(v.min()), float(v.max())
            if lo == hi:
                half = c.resolution if c.resolution else max(abs(lo) * 1e-3, 1e-3)
                lo, hi = lo - half, hi + half
        ranges.append((_number_field(lo, up=False), _number_field(hi, up=True)))

    def step_of(r: tuple[str, str], bits: int) -> float:
        return (float(r[1]) - float(r[0])) / (2**bits - 1)

    if bdf is None:
        bdf = any(
            c.resolution is not None and step_of(r, 16) > c.resolution
            for c, r in zip(channels, ranges, strict=True)
        )
    bits = 24 if bdf else 16
    bps = 3 if bdf else 2
    dmin, dmax = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
    family = "BDF" if bdf else "EDF"
    sub = (start.microsecond or 0) / 1e6
    start_s = start.replace(microsecond=0, tzinfo=None)

    # digital values on the full grid, lost samples filled; lost runs found per record choice
    durations = _record_duration(rates, labels)
    digital: list[np.ndarray] = []
    for v, r in zip(values, ranges, strict=True):
        pmin, pmax = float(r[0]), float(r[1])
        gain = (pmax - pmin) / (dmax - dmin)
        digital.append(np.clip(np.round((v - pmin) / gain + dmin), dmin, dmax).astype(np.int32))

    def layout(d: float) -> dict[str, Any]:
        spr = [round(rate * d) for rate in rates]
        n_rec = max(
            [1] + [-(-(int(p[-1]) + 1) // s) for p, s in zip(positions, spr, strict=True) if p.size]
        )
        has = np.zeros(n_rec, dtype=bool)
        for p, s in zip(positions, spr, strict=True):
            has[np.unique(p // s)] = True
        has[0] = True  # the first record is always written: it carries the start
        runs: list[tuple[int, float, float, str]] = []  # record, onset, duration, text
        for p, s, rate, lab in zip(positions, spr, rates, labels, strict=True):
            present = np.zeros(n_rec * s, dtype=bool)
            present[p] = True
            lost = ~present & np.repeat(has, s)
            edges = np.flatnonzero(np.diff(np.concatenate(([0], lost.view(np.int8), [0]))))
            for a, b in zip(edges[::2], edges[1::2], strict=True):
                runs.append((int(a // s), a / rate, (b - a) / rate, f"{LOST_TEXT} ({lab})"))
        written = np.flatnonzero(has)
        per_record: dict[int, list[bytes]] = {int(r): [] for r in written}

        def home(onset: float) -> int:
            r = min(max(int(math.floor(onset / d + 1e-9)), 0), n_rec - 1)
            i = int(np.searchsorted(written, r, side="right")) - 1
            return int(written[max(i, 0)])

        for a in annotations:
            per_record[home(a.onset_s)].append(_tal(a.onset_s + sub, a.duration_s, a.text))
        for r, onset, duration, text in runs:
            per_record[home(onset) if not has[r] else r].append(_tal(onset + sub, duration, text))
        tals = {
            r: _tal_time(sub + r * d).encode("ascii") + b"\x14\x14\x00" + b"".join(items)
            for r, items in per_record.items()
        }
        ann_spr = math.ceil(max(len(t) for t in tals.values()) / bps)
        return {
            "d": d,
            "spr": spr,
            "n_rec": n_rec,
            "has": has,
            "written": written,
            "tals": tals,
            "ann_spr": ann_spr,
            "runs": len(runs),
            "bytes": (sum(spr) + ann_spr) * bps,
        }

    plan = layout(durations[0])
    if plan["bytes"] > MAX_RECORD_BYTES:
        for d in durations[1:]:
            other = layout(d)
            if other["bytes"] <= MAX_RECORD_BYTES:
                plan = other
                break
    spr = plan["spr"]
    written = plan["written"]
    n_written = len(written)
    skipped = int(plan["n_rec"] - n_written)
    plus = "D" if skipped else "C"
    fmt = f"{family}+{plus}"

    # header
    code = _ascii(patient_code, underscores=True) or "X"
    pname = _ascii(patient_name, underscores=True) if patient_name else "X"
    date_text = f"{start_s.day:02d}-{_MONTHS[start_s.month - 1]}-{start_s.year:04d}"
    rec_text = f"Startdate {date_text} X X X {_ascii(recording)}".rstrip()
    ann_label = f"{family} Annotations"
    ns = len(channels) + 1
    head = b"".join(
        [
            _BDF_VERSION if bdf else _field("0", 8),
            _field(f"{code} X X {pname}", 80),
            _field(rec_text, 80),
            _field(start_s.strftime("%d.%m.") + f"{start_s.year % 100:02d}", 8),
            _field(start_s.strftime("%H.%M.%S"), 8),
            _field(str(256 * (ns + 1)), 8),
            _field(f"{family}+{plus}", 44),
            _field(str(n_written), 8),
            _field(_number_field(plan["d"], up=True), 8),
            _field(str(ns), 4),
        ]
    )
    sig_rows: list[list[str]] = [
        labels + [ann_label],
        [_ascii(c.transducer).strip() for c in channels] + [""],
        [_ascii(c.unit).strip() for c in channels] + [""],
        [r[0] for r in ranges] + ["-1"],
        [r[1] for r in ranges] + ["1"],
        [str(dmin)] * ns,
        [str(dmax)] * ns,
        [""] * ns,
        [str(s) for s in spr] + [str(plan["ann_spr"])],
        [""] * ns,
    ]
    for (_fname, width), row in zip(_SIGNAL_FIELDS, sig_rows, strict=True):
        head += b"".join(_field(x, width) for x in row)

    # data
    record_bytes = plan["bytes"]
    buf = np.zeros((n_written, record_bytes), dtype=np.uint8)
    col = 0
    for p, dig, s in zip(positions, digital, spr, strict=True):
        n = plan["n_rec"] * s
        if p.size:
            idx = np.full(n, -1, dtype=np.int64)
            idx[p] = np.arange(p.size)
            idx = np.maximum.accumulate(idx)
            idx[idx < 0] = 0
            full = dig[idx]
        else:
            full = np.zeros(n, dtype=np.int32)
        rows = full.reshape(plan["n_rec"], s)[written]
        b = rows.astype("<i4").view(np.uint8).reshape(n_written, s, 4)[..., :bps]
        buf[:, col : col + s * bps] = b.reshape(n_written, s * bps)
        col += s * bps
    for i, r in enumerate(written):
        t = plan["tals"][int(r)]
        buf[i, col : col + len(t)] = np.frombuffer(t, dtype=np.uint8)

    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(head)
            f.write(buf.tobytes())
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise

    report_channels = []
    for c, lab, r in zip(channels, labels, ranges, strict=True):
        step = step_of(r, bits)
        report_channels.append(
            {
                "label": lab,
                "physical_min": float(r[0]),
                "physical_max": float(r[1]),
                "step": step,
                "resolution": c.resolution,
                "step_ok": None if c.resolution is None else bool(step <= c.resolution),
            }
        )
    return {
        "format": fmt,
        "record_duration_s": plan["d"],
        "n_records": n_written,
        "skipped_records": skipped,
        "lost_runs": plan["runs"],
        "channels": report_channels,
        "notes": notes,
    }
