"""BLE transport: bleak in its own asyncio loop on a dedicated thread.

Every bleak call runs in one event loop owned by :class:`BleTransport`; other threads (the GUI, the
recorder) use its blocking methods, which hand coroutines to the loop. Notifications are stamped
with the host monotonic clock the moment they reach Python and handed to a callback *on the loop
thread* (keep it cheap: decode and put into a queue).

:class:`~devices.ble.link.BleLink` is one peripheral: connect, subscribe, write, read (battery
level), disconnect detection and, while a session runs, automatic reconnection with back-off.

Platform notes (as bleak allows):

* Linux (BlueZ ≥ 5.55, over D-Bus): the user must be allowed on the system bus's ``org.bluez``
  (usually the ``bluetooth`` group). BlueZ negotiates the ATT MTU itself; bleak reports 23.
  A device unseen for a while drops out of BlueZ's cache, hence the re-scan before reconnecting.
* Windows (WinRT): bleak must not run on a thread with a single-threaded COM apartment (the Qt GUI
  thread); this dedicated thread avoids the hang. Windows users report ECG drop-outs with the
  Polar H10: the counters record them.
* macOS (CoreBluetooth): addresses are per-host UUIDs, not MAC addresses; the app needs the
  Bluetooth permission.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import sys
import threading
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import asdict, dataclass
from typing import Any, TypeVar

from core.clock import Clock, MonotonicClock
from devices.ble.link import BleLink, LinkEventHandler, NotifyHandler, ReconnectPolicy
from devices.ble.profiles import identify

log = logging.getLogger(__name__)
T = TypeVar("T")


class BluetoothUnavailable(RuntimeError):
    """Bluetooth cannot be used on this computer now; ``str()`` says why and what to do, plainly.

    An expected condition (no adapter, switched off, no permission, no Bluetooth service), not a
    fault: the GUI shows the message and the log needs no traceback (``expected``).
    """

    expected = True


_DBUS_NO_SERVICE = (
    "org.freedesktop.DBus.Error.ServiceUnknown",
    "org.freedesktop.DBus.Error.NameHasNoOwner",
    "org.freedesktop.systemd1.NoSuchUnit",  # bluetooth.service not installed or not enabled
    "org.freedesktop.systemd1.UnitMasked",
)


def bluetooth_unavailable(exc: BaseException) -> BluetoothUnavailable | None:
    """The plain-language reason Bluetooth cannot be used, when ``exc`` is one; else None.

    Covers bleak's own "not available" error (no adapter, no Low Energy, switched off, permission
    denied) and, on Linux, a system message bus or BlueZ service that is not there or refuses.
    """
    from bleak.exc import BleakBluetoothNotAvailableError, BleakDBusError
    from bleak.exc import BleakBluetoothNotAvailableReason as Reason

    denied = (
        "TheraScope is not allowed to use Bluetooth — allow it in the system's privacy settings"
    )
    if isinstance(exc, BleakBluetoothNotAvailableError):
        why = {
            Reason.NO_BLUETOOTH: "this computer has no Bluetooth adapter (or it is unplugged or "
            "disabled)",
            Reason.NO_BLE_CENTRAL_ROLE: "the Bluetooth adapter does not support Bluetooth Low "
            "Energy",
            Reason.POWERED_OFF: "Bluetooth is switched off — switch it on in the system settings",
            Reason.DENIED_BY_USER: denied,
            Reason.DENIED_BY_SYSTEM: (
                "the system refused TheraScope a connection to its message bus (D-Bus), through "
                "which Bluetooth is reached"
                if _linux()
                else denied
            ),
            Reason.DENIED_BY_UNKNOWN: denied,
        }.get(exc.reason, f"Bluetooth is not available ({exc.args[0]})")
    elif (
        isinstance(exc, BleakDBusError)
        and exc.dbus_error == "org.freedesktop.DBus.Error.AccessDenied"
    ):
        why = (
            "TheraScope is not allowed to use the Bluetooth service (BlueZ) — add the user to "
            "the 'bluetooth' group, then log in again"
        )
    elif isinstance(exc, BleakDBusError) and (
        exc.dbus_error in _DBUS_NO_SERVICE
        or exc.dbus_error.startswith("org.freedesktop.DBus.Error.Spawn.")
    ):
        why = "the Bluetooth service (BlueZ) is not running — start it (systemctl start bluetooth)"
    elif _linux() and isinstance(exc, (FileNotFoundError, ConnectionRefusedError)):
        why = (
            "the system message bus (D-Bus), through which the Bluetooth service is reached, "
            "is not running"
        )
    else:
        return None
    return BluetoothUnavailable(why[0].upper() + why[1:] + ".")


@contextlib.contextmanager
def plain_unavailable() -> Iterator[None]:
    """Re-raise an error that means Bluetooth cannot be used as :class:`BluetoothUnavailable`."""
    try:
        yield
    except Exception as e:
        unavailable = bluetooth_unavailable(e)
        if unavailable is None:
            raise
        raise unavailable from e


def _linux() -> bool:
    return sys.platform.startswith("linux")


@dataclass(frozen=True)
class ScanResult:
    """One advertising peripheral.

    Parameters
    ----------
    address : str — Bluetooth address (a UUID on macOS)
    name : str or None — advertised name
    rssi : int — signal strength (dBm)
    service_uuids : tuple of str — advertised service UUIDs (128-bit, lower case)
    profile : str or None — the known profile it matches (``"polar_h10"``, …), if any
    """

    address: str
    name: str | None
    rssi: int
    service_uuids: tuple[str, ...]
    profile: str | None

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


class BleTransport:
    """The BLE thread: one asyncio loop where all bleak work happens.

    Parameters
    ----------
    clock : Clock — host monotonic clock for arrival stamps and events (default: real)
    """

    def __init__(self, clock: Clock | None = None) -> None:
        self.clock: Clock = clock if clock is not None else MonotonicClock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._stopped = False
        self._links: list[BleLink] = []
        self.devices: dict[str, Any] = {}  # upper-case address → bleak BLEDevice seen last

    # ---- the loop thread ----------------------------------------------------------------------
    def start(self) -> None:
        """Start the loop thread (done on first use). Raises after :meth:`stop`."""
        with self._lock:
            if self._stopped:
                raise RuntimeError("BleTransport was stopped; create a new one")
            if self._thread is not None:
                return
            loop = asyncio.new_event_loop()
            ready = threading.Event()
            self._thread = threading.Thread(
                target=self._run_loop, args=(loop, ready), name="ble-loop", daemon=True
            )
            self._loop = loop
            self._thread.start()
        ready.wait()

    @staticmethod
    def _run_loop(loop: asyncio.AbstractEventLoop, ready: threading.Event) -> None:
        asyncio.set_event_loop(loop)
        loop.call_soon(ready.set)
        try:
            loop.run_forever()
            tasks = [t for t in asyncio.all_tasks(loop) if not t.done()]
            for t in tasks:
                t.cancel()
            if tasks:
                loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
            loop.run_until_complete(loop.shutdown_asyncgens())
        finally:
            loop.close()

    @property
    def in_loop_thread(self) -> bool:
        return threading.current_thread() is self._thread

    def run(self, coro: Coroutine[Any, Any, T], timeout_s: float | None = None) -> T:
        """Run ``coro`` on the loop and wait for its result (from any other thread)."""
        try:
            self.start()
            if self.in_loop_thread:
                raise RuntimeError("blocking BleTransport call from the BLE loop thread")
        except BaseException:
            coro.close()
            raise
        assert self._loop is not None
        fut = asyncio.run_coroutine_threadsafe(coro, self._loop)
        try:
            return fut.result(timeout_s)
        except concurrent.futures.TimeoutError:
            fut.cancel()
            raise TimeoutError(f"BLE operation did not finish within {timeout_s} s") from None

    def call_soon(self, fn: Callable[..., Any], *args: Any) -> None:
        """Schedule ``fn(*args)`` on the loop thread (from any thread)."""
        self.start()
        assert self._loop is not None
        self._loop.call_soon_threadsafe(fn, *args)

    # ---- scanning --------------------------------------------------------------------------------
    def scan(self, timeout_s: float = 5.0) -> list[ScanResult]:
        """Scan for ``timeout_s`` seconds; strongest signal first.

        Raises :class:`BluetoothUnavailable` when this computer cannot use Bluetooth now.
        """
        with plain_unavailable():
            return self.run(self._scan(timeout_s), timeout_s + 15.0)

    async def _scan(self, timeout_s: float) -> list[ScanResult]:
        from bleak import BleakScanner

        found = await BleakScanner.discover(timeout=timeout_s, return_adv=True)
        out = []
        for dev, adv in found.values():
            self.devices[dev.address.upper()] = dev
            uuids = tuple(u.lower() for u in adv.service_uuids)
            name = adv.local_name or dev.name
            out.append(ScanResult(dev.address, name, adv.rssi, uuids, identify(name, uuids)))
        return sorted(out, key=lambda r: -r.rssi)

    # ---- links -------------------------------------------------------------------------------
    def link(
        self,
        address: str,
        on_notify: NotifyHandler,
        on_event: LinkEventHandler,
        policy: ReconnectPolicy | None = None,
    ) -> BleLink:
        """A (not yet connected) link to the peripheral at ``address``."""
        self.start()
        lk = BleLink(self, address, on_notify, on_event, policy or ReconnectPolicy())
        with self._lock:
            self._links.append(lk)
        return lk

    def forget(self, link: BleLink) -> None:
        """Drop a closed link (any thread): the transport keeps only the links it must close."""
        with self._lock:
            self._links = [lk for lk in self._links if lk is not link]

    def stop(self, timeout_s: float = 10.0) -> None:
        """Close every link, stop the loop and join its thread. Idempotent."""
        with self._lock:
            if self._stopped:
                return
            self._stopped = True
            loop, thread, links = self._loop, self._thread, list(self._links)
        if loop is None or thread is None:
            return
        if threading.current_thread() is thread:
            raise RuntimeError("BleTransport.stop() from the BLE loop thread")
        fut = asyncio.run_coroutine_threadsafe(self._shutdown(links), loop)
        try:
            fut.result(timeout_s)
        except Exception as e:  # a peripheral that will not let go must not block the app
            log.warning("BLE shutdown incomplete: %r", e)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout_s)
        if thread.is_alive():
            log.error("BLE loop thread did not stop within %s s", timeout_s)

    async def _shutdown(self, links: list[BleLink]) -> None:
        for lk in links:
            try:
                await lk.aclose(())
            except Exception as e:
                log.warning("closing the link to %s failed: %r", lk.address, e)
        await _release_bluez_manager()


async def _release_bluez_manager() -> None:
    """Disconnect bleak's per-loop BlueZ D-Bus connection (Linux), so nothing outlives the loop."""
    try:
        from bleak.backends.bluezdbus import manager as bluez_manager
    except Exception:  # not Linux, or a bleak without it
        return
    instances = getattr(bluez_manager, "_global_instances", None)
    if not isinstance(instances, dict):
        return
    mgr = instances.pop(asyncio.get_running_loop(), None)
    bus = getattr(mgr, "_bus", None)
    task = getattr(mgr, "_bus_watcher_task", None)
    if bus is not None:
        with contextlib.suppress(Exception):
            bus.disconnect()
    if isinstance(task, asyncio.Task) and not task.done():
        task.cancel()
        with contextlib.suppress(BaseException):
            await task


__all__ = ["BleLink", "BleTransport", "ReconnectPolicy", "ScanResult"]
