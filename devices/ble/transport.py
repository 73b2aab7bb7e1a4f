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

Whatever a scan or a connection raises reaches the caller as :class:`BluetoothError`: one plain
sentence, what happened and what to do (:func:`plain_errors`). bleak's, BlueZ's and the system's
own words (D-Bus error names, errno texts) go to the log only.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import re
import sys
import threading
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import asdict, dataclass
from typing import Any, Literal, TypeVar

from core.clock import Clock, MonotonicClock
from devices.ble.link import (
    BleLink,
    CharacteristicMissing,
    LinkEventHandler,
    NotifyHandler,
    ReconnectPolicy,
)
from devices.ble.profiles import identify

log = logging.getLogger(__name__)
T = TypeVar("T")


class BluetoothError(RuntimeError):
    """A Bluetooth scan or connection failed; ``str()`` is one plain sentence: what happened and
    what to do, without D-Bus, BlueZ or Python error names.

    The technical detail (bleak's, BlueZ's or the system's own words) goes to the log where the
    error is translated (:func:`plain_errors`) and stays in ``__cause__``; it is never shown. An
    expected condition, not a fault: the GUI shows the message and the log needs no traceback
    (``expected``).
    """

    expected = True


class BluetoothUnavailable(BluetoothError):
    """Bluetooth cannot be used on this computer now; ``str()`` says why and what to do, plainly.

    No adapter, switched off or not ready, no permission, no Bluetooth service or message bus.
    """


#: what was being done when Bluetooth failed: a scan, or connecting to (and setting up) a sensor
Action = Literal["scan", "connect"]

_DBUS_NO_SERVICE = (
    "org.freedesktop.DBus.Error.ServiceUnknown",
    "org.freedesktop.DBus.Error.NameHasNoOwner",
    "org.freedesktop.systemd1.NoSuchUnit",  # bluetooth.service not installed or not enabled
    "org.freedesktop.systemd1.UnitMasked",
)
#: the message bus gave up waiting for BlueZ's reply
_DBUS_NO_ANSWER = (
    "org.freedesktop.DBus.Error.NoReply",
    "org.freedesktop.DBus.Error.Timeout",
    "org.freedesktop.DBus.Error.TimedOut",
)
#: bleak's words for "no adapter": older bleak raised a plain BleakError ("Bluetooth adapter not
#: found", "No Bluetooth adapters found."); the BlueZ backend still does for an adapter that went
#: away ("adapter 'hci0' not found")
_NO_ADAPTER = re.compile(r"\badapters?\b.*\bnot found\b|\bno bluetooth adapters?\b", re.IGNORECASE)

_NO_ADAPTER_TEXT = (
    "this computer has no Bluetooth adapter (or it is unplugged or disabled) — plug one in or "
    "enable it, then try again"
)
_DENIED_TEXT = (
    "TheraScope is not allowed to use Bluetooth — allow it in the system's privacy settings, "
    "then try again"
)
_BUS_DENIED_TEXT = (
    "the system refused TheraScope a connection to its message bus (D-Bus), through which "
    "Bluetooth is reached — ask the computer's administrator to allow it"
)

