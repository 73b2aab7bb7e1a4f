"""Polar H10 chest strap: ECG at 130 Hz over the Polar Measurement Data (PMD) service, plus heart
rate and RR intervals from the standard Heart Rate service.

Formats (Polar BLE SDK documentation, "Polar Measurement Data specification"; Bluetooth SIG Heart
Rate Service 1.0):

* PMD control point: write ``02 00 00 01 82 00 01 01 0E 00`` = start (0x02), ECG (0x00), setting
  SAMPLE_RATE (0x00) ×1 = 130 (``82 00``), setting RESOLUTION (0x01) ×1 = 14 (``0E 00``). Stop:
  ``03 00``. The answer (indication) is ``F0 <op> <type> <error> …``; error 0 is success.
* PMD data: byte 0 measurement type (0 = ECG); bytes 1–8 uint64 LE timestamp (ns, device clock)
  of the **last** sample; byte 9 frame type (0 = raw); then 3-byte signed LE samples in µV.
* Heart Rate Measurement (0x2A37): flags, HR (uint8 or uint16), optional energy, RR intervals as
  uint16 in 1/1024 s.

The sample counter is derived from the device timestamps: it advances by the samples in each
frame; a timestamp step larger than the frame means lost frames, sized from the device clock.
Every step is checked against host arrival times (the lower envelope of arrivals): a frame the
device clock places before its arrival allows, or far later than latency explains, was stamped by
a clock that jumped (the strap restarted, its clock was set); its run is placed by host time.
"""

from __future__ import annotations

import struct
from collections import deque
from dataclasses import dataclass

import numpy as np

from core.types import SampleBatch, StreamInfo
from devices.ble.driver import GattOp, SensorDriver, battery_ops, subscribe, uuid16, write
from devices.ble.timebase import HeldRun, HostTimebase

PMD_SERVICE = "fb005c80-02e7-f387-1cad-8acd2d8df0c8"
PMD_CONTROL = "fb005c81-02e7-f387-1cad-8acd2d8df0c8"
PMD_DATA = "fb005c82-02e7-f387-1cad-8acd2d8df0c8"
HR_SERVICE = uuid16(0x180D)
HR_MEASUREMENT = uuid16(0x2A37)

ECG_RATE_HZ = 130.0
START_ECG = bytes.fromhex("02 00 00 01 82 00 01 01 0E 00")
STOP_ECG = bytes.fromhex("03 00")
PMD_TYPE_ECG = 0x00
PMD_HEADER = 10
#: PMD control-point error codes (Polar BLE SDK, PmdControlPointResponse)
PMD_ERRORS = {
    0: "success",
    1: "invalid op code",
    2: "invalid measurement type",
    3: "not supported",
    4: "invalid length",
    5: "invalid parameter",
    6: "already in state",
    7: "invalid resolution",
    8: "invalid sample rate",
    9: "invalid range",
    10: "invalid MTU",
    11: "invalid number of channels",
    12: "invalid state",
    13: "device in charger",
}
#: a frame the device clock places this much (s) earlier than its arrival allows, or this much
#: plus its frames' duration later than the lower envelope of arrivals, was not stamped by the
#: clock that stamped the frames before it (strap restarted, clock set): it is placed by host time
JUMP_S = 0.5


class PolarFormatError(ValueError):
    """Bytes that do not follow the PMD or Heart Rate format."""


@dataclass(frozen=True)
class PmdResponse:
    """A PMD control-point answer ``F0 <op> <type> <error>``."""

    op: int
    measurement_type: int
    error: int

    @property
    def ok(self) -> bool:
        """Success, or "already in state" (a start repeated after a reconnect)."""
        return self.error in (0, 6)

    @property
    def error_text(self) -> str:
        return PMD_ERRORS.get(self.error, f"error {self.error}")


