"""The offline tracker, streamed: the same boxes as the whole-list reference, memory bounded by
max_hold_s, and the tracker mode and settings a checkpoint records."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import numpy as np
import pytest

from core.faces.detect import FaceBox, FaceDetector
from core.faces.track import (
    _GRID_EPS,
    DEFAULT_TRACKER,
    FACE_STAGE_KEY,
    FaceTracker,
    _lerp,
    face_stage,
    tracker_for,
    tracker_settings,
    trained_tracker,
)


class _Scripted(FaceDetector):
    """Reads the face's x position from the image's first pixel (0 = no face)."""

    name = "scripted"

    def detect(self, image_bgr: np.ndarray) -> list[FaceBox]:
        x = float(image_bgr[0, 0, 0])
        return [FaceBox(x, 10.0, 20.0, 20.0, landmarks=((x, 5.0), (x + 9, 5.0)))] if x else []

    def describe(self) -> dict[str, object]:
        return {"detector": self.name}


def _reference(
    t: np.ndarray, tried: list[int], hits: dict[int, FaceBox], max_hold_s: float
) -> list[FaceBox | None]:
    """The whole-list fill that FaceTracker.track_boxes used before it streamed (kept verbatim
    as the specification the streaming tracker must reproduce)."""
    n, hold = len(t), max_hold_s + _GRID_EPS
    missed = set(tried) - set(hits)

    def nearest(order: range) -> tuple[np.ndarray, np.ndarray]:
        near, free_near, k, free = np.full(n, -1), np.full(n, -1), -1, False
        for i in order:
            if i in hits:
                k, free = i, True
            elif i in missed:
                free = False
            near[i], free_near[i] = k, k if free else -1
        return near, free_near

    (prev_hit, prev_free), (next_hit, next_free) = (
        nearest(range(n)),
        nearest(range(n - 1, -1, -1)),
    )
    out: list[FaceBox | None] = [None] * n
    for i in range(n):
        a, b = int(prev_hit[i]), int(next_hit[i])
        if i in hits:
            out[i] = hits[i]
        elif a >= 0 and b >= 0 and t[b] - t[a] <= hold:
            u = (t[i] - t[a]) / (t[b] - t[a]) if t[b] > t[a] else 0.0
            out[i] = _lerp(hits[a], hits[b], float(u))
        elif (a := int(prev_free[i])) >= 0 and t[i] - t[a] <= hold:
            out[i] = replace(hits[a], detected=False, landmarks=None)
        elif (b := int(next_free[i])) >= 0 and t[b] - t[i] <= hold:
            out[i] = replace(hits[b], detected=False, landmarks=None)
    return out


def _frames(xs: list[int], times: np.ndarray) -> list[tuple[float, np.ndarray]]:
    return [(float(t), np.full((2, 2, 3), x, np.uint8)) for t, x in zip(times, xs, strict=True)]


def test_the_stream_gives_the_reference_boxes_on_random_recordings() -> None:
    rng = np.random.default_rng(7)
    for _ in range(150):
        n = int(rng.integers(1, 90))
        fps = float(rng.choice([5.0, 10.0, 24.0, 60.0]))
        every, hold = float(rng.choice([0.1, 0.25, 0.5])), float(rng.choice([0.0, 0.3, 1.0]))
        # variable frame rate with repeated times now and then
        times = np.cumsum(rng.choice([0.0, 1.0, 1.0, 1.0, 2.5], n) / fps) + rng.uniform(0, 100)
        present = rng.random(n) < rng.uniform(0.2, 1.0)
        xs = [int(rng.integers(1, 250)) if p else 0 for p in present]
        tracker = FaceTracker(_Scripted(), detect_every_s=every, max_hold_s=hold)
        got = tracker.track_boxes(_frames(xs, times))
        # which frames the tracker examined: the first of each grid slot from the first frame
        slots = np.floor((times - times[0]) / every + _GRID_EPS).astype(int)
        tried = [i for i in range(n) if i == 0 or slots[i] > slots[:i].max()]
        hits = {i: _Scripted().detect(_frames(xs, times)[i][1])[0] for i in tried if xs[i]}
        assert tracker.n_detections == len(tried)
        assert got == _reference(times, tried, hits, hold)


def test_the_look_ahead_holds_at_most_max_hold_s_of_frames() -> None:
    fps, hold = 60.0, 0.5
    read = 0

    def frames() -> Iterator[tuple[float, np.ndarray]]:
        nonlocal read
        for i in range(600):
            read += 1
            yield i / fps, np.full((2, 2, 3), 40 if i % 97 else 0, np.uint8)

    tracker = FaceTracker(_Scripted(), detect_every_s=0.25, max_hold_s=hold)
    most = 0
    for k, (t, _, _) in enumerate(tracker.track_stream(frames())):
        assert t == pytest.approx(k / fps)
        most = max(most, read - k)
    assert most <= hold * fps + 2  # frames read but not yet given back


def test_unreadable_frames_pass_through_unseen() -> None:
    times = np.arange(20) / 10.0
    xs = [30] * 20
    frames: list[tuple[float, np.ndarray | None]] = list(_frames(xs, times))
    holes = [(t, img if i % 4 else None) for i, (t, img) in enumerate(frames)]
    out = list(FaceTracker(_Scripted(), detect_every_s=0.25).track_stream(holes))
    assert [img is None for _, img, _ in out] == [i % 4 == 0 for i in range(20)]
    assert all(box is None for _, img, box in out if img is None)
    readable = [(t, img) for t, img in holes if img is not None]
    alone = FaceTracker(_Scripted(), detect_every_s=0.25).track_boxes(readable)
    assert [box for _, img, box in out if img is not None] == alone


def test_a_checkpoint_records_the_tracker_and_the_analysis_builds_it_again() -> None:
    tracker = FaceTracker(_Scripted(), detect_every_s=0.5, max_hold_s=0.75)
    stage = face_stage("haar", 64, tracker)
    assert stage["tracker"] == {"mode": "offline", "detect_every_s": 0.5, "max_hold_s": 0.75}
    again = tracker_for({FACE_STAGE_KEY: stage}, _Scripted())
    assert (again.detect_every_s, again.max_hold_s) == (0.5, 0.75)
    # the default stage is the default tracker, as training on sessions and on AMIGOS makes it
    assert face_stage("haar", 64)["tracker"] == DEFAULT_TRACKER
    assert tracker_settings(FaceTracker(_Scripted())) == DEFAULT_TRACKER
    # a checkpoint from before the tracker was recorded: offline, 0.25 s, 1 s
    assert trained_tracker({}) == trained_tracker({FACE_STAGE_KEY: {"detector": "haar"}})
    assert trained_tracker({}) == {"mode": "offline", "detect_every_s": 0.25, "max_hold_s": 1.0}
    with pytest.raises(ValueError, match="tracker mode 'online'"):
        trained_tracker({FACE_STAGE_KEY: {"tracker": {"mode": "online"}}})
    with pytest.raises(ValueError, match="detect_every_s"):
        trained_tracker({FACE_STAGE_KEY: {"tracker": {"detect_every_s": -1}}})
