"""A real BLE bio-sensor behind the :class:`~core.recording.sources.BioSensor` interface.

:class:`BleSensor` joins a pure driver (Polar H10, BITalino, open profile) to a :class:`BleLink`.
Batches go to the recorder's sinks from the BLE loop thread, exactly as the simulated sensor's do:
device counters plus host arrival times; lost samples are gaps in the counters. Link losses and
reconnections reach the journal as ``disconnected`` / ``reconnected`` events with host times.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from core.clock import Clock
from core.recording.sources import BatchSink, EventSink
from core.types import DeviceEvent, SampleBatch, StreamInfo
from devices.base import BioSensorBase
from devices.ble.driver import SensorDriver
from devices.ble.link import BleLink, ReconnectPolicy
from devices.ble.transport import BleTransport, BluetoothError, plain_errors

log = logging.getLogger(__name__)

#: longest wait (s) for the loop to deliver the driver's held samples at stop, and for an owned
#: transport's loop to end
FINISH_TIMEOUT_S = 1.0


class BleSensor(BioSensorBase):
    """A BLE sensor: connect (set-up screen), start (session), stop.

    Parameters
    ----------
    address : str — the peripheral's address (from :meth:`BleTransport.scan`)
    driver : SensorDriver — the decoder for its profile
    transport : BleTransport, optional — shared BLE thread; by default the sensor owns one and
        stops it in :meth:`stop`
    clock : Clock, optional — host clock for a transport the sensor creates
    name : str, optional — shown on screen and stored with the session
    policy : ReconnectPolicy, optional — automatic reconnection while recording
    connect_timeout_s : float — longest wait (s) for a connection and its set-up
    ready_timeout_s : float — longest wait (s) for a self-describing device's stream descriptors
    """

    simulated = False

    def __init__(
        self,
        address: str,
        driver: SensorDriver,
        *,
        transport: BleTransport | None = None,
        clock: Clock | None = None,
        name: str | None = None,
        policy: ReconnectPolicy | None = None,
        connect_timeout_s: float = 20.0,
        ready_timeout_s: float = 5.0,
    ) -> None:
        self.address = address
        self.driver = driver
        self._own_transport = transport is None
        self.transport = transport if transport is not None else BleTransport(clock)
        self.name = name or f"{driver.title} {address}"
        self.policy = policy or ReconnectPolicy()
        self.connect_timeout_s = float(connect_timeout_s)
        self.ready_timeout_s = float(ready_timeout_s)
        self._link: BleLink | None = None
        self._on_batch: BatchSink | None = None
        self._on_event: EventSink | None = None
        self._preview: BatchSink | None = None
        self._streaming = False
        self._stopped = False
        self.handler_errors = 0

    # ---- what the set-up screen shows ------------------------------------------------------------
    @property
    def streams(self) -> list[StreamInfo]:
        if not self.driver.ready():
            raise RuntimeError(f"{self.name}: connect() first, so that its streams are known")
        return self.driver.streams

    @property
    def battery_percent(self) -> int | None:
        """Battery level (%) where the device reports it."""
        return self.driver.battery_percent

    @property
    def link_state(self) -> str:
        """``idle``, ``connecting``, ``connected``, ``reconnecting``, ``disconnected``, ``closed``."""
        return self._link.state if self._link is not None else "idle"

    @property
    def reconnects(self) -> int:
        """How many times the link came back after a loss."""
        return self._link.reconnects if self._link is not None else 0

    def stats(self) -> dict[str, int]:
        """The driver's packet and sample figures plus the link's disconnects and reconnects."""
        d = self.driver.stats()
        d["disconnects"] = self._link.disconnects if self._link else 0
        d["reconnects"] = self.reconnects
        d["handler_errors"] = self.handler_errors
        return d

    def describe(self) -> dict[str, object]:
        from importlib.metadata import PackageNotFoundError, version

        try:
            bleak_version = version("bleak")
        except PackageNotFoundError:
            bleak_version = "?"
        d = super().describe()
        d.update(
            address=self.address,
            profile=self.driver.profile,
            driver=self.driver.describe(),
            transport=f"bleak {bleak_version}",
        )
        return d

    # ---- life cycle ------------------------------------------------------------------------------
    def connect(self) -> None:
        """Connect and set the device up (subscriptions, battery), without streaming yet.

        Raises :class:`~devices.ble.transport.BluetoothError`, one plain sentence whatever went
        wrong (the detail goes to the log).
        """
        if self._stopped:
            raise RuntimeError(f"{self.name} was stopped")
        if self._link is None:
            self._link = self.transport.link(
                self.address, self._notified, self._link_event, self.policy
            )
        if not self._link.connected:
            with plain_errors("connect", self.name):
                self._link.connect(self.driver.connect_ops, self.connect_timeout_s)
        deadline = time.monotonic() + self.ready_timeout_s
        while not self.driver.ready():
            if time.monotonic() > deadline:
                log.warning(
                    "%s: no stream descriptors within %g s", self.name, self.ready_timeout_s
                )
                raise BluetoothError(
                    f"{self.name} did not describe its signals in time — switch it off and on, "
                    "then try again."
                )
            time.sleep(0.02)

    def preview(self, on_batch: BatchSink | None) -> None:
        """Stream into ``on_batch`` before a session (a test signal); None stops sending there."""
        self._preview = on_batch
        if on_batch is not None and not self._streaming:
            self.connect()
            assert self._link is not None
            with plain_errors("connect", self.name):
                self._link.run_ops(self.driver.start_ops)
            self._streaming = True

    def start(self, on_batch: BatchSink, on_event: EventSink) -> None:
        """Start the session: batches go to ``on_batch``, link events to ``on_event``.

        A link that dropped since :meth:`connect` (e.g. during the preview) is not waited for:
        it reconnects by itself, as it would after a drop during the session.
        """
        if self._stopped:
            raise RuntimeError(f"{self.name} was stopped")
        if self._link is None or self._link.state in ("idle", "connecting"):
            self.connect()  # never connected: a device that cannot be reached fails the start
        assert self._link is not None
        self._on_batch, self._on_event = on_batch, on_event
        # from here on a drop is reconnected (and a link found down is taken up at once), so
        # that none between here and the start commands leaves the session without data
        self._link.set_auto_reconnect(True)
        if not self._streaming:
            with plain_errors("connect", self.name):
                try:
                    self._link.run_ops(self.driver.start_ops)  # kept: re-run after a reconnection
                except Exception:
                    if self._link.connected:
                        raise  # the device refused: the session cannot start
                    log.warning("%s dropped before streaming; reconnecting", self.name)
            self._streaming = True
        self._emit(
            "sensor_connected",
            self.transport.clock.now_ns(),
            {
                "address": self.address,
                "profile": self.driver.profile,
                "battery_percent": self.battery_percent,
            },
        )

    def stop(self) -> None:
        """Stop streaming, deliver what the driver holds, disconnect; stop an owned transport.

        Called when a session stops (the record screen does it in a worker thread, so the screen
        stays live); bounded whatever the link does (a few seconds at worst:
        :data:`~devices.ble.link.CLOSE_TIMEOUT_S`); the driver's held samples and its figures
        (``sensor_stats``) reach the recorder in every case.
        """
        if self._stopped:
            return
        self._stopped = True
        try:
            if self._link is not None:
                self._link.set_auto_reconnect(False)
                final = self.driver.stop_ops() if self._streaming else []
                self._link.close(final)
        except Exception as e:  # whatever happens, the rest below must run
            log.warning("stopping %s: %r", self.name, e)
        finally:
            try:
                if self._link is not None:
                    self._finish_now()
            except Exception as e:
                log.warning("final figures of %s: %r", self.name, e)
            self._streaming = False
            if self._own_transport:
                self.transport.stop(FINISH_TIMEOUT_S)

    def _finish_now(self) -> None:
        """Nothing arrives any more: deliver what the driver still holds, journal its figures.

        On the loop thread, where the driver lives; where the loop is gone, here.
        """
        try:
            self.transport.run(self._finish(), FINISH_TIMEOUT_S)
        except RuntimeError:  # the transport was stopped: no loop thread touches the driver
            self._finish_sync()

    async def _finish(self) -> None:
        self._finish_sync()

    def _finish_sync(self) -> None:
        self._deliver(self.driver.flush())
        self._emit("sensor_stats", self.transport.clock.now_ns(), {**self.stats()})

    # ---- loop-thread callbacks ----------------------------------------------------------------
    def _notified(self, uuid: str, data: bytes, arrival_ns: int) -> None:
        try:
            batches = self.driver.receive(uuid, data, arrival_ns)
        except Exception as e:
            self.handler_errors += 1
            log.exception("%s: decoder failed", self.name)
            self._emit("error", arrival_ns, {"error": f"decoder: {type(e).__name__}: {e}"})
            return
        self._deliver(batches)
        for kind, detail in self.driver.take_events():
            self._emit(kind, arrival_ns, detail)

    def _deliver(self, batches: list[SampleBatch]) -> None:
        sink = self._on_batch if self._on_batch is not None else self._preview
        if sink is None:
            return
        for b in batches:
            sink(b)
        if self._preview is not None and sink is not self._preview:
            for b in batches:
                self._preview(b)

    def _link_event(self, kind: str, t_ns: int, detail: dict[str, Any]) -> None:
        if kind == "disconnected":
            self.driver.link_lost(t_ns)
            self._deliver(self.driver.flush())
        elif kind == "reconnected":
            self.driver.link_restored(t_ns)
        self._emit(kind, t_ns, {**detail, "profile": self.driver.profile})

    def _emit(self, kind: str, t_ns: int, detail: dict[str, Any]) -> None:
        if self._on_event is not None:
            self._on_event(DeviceEvent(kind, int(t_ns), dict(detail)))