#: why a connection (or the sensor's set-up) failed → what to say; ``{w}`` is the sensor
_CONNECT_TEXT = {
    "not_found": "{w} was not found — check that it is switched on, close to the computer and not "
    "connected to a phone or another computer, then try again",
    "no_answer": "{w} did not answer in time — check that it is switched on and close to the "
    "computer, then try again",
    "broke_off": "the connection to {w} broke off while it was being made (radio interference is "
    "the usual cause) — bring the sensor closer to the computer and try again",
    "dropped": "{w} disconnected while it was being set up — check that it is close to the "
    "computer and its battery is charged, then try again",
    "busy": "this computer's Bluetooth is busy with another connection or scan — wait a few "
    "seconds, then try again",
    "already": "{w} is already connected, perhaps to another program — close that program or "
    "switch the sensor off and on, then try again",
    "unsupported": "{w} does not offer what TheraScope needs — check that it is a supported "
    "sensor and its firmware is up to date",
    "refused": "{w} refused TheraScope's set-up commands — switch it off and on, then try again",
    "pairing": "{w} refused access because it is not paired with this computer — pair it in the "
    "system's Bluetooth settings, then try again",
    "key_missing": "{w} no longer recognises this computer (it was paired before) — remove it in "
    "the system's Bluetooth settings, then try again",
    "other": "could not connect to {w} — switch it off and on and try again; if that keeps "
    "failing, switch Bluetooth off and on in the system settings",
}
_SCAN_TEXT = {
    "busy": "another Bluetooth scan or connection is still under way on this computer — wait a "
    "few seconds, then scan again",
    "no_answer": "the Bluetooth service did not answer in time — scan again; if that keeps "
    "happening, switch Bluetooth off and on in the system settings",
    "other": "the Bluetooth scan failed — wait a few seconds and scan again; if that keeps "
    "failing, switch Bluetooth off and on in the system settings",
}

#: BlueZ's ``org.bluez.Error.…`` names (its D-Bus API documentation) → why it failed
_BLUEZ_ERRORS = {
    "DoesNotExist": "not_found",
    "InProgress": "busy",
    "AlreadyConnected": "already",
    "NotConnected": "dropped",
    "NotSupported": "unsupported",
    "NotPermitted": "refused",
    "NotAuthorized": "pairing",
    "AuthenticationFailed": "pairing",
    "AuthenticationRejected": "pairing",
    "AuthenticationCanceled": "pairing",
    "AuthenticationTimeout": "pairing",
    "ConnectionAttemptFailed": "no_answer",
}
#: the reason BlueZ gives with ``org.bluez.Error.Failed`` (its ``le-connection-…`` codes, errno
#: and controller texts), lower case → why it failed
_BLUEZ_FAILED = {
    "le-connection-timeout": "no_answer",
    "le-connection-refused": "no_answer",
    "le-connection-unknown": "no_answer",
    "le-connection-abort-by-remote": "dropped",
    "le-connection-abort-by-local": "broke_off",
    "le-connection-link-layer-protocol-error": "broke_off",
    "le-connection-gatt-browsing": "dropped",
    "le-connection-busy": "busy",
    "le-connection-concurrent-connection-limit": "busy",
    "le-connection-already-connected": "already",
    "le-connection-key-missing": "key_missing",
    "software caused connection abort": "broke_off",
    "connection timed out": "no_answer",
    "not connected": "dropped",
    "in progress": "busy",
    "operation already in progress": "busy",
    "busy": "busy",
    "device or resource busy": "busy",
}


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:] + "."


def _dbus_detail(exc: Any) -> str:
    """The reason a D-Bus error came with (BlueZ's ``le-connection-…`` code, …), or ''."""
    return str(exc.args[1]).strip() if len(exc.args) > 1 else ""


