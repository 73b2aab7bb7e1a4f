"""Face detection for the face pathway: boxes, the detector interface and its implementations.

One :class:`FaceDetector` interface serves analysis, training and the set-up screen:

* :class:`HaarFaceDetector` — the default; its weights (``haarcascade_frontalface_default.xml``)
  ship inside the ``opencv-python-headless`` 4.x wheel, so nothing is downloaded. OpenCV 5 wheels
  ship no cascades; the detector then says so instead of failing obscurely.
* :class:`MtcnnFaceDetector` — MTCNN, three small CNNs (:mod:`core.faces.mtcnn`) whose weights
  ship in ``resources/models/faces/mtcnn.pt`` (MIT licence); holds real faces that the cascade
  loses (turned and tilted heads, low light, small faces), at a higher CPU cost.
* :class:`OnnxFaceDetector` — a YuNet ``.onnx`` file a clinic supplies (``cv2.FaceDetectorYN``);
  better with turned heads and poor light. No model file ships with TheraScope.

:func:`make_detector` builds any of them from a short spec. :mod:`core.faces.track` takes it from
there: the tracker that runs a detector a few times per second and the crop policy that turns a
box into the fixed-size crop the model sees; :func:`core.models.runtime.faces_to_input` normalises
a batch of crops for the network, on its device.

cv2 is imported inside functions and constructors so that ``import core`` stays light.
"""

from __future__ import annotations

import abc
import functools
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from core.machine import file_sha256

HAAR_FACE_FILE = "haarcascade_frontalface_default.xml"

#: Per-channel mean and standard deviation of ImageNet in RGB order, for pixels scaled to [0, 1].
#: These are the constants torchvision's ImageNet-pretrained ResNets were trained with; the
#: spatial network expects its input normalised the same way.
IMAGENET_MEAN_RGB = (0.485, 0.456, 0.406)
IMAGENET_STD_RGB = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class FaceBox:
    """A face's bounding box in image pixels.

    Parameters
    ----------
    x, y : float — top-left corner (pixels; may lie outside the image)
    w, h : float — width and height (pixels, > 0)
    score : float — detector confidence; its scale depends on the detector (see its ``describe``)
    detected : bool — True when a detector found this box in this frame; False when the tracker
        interpolated or held it
    landmarks : tuple of (x, y) pixel pairs, optional — five points from detectors that give them
        (YuNet: right eye, left eye, nose tip, right and left mouth corner, as seen by the subject)
    """

    x: float
    y: float
    w: float
    h: float
    score: float = 1.0
    detected: bool = True
    landmarks: tuple[tuple[float, float], ...] | None = None

    @property
    def cx(self) -> float:
        """Centre x (pixels)."""
        return self.x + 0.5 * self.w

    @property
    def cy(self) -> float:
        """Centre y (pixels)."""
        return self.y + 0.5 * self.h

    @property
    def area(self) -> float:
        """Area (square pixels)."""
        return self.w * self.h

    def iou(self, other: FaceBox) -> float:
        """Intersection over union with ``other`` (0–1)."""
        ix = min(self.x + self.w, other.x + other.w) - max(self.x, other.x)
        iy = min(self.y + self.h, other.y + other.h) - max(self.y, other.y)
        inter = max(ix, 0.0) * max(iy, 0.0)
        union = self.area + other.area - inter
        return inter / union if union > 0 else 0.0

    def to_dict(self) -> dict[str, float | bool]:
        """The box as plain JSON-able values (landmarks left out)."""
        return {"x": self.x, "y": self.y, "w": self.w, "h": self.h, "score": self.score,
                "detected": self.detected}  # fmt: skip


def as_bgr(image: np.ndarray) -> np.ndarray:
    """The image as (H, W, 3) uint8 BGR; grey (H, W) and BGRA (H, W, 4) are converted.

    Raises
    ------
    TypeError, ValueError
        Not uint8, or not an image shape.
    """
    import cv2

    img = np.asarray(image)
    if img.dtype != np.uint8:
        raise TypeError(f"expected a uint8 image, got dtype {img.dtype}")
    if img.ndim == 2:
        return np.asarray(cv2.cvtColor(img, cv2.COLOR_GRAY2BGR))
    if img.ndim == 3 and img.shape[2] == 3:
        return img
    if img.ndim == 3 and img.shape[2] == 4:
        return np.asarray(cv2.cvtColor(img, cv2.COLOR_BGRA2BGR))
    raise ValueError(f"expected an image (H, W), (H, W, 3) or (H, W, 4), got shape {img.shape}")


