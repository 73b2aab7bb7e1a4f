"""From detections to crops: face tracking and the crop policy.

At 60 fps a detector on every frame would cost more than the recording itself, while a face
moves little in a quarter of a second. :class:`FaceTracker` therefore detects on a time grid
(``detect_every_s``) and fills the other frames in one of two modes:

* offline (:meth:`FaceTracker.track_stream`, and :meth:`FaceTracker.track_boxes` for a whole
  list): both neighbouring detections are known, so box parameters are linearly interpolated
  between them. The one mode of every path that makes a model's input — the analysis and training
  on sessions (:func:`core.analysis.inputs.iter_face_crops`) and training on AMIGOS
  (:func:`core.learning.datasets.frames.trial_crops`) — so a model is analysed with crops made as
  its training crops were. It streams: a frame's box is settled once frames ``max_hold_s`` later
  have been seen, so at most that much video is held;
* online (:meth:`FaceTracker.update`, for the live set-up screen only): only the past is known,
  so the last detection is held and the shown box glides towards it (exponential smoothing).

A box is never invented far from evidence: a frame more than ``max_hold_s`` from a detection
(or, offline, cut off from it by a failed detection) gets ``None``, which callers must treat as
"no face crop for this frame".

A checkpoint records the tracker mode and its settings beside the detector and the crop policy
(:func:`face_stage`); the analysis builds its tracker from them (:func:`tracker_for`).

:func:`crop_face` cuts the fixed-size crop of a box as a :class:`CropPolicy` says (margin, shape,
eye alignment, padding); :func:`core.models.runtime.faces_to_input` then normalises a batch of
crops.
"""

from __future__ import annotations

import functools
import math
import threading
from collections import deque
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from typing import Any, Literal

import numpy as np

from core.faces.detect import (
    FaceBox,
    FaceDetector,
    as_bgr,
    as_grey,
    haar_cascade_path,
    load_haar_cascade,
    make_detector,
)

HAAR_EYE_FILE = "haarcascade_eye.xml"

_GRID_EPS = 1e-6  # frame timestamps like k/60 s must not miss a grid point by rounding


def _lerp(a: FaceBox, b: FaceBox, u: float) -> FaceBox:
    """Box a·(1 − u) + b·u, marked as not detected."""
    return FaceBox(
        a.x + (b.x - a.x) * u,
        a.y + (b.y - a.y) * u,
        a.w + (b.w - a.w) * u,
        a.h + (b.h - a.h) * u,
        a.score + (b.score - a.score) * u,
        detected=False,
    )


_UNSEEN, _HIT, _MISS = 0, 1, 2  # a frame the detector did not examine, found a face on, did not


@dataclass
class _Frame:
    """A frame waiting in the offline tracker's look-ahead."""

    t: float
    image: np.ndarray | None
    state: int = _UNSEEN
    box: FaceBox | None = None


@dataclass
class _Past:
    """What the offline tracker keeps of the settled frames: the last detection, and whether no
    failed detection came after it (``free``)."""

    hit: _Frame | None = None
    free: bool = False


