"""Plain data objects that flow from devices to the recorder and the views.

Every sample is stamped by the *device's own sample counter*; mapping counters to the host's
monotonic clock is the job of :class:`core.clock.CounterClock`, never of the arrival time.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class StreamInfo:
    """Description of one bio-signal stream.

    Parameters
    ----------
    stream_id : int — the id carried in every packet of this stream (0–255)
    name : str — short name used for files, e.g. ``"bio"``
    channels : tuple of str — channel names, e.g. ``("ECG", "EDA")``
    units : tuple of str — one unit per channel, e.g. ``("mV", "uS")``
    rate_hz : float — nominal sampling rate (Hz)
    """

    stream_id: int
    name: str
    channels: tuple[str, ...]
    units: tuple[str, ...]
    rate_hz: float

    def __post_init__(self) -> None:
        if len(self.channels) != len(self.units):
            raise ValueError("StreamInfo: one unit per channel is required")
        if self.rate_hz <= 0:
            raise ValueError("StreamInfo: rate must be positive")

    def to_dict(self) -> dict[str, object]:
        return {
            "stream_id": self.stream_id,
            "name": self.name,
            "channels": list(self.channels),
            "units": list(self.units),
            "rate": self.rate_hz,
        }

    @classmethod
    def from_dict(cls, d: dict[str, object]) -> StreamInfo:
        return cls(
            stream_id=int(d["stream_id"]),  # type: ignore[call-overload]
            name=str(d["name"]),
            channels=tuple(d["channels"]),  # type: ignore[arg-type]
            units=tuple(d["units"]),  # type: ignore[arg-type]
            rate_hz=float(d["rate"]),  # type: ignore[arg-type]
        )


@dataclass(frozen=True)
class SampleBatch:
    """A run of consecutive samples of one stream, as decoded from one packet.

    Parameters
    ----------
    stream_id : int — which stream (see :class:`StreamInfo`)
    first_counter : int — the device's sample counter of the first sample (unwrapped, ≥ 0)
    samples : ndarray, shape (n, channels), float32 — values in the stream's units
    arrival_ns : int — host monotonic time (ns) when the packet arrived; used only to fit the
        counter→host clock, never as a sample's time stamp
    """

    stream_id: int
    first_counter: int
    samples: np.ndarray
    arrival_ns: int

    @property
    def n(self) -> int:
        return int(self.samples.shape[0])

    @property
    def end_counter(self) -> int:
        """Counter one past the last sample."""
        return self.first_counter + self.n


@dataclass(frozen=True)
class Frame:
    """One camera frame.

    Parameters
    ----------
    index : int — the camera's frame number since it started (gaps mean dropped frames)
    t_host_ns : int — host monotonic time (ns) taken at capture
    image : ndarray, shape (h, w, 3), uint8, BGR
    """

    index: int
    t_host_ns: int
    image: np.ndarray


@dataclass
class DeviceEvent:
    """Something a device reports that the recorder must log (link lost, reconnected, …).

    Parameters
    ----------
    kind : str — ``"disconnected"``, ``"reconnected"``, ``"camera_lost"``, ``"error"``, …
    t_host_ns : int — host monotonic time (ns)
    detail : dict — free, JSON-serialisable detail (never patient data)
    """

    kind: str
    t_host_ns: int
    detail: dict[str, object] = field(default_factory=dict)
