"""A fake BlueZ on a private D-Bus, so bleak's *real* BlueZ backend can be tested without a radio.

A private ``dbus-daemon`` (Debian's ``/usr/bin/dbus-daemon``) is started with a minimal
configuration and ``DBUS_SYSTEM_BUS_ADDRESS`` points at it. On it, :class:`FakeBluez` owns the name
``org.bluez`` and serves, with dbus_fast (a bleak dependency), what bleak's backend talks to:

* ``/org/bluez/hci0`` — ``org.bluez.Adapter1`` (discovery: while scanning, advertising devices
  report RSSI changes, as BlueZ does when it hears advertisements);
* one ``org.bluez.Device1`` per peripheral (Name, Alias, Address, RSSI, UUIDs, Connected,
  ServicesResolved; Connect / Disconnect);
* ``org.bluez.GattService1`` / ``org.bluez.GattCharacteristic1`` objects (ReadValue, WriteValue,
  StartNotify / StopNotify; notifications are ``PropertiesChanged`` of ``Value``).

Peripheral behaviour (what bytes to send and when) lives in :mod:`tests.devices.ble.fake_peripherals`;
everything here runs on the fake's own thread and asyncio loop, like a separate process would.
"""

import asyncio
import contextlib
import os
import shutil
import subprocess
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Protocol

from dbus_fast import DBusError
from dbus_fast.aio.message_bus import MessageBus
from dbus_fast.annotations import (
    DBusBool,
    DBusBytes,
    DBusDict,
    DBusInt16,
    DBusObjectPath,
    DBusSignature,
    DBusStr,
)
from dbus_fast.constants import BusType, PropertyAccess
from dbus_fast.service import ServiceInterface, dbus_property, method

DBusStrArray = Annotated[list[str], DBusSignature("as")]
ADAPTER_PATH = "/org/bluez/hci0"
DBUS_DAEMON = shutil.which("dbus-daemon")