def as_grey(image: np.ndarray) -> np.ndarray:
    """The image as (H, W) uint8 grey (BGR and BGRA are converted, as in :func:`as_bgr`)."""
    import cv2

    img = np.asarray(image)
    if img.ndim == 2 and img.dtype == np.uint8:
        return img
    return np.asarray(cv2.cvtColor(as_bgr(img), cv2.COLOR_BGR2GRAY))


@functools.lru_cache(maxsize=8)
def _sha256(path: str) -> str:
    return file_sha256(path)


def haar_cascade_path(filename: str) -> Path:
    """Path of a Haar cascade shipped with OpenCV, e.g. ``haarcascade_frontalface_default.xml``.

    Raises
    ------
    FileNotFoundError
        The installed OpenCV ships no such file (OpenCV 5 wheels ship no cascades at all).
    """
    import cv2

    folder = getattr(getattr(cv2, "data", None), "haarcascades", None)
    path = Path(folder) / filename if folder else None
    if path is None or not path.is_file() or not hasattr(cv2, "CascadeClassifier"):
        raise FileNotFoundError(
            f"the Haar cascade {filename!r} is not available in OpenCV {cv2.__version__} "
            f"(looked in {folder!r}); OpenCV 5.x wheels ship no Haar cascades. Install "
            "opencv-python-headless<5, or use a YuNet .onnx face model (make_detector('model.onnx'))"
        )
    return path


def load_haar_cascade(path: Path) -> Any:
    """A ``cv2.CascadeClassifier`` from ``path``; ValueError when OpenCV cannot parse the file."""
    import cv2

    cascade = cv2.CascadeClassifier(str(path))
    if cascade.empty():
        raise ValueError(f"OpenCV could not load the Haar cascade {str(path)!r} (corrupt file?)")
    return cascade


class FaceDetector(abc.ABC):
    """Finds faces in one image. Implementations are not thread-safe: use one per thread."""

    name: str = "face detector"

    @abc.abstractmethod
    def detect(self, image_bgr: np.ndarray) -> list[FaceBox]:
        """Faces in ``image_bgr`` (uint8, BGR, grey or BGRA accepted), best candidate first.

        Returns
        -------
        list of FaceBox — in the image's pixel coordinates, all with ``detected=True``; empty
        when there is no face
        """

    @abc.abstractmethod
    def describe(self) -> dict[str, object]:
        """Detector kind, model file and settings, for provenance in checkpoints and analyses."""


