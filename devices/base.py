"""Thin base classes for devices: the defaults of the device seam's optional parts.

The interfaces themselves, :class:`~core.recording.sources.BioSensor` and
:class:`~core.recording.sources.Camera`, are defined once, in ``core``; these classes declare that
they implement them (so mypy checks every subclass against them) and answer for what a device may
lack: no virtual-clock mode, no separate test signal, no radio link, no battery, nothing to open.
"""

from __future__ import annotations

from typing import Any

from core.recording.sources import BatchSink, BioSensor, Camera


class BioSensorBase(BioSensor):
    """A bio-sensor; subclasses give :attr:`streams`, :meth:`start` and :meth:`stop`."""

    name: str = "bio-sensor"
    simulated: bool = False

    @property
    def link_state(self) -> str | None:
        """No link of its own to watch."""
        return None

    @property
    def battery_percent(self) -> int | None:
        return None

    @property
    def reconnects(self) -> int:
        return 0

    def stats(self) -> dict[str, int]:
        return {}

    def preview(self, on_batch: BatchSink | None) -> None:
        raise TypeError(f"{type(self).__name__} has no separate test signal; start it instead")

    def pump(self, until_ns: int) -> None:
        raise TypeError(f"{type(self).__name__} has no virtual-clock mode")

    def describe(self) -> dict[str, object]:
        return {
            "name": self.name,
            "simulated": self.simulated,
            "streams": [s.to_dict() for s in self.streams],
        }


class CameraBase(Camera):
    """A camera; subclasses give :meth:`start`, :meth:`stop` and set :attr:`requested` and
    :attr:`negotiated`."""

    name: str = "camera"
    simulated: bool = False
    fps: float = 60.0
    width: int = 640
    height: int = 480
    measured_fps: float | None = None

    def open(self) -> dict[str, Any]:
        """Nothing to open."""
        return dict(self.negotiated)

    def pump(self, until_ns: int) -> None:
        raise TypeError(f"{type(self).__name__} has no virtual-clock mode")

    def describe(self) -> dict[str, object]:
        return {
            "name": self.name,
            "simulated": self.simulated,
            "fps": self.fps,
            "width": self.width,
            "height": self.height,
        }


__all__ = ["BioSensorBase", "CameraBase"]
