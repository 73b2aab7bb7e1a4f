"""PLUX BITalino (r)evolution over BLE: commands, frame layout, CRC-4, sequence → counter, units.

Formats follow PLUX's published BITalino API (``bitalino.py`` in BITalinoWorld/revolution-python-api:
``start``, ``read``, ``checkCRC4``) and the BLE firmware's GATT layout:

* commands (one byte, written to the command characteristic): set rate ``(code << 6) | 0x03``
  with code 0–3 for 1/10/100/1000 Hz; start ``0x01 | (channel_mask << 2)`` (bit 0 = A1); stop
  ``0x00``.
* a frame of *n* active channels is ``ceil((12 + 10·n) / 8)`` bytes for n ≤ 4, else
  ``ceil((52 + 6·(n − 4)) / 8)``; the last byte holds a 4-bit sequence number (high nibble) and a
  CRC-4 (low nibble, polynomial x⁴ + x + 1). Active channels fill the slots in ascending port
  order; slots 1–4 are 10-bit, slots 5–6 6-bit. A notification carries whole frames.

The 4-bit sequence only tells losses modulo 16 frames; :class:`~devices.ble.sequence.SequenceAligner`
turns it into a sample counter with the notification size and the lower envelope of arrival
times. After a reconnect the device starts a new acquisition: its frames are placed on the
stream's counter grid by host time.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence

import numpy as np

from core.types import SampleBatch, StreamInfo
from devices.ble.driver import GattOp, SensorDriver, battery_ops, subscribe, write
from devices.ble.sequence import SequenceAligner

BITALINO_SERVICE = "c566488a-0882-4e1b-a6d0-0b717e652234"
BITALINO_COMMANDS = "4051eb11-bf0a-4c74-8730-a48f4193fcea"
BITALINO_FRAMES = "40fdba6b-672e-47c4-808a-e529adff3633"
RATE_CODES = {1: 0, 10: 1, 100: 2, 1000: 3}
CMD_STOP = b"\x00"
MAX_NOTIFICATION = 20  # bytes in one frames notification (ATT MTU 23)
VCC = 3.3  # V, the board's supply
ECG_GAIN = 1100.0  # BITalino ECG sensor gain
EDA_DIVISOR = 0.132  # BITalino EDA sensor: µS = (ADC/2^n · VCC) / 0.132

#: CRC-4 (x⁴ + x + 1) of a nibble appended to a 4-bit remainder: table[r] = r·x⁴ mod poly
CRC4_TABLE = (0, 3, 6, 5, 12, 15, 10, 9, 11, 8, 13, 14, 7, 4, 1, 2)


def cmd_set_rate(rate_hz: int) -> bytes:
    """The one-byte command that sets the sampling rate (1, 10, 100 or 1000 Hz)."""
    if rate_hz not in RATE_CODES:
        raise ValueError(f"BITalino rates are 1, 10, 100 or 1000 Hz, not {rate_hz}")
    return bytes([(RATE_CODES[rate_hz] << 6) | 0x03])


def cmd_start(ports: Sequence[int]) -> bytes:
    """The one-byte start command for analog ports (1–6 = A1–A6)."""
    mask = 0
    for p in ports:
        if not 1 <= p <= 6:
            raise ValueError(f"BITalino analog ports are 1–6 (A1–A6), not {p}")
        mask |= 1 << (p - 1)
    if not mask:
        raise ValueError("BITalino: at least one analog port must be acquired")
    return bytes([0x01 | (mask << 2)])


def frame_size(n_channels: int) -> int:
    """Bytes in one frame with ``n_channels`` active analog channels (1–6)."""
    if not 1 <= n_channels <= 6:
        raise ValueError("BITalino acquires 1–6 analog channels")
    bits = 12 + 10 * n_channels if n_channels <= 4 else 52 + 6 * (n_channels - 4)
    return -(-bits // 8)


def crc4(frame: bytes) -> int:
    """CRC-4 of a frame, over all bytes with the last byte's low nibble taken as zero."""
    crc = 0
    for b in frame[:-1]:
        crc = CRC4_TABLE[crc] ^ (b >> 4)
        crc = CRC4_TABLE[crc] ^ (b & 0x0F)
    crc = CRC4_TABLE[crc] ^ (frame[-1] >> 4)
    return CRC4_TABLE[crc]


def crc4_bitwise(frame: bytes) -> int:
    """The same CRC-4, bit by bit from the first byte's MSB (the reference definition)."""
    x = 0
    data = bytes(frame[:-1]) + bytes([frame[-1] & 0xF0])
    for byte in data:
        for i in range(7, -1, -1):
            x <<= 1
            if x & 0x10:
                x ^= 0x03
            x ^= (byte >> i) & 1
    return x & 0x0F