BUS_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:dir={dir}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"""


class Peripheral(Protocol):
    """What :class:`FakeBluez` needs from a peripheral model (see fake_peripherals)."""

    name: str
    address: str
    rssi: int
    adv_uuids: list[str]
    #: (service UUID, [(characteristic UUID, BlueZ flags)])
    gatt: list[tuple[str, list[tuple[str, list[str]]]]]

    def attach(self, link: "FakeLink") -> None: ...
    def on_connect(self) -> None: ...
    def on_disconnect(self) -> None: ...
    def on_write(self, uuid: str, data: bytes) -> int | None: ...
    def on_read(self, uuid: str) -> bytes: ...


class FakeAdapter(ServiceInterface):
    def __init__(self, bluez: "FakeBluez") -> None:
        super().__init__("org.bluez.Adapter1")
        self.bluez = bluez
        self.discovering = False
        self.powered = True
        self.calls: list[str] = []
        #: (D-Bus error name, message) StartDiscovery answers with, as BlueZ does when it cannot
        self.discovery_error: tuple[str, str] | None = None

    @dbus_property(access=PropertyAccess.READ)
    def Address(self) -> DBusStr:
        return "00:1A:7D:DA:71:13"

    @dbus_property(access=PropertyAccess.READ)
    def Name(self) -> DBusStr:
        return "fake-hci0"

    @dbus_property(access=PropertyAccess.READ)
    def Powered(self) -> DBusBool:
        return self.powered

    @dbus_property(access=PropertyAccess.READ)
    def Discovering(self) -> DBusBool:
        return self.discovering

    @dbus_property(access=PropertyAccess.READ)
    def Roles(self) -> DBusStrArray:
        return ["central", "peripheral"]

    @method()
    def SetDiscoveryFilter(self, filter: DBusDict) -> None:  # noqa: A002 (BlueZ's name)
        self.calls.append("SetDiscoveryFilter")

    @method()
    def StartDiscovery(self) -> None:
        self.calls.append("StartDiscovery")
        if self.discovery_error is not None:
            raise DBusError(*self.discovery_error)
        self.discovering = True
        self.bluez.advertise_soon()

    @method()
    def StopDiscovery(self) -> None:
        self.calls.append("StopDiscovery")
        self.discovering = False


class FakeDevice(ServiceInterface):
    def __init__(self, link: "FakeLink") -> None:
        super().__init__("org.bluez.Device1")
        self.link = link
        self.connected = False
        self.resolved = False

    @dbus_property(access=PropertyAccess.READ)
    def Address(self) -> DBusStr:
        return self.link.periph.address

    @dbus_property(access=PropertyAccess.READ)
    def AddressType(self) -> DBusStr:
        return "random"

    @dbus_property(access=PropertyAccess.READ)
    def Name(self) -> DBusStr:
        return self.link.periph.name

    @dbus_property(access=PropertyAccess.READ)
    def Alias(self) -> DBusStr:
        return self.link.periph.name

    @dbus_property(access=PropertyAccess.READ)
    def Adapter(self) -> DBusObjectPath:
        return ADAPTER_PATH

    @dbus_property(access=PropertyAccess.READ)
    def UUIDs(self) -> DBusStrArray:
        return list(self.link.periph.adv_uuids)

    @dbus_property(access=PropertyAccess.READ)
    def RSSI(self) -> DBusInt16:
        return self.link.rssi

    @dbus_property(access=PropertyAccess.READ)
    def Connected(self) -> DBusBool:
        return self.connected

    @dbus_property(access=PropertyAccess.READ)
    def ServicesResolved(self) -> DBusBool:
        return self.resolved

    @dbus_property(access=PropertyAccess.READ)
    def Paired(self) -> DBusBool:
        return False

    @dbus_property(access=PropertyAccess.READ)
    def Trusted(self) -> DBusBool:
        return False

    @dbus_property(access=PropertyAccess.READ)
    def Blocked(self) -> DBusBool:
        return False

    @method()
    async def Connect(self) -> None:
        self.link.connect_calls += 1
        if self.link.connect_hang_s:  # a peripheral that does not answer the connection
            await asyncio.sleep(self.link.connect_hang_s)
        if self.link.connect_error is not None:
            raise DBusError(*self.link.connect_error)
        if not self.link.available:
            raise DBusError("org.bluez.Error.Failed", "le-connection-timeout")
        self.link.set_connected(True)

    @method()
    async def Disconnect(self) -> None:
        if self.link.disconnect_hang_s:  # BlueZ waiting on a peripheral that does not answer
            await asyncio.sleep(self.link.disconnect_hang_s)
        self.link.set_connected(False)


class FakeService(ServiceInterface):
    def __init__(self, uuid: str, device_path: str) -> None:
        super().__init__("org.bluez.GattService1")
        self.uuid, self.device_path = uuid, device_path

    @dbus_property(access=PropertyAccess.READ)
    def UUID(self) -> DBusStr:
        return self.uuid

    @dbus_property(access=PropertyAccess.READ)
    def Device(self) -> DBusObjectPath:
        return self.device_path

    @dbus_property(access=PropertyAccess.READ)
    def Primary(self) -> DBusBool:
        return True


class FakeCharacteristic(ServiceInterface):
    def __init__(self, link: "FakeLink", uuid: str, service_path: str, flags: list[str]) -> None:
        super().__init__("org.bluez.GattCharacteristic1")
        self.link, self.uuid, self.service_path, self.flags = link, uuid, service_path, flags
        self.value = b""
        self.notifying = False

    @dbus_property(access=PropertyAccess.READ)
    def UUID(self) -> DBusStr:
        return self.uuid

    @dbus_property(access=PropertyAccess.READ)
    def Service(self) -> DBusObjectPath:
        return self.service_path

    @dbus_property(access=PropertyAccess.READ)
    def Flags(self) -> DBusStrArray:
        return list(self.flags)

    @dbus_property(access=PropertyAccess.READ)
    def Value(self) -> DBusBytes:
        return self.value

    @dbus_property(access=PropertyAccess.READ)
    def Notifying(self) -> DBusBool:
        return self.notifying

    def _check_connected(self) -> None:
        if not self.link.device.connected:
            raise DBusError("org.bluez.Error.Failed", "Not connected")

    @method()
    def ReadValue(self, options: DBusDict) -> DBusBytes:
        self._check_connected()
        self.value = bytes(self.link.periph.on_read(self.uuid))
        return self.value

    @method()
    def WriteValue(self, value: DBusBytes, options: DBusDict) -> None:
        self._check_connected()
        self.link.writes.append((self.uuid, bytes(value)))
        err = self.link.periph.on_write(self.uuid, bytes(value))
        if err is not None:
            raise DBusError(
                "org.bluez.Error.Failed", f"Operation failed with ATT error: 0x{err:02x}"
            )

    @method()
    def StartNotify(self) -> None:
        self._check_connected()
        self.notifying = True

    @method()
    def StopNotify(self) -> None:
        self.notifying = False


class FakeLink:
    """One peripheral as BlueZ sees it: its D-Bus objects, connection and radio availability."""

    def __init__(self, bluez: "FakeBluez", periph: Peripheral) -> None:
        self.bluez = bluez
        self.periph = periph
        self.path = f"{ADAPTER_PATH}/dev_{periph.address.replace(':', '_')}"
        self.device = FakeDevice(self)
        self.rssi = periph.rssi
        self.available = True  # in range and advertising when not connected
        self.chars: dict[str, FakeCharacteristic] = {}
        self.services: list[tuple[str, FakeService]] = []
        self.writes: list[tuple[str, bytes]] = []
        self.connects = 0
        self.connect_calls = 0
        self.connect_hang_s = 0.0  # Connect answers only after this long
        self.disconnect_hang_s = 0.0  # Disconnect answers only after this long
        #: (D-Bus error name, message) Connect answers with, as BlueZ does when it cannot
        self.connect_error: tuple[str, str] | None = None
        handle = 0x000A
        for svc_uuid, chars in periph.gatt:
            spath = f"{self.path}/service{handle:04x}"
            self.services.append((spath, FakeService(svc_uuid, self.path)))
            for ch_uuid, flags in chars:
                handle += 1
                cpath = f"{spath}/char{handle:04x}"
                self.chars[cpath] = FakeCharacteristic(self, ch_uuid, spath, flags)
            handle += 0x10

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        return self.bluez.loop

    def export(self, bus: MessageBus) -> None:
        bus.export(self.path, self.device)
        for spath, svc in self.services:
            bus.export(spath, svc)
        for cpath, ch in self.chars.items():
            bus.export(cpath, ch)
        self.periph.attach(self)

    def set_connected(self, on: bool) -> None:
        """Connect (from Connect) or drop the connection (Disconnect, or the link going away)."""
        dev = self.device
        if on == dev.connected:
            return
        dev.connected = on
        dev.emit_properties_changed({"Connected": on})
        if on:
            self.connects += 1
            dev.resolved = True
            dev.emit_properties_changed({"ServicesResolved": True})
            self.periph.on_connect()
        else:
            dev.resolved = False
            dev.emit_properties_changed({"ServicesResolved": False})
            for ch in self.chars.values():
                ch.notifying = False
            self.periph.on_disconnect()

    def drop(self, down_s: float) -> None:
        """The radio link breaks (out of range): disconnect, unreachable for ``down_s`` seconds."""
        self.available = False
        self.set_connected(False)
        self.loop.call_later(down_s, self._back)

    def _back(self) -> None:
        self.available = True

    def notify(self, uuid: str, data: bytes) -> bool:
        """Send a notification on ``uuid``; False when it could not go out (no link, not enabled)."""
        if not self.device.connected:
            return False
        for ch in self.chars.values():
            if ch.uuid == uuid and ch.notifying:
                ch.value = bytes(data)
                ch.emit_properties_changed({"Value": ch.value})
                return True
        return False

    def advertise(self) -> None:
        if self.available and not self.device.connected:
            # BlueZ signals an advertisement as a changed RSSI
            base = self.periph.rssi
            self.rssi = base - 1 if self.rssi == base else base
            self.device.emit_properties_changed({"RSSI": self.rssi})


class FakeBluez:
    """A private dbus-daemon plus a fake ``org.bluez`` on its own thread.

    Use :meth:`start` (after setting nothing: it sets ``DBUS_SYSTEM_BUS_ADDRESS`` itself, and
    :meth:`stop` restores it), :meth:`add` peripherals, and :meth:`call` to act on the fake's
    thread.
    """

    def __init__(self, tmp: Path, bluez: bool = True, adapter: bool = True) -> None:
        """``bluez=False``: the bus has no ``org.bluez`` (service not running); ``adapter=False``:
        BlueZ runs but has no adapter."""
        self.tmp = tmp
        self.with_bluez = bluez
        self.with_adapter = adapter
        self.process: subprocess.Popen[bytes] | None = None
        self.address = ""
        self.loop = asyncio.new_event_loop()
        self.bus: MessageBus | None = None
        self.adapter = FakeAdapter(self)
        self.links: dict[str, FakeLink] = {}
        self._thread: threading.Thread | None = None
        self._old_env: str | None = None
        self._ticking = False

    def start(self) -> "FakeBluez":
        if DBUS_DAEMON is None:
            raise RuntimeError("dbus-daemon is not installed")
        sock_dir = self.tmp / "dbus"
        sock_dir.mkdir(parents=True, exist_ok=True)
        conf = self.tmp / "bus.conf"
        conf.write_text(BUS_CONFIG.format(dir=sock_dir))
        self.process = subprocess.Popen(
            [DBUS_DAEMON, f"--config-file={conf}", "--nofork", "--print-address=1"],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        assert self.process.stdout is not None
        self.address = self.process.stdout.readline().decode().strip()
        if not self.address:
            self.stop()
            raise RuntimeError("dbus-daemon did not start")
        self._old_env = os.environ.get("DBUS_SYSTEM_BUS_ADDRESS")
        os.environ["DBUS_SYSTEM_BUS_ADDRESS"] = self.address
        self._thread = threading.Thread(
            target=self.loop.run_forever, name="fake-bluez", daemon=True
        )
        self._thread.start()
        self.call_async(self._connect)
        return self

    async def _connect(self) -> None:
        self.bus = await MessageBus(bus_type=BusType.SYSTEM, bus_address=self.address).connect()
        if self.with_adapter:
            self.bus.export(ADAPTER_PATH, self.adapter)
        if self.with_bluez:
            await self.bus.request_name("org.bluez")

    def call(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Run ``fn(*args)`` on the fake's loop thread and return its result."""

        async def run() -> Any:
            return fn(*args)

        return self.call_async(run)

    def call_async(self, fn: Callable[[], Any], timeout_s: float = 10.0) -> Any:
        return asyncio.run_coroutine_threadsafe(fn(), self.loop).result(timeout_s)

    def add(self, periph: Peripheral) -> "FakeLink":
        """Make ``periph`` known to BlueZ (it advertises whenever it is not connected)."""

        def add() -> "FakeLink":
            assert self.bus is not None
            link = FakeLink(self, periph)
            link.export(self.bus)
            self.links[periph.address] = link
            return link

        link: FakeLink = self.call(add)
        return link

    def advertise_soon(self) -> None:
        """While discovering, every available device advertises about every 50 ms."""

        def tick() -> None:
            if not self.adapter.discovering:
                self._ticking = False
                return
            for link in self.links.values():
                link.advertise()
            self.loop.call_later(0.05, tick)

        if not self._ticking:
            self._ticking = True
            self.loop.call_later(0.01, tick)

    def stop(self) -> None:
        if self._thread is not None:
            with contextlib.suppress(Exception):
                self.call(self._shutdown)
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(5.0)
            self._thread = None
            self.loop.close()
        if self.process is not None:
            self.process.kill()
            self.process.wait(5.0)
            if self.process.stdout is not None:
                self.process.stdout.close()
            self.process = None
        if self._old_env is None:
            os.environ.pop("DBUS_SYSTEM_BUS_ADDRESS", None)
        else:
            os.environ["DBUS_SYSTEM_BUS_ADDRESS"] = self._old_env

    def _shutdown(self) -> None:
        for link in self.links.values():
            stop = getattr(link.periph, "shutdown", None)
            if stop is not None:
                stop()
        for task in asyncio.all_tasks(self.loop):
            if task is not asyncio.current_task():
                task.cancel()
        if self.bus is not None:
            self.bus.disconnect()
