"""Fake peripherals for :mod:`tests.devices.ble.fake_bluez`: the bytes each device sends, and when.

Each model has a sampling crystal (sample *g* is taken at host time ``t0 + g / true_rate_hz``, with
``true_rate_hz = rate_hz · (1 + drift_ppm·1e-6)``), packs samples into notifications exactly as the
device's published format says, and sends them over a :class:`LinkModel`: one-sided latency
(floor + exponential jitter, occasional stalls that release a burst), lost, duplicated,
reordered, truncated and bit-corrupted packets. Every record of what happened is kept
(:attr:`SimPeripheral.packets`) so tests can check the receiver against the truth.

Sample values encode *g* (a ramp), so a test can tell which true sample every stored value is.
"""

from __future__ import annotations

import asyncio
import math
import struct
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from core.types import StreamInfo
from devices.ble import bitalino as bit
from devices.ble import open_profile as op
from devices.ble import polar
from devices.ble.driver import BATTERY_LEVEL, BATTERY_SERVICE
from devices.protocol import SampleFormat, descriptor_for, encode_data, encode_descriptor

FATES = ("sent", "lost", "dup", "reorder", "truncated", "corrupted")


@dataclass
class LinkModel:
    """How the radio link treats packets (probabilities are per data packet)."""

    floor_s: float = 0.003
    jitter_s: float = 0.0015
    stall_prob: float = 0.0
    stall_s: tuple[float, float] = (0.02, 0.08)
    loss_prob: float = 0.0
    burst_losses: dict[int, int] = field(default_factory=dict)  # packet index → packets lost
    dup_prob: float = 0.0
    reorder_prob: float = 0.0
    truncate_prob: float = 0.0
    corrupt_prob: float = 0.0
    drift_ppm: float = 0.0
    seed: int = 0


@dataclass
class PacketRecord:
    """The truth about one data packet."""

    index: int
    g_first: int
    n: int
    ready_ns: float
    send_ns: float
    fate: str
    emitted: bool = False  # went out on the link (intact unless truncated/corrupted)
    bad: tuple[int, ...] = ()  # samples (g) made unreadable (corrupted frames)


async def _sleep_until(t_ns: float) -> None:
    await asyncio.sleep(max(0.0, (t_ns - time.monotonic_ns()) / 1e9))


