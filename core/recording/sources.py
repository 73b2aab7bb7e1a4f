"""The device seam: what a recording takes from a bio-sensor and a camera, defined once.

:class:`BioSensor` and :class:`Camera` are what the recorder (:mod:`core.recording.session`), the
set-up screen and the record screen use of a device. Real and simulated devices implement them
(``devices.base`` holds thin base classes with the defaults); ``core`` never imports ``devices``.

A device pushes data into *sinks* (plain callables) from its own thread. Sinks must be cheap and
thread-safe (the recorder's sinks put into a queue). In virtual-clock mode nothing runs in a thread:
the caller drives the device with ``pump`` up to a virtual time.

Optional capabilities are members too, with a neutral answer where a device lacks them: a sensor
without a radio link of its own reports ``link_state`` None, no battery None, no reconnections 0;
a device without a virtual-clock mode (or a separate test signal) raises TypeError from ``pump``
(``preview``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple, Protocol, runtime_checkable

from core.types import DeviceEvent, Frame, SampleBatch, StreamInfo

BatchSink = Callable[[SampleBatch], None]
FrameSink = Callable[[Frame], None]
EventSink = Callable[[DeviceEvent], None]


@runtime_checkable
class BioSensor(Protocol):
    """A bio-signal source with one or more streams."""

    #: human-readable name, e.g. "Simulated ECG+EDA (800 Hz)"
    name: str
    #: True for simulated devices (shown as such on screen and in reports)
    simulated: bool

    @property
    def streams(self) -> list[StreamInfo]:
        """The streams this sensor delivers."""
        ...

    @property
    def link_state(self) -> str | None:
        """The radio link: ``idle``, ``connecting``, ``connected``, ``reconnecting``,
        ``disconnected`` or ``closed``; None for a sensor without a link of its own to watch."""
        ...

    @property
    def battery_percent(self) -> int | None:
        """Battery level (%) where the device reports it, else None."""
        ...

    @property
    def reconnects(self) -> int:
        """How many times the link came back after a loss (0 without a link)."""
        ...

    def stats(self) -> dict[str, int]:
        """The device's own figures (packets, samples, disconnects, reconnects…); may be empty."""
        ...

    def preview(self, on_batch: BatchSink | None) -> None:
        """Stream a test signal into ``on_batch`` before a session; None stops sending there.

        A sensor without a separate test mode raises TypeError (test it by starting it).
        """
        ...

    def start(self, on_batch: BatchSink, on_event: EventSink) -> None:
        """Start acquisition (real time, own thread). Batches go to ``on_batch``."""
        ...

    def stop(self) -> None:
        """Stop acquisition and join the thread. Idempotent."""
        ...

    def pump(self, until_ns: int) -> None:
        """Virtual-clock mode: deliver everything that has arrived by ``until_ns``."""
        ...

    def describe(self) -> dict[str, object]:
        """What to store with the session about this device (JSON-serialisable)."""
        ...


@runtime_checkable
class Camera(Protocol):
    """A frame source stamped with host monotonic time at capture."""

    name: str
    simulated: bool
    #: frame rate (frames/s) and frame size (pixels): what it gives, once opened
    fps: float
    width: int
    height: int
    #: what was asked for (``fps``, ``width``, ``height``)
    requested: dict[str, float]
    #: what the device said it gives once opened; empty before, or with nothing to negotiate
    negotiated: dict[str, Any]
    #: the rate (frames/s) measured over the first frames; None until then, or never measured
    measured_fps: float | None

    def open(self) -> dict[str, Any]:
        """Open the device ahead of :meth:`start` (negotiation can take a second); returns
        :attr:`negotiated`. Nothing to do for a device with nothing to open.

        Raises OSError when the device cannot be opened.
        """
        ...

    def start(self, on_frame: FrameSink, on_event: EventSink) -> None:
        """Start capture (real time, own thread)."""
        ...

    def stop(self) -> None:
        """Stop capture and join the thread. Idempotent."""
        ...

    def pump(self, until_ns: int) -> None:
        """Virtual-clock mode: deliver every frame captured by ``until_ns``."""
        ...

    def describe(self) -> dict[str, object]:
        """What to store with the session about this device (JSON-serialisable)."""
        ...


class DeviceSet(NamedTuple):
    """The devices a session records with, and (simulated sessions) the truth to store."""

    sensor: BioSensor
    camera: Camera | None
    simulation: dict[str, Any] | None


#: ``factory(scenario, seed)`` → the devices for a session (the demo's simulated pair)
DeviceFactory = Callable[[str, int], DeviceSet]

__all__ = [
    "BatchSink",
    "BioSensor",
    "Camera",
    "DeviceFactory",
    "DeviceSet",
    "EventSink",
    "FrameSink",
]