class FaceTracker:
    """Detect faces a few times per second and track the box between detections.

    Parameters
    ----------
    detector : FaceDetector, optional — default :func:`~core.faces.detect.make_detector` (Haar)
    detect_every_s : float — detection period (s) on the frames' timestamps
    max_hold_s : float — longest time (s) a box may be held or bridged away from a detection;
        beyond it frames get ``None``. Gaps between two detections up to this long are bridged
        by interpolation
    smooth_tau_s : float — online mode: time constant (s) with which the shown box follows a new
        detection; 0 jumps at once
    min_iou : float — a detection overlapping the tracked box at least this much is preferred
        over a larger one elsewhere, so the tracker stays on the same person

    Notes
    -----
    Not thread-safe; the offline and online modes keep separate state.
    """

    def __init__(
        self,
        detector: FaceDetector | None = None,
        detect_every_s: float = 0.25,
        max_hold_s: float = 1.0,
        smooth_tau_s: float = 0.08,
        min_iou: float = 0.3,
    ) -> None:
        if detect_every_s <= 0 or max_hold_s < 0 or smooth_tau_s < 0:
            raise ValueError("detect_every_s must be > 0; max_hold_s and smooth_tau_s ≥ 0")
        self.detector = detector if detector is not None else make_detector(None)
        self.detect_every_s, self.max_hold_s = float(detect_every_s), float(max_hold_s)
        self.smooth_tau_s, self.min_iou = float(smooth_tau_s), float(min_iou)
        self.n_detections = 0  # detector calls, both modes (for cost reports)
        self.reset()

    def describe(self) -> dict[str, object]:
        """Tracker settings plus the detector's description, for provenance."""
        return {
            "detector": self.detector.describe(),
            "detect_every_s": self.detect_every_s,
            "max_hold_s": self.max_hold_s,
            "smooth_tau_s": self.smooth_tau_s,
        }

    def _pick(self, faces: list[FaceBox], prev: FaceBox | None) -> FaceBox | None:
        """The detection to follow: the best overlap with the tracked box, else the first."""
        if not faces:
            return None
        if prev is not None:
            best = max(faces, key=prev.iou)
            if prev.iou(best) >= self.min_iou:
                return best
        return faces[0]

    def _detect(self, image: np.ndarray, prev: FaceBox | None) -> FaceBox | None:
        self.n_detections += 1
        return self._pick(self.detector.detect(image), prev)

    def _slot(self, t_s: float, t0: float) -> int:
        return math.floor((t_s - t0) / self.detect_every_s + _GRID_EPS)

    # --- offline ----------------------------------------------------------------------------------
    def track_boxes(
        self, frames: Iterable[tuple[float, np.ndarray | None]]
    ) -> list[FaceBox | None]:
        """Face box for every frame of a recording: :meth:`track_stream`'s boxes, as a list."""
        return [box for _, _, box in self.track_stream(frames)]

    def track_stream(
        self, frames: Iterable[tuple[float, np.ndarray | None]]
    ) -> Iterator[tuple[float, np.ndarray | None, FaceBox | None]]:
        """Offline tracking, streamed: each frame with its face box, in order, detecting on a grid.

        Parameters
        ----------
        frames : iterable of (t_s, image) — timestamps (s, non-decreasing) and BGR uint8 images,
            consumed once; an image ``None`` (a frame that could not be decoded) is passed
            through without a box and is not seen by the tracker

        Yields
        ------
        (t_s, image, box) for every frame, in the order given. A frame is yielded once a frame
        more than ``max_hold_s`` later has been read (or the frames have ended): at most
        ``max_hold_s`` of frames are held. ``box`` is

        * the detection (``detected=True``) on frames where the detector found the face;
        * linearly interpolated (``detected=False``) between two detections at most
          ``max_hold_s`` apart, bridging missed detections in between;
        * otherwise held (``detected=False``) from the nearest detection, up to ``max_hold_s``
          away, over frames the detector did not examine — the ends of the recording and the
          frames between a detection and the first (or after the last) failed detection of a
          longer gap;
        * ``None`` everywhere else: a face missing for longer than ``max_hold_s`` is marked
          absent from the first to the last failed detection, never guessed

        Raises
        ------
        ValueError
            A timestamp is earlier than the one before it, or not finite (raised when that frame
            is read; the frames before it may have been yielded).
        """
        hold = self.max_hold_s + _GRID_EPS
        ahead: deque[_Frame] = deque()  # read, not yet settled
        past = _Past()
        t0: float | None = None
        last_slot = -1
        prev: FaceBox | None = None
        last_t: float | None = None
        for i, (t_in, image) in enumerate(frames):
            t = float(t_in)
            if not math.isfinite(t) or (last_t is not None and t < last_t):
                raise ValueError(f"frame {i}: timestamp {t} is not finite or goes backwards")
            last_t = t
            f = _Frame(t, image)
            if image is not None:
                t0 = t if t0 is None else t0
                slot = self._slot(t, t0)
                if slot > last_slot:
                    last_slot = slot
                    found = self._detect(image, prev)
                    f.state, f.box = (_HIT, found) if found is not None else (_MISS, None)
                    prev = found if found is not None else prev
            ahead.append(f)
            # every frame within max_hold_s after the oldest one is known: it can be settled
            while ahead[0].t + hold < t:
                yield self._settle(ahead, past, hold)
        while ahead:
            yield self._settle(ahead, past, hold)

    @staticmethod
    def _settle(
        ahead: deque[_Frame], past: _Past, hold: float
    ) -> tuple[float, np.ndarray | None, FaceBox | None]:
        """The oldest pending frame's box, from the last detection before it (``past``) and the
        frames read after it (``ahead``, which reach ``max_hold_s`` beyond it)."""
        f = ahead.popleft()
        if f.image is None:
            return f.t, None, None
        if f.state == _HIT:
            past.hit, past.free = _Frame(f.t, None, _HIT, f.box), True  # not its image
            return f.t, f.image, f.box
        nxt: _Frame | None = None  # the next detection
        nxt_free: _Frame | None = None  # the same, when no failed detection lies between
        blocked = f.state == _MISS
        for g in ahead:
            if g.state == _HIT:
                nxt, nxt_free = g, (None if blocked else g)
                break
            blocked = blocked or g.state == _MISS
        a, box = past.hit, None
        if a is not None and nxt is not None and nxt.t - a.t <= hold:  # interpolate
            assert a.box is not None and nxt.box is not None
            u = (f.t - a.t) / (nxt.t - a.t) if nxt.t > a.t else 0.0
            box = _lerp(a.box, nxt.box, float(u))
        elif f.state != _MISS and past.free and a is not None and f.t - a.t <= hold:
            assert a.box is not None
            box = replace(a.box, detected=False, landmarks=None)
        elif nxt_free is not None and nxt_free.t - f.t <= hold:
            assert nxt_free.box is not None
            box = replace(nxt_free.box, detected=False, landmarks=None)
        if f.state == _MISS:
            past.free = False  # the face was looked for and not found: nothing is held past it
        return f.t, f.image, box

    # --- online -----------------------------------------------------------------------------------
    def reset(self) -> None:
        """Forget the online state (a new camera or a new session)."""
        self._t0: float | None = None
        self._last_t: float | None = None
        self._last_slot = -1
        self._target: FaceBox | None = None  # last detection
        self._target_t = 0.0
        self._shown: FaceBox | None = None
        self._look: np.ndarray | None = None  # what the face looked like at the last detection
        self._lost = True  # the last detection failed (or none yet): detect on every frame

    def update(self, t_s: float, image: np.ndarray) -> FaceBox | None:
        """Live tracking: the face box for this frame, detecting when due.

        Parameters
        ----------
        t_s : float — frame timestamp (s); a timestamp earlier than the last one resets the tracker
        image : ndarray — the frame, BGR uint8

        Returns
        -------
        FaceBox or None — ``detected=True`` on a frame where the detector ran and found the face
        (the box itself is smoothed); ``detected=False`` while held; ``None`` once no detection
        succeeded for more than ``max_hold_s``
        """
        t = float(t_s)
        if self._last_t is not None and t < self._last_t:
            self.reset()
        dt = 0.0 if self._last_t is None else t - self._last_t
        self._last_t = t
        if self._t0 is None:
            self._t0 = t
        detected = False
        slot = self._slot(t, self._t0)
        due = slot > self._last_slot or self._lost  # on the grid, or on every frame while lost
        # between detections the held box must still look like the face it was: when it does
        # not (the head turned away, the person left), detect now instead of holding it
        unsure = not due and self._target is not None and not self._looks_same(image)
        if due or unsure:
            self._last_slot = max(self._last_slot, slot)
            found = self._detect(image, self._target)
            if found is not None:
                detected, self._lost = True, False
                jumped = self._target is None or self._target.iou(found) < 0.1
                self._target, self._target_t = found, t
                self._look = _appearance(image, found)
                if jumped or self._shown is None:  # a new or re-found face: no glide across
                    self._shown = found
            else:
                self._lost = True
                # a missed detection over a face that still looks the same is held (the
                # detector blinked); a box that no longer covers the face is never shown
                if unsure or not self._looks_same(image):
                    self._target = self._shown = self._look = None
        if self._target is None or t - self._target_t > self.max_hold_s + _GRID_EPS:
            self._target = self._shown = None
            return None
        assert self._shown is not None
        if self.smooth_tau_s > 0:
            k = 1.0 - math.exp(-dt / self.smooth_tau_s)
            self._shown = _lerp(self._shown, self._target, k)
        else:
            self._shown = self._target
        return replace(self._shown, detected=detected, landmarks=None)

    def _looks_same(self, image: np.ndarray) -> bool:
        """Whether the face region of the last detection still looks as it did then (True when
        that look could not be taken: a box off the image or on a flat region cannot be
        compared, and is held as before, up to ``max_hold_s``)."""
        if self._target is None:
            return False
        if self._look is None:
            return True
        now = _appearance(image, self._target)
        return now is not None and float(np.mean(now * self._look)) >= APPEARANCE_MIN