class SimPeripheral:
    """Shared machinery: crystal, packet schedule, link impairments, truth records."""

    name = "sim"
    rssi = -60
    adv_uuids: list[str] = []
    gatt: list[tuple[str, list[tuple[str, list[str]]]]] = []
    rate_hz = 100.0
    samples_per_packet = 10
    data_uuid = ""
    keeps_counting = False  # keeps sampling (and counting) while disconnected
    battery = 87

    def __init__(self, address: str, link: LinkModel | None = None) -> None:
        self.address = address
        self.model = link or LinkModel()
        self.rng = np.random.default_rng(self.model.seed)
        self.link: Any = None
        self.t0_ns: int | None = None
        self.g_next = 0
        self.streaming = False
        self.packets: list[PacketRecord] = []
        self.starts = 0
        self._task: asyncio.Task[None] | None = None
        self._last_send = 0.0
        self._stall_until = 0.0
        self._burst_left = 0

    # ---- crystal -----------------------------------------------------------------------------
    @property
    def true_rate_hz(self) -> float:
        return self.rate_hz * (1.0 + self.model.drift_ppm * 1e-6)

    def sample_time_ns(self, g: np.ndarray | float) -> np.ndarray:
        assert self.t0_ns is not None
        return self.t0_ns + np.asarray(g, dtype=float) * 1e9 / self.true_rate_hz

    # ---- hooks from the fake BlueZ ----------------------------------------------------------------
    def attach(self, link: Any) -> None:
        self.link = link

    def on_connect(self) -> None:
        pass

    def on_disconnect(self) -> None:
        if not self.keeps_counting:
            self.stop_streaming()

    def on_read(self, uuid: str) -> bytes:
        if uuid == BATTERY_LEVEL:
            return bytes([self.battery])
        return b""

    def on_write(self, uuid: str, data: bytes) -> int | None:
        return None

    def shutdown(self) -> None:
        self.stop_streaming()

    # ---- device hooks --------------------------------------------------------------------------
    def begin_acquisition(self) -> None:
        """A new acquisition starts at sample ``g_next``."""

    def encode(self, g0: int, n: int) -> bytes:
        raise NotImplementedError

    def corrupt(self, payload: bytes, rec: PacketRecord) -> bytes:
        raise NotImplementedError

    def between_packets(self) -> None:
        """Called after each data packet (extra notifications: descriptors, heart rate)."""

    # ---- streaming ---------------------------------------------------------------------------
    def start_streaming(self) -> None:
        self.starts += 1
        if self.streaming:
            return
        now = time.monotonic_ns()
        if self.t0_ns is None:
            self.t0_ns = now
        else:  # the crystal kept running: the next acquisition starts at its next tick
            self.g_next = max(self.g_next, math.ceil((now - self.t0_ns) * self.true_rate_hz / 1e9))
        self.begin_acquisition()
        self.streaming = True
        self._task = self.link.loop.create_task(self._stream())

    def stop_streaming(self) -> None:
        self.streaming = False
        if self._task is not None:
            self._task.cancel()
            self._task = None

    def _send_time(self, ready: float) -> float:
        m = self.model
        t = ready + (m.floor_s + self.rng.exponential(m.jitter_s)) * 1e9
        if m.stall_prob and self.rng.random() < m.stall_prob and t >= self._stall_until:
            self._stall_until = t + self.rng.uniform(*m.stall_s) * 1e9
        t = max(t, self._stall_until, self._last_send)
        self._last_send = t
        return t

    def _fate(self, idx: int, holding: bool) -> str:
        m = self.model
        if idx in m.burst_losses:
            self._burst_left = m.burst_losses[idx]
        if self._burst_left > 0:
            self._burst_left -= 1
            return "lost"
        u = self.rng.random()
        for fate, p in (
            ("lost", m.loss_prob),
            ("dup", m.dup_prob),
            ("reorder", 0.0 if holding else m.reorder_prob),
            ("truncated", m.truncate_prob),
            ("corrupted", m.corrupt_prob),
        ):
            if u < p:
                return fate
            u -= p
        return "sent"

    async def _stream(self) -> None:
        held: tuple[bytes, PacketRecord] | None = None
        while self.streaming:
            n = self.samples_per_packet
            g0 = self.g_next
            self.g_next += n
            ready = float(self.sample_time_ns(g0 + n - 1))
            rec = PacketRecord(len(self.packets), g0, n, ready, self._send_time(ready), "sent")
            rec.fate = self._fate(rec.index, held is not None)
            payload = self.encode(g0, n)
            self.packets.append(rec)
            await _sleep_until(rec.send_ns)
            if rec.fate == "lost":
                continue
            if rec.fate == "truncated":
                payload = payload[: -int(self.rng.integers(1, 3))]
            elif rec.fate == "corrupted":
                payload = self.corrupt(payload, rec)
            if rec.fate == "reorder":
                held = (payload, rec)
                continue
            rec.emitted = self.link.notify(self.data_uuid, payload)
            if rec.fate == "dup":
                await asyncio.sleep(0.001)
                self.link.notify(self.data_uuid, payload)
            if held is not None:
                held[1].emitted = self.link.notify(self.data_uuid, held[0])
                held = None
            self.between_packets()

    # ---- truth for the tests ------------------------------------------------------------------
    def expected_stored(self) -> set[int]:
        """Samples (g) that went out intact and in order: the receiver must store all of them."""
        out: set[int] = set()
        for r in self.packets:
            if r.emitted and r.fate in ("sent", "dup", "corrupted"):
                out.update(set(range(r.g_first, r.g_first + r.n)) - set(r.bad))
        return out

    def count(self, fate: str, emitted: bool = True) -> int:
        return sum(1 for r in self.packets if r.fate == fate and r.emitted == emitted)


