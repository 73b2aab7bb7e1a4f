"""MTCNN face detection: three small convolutional networks in a cascade, on shipped weights.

MTCNN (Zhang, Zhang, Li and Qiao, "Joint Face Detection and Alignment Using Multitask Cascaded
Convolutional Networks", IEEE SPL 2016) finds faces in three stages:

1. **P-Net** (proposal), fully convolutional, slides a 12×12 window (stride 2) over an image
   pyramid; each window gets a face probability and a box correction;
2. **R-Net** (refine) re-scores each surviving proposal from a 24×24 crop and corrects its box;
3. **O-Net** (output) does the same from a 48×48 crop and adds five landmarks (the eyes, the nose
   tip and the mouth corners).

Between stages, boxes are made square, corrected by the regression outputs and thinned by
non-maximum suppression (NMS). The networks are written here as plain functions of a dict of
tensors (``torch.nn.functional``), so the weights are plain tensors loaded with
``weights_only=True``. The trained weights are those shipped in the ``facenet-pytorch`` wheel
(MIT licence), combined into ``resources/models/faces/mtcnn.pt`` by
``tools/vendor_face_weights.py``; ``resources/models/faces/README.md`` says more.

Weight-format facts this code relies on: inputs are RGB scaled as ``(pixel − 127.5) / 128``; the
classification heads give two logits (background, face); the fully connected layers of R-Net and
O-Net read their input flattened in (width, height, channel) order; O-Net's landmark head gives
the five x coordinates, then the five y coordinates, as fractions of the box.

torch is imported inside functions so that ``import core`` stays light. torchvision is not used:
RoIAlign and the batched NMS are written here (:func:`roi_align`, :func:`batched_nms`), so the
detector runs on the CPU-only torch builds, which no torchvision wheel on the index fits.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from core.resources import resource_path

if TYPE_CHECKING:
    import torch

WEIGHTS_FILE = resource_path("models", "faces", "mtcnn.pt")
#: SHA-256 of the shipped weights file (``tools/vendor_face_weights.py`` prints it).
WEIGHTS_SHA256 = "21fc591ed3ef9375af24d91998862945ce819446da807c3fc54bc6c7c14936e3"

#: Every tensor the three networks need, with its shape.
WEIGHT_SHAPES: dict[str, tuple[int, ...]] = {
    "pnet.conv1.weight": (10, 3, 3, 3), "pnet.conv1.bias": (10,), "pnet.prelu1.weight": (10,),
    "pnet.conv2.weight": (16, 10, 3, 3), "pnet.conv2.bias": (16,), "pnet.prelu2.weight": (16,),
    "pnet.conv3.weight": (32, 16, 3, 3), "pnet.conv3.bias": (32,), "pnet.prelu3.weight": (32,),
    "pnet.conv4_1.weight": (2, 32, 1, 1), "pnet.conv4_1.bias": (2,),
    "pnet.conv4_2.weight": (4, 32, 1, 1), "pnet.conv4_2.bias": (4,),
    "rnet.conv1.weight": (28, 3, 3, 3), "rnet.conv1.bias": (28,), "rnet.prelu1.weight": (28,),
    "rnet.conv2.weight": (48, 28, 3, 3), "rnet.conv2.bias": (48,), "rnet.prelu2.weight": (48,),
    "rnet.conv3.weight": (64, 48, 2, 2), "rnet.conv3.bias": (64,), "rnet.prelu3.weight": (64,),
    "rnet.dense4.weight": (128, 576), "rnet.dense4.bias": (128,), "rnet.prelu4.weight": (128,),
    "rnet.dense5_1.weight": (2, 128), "rnet.dense5_1.bias": (2,),
    "rnet.dense5_2.weight": (4, 128), "rnet.dense5_2.bias": (4,),
    "onet.conv1.weight": (32, 3, 3, 3), "onet.conv1.bias": (32,), "onet.prelu1.weight": (32,),
    "onet.conv2.weight": (64, 32, 3, 3), "onet.conv2.bias": (64,), "onet.prelu2.weight": (64,),
    "onet.conv3.weight": (64, 64, 3, 3), "onet.conv3.bias": (64,), "onet.prelu3.weight": (64,),
    "onet.conv4.weight": (128, 64, 2, 2), "onet.conv4.bias": (128,), "onet.prelu4.weight": (128,),
    "onet.dense5.weight": (256, 1152), "onet.dense5.bias": (256,), "onet.prelu5.weight": (256,),
    "onet.dense6_1.weight": (2, 256), "onet.dense6_1.bias": (2,),
    "onet.dense6_2.weight": (4, 256), "onet.dense6_2.bias": (4,),
    "onet.dense6_3.weight": (10, 256), "onet.dense6_3.bias": (10,),
}  # fmt: skip

_PNET_STRIDE, _PNET_CELL = 2, 12


class WeightsError(RuntimeError):
    """The MTCNN weights file is missing, unreadable or not the expected set of tensors."""


def load_weights(path: str | Path = WEIGHTS_FILE, device: str = "cpu") -> dict[str, torch.Tensor]:
    """The three networks' tensors from ``path`` (a ``.pt`` dict of plain tensors).

    Raises
    ------
    WeightsError
        The file is missing, is not a tensor dict ``torch.load(weights_only=True)`` accepts, or
        lacks a tensor / has one of the wrong shape. The message names the file and the remedy.
    """
    import torch

    path = Path(path)
    remedy = (
        "reinstall TheraScope, or rebuild the file with tools/vendor_face_weights.py "
        "(see resources/models/faces/README.md)"
    )
    if not path.is_file():
        raise WeightsError(f"MTCNN face weights not found: {str(path)!r}; {remedy}")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises several kinds for a damaged or foreign file
        raise WeightsError(
            f"MTCNN face weights {str(path)!r} could not be read ({type(exc).__name__}: "
            f"{str(exc).strip().splitlines()[0] if str(exc).strip() else 'no detail'}); {remedy}"
        ) from exc
    if not isinstance(state, dict):
        raise WeightsError(f"MTCNN face weights {str(path)!r} hold no tensor dict; {remedy}")
    out: dict[str, torch.Tensor] = {}
    for key, shape in WEIGHT_SHAPES.items():
        t = state.get(key)
        if not isinstance(t, torch.Tensor) or tuple(t.shape) != shape:
            found = tuple(t.shape) if isinstance(t, torch.Tensor) else "missing"
            raise WeightsError(
                f"MTCNN face weights {str(path)!r}: tensor {key!r} is {found}, expected "
                f"{shape}; {remedy}"
            )
        out[key] = t.to(device=device, dtype=torch.float32)
    return out


def _conv_prelu(x: torch.Tensor, w: dict[str, torch.Tensor], net: str, i: int) -> torch.Tensor:
    import torch.nn.functional as F

    x = F.conv2d(x, w[f"{net}.conv{i}.weight"], w[f"{net}.conv{i}.bias"])
    return F.prelu(x, w[f"{net}.prelu{i}.weight"])


def _dense(x: torch.Tensor, w: dict[str, torch.Tensor], name: str) -> torch.Tensor:
    import torch.nn.functional as F

    return F.linear(x, w[f"{name}.weight"], w[f"{name}.bias"])


def _flatten_whc(x: torch.Tensor) -> torch.Tensor:
    """(N, C, H, W) → (N, W·H·C), the order the dense layers were trained on."""
    return x.permute(0, 3, 2, 1).reshape(x.shape[0], -1)


def pnet(x: torch.Tensor, w: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """P-Net on normalised images (N, 3, H, W): face probability (N, H', W'), box offsets."""
    import torch.nn.functional as F

    x = _conv_prelu(x, w, "pnet", 1)
    x = F.max_pool2d(x, 2, 2, ceil_mode=True)
    x = _conv_prelu(x, w, "pnet", 2)
    x = _conv_prelu(x, w, "pnet", 3)
    logits = F.conv2d(x, w["pnet.conv4_1.weight"], w["pnet.conv4_1.bias"])
    reg = F.conv2d(x, w["pnet.conv4_2.weight"], w["pnet.conv4_2.bias"])
    return F.softmax(logits, dim=1)[:, 1], reg


def rnet(x: torch.Tensor, w: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """R-Net on normalised 24×24 crops (N, 3, 24, 24): face probability (N,), offsets (N, 4)."""
    import torch.nn.functional as F

    x = F.max_pool2d(_conv_prelu(x, w, "rnet", 1), 3, 2, ceil_mode=True)
    x = F.max_pool2d(_conv_prelu(x, w, "rnet", 2), 3, 2, ceil_mode=True)
    x = _flatten_whc(_conv_prelu(x, w, "rnet", 3))
    x = F.prelu(_dense(x, w, "rnet.dense4"), w["rnet.prelu4.weight"])
    prob = F.softmax(_dense(x, w, "rnet.dense5_1"), dim=1)[:, 1]
    return prob, _dense(x, w, "rnet.dense5_2")


def onet(
    x: torch.Tensor, w: dict[str, torch.Tensor]
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """O-Net on normalised 48×48 crops: face probability (N,), offsets (N, 4), landmarks (N, 10)."""
    import torch.nn.functional as F

    x = F.max_pool2d(_conv_prelu(x, w, "onet", 1), 3, 2, ceil_mode=True)
    x = F.max_pool2d(_conv_prelu(x, w, "onet", 2), 3, 2, ceil_mode=True)
    x = F.max_pool2d(_conv_prelu(x, w, "onet", 3), 2, 2, ceil_mode=True)
    x = _flatten_whc(_conv_prelu(x, w, "onet", 4))
    x = F.prelu(_dense(x, w, "onet.dense5"), w["onet.prelu5.weight"])
    prob = F.softmax(_dense(x, w, "onet.dense6_1"), dim=1)[:, 1]
    return prob, _dense(x, w, "onet.dense6_2"), _dense(x, w, "onet.dense6_3")


@dataclass(frozen=True)
class Detections:
    """MTCNN's faces in one image, best first.

    Parameters
    ----------
    boxes : ndarray (N, 4) — x1, y1, x2, y2 in pixels
    scores : ndarray (N,) — O-Net face probability (0–1)
    landmarks : ndarray (N, 5, 2) — (x, y) of the image-left eye, the image-right eye, the nose
        tip, the image-left and image-right mouth corner
    """

    boxes: np.ndarray
    scores: np.ndarray
    landmarks: np.ndarray


def pyramid_scales(height: int, width: int, min_face: float, factor: float) -> list[float]:
    """Scales at which P-Net's 12-px window covers faces from ``min_face`` px up to the image."""
    m = _PNET_CELL / min_face
    side = min(height, width) * m
    scales = []
    while side >= _PNET_CELL:
        scales.append(m)
        m *= factor
        side *= factor
    return scales


