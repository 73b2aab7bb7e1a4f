"""The two device interfaces: bio-sensors and cameras. Real and simulated devices implement them.

A device pushes data into *sinks* (plain callables) from its own thread. Sinks must be cheap and
thread-safe (the recorder's sinks put into a queue). In virtual-clock mode nothing runs in a thread:
the caller drives the device with :meth:`pump` up to a virtual time.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable

from core.types import DeviceEvent, Frame, SampleBatch, StreamInfo

BatchSink = Callable[[SampleBatch], None]
FrameSink = Callable[[Frame], None]
EventSink = Callable[[DeviceEvent], None]


class BioSensor(ABC):
    """A bio-signal source with one or more streams."""

    #: human-readable name, e.g. "Simulated ECG+EDA (800 Hz)"
    name: str = "bio-sensor"
    #: True for simulated devices (shown as such on screen and in reports)
    simulated: bool = False

    @property
    @abstractmethod
    def streams(self) -> list[StreamInfo]:
        """The streams this sensor delivers."""

    @abstractmethod
    def start(self, on_batch: BatchSink, on_event: EventSink) -> None:
        """Start acquisition (real time, own thread). Batches go to ``on_batch``."""

    @abstractmethod
    def stop(self) -> None:
        """Stop acquisition and join the thread. Idempotent."""

    def pump(self, until_ns: int) -> None:
        """Virtual-clock mode: deliver everything that has arrived by ``until_ns``."""
        raise TypeError(f"{type(self).__name__} has no virtual-clock mode")

    def describe(self) -> dict[str, object]:
        """What to store with the session about this device (JSON-serialisable)."""
        return {
            "name": self.name,
            "simulated": self.simulated,
            "streams": [s.to_dict() for s in self.streams],
        }


class Camera(ABC):
    """A frame source stamped with host monotonic time at capture."""

    name: str = "camera"
    simulated: bool = False
    fps: float = 60.0
    width: int = 640
    height: int = 480

    @abstractmethod
    def start(self, on_frame: FrameSink, on_event: EventSink) -> None:
        """Start capture (real time, own thread)."""

    @abstractmethod
    def stop(self) -> None:
        """Stop capture and join the thread. Idempotent."""

    def pump(self, until_ns: int) -> None:
        """Virtual-clock mode: deliver every frame captured by ``until_ns``."""
        raise TypeError(f"{type(self).__name__} has no virtual-clock mode")

    def describe(self) -> dict[str, object]:
        return {
            "name": self.name,
            "simulated": self.simulated,
            "fps": self.fps,
            "width": self.width,
            "height": self.height,
        }