class PolarH10Sim(SimPeripheral):
    """Polar H10: PMD ECG frames (device-clock timestamps), control-point answers, HR with RR."""

    name = "Polar H10 6A7B8C9D"
    adv_uuids = [polar.HR_SERVICE]
    gatt = [
        (polar.HR_SERVICE, [(polar.HR_MEASUREMENT, ["notify"])]),
        (BATTERY_SERVICE, [(BATTERY_LEVEL, ["read", "notify"])]),
        (
            polar.PMD_SERVICE,
            [
                (polar.PMD_CONTROL, ["read", "write", "indicate"]),
                (polar.PMD_DATA, ["notify"]),
            ],
        ),
    ]
    rate_hz = polar.ECG_RATE_HZ
    samples_per_packet = 10  # the H10 sizes frames to the MTU: 73 samples at 232, 3 at 23
    data_uuid = polar.PMD_DATA
    device_epoch_ns = 612_345_678_000_000_000  # the strap's clock (ns since 2000-01-01)
    bpm = 72

    def __init__(self, address: str, link: LinkModel | None = None) -> None:
        super().__init__(address, link)
        self._last_hr = 0.0

    @staticmethod
    def value_uv(g: np.ndarray) -> np.ndarray:
        return (np.asarray(g) % 200_000 - 100_000).astype(np.int64)

    @staticmethod
    def g_of(mv: np.ndarray) -> np.ndarray:
        uv = np.rint(np.asarray(mv, dtype=np.float64) * 1000.0).astype(np.int64)
        return (uv + 100_000) % 200_000

    def on_write(self, uuid: str, data: bytes) -> int | None:
        if uuid != polar.PMD_CONTROL:
            return None
        if data == polar.START_ECG:
            already = self.streaming
            self.start_streaming()
            self.link.notify(polar.PMD_CONTROL, bytes([0xF0, 0x02, 0x00, 6 if already else 0, 0]))
        elif data == polar.STOP_ECG:
            self.stop_streaming()
            self.link.notify(polar.PMD_CONTROL, bytes([0xF0, 0x03, 0x00, 0x00, 0x00]))
        else:
            self.link.notify(polar.PMD_CONTROL, bytes([0xF0, data[0], 0x00, 0x01, 0x00]))
        return None

    def encode(self, g0: int, n: int) -> bytes:
        g = np.arange(g0, g0 + n)
        ts = self.device_epoch_ns + int(round((g0 + n - 1) * 1e9 / self.rate_hz))
        return polar.encode_ecg_frame(ts, self.value_uv(g))

    def between_packets(self) -> None:
        now = time.monotonic_ns() / 1e9
        if now - self._last_hr >= 1.0:
            self._last_hr = now
            rr = round(60.0 / self.bpm * 1024)
            # flags: uint8 HR, contact supported + detected, RR present
            self.link.notify(polar.HR_MEASUREMENT, bytes([0x16, self.bpm, rr & 0xFF, rr >> 8]))