@dataclass(frozen=True)
class EcgFrame:
    """One decoded PMD ECG frame.

    Parameters
    ----------
    timestamp_ns : int — device time (ns) of the last sample
    samples_uv : ndarray of int32 — ECG in µV
    """

    timestamp_ns: int
    samples_uv: np.ndarray


@dataclass(frozen=True)
class HeartRate:
    """One Heart Rate Measurement.

    Parameters
    ----------
    bpm : int — heart rate (beats per minute)
    rr_s : tuple of float — RR intervals (s)
    contact : bool or None — skin contact, None when the sensor does not report it
    energy_kj : int or None — energy expended (kJ), when present
    """

    bpm: int
    rr_s: tuple[float, ...]
    contact: bool | None
    energy_kj: int | None


def parse_pmd_response(data: bytes) -> PmdResponse:
    """Parse a control-point answer; raises :class:`PolarFormatError` if it is not one."""
    if len(data) < 4 or data[0] != 0xF0:
        raise PolarFormatError(f"not a PMD control-point response: {data.hex(' ')}")
    return PmdResponse(data[1], data[2], data[3])


def parse_ecg_frame(data: bytes) -> EcgFrame:
    """Parse a PMD data frame of type ECG, frame type 0 (raw 3-byte µV samples)."""
    if len(data) < PMD_HEADER + 3:
        raise PolarFormatError(f"PMD frame of {len(data)} bytes is too short")
    if data[0] != PMD_TYPE_ECG:
        raise PolarFormatError(f"PMD measurement type {data[0]} is not ECG")
    if data[9] != 0:
        raise PolarFormatError(f"PMD frame type {data[9]} is not supported (raw 0 only)")
    body = memoryview(data)[PMD_HEADER:]
    if len(body) % 3:
        raise PolarFormatError(f"PMD ECG body of {len(body)} bytes is not whole samples")
    (ts,) = struct.unpack_from("<Q", data, 1)
    b3 = np.frombuffer(body, dtype=np.uint8).reshape(-1, 3)
    b4 = np.empty((b3.shape[0], 4), dtype=np.uint8)
    b4[:, :3] = b3
    b4[:, 3] = np.where(b3[:, 2] & 0x80, 0xFF, 0x00)  # sign extension
    return EcgFrame(int(ts), b4.view("<i4").reshape(-1).astype(np.int32))


def encode_ecg_frame(timestamp_ns: int, samples_uv: np.ndarray) -> bytes:
    """Build a PMD ECG frame as the H10 sends it (for tests and simulators)."""
    s = np.asarray(samples_uv, dtype="<i4")
    if s.min() < -(1 << 23) or s.max() >= 1 << 23:
        raise ValueError("ECG sample outside the 24-bit range")
    body = s.view(np.uint8).reshape(-1, 4)[:, :3].tobytes()
    return bytes([PMD_TYPE_ECG]) + struct.pack("<Q", timestamp_ns) + b"\x00" + body


def parse_heart_rate(data: bytes) -> HeartRate:
    """Parse a Heart Rate Measurement (0x2A37) value."""
    if len(data) < 2:
        raise PolarFormatError("heart rate measurement too short")
    flags = data[0]
    pos = 1
    if flags & 0x01:
        if len(data) < 3:
            raise PolarFormatError("heart rate measurement too short for uint16 HR")
        bpm = data[1] | data[2] << 8
        pos = 3
    else:
        bpm = data[1]
        pos = 2
    contact = bool(flags & 0x02) if flags & 0x04 else None
    energy = None
    if flags & 0x08:
        if len(data) < pos + 2:
            raise PolarFormatError("heart rate measurement truncated in energy field")
        energy = data[pos] | data[pos + 1] << 8
        pos += 2
    rr: tuple[float, ...] = ()
    if flags & 0x10:
        if (len(data) - pos) % 2:
            raise PolarFormatError("heart rate measurement has half an RR interval")
        raw = struct.unpack_from(f"<{(len(data) - pos) // 2}H", data, pos)
        rr = tuple(v / 1024.0 for v in raw)
    return HeartRate(bpm, rr, contact, energy)