def bluetooth_unavailable(exc: BaseException) -> BluetoothUnavailable | None:
    """The plain-language reason Bluetooth cannot be used, when ``exc`` is one; else None.

    Covers bleak's own "not available" error (no adapter, no Low Energy, switched off, permission
    denied), an adapter that is switched off or not ready (BlueZ's ``NotReady``) and, on Linux, a
    system message bus or BlueZ service that is not there, refuses, or is too old.
    """
    from bleak.exc import (
        BleakBluetoothNotAvailableError,
        BleakDBusError,
        BleakDeviceNotFoundError,
        BleakError,
    )
    from bleak.exc import BleakBluetoothNotAvailableReason as Reason

    if isinstance(exc, BleakBluetoothNotAvailableError):
        why = {
            Reason.NO_BLUETOOTH: _NO_ADAPTER_TEXT,
            Reason.NO_BLE_CENTRAL_ROLE: "the Bluetooth adapter does not support Bluetooth Low "
            "Energy — use an adapter for Bluetooth 4.0 or newer",
            Reason.POWERED_OFF: "Bluetooth is switched off — switch it on in the system settings, "
            "then try again",
            Reason.DENIED_BY_USER: _DENIED_TEXT,
            Reason.DENIED_BY_SYSTEM: _BUS_DENIED_TEXT if _linux() else _DENIED_TEXT,
            Reason.DENIED_BY_UNKNOWN: _DENIED_TEXT,
        }.get(
            exc.reason,
            "Bluetooth is not available on this computer now — check that it is switched on in "
            "the system settings, then try again",
        )
    elif isinstance(exc, BleakDBusError):
        name = exc.dbus_error
        if name == "org.freedesktop.DBus.Error.AccessDenied":
            why = (
                "TheraScope is not allowed to use the Bluetooth service (BlueZ) — add the user to "
                "the 'bluetooth' group, then log in again"
            )
        elif name in _DBUS_NO_SERVICE or name.startswith("org.freedesktop.DBus.Error.Spawn."):
            why = (
                "the Bluetooth service (BlueZ) is not running — start it "
                "(systemctl start bluetooth), then try again"
            )
        elif name == "org.bluez.Error.NotReady" or (
            name == "org.bluez.Error.Failed"
            and _dbus_detail(exc).lower() in ("le-connection-adapter-not-powered", "not powered")
        ):
            why = (
                "Bluetooth is switched off or not ready yet — switch it on in the system "
                "settings, wait a few seconds, then try again"
            )
        else:
            return None
    elif isinstance(exc, BleakError) and not isinstance(exc, BleakDeviceNotFoundError):
        said = str(exc)
        if _NO_ADAPTER.search(said):
            why = _NO_ADAPTER_TEXT
        elif "requires BlueZ" in said:
            why = (
                "this computer's Bluetooth service (BlueZ) is too old for TheraScope — update the "
                "system (BlueZ 5.55 or newer is needed)"
            )
        else:
            return None
    elif _linux() and isinstance(exc, (FileNotFoundError, ConnectionRefusedError)):
        why = (
            "the system message bus (D-Bus), through which the Bluetooth service is reached, is "
            "not running — restart the computer, or ask its administrator to start it"
        )
    elif _linux() and isinstance(exc, PermissionError):
        why = _BUS_DENIED_TEXT
    else:
        return None
    return BluetoothUnavailable(_sentence(why))


def _why(exc: BaseException) -> str:
    """Why a scan or a connection failed, as a key of ``_SCAN_TEXT`` / ``_CONNECT_TEXT``
    (``"other"``: not recognised)."""
    from bleak.exc import (
        BleakCharacteristicNotFoundError,
        BleakDBusError,
        BleakDeviceNotFoundError,
        BleakError,
        BleakGATTProtocolError,
        BleakGATTProtocolErrorCode,
    )

    if isinstance(exc, BleakDeviceNotFoundError):
        return "not_found"
    if isinstance(exc, (BleakCharacteristicNotFoundError, CharacteristicMissing)):
        return "unsupported"
    if isinstance(exc, BleakGATTProtocolError):
        code = BleakGATTProtocolErrorCode
        paired_only = {
            code.INSUFFICIENT_AUTHENTICATION,
            code.INSUFFICIENT_AUTHORIZATION,
            code.INSUFFICIENT_ENCRYPTION,
            code.INSUFFICIENT_ENCRYPTION_KEY_SIZE,
        }
        return "pairing" if exc.args[0] in paired_only else "refused"
    if isinstance(exc, BleakDBusError):
        name = exc.dbus_error
        if name.startswith("org.bluez.Error."):
            kind = name.removeprefix("org.bluez.Error.")
            if kind == "Failed":
                detail = _dbus_detail(exc).lower()
                if "att error" in detail:
                    return "refused"
                return _BLUEZ_FAILED.get(detail, "other")
            return _BLUEZ_ERRORS.get(kind, "other")
        if name in _DBUS_NO_ANSWER:
            return "no_answer"
        if name == "org.freedesktop.DBus.Error.UnknownObject":
            return "not_found"  # the device's object is gone (an adapter's: see plain_error)
        return "other"
    if isinstance(exc, (TimeoutError, asyncio.TimeoutError)):
        return "no_answer"
    if isinstance(exc, BleakError):  # its own words: "Not connected", "… device disconnected", …
        said = str(exc).lower()
        dropped = ("disconnected", "not connected", "service discovery has not been performed")
        return "dropped" if any(d in said for d in dropped) else "other"
    if isinstance(exc, ConnectionAbortedError):
        return "broke_off"
    if isinstance(exc, (ConnectionError, EOFError)):  # the link, or its D-Bus connection, went
        return "dropped"
    return "other"


