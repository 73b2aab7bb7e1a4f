"""TheraScope sensor packet format v1: encoder, strict parser and a stateful stream decoder.

The byte layout is specified in ``resources/protocol/stream-format-v1.md``; this module is its
reference implementation. Simulated and real sensors feed the same :class:`StreamDecoder`, so the
recorder never sees a difference between them.

All multi-byte fields are little-endian. Physical value = raw × scale + offset, per channel, with
scale and offset taken from the stream's descriptor packet.
"""

from __future__ import annotations

import math
import struct
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from enum import IntEnum

import numpy as np

from core.types import SampleBatch, StreamInfo

VERSION = 1
PKT_DESCRIPTOR = 0x01
PKT_DATA = 0x02
#: largest payload that fits one BLE notification with ATT MTU 247 (247 − 3 bytes ATT header)
MAX_PAYLOAD = 244
DATA_HEADER_SIZE = 10
DESCRIPTOR_FIXED_SIZE = 8
COUNTER_MOD = 1 << 32

_DATA_HEADER = struct.Struct("<BBBBIBB")
_DESC_HEADER = struct.Struct("<BBBBf")


class SampleFormat(IntEnum):
    """Sample format codes (byte 3 of a data packet)."""

    INT16 = 0x01
    INT24 = 0x02
    INT32 = 0x03
    FLOAT32 = 0x04


#: bytes per sample value
FORMAT_SIZE: dict[SampleFormat, int] = {
    SampleFormat.INT16: 2,
    SampleFormat.INT24: 3,
    SampleFormat.INT32: 4,
    SampleFormat.FLOAT32: 4,
}
#: inclusive raw range of the integer formats (two's complement)
FORMAT_RANGE: dict[SampleFormat, tuple[int, int]] = {
    f: (-(1 << (8 * FORMAT_SIZE[f] - 1)), (1 << (8 * FORMAT_SIZE[f] - 1)) - 1)
    for f in (SampleFormat.INT16, SampleFormat.INT24, SampleFormat.INT32)
}


class ProtocolError(ValueError):
    """A payload that does not follow stream format v1 (or values that cannot be encoded)."""


@dataclass(frozen=True)
class Descriptor:
    """Everything a receiver needs to turn one stream's raw samples into physical units.

    Parameters
    ----------
    stream_id : int — 0–255
    name : str — stream name, e.g. ``"bio"``
    rate_hz : float — nominal sampling rate (Hz)
    channels : tuple of str — channel names
    units : tuple of str — one unit per channel, e.g. ``("mV", "uS")``
    scales : tuple of float — physical units per raw step, per channel
    offsets : tuple of float — physical value of raw 0, per channel (channel's unit)
    """

    stream_id: int
    name: str
    rate_hz: float
    channels: tuple[str, ...]
    units: tuple[str, ...]
    scales: tuple[float, ...]
    offsets: tuple[float, ...]

    @property
    def n_channels(self) -> int:
        return len(self.channels)

    def stream_info(self) -> StreamInfo:
        """The :class:`StreamInfo` this descriptor declares."""
        return StreamInfo(self.stream_id, self.name, self.channels, self.units, self.rate_hz)


@dataclass(frozen=True)
class DataPacket:
    """One parsed data packet, still in raw units.

    Parameters
    ----------
    stream_id : int
    fmt : SampleFormat
    counter : int — 32-bit (wrapped) sample counter of the first sample
    raw : ndarray, shape (n, channels) — int32 for integer formats, float32 for FLOAT32
    """

    stream_id: int
    fmt: SampleFormat
    counter: int
    raw: np.ndarray


def descriptor_for(
    info: StreamInfo, scales: Sequence[float], offsets: Sequence[float] | None = None
) -> Descriptor:
    """Build a :class:`Descriptor` for ``info`` with per-channel ``scales`` and ``offsets``.

    Scales and offsets are rounded to float32, as they travel, so that the sender quantises with
    exactly the values the receiver will use.
    """
    offs = offsets if offsets is not None else [0.0] * len(info.channels)
    if len(scales) != len(info.channels) or len(offs) != len(info.channels):
        raise ProtocolError("descriptor: one scale and one offset per channel")
    sc = tuple(float(x) for x in np.asarray(scales, dtype=np.float32))
    of = tuple(float(x) for x in np.asarray(offs, dtype=np.float32))
    rate_hz = float(np.float32(info.rate_hz))
    return Descriptor(info.stream_id, info.name, rate_hz, info.channels, info.units, sc, of)