class HaarFaceDetector(FaceDetector):
    """OpenCV's frontal-face Haar cascade (Viola–Jones), run on a downscaled grey image.

    Parameters
    ----------
    scale_factor : float — step between scanned window sizes (> 1); smaller finds more, slower
    min_neighbors : int — overlapping raw hits needed to keep a face; higher means fewer false
        positives
    min_size_frac : float — smallest face side, as a fraction of the image's shorter side (0.15:
        72 px in a 480-line frame); smaller values find distant faces but double the cost
    work_size : int — the longer side (pixels) of the image the cascade scans; frames are shrunk
        to it because cost grows with area, and 60-fps faces are large. 0 scans full size
    equalize : bool — contrast-equalise first (CLAHE: local, 4×4 tiles), which steadies detection
        under dim clinic light and — unlike a global histogram equalisation — keeps the cascade
        working on darker skin: on the simulated faces global equalisation found 0–40 % of the
        two darker skin tones' frames, CLAHE all of them
    cascade_path : str or Path, optional — another cascade file; default OpenCV's
        ``haarcascade_frontalface_default.xml``

    Notes
    -----
    ``score`` is the cascade's final-stage level weight (unbounded, higher is more confident).
    Faces are returned largest first: the patient in front of the camera is the largest face, and
    false positives of a cascade are mostly small.
    """

    name = "haar"

    def __init__(
        self,
        scale_factor: float = 1.1,
        min_neighbors: int = 5,
        min_size_frac: float = 0.15,
        work_size: int = 320,
        equalize: bool = True,
        cascade_path: str | os.PathLike[str] | None = None,
    ) -> None:
        import cv2

        if scale_factor <= 1.0:
            raise ValueError("scale_factor must be > 1")
        if min_neighbors < 0 or not 0.0 <= min_size_frac < 1.0 or work_size < 0:
            raise ValueError("min_neighbors, min_size_frac and work_size must be non-negative")
        self.scale_factor, self.min_neighbors = float(scale_factor), int(min_neighbors)
        self.min_size_frac, self.work_size, self.equalize = min_size_frac, int(work_size), equalize
        if cascade_path is None:
            self.cascade_path = haar_cascade_path(HAAR_FACE_FILE)
        else:
            self.cascade_path = Path(cascade_path)
            if not self.cascade_path.is_file():
                raise FileNotFoundError(f"Haar cascade file not found: {str(cascade_path)!r}")
        self._cascade = load_haar_cascade(self.cascade_path)
        self._clahe = cv2.createCLAHE(clipLimit=2.0, tileGridSize=(4, 4))
        self._cv2_version = cv2.__version__

    def detect(self, image_bgr: np.ndarray) -> list[FaceBox]:
        import cv2

        grey = as_grey(image_bgr)
        h, w = grey.shape
        f = min(1.0, self.work_size / max(h, w)) if self.work_size else 1.0
        if f < 1.0:
            size = (max(1, round(w * f)), max(1, round(h * f)))
            grey = cv2.resize(grey, size, interpolation=cv2.INTER_AREA)
        if self.equalize:
            grey = self._clahe.apply(grey)
        # 24 px is the cascade's own window; nothing smaller can be found anyway
        side = max(24, round(self.min_size_frac * min(grey.shape)))
        if side > min(grey.shape):
            return []
        rects, _levels, weights = self._cascade.detectMultiScale3(
            grey, scaleFactor=self.scale_factor, minNeighbors=self.min_neighbors,
            minSize=(side, side), outputRejectLevels=True,
        )  # fmt: skip
        sx, sy = w / grey.shape[1], h / grey.shape[0]
        boxes = [
            FaceBox(float(x * sx), float(y * sy), float(bw * sx), float(bh * sy), float(s))
            for (x, y, bw, bh), s in zip(np.reshape(rects, (-1, 4)), np.ravel(weights), strict=True)
        ]
        return sorted(boxes, key=lambda b: (-b.area, -b.score))

    def describe(self) -> dict[str, object]:
        return {
            "detector": self.name,
            "model_file": self.cascade_path.name,
            "model_sha256": _sha256(str(self.cascade_path)),
            "opencv": self._cv2_version,
            "scale_factor": self.scale_factor,
            "min_neighbors": self.min_neighbors,
            "min_size_frac": self.min_size_frac,
            "work_size": self.work_size,
            "equalize": "clahe 2.0 4x4" if self.equalize else "none",
            "score": "final-stage level weight (unbounded)",
        }


