"""One BLE peripheral's connection: set-up operations, notifications and automatic reconnection.

Runs on the BLE loop of :class:`~devices.ble.transport.BleTransport`. After an unsolicited
disconnect, while a session runs, it reconnects by itself with exponential back-off: re-scan for
the address (BlueZ forgets devices it has not heard for a while), a fresh client, then the same
set-up operations again. The gap is never filled: the driver's counters record it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from core.clock import Clock
from devices.ble.driver import GattOp

T = TypeVar("T")

log = logging.getLogger(__name__)

#: :meth:`BleLink.aclose` budget (s): waiting for a cancelled reconnection attempt, releasing the
#: clients of dropped connections, the final (stop) operations, and the disconnect. Their sum is
#: well under :data:`CLOSE_TIMEOUT_S`, so that a session's stop (called from the GUI thread) is
#: short whatever the link does: a peripheral that does not answer is simply left behind.
CLOSE_CANCEL_S = 0.5
CLOSE_RELEASE_S = 0.5
CLOSE_OPS_S = 1.5
CLOSE_DISCONNECT_S = 1.5
CLOSE_TIMEOUT_S = 5.0
#: longest wait (s) for one dropped client's (or a failed attempt's) disconnect while reconnecting
RELEASE_S = 5.0

#: (characteristic UUID, value, host arrival ns) — called on the BLE loop thread
NotifyHandler = Callable[[str, bytes, int], None]
#: (kind, host ns, detail) — "disconnected" or "reconnected", on the BLE loop thread
LinkEventHandler = Callable[[str, int, dict[str, object]], None]
#: a function giving the operations to (re)run; called afresh at every (re)connection
OpsSource = Callable[[], Sequence[GattOp]]


class LinkHost(Protocol):
    """What a link needs from the BLE loop it runs on (:class:`devices.ble.transport.BleTransport`)."""

    clock: Clock
    devices: dict[str, Any]  # upper-case address → bleak BLEDevice seen last

    def run(self, coro: Coroutine[Any, Any, T], timeout_s: float | None = None) -> T: ...
    def call_soon(self, fn: Callable[..., Any], *args: Any) -> None: ...
    def forget(self, link: BleLink) -> None: ...


class CharacteristicMissing(ConnectionError):
    """The peripheral lacks a characteristic its driver needs (another kind of device, or firmware
    that does not offer it)."""


@dataclass(frozen=True)
class ReconnectPolicy:
    """Automatic reconnection while a session runs.

    Parameters
    ----------
    first_delay_s : float — wait (s) before the first attempt
    max_delay_s : float — longest wait (s) between attempts
    factor : float — back-off growth per failed attempt
    scan_timeout_s : float — how long (s) one attempt scans for the address
    connect_timeout_s : float — how long (s) one attempt may take to connect
    """

    first_delay_s: float = 0.5
    max_delay_s: float = 10.0
    factor: float = 2.0
    scan_timeout_s: float = 5.0
    connect_timeout_s: float = 15.0


class BleLink:
    """One peripheral's connection, its set-up operations and its automatic reconnection.

    Create with :meth:`BleTransport.link`. Blocking methods may be called from any thread but the
    BLE loop's; ``a…`` coroutines run on the loop.
    """

    def __init__(
        self,
        transport: LinkHost,
        address: str,
        on_notify: NotifyHandler,
        on_event: LinkEventHandler,
        policy: ReconnectPolicy,
    ) -> None:
        self.transport = transport
        self.address = address
        self.policy = policy
        self._on_notify = on_notify
        self._on_event = on_event
        self._client: Any = None
        self._lost: list[Any] = []  # clients that dropped: their D-Bus connections to release
        self._script: list[OpsSource] = []
        self._auto = False
        self._closing = False
        self._reconnect_task: asyncio.Task[None] | None = None
        #: "idle", "connecting", "connected", "reconnecting", "disconnected" or "closed"
        self.state = "idle"
        self.disconnects = 0
        self.reconnects = 0
        self.down_since_ns: int | None = None
        self.last_error: str | None = None

    @property
    def connected(self) -> bool:
        return self._client is not None and bool(self._client.is_connected)

    # ---- blocking API ----------------------------------------------------------------------------
    def connect(self, setup: OpsSource, timeout_s: float = 20.0) -> None:
        """Connect and run ``setup()``; it is run again after every reconnection (a link that
        dropped runs its whole script again: set-up, then what :meth:`run_ops` kept)."""
        self.transport.run(self._first_connect(setup, timeout_s), timeout_s + 10.0)

    def run_ops(self, ops: OpsSource, keep: bool = True) -> None:
        """Run ``ops()`` now; with ``keep`` also after every reconnection (e.g. "start")."""
        self.transport.run(self._run_now(ops, keep), 30.0)

    def set_auto_reconnect(self, on: bool) -> None:
        """Reconnect by itself after an unsolicited disconnect (while a session runs).

        Switched on while the link is already down (it dropped before), a reconnection is
        started at once (on the loop).
        """
        self._auto = bool(on)
        if on and self.state not in ("idle", "closed"):
            self.transport.call_soon(self._reconnect_if_down)

    def close(self, final_ops: Sequence[GattOp] = (), timeout_s: float = CLOSE_TIMEOUT_S) -> None:
        """Stop reconnecting, run ``final_ops`` (best effort) and disconnect. Idempotent.

        Raises TimeoutError if that took longer than ``timeout_s`` (the link is then abandoned).
        """
        if self.state == "closed":
            return
        self.transport.run(self.aclose(final_ops), timeout_s)

    # ---- loop side -------------------------------------------------------------------------------
    async def _first_connect(self, setup: OpsSource, timeout_s: float) -> None:
        task = self._reconnect_task
        if task is not None and not task.done():  # one connection attempt at a time
            await asyncio.wait({task}, timeout=timeout_s)
        if self.connected:
            return
        if not self._script:  # a link that dropped keeps its script (set-up, then start)
            self._script = [setup]
        await self._connect_once(timeout_s, rescan=False)

    async def _run_now(self, ops: OpsSource, keep: bool) -> None:
        if keep:
            self._script.append(ops)
        await self._run(ops())

    async def _connect_once(self, timeout_s: float, rescan: bool) -> None:
        from bleak import BleakClient, BleakScanner
        from bleak.exc import BleakDeviceNotFoundError

        key = self.address.upper()
        device = None if rescan else self.transport.devices.get(key)
        if device is None:
            self.state = "reconnecting" if rescan else "connecting"
            device = await BleakScanner.find_device_by_address(
                self.address, timeout=self.policy.scan_timeout_s
            )
            if device is None:
                raise BleakDeviceNotFoundError(self.address, f"{self.address} is not advertising")
            self.transport.devices[key] = device
        client = BleakClient(device, disconnected_callback=self._disconnected, timeout=timeout_s)
        await client.connect()
        self._client = client
        try:
            for source in list(self._script):
                await self._run(source())
        except BaseException:
            self._client = None  # its disconnect is ours, not a link loss
            with contextlib.suppress(Exception):
                await asyncio.wait_for(client.disconnect(), RELEASE_S)
            raise
        self.state = "connected"
        self.last_error = None

    async def _run(self, ops: Sequence[GattOp]) -> None:
        client = self._client
        if client is None or not client.is_connected:
            raise ConnectionError(f"{self.address} is not connected")
        for op in ops:
            if client is not self._client or not client.is_connected:  # it dropped meanwhile
                raise ConnectionError(f"{self.address} disconnected")
            char = client.services.get_characteristic(op.uuid)
            if char is None or (
                op.kind == "subscribe"
                and op.optional
                and not {"notify", "indicate"} & set(char.properties)
            ):
                if op.optional:
                    continue
                raise CharacteristicMissing(
                    f"{self.address} does not offer characteristic {op.uuid}"
                )
            if op.kind == "subscribe":
                await client.start_notify(char, self._value)
            elif op.kind == "write":
                await client.write_gatt_char(char, op.data, response=op.response)
            else:
                data = await client.read_gatt_char(char)
                self._dispatch(char.uuid, bytes(data), self.transport.clock.now_ns())

    def _value(self, sender: Any, data: bytearray) -> None:
        # stamp first: everything after this line is host-side delay, not link latency
        t = self.transport.clock.now_ns()
        self._dispatch(sender.uuid, bytes(data), t)

    def _dispatch(self, uuid: str, data: bytes, t_ns: int) -> None:
        try:
            self._on_notify(uuid, data, t_ns)
        except Exception:  # a decoder bug must not silence the link; the handler counts it
            log.exception("BLE notification handler failed (%s)", uuid)

    def _disconnected(self, client: Any) -> None:
        if client is not self._client or self._closing:
            return
        self._client = None
        self._lost.append(client)
        if self.state == "reconnecting" and self._reconnecting():
            # it dropped again while a reconnection attempt ran its set-up: that attempt failed
            # (its set-up raises), the next one follows; the link has been down all along
            return
        t = self.transport.clock.now_ns()
        self.disconnects += 1
        self.down_since_ns = t
        self.state = "reconnecting" if self._auto else "disconnected"
        self._emit("disconnected", t, address=self.address, auto_reconnect=self._auto)
        if self._auto and (self._reconnect_task is None or self._reconnect_task.done()):
            self._reconnect_task = asyncio.get_running_loop().create_task(self._reconnect())

    def _reconnecting(self) -> bool:
        task = self._reconnect_task
        return task is not None and not task.done()

    def _reconnect_if_down(self) -> None:
        """(loop) Start reconnecting a link that dropped while automatic reconnection was off."""
        if not self._auto or self._closing or self.connected or self._reconnecting():
            return
        if self.state != "disconnected":
            return  # never connected, connecting or closed: nothing to take up again
        t = self.transport.clock.now_ns()
        self.state = "reconnecting"
        down = (t - self.down_since_ns) / 1e9 if self.down_since_ns is not None else None
        # the drop was reported while nobody recorded it: report the link down again, now
        self._emit("disconnected", t, address=self.address, auto_reconnect=True, down_s=down)
        self._reconnect_task = asyncio.get_running_loop().create_task(self._reconnect())

    async def _release_lost(self, timeout_s: float = RELEASE_S) -> None:
        """Disconnect the clients of dropped connections, all at once, for at most
        ``timeout_s`` seconds (a client that does not let go is left behind)."""
        lost, self._lost = self._lost, []
        if not lost:
            return
        tasks = [asyncio.ensure_future(c.disconnect()) for c in lost]
        _, pending = await asyncio.wait(tasks, timeout=timeout_s)
        for t in pending:
            t.cancel()
        for t in tasks:
            if t.done() and not t.cancelled():
                t.exception()  # retrieved: a failed release is no news

    async def _reconnect(self) -> None:
        await self._release_lost()
        delay = self.policy.first_delay_s
        attempt = 0
        while not self._closing:
            await asyncio.sleep(delay * random.uniform(0.8, 1.2))
            attempt += 1
            try:
                await self._connect_once(self.policy.connect_timeout_s, rescan=True)
            except asyncio.CancelledError:
                raise
            except Exception as e:
                self.last_error = f"{type(e).__name__}: {e}"
                self.state = "reconnecting"
                log.info("reconnect %s attempt %d failed: %s", self.address, attempt, e)
                delay = min(delay * self.policy.factor, self.policy.max_delay_s)
                continue
            t = self.transport.clock.now_ns()
            self.reconnects += 1
            down = (t - self.down_since_ns) / 1e9 if self.down_since_ns is not None else None
            self._emit("reconnected", t, address=self.address, attempts=attempt, down_s=down)
            return

    def _emit(self, kind: str, t_ns: int, **detail: object) -> None:
        try:
            self._on_event(kind, t_ns, detail)
        except Exception:
            log.exception("BLE link event handler failed (%s)", kind)

    async def aclose(self, final_ops: Sequence[GattOp]) -> None:
        """Coroutine behind :meth:`close` (runs on the loop); each step has its own budget
        (``CLOSE_…_S``), so it ends within their sum whatever the peripheral does."""
        self._closing = True
        self._auto = False
        try:
            task, self._reconnect_task = self._reconnect_task, None
            if task is not None and not task.done():
                task.cancel()  # a cancelled connection attempt may wait on BlueZ: not for long
                await asyncio.wait({task}, timeout=CLOSE_CANCEL_S)
                if task.done() and not task.cancelled() and task.exception() is not None:
                    log.warning("reconnecting %s ended with %r", self.address, task.exception())
            await self._release_lost(CLOSE_RELEASE_S)
            client, self._client = self._client, None
            if client is not None and client.is_connected:
                self._client = client
                try:
                    await asyncio.wait_for(self._run(final_ops), CLOSE_OPS_S)
                except Exception as e:
                    log.warning("stop commands to %s failed: %r", self.address, e)
                self._client = None
                try:
                    await asyncio.wait_for(client.disconnect(), CLOSE_DISCONNECT_S)
                except Exception as e:
                    log.warning("disconnect from %s failed: %r", self.address, e)
        finally:
            self.state = "closed"
            self.transport.forget(self)