def plain_error(
    exc: BaseException, action: Action = "connect", what: str = "the sensor"
) -> BluetoothError:
    """``exc``, raised while scanning or connecting, as one plain sentence for the screen.

    Parameters
    ----------
    exc : BaseException — what bleak, BlueZ (through bleak), the system or the link raised
    action : {"scan", "connect"} — what was being done (the advice differs)
    what : str — the sensor, as the user knows it (``"Polar H10 6A7B8C"``), for a connection

    Returns
    -------
    BluetoothError — :class:`BluetoothUnavailable` when this computer cannot use Bluetooth now;
    ``exc`` itself when it is already plain
    """
    if isinstance(exc, BluetoothError):
        return exc
    unavailable = bluetooth_unavailable(exc)
    if unavailable is not None:
        return unavailable
    why = _why(exc)
    if action == "scan":
        if why == "not_found":  # the adapter's object went away while scanning (unplugged)
            return BluetoothUnavailable(_sentence(_NO_ADAPTER_TEXT))
        return BluetoothError(_sentence(_SCAN_TEXT.get(why, _SCAN_TEXT["other"])))
    return BluetoothError(_sentence(_CONNECT_TEXT[why].format(w=what)))


@contextlib.contextmanager
def plain_errors(action: Action, what: str = "the sensor") -> Iterator[None]:
    """Re-raise what a scan or a connection raises as a plain :class:`BluetoothError`.

    The technical detail goes to the log: one line for what Bluetooth, the system or the sensor
    did; with the traceback for anything else (a fault in TheraScope, perhaps).
    ``BaseException`` (cancellation, Ctrl+C) passes unchanged.

    Parameters
    ----------
    action : {"scan", "connect"} — what is being done
    what : str — the sensor, as the user knows it, for a connection
    """
    try:
        yield
    except BluetoothError:
        raise
    except Exception as e:
        from bleak.exc import BleakError

        plain = plain_error(e, action, what)
        expected = isinstance(e, (BleakError, OSError, EOFError, asyncio.TimeoutError))
        log.log(
            logging.WARNING if expected else logging.ERROR,
            "Bluetooth %s failed: %s: %s",
            "scan" if action == "scan" else f"connection to {what}",
            type(e).__name__,
            e,
            exc_info=not expected,
        )
        raise plain from e


@contextlib.contextmanager
def plain_unavailable() -> Iterator[None]:
    """Re-raise an error that means Bluetooth cannot be used as :class:`BluetoothUnavailable`
    (other errors pass unchanged; :func:`plain_errors` translates them all)."""
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
            if fut.done():  # the coroutine's own TimeoutError (the same class since Python 3.11)
                return fut.result()
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

        Raises :class:`BluetoothError`, one plain sentence whatever went wrong (the detail goes to
        the log): :class:`BluetoothUnavailable` when this computer cannot use Bluetooth now.
        """
        with plain_errors("scan"):
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


__all__ = [
    "BleLink",
    "BleTransport",
    "BluetoothError",
    "BluetoothUnavailable",
    "ReconnectPolicy",
    "ScanResult",
    "plain_error",
    "plain_errors",
]