#: normalised correlation (−1…1) of the held face region with its look at the last detection
#: below which the tracker is unsure and detects again at once (a talking, nodding face stays
#: above 0.5 over a second; a turned-away head or a background falls well below)
APPEARANCE_MIN = 0.5
_LOOK_SIZE = 16  # side (px) of the grey thumbnail the appearance is compared on


def _appearance(image: np.ndarray, box: FaceBox) -> np.ndarray | None:
    """A box's grey thumbnail, zero-mean and unit-variance (None: off the image, or flat)."""
    import cv2

    h, w = image.shape[:2]
    x0, y0 = max(0, int(box.x)), max(0, int(box.y))
    x1, y1 = min(w, int(box.x + box.w)), min(h, int(box.y + box.h))
    if x1 - x0 < 4 or y1 - y0 < 4:
        return None
    patch = image[y0:y1, x0:x1]
    grey = cv2.cvtColor(patch, cv2.COLOR_BGR2GRAY) if patch.ndim == 3 else patch
    small = cv2.resize(grey, (_LOOK_SIZE, _LOOK_SIZE), interpolation=cv2.INTER_AREA)
    v = small.astype(np.float32)
    v -= v.mean()
    sd = float(v.std())
    return v / sd if sd > 1e-3 else None


# --- crops --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CropPolicy:
    """How a face box becomes the model's input crop.

    Parameters
    ----------
    size : int — side of the output crop (pixels)
    margin : float — fraction of the box's side added on each side (0.25: a region 1.5× the box)
    square : bool — True crops a square around the box centre (side = the longer box side plus
        margins), keeping the aspect ratio; False stretches the margin-enlarged box to the square
        output
    align : ``"none"`` or ``"eyes"`` — ``"eyes"`` rotates the crop so the eyes are level
        (landmarks when the detector gave them, else Haar eye detection; no rotation when two eyes
        are not found)
    pad : ``"zero"`` or ``"edge"`` — fill for parts of the region outside the frame: black, or the
        nearest edge pixel repeated
    """

    size: int = 224
    margin: float = 0.25
    square: bool = True
    align: Literal["none", "eyes"] = "none"
    pad: Literal["zero", "edge"] = "zero"

    def __post_init__(self) -> None:
        if self.size < 1:
            raise ValueError("crop size must be positive")
        if not 0.0 <= self.margin <= 4.0:
            raise ValueError("margin must lie in [0, 4]")
        if self.align not in ("none", "eyes"):
            raise ValueError(f"align must be 'none' or 'eyes', not {self.align!r}")
        if self.pad not in ("zero", "edge"):
            raise ValueError(f"pad must be 'zero' or 'edge', not {self.pad!r}")