class PolarH10Driver(SensorDriver):
    """Polar H10: ECG (mV) at 130 Hz with a counter from the device clock; HR/RR as events.

    Parameters
    ----------
    heart_rate_events : bool — journal every Heart Rate Measurement (bpm, RR in ms) as a
        ``heart_rate`` event (its time is the host arrival: the service carries no timestamp)
    hold_s : float — host time (s) packets are held to place a restarted device clock
    """

    profile = "polar_h10"
    title = "Polar H10"
    service_uuid = PMD_SERVICE

    def __init__(self, heart_rate_events: bool = True, hold_s: float = 1.0) -> None:
        super().__init__()
        self.info = StreamInfo(0, "ecg", ("ECG",), ("mV",), ECG_RATE_HZ)
        self.heart_rate_events = heart_rate_events
        self.hold_ns = int(hold_s * 1e9)
        self.timebase = HostTimebase(ECG_RATE_HZ)
        self.last_heart_rate: HeartRate | None = None
        self.last_response: PmdResponse | None = None
        self._period_ns = 1e9 / ECG_RATE_HZ  # device-clock sample period, refined from timestamps
        self._steps: deque[float] = deque(maxlen=32)
        self._last_ts: int | None = None
        self._end: int | None = None  # counter one past the newest delivered sample
        self._recent_ts: deque[int] = deque(maxlen=64)
        self._held: HeldRun | None = None  # frames of a restarted device clock, being placed
        self._held_last_ts = 0
        self._relinked = False  # the link dropped since the last ECG frame

    @property
    def streams(self) -> list[StreamInfo]:
        return [self.info]

    def connect_ops(self) -> list[GattOp]:
        return [
            subscribe(PMD_CONTROL),
            subscribe(PMD_DATA),
            subscribe(HR_MEASUREMENT, optional=True),
            *battery_ops(),
        ]

    def start_ops(self) -> list[GattOp]:
        return [write(PMD_CONTROL, START_ECG)]

    def stop_ops(self) -> list[GattOp]:
        return [write(PMD_CONTROL, STOP_ECG)]

    def describe(self) -> dict[str, object]:
        return {**super().describe(), "device_period_ns": self._period_ns}

    # ---- decoding --------------------------------------------------------------------------------
    def feed(self, uuid: str, data: bytes, arrival_ns: int) -> list[SampleBatch]:
        if uuid == PMD_DATA:
            return self._on_ecg(data, arrival_ns)
        if uuid == PMD_CONTROL:
            self._on_control(data)
        elif uuid == HR_MEASUREMENT:
            self._on_heart_rate(data)
        return []

    def _on_control(self, data: bytes) -> None:
        try:
            r = parse_pmd_response(data)
        except PolarFormatError:
            return  # settings answers and other control traffic are not needed
        self.last_response = r
        if not r.ok:
            self.event("device_error", op=r.op, type=r.measurement_type, error=r.error_text)

    def _on_heart_rate(self, data: bytes) -> None:
        try:
            hr = parse_heart_rate(data)
        except PolarFormatError:
            self.counts["malformed"] += 1
            return
        self.last_heart_rate = hr
        if self.heart_rate_events:
            rr_ms = [round(v * 1000.0, 1) for v in hr.rr_s]
            self.event("heart_rate", bpm=hr.bpm, rr_ms=rr_ms, contact=hr.contact)

    def _on_ecg(self, data: bytes, arrival_ns: int) -> list[SampleBatch]:
        self.counts["notifications"] += 1
        try:
            frame = parse_ecg_frame(data)
        except PolarFormatError:
            self.counts["malformed"] += 1
            return []
        n = len(frame.samples_uv)
        ts = frame.timestamp_ns
        mv = (frame.samples_uv.astype(np.float32) / np.float32(1000.0)).reshape(-1, 1)
        out: list[SampleBatch] = []
        if self._held is not None:
            step = (ts - self._held_last_ts) / self._period_ns
            if abs(step - n) < 0.5:
                self._held.add(n, arrival_ns, [(0, mv)])
                self._held_last_ts = ts
                if self._held.age_ns(arrival_ns) >= self.hold_ns:
                    out += self._place_held()
                return out
            out += self._place_held()
        relinked, self._relinked = self._relinked, False
        if ts in self._recent_ts and not relinked:
            self.counts["duplicates"] += 1
            return out
        if self._last_ts is None or self._end is None:
            return out + self._deliver(0, mv, ts, arrival_ns)
        dt = ts - self._last_ts
        step = dt / self._period_ns
        k = int(round(step))
        jumped = self._clock_jumped(self._end + k - 1, n, arrival_ns)
        if not jumped and not (relinked and dt <= 0):
            if dt <= 0:
                self.counts["out_of_order"] += 1
                return out
            if step > n - 0.5:
                if k == n:
                    self._steps.append(dt / n)
                    self._period_ns = float(np.median(self._steps))
                return out + self._deliver(self._end + (k - n), mv, ts, arrival_ns)
            # a newer frame overlapping the last one: the device clock cannot do that
            self.counts["malformed"] += 1
            return out
        # the device clock jumped (strap restarted, clock set): place the new run by host time
        self.counts["timebase_resets"] += 1
        self.event("timebase_reset", stream=self.info.name, reason="device clock jump")
        self._held = HeldRun(arrival_ns)
        self._held.add(n, arrival_ns, [(0, mv)])
        self._held_last_ts = ts
        return out

    def _clock_jumped(self, last: int, n: int, arrival_ns: int) -> bool:
        """Whether a frame of ``n`` samples whose device timestamp puts its last sample at
        counter ``last`` disagrees with its host arrival time by more than latency can explain.

        Arrival latency is one-sided: the frame cannot arrive before its last sample was taken
        (the bound of the lower envelope of arrivals), and arrives later than that by the link's
        latency, which a reordered frame exceeds by its successor's duration.
        """
        late_s = (self.timebase.counter_bound(arrival_ns) - last) / ECG_RATE_HZ
        return late_s < -JUMP_S or late_s > JUMP_S + 2 * n / ECG_RATE_HZ

    def _place_held(self) -> list[SampleBatch]:
        held, self._held = self._held, None
        assert held is not None and self._end is not None
        # a long extrapolation: the session fit of the history, and the usual latency excess
        # of a window as long as the one held
        excess = self.timebase.refit(self.hold_ns / 1e9)
        origin = max(self._end, int(np.floor(held.origin_bound(self.timebase) - excess + 0.5)))
        out = []
        for b, last in held.release(self.info.stream_id, origin):
            out.append(self._commit(b, last))
        self._last_ts = self._held_last_ts
        self._recent_ts.clear()
        self._recent_ts.append(self._held_last_ts)
        return out

    def _deliver(self, first: int, mv: np.ndarray, ts: int, arrival_ns: int) -> list[SampleBatch]:
        b = SampleBatch(self.info.stream_id, first, mv, arrival_ns)
        self._last_ts = ts
        self._recent_ts.append(ts)
        return [self._commit(b, b.end_counter - 1)]

    def _commit(self, b: SampleBatch, last: int) -> SampleBatch:
        if self._end is not None and b.first_counter > self._end:
            self.counts["lost_samples"] += b.first_counter - self._end
        self._end = b.end_counter
        self.timebase.observe(last, b.arrival_ns)
        self.counts["batches"] += 1
        self.counts["samples"] += b.n
        return b

    def flush(self) -> list[SampleBatch]:
        return self._place_held() if self._held is not None else []

    def link_lost(self, t_ns: int) -> None:
        # the strap may restart while away (its clock then starts again near its epoch): the
        # first frame after the link is back is checked against host time, and one that does
        # not continue forwards is a new clock, not a late copy (nothing crosses a reconnect)
        self._relinked = True