class OnnxFaceDetector(FaceDetector):
    """A YuNet face model (``.onnx``) supplied by the clinic, run with ``cv2.FaceDetectorYN``.

    Parameters
    ----------
    model_path : str or Path — the YuNet ``.onnx`` file (e.g. ``face_detection_yunet_2023mar.onnx``)
    score_threshold : float — minimum face score (0–1)
    nms_threshold : float — IoU above which overlapping boxes are merged (0–1)
    top_k : int — candidates kept before non-maximum suppression
    work_size : int — longer side (pixels) of the image the network sees; larger frames are
        shrunk for speed. 0 runs at full size

    Raises
    ------
    FileNotFoundError
        The file does not exist.
    ValueError
        The file is not an ONNX model OpenCV can load as YuNet.
    RuntimeError
        The installed OpenCV has no ``FaceDetectorYN`` (older than 4.5.4).
    """

    name = "yunet-onnx"

    def __init__(
        self,
        model_path: str | os.PathLike[str],
        score_threshold: float = 0.6,
        nms_threshold: float = 0.3,
        top_k: int = 50,
        work_size: int = 640,
    ) -> None:
        import cv2

        self.model_path = Path(model_path)
        if not self.model_path.is_file():
            raise FileNotFoundError(f"face model file not found: {str(model_path)!r}")
        if self.model_path.suffix.lower() != ".onnx":
            raise ValueError(f"expected a YuNet .onnx face model, got {self.model_path.name!r}")
        if not hasattr(cv2, "FaceDetectorYN"):
            raise RuntimeError(f"OpenCV {cv2.__version__} has no FaceDetectorYN (needs ≥ 4.5.4)")
        self.score_threshold, self.nms_threshold = float(score_threshold), float(nms_threshold)
        self.top_k, self.work_size = int(top_k), int(work_size)
        self._input_size = (320, 320)  # replaced by each frame's size before use
        try:
            self._net = cv2.FaceDetectorYN.create(
                str(self.model_path), "", self._input_size,
                self.score_threshold, self.nms_threshold, self.top_k,
            )  # fmt: skip
        except cv2.error as exc:
            raise ValueError(
                f"OpenCV could not load {str(model_path)!r} as a YuNet face model: "
                f"{str(exc).strip().splitlines()[-1]}"
            ) from exc
        self._cv2_version = cv2.__version__

    def detect(self, image_bgr: np.ndarray) -> list[FaceBox]:
        import cv2

        img = as_bgr(image_bgr)
        h, w = img.shape[:2]
        f = min(1.0, self.work_size / max(h, w)) if self.work_size else 1.0
        if f < 1.0:
            size = (max(1, round(w * f)), max(1, round(h * f)))
            img = cv2.resize(img, size, interpolation=cv2.INTER_AREA)
        size = (img.shape[1], img.shape[0])
        if size != self._input_size:  # YuNet's anchors depend on the input size
            self._net.setInputSize(size)
            self._input_size = size
        _, faces = self._net.detect(img)
        if faces is None:
            return []
        sx, sy = w / size[0], h / size[1]
        boxes = []
        for row in np.asarray(faces, dtype=np.float64).reshape(-1, 15):
            marks = tuple((float(row[i] * sx), float(row[i + 1] * sy)) for i in range(4, 14, 2))
            boxes.append(
                FaceBox(
                    row[0] * sx,
                    row[1] * sy,
                    row[2] * sx,
                    row[3] * sy,
                    float(row[14]),
                    landmarks=marks,
                )  # fmt: skip
            )
        return sorted(boxes, key=lambda b: (-b.score, -b.area))

    def describe(self) -> dict[str, object]:
        return {
            "detector": self.name,
            "model_file": self.model_path.name,
            "model_sha256": _sha256(str(self.model_path)),
            "opencv": self._cv2_version,
            "score_threshold": self.score_threshold,
            "nms_threshold": self.nms_threshold,
            "top_k": self.top_k,
            "work_size": self.work_size,
            "score": "YuNet face score (0-1)",
        }