def nms(boxes: np.ndarray, scores: np.ndarray, threshold: float, mode: str = "union") -> np.ndarray:
    """Indices kept by greedy non-maximum suppression, best score first.

    ``mode`` "union" compares intersection over union; "min" intersection over the smaller box
    (drops a small box inside a larger one).
    """
    order = np.argsort(-scores, kind="stable")
    x1, y1, x2, y2 = boxes.T
    area = np.maximum(x2 - x1, 0) * np.maximum(y2 - y1, 0)
    keep = []
    while order.size:
        i, rest = order[0], order[1:]
        keep.append(i)
        iw = np.maximum(np.minimum(x2[i], x2[rest]) - np.maximum(x1[i], x1[rest]), 0)
        ih = np.maximum(np.minimum(y2[i], y2[rest]) - np.maximum(y1[i], y1[rest]), 0)
        inter = iw * ih
        denom = np.minimum(area[i], area[rest]) if mode == "min" else area[i] + area[rest] - inter
        overlap = inter / np.maximum(denom, 1e-9)
        order = rest[overlap <= threshold]
    return np.asarray(keep, dtype=np.int64)


def batched_nms(
    boxes: np.ndarray, scores: np.ndarray, groups: np.ndarray, threshold: float
) -> np.ndarray:
    """:func:`nms` (intersection over union) within each group apart; kept indices, best first.

    What ``torchvision.ops.batched_nms`` does (tested against it where torchvision is installed;
    torchvision shifts the groups apart in one call, which can round an overlap differently at
    the threshold's edge); here so that torchvision is not needed.
    """
    keep = [
        members[nms(boxes[members], scores[members], threshold)]
        for members in (np.flatnonzero(groups == g) for g in np.unique(groups))
    ]
    if not keep:
        return np.zeros(0, dtype=np.int64)
    kept = np.concatenate(keep)
    return kept[np.argsort(-scores[kept], kind="stable")]