class BitalinoSim(SimPeripheral):
    """BITalino (r)evolution BLE: 4-bit sequence, CRC-4, A2 = ECG, A3 = EDA raw ADC."""

    name = "BITalino-3F-A2"
    adv_uuids = [bit.BITALINO_SERVICE]
    gatt = [
        (
            bit.BITALINO_SERVICE,
            [
                (bit.BITALINO_COMMANDS, ["write", "indicate"]),
                (bit.BITALINO_FRAMES, ["notify"]),
            ],
        )
    ]
    rate_hz = 1000.0
    data_uuid = bit.BITALINO_FRAMES
    n_channels = 2

    def __init__(self, address: str, link: LinkModel | None = None) -> None:
        super().__init__(address, link)
        self.samples_per_packet = bit.MAX_NOTIFICATION // bit.frame_size(self.n_channels)
        self.seq = 0
        self.acq_first_g: list[int] = []  # g of each acquisition's first sample
        self.commands: list[bytes] = []

    @staticmethod
    def raw(g: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        g = np.asarray(g)
        return g % 1024, (g // 1024) % 1024

    @staticmethod
    def g_of(ecg_mv: np.ndarray, eda_us: np.ndarray) -> np.ndarray:
        a2 = np.rint((np.asarray(ecg_mv, float) / 1000 * bit.ECG_GAIN / bit.VCC + 0.5) * 1024)
        a3 = np.rint(np.asarray(eda_us, float) * bit.EDA_DIVISOR / bit.VCC * 1024)
        return (a2 + 1024 * a3).astype(np.int64)

    def on_write(self, uuid: str, data: bytes) -> int | None:
        if uuid != bit.BITALINO_COMMANDS or len(data) != 1:
            return None
        self.commands.append(bytes(data))
        c = data[0]
        if c == 0x00:
            self.stop_streaming()
        elif c & 0x03 == 0x03:
            self.rate_hz = float([1, 10, 100, 1000][c >> 6])
        elif c & 0x03 == 0x01:
            self.start_streaming()
        return None

    def begin_acquisition(self) -> None:
        self.seq = 0
        self.acq_first_g.append(self.g_next)

    def encode(self, g0: int, n: int) -> bytes:
        a2, a3 = self.raw(np.arange(g0, g0 + n))
        out = b""
        for j in range(n):
            out += bit.encode_frame(self.seq, [int(a2[j]), int(a3[j])])
            self.seq = (self.seq + 1) % 16
        return out

    def corrupt(self, payload: bytes, rec: PacketRecord) -> bytes:
        size = bit.frame_size(self.n_channels)
        j = int(self.rng.integers(0, rec.n))
        bitpos = int(
            self.rng.integers(0, size * 8)
        )  # one bit: CRC-4 catches every single-bit error
        b = bytearray(payload)
        b[j * size + bitpos // 8] ^= 1 << (bitpos % 8)
        rec.bad = (rec.g_first + j,)
        return bytes(b)


class OpenProfileSim(SimPeripheral):
    """TheraScope open profile v1: 800 Hz ECG + EDA, stream format v1 int16, 40 samples/packet."""

    name = "TheraScope-ECG-EDA-01"
    adv_uuids = [op.OPEN_SERVICE]
    gatt = [
        (
            op.OPEN_SERVICE,
            [
                (op.OPEN_STREAM, ["notify"]),
                (op.OPEN_CONTROL, ["write"]),
                (op.OPEN_STATUS, ["read", "notify"]),
            ],
        ),
        (BATTERY_SERVICE, [(BATTERY_LEVEL, ["read"])]),
    ]
    rate_hz = 800.0
    samples_per_packet = 40
    data_uuid = op.OPEN_STREAM
    keeps_counting = True
    counter_start = (1 << 32) - 6000  # the 32-bit counter wraps a few seconds in
    descriptor_every_s = 5.0

    def __init__(self, address: str, link: LinkModel | None = None) -> None:
        super().__init__(address, link)
        info = StreamInfo(0, "bio", ("ECG", "EDA"), ("mV", "uS"), self.rate_hz)
        self.desc = descriptor_for(info, (0.001, 0.001), (0.0, 32.768))
        self.epoch = 0x1234ABCD
        self.controls: list[bytes] = []
        self._last_desc = 0.0
        self.reboot_on_drop = False  # power-cycles while out of range: a new counter epoch
        self.default_rate_hz: float | None = (
            None  # the rate a power cycle restores (None: keeps it)
        )
        self.g_epoch = 0  # g of counter 0 in the current epoch
        self._rebooted = False

    def set_rate(self, rate_hz: float) -> None:
        self.rate_hz = float(rate_hz)
        info = StreamInfo(0, "bio", ("ECG", "EDA"), ("mV", "uS"), self.rate_hz)
        self.desc = descriptor_for(info, (0.001, 0.001), (0.0, 32.768))

    def on_disconnect(self) -> None:
        if self.reboot_on_drop and self.streaming:
            self.stop_streaming()
            self.epoch = (self.epoch * 7 + 1) & 0xFFFFFFFF
            self._rebooted = True
            if self.default_rate_hz is not None:
                self.set_rate(self.default_rate_hz)

    def begin_acquisition(self) -> None:
        if self._rebooted:
            self._rebooted = False
            self.g_epoch = self.g_next

    @staticmethod
    def raw(g: np.ndarray) -> np.ndarray:
        g = np.asarray(g)
        return np.column_stack([g % 65536 - 32768, (g // 65536) % 65536 - 32768])

    @staticmethod
    def g_of(ecg_mv: np.ndarray, eda_us: np.ndarray) -> np.ndarray:
        r0 = np.rint(np.asarray(ecg_mv, float) / 0.001).astype(np.int64) + 32768
        r1 = np.rint((np.asarray(eda_us, float) - 32.768) / 0.001).astype(np.int64) + 32768
        return r0 + 65536 * r1

    def on_read(self, uuid: str) -> bytes:
        if uuid == op.OPEN_STATUS:
            return op.Status(1, self.streaming, self.epoch, 1).encode()
        return super().on_read(uuid)

    def on_write(self, uuid: str, data: bytes) -> int | None:
        if uuid != op.OPEN_CONTROL or not data:
            return None
        self.controls.append(bytes(data))
        if data[0] == op.OP_START:
            self._send_descriptor()
            self.start_streaming()
        elif data[0] == op.OP_STOP:
            self.stop_streaming()
        elif data[0] == op.OP_SEND_DESCRIPTORS:
            self._send_descriptor()
        elif data[0] in (op.OP_SET_RATE, op.OP_SET_CHANNELS):
            if self.streaming:
                return op.ERR_NOT_ALLOWED_NOW
            if data[0] == op.OP_SET_RATE and len(data) == 6 and data[1] == 0:
                self.set_rate(struct.unpack_from("<f", data, 2)[0])
        else:
            return op.ERR_UNKNOWN_OP
        return None

    def _send_descriptor(self) -> None:
        self._last_desc = time.monotonic()
        self.link.notify(op.OPEN_STREAM, encode_descriptor(self.desc))

    def encode(self, g0: int, n: int) -> bytes:
        raw = self.raw(np.arange(g0, g0 + n))
        return encode_data(0, self.counter_start + g0 - self.g_epoch, raw, SampleFormat.INT16)

    def between_packets(self) -> None:
        if time.monotonic() - self._last_desc >= self.descriptor_every_s:
            self._send_descriptor()
