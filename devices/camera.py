"""A real camera through OpenCV: device choice, format negotiation, capture timestamps, losses.

* **Negotiation**: the camera is asked for the session's size and frame rate (60 fps) in MJPG
  (most USB webcams reach 60 fps only in MJPG); what it really gives is read back and then
  measured over the first frames — a driver that claims 60 fps and delivers 30 is reported as 30.
* **Timestamps**: each frame is stamped with the host monotonic clock the moment ``grab()``
  returns, before it is decoded, in the capture thread; never at storage.
* **Dropped frames**: when the gap between two grabs spans more than 1.5 frame periods of the
  measured rate, the frames the camera could not deliver are counted by advancing the frame
  index, so the recorder sees them as gaps.
* **Never blocking capture**: frames go to the recorder's queue; JPEG encoding and disk writing
  happen in the recorder's writer thread, so a slow disk cannot stall the camera.
* **Unplugged**: after ``lost_after_s`` without a frame the camera emits ``camera_lost`` and stops;
  the bio recording goes on (the session marks the moment).

``source`` may be a device index, a device path, or a video file (used by the tests, and to replay
a recording as if it were a camera, paced at its own frame rate).
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from core.clock import Clock, MonotonicClock
from core.recording.sources import EventSink, FrameSink
from core.types import DeviceEvent, Frame
from devices.base import CameraBase

log = logging.getLogger(__name__)
#: FourCC "MJPG" (what cv2.VideoWriter_fourcc(*"MJPG") gives): little-endian character codes
_MJPG = int.from_bytes(b"MJPG", "little")


def list_cameras(max_index: int = 6) -> list[dict[str, Any]]:
    """Cameras OpenCV can open: ``[{"index", "width", "height", "fps"}]`` (index 0 first)."""
    import cv2

    indices: list[int] = list(range(max_index))
    if sys.platform.startswith("linux"):  # V4L2 devices are /dev/videoN: probe only those
        indices = sorted(
            int(p.name[5:]) for p in Path("/dev").glob("video*") if p.name[5:].isdigit()
        )
    found = []
    for i in indices:
        cap = cv2.VideoCapture(i)
        try:
            if cap.isOpened():
                found.append(
                    {
                        "index": i,
                        "width": int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)),
                        "height": int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)),
                        "fps": float(cap.get(cv2.CAP_PROP_FPS) or 0.0),
                    }
                )
        finally:
            cap.release()
    return found


class OpenCVCamera(CameraBase):
    """A camera (or a video file) read by OpenCV in its own capture thread.

    Parameters
    ----------
    source : int or str — device index, device path or video file
    fps : float — frame rate asked for (frames/s)
    width, height : int — frame size asked for (pixels)
    clock : Clock — host clock for capture stamps (monotonic)
    lost_after_s : float — no frame for this long (s) means the camera is gone
    measure_frames : int — frames over which the delivered rate is measured
    """

    simulated = False

    def __init__(
        self,
        source: int | str = 0,
        fps: float = 60.0,
        width: int = 640,
        height: int = 480,
        clock: Clock | None = None,
        lost_after_s: float = 2.0,
        measure_frames: int = 30,
    ) -> None:
        if fps <= 0 or width <= 0 or height <= 0:
            raise ValueError("fps, width and height must be positive")
        self.source = source
        self.requested: dict[str, float] = {
            "fps": float(fps),
            "width": int(width),
            "height": int(height),
        }
        self.fps, self.width, self.height = float(fps), int(width), int(height)
        self.clock = clock or MonotonicClock()
        self.lost_after_s = float(lost_after_s)
        self.measure_frames = int(measure_frames)
        self.is_file = isinstance(source, str) and not source.startswith("/dev/")
        self.name = f"Camera {source}" if not self.is_file else f"Video file {source}"
        self.negotiated: dict[str, Any] = {}
        self.measured_fps: float | None = None
        self.frames_delivered = 0
        self.frames_dropped = 0
        self._cap: Any = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    # --- opening ------------------------------------------------------------------------------
    def open(self) -> dict[str, Any]:
        """Open the source and negotiate the format; returns what the camera says it gives.

        Raises
        ------
        OSError — the camera or file cannot be opened
        """
        import cv2

        cap = cv2.VideoCapture(self.source)
        if not cap.isOpened():
            raise OSError(f"cannot open the camera {self.source!r} (unplugged, or in use?)")
        if not self.is_file:
            cap.set(cv2.CAP_PROP_FOURCC, _MJPG)
            cap.set(cv2.CAP_PROP_FRAME_WIDTH, self.requested["width"])
            cap.set(cv2.CAP_PROP_FRAME_HEIGHT, self.requested["height"])
            cap.set(cv2.CAP_PROP_FPS, self.requested["fps"])
            cap.set(cv2.CAP_PROP_BUFFERSIZE, 1)  # newest frame, not a stale queue
        w = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)) or int(self.requested["width"])
        h = int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)) or int(self.requested["height"])
        f = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
        self.width, self.height = w, h
        if f > 0:
            self.fps = f
        self.negotiated = {"width": w, "height": h, "fps_reported": f}
        self._cap = cap
        return dict(self.negotiated)

    def describe(self) -> dict[str, object]:
        d = super().describe()
        d.update(
            source=str(self.source),
            requested=dict(self.requested),
            negotiated=dict(self.negotiated),
            measured_fps=self.measured_fps,
            frames_delivered=self.frames_delivered,
            frames_dropped=self.frames_dropped,
        )
        return d

    # --- capture ------------------------------------------------------------------------------
    def start(self, on_frame: FrameSink, on_event: EventSink) -> None:
        if self._thread is not None:
            raise RuntimeError("camera already started")
        if self._cap is None:
            self.open()
        self._stop.clear()
        self._thread = threading.Thread(
            target=self._run, args=(on_frame, on_event), name="camera-capture", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(timeout=5.0)
            if thread.is_alive():
                # still inside grab() (an unplugged camera can block there for seconds): the
                # capture thread releases the device itself on its way out, never concurrently
                log.warning(
                    "camera %s: capture thread still blocked; it releases on exit", self.source
                )
                self._cap = None
                return
        if self._cap is not None:
            self._cap.release()
            self._cap = None

    def _run(self, on_frame: FrameSink, on_event: EventSink) -> None:
        cap = self._cap
        try:
            self._capture(cap, on_frame, on_event)
        finally:
            if self._stop.is_set() and self._cap is None:
                cap.release()  # stop() gave up waiting for this thread

    def _capture(self, cap: Any, on_frame: FrameSink, on_event: EventSink) -> None:
        period_ns = 1e9 / self.fps
        index = 0
        delivered = 0  # frames delivered so far (the measured rate counts these, not indices)
        last_ns: int | None = None
        first_ns: int | None = None
        last_ok = time.monotonic()
        pace_start = time.monotonic()
        while not self._stop.is_set():
            if self.is_file:  # replay a file at its own rate, as a camera would deliver it
                due = pace_start + index / self.fps
                wait = due - time.monotonic()
                if wait > 0 and self._stop.wait(wait):
                    break
            ok = cap.grab()
            t_ns = self.clock.now_ns()
            if ok:
                ok, image = cap.retrieve()
                ok = ok and image is not None
            if not ok:  # no frame, or one that cannot be decoded (corrupt MJPG)
                if self.is_file or time.monotonic() - last_ok > self.lost_after_s:
                    self._lost(on_event, t_ns, index)
                    return
                self._stop.wait(0.01)
                continue
            last_ok = time.monotonic()
            # frames the camera failed to deliver are counted only once its real rate is known:
            # a camera that gives 30 fps when asked for 60 drops nothing
            if last_ns is not None and self.measured_fps is not None and not self.is_file:
                missed = int(round((t_ns - last_ns) / period_ns)) - 1
                if missed > 0 and (t_ns - last_ns) > 1.5 * period_ns:
                    index += missed
                    self.frames_dropped += missed
            first_ns = t_ns if first_ns is None else first_ns
            if self.measured_fps is None and delivered + 1 >= self.measure_frames:
                self.measured_fps = delivered / max((t_ns - first_ns) / 1e9, 1e-9)
                if not self.is_file and abs(self.measured_fps - self.fps) > 0.1 * self.fps:
                    log.info("camera gives %.1f fps, not %.1f", self.measured_fps, self.fps)
                    self.fps = self.measured_fps
                    period_ns = 1e9 / self.fps
                on_event(  # the session's data-quality figures: what was asked, what came
                    DeviceEvent(
                        "camera_format",
                        t_ns,
                        {
                            "requested": dict(self.requested),
                            "negotiated": dict(self.negotiated),
                            "measured_fps": round(self.measured_fps, 2),
                        },
                    )
                )
            last_ns = t_ns
            try:
                on_frame(Frame(index, t_ns, np.ascontiguousarray(image)))
            except Exception as exc:  # keep the app alive; the recorder logs the event
                on_event(DeviceEvent("error", self.clock.now_ns(), {"message": repr(exc)}))
                return
            self.frames_delivered += 1
            delivered += 1
            index += 1

    def _lost(self, on_event: EventSink, t_ns: int, index: int) -> None:
        detail = {"source": str(self.source), "frames": index}
        log.warning("camera %s lost after %d frames", self.source, index)
        on_event(DeviceEvent("camera_lost", t_ns, detail))
