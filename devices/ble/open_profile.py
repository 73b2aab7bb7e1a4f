"""The TheraScope open GATT profile v1, central side (``resources/protocol/open-profile-v1.md``).

Stream format v1 packets (:mod:`devices.protocol`) travel one per notification on the stream
characteristic; a control characteristic starts, stops and configures; a status characteristic
tells the counter epoch, so a central can tell a peripheral whose counters continued across a
disconnect (the gap is exact, from the counters) from one that restarted them (its new counters
are placed on the stream's grid by host time).
"""

from __future__ import annotations

import struct
import threading
from dataclasses import dataclass

import numpy as np

from core.types import SampleBatch, StreamInfo
from devices.ble.driver import GattOp, SensorDriver, battery_ops, read, subscribe, write
from devices.ble.timebase import HeldRun, HostTimebase
from devices.protocol import Descriptor, StreamDecoder

OPEN_SERVICE = "5a3e0001-7c2b-4f4e-9a61-0d8e5b7c3f20"
OPEN_STREAM = "5a3e0002-7c2b-4f4e-9a61-0d8e5b7c3f20"
OPEN_CONTROL = "5a3e0003-7c2b-4f4e-9a61-0d8e5b7c3f20"
OPEN_STATUS = "5a3e0004-7c2b-4f4e-9a61-0d8e5b7c3f20"
PROFILE_VERSION = 1

OP_START = 0x01
OP_STOP = 0x02
OP_SET_RATE = 0x03
OP_SET_CHANNELS = 0x04
OP_SEND_DESCRIPTORS = 0x05
#: ATT application error codes a peripheral answers a bad control write with
ERR_UNKNOWN_OP = 0x80
ERR_INVALID_PARAMETER = 0x81
ERR_NOT_ALLOWED_NOW = 0x82

_STATUS = struct.Struct("<BBIB")


def cmd_start() -> bytes:
    """START: (re)send descriptors, then stream; counters continue if already streaming."""
    return bytes([OP_START])


def cmd_stop() -> bytes:
    """STOP: end streaming; the next START begins a new counter epoch."""
    return bytes([OP_STOP])


def cmd_set_rate(stream_id: int, rate_hz: float) -> bytes:
    """SET_RATE for one stream (Hz), allowed while idle."""
    return struct.pack("<BBf", OP_SET_RATE, stream_id, rate_hz)


def cmd_set_channels(stream_id: int, mask: int) -> bytes:
    """SET_CHANNELS: bit i enables the stream's i-th channel, allowed while idle."""
    return struct.pack("<BBI", OP_SET_CHANNELS, stream_id, mask)


def cmd_send_descriptors() -> bytes:
    """SEND_DESCRIPTORS: notify every enabled stream's descriptor now."""
    return bytes([OP_SEND_DESCRIPTORS])


@dataclass(frozen=True)
class Status:
    """The status characteristic: profile version, streaming flag, counter epoch, stream count."""

    version: int
    streaming: bool
    epoch: int
    n_streams: int

    def encode(self) -> bytes:
        return _STATUS.pack(self.version, int(self.streaming), self.epoch, self.n_streams)


def parse_status(data: bytes) -> Status:
    """Parse a status value (7 bytes; longer values carry future fields and are accepted)."""
    if len(data) < _STATUS.size:
        raise ValueError(f"status of {len(data)} bytes, need {_STATUS.size}")
    v, state, epoch, n = _STATUS.unpack_from(data)
    return Status(v, bool(state & 1), epoch, n)


class _Stream:
    """Per-stream placement: a counter shift after an epoch change, and the host timebase."""

    def __init__(self, desc: Descriptor) -> None:
        self.desc = desc
        self.info = desc.stream_info()
        self.tb = HostTimebase(desc.rate_hz)
        self.shift = 0  # added to the decoder's counters (non-zero after an epoch change)
        self.end: int | None = None  # shifted counter one past the newest delivered sample
        self.held: HeldRun | None = None
        self.held_first = 0  # decoder counter of the held run's first sample
        self.restart = False  # a new counter epoch began; its first packets will be held
        self.mismatch = False  # its descriptor declares another rate, channels or units: refused

    def differs(self, desc: Descriptor) -> bool:
        """Whether ``desc`` declares data the session's stream cannot hold."""
        new = desc.stream_info()
        return (new.rate_hz, new.channels, new.units) != (
            self.info.rate_hz,
            self.info.channels,
            self.info.units,
        )


