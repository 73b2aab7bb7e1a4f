"""An LSL stream behind the :class:`~core.recording.sources.BioSensor` interface.

:func:`find_streams` lists the streams on this machine (or, with the Setting, the local network)
that look like ECG/EDA: a content type or name that says ECG, EDA, GSR or OpenSignals, or an
OpenSignals stream (its type is the device's MAC address). :class:`LslSensor` records one: it
opens an inlet (clock synchronisation on), reads the channel metadata
(:mod:`devices.lsl.channels`), and a thread of its own pulls chunks, brings them to mV / µS and
hands :class:`~core.types.SampleBatch` objects (counters from :class:`~devices.lsl.aligner.LslAligner`,
arrivals = the LSL time stamps on the host monotonic clock) to the recorder's sink, as the BLE
sensors do. A stream that is lost (its outlet closed, its program quit, no sample for
``stall_s``) is reported ``disconnected``; the sensor looks for it again (same source id, else
same name and type) with exponential back-off and reports ``reconnected`` when it is back, its
first samples placed by time. The gap is never filled.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from core.clock import Clock, MonotonicClock
from core.recording.sources import BatchSink, EventSink
from core.types import DeviceEvent, SampleBatch, StreamInfo
from devices.base import BioSensorBase
from devices.lsl.aligner import LslAligner
from devices.lsl.channels import MAC_ADDRESS, ChannelPlan, plan_channels, read_channels
from devices.lsl.config import clock_offset_ns, load_pylsl

log = logging.getLogger(__name__)

_MAC = MAC_ADDRESS
_KEYWORDS = ("ECG", "EKG", "EDA", "GSR", "OPENSIGNALS", "PLUX", "BITALINO")


class LslError(RuntimeError):
    """The stream cannot be found or opened (one plain sentence)."""

    expected = True


@dataclass(frozen=True)
class LslStreamRef:
    """A stream as discovery found it (what the scan list shows).

    Parameters
    ----------
    name, type, source_id, hostname, uid : str — the stream's header
    rate_hz : float — nominal rate (Hz)
    channel_count : int
    """

    name: str
    type: str
    source_id: str
    hostname: str
    uid: str
    rate_hz: float
    channel_count: int

    @property
    def title(self) -> str:
        """``name [source id] (type, rate Hz, channels, host)`` for lists."""
        kind = "OpenSignals device " + self.type if _MAC.match(self.type) else self.type
        sid = f" [{self.source_id}]" if self.source_id and self.source_id != self.name else ""
        return (
            f"{self.name}{sid} ({kind}, {self.rate_hz:g} Hz, {self.channel_count} ch, "
            f"{self.hostname})"
        )

    def matches(self, query: str) -> bool:
        """Whether ``query`` names this stream: its name, type, source id or uid."""
        q = query.strip()
        return q in (self.name, self.type, self.source_id, self.uid)

    @classmethod
    def from_info(cls, info: Any) -> LslStreamRef:
        return cls(
            name=info.name(),
            type=info.type(),
            source_id=info.source_id(),
            hostname=info.hostname(),
            uid=info.uid(),
            rate_hz=float(info.nominal_srate()),
            channel_count=int(info.channel_count()),
        )


def looks_physiological(ref: LslStreamRef) -> bool:
    """ECG/EDA-like by its type or name, or an OpenSignals stream (type = MAC address)."""
    text = f"{ref.type} {ref.name}".upper()
    return any(k in text for k in _KEYWORDS) or bool(_MAC.match(ref.type))


def find_streams(
    wait_s: float = 1.0, query: str | None = None, network: bool = False, every: bool = False
) -> list[LslStreamRef]:
    """The regular-rate numeric LSL streams seen within ``wait_s`` seconds.

    Parameters
    ----------
    query : str, optional — only streams it names (name, type, source id or uid)
    network : bool — the Setting for discovery on the local network (first use decides)
    every : bool — also streams that do not look like ECG/EDA (with ``query`` they always count)
    """
    pylsl = load_pylsl(network)
    if query is not None:  # returns as soon as one is found
        v = _q(query)
        pred = f"name='{v}' or type='{v}' or source_id='{v}' or uid='{v}'"
        infos = pylsl.resolve_bypred(pred, 1, float(wait_s))
    else:
        infos = pylsl.resolve_streams(wait_time=float(wait_s))
    cf_string = 3  # liblsl's cft_string: text streams (markers) are never signals
    out = []
    for info in infos:
        if info.nominal_srate() <= 0 or info.channel_format() == cf_string:
            continue
        ref = LslStreamRef.from_info(info)
        if query is not None:
            if ref.matches(query):
                out.append(ref)
        elif every or looks_physiological(ref):
            out.append(ref)
    return sorted(out, key=lambda r: (r.name, r.hostname, r.uid))


@dataclass(frozen=True)
class ReconnectPolicy:
    """Looking for a lost stream again: back-off from ``first_delay_s`` to ``max_delay_s``;
    each look lasts ``resolve_s``."""

    first_delay_s: float = 0.2
    max_delay_s: float = 5.0
    factor: float = 2.0
    resolve_s: float = 1.0


class LslSensor(BioSensorBase):
    """Record one LSL stream.

    Parameters
    ----------
    stream : LslStreamRef or str — a stream from :func:`find_streams`, or a name/type/source id
        to look for at :meth:`connect`
    network : bool — discovery on the local network (the Setting)
    clock : Clock, optional — the host clock (monotonic ns) the session runs on
    name : str, optional — shown on screen and stored with the session
    policy : ReconnectPolicy, optional
    stall_s : float — a stream that sends nothing for this long (s) counts as lost
    resolve_s : float — longest look (s) for the stream at :meth:`connect`
    hold_s : float — longest a late packet is held before its samples are placed
    """

    simulated = False

    def __init__(
        self,
        stream: LslStreamRef | str,
        *,
        network: bool = False,
        clock: Clock | None = None,
        name: str | None = None,
        policy: ReconnectPolicy | None = None,
        stall_s: float = 3.0,
        resolve_s: float = 3.0,
        hold_s: float = 0.5,
    ) -> None:
        self.ref: LslStreamRef | None = stream if isinstance(stream, LslStreamRef) else None
        self.query = stream if isinstance(stream, str) else None
        self.network = network
        self.clock = clock or MonotonicClock()
        self.name = name or (f"LSL {self.ref.name}" if self.ref else f"LSL {self.query}")
        self.policy = policy or ReconnectPolicy()
        self.stall_s = float(stall_s)
        self.resolve_s = float(resolve_s)
        self.hold_s = float(hold_s)
        self.plan: ChannelPlan | None = None
        self.info: StreamInfo | None = None
        self.aligner: LslAligner | None = None
        self._pylsl: Any = None
        self._inlet: Any = None
        self._offset_ns = 0  # host monotonic ns − LSL local clock ns
        self._on_batch: BatchSink | None = None
        self._on_event: EventSink | None = None
        self._preview: BatchSink | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._lock = threading.Lock()
        # held while batches and events go out: once stop() has sealed the sensor, a worker
        # still finishing a step (its join timed out) delivers nothing more
        self._out_lock = threading.RLock()
        self._sealed = False
        #: longest wait (s) in :meth:`stop` for the inlet thread (its steps are bounded by
        #: liblsl timeouts; past this it finishes alone and closes its own inlet)
        self.stop_join_s = 5.0
        self._state = "idle"
        self.disconnects = 0
        self._reconnects = 0
        self.chunks = 0
        self.received = 0
        self.handler_errors = 0
        self.metadata: dict[str, object] = {}
        self.ref_rate = 0.0
        self._down_since = 0

    # ---- what the set-up screen shows ------------------------------------------------------------
    @property
    def streams(self) -> list[StreamInfo]:
        if self.info is None:
            raise RuntimeError(f"{self.name}: connect() first, so that its channels are known")
        return [self.info]

    @property
    def clock_offset_ns(self) -> int:
        """Host monotonic clock − LSL's local clock (ns) (:func:`~devices.lsl.config.clock_offset_ns`)."""
        return self._offset_ns

    @property
    def link_state(self) -> str:
        return self._state

    @property
    def reconnects(self) -> int:
        return self._reconnects

    def stats(self) -> dict[str, int]:
        a = self.aligner
        return {
            "chunks": self.chunks,
            "received_samples": self.received,
            "samples": a.samples if a else 0,
            "lost_samples": a.lost_samples if a else 0,
            "packets": a.packets if a else 0,
            "timebase_resets": a.resets if a else 0,
            "disconnects": self.disconnects,
            "reconnects": self._reconnects,
            "handler_errors": self.handler_errors,
        }

    def describe(self) -> dict[str, object]:
        d: dict[str, object] = super().describe() if self.info is not None else {"name": self.name}
        d.update(
            transport=f"Lab Streaming Layer (pylsl {getattr(self._pylsl, '__version__', '?')})",
            lsl=dict(self.metadata),
            channels=self.plan.describe() if self.plan else None,
            simulated=self.simulated,
        )
        return d

    # ---- life cycle ------------------------------------------------------------------------------
    def connect(self) -> None:
        """Find the stream, open an inlet, read its channels. Raises :class:`LslError` or
        :class:`~devices.lsl.channels.ChannelError` (one sentence each)."""
        if self._inlet is not None:
            return
        self._pylsl = load_pylsl(self.network)
        self._state = "connecting"
        info = self._resolve(self.resolve_s)
        if info is None:
            self._state = "disconnected"
            what = self.query if self.query is not None else (self.ref.name if self.ref else "?")
            raise LslError(
                f"No Lab Streaming Layer stream {what!r} found: is the program sending it "
                "(OpenSignals: Lab Streaming Layer switched on, acquisition running)?"
            )
        self._open(info)
        self._state = "connected"

    def _resolve(self, timeout_s: float) -> Any:
        pylsl = self._pylsl
        if self.ref is not None:
            ref = self.ref
            if ref.source_id:
                pred = f"source_id='{_q(ref.source_id)}'"
            else:
                pred = f"name='{_q(ref.name)}' and type='{_q(ref.type)}'"
        else:
            assert self.query is not None
            v = _q(self.query)
            pred = f"name='{v}' or type='{v}' or source_id='{v}' or uid='{v}'"
        found = pylsl.resolve_bypred(pred, 1, float(timeout_s))
        found = [i for i in found if i.nominal_srate() > 0]
        return found[0] if found else None

    def _open(self, info: Any, timeout_s: float = 5.0) -> None:
        """Open an inlet on ``info`` and make it the sensor's; an inlet that cannot be used
        (channels refused, a timeout, the sensor stopped meanwhile) is closed, not left to GC."""
        pylsl = self._pylsl
        inlet = pylsl.StreamInlet(
            info, max_buflen=60, recover=False, processing_flags=pylsl.proc_clocksync
        )
        try:
            full = inlet.info(timeout=timeout_s)
            channels, device = read_channels(full)
            plan = plan_channels(full.name(), full.type(), full.channel_count(), channels, device)
            ref = LslStreamRef.from_info(full)
            if self.plan is not None and (
                plan.names != self.plan.names or ref.rate_hz != self.ref_rate
            ):
                raise LslError(f"{ref.name} came back with other channels or another rate")
            inlet.open_stream(timeout=timeout_s)
            with self._lock:  # stop() may have come while this waited on liblsl
                if self._stop.is_set():
                    raise LslError(f"{self.name} was stopped")
                self._inlet = inlet
        except BaseException:
            _close(inlet)
            raise
        # a synthetic outlet (ours, devices.lsl.synthetic) says so: its sessions are labelled
        # simulated on screen and in reports, never taken for a patient's data
        self.simulated = full.desc().child_value("synthetic").strip().lower() == "true"
        self.plan = plan
        self.ref = self.ref or ref
        self.ref_rate = ref.rate_hz
        if self.info is None:
            stream_name = {"ECG": "ecg", "EDA": "eda"}.get("".join(plan.names), "bio")
            self.info = StreamInfo(0, stream_name, plan.names, plan.units, ref.rate_hz)
            self.aligner = LslAligner(
                0, ref.rate_hz, plan.counter is not None, self.hold_s, modulus=plan.counter_modulus
            )
        self.metadata = {
            "name": ref.name,
            "type": ref.type,
            "source_id": ref.source_id,
            "hostname": ref.hostname,
            "uid": ref.uid,
            "nominal_rate": ref.rate_hz,
            "channel_count": ref.channel_count,
            "device": device,
        }
        self._offset_ns = clock_offset_ns(self.clock)  # once per process, shared

    def preview(self, on_batch: BatchSink | None) -> None:
        """Stream into ``on_batch`` before a session (the set-up's test); None stops sending."""
        with self._lock:
            self._preview = on_batch
        if on_batch is not None:
            self._connect_unless_running()
            self._run_thread()

    def start(self, on_batch: BatchSink, on_event: EventSink) -> None:
        """Start the session: batches to ``on_batch``, link events to ``on_event``.

        With the inlet thread already running (the set-up's test) only the sinks are attached:
        a stream lost meanwhile is being looked for by that thread and is taken up by it, as a
        Bluetooth link reconnects by itself (no second inlet opened beside it)."""
        if self._stop.is_set():
            raise RuntimeError(f"{self.name} was stopped")
        self._connect_unless_running()
        with self._lock:
            self._on_batch, self._on_event = on_batch, on_event
        self._run_thread()
        self._emit("sensor_connected", self.clock.now_ns(), {**self.metadata})

    def _connect_unless_running(self) -> None:
        """connect(), unless the inlet thread runs: it owns the inlet (and its reconnection)."""
        with self._lock:
            running = self._thread is not None
        if not running:
            self.connect()

    def _run_thread(self) -> None:
        with self._lock:
            if self._thread is not None:
                return
            self._thread = threading.Thread(target=self._loop, name="lsl-inlet", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Stop pulling, deliver what is held, close the inlet. Idempotent.

        Nothing is delivered after this returns: a worker still inside a liblsl call when the
        wait ends (:attr:`stop_join_s`) delivers nothing more and closes what it opened."""
        if self._stop.is_set():
            return
        self._stop.set()
        t = self._thread
        alive = False
        if t is not None and t is not threading.current_thread():
            t.join(timeout=self.stop_join_s)
            alive = t.is_alive()
        if alive:
            log.warning("%s: the inlet thread is still in liblsl; it closes by itself", self.name)
        elif self.aligner is not None:
            self._deliver(self.aligner.flush())
        self._emit("sensor_stats", self.clock.now_ns(), {**self.stats()})
        with self._out_lock:
            self._sealed = True
        if not alive:  # else the worker, still using it, closes it on its way out
            self._close_inlet()
        self._state = "closed"

    def _close_inlet(self) -> None:
        with self._lock:
            inlet, self._inlet = self._inlet, None
        if inlet is not None:
            _close(inlet)

    # ---- the inlet thread ------------------------------------------------------------------------
    def _loop(self) -> None:
        from pylsl.util import LostError as lost_error

        try:
            self._pull_until_stopped(lost_error)
        finally:
            if self._stop.is_set():
                self._close_inlet()  # stop() may have stopped waiting for this thread

    def _pull_until_stopped(self, lost_error: type[Exception]) -> None:
        last_data = time.monotonic()
        max_samples = max(64, int(self.ref_rate))
        while not self._stop.is_set():
            inlet = self._inlet
            if inlet is None:
                if not self._reconnect():
                    break
                last_data = time.monotonic()
                continue
            try:
                data, stamps = inlet.pull_chunk(
                    timeout=0.05, max_samples=max_samples, as_numpy=True
                )
            except lost_error:
                self._lost("stream lost")
                continue
            except Exception as e:  # liblsl errors are RuntimeErrors: the stream is unusable
                log.warning("%s: pulling failed: %r", self.name, e)
                self._lost(f"{type(e).__name__}")
                continue
            now = self.clock.now_ns()
            if len(stamps):
                last_data = time.monotonic()
                try:
                    self._chunk(np.asarray(data), np.asarray(stamps), now)
                except Exception as e:
                    self.handler_errors += 1
                    log.exception("%s: chunk handling failed", self.name)
                    self._emit("error", now, {"error": f"lsl chunk: {type(e).__name__}: {e}"})
            else:
                assert self.aligner is not None
                self._deliver(self.aligner.expire(self._now_lsl_ns()))
                if time.monotonic() - last_data > self.stall_s:
                    self._lost(f"no sample for {self.stall_s:g} s")

    def _now_lsl_ns(self) -> int:
        return self.clock.now_ns()

    def _chunk(self, data: np.ndarray, stamps: np.ndarray, now_ns: int) -> None:
        assert self.plan is not None and self.aligner is not None
        self.chunks += 1
        self.received += len(stamps)
        host = np.round(stamps * 1e9).astype(np.int64) + self._offset_ns
        seqs = None
        if self.plan.counter is not None:
            seqs = np.round(data[:, self.plan.counter]).astype(np.int64)
        values = self.plan.convert(data)
        self._deliver(self.aligner.push(values, host, seqs, now_ns))

    def _lost(self, why: str) -> None:
        t = self.clock.now_ns()
        self._close_inlet()
        if self.aligner is not None:
            self._deliver(self.aligner.flush())
            self.aligner.restart()
        self.disconnects += 1
        self._state = "reconnecting"
        log.info("%s: %s; looking for it again", self.name, why)
        self._emit("disconnected", t, {"stream": self.metadata.get("name"), "why": why})
        self._down_since = t

    def _reconnect(self) -> bool:
        """Look for the stream until it is back (True) or the sensor stops (False)."""
        delay = self.policy.first_delay_s
        attempt = 0
        while not self._stop.is_set():
            if self._stop.wait(delay * random.uniform(0.8, 1.2)):
                return False
            attempt += 1
            try:
                info = self._resolve(self.policy.resolve_s)
                if info is not None and not self._stop.is_set():
                    # an outlet found just as it closes must not hold up a stop for long
                    self._open(info, 2.0 * self.policy.resolve_s)
            except Exception as e:
                log.info("%s: reconnect attempt %d failed: %r", self.name, attempt, e)
                info = None
            if self._inlet is not None:
                t = self.clock.now_ns()
                self._reconnects += 1
                self._state = "connected"
                down = (t - self._down_since) / 1e9
                self._emit(
                    "reconnected",
                    t,
                    {"stream": self.metadata.get("name"), "attempts": attempt, "down_s": down},
                )
                return True
            delay = min(delay * self.policy.factor, self.policy.max_delay_s)
        return False

    def _deliver(self, batches: list[SampleBatch]) -> None:
        if not batches:
            return
        with self._lock:
            sink, preview = self._on_batch, self._preview
        with self._out_lock:
            if self._sealed:
                return
            for b in batches:
                if sink is not None:
                    sink(b)
                if preview is not None and preview is not sink:
                    preview(b)

    def _emit(self, kind: str, t_ns: int, detail: dict[str, Any]) -> None:
        with self._lock:
            sink = self._on_event
        with self._out_lock:
            if sink is not None and not self._sealed:
                sink(DeviceEvent(kind, int(t_ns), dict(detail)))


def _close(inlet: Any) -> None:
    """Close an inlet's stream (one already gone is fine)."""
    try:
        inlet.close_stream()
    except Exception as e:
        log.debug("closing the LSL inlet: %r", e)


def _q(value: str) -> str:
    """A value inside an XPath string literal (liblsl's predicates): no quote can end it."""
    return value.replace("'", "")
