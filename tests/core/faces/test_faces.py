"""Face detection, tracking, crops and model input (core.faces.detect, core.faces.track)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from core.faces.detect import (
    FaceBox,
    FaceDetector,
    HaarFaceDetector,
    OnnxFaceDetector,
    make_detector,
)
from core.faces.track import CropPolicy, FaceTracker, crop_face, estimate_eye_roll
from core.simulation.face import FaceRenderer, render_face

FPS = 60.0


def true_face(width: int, height: int, arousal: float, t_s: float) -> tuple[float, float, float]:
    """Where the renderer puts the face: centre x, y and face width (pixels).

    The sprite's face centre lands at (width/2, 230·s) plus the head pose offset, with the face
    ellipse 2·86·s wide (s = height/480); see core/simulation/face.py.
    """
    s = height / 480.0
    dx, dy, _ = FaceRenderer(width, height, 0).pose(arousal, t_s)
    return width / 2 + dx, 230.0 * s + dy, 172.0 * s


@pytest.fixture(scope="module")
def haar() -> HaarFaceDetector:
    return HaarFaceDetector()


@pytest.fixture(scope="module")
def clip() -> list[tuple[float, np.ndarray]]:
    """4 s of a fidgeting face at 60 fps, 320×240 (small, so the tests stay fast)."""
    return [
        (i / FPS, render_face(0.3, 0.9, i / FPS, width=320, height=240))
        for i in range(int(4 * FPS))
    ]


def _blanked(clip: list[tuple[float, np.ndarray]], t0: float, t1: float) -> list:
    blank = np.full_like(clip[0][1], 150)
    return [(t, blank if t0 <= t < t1 else img) for t, img in clip]


# --- detection -------------------------------------------------------------------------------------


@pytest.mark.parametrize("size", [(640, 480), (320, 240)])
@pytest.mark.parametrize("va", [(-1.0, -1.0), (0.0, 0.0), (1.0, 1.0), (1.0, -1.0), (-0.6, 0.8)])
def test_haar_finds_the_synthetic_face(
    haar: HaarFaceDetector, size: tuple[int, int], va: tuple[float, float]
) -> None:
    (w, h), (v, a), t = size, va, 1.7
    boxes = haar.detect(render_face(v, a, t, width=w, height=h))
    assert len(boxes) >= 1
    box = boxes[0]
    cx, cy, face_w = true_face(w, h, a, t)
    assert abs(box.cx - cx) < 0.12 * face_w and abs(box.cy - cy) < 0.15 * face_w
    assert 0.9 * face_w < box.w < 1.6 * face_w and box.w == pytest.approx(box.h)
    assert box.detected and box.score > 0


def test_no_face_in_blank_or_noise(haar: HaarFaceDetector) -> None:
    rng = np.random.default_rng(1)
    assert haar.detect(np.full((480, 640, 3), 128, np.uint8)) == []
    assert haar.detect(rng.integers(0, 256, (480, 640, 3), dtype=np.uint8)) == []
    assert haar.detect(np.zeros((10, 10), np.uint8)) == []  # smaller than any face


def test_detector_rejects_non_images(haar: HaarFaceDetector) -> None:
    with pytest.raises(TypeError):
        haar.detect(np.zeros((48, 48, 3), np.float32))
    with pytest.raises(ValueError):
        haar.detect(np.zeros((48, 48, 2), np.uint8))


def test_haar_describe_for_provenance(haar: HaarFaceDetector) -> None:
    d = haar.describe()
    assert d["detector"] == "haar" and d["model_file"] == "haarcascade_frontalface_default.xml"
    assert len(str(d["model_sha256"])) == 64 and "opencv" in d


def test_missing_cascade_names_the_cause(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import cv2

    monkeypatch.setattr(cv2.data, "haarcascades", str(tmp_path) + "/")
    with pytest.raises(FileNotFoundError, match="OpenCV 5"):
        HaarFaceDetector()


def test_make_detector_specs(tmp_path: Path) -> None:
    assert isinstance(make_detector(None), HaarFaceDetector)
    assert isinstance(make_detector("haar"), HaarFaceDetector)
    with pytest.raises(FileNotFoundError, match="nope.onnx"):
        make_detector(str(tmp_path / "nope.onnx"))
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(np.random.default_rng(0).bytes(2000))
    with pytest.raises(ValueError, match="YuNet"):
        make_detector(bad)
    txt = tmp_path / "model.txt"
    txt.write_text("not a model")
    with pytest.raises(ValueError, match=".onnx"):
        OnnxFaceDetector(txt)
    with pytest.raises(ValueError, match="unknown face detector"):
        make_detector("retinaface")  # "mtcnn" is known since issue 14


def test_facebox_geometry() -> None:
    a, b = FaceBox(0, 0, 10, 10), FaceBox(5, 0, 10, 10)
    assert (a.cx, a.cy, a.area) == (5.0, 5.0, 100.0)
    assert a.iou(b) == pytest.approx(50 / 150) and a.iou(FaceBox(50, 50, 5, 5)) == 0.0
    assert a.to_dict()["detected"] is True


# --- tracking --------------------------------------------------------------------------------------


def test_tracker_detects_4_per_second_and_boxes_every_frame(
    haar: HaarFaceDetector, clip: list
) -> None:
    frames = clip[: int(3 * FPS)]
    tracker = FaceTracker(haar)
    boxes = tracker.track_boxes(iter(frames))
    assert len(boxes) == len(frames) and all(b is not None for b in boxes)
    assert tracker.n_detections == 12  # 3 s at one detection per 0.25 s
    detected = [i for i, b in enumerate(boxes) if b is not None and b.detected]
    assert detected == list(range(0, 180, 15))
    for (t, _), b in zip(frames, boxes, strict=True):  # interpolation follows the moving head
        assert b is not None
        cx, cy, face_w = true_face(320, 240, 0.9, t)
        assert abs(b.cx - cx) < 0.12 * face_w and abs(b.cy - cy) < 0.15 * face_w


def test_long_face_loss_gives_none_short_is_bridged(haar: HaarFaceDetector, clip: list) -> None:
    tracker = FaceTracker(haar, max_hold_s=1.0)
    long_gap = tracker.track_boxes(_blanked(clip, 1.0, 2.6))  # 1.6 s without a face
    times = [t for t, _ in clip]
    # failed detections at 1.0 … 2.5 s: everything between them is marked "no face"
    assert all(b is None for t, b in zip(times, long_gap, strict=True) if 1.0 <= t <= 2.5)
    assert all(b is not None for t, b in zip(times, long_gap, strict=True) if t < 1.0 or t > 2.6)
    short_gap = tracker.track_boxes(_blanked(clip, 1.0, 1.4))  # 0.4 s: two missed detections
    assert all(b is not None for b in short_gap)
    assert all(
        b is not None and not b.detected
        for t, b in zip(times, short_gap, strict=True)
        if 1.0 <= t < 1.4
    )


class _Scripted(FaceDetector):
    """A detector that reads the face's x position from the image's first pixel (0 = no face)."""

    name = "scripted"

    def detect(self, image_bgr: np.ndarray) -> list[FaceBox]:
        x = float(image_bgr[0, 0, 0])
        return [FaceBox(x, 10.0, 20.0, 20.0)] if x > 0 else []

    def describe(self) -> dict[str, object]:
        return {"detector": self.name}


def _scripted_frames(xs: list[int], fps: float = 10.0) -> list[tuple[float, np.ndarray]]:
    return [(i / fps, np.full((2, 2, 3), x, np.uint8)) for i, x in enumerate(xs)]


def test_interpolation_is_linear_and_marked() -> None:
    tracker = FaceTracker(_Scripted(), detect_every_s=0.5, max_hold_s=1.0)
    boxes = tracker.track_boxes(_scripted_frames([10, 0, 0, 0, 0, 60, 0, 0]))  # 10 Hz frames
    assert [b.x if b else None for b in boxes] == pytest.approx([10, 20, 30, 40, 50, 60, 60, 60])
    assert [b.detected for b in boxes if b] == [
        True,
        False,
        False,
        False,
        False,
        True,
        False,
        False,
    ]


def test_hold_ends_and_failed_detections() -> None:
    tracker = FaceTracker(_Scripted(), detect_every_s=0.5, max_hold_s=0.3)
    # 10 Hz frames, detections at frames 0, 5, 10, 15, 20: 0 fails, 5 finds, 10 fails, 15 finds
    xs = [0] * 5 + [50] + [0] * 9 + [90] + [0] * 6
    present = [b is not None for b in tracker.track_boxes(_scripted_frames(xs))]
    # held back from 5 up to 0.3 s (2–4) and forward (6–8); 9–11 too far or past the failure
    assert present[:12] == [False] * 2 + [True] * 7 + [False] * 3
    assert present[12:19] == [True] * 7 and present[19:] == [False] * 3
    # a failed detection ends a hold early: the face was looked for and was not there
    long_hold = FaceTracker(_Scripted(), detect_every_s=0.5, max_hold_s=1.0)
    boxes = long_hold.track_boxes(_scripted_frames([10] + [0] * 9))
    assert [b is not None for b in boxes] == [True] * 5 + [False] * 5
    with pytest.raises(ValueError, match="backwards"):
        zero = np.zeros((2, 2, 3), np.uint8)
        tracker.track_boxes([(1.0, zero), (0.5, zero)])


def test_online_update_holds_smooths_and_lets_go() -> None:
    tracker = FaceTracker(_Scripted(), detect_every_s=0.25, max_hold_s=0.5, smooth_tau_s=0.05)
    out = [tracker.update(t, img) for t, img in _scripted_frames([40] * 30 + [0] * 60, fps=60.0)]
    # found at 0 and 0.25 s on the 4-per-second grid; from 0.5 s the face is gone and the
    # tracker looks for it on every frame (60 frames to 1.5 s)
    assert tracker.n_detections == 2 + 60
    assert all(b is not None for b in out[:30]) and out[0] is not None and out[0].detected
    assert not out[1].detected  # type: ignore[union-attr]
    # last detection at 0.25 s: held until 0.75 s (frame 45), then "no face"
    assert all(b is not None for b in out[30:46]) and all(b is None for b in out[46:])
    tracker.reset()
    b0 = tracker.update(0.0, np.full((2, 2, 3), 40, np.uint8))
    b1 = tracker.update(0.25, np.full((2, 2, 3), 44, np.uint8))  # a small move: glide, not jump
    assert b0 is not None and b1 is not None and b1.detected and 40 < b1.x < 44


# --- crops and model input -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "box",
    [
        FaceBox(200, 120, 200, 200),
        FaceBox(-80, -60, 150, 150),  # over the top-left corner
        FaceBox(560, 400, 200, 120),  # over the bottom-right corner
        FaceBox(5000, 5000, 50, 50),  # wholly outside
        FaceBox(300.4, 200.7, 1.2, 0.8),  # tiny
        FaceBox(-500, -500, 2000, 1500),  # larger than the frame
    ],
)
@pytest.mark.parametrize("policy", [CropPolicy(), CropPolicy(size=96, square=False, pad="edge")])
def test_crop_always_has_the_policy_size(box: FaceBox, policy: CropPolicy) -> None:
    img = render_face(0, 0, 0.5)
    out = crop_face(img, box, policy)
    assert out.shape == (policy.size, policy.size, 3) and out.dtype == np.uint8
    assert crop_face(img[..., 0], box, policy).shape == (policy.size, policy.size, 3)


def test_margin_enlarges_region_and_padding_modes() -> None:
    img = np.zeros((200, 200, 3), np.uint8)
    img[50:150, 50:150] = 255
    box = FaceBox(50, 50, 100, 100)
    tight = crop_face(img, box, CropPolicy(size=120, margin=0.0))
    loose = crop_face(img, box, CropPolicy(size=120, margin=0.25))
    assert (tight > 127).mean() > 0.97
    assert (loose > 127).mean() == pytest.approx(1 / 1.5**2, abs=0.02)
    corner = FaceBox(-50, -50, 100, 100)  # three quarters of the region lie outside
    zero = crop_face(img + 40, corner, CropPolicy(size=64, margin=0.0))
    edge = crop_face(img + 40, corner, CropPolicy(size=64, margin=0.0, pad="edge"))
    assert (zero == 0).all(axis=2).mean() == pytest.approx(0.75, abs=0.03)
    assert (edge == 0).sum() == 0
    with pytest.raises(ValueError):
        crop_face(img, FaceBox(0, 0, 0, 10))
    with pytest.raises(ValueError):
        CropPolicy(align="nose")  # type: ignore[arg-type]


def test_eye_alignment_levels_a_tilted_face(haar: HaarFaceDetector) -> None:
    import cv2

    img = render_face(0.0, -1.0, 0.0, blink=False)
    box = haar.detect(img)[0]
    level = estimate_eye_roll(img, box)
    assert level is not None and abs(level) < 4
    rot = cv2.getRotationMatrix2D((box.cx, box.cy), 15.0, 1.0)  # counter-clockwise on screen
    tilted = cv2.warpAffine(img, rot, (img.shape[1], img.shape[0]), borderMode=cv2.BORDER_REPLICATE)
    roll = estimate_eye_roll(tilted, box)
    assert roll is not None and roll == pytest.approx(level - 15.0, abs=3.0)
    pol = CropPolicy(size=150, margin=0.25, align="eyes")
    aligned = crop_face(tilted, box, pol)
    inner = FaceBox(150 * 0.25 / 1.5, 150 * 0.25 / 1.5, 150 / 1.5, 150 / 1.5)
    after = estimate_eye_roll(aligned, inner)
    assert after is not None and abs(after) < 4
    blank = np.full_like(img, 120)  # no eyes: falls back to an unrotated crop
    assert np.array_equal(crop_face(blank, box, pol), crop_face(blank, box, CropPolicy(size=150)))


def test_the_default_detector_finds_every_skin_tone() -> None:
    """Global histogram equalisation lost the two darker simulated skin tones; CLAHE does not."""
    from core.faces.detect import HaarFaceDetector
    from core.simulation.face import render_face

    det = HaarFaceDetector()
    for seed in range(4):  # seed % 4 picks the skin tone
        frames = [
            render_face(v, a, 0.37 * i, seed=seed, width=320, height=240)
            for i in range(3)
            for v, a in ((-0.6, 0.7), (0.6, -0.6), (0.0, 0.0))
        ]
        assert all(det.detect(f) for f in frames), f"skin tone {seed} missed"


def test_the_face_stage_a_checkpoint_records() -> None:
    from core.faces.track import FACE_STAGE_KEY, detector_note, face_stage, trained_detector

    stage = face_stage("mtcnn", 112)
    assert stage["detector"] == "mtcnn" and stage["crop_policy"]["size"] == 112
    assert trained_detector({FACE_STAGE_KEY: stage}) == "mtcnn"
    assert trained_detector({}) == "haar"  # checkpoints from before it was recorded
    ran = {"face_detector": {"detector": {"detector": "mtcnn"}}}
    assert detector_note({**ran, "face_detector_trained": "mtcnn"}) == (
        "mtcnn (as the model was trained)"
    )
    assert "trained on haar crops" in detector_note({**ran, "face_detector_trained": "haar"})
    assert detector_note({}) == ""