_MAX_ROLL_DEG = 35.0  # steeper "eye lines" are nearly always a nostril or brow taken for an eye
_eye_lock = threading.Lock()
_EYE_WORK_WIDTH = 120.0  # face width (pixels) at which eyes are searched


@functools.lru_cache(maxsize=1)
def _eye_cascade() -> Any:
    return load_haar_cascade(haar_cascade_path(HAAR_EYE_FILE))


def _haar_eyes(image: np.ndarray, box: FaceBox) -> tuple[tuple[float, float], ...] | None:
    """Image-left and image-right eye centres (pixels) by Haar detection, or None."""
    import cv2

    grey = as_grey(image)
    x0, y0 = max(0, int(box.x)), max(0, int(box.y))
    # eyes sit at ~40 % of a Haar box's height; 60 % keeps the lower eye of a head rolled ~20°
    x1, y1 = min(grey.shape[1], int(box.x + box.w)), min(grey.shape[0], int(box.y + 0.6 * box.h))
    if x1 - x0 < 24 or y1 - y0 < 12:
        return None
    roi = np.ascontiguousarray(grey[y0:y1, x0:x1])
    # the eye cascade's window is 20 px; a face ~120 px wide keeps eyes above it and costs
    # a few ms instead of tens at full resolution (the angle does not change with scale)
    f = min(1.0, _EYE_WORK_WIDTH / box.w)
    if f < 1.0:
        roi = cv2.resize(roi, None, fx=f, fy=f, interpolation=cv2.INTER_AREA)
    roi = cv2.equalizeHist(roi)
    lo, hi = max(20, round(f * box.w / 8)), max(21, round(f * box.w / 2.5))
    with _eye_lock:  # one shared cascade; OpenCV does not promise thread safety
        eyes = _eye_cascade().detectMultiScale(roi, 1.1, 4, minSize=(lo, lo), maxSize=(hi, hi))
    eyes = np.reshape(eyes, (-1, 4)) / f
    mid = box.cx - x0
    found = [(x + w / 2, y + h / 2, w * h) for x, y, w, h in eyes]
    left = [e for e in found if e[0] < mid]
    right = [e for e in found if e[0] >= mid]
    if not left or not right:
        return None
    (lx, ly, _), (rx, ry, _) = max(left, key=lambda e: e[2]), max(right, key=lambda e: e[2])
    if rx - lx < 0.2 * box.w:  # both "eyes" on one eye: not a pair
        return None
    return (x0 + lx, y0 + ly), (x0 + rx, y0 + ry)