class OpenProfileDriver(SensorDriver):
    """TheraScope open profile v1 (e.g. custom 800 Hz ECG + EDA hardware).

    Parameters
    ----------
    rates_hz : dict stream id → Hz, optional — sampling rates to set before the first START (and
        again after the peripheral restarted: a new counter epoch)
    channel_masks : dict stream id → bit mask, optional — channels to enable likewise
    hold_s : float — host time (s) packets are held to place a restarted counter epoch
    """

    profile = "therascope_open_v1"
    title = "TheraScope open profile v1"
    service_uuid = OPEN_SERVICE

    def __init__(
        self,
        rates_hz: dict[int, float] | None = None,
        channel_masks: dict[int, int] | None = None,
        hold_s: float = 0.5,
    ) -> None:
        super().__init__()
        self.rates_hz = dict(rates_hz or {})
        self.channel_masks = dict(channel_masks or {})
        self.hold_ns = int(hold_s * 1e9)
        self.decoder = StreamDecoder()
        self.status: Status | None = None
        self._epoch: int | None = None  # epoch of the counters being recorded
        self._started = False
        self._streams: dict[int, _Stream] = {}
        self._lost_across_epochs = 0
        self._old_decoders: dict[str, int] = {}  # figures of decoders replaced at epoch changes
        self.counts["config_mismatch"] = 0  # data packets whose channels no descriptor declares
        self.counts["rejected_config"] = 0  # samples of a stream whose descriptor changed
        # the loop thread changes streams and decoders; other threads (the GUI) read snapshots
        self._lock = threading.Lock()

    @property
    def streams(self) -> list[StreamInfo]:
        with self._lock:
            return [s.info for _, s in sorted(self._streams.items())]

    def ready(self) -> bool:
        with self._lock:
            n = self.status.n_streams if self.status is not None else 1
            return len(self._streams) >= max(1, n)

    def connect_ops(self) -> list[GattOp]:
        return [
            subscribe(OPEN_STREAM),
            read(OPEN_STATUS),
            *battery_ops(),
            write(OPEN_CONTROL, cmd_send_descriptors()),
        ]

    def start_ops(self) -> list[GattOp]:
        ops = []
        if not self._started:  # configuration is only accepted while the peripheral is idle
            ops += [
                write(OPEN_CONTROL, cmd_set_rate(s, r)) for s, r in sorted(self.rates_hz.items())
            ]
            ops += [
                write(OPEN_CONTROL, cmd_set_channels(s, m))
                for s, m in sorted(self.channel_masks.items())
            ]
        self._started = True
        return [*ops, write(OPEN_CONTROL, cmd_start())]

    def stop_ops(self) -> list[GattOp]:
        return [write(OPEN_CONTROL, cmd_stop())]

    def describe(self) -> dict[str, object]:
        return {
            **super().describe(),
            "rates": {str(k): v for k, v in self.rates_hz.items()},
            "epoch": self._epoch,
        }

    def stats(self) -> dict[str, int]:
        with self._lock:
            d = dict(self.counts)
            dec = self.decoder.stats()
            old = dict(self._old_decoders)
            lost_across = self._lost_across_epochs
        for key in ("malformed", "duplicates", "out_of_order", "no_descriptor", "lost_samples"):
            d[key] = d.get(key, 0) + int(dec[key]) + old.get(key, 0)
        d["lost_samples"] += lost_across
        return d

    # ---- decoding --------------------------------------------------------------------------------
    def feed(self, uuid: str, data: bytes, arrival_ns: int) -> list[SampleBatch]:
        if uuid == OPEN_STATUS:
            self._on_status(data)
            return []
        if uuid != OPEN_STREAM:
            return []
        self.counts["notifications"] += 1
        batch = self.decoder.feed(data, arrival_ns)
        if batch is None:
            self._learn_descriptors()
            return self._expire(arrival_ns)
        st = self._streams.get(batch.stream_id)
        if st is None or batch.samples.shape[1] != len(st.info.channels):
            self.counts["config_mismatch"] += 1
            return self._expire(arrival_ns)
        if st.mismatch:
            self.counts["rejected_config"] += batch.n
            return self._expire(arrival_ns)
        if st.restart:
            st.restart = False
            st.held = HeldRun(arrival_ns)
            st.held_first = batch.first_counter
        if st.held is not None:
            rel = batch.first_counter - st.held_first
            st.held.add(batch.n, arrival_ns, [(0, batch.samples)], rel_first=rel)
            return self._expire(arrival_ns)
        first = batch.first_counter + st.shift
        if st.end is not None and first < st.end:
            self.counts["out_of_order"] += (
                1  # cannot happen within an epoch; keeps the store monotonic
            )
            return self._expire(arrival_ns)
        return [*self._expire(arrival_ns), self._deliver(st, first, batch.samples, arrival_ns)]

    def _learn_descriptors(self) -> None:
        for sid in self.decoder.streams:
            desc = self.decoder.descriptor(sid)
            assert desc is not None
            st = self._streams.get(sid)
            if st is None:
                with self._lock:
                    self._streams[sid] = _Stream(desc)
            elif st.desc != desc:
                # a reconfigured stream cannot continue the session's file: its data are refused
                # (and counted) until it declares the session's rate, channels and units again
                mismatch = st.differs(desc)
                if mismatch != st.mismatch:
                    new = desc.stream_info()
                    # the journal's keys stay "rate" and "expected_rate"
                    self.event(
                        "config_changed",
                        stream=st.info.name,
                        refused=mismatch,
                        rate=new.rate_hz,
                        channels=list(new.channels),
                        units=list(new.units),
                        expected_rate=st.info.rate_hz,
                        expected_channels=list(st.info.channels),
                        expected_units=list(st.info.units),
                    )
                st.desc, st.mismatch = desc, mismatch

    def _on_status(self, data: bytes) -> None:
        try:
            self.status = parse_status(data)
        except ValueError:
            self.counts["malformed"] += 1
            return
        epoch = self.status.epoch
        if self._epoch is not None and epoch != self._epoch:
            # the peripheral restarted its counters: decode afresh, place the new epoch by host time
            self.counts["timebase_resets"] += 1
            self.event("timebase_reset", reason="counter epoch changed")
            with self._lock:
                for key, v in self.decoder.stats().items():
                    if isinstance(v, int):
                        self._old_decoders[key] = self._old_decoders.get(key, 0) + v
                self.decoder = StreamDecoder()
            for st in self._streams.values():
                st.restart = st.end is not None
            # a restarted peripheral is idle with its default configuration (the status is read
            # on every connection, before START): configure it again
            self._started = False
        self._epoch = epoch

    def _deliver(
        self, st: _Stream, first: int, samples: np.ndarray, arrival_ns: int
    ) -> SampleBatch:
        b = SampleBatch(st.info.stream_id, first, samples, arrival_ns)
        st.end = b.end_counter
        st.tb.observe(b.end_counter - 1, arrival_ns)
        self.counts["batches"] += 1
        self.counts["samples"] += b.n
        return b

    def _expire(self, now_ns: int) -> list[SampleBatch]:
        out: list[SampleBatch] = []
        for st in self._streams.values():
            h = st.held
            if h is not None and h.packets and h.age_ns(now_ns) >= self.hold_ns:
                out += self._place(st)
        return out

    def _place(self, st: _Stream) -> list[SampleBatch]:
        h, st.held = st.held, None
        if h is None or not h.packets or st.end is None:
            return []
        # a long extrapolation: the session fit of the history, and the usual latency excess
        # of a window as long as the one held
        excess = st.tb.refit(self.hold_ns / 1e9)
        origin = max(st.end, int(np.floor(h.origin_bound(st.tb) - excess + 0.5)))
        with self._lock:
            self._lost_across_epochs += origin - st.end
        out = []
        for b, _ in h.release(st.info.stream_id, origin):
            out.append(self._deliver(st, b.first_counter, b.samples, b.arrival_ns))
        # later packets of this epoch follow the decoder's counters, shifted onto the grid
        st.shift = origin - st.held_first
        return out

    def flush(self) -> list[SampleBatch]:
        out: list[SampleBatch] = []
        for st in self._streams.values():
            out += self._place(st)
        return out
