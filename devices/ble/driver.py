"""What every BLE sensor driver is: a pure decoder plus the GATT operations it needs.

A driver never touches bleak. It says which characteristics to subscribe to and which command
bytes to write (:class:`GattOp`), and turns notification bytes into :class:`~core.types.SampleBatch`
objects (device counters + host arrival times). The transport (:mod:`devices.ble.transport`) runs
the operations and feeds the bytes; tests feed hand-made bytes directly.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import ClassVar, Literal

from core.types import SampleBatch, StreamInfo

#: Bluetooth SIG base UUID; 16-bit assigned numbers are expanded into it
_SIG_BASE = "0000{:04x}-0000-1000-8000-00805f9b34fb"


def uuid16(short: int) -> str:
    """The full 128-bit form (lower case, as bleak reports it) of a 16-bit SIG UUID."""
    return _SIG_BASE.format(short)


BATTERY_SERVICE = uuid16(0x180F)
BATTERY_LEVEL = uuid16(0x2A19)


@dataclass(frozen=True)
class GattOp:
    """One GATT operation a driver asks the transport to perform.

    Parameters
    ----------
    kind : {"subscribe", "write", "read"}
    uuid : str — characteristic UUID (128-bit, lower case)
    data : bytes — bytes to write (``write`` only)
    response : bool — write with response (acknowledged) or without
    optional : bool — skip silently when the peripheral lacks the characteristic
    """

    kind: Literal["subscribe", "write", "read"]
    uuid: str
    data: bytes = b""
    response: bool = True
    optional: bool = False


def subscribe(uuid: str, optional: bool = False) -> GattOp:
    """Enable notifications (or indications) on ``uuid``."""
    return GattOp("subscribe", uuid, optional=optional)


def write(uuid: str, data: bytes, response: bool = True) -> GattOp:
    """Write ``data`` to ``uuid``."""
    return GattOp("write", uuid, bytes(data), response=response)


def read(uuid: str, optional: bool = False) -> GattOp:
    """Read ``uuid``; the value goes to :meth:`SensorDriver.receive`."""
    return GattOp("read", uuid, optional=optional)


def battery_ops() -> list[GattOp]:
    """Read and follow the standard Battery Level (0x180F/0x2A19) where the device offers it."""
    return [read(BATTERY_LEVEL, optional=True), subscribe(BATTERY_LEVEL, optional=True)]


class SensorDriver(ABC):
    """A pure decoder for one kind of BLE sensor.

    All methods are called from one thread (the BLE loop); none blocks. Figures of what was
    received, dropped and lost are in :attr:`counts` (see :meth:`stats`).
    """

    #: profile key, e.g. ``"polar_h10"``
    profile: ClassVar[str] = ""
    #: human-readable device kind, e.g. ``"Polar H10"``
    title: ClassVar[str] = ""
    #: the primary service that identifies the device
    service_uuid: ClassVar[str] = ""

    def __init__(self) -> None:
        self.battery_percent: int | None = None
        self.counts: dict[str, int] = {
            "notifications": 0,
            "batches": 0,
            "samples": 0,
            "lost_samples": 0,
            "malformed": 0,
            "crc_errors": 0,
            "duplicates": 0,
            "out_of_order": 0,
            "timebase_resets": 0,
        }
        self._events: list[tuple[str, dict[str, object]]] = []

    # ---- what the transport runs ---------------------------------------------------------------
    @property
    @abstractmethod
    def streams(self) -> list[StreamInfo]:
        """The streams this driver delivers (known once :meth:`ready` is True)."""

    def ready(self) -> bool:
        """Whether :attr:`streams` is known (a self-describing device may need its descriptors)."""
        return True

    @abstractmethod
    def connect_ops(self) -> list[GattOp]:
        """Operations after every (re)connection: subscriptions, configuration, reads."""

    @abstractmethod
    def start_ops(self) -> list[GattOp]:
        """Operations that start streaming (also re-run after a reconnect while recording)."""

    @abstractmethod
    def stop_ops(self) -> list[GattOp]:
        """Operations that stop streaming."""

    # ---- decoding --------------------------------------------------------------------------------
    def receive(self, uuid: str, data: bytes, arrival_ns: int) -> list[SampleBatch]:
        """Decode one notification (or read value) from ``uuid`` that arrived at ``arrival_ns``.

        Parameters
        ----------
        uuid : str — characteristic UUID (128-bit, lower case)
        data : bytes — the value
        arrival_ns : int — host monotonic time (ns) when it arrived
        """
        if uuid == BATTERY_LEVEL:
            if len(data) >= 1 and data[0] <= 100:
                if data[0] != self.battery_percent:
                    self.event("battery", percent=int(data[0]))
                self.battery_percent = int(data[0])
            return []
        return self.feed(uuid, bytes(data), arrival_ns)

    @abstractmethod
    def feed(self, uuid: str, data: bytes, arrival_ns: int) -> list[SampleBatch]:
        """Device-specific decoding of one value; see :meth:`receive`."""

    def flush(self) -> list[SampleBatch]:
        """Deliver whatever the driver still holds (called when acquisition stops)."""
        return []

    def link_lost(self, t_ns: int) -> None:
        """The connection dropped at host time ``t_ns`` (ns)."""
        return None

    def link_restored(self, t_ns: int) -> None:
        """The connection is back (and :meth:`connect_ops` ran) at host time ``t_ns`` (ns)."""
        return None

    # ---- reporting -------------------------------------------------------------------------------
    def event(self, kind: str, **detail: object) -> None:
        """Queue an event for the recorder's journal (taken with :meth:`take_events`)."""
        self._events.append((kind, dict(detail)))

    def take_events(self) -> list[tuple[str, dict[str, object]]]:
        """Events queued since the last call, oldest first."""
        out, self._events = self._events, []
        return out

    def stats(self) -> dict[str, int]:
        """Packets and samples received, dropped (by reason) and lost; JSON-serialisable."""
        return dict(self.counts)

    def describe(self) -> dict[str, object]:
        """Configuration to store with the session (JSON-serialisable)."""
        return {"profile": self.profile, "title": self.title}