class MtcnnFaceDetector(FaceDetector):
    """MTCNN (P-Net, R-Net, O-Net) on the weights shipped with TheraScope.

    Parameters
    ----------
    min_size_frac : float — smallest face side searched for, as a fraction of the working image's
        shorter side (never below 20 px there); larger is faster
    work_size : int — longer side (pixels) of the image the networks see; larger frames are
        shrunk (cost grows with area). 0 runs at full size
    thresholds : three floats — face probability needed to pass P-Net, R-Net and O-Net
    device : str — torch device for the networks ("cpu", "cuda")
    weights_path : str or Path, optional — another weights file in the shipped format; default
        :data:`core.faces.mtcnn.WEIGHTS_FILE`
    roll_retry_deg : tuple of float — when the upright image yields no face, it is searched again
        rotated by ± each of these angles (degrees, in order), and the box found is turned back
        (same size, centre mapped back). MTCNN was trained on nearly upright faces; this keeps a
        head tilted by 30–45° (roll). Empty: no retry. Costs extra passes only on faceless frames

    Raises
    ------
    core.faces.mtcnn.WeightsError
        The weights file is missing or damaged (the message says how to restore it).

    Notes
    -----
    ``score`` is O-Net's face probability (0–1); boxes carry five landmarks (image-left eye,
    image-right eye, nose tip, image-left and image-right mouth corner). Faces are returned best
    score first.
    """

    name = "mtcnn"

    def __init__(
        self,
        min_size_frac: float = 0.1,
        work_size: int = 640,
        thresholds: tuple[float, float, float] = (0.6, 0.7, 0.7),
        device: str = "cpu",
        weights_path: str | os.PathLike[str] | None = None,
        roll_retry_deg: tuple[float, ...] = (30.0,),
    ) -> None:
        from core.faces import mtcnn

        if not 0.0 <= min_size_frac < 1.0 or work_size < 0:
            raise ValueError("min_size_frac must lie in [0, 1) and work_size be non-negative")
        if len(thresholds) != 3 or not all(0.0 <= t <= 1.0 for t in thresholds):
            raise ValueError("thresholds must be three probabilities")
        self.min_size_frac, self.work_size = float(min_size_frac), int(work_size)
        self.thresholds = (float(thresholds[0]), float(thresholds[1]), float(thresholds[2]))
        self.device = str(device)
        self.roll_retry_deg = tuple(float(a) for a in roll_retry_deg)
        self.weights_path = Path(weights_path) if weights_path else mtcnn.WEIGHTS_FILE
        self._weights = mtcnn.cached_weights(str(self.weights_path), self.device)

    def detect(self, image_bgr: np.ndarray) -> list[FaceBox]:
        import cv2

        from core.faces import mtcnn

        img = as_bgr(image_bgr)
        h, w = img.shape[:2]
        f = min(1.0, self.work_size / max(h, w)) if self.work_size else 1.0
        if f < 1.0:
            size = (max(1, round(w * f)), max(1, round(h * f)))
            img = cv2.resize(img, size, interpolation=cv2.INTER_AREA)
        sx, sy = w / img.shape[1], h / img.shape[0]
        min_face = max(20.0, self.min_size_frac * min(img.shape[:2]))
        if min_face > min(img.shape[:2]):
            return []
        rgb = cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
        found = mtcnn.detect_faces(
            rgb, self._weights, min_face=min_face, thresholds=self.thresholds
        )
        inverse = None  # 2×3 map from the searched image back to ``img``
        angles = [a * sign for a in self.roll_retry_deg for sign in (1.0, -1.0)]
        while not len(found.scores) and angles:
            hh, ww = rgb.shape[:2]
            turn = cv2.getRotationMatrix2D((0.5 * ww, 0.5 * hh), angles.pop(0), 1.0)
            turned = cv2.warpAffine(rgb, turn, (ww, hh), borderMode=cv2.BORDER_REPLICATE)
            found = mtcnn.detect_faces(turned, self._weights, min_face, thresholds=self.thresholds)
            inverse = cv2.invertAffineTransform(turn)
        boxes = []
        for (x1, y1, x2, y2), score, marks in zip(
            found.boxes, found.scores, found.landmarks, strict=True
        ):
            if x2 <= x1 or y2 <= y1:
                continue
            bw, bh, pts = x2 - x1, y2 - y1, np.asarray(marks, dtype=np.float64)
            if inverse is not None:  # same size, centre and landmarks turned back
                cx, cy = inverse @ np.array([0.5 * (x1 + x2), 0.5 * (y1 + y2), 1.0])
                x1, y1 = cx - 0.5 * bw, cy - 0.5 * bh
                pts = np.c_[pts, np.ones(len(pts))] @ inverse.T
            marks_px = tuple((float(px * sx), float(py * sy)) for px, py in pts)
            boxes.append(
                FaceBox(float(x1 * sx), float(y1 * sy), float(bw * sx), float(bh * sy),
                        float(score), landmarks=marks_px)
            )  # fmt: skip
        return sorted(boxes, key=lambda b: (-b.score, -b.area))

    def describe(self) -> dict[str, object]:
        import torch

        return {
            "detector": self.name,
            "model_file": self.weights_path.name,
            "model_sha256": _sha256(str(self.weights_path)),
            "torch": torch.__version__,
            "device": self.device,
            "min_size_frac": self.min_size_frac,
            "work_size": self.work_size,
            "thresholds": list(self.thresholds),
            "roll_retry_deg": list(self.roll_retry_deg),
            "score": "O-Net face probability (0-1)",
        }


def make_detector(spec: str | os.PathLike[str] | None = None) -> FaceDetector:
    """Build a face detector from a short spec.

    Parameters
    ----------
    spec : str or Path, optional — ``None`` or ``"haar"`` for the default Haar cascade,
        ``"mtcnn"`` for the shipped CNN detector (``"mtcnn:cuda"`` runs it on a GPU), or the path
        of a YuNet ``.onnx`` model file

    Raises
    ------
    FileNotFoundError
        The named model file does not exist (or the Haar cascade is not installed).
    ValueError
        The spec is neither ``"haar"``, ``"mtcnn"`` nor a loadable ``.onnx`` file.
    core.faces.mtcnn.WeightsError
        ``"mtcnn"`` and its shipped weights file is missing or damaged.
    """
    key = "" if spec is None else str(spec).strip().lower()
    if spec is None or key in ("", "haar", "default"):
        return HaarFaceDetector()
    if key == "mtcnn" or key.startswith("mtcnn:"):
        return MtcnnFaceDetector(device=key.partition(":")[2] or "cpu")
    path = Path(spec)
    if path.suffix.lower() == ".onnx" or path.is_file():
        return OnnxFaceDetector(path)
    raise ValueError(
        f"unknown face detector {str(spec)!r}: use 'haar', 'mtcnn' or the path of a .onnx model"
    )