def decode_frame(d: bytes, n_channels: int) -> tuple[int, bool, list[int]]:
    """Decode one frame: (sequence 0–15, CRC ok, raw ADC values of the active slots)."""
    seq = d[-1] >> 4
    ok = crc4(d) == d[-1] & 0x0F
    a = [
        ((d[-2] & 0x0F) << 6) | (d[-3] >> 2),
        ((d[-3] & 0x03) << 8) | d[-4] if len(d) >= 4 else 0,
        (d[-5] << 2) | (d[-6] >> 6) if len(d) >= 6 else 0,
        ((d[-6] & 0x3F) << 4) | (d[-7] >> 4) if len(d) >= 7 else 0,
        ((d[-7] & 0x0F) << 2) | (d[-8] >> 6) if len(d) >= 8 else 0,
        d[-8] & 0x3F if len(d) >= 8 else 0,
    ]
    return seq, ok, a[:n_channels]


def encode_frame(seq: int, values: Sequence[int], digital: int = 0) -> bytes:
    """Build one frame as the device sends it (for tests and simulators), CRC included."""
    n = len(values)
    a = list(values) + [0] * (6 - n)
    for i, v in enumerate(a):
        if not 0 <= v < (1 << (10 if i < 4 else 6)):
            raise ValueError(f"slot {i + 1} value {v} out of range")
    d = [0] * 8
    d[-1] = (seq & 0x0F) << 4
    d[-2] = ((digital & 0x0F) << 4) | (a[0] >> 6)
    d[-3] = ((a[0] & 0x3F) << 2) | (a[1] >> 8)
    d[-4] = a[1] & 0xFF
    d[-5] = a[2] >> 2
    d[-6] = ((a[2] & 0x03) << 6) | (a[3] >> 4)
    d[-7] = ((a[3] & 0x0F) << 4) | (a[4] >> 2)
    d[-8] = ((a[4] & 0x03) << 6) | a[5]
    frame = bytearray(d[8 - frame_size(n) :])
    frame[-1] |= crc4(bytes(frame))
    return bytes(frame)


def ecg_mv(adc: np.ndarray, bits: int = 10) -> np.ndarray:
    """BITalino ECG sensor transfer function (PLUX ECG datasheet): mV from raw ADC.

    ECG(V) = (ADC/2ⁿ − ½) · VCC / G_ECG, with VCC = 3.3 V and G_ECG = 1100.
    """
    return (np.asarray(adc, dtype=np.float64) / 2**bits - 0.5) * VCC / ECG_GAIN * 1000.0


def eda_us(adc: np.ndarray, bits: int = 10) -> np.ndarray:
    """BITalino EDA sensor transfer function (PLUX EDA datasheet): µS from raw ADC.

    EDA(µS) = (ADC/2ⁿ) · VCC / 0.132, with VCC = 3.3 V.
    """
    return np.asarray(adc, dtype=np.float64) / 2**bits * VCC / EDA_DIVISOR


