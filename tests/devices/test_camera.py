"""The OpenCV camera driver, fed a real video file through OpenCV (no camera hardware here)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pytest

from core.catalog import Catalog
from core.config import Settings
from core.simulation.face import render_face
from core.types import DeviceEvent, Frame
from devices.camera import OpenCVCamera


def write_video(path: Path, frames: int, fps: float = 20.0, size=(320, 240)) -> Path:
    import cv2

    out = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, size)
    assert out.isOpened()
    for i in range(frames):
        out.write(render_face(0.0, 0.0, i / fps, width=size[0], height=size[1]))
    out.release()
    return path


def test_negotiation_reports_what_the_source_gives(tmp_path: Path) -> None:
    cam = OpenCVCamera(str(write_video(tmp_path / "v.avi", 10)), fps=60, width=640, height=480)
    got = cam.open()
    assert got == {"width": 320, "height": 240, "fps_reported": 20.0}
    d = cam.describe()
    assert d["requested"] == {"fps": 60.0, "width": 640, "height": 480}
    cam.stop()


def test_frames_are_stamped_at_capture_and_the_end_is_a_lost_camera(tmp_path: Path) -> None:
    cam = OpenCVCamera(str(write_video(tmp_path / "v.avi", 30)), measure_frames=10)
    frames: list[Frame] = []
    events: list[DeviceEvent] = []
    lost = threading.Event()

    def on_event(e: DeviceEvent) -> None:
        events.append(e)
        if e.kind == "camera_lost":
            lost.set()

    cam.start(frames.append, on_event)
    assert lost.wait(10.0)
    cam.stop()
    assert [f.index for f in frames] == list(range(30))
    assert frames[0].image.shape == (240, 320, 3)
    gaps = np.diff([f.t_host_ns for f in frames]) / 1e6
    assert abs(float(np.median(gaps)) - 50.0) < 10.0  # paced at the file's 20 fps
    assert cam.measured_fps == pytest.approx(20.0, rel=0.2)
    assert [e.kind for e in events] == ["camera_format", "camera_lost"]
    assert events[1].detail["frames"] == 30


def test_unopenable_camera_says_so(tmp_path: Path) -> None:
    with pytest.raises(OSError, match="cannot open the camera"):
        OpenCVCamera(str(tmp_path / "missing.avi")).open()


def test_a_camera_lost_mid_session_stops_only_the_video(tmp_path: Path) -> None:
    """The camera goes after 1 s; the sensor records on; a note marks the moment."""
    from core.clock import MonotonicClock
    from core.recording.reader import open_session
    from core.recording.session import RecordingSession
    from core.simulation.scenario import preset
    from devices.simulated.sensor import SimulatedSensor

    clock = MonotonicClock()
    sensor = SimulatedSensor(preset("neutral", 60.0), clock=clock, seed=1)
    cam = OpenCVCamera(str(write_video(tmp_path / "v.avi", 20)), clock=clock)
    with Catalog.open(tmp_path / "c.sqlite") as cat:
        p = cat.add_patient("CAM")
        session = RecordingSession.start(
            cat, tmp_path, p.id, sensor, cam, consent=True, settings=Settings(), clock=clock
        )
        time.sleep(3.0)
        rec = session.stop()
        notes = [m for m in cat.list_markers(rec.id) if m.kind == "note"]
    assert len(notes) == 1 and "camera lost" in notes[0].label
    assert 0.8 < notes[0].t_s < 2.0
    data = open_session(tmp_path / rec.folder)
    assert len(data.frame_times_s()) == 20
    ecg = data.signal("ECG")
    assert ecg.t_s[-1] > 2.5  # the signals went on after the camera was gone
    journal = (tmp_path / rec.folder / "journal.jsonl").read_text()
    assert "camera_lost" in journal


class PacedCapture:
    """A live camera as OpenCV's VideoCapture presents it: grab() blocks until the next frame.

    Delivers at ``fps``; frame numbers in ``skip`` are never delivered (the grab waits for the
    next one, as when a USB camera drops a frame); from ``unplug_at`` on, grab() fails;
    ``bad`` frame numbers decode to nothing (corrupt MJPG).
    """

    def __init__(self, fps: float, skip=(), unplug_at=None, bad=()) -> None:  # type: ignore[no-untyped-def]
        self.period = 1.0 / fps
        self.skip, self.bad, self.unplug_at = set(skip), set(bad), unplug_at
        self.n = 0
        self.t0 = time.monotonic()
        self.released = 0

    def grab(self) -> bool:
        while True:
            due = self.t0 + self.n * self.period
            time.sleep(max(0.0, due - time.monotonic()))
            n, self.n = self.n, self.n + 1
            if self.unplug_at is not None and n >= self.unplug_at:
                return False
            if n not in self.skip:
                self.current = n
                return True

    def retrieve(self):  # type: ignore[no-untyped-def]
        if self.current in self.bad:
            return False, None
        return True, np.full((24, 32, 3), self.current % 256, np.uint8)

    def release(self) -> None:
        self.released += 1


def _run_fake(cap: PacedCapture, fps: float, seconds: float, **kw):  # type: ignore[no-untyped-def]
    cam = OpenCVCamera(0, fps=fps, measure_frames=20, **kw)
    cam._cap = cap  # what open() would have negotiated
    frames: list[Frame] = []
    events: list[DeviceEvent] = []
    cam.start(frames.append, events.append)
    time.sleep(seconds)
    cam.stop()
    return cam, frames, events


def test_a_camera_slower_than_asked_is_measured_and_drops_nothing() -> None:
    cam, frames, events = _run_fake(PacedCapture(30.0), 60.0, 1.5)
    assert cam.measured_fps == pytest.approx(30.0, rel=0.08)
    fmt = [e for e in events if e.kind == "camera_format"]
    assert len(fmt) == 1 and fmt[0].detail["measured_fps"] == round(cam.measured_fps, 2)
    assert cam.fps == cam.measured_fps and cam.frames_dropped == 0
    idx = [f.index for f in frames]
    assert idx == list(range(len(frames)))  # no invented gaps


def test_frames_a_live_camera_fails_to_deliver_are_counted_at_their_place() -> None:
    skip = {30, 31, 32, 45}  # after the 20 frames that measure the rate
    cap = PacedCapture(25.0, skip=skip)
    cam, frames, _ = _run_fake(cap, 25.0, 2.4)
    assert cam.frames_dropped == 4
    by_index = {f.index: int(f.image[0, 0, 0]) for f in frames}
    assert all(by_index[i] == i for i in by_index)  # each frame keeps its camera slot
    assert not skip & set(by_index)
    assert cap.released == 1


def test_undecodable_frames_and_an_unplugged_camera_end_in_camera_lost() -> None:
    cap = PacedCapture(50.0, bad=set(range(10, 10_000)))
    cam, frames, events = _run_fake(cap, 50.0, 1.2, lost_after_s=0.5)
    assert len(frames) == 10 and [e.kind for e in events] == ["camera_lost"]  # before measuring
    cap2 = PacedCapture(50.0, unplug_at=15)
    cam2, frames2, events2 = _run_fake(cap2, 50.0, 1.2, lost_after_s=0.5)
    assert len(frames2) == 15 and [e.kind for e in events2][-1] == "camera_lost"