def estimate_eye_roll(image: np.ndarray, box: FaceBox) -> float | None:
    """Angle (degrees) of the line from the image-left eye to the image-right eye.

    Positive when the right-hand eye is lower in the image; rotating the image by this angle
    (``cv2.getRotationMatrix2D`` convention) levels the eyes. Uses the box's landmarks when
    present, else Haar eye detection in the upper 60 % of the box. None when two eyes are not
    found or the angle is implausibly steep.
    """
    if box.landmarks is not None and len(box.landmarks) >= 2:
        eyes: tuple[tuple[float, float], ...] | None = tuple(sorted(box.landmarks[:2]))
    else:
        eyes = _haar_eyes(image, box)
    if eyes is None:
        return None
    (x1, y1), (x2, y2) = eyes
    angle = math.degrees(math.atan2(y2 - y1, x2 - x1))
    return angle if abs(angle) <= _MAX_ROLL_DEG else None


def _region(image: np.ndarray, cx: float, cy: float, rw: int, rh: int, pad: str) -> np.ndarray:
    """The rw × rh pixel region centred on (cx, cy), padded where it leaves the image."""
    import cv2

    h, w = image.shape[:2]
    x0, y0 = math.floor(cx - rw / 2 + 0.5), math.floor(cy - rh / 2 + 0.5)
    ix0, iy0 = min(max(x0, 0), w), min(max(y0, 0), h)
    ix1, iy1 = min(max(x0 + rw, 0), w), min(max(y0 + rh, 0), h)
    if ix1 <= ix0 or iy1 <= iy0:  # wholly outside: nothing to replicate from
        return np.zeros((rh, rw, 3), np.uint8)
    part = image[iy0:iy1, ix0:ix1]
    top, left = iy0 - y0, ix0 - x0
    bottom, right = rh - top - part.shape[0], rw - left - part.shape[1]
    if top == bottom == left == right == 0:
        return part
    mode = cv2.BORDER_REPLICATE if pad == "edge" else cv2.BORDER_CONSTANT
    return np.asarray(cv2.copyMakeBorder(part, top, bottom, left, right, mode, value=(0, 0, 0)))