def max_samples_per_packet(n_channels: int, fmt: SampleFormat) -> int:
    """Most samples (per channel) one data packet of ≤ :data:`MAX_PAYLOAD` bytes can hold."""
    return min(255, (MAX_PAYLOAD - DATA_HEADER_SIZE) // (n_channels * FORMAT_SIZE[fmt]))


def _encode_str(s: str) -> bytes:
    b = s.encode("utf-8")
    if len(b) > 255:
        raise ProtocolError(f"descriptor: string too long ({len(b)} bytes): {s[:20]!r}")
    return bytes([len(b)]) + b


def encode_descriptor(desc: Descriptor) -> bytes:
    """Encode a descriptor packet (type 0x01)."""
    c = desc.n_channels
    if not (0 <= desc.stream_id <= 255) or not (1 <= c <= 255):
        raise ProtocolError("descriptor: stream id and channel count must fit one byte (C ≥ 1)")
    if len(desc.units) != c or len(desc.scales) != c or len(desc.offsets) != c:
        raise ProtocolError("descriptor: one unit, scale and offset per channel")
    parts = [_DESC_HEADER.pack(VERSION, PKT_DESCRIPTOR, desc.stream_id, c, desc.rate_hz)]
    parts.append(np.column_stack([desc.scales, desc.offsets]).astype("<f4").tobytes())
    parts.append(_encode_str(desc.name))
    for ch, unit in zip(desc.channels, desc.units, strict=True):
        parts += [_encode_str(ch), _encode_str(unit)]
    out = b"".join(parts)
    if len(out) > MAX_PAYLOAD:
        raise ProtocolError(f"descriptor is {len(out)} bytes (max {MAX_PAYLOAD})")
    return out


def to_raw(desc: Descriptor, values: np.ndarray, fmt: SampleFormat) -> np.ndarray:
    """Quantise physical values, shape (n, channels), to raw values for ``fmt``.

    Integer formats round to the nearest step and saturate at the format's range (as an ADC clips);
    FLOAT32 gives float32 ``(value − offset) / scale``.
    """
    x = (np.asarray(values, dtype=np.float64) - np.asarray(desc.offsets)) / np.asarray(desc.scales)
    if fmt == SampleFormat.FLOAT32:
        return x.astype(np.float32)
    lo, hi = FORMAT_RANGE[fmt]
    return np.clip(np.rint(x), lo, hi).astype(np.int64)


def encode_data(
    stream_id: int, first_counter: int, samples: np.ndarray, fmt: SampleFormat = SampleFormat.INT16
) -> bytes:
    """Encode a data packet (type 0x02).

    Parameters
    ----------
    stream_id : int — 0–255
    first_counter : int — counter of the first sample; taken modulo 2³² (unwrapped values welcome)
    samples : ndarray, shape (n, channels) — raw values: integers within the format's range, or
        floats for FLOAT32
    fmt : SampleFormat
    """
    fmt = SampleFormat(fmt)
    a = np.asarray(samples)
    if a.ndim != 2 or a.shape[0] < 1 or a.shape[1] < 1:
        raise ProtocolError("data: samples must have shape (n ≥ 1, channels ≥ 1)")
    n, c = a.shape
    size = DATA_HEADER_SIZE + n * c * FORMAT_SIZE[fmt]
    if n > 255 or c > 255 or size > MAX_PAYLOAD:
        raise ProtocolError(f"data: {n}×{c} samples make {size} bytes (max {MAX_PAYLOAD})")
    if not (0 <= stream_id <= 255):
        raise ProtocolError("data: stream id must be 0–255")
    head = _DATA_HEADER.pack(VERSION, PKT_DATA, stream_id, fmt, first_counter % COUNTER_MOD, n, c)
    if fmt == SampleFormat.FLOAT32:
        return head + a.astype("<f4").tobytes()
    if not np.issubdtype(a.dtype, np.integer):
        raise ProtocolError("data: integer formats need integer raw samples (see to_raw)")
    lo, hi = FORMAT_RANGE[fmt]
    if a.min() < lo or a.max() > hi:
        raise ProtocolError(f"data: raw sample outside {fmt.name} range")
    if fmt == SampleFormat.INT16:
        return head + a.astype("<i2").tobytes()
    if fmt == SampleFormat.INT32:
        return head + a.astype("<i4").tobytes()
    # int24: the low three bytes of each little-endian int32
    return head + a.astype("<i4").view(np.uint8).reshape(-1, 4)[:, :3].tobytes()


def _decode_samples(body: memoryview, fmt: SampleFormat, n: int, c: int) -> np.ndarray:
    if fmt == SampleFormat.INT16:
        return np.frombuffer(body, dtype="<i2").astype(np.int32).reshape(n, c)
    if fmt == SampleFormat.INT32:
        return np.frombuffer(body, dtype="<i4").astype(np.int32).reshape(n, c)
    if fmt == SampleFormat.FLOAT32:
        return np.frombuffer(body, dtype="<f4").astype(np.float32).reshape(n, c)
    b3 = np.frombuffer(body, dtype=np.uint8).reshape(-1, 3)
    b4 = np.empty((b3.shape[0], 4), dtype=np.uint8)
    b4[:, :3] = b3
    b4[:, 3] = np.where(b3[:, 2] & 0x80, 0xFF, 0x00)  # sign extension
    return b4.view("<i4").astype(np.int32).reshape(n, c)


def _decode_str(buf: memoryview, pos: int) -> tuple[str, int]:
    if pos >= len(buf):
        raise ProtocolError("descriptor: truncated string")
    end = pos + 1 + buf[pos]
    if end > len(buf):
        raise ProtocolError("descriptor: truncated string")
    try:
        return bytes(buf[pos + 1 : end]).decode("utf-8"), end
    except UnicodeDecodeError:
        raise ProtocolError("descriptor: string is not UTF-8") from None


def _parse_descriptor(buf: memoryview) -> Descriptor:
    if len(buf) < DESCRIPTOR_FIXED_SIZE:
        raise ProtocolError(f"descriptor: {len(buf)} bytes, header needs {DESCRIPTOR_FIXED_SIZE}")
    _, _, sid, c, rate_hz = _DESC_HEADER.unpack_from(buf)
    if c < 1:
        raise ProtocolError("descriptor: zero channels")
    if not (math.isfinite(rate_hz) and rate_hz > 0):
        raise ProtocolError(f"descriptor: bad rate {rate_hz}")
    pos = DESCRIPTOR_FIXED_SIZE + 8 * c
    if len(buf) < pos:
        raise ProtocolError("descriptor: truncated scale/offset table")
    so = np.frombuffer(buf[DESCRIPTOR_FIXED_SIZE:pos], dtype="<f4").reshape(c, 2).astype(float)
    if not np.all(np.isfinite(so)) or np.any(so[:, 0] == 0):
        raise ProtocolError("descriptor: scales must be finite and non-zero, offsets finite")
    name, pos = _decode_str(buf, pos)
    chans, units = [], []
    for _ in range(c):
        ch, pos = _decode_str(buf, pos)
        unit, pos = _decode_str(buf, pos)
        chans.append(ch)
        units.append(unit)
    if pos != len(buf):
        raise ProtocolError(f"descriptor: {len(buf) - pos} trailing bytes")
    scales = tuple(float(x) for x in so[:, 0])
    offsets = tuple(float(x) for x in so[:, 1])
    return Descriptor(sid, name, float(rate_hz), tuple(chans), tuple(units), scales, offsets)


def _parse_data(buf: memoryview) -> DataPacket:
    if len(buf) < DATA_HEADER_SIZE:
        raise ProtocolError(f"data: {len(buf)} bytes, header needs {DATA_HEADER_SIZE}")
    _, _, sid, code, counter, n, c = _DATA_HEADER.unpack_from(buf)
    try:
        fmt = SampleFormat(code)
    except ValueError:
        raise ProtocolError(f"data: unknown sample format 0x{code:02x}") from None
    if n < 1 or c < 1:
        raise ProtocolError("data: zero samples or channels")
    want = DATA_HEADER_SIZE + n * c * FORMAT_SIZE[fmt]
    if len(buf) != want:
        raise ProtocolError(f"data: {len(buf)} bytes, header implies {want}")
    return DataPacket(sid, fmt, counter, _decode_samples(buf[DATA_HEADER_SIZE:], fmt, n, c))


def parse_packet(payload: bytes | bytearray | memoryview) -> Descriptor | DataPacket:
    """Parse one payload strictly (stateless). Raises :class:`ProtocolError` if it is malformed."""
    buf = memoryview(payload).cast("B")
    if len(buf) < 2:
        raise ProtocolError(f"packet of {len(buf)} bytes is too short")
    if buf[0] != VERSION:
        raise ProtocolError(f"unsupported version {buf[0]}")
    if buf[1] == PKT_DESCRIPTOR:
        return _parse_descriptor(buf)
    if buf[1] == PKT_DATA:
        return _parse_data(buf)
    raise ProtocolError(f"unknown packet type 0x{buf[1]:02x}")


class _StreamState:
    """Per-stream receive state: descriptor, newest delivered end, recent delivered runs."""

    # gaps remembered for duplicate detection; older history makes a late copy "out of order"
    RUNS_KEPT = 64

    def __init__(self, desc: Descriptor) -> None:
        self.desc = desc
        self.scales = np.asarray(desc.scales, dtype=np.float64)
        self.offsets = np.asarray(desc.offsets, dtype=np.float64)
        self.end: int | None = None  # unwrapped counter one past the newest delivered sample
        self.runs: deque[list[int]] = deque(maxlen=self.RUNS_KEPT)  # [start, end) delivered

    def unwrap(self, counter32: int) -> int:
        if self.end is None:
            return counter32
        d = (counter32 - self.end) % COUNTER_MOD
        if d >= COUNTER_MOD // 2:
            d -= COUNTER_MOD
        return self.end + d

    def delivered(self, start: int, end: int) -> bool:
        return any(r[0] <= start and end <= r[1] for r in self.runs)

    def record(self, start: int, end: int) -> None:
        if self.runs and self.runs[-1][1] == start:
            self.runs[-1][1] = end
        else:
            self.runs.append([start, end])
        self.end = end


class StreamDecoder:
    """Stateful decoder for one connection: packets in, :class:`SampleBatch` (physical units) out.

    Bad bytes never raise: each dropped packet is counted and the reason kept in
    :attr:`last_error`. Samples are delivered strictly in counter order per stream; a packet older
    than the newest delivered one is dropped (duplicate or out of order), and a forward jump in the
    counter is a gap of lost samples (counted in :attr:`n_lost_samples`, never filled).
    """

    def __init__(self) -> None:
        self._streams: dict[int, _StreamState] = {}
        self.n_packets = 0
        self.n_batches = 0
        self.n_descriptors = 0
        self.n_malformed = 0
        self.n_no_descriptor = 0
        self.n_duplicates = 0
        self.n_out_of_order = 0
        self.n_lost_samples = 0
        self.last_error = ""

    @property
    def streams(self) -> dict[int, StreamInfo]:
        """Streams declared so far, by stream id."""
        return {sid: st.desc.stream_info() for sid, st in self._streams.items()}

    def descriptor(self, stream_id: int) -> Descriptor | None:
        """The descriptor in force for ``stream_id`` (None if none was received)."""
        st = self._streams.get(stream_id)
        return st.desc if st else None

    @property
    def n_dropped(self) -> int:
        """All packets dropped for any reason."""
        return self.n_malformed + self.n_no_descriptor + self.n_duplicates + self.n_out_of_order

    def stats(self) -> dict[str, int | str]:
        """The ``n_…`` counters (without the prefix) and the last error, JSON-serialisable."""
        d: dict[str, int | str] = {k[2:]: v for k, v in vars(self).items() if k.startswith("n_")}
        d["last_error"] = self.last_error
        return d

    def feed(self, payload: bytes | bytearray | memoryview, arrival_ns: int) -> SampleBatch | None:
        """Decode one payload that arrived at host time ``arrival_ns`` (ns).

        Returns the decoded batch (float32, shape (n, channels), in the descriptor's units), or
        None for descriptor packets and dropped packets.
        """
        self.n_packets += 1
        try:
            pkt = parse_packet(payload)
        except ProtocolError as e:
            self.n_malformed += 1
            self.last_error = str(e)
            return None
        if isinstance(pkt, Descriptor):
            self._on_descriptor(pkt)
            return None
        st = self._streams.get(pkt.stream_id)
        if st is None:
            self.n_no_descriptor += 1
            self.last_error = f"data for stream {pkt.stream_id} before its descriptor"
            return None
        n, c = pkt.raw.shape
        if c != st.desc.n_channels:
            self.n_malformed += 1
            self.last_error = f"data: {c} channels, descriptor declares {st.desc.n_channels}"
            return None
        start = st.unwrap(pkt.counter)
        if st.end is not None and start < st.end:
            if st.delivered(start, start + n):
                self.n_duplicates += 1
                self.last_error = f"duplicate packet at counter {start}"
            else:
                self.n_out_of_order += 1
                self.last_error = f"out-of-order packet at counter {start} (newest end {st.end})"
            return None
        if st.end is not None:
            self.n_lost_samples += start - st.end
        st.record(start, start + n)
        self.n_batches += 1
        phys = (pkt.raw * st.scales + st.offsets).astype(np.float32)
        return SampleBatch(pkt.stream_id, start, phys, int(arrival_ns))

    def _on_descriptor(self, desc: Descriptor) -> None:
        self.n_descriptors += 1
        st = self._streams.get(desc.stream_id)
        # a repeated identical descriptor (sent so late joiners can decode) changes nothing; a
        # different one means the sensor restarted or was reconfigured: counting starts afresh
        if st is None or st.desc != desc:
            self._streams[desc.stream_id] = _StreamState(desc)
