"""The simulated camera: timing in both modes, dropped frames, expression truth, determinism."""

from __future__ import annotations

import time

import numpy as np
import pytest

from core.clock import MonotonicClock, VirtualClock
from core.simulation.face import render_face
from core.simulation.scenario import Scenario, preset
from core.types import DeviceEvent, Frame
from devices.simulated.camera import SimulatedCamera

T0 = 5_000_000_000

# regions of a 640×480 frame (face centre at x 320, y 230); generous for head motion
MOUTH = (slice(270, 330), slice(270, 370))
EYES = (slice(190, 235), slice(255, 385))


def _virtual(
    fps: float = 60.0,
    width: int = 640,
    height: int = 480,
    seed: int = 0,
    drop_frames: set[int] | None = None,
) -> tuple[SimulatedCamera, list[Frame]]:
    clock = VirtualClock(T0)
    sc = preset("anxious_to_calm", 60.0)
    cam = SimulatedCamera(sc, clock, fps, width, height, seed, drop_frames=drop_frames)
    frames: list[Frame] = []
    cam.start(frames.append, lambda e: None)
    return cam, frames


def test_virtual_mode_count_and_times() -> None:
    cam, frames = _virtual()
    cam.pump(T0 + 1_000_000_000)
    assert [f.index for f in frames] == list(range(61))  # t = 0 … 1 s inclusive
    t = np.array([f.t_host_ns for f in frames])
    assert t[0] == T0
    np.testing.assert_allclose(np.diff(t), 1e9 / 60, atol=1)
    assert frames[0].image.shape == (480, 640, 3) and frames[0].image.dtype == np.uint8
    cam.pump(T0 + 1_000_000_000)  # nothing new
    assert len(frames) == 61


def test_virtual_mode_pumping_in_steps_equals_one_pump() -> None:
    cam_a, fa = _virtual(fps=30.0, width=160, height=120)
    cam_b, fb = _virtual(fps=30.0, width=160, height=120)
    cam_a.pump(T0 + 500_000_000)
    for k in range(1, 11):
        cam_b.pump(T0 + k * 50_000_000 + 7)
    assert [f.index for f in fa] == [f.index for f in fb]
    assert [f.t_host_ns for f in fa] == [f.t_host_ns for f in fb]
    assert all(np.array_equal(x.image, y.image) for x, y in zip(fa, fb, strict=True))


def test_dropped_indices_are_skipped_but_counted() -> None:
    cam, frames = _virtual(width=160, height=120, drop_frames={0, 3, 4, 10})
    cam.pump(T0 + 200_000_000)  # frames 0..12
    idx = [f.index for f in frames]
    assert idx == [i for i in range(13) if i not in {0, 3, 4, 10}]
    for f in frames:
        assert f.t_host_ns == cam.capture_time_ns(f.index)
    assert cam.next_index == 13


def test_pump_needs_virtual_clock_and_start() -> None:
    sc = preset("neutral", 10.0)
    with pytest.raises(TypeError):
        SimulatedCamera(sc, MonotonicClock(), width=160, height=120).pump(0)
    with pytest.raises(RuntimeError):
        SimulatedCamera(sc, VirtualClock(), width=160, height=120).pump(T0)


def _sclera_pixels(img: np.ndarray) -> int:
    return int(np.all(img[EYES] > 200, axis=-1).sum())


def test_expression_follows_valence_and_arousal() -> None:
    sad = render_face(-0.8, 0.0, 2.0, blink=False).astype(int)
    happy = render_face(0.8, 0.0, 2.0, blink=False).astype(int)
    # same time and arousal → same pose and noise; only the expression differs
    mouth_diff = np.abs(sad[MOUTH] - happy[MOUTH]).mean()
    rest = (slice(0, 150), slice(None))
    assert mouth_diff > 6.0
    assert np.abs(sad[rest] - happy[rest]).mean() < 0.5
    calm = render_face(0.0, -0.9, 2.0, blink=False)
    tense = render_face(0.0, 0.9, 2.0, blink=False)
    assert _sclera_pixels(tense) > 2.0 * _sclera_pixels(calm)  # wider eyes


def test_camera_truth_matches_scenario() -> None:
    sc = Scenario("ramp", 10.0, ((0.0, -1.0, 0.5), (1.0, 1.0, 0.5)))
    cam = SimulatedCamera(sc, VirtualClock(T0), width=160, height=120)
    v, a = cam.truth(T0 + 5_000_000_000)
    assert v == pytest.approx(0.0, abs=1e-9) and a == pytest.approx(0.5)
    assert cam.describe()["simulated"] is True and cam.name.startswith("Simulated camera")


def test_deterministic_from_seed() -> None:
    a = render_face(0.3, 0.4, 12.345, seed=7)
    b = render_face(0.3, 0.4, 12.345, seed=7)
    c = render_face(0.3, 0.4, 12.345, seed=8)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)
    cam1, f1 = _virtual(width=160, height=120, seed=3)
    cam2, f2 = _virtual(width=160, height=120, seed=3)
    cam1.pump(T0 + 100_000_000)
    cam2.pump(T0 + 100_000_000)
    assert all(np.array_equal(x.image, y.image) for x, y in zip(f1, f2, strict=True))
    assert not np.array_equal(f1[0].image, f1[1].image)  # motion, flicker and noise move on


def test_haar_cascade_finds_the_face() -> None:
    import cv2

    cascade = cv2.CascadeClassifier(cv2.data.haarcascades + "haarcascade_frontalface_default.xml")
    rng = np.random.default_rng(0)
    hits = 0
    for k in range(8):
        v, a = rng.uniform(-1, 1, 2)
        gray = cv2.cvtColor(render_face(v, a, k * 1.7, seed=k), cv2.COLOR_BGR2GRAY)
        hits += len(cascade.detectMultiScale(gray, 1.1, 5, minSize=(80, 80))) > 0
    assert hits >= 7


def test_real_time_mode_delivers_at_fps() -> None:
    cam = SimulatedCamera(preset("neutral", 10.0), MonotonicClock(), fps=60.0)
    frames: list[Frame] = []
    events: list[DeviceEvent] = []
    cam.start(frames.append, events.append)
    time.sleep(1.0)
    cam.stop()
    cam.stop()  # idempotent
    n = len(frames)
    assert 50 <= n <= 66, n
    assert not events
    idx = np.array([f.index for f in frames])
    t = np.array([f.t_host_ns for f in frames])
    assert idx[0] == 0 and np.all(np.diff(idx) > 0)
    assert np.all(np.diff(t) > 0)
    assert np.median(np.diff(t)) == pytest.approx(1e9 / 60, rel=0.1)
    count = len(frames)
    time.sleep(0.05)
    assert len(frames) == count  # really stopped


def test_real_time_sink_error_becomes_event() -> None:
    cam = SimulatedCamera(preset("neutral", 10.0), MonotonicClock(), width=160, height=120)
    events: list[DeviceEvent] = []

    def bad_sink(frame: Frame) -> None:
        raise RuntimeError("sink broke")

    cam.start(bad_sink, events.append)
    deadline = time.monotonic() + 2.0
    while not events and time.monotonic() < deadline:
        time.sleep(0.01)
    cam.stop()
    assert events and events[0].kind == "error" and "sink broke" in str(events[0].detail)