class BitalinoDriver(SensorDriver):
    """BITalino (r)evolution BLE: chosen analog ports as ECG (mV), EDA (µS) or raw ADC.

    Parameters
    ----------
    channels : sequence of (port, name) — analog port 1–6 (A1–A6) and channel name; names
        starting with ``ECG`` or ``EDA`` get the sensor's transfer function, others stay raw ADC
    rate_hz : int — 1, 10, 100 or 1000 Hz
    hold_s : float — longest host time (s) packets are held while lost periods are decided
    """

    profile = "bitalino"
    title = "PLUX BITalino (r)evolution"
    service_uuid = BITALINO_SERVICE

    def __init__(
        self,
        channels: Sequence[tuple[int, str]] = ((2, "ECG"), (3, "EDA")),
        rate_hz: int = 1000,
        hold_s: float = 0.25,
    ) -> None:
        super().__init__()
        chans = sorted((int(p), str(n)) for p, n in channels)  # the device sends ports in order
        if len({p for p, _ in chans}) != len(chans) or len({n for _, n in chans}) != len(chans):
            raise ValueError("BITalino: ports and channel names must be unique")
        self.ports = tuple(p for p, _ in chans)
        cmd_start(self.ports)  # validates the ports
        self.rate_hz = int(rate_hz)
        cmd_set_rate(self.rate_hz)
        names = tuple(n for _, n in chans)
        units = tuple(
            "mV" if n.upper().startswith("ECG") else "uS" if n.upper().startswith("EDA") else "adc"
            for n in names
        )
        self.info = StreamInfo(0, "bio", names, units, float(self.rate_hz))
        self.frame_size = frame_size(len(chans))
        self.aligner = SequenceAligner(self.info.stream_id, self.rate_hz, 16, hold_s)
        self._bits = [10 if i < 4 else 6 for i in range(len(chans))]
        # the last notifications accepted: an identical one is a duplicate (a flat signal repeats
        # its bytes only after lcm(16, m) frames, more than two notifications)
        self._recent: deque[bytes] = deque(maxlen=2)
        self._late = 0  # packets found old on arrival
        self.counts["seq_mismatch"] = 0  # intact frames at the wrong place in a notification

    @property
    def streams(self) -> list[StreamInfo]:
        return [self.info]

    def connect_ops(self) -> list[GattOp]:
        return [
            subscribe(BITALINO_FRAMES),
            subscribe(BITALINO_COMMANDS, optional=True),
            *battery_ops(),
        ]

    def start_ops(self) -> list[GattOp]:
        return [
            write(BITALINO_COMMANDS, cmd_set_rate(self.rate_hz)),
            write(BITALINO_COMMANDS, cmd_start(self.ports)),
        ]

    def stop_ops(self) -> list[GattOp]:
        return [write(BITALINO_COMMANDS, CMD_STOP)]

    def describe(self) -> dict[str, object]:
        return {**super().describe(), "ports": list(self.ports), "rate": self.rate_hz}

    def to_units(self, raw: np.ndarray) -> np.ndarray:
        """Raw ADC values, shape (n, channels), in the stream's units (float32)."""
        out = np.empty(raw.shape, dtype=np.float32)
        for i, (unit, bits) in enumerate(zip(self.info.units, self._bits, strict=True)):
            col = raw[:, i]
            out[:, i] = (
                ecg_mv(col, bits) if unit == "mV" else eda_us(col, bits) if unit == "uS" else col
            )
        return out

    # ---- decoding --------------------------------------------------------------------------------
    def feed(self, uuid: str, data: bytes, arrival_ns: int) -> list[SampleBatch]:
        if uuid != BITALINO_FRAMES:
            return []  # command answers (version, state) are not needed
        self.counts["notifications"] += 1
        size = self.frame_size
        if not data or len(data) % size:
            self.counts["malformed"] += 1
            return self._count(self.aligner.expire(arrival_ns))
        if data in self._recent:
            self.counts["duplicates"] += 1
            return self._count(self.aligner.expire(arrival_ns))
        m = len(data) // size
        decoded = [decode_frame(data[i * size : (i + 1) * size], len(self.ports)) for i in range(m)]
        # the frames of one notification are consecutive: their sequence numbers vote for the first
        votes = [(seq - j) % 16 for j, (seq, ok, _) in enumerate(decoded) if ok]
        if not votes:
            self.counts["crc_errors"] += m
            return self._count(self.aligner.expire(arrival_ns))
        base = max(set(votes), key=votes.count)
        good = [ok and seq == (base + j) % 16 for j, (seq, ok, _) in enumerate(decoded)]
        bad_crc = sum(not ok for _, ok, _ in decoded)
        self.counts["crc_errors"] += bad_crc
        # intact frames whose sequence disagrees with the notification's: not placed either
        self.counts["seq_mismatch"] += m - bad_crc - sum(good)
        values = self.to_units(np.array([a for _, _, a in decoded], dtype=np.int64))
        parts: list[tuple[int, np.ndarray]] = []
        j = 0
        while j < m:
            k = j
            while k < m and good[k]:
                k += 1
            if k > j:
                parts.append((j, values[j:k]))
            j = k + 1
        batches, accepted = self.aligner.push(base, m, parts, arrival_ns)
        if accepted:
            self._recent.append(data)
        else:
            self._late += 1
        return self._count(batches)

    def _count(self, batches: list[SampleBatch]) -> list[SampleBatch]:
        self.counts["batches"] += len(batches)
        self.counts["samples"] += sum(b.n for b in batches)
        self.counts["lost_samples"] = self.aligner.lost_samples
        self.counts["out_of_order"] = self._late + self.aligner.withdrawn
        self.counts["timebase_resets"] = self.aligner.resets
        return batches

    def flush(self) -> list[SampleBatch]:
        return self._count(self.aligner.flush())

    def link_lost(self, t_ns: int) -> None:
        # the device ends its acquisition when the link drops; the next one has a new timebase
        self.aligner.restart()