def _square(boxes: np.ndarray) -> np.ndarray:
    """Boxes grown to squares about their centres (side = the longer side)."""
    out = boxes.copy()
    w, h = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    side = np.maximum(w, h)
    out[:, 0] = boxes[:, 0] + 0.5 * (w - side)
    out[:, 1] = boxes[:, 1] + 0.5 * (h - side)
    out[:, 2], out[:, 3] = out[:, 0] + side, out[:, 1] + side
    return out


def _regress(boxes: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Boxes moved by offsets given as fractions of their width and height (x1, y1, x2, y2)."""
    w, h = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    return boxes + offsets * np.stack([w, h, w, h], axis=1)


def _crops(
    image: torch.Tensor, boxes: np.ndarray, size: int, frame_ids: np.ndarray | None = None
) -> torch.Tensor:
    """``size``×``size`` crops of ``boxes`` from the raw (N, 3, H, W) images, normalised.

    ``frame_ids`` gives each box's image (index into N); without it every box is from image 0.
    Outside the image the crop is black (0) before normalisation, as the networks were trained.
    """
    import torch

    rois = torch.as_tensor(boxes, dtype=torch.float32, device=image.device)
    if frame_ids is None:
        first = torch.zeros_like(rois[:, :1])
    else:
        first = torch.as_tensor(frame_ids, dtype=torch.float32, device=image.device)[:, None]
    rois = torch.cat([first, rois], dim=1)
    crops = roi_align(image, rois, size)
    return (crops - 127.5) * 0.0078125


#: boxes whose interpolation matrices :func:`roi_align` builds at once (bounds memory)
_ROI_CHUNK = 128


def roi_align(image: torch.Tensor, rois: torch.Tensor, size: int) -> torch.Tensor:
    """RoIAlign (He et al., Mask R-CNN, 2017) in plain torch: (K, C, size, size) crops.

    The same as ``torchvision.ops.roi_align(image, rois, (size, size), spatial_scale=1.0,
    sampling_ratio=-1, aligned=False)`` (equal to float rounding; tested where torchvision is
    installed), which MTCNN's crops were made with: each of the size×size bins of a box averages
    ceil(bin side) × ceil(bin side) bilinear samples at the centres of a regular grid in the bin;
    a sample more than one pixel outside the image counts as 0, one within a pixel of the edge
    takes the edge's value; a box side under 1 pixel counts as 1. Written here so that
    torchvision, which the CPU-only torch builds cannot load, is not needed.

    Bilinear sampling and the average over a bin are separable, so each crop is
    ``Y @ window @ X.T`` with ``Y`` (size × rows) and ``X`` (size × columns) the averaged
    interpolation weights over the box's window of the image.

    Parameters
    ----------
    image : (N, C, H, W) float tensor
    rois : (K, 5) float tensor of (image index, x1, y1, x2, y2) in pixels, on image's device
    size : int — side of the output crops
    """
    import torch

    _, c, h, w = image.shape
    k = rois.shape[0]
    out = image.new_zeros((k, c, size, size))
    rois = rois.to(torch.float32)
    for a in range(0, k, _ROI_CHUNK):
        part = rois[a : a + _ROI_CHUNK]
        x1, y1 = part[:, 1], part[:, 2]
        side_w = torch.clamp(part[:, 3] - x1, min=1.0)
        side_h = torch.clamp(part[:, 4] - y1, min=1.0)
        ys = _roi_weights(y1, side_h / size, size, h)
        xs = _roi_weights(x1, side_w / size, size, w)
        # the image window each box's samples (and their neighbours) fall in
        top = torch.clamp(torch.floor(y1), 0, h - 1).long().tolist()
        bottom = torch.clamp(torch.floor(y1 + side_h) + 2, 1, h).long().tolist()
        left = torch.clamp(torch.floor(x1), 0, w - 1).long().tolist()
        right = torch.clamp(torch.floor(x1 + side_w) + 2, 1, w).long().tolist()
        frames = part[:, 0].long().tolist()
        for j, f in enumerate(frames):
            t, b, lft, r = top[j], max(bottom[j], top[j] + 1), left[j], max(right[j], left[j] + 1)
            window = image[f, :, t:b, lft:r]
            out[a + j] = ys[j, :, t:b] @ window @ xs[j, :, lft:r].T
    return out


def _roi_weights(
    start: torch.Tensor, bin_size: torch.Tensor, size: int, limit: int
) -> torch.Tensor:
    """(K, size, limit): for each box and bin along one axis, the weight of each pixel line."""
    import torch

    grid = torch.ceil(bin_size).long().clamp(min=1)
    k = len(start)
    m = start.new_zeros((k * size * limit,))
    for g in torch.unique(grid).tolist():
        sel = torch.nonzero(grid == g).flatten()
        low, high, w_low, w_high = _roi_axis(start[sel], bin_size[sel], size, g, limit)
        # row (box, bin) of each sample, in _roi_axis's (bin, sample) order
        rows = sel[:, None] * size + torch.arange(size, device=start.device).repeat_interleave(g)
        base = rows * limit
        m.index_add_(0, (base + low).flatten(), (w_low / g).flatten())
        m.index_add_(0, (base + high).flatten(), (w_high / g).flatten())
    return m.view(k, size, limit)


def _roi_axis(
    start: torch.Tensor, bin_size: torch.Tensor, size: int, grid: int, limit: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Along one axis, for each box: the sample points' two neighbours and their weights.

    Returns (low, high, weight of low, weight of high), each (K, size * grid); the weights are 0
    for a point more than one pixel outside [0, limit - 1].
    """
    import torch

    p = torch.arange(size, dtype=torch.float32, device=start.device)
    i = torch.arange(grid, dtype=torch.float32, device=start.device) + 0.5
    b = bin_size[:, None, None]
    # torchvision's order of operations: start + p * bin + ((i + .5) * bin) / grid
    at = start[:, None, None] + p[None, :, None] * b + (i[None, None, :] * b) / grid
    at = at.reshape(len(start), size * grid)
    inside = ((at >= -1.0) & (at <= limit)).to(torch.float32)
    at = at.clamp(min=0.0)
    low = at.long()
    edge = low >= limit - 1
    low = torch.where(edge, torch.full_like(low, limit - 1), low)
    high = torch.where(edge, low, low + 1)
    at = torch.where(edge, low.to(torch.float32), at)
    frac = at - low.to(torch.float32)
    return low, high, (1.0 - frac) * inside, frac * inside


def _no_faces() -> Detections:
    return Detections(np.zeros((0, 4)), np.zeros(0), np.zeros((0, 5, 2)))


def _pnet_boxes(cand: torch.Tensor, scale_ids: torch.Tensor) -> np.ndarray:
    """One image's P-Net candidates → the squared boxes R-Net looks at.

    ``cand`` rows are x1, y1, x2, y2, four box offsets and the face probability; ``scale_ids``
    the pyramid level of each row. NMS within each level (IoU 0.5), then across levels (0.7),
    then the boxes are corrected and made square.
    """
    c32 = cand.cpu().numpy()
    keep = batched_nms(c32[:, :4], c32[:, 8], scale_ids.cpu().numpy(), 0.5)
    c = c32[keep].astype(np.float64)
    c = c[nms(c[:, :4], c[:, 8], 0.7)]
    return _square(_regress(c[:, :4], c[:, 4:8]))


def _rnet_boxes(
    boxes: np.ndarray, ok: np.ndarray, prob: np.ndarray, reg: np.ndarray
) -> np.ndarray | None:
    """One image's boxes after R-Net (``ok``: passed its threshold): NMS, correct, square.

    None when no box passed.
    """
    if not ok.any():
        return None
    boxes, score, off = boxes[ok], prob[ok], reg[ok]
    keep = nms(boxes, score, 0.7)
    return _square(_regress(boxes[keep], off[keep]))


def _onet_faces(
    boxes: np.ndarray, ok: np.ndarray, prob: np.ndarray, reg: np.ndarray, marks: np.ndarray
) -> Detections:
    """One image's faces from O-Net's outputs (``ok``: passed its threshold)."""
    if not ok.any():
        return _no_faces()
    boxes, score = boxes[ok], prob[ok].astype(np.float64)
    off, pts = reg[ok], marks[ok].astype(np.float64)
    bw, bh = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    lm = np.stack(
        [boxes[:, :1] + bw[:, None] * pts[:, :5], boxes[:, 1:2] + bh[:, None] * pts[:, 5:]], axis=2
    )
    boxes = _regress(boxes, off)
    keep = nms(boxes, score, 0.7, mode="min")
    return Detections(boxes[keep], score[keep], lm[keep])


def detect_faces(
    image_rgb: np.ndarray,
    weights: dict[str, torch.Tensor],
    min_face: float = 20.0,
    factor: float = 0.709,
    thresholds: tuple[float, float, float] = (0.6, 0.7, 0.7),
) -> Detections:
    """Run the three-stage cascade on one (H, W, 3) uint8 RGB image.

    Parameters
    ----------
    image_rgb : ndarray (H, W, 3) uint8, RGB order
    weights : dict — from :func:`load_weights` (its device is the device used)
    min_face : float — smallest face side (pixels) searched for; ≥ 12
    factor : float — pyramid step (0 < factor < 1)
    thresholds : three floats — face probability needed to pass P-Net, R-Net and O-Net

    Returns
    -------
    Detections — empty arrays when there is no face
    """
    import torch
    import torch.nn.functional as F

    h, w = image_rgb.shape[:2]
    device = weights["pnet.conv1.weight"].device
    with torch.inference_mode():
        raw = torch.from_numpy(np.ascontiguousarray(image_rgb)).to(device)
        raw = raw.permute(2, 0, 1).unsqueeze(0).to(torch.float32)
        norm = (raw - 127.5) * 0.0078125
        props, scale_ids = [], []
        for k, s in enumerate(pyramid_scales(h, w, max(min_face, 12.0), factor)):
            size = (math.ceil(h * s), math.ceil(w * s))
            prob, reg = pnet(F.interpolate(norm, size=size, mode="area"), weights)
            yy, xx = torch.nonzero(prob[0] >= thresholds[0], as_tuple=True)
            if yy.numel() == 0:
                continue
            cells = torch.stack([xx, yy], dim=1).to(torch.float32)
            q1 = (_PNET_STRIDE * cells) / s
            q2 = (_PNET_STRIDE * cells + _PNET_CELL) / s
            score = prob[0, yy, xx]
            props.append(torch.cat([q1, q2, reg[0, :, yy, xx].T, score[:, None]], dim=1))
            scale_ids.append(torch.full((yy.numel(),), k, device=device))
        if not props:
            return _no_faces()
        boxes = _pnet_boxes(torch.cat(props), torch.cat(scale_ids))

        prob, reg = rnet(_crops(raw, boxes, 24), weights)
        ok = (prob >= thresholds[1]).cpu().numpy()
        refined = _rnet_boxes(boxes, ok, prob.cpu().numpy(), reg.cpu().numpy())
        if refined is None:
            return _no_faces()

        prob, reg, marks = onet(_crops(raw, refined, 48), weights)
        ok = (prob >= thresholds[2]).cpu().numpy()
        probs, regs, pts = prob.cpu().numpy(), reg.cpu().numpy(), marks.cpu().numpy()
    return _onet_faces(refined, ok, probs, regs, pts)


def detect_faces_batch(
    images_rgb: Sequence[np.ndarray],
    weights: dict[str, torch.Tensor],
    min_face: float = 20.0,
    factor: float = 0.709,
    thresholds: tuple[float, float, float] = (0.6, 0.7, 0.7),
    device: str | torch.device | None = None,
    max_crops: int = 2048,
) -> list[Detections]:
    """:func:`detect_faces` on many images at once: each network runs once per batch.

    For every pyramid scale all images of one size are resized together and P-Net runs once on
    the stack; R-Net and O-Net each run on all images' crops together (at most ``max_crops``
    crops per call). Candidates keep their image's index, and the NMS and box steps between the
    networks are done per image exactly as :func:`detect_faces` does them, so the result for each
    image is :func:`detect_faces`' result for it (on the CPU equal up to float rounding of the
    batched network arithmetic: boxes within 1e-3 px, scores within 1e-5 in the tests).

    Parameters
    ----------
    images_rgb : sequence of ndarray (H, W, 3) uint8, RGB order — images of different sizes are
        grouped by size and each group is batched on its own
    weights : dict — from :func:`load_weights` (moved to ``device`` when they live elsewhere)
    min_face, factor, thresholds — as for :func:`detect_faces`
    device : str or torch.device, optional — where the networks run ("cpu", "cuda"); by default
        the device of ``weights``
    max_crops : int — most R-Net / O-Net crops per network call (bounds memory)

    Returns
    -------
    list of Detections — one per image, in the order given (empty list for no images)

    Raises
    ------
    ValueError
        An image is not (H, W, 3), or ``max_crops`` is below 1.

    Notes
    -----
    Memory grows with the number of images, which the caller bounds: the stacked images (raw
    and normalised, 24 bytes a pixel) and P-Net's first-scale activations (80 bytes a pixel
    times ``(12 / min_face)²``), some 0.5 GB for 32 frames of 640×480 at ``min_face`` 20. The
    NMS between the networks runs per image on the CPU (in Python, as in :func:`detect_faces`);
    P-Net's candidates leave the device in one copy per batch.
    """
    import torch

    if max_crops < 1:
        raise ValueError(f"max_crops must be at least 1, got {max_crops}")
    groups: dict[tuple[int, int], list[int]] = {}
    for i, img in enumerate(images_rgb):
        shape = np.shape(img)
        if len(shape) != 3 or shape[2] != 3:
            raise ValueError(f"image {i} is {shape}, expected (H, W, 3) RGB")
        groups.setdefault((int(shape[0]), int(shape[1])), []).append(i)
    if not groups:
        return []
    dev = torch.device(device) if device is not None else weights["pnet.conv1.weight"].device
    w = {k: v.to(dev) for k, v in weights.items()}
    out: list[Detections] = [_no_faces()] * len(images_rgb)
    for members in groups.values():
        found = _detect_same_size(
            [images_rgb[i] for i in members], w, dev, min_face, factor, thresholds, max_crops
        )
        for i, d in zip(members, found, strict=True):
            out[i] = d
    return out


def _run_on_crops(
    net: Any,
    raw: torch.Tensor,
    boxes: np.ndarray,
    frame_ids: np.ndarray,
    size: int,
    weights: dict[str, torch.Tensor],
    threshold: float,
    max_crops: int,
) -> tuple[np.ndarray, ...]:
    """``net`` on all boxes' crops, ``max_crops`` at a time: (passed threshold, *outputs) on CPU."""
    import torch

    parts = [
        net(_crops(raw, boxes[a : a + max_crops], size, frame_ids[a : a + max_crops]), weights)
        for a in range(0, len(boxes), max_crops)
    ]
    outs = [torch.cat([p[j] for p in parts]) for j in range(len(parts[0]))]
    ok = (outs[0] >= threshold).cpu().numpy()
    return (ok, *(t.cpu().numpy() for t in outs))


def _detect_same_size(
    images: list[np.ndarray],
    weights: dict[str, torch.Tensor],
    device: torch.device,
    min_face: float,
    factor: float,
    thresholds: tuple[float, float, float],
    max_crops: int,
) -> list[Detections]:
    """:func:`detect_faces_batch` for images of one size (weights already on ``device``)."""
    import torch
    import torch.nn.functional as F

    n = len(images)
    h, w = images[0].shape[:2]
    out = [_no_faces() for _ in range(n)]
    with torch.inference_mode():
        raw = torch.from_numpy(np.stack([np.asarray(im) for im in images])).to(device)
        # plain (N, C, H, W) layout, not the channels-last strides detect_faces' permute leaves:
        # roi_align copies a channels-last input on every call, and the batched area resize is
        # slower on it (results agree to float rounding)
        raw = raw.permute(0, 3, 1, 2).to(torch.float32).contiguous()
        norm = (raw - 127.5) * 0.0078125
        props, frame_of, scale_of = [], [], []
        for k, s in enumerate(pyramid_scales(h, w, max(min_face, 12.0), factor)):
            size = (math.ceil(h * s), math.ceil(w * s))
            prob, reg = pnet(F.interpolate(norm, size=size, mode="area"), weights)
            ii, yy, xx = torch.nonzero(prob >= thresholds[0], as_tuple=True)
            if ii.numel() == 0:
                continue
            cells = torch.stack([xx, yy], dim=1).to(torch.float32)
            q1 = (_PNET_STRIDE * cells) / s
            q2 = (_PNET_STRIDE * cells + _PNET_CELL) / s
            score = prob[ii, yy, xx]
            offsets = reg.permute(0, 2, 3, 1)[ii, yy, xx]
            props.append(torch.cat([q1, q2, offsets, score[:, None]], dim=1))
            frame_of.append(ii)
            scale_of.append(torch.full((ii.numel(),), k, device=device))
        if not props:
            return out
        # one copy off the device; a stable sort keeps each image's rows in scale, then raster
        # order, the order detect_faces sees them in
        cand, fids, sids = (torch.cat(t).cpu() for t in (props, frame_of, scale_of))
        order = torch.argsort(fids, stable=True)
        cand, sids = cand[order], sids[order]
        counts = torch.bincount(fids, minlength=n).tolist()
        stage: dict[int, np.ndarray] = {}
        start = 0
        for i, c in enumerate(counts):
            if c:
                stage[i] = _pnet_boxes(cand[start : start + c], sids[start : start + c])
            start += c

        for j, (net, side) in enumerate(((rnet, 24), (onet, 48))):
            frames = list(stage)
            if not frames:
                return out
            boxes = np.concatenate([stage[i] for i in frames])
            ids = np.repeat(frames, [len(stage[i]) for i in frames])
            ok, *res = _run_on_crops(
                net, raw, boxes, ids, side, weights, thresholds[1 + j], max_crops
            )
            nxt: dict[int, np.ndarray] = {}
            start = 0
            for i in frames:
                sl = slice(start, start + len(stage[i]))
                start = sl.stop
                if net is rnet:
                    refined = _rnet_boxes(stage[i], ok[sl], res[0][sl], res[1][sl])
                    if refined is not None:
                        nxt[i] = refined
                else:
                    out[i] = _onet_faces(stage[i], ok[sl], res[0][sl], res[1][sl], res[2][sl])
            stage = nxt
    return out


@functools.lru_cache(maxsize=4)
def cached_weights(path: str, device: str) -> Any:
    """:func:`load_weights`, loaded once per (file, device) and shared (read-only use)."""
    return load_weights(path, device)