def crop_face(image: np.ndarray, box: FaceBox, policy: CropPolicy | None = None) -> np.ndarray:
    """Cut the model's face crop out of a frame.

    Parameters
    ----------
    image : ndarray (H, W, 3) uint8 BGR (grey and BGRA are converted)
    box : FaceBox — the face (pixels); may reach outside the frame
    policy : CropPolicy, optional — size, margin, shape and alignment; default ``CropPolicy()``

    Returns
    -------
    ndarray (size, size, 3) uint8 BGR — always this shape, padded where the region leaves the
    frame; downscaled with ``cv2.INTER_AREA`` (anti-aliased)
    """
    import cv2

    pol = policy or CropPolicy()
    img = as_bgr(image)
    if not (math.isfinite(box.w) and math.isfinite(box.h) and box.w > 0 and box.h > 0):
        raise ValueError(f"face box needs a positive finite size, got {box.w} × {box.h}")
    if not (math.isfinite(box.x) and math.isfinite(box.y)):
        raise ValueError("face box position is not finite")
    k = 1.0 + 2.0 * pol.margin
    if pol.square:
        rw = rh = max(1, round(max(box.w, box.h) * k))
    else:
        rw, rh = max(1, round(box.w * k)), max(1, round(box.h * k))
    roll = estimate_eye_roll(img, box) if pol.align == "eyes" else None
    if roll:  # None (no eye pair) or exactly level: nothing to rotate
        # cut a larger region so that rotating it leaves no empty corners, rotate, then trim
        big = math.ceil(max(rw, rh) * 1.5)
        reg = _region(img, box.cx, box.cy, big, big, pol.pad)
        m = cv2.getRotationMatrix2D((big / 2, big / 2), roll, 1.0)
        mode = cv2.BORDER_REPLICATE if pol.pad == "edge" else cv2.BORDER_CONSTANT
        reg = cv2.warpAffine(reg, m, (big, big), flags=cv2.INTER_LINEAR, borderMode=mode)
        y0, x0 = (big - rh) // 2, (big - rw) // 2
        reg = reg[y0 : y0 + rh, x0 : x0 + rw]
    else:
        reg = _region(img, box.cx, box.cy, rw, rh, pol.pad)
    # INTER_AREA averages when shrinking (no aliasing) and falls back to bilinear when enlarging
    out = cv2.resize(reg, (pol.size, pol.size), interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(out, dtype=np.uint8)


#: the checkpoint metadata key that says how its training crops were made
FACE_STAGE_KEY = "face_stage"
#: the detector of checkpoints trained before it was recorded
DEFAULT_DETECTOR = "haar"
#: the tracker mode of every path that makes a model's input (module docstring)
TRACKER_MODE = "offline"
#: the tracker of checkpoints trained before it was recorded: offline, TheraScope's defaults (one
#: detection per 0.25 s, boxes bridged up to 1 s). AMIGOS-trained ones were cropped so; the demo
#: model's session crops were made with the online mode then, which differs only between detections
DEFAULT_TRACKER: dict[str, str | float] = {
    "mode": TRACKER_MODE,
    "detect_every_s": 0.25,
    "max_hold_s": 1.0,
}


def tracker_settings(tracker: FaceTracker | None = None) -> dict[str, str | float]:
    """The tracker mode and settings a checkpoint records (:data:`DEFAULT_TRACKER` for None)."""
    if tracker is None:
        return dict(DEFAULT_TRACKER)
    return {
        "mode": TRACKER_MODE,
        "detect_every_s": tracker.detect_every_s,
        "max_hold_s": tracker.max_hold_s,
    }


def face_stage(
    detector: str, crop_size: int, tracker: FaceTracker | None = None
) -> dict[str, object]:
    """How face crops are made, as a checkpoint records it for its training data: the detector's
    spec (:func:`core.faces.detect.make_detector`), the tracker (:func:`tracker_settings`; the
    default tracker when None) and the crop policy."""
    from dataclasses import asdict

    return {
        "detector": str(detector),
        "tracker": tracker_settings(tracker),
        "crop_policy": asdict(CropPolicy(size=int(crop_size))),
    }


def trained_tracker(metadata: Mapping[str, object]) -> dict[str, str | float]:
    """The tracker a checkpoint's training crops were made with (:data:`DEFAULT_TRACKER` for
    checkpoints from before it was recorded).

    Raises
    ------
    ValueError — the checkpoint records a tracker mode or settings this version cannot reproduce
    """
    stage = metadata.get(FACE_STAGE_KEY)
    rec = stage.get("tracker") if isinstance(stage, Mapping) else None
    if not isinstance(rec, Mapping):
        return dict(DEFAULT_TRACKER)
    mode = rec.get("mode", TRACKER_MODE)
    if mode != TRACKER_MODE:
        raise ValueError(
            f"its face crops were made with the tracker mode {mode!r}; this version makes them "
            f"only with {TRACKER_MODE!r}"
        )
    out = dict(DEFAULT_TRACKER)
    for key in ("detect_every_s", "max_hold_s"):
        value = rec.get(key, out[key])
        ok = isinstance(value, (int, float)) and math.isfinite(value)
        if not ok or value < (1e-3 if key == "detect_every_s" else 0.0):
            raise ValueError(f"its face tracker setting {key} = {value!r} is not usable")
        out[key] = float(value)
    return out


def tracker_for(metadata: Mapping[str, object], detector: FaceDetector) -> FaceTracker:
    """A tracker set up as the checkpoint's training crops were tracked (:func:`trained_tracker`)."""
    rec = trained_tracker(metadata)
    return FaceTracker(
        detector,
        detect_every_s=float(rec["detect_every_s"]),
        max_hold_s=float(rec["max_hold_s"]),
    )


def detector_note(info: dict[str, object]) -> str:
    """One line on the analysis' face detector from its stored details, e.g. ``"mtcnn (the
    model was trained on haar crops: its estimates may be less reliable)"``; "" when unknown."""
    stage = info.get("face_detector")
    inner = stage.get("detector") if isinstance(stage, dict) else None
    ran = inner.get("detector") if isinstance(inner, dict) else None
    if not isinstance(ran, str):
        return ""
    trained = info.get("face_detector_trained")
    if isinstance(trained, str) and trained and trained != ran:
        return (
            f"{ran} (the model was trained on {trained} crops: its estimates may be less reliable)"
        )
    return f"{ran} (as the model was trained)" if trained else ran


def trained_detector(metadata: dict[str, object]) -> str:
    """The detector a checkpoint's training crops were made with (Haar for checkpoints from
    before it was recorded): the analysis uses the same one unless told otherwise."""
    stage = metadata.get(FACE_STAGE_KEY)
    if isinstance(stage, dict) and isinstance(stage.get("detector"), str) and stage["detector"]:
        return str(stage["detector"])
    return DEFAULT_DETECTOR
