"""A simulated camera filming the synthetic face of :mod:`core.simulation.face`.

Same interface as a real camera: frames stamped at capture on the host clock, dropped frames
leaving gaps in the index, device events on failure.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Any

import numpy as np

from core.clock import Clock, VirtualClock
from core.recording.sources import EventSink, FrameSink
from core.simulation.face import FaceRenderer
from core.simulation.scenario import Scenario
from core.types import DeviceEvent, Frame
from devices.base import CameraBase


class SimulatedCamera(CameraBase):
    """A camera filming a synthetic face that follows ``scenario``.

    Real-time mode (any clock but :class:`~core.clock.VirtualClock`): :meth:`start` runs a thread
    delivering frames at ``fps``, stamped ``clock.now_ns()`` at capture; if it falls more than one
    frame behind it skips indices, as a real camera drops frames. Virtual mode (a VirtualClock):
    :meth:`start` only registers the sinks and :meth:`pump` delivers frames synchronously, frame
    ``i`` captured at ``start_ns + i·1e9/fps``.

    Parameters
    ----------
    scenario : Scenario — valence/arousal course; session time is ``(t − start_ns) / 1e9`` (s)
    clock : Clock — host monotonic clock (ns)
    fps : float — frame rate (Hz)
    width, height : int — frame size (pixels)
    seed : int — face identity and all randomness
    start_ns : int, optional — session start (ns); default ``clock.now_ns()`` at :meth:`start`
        in real-time mode, at construction in virtual mode
    drop_frames : iterable of int, optional — frame indices never delivered (the index still
        advances, so the gap shows as dropped frames)
    """

    name = "Simulated camera (synthetic face)"
    simulated = True

    def __init__(
        self,
        scenario: Scenario,
        clock: Clock,
        fps: float = 60.0,
        width: int = 640,
        height: int = 480,
        seed: int = 0,
        start_ns: int | None = None,
        drop_frames: Iterable[int] | None = None,
    ) -> None:
        if fps <= 0:
            raise ValueError("fps must be positive")
        self.scenario, self.clock = scenario, clock
        self.fps, self.width, self.height, self.seed = float(fps), int(width), int(height), seed
        # a simulated camera gives exactly what is asked: nothing to negotiate, nothing to measure
        self.requested = {"fps": self.fps, "width": self.width, "height": self.height}
        self.negotiated: dict[str, Any] = {}
        self.virtual = isinstance(clock, VirtualClock)
        self._explicit_start = start_ns is not None
        self.start_ns = int(start_ns) if start_ns is not None else clock.now_ns()
        self.drop_frames = frozenset(int(i) for i in (drop_frames or ()))
        self.renderer = FaceRenderer(self.width, self.height, seed)
        self.next_index = 0
        self._on_frame: FrameSink | None = None
        self._on_event: EventSink | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    def capture_time_ns(self, index: int) -> int:
        """Nominal capture time (ns) of frame ``index``."""
        return self.start_ns + round(index * 1e9 / self.fps)

    def truth(self, t_ns: int) -> tuple[float, float]:
        """The scenario's (valence, arousal) at host time ``t_ns`` (ns)."""
        v, a = self.scenario.at((t_ns - self.start_ns) / 1e9)
        return float(v), float(a)

    def render(self, t_ns: int) -> np.ndarray:
        """The frame (BGR uint8) the camera sees at host time ``t_ns`` (ns)."""
        v, a = self.truth(t_ns)
        return self.renderer.render(v, a, (t_ns - self.start_ns) / 1e9)

    def start(self, on_frame: FrameSink, on_event: EventSink) -> None:
        if self._thread is not None:
            raise RuntimeError("camera already started")
        self._on_frame, self._on_event = on_frame, on_event
        if self.virtual:
            return
        # warm-up: the first frame is slow (OpenCV and numpy set up their buffers); drawn by the
        # capture thread it made it skip its first 6–9 slots (measured: benchmarks/gui_redraw.py)
        self.renderer.render(0.0, 0.0, 0.0)
        if not self._explicit_start:
            self.start_ns = self.clock.now_ns()
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="sim-camera", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def pump(self, until_ns: int) -> None:
        if not self.virtual:
            raise TypeError("pump() needs a VirtualClock; this camera runs in real time")
        if self._on_frame is None:
            raise RuntimeError("call start() before pump()")
        while (t := self.capture_time_ns(self.next_index)) <= until_ns:
            i = self.next_index
            self.next_index += 1
            if i not in self.drop_frames:
                self._on_frame(Frame(i, t, self.render(t)))

    def _run(self) -> None:
        assert self._on_frame is not None and self._on_event is not None
        period = 1e9 / self.fps
        while not self._stop.is_set():
            due = self.capture_time_ns(self.next_index)
            now = self.clock.now_ns()
            if now < due:
                self._stop.wait((due - now) / 1e9)
                continue
            if now - due > period:  # too late: skip to the current slot, like a busy camera
                self.next_index = int((now - self.start_ns) // period)
                continue
            i = self.next_index
            self.next_index += 1
            if i in self.drop_frames:
                continue
            try:
                self._on_frame(Frame(i, now, self.render(now)))
            except Exception as exc:  # keep the app alive; the recorder logs the event
                self._on_event(DeviceEvent("error", self.clock.now_ns(), {"message": repr(exc)}))
                return

    def describe(self) -> dict[str, object]:
        d = super().describe()
        d.update(
            seed=self.seed, scenario=self.scenario.name, dropped_by_design=len(self.drop_frames)
        )
        return d
