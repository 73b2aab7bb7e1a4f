"""MTCNN's RoIAlign and batched NMS in plain torch/numpy equal torchvision's (where installed)."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from core.faces.mtcnn import batched_nms, nms, roi_align  # noqa: E402


def _rois(rng: np.random.Generator, k: int, frames: int, small: float, large: float) -> np.ndarray:
    xy = rng.uniform(-60, 660, (k, 2))
    side = rng.uniform(small, large, (k, 1)) * rng.uniform(0.8, 1.2, (k, 2))
    boxes = np.concatenate([xy, xy + side], 1)
    return np.concatenate([rng.integers(0, frames, (k, 1)), boxes], 1).astype(np.float32)


@pytest.mark.parametrize("size", [24, 48])
def test_roi_align_equals_torchvision(size: int) -> None:
    ops = pytest.importorskip("torchvision.ops")
    rng = np.random.default_rng(size)
    image = torch.as_tensor(rng.uniform(0, 255, (2, 3, 120, 160)), dtype=torch.float32)
    # boxes inside, across the edges and wholly outside; under a pixel, under a bin, large
    rois = torch.as_tensor(
        np.concatenate(
            [
                _rois(rng, 60, 2, 0.2, 4)[:, [0, 1, 2, 3, 4]] / [1, 4, 4, 4, 4],
                _rois(rng, 60, 2, 10, 60) / [1, 4, 4, 4, 4],
                _rois(rng, 20, 2, 100, 300) / [1, 4, 4, 4, 4],
                [[1, -5, -5, 200, 170], [0, 170, 130, 190, 150], [1, 0.5, 0.5, 0.7, 0.6]],
            ]
        ),
        dtype=torch.float32,
    )
    ours = roi_align(image, rois, size)
    theirs = ops.roi_align(image, rois, (size, size), spatial_scale=1.0, sampling_ratio=-1)
    torch.testing.assert_close(ours, theirs, rtol=1e-5, atol=5e-4)
    assert float(ours[-2].abs().max()) == 0.0  # wholly outside the image: black
    assert roi_align(image, rois[:0], size).shape == (0, 3, size, size)


def test_roi_align_of_a_whole_image_is_its_bin_average() -> None:
    # no torchvision needed: a box over a 4x4 image into 2x2 bins averages each quarter's
    # sample points, which sit at pixel centres here
    image = torch.arange(16, dtype=torch.float32).view(1, 1, 4, 4)
    out = roi_align(image, torch.tensor([[0.0, 0.0, 0.0, 4.0, 4.0]]), 2)
    grid = image[0, 0]
    samples = [[0.5, 1.5], [2.5, 3.5]]  # bin 0: y in {0.5, 1.5}; bin 1: y in {2.5, 3.5}

    def bilinear(y: float, x: float) -> float:
        y, x = min(y, 3.0), min(x, 3.0)
        y0, x0 = int(y), int(x)
        y1, x1 = min(y0 + 1, 3), min(x0 + 1, 3)
        ly, lx = y - y0, x - x0
        return float(
            (1 - ly) * (1 - lx) * grid[y0, x0] + (1 - ly) * lx * grid[y0, x1]
            + ly * (1 - lx) * grid[y1, x0] + ly * lx * grid[y1, x1]
        )  # fmt: skip

    for p in range(2):
        for q in range(2):
            want = np.mean([bilinear(y, x) for y in samples[p] for x in samples[q]])
            assert float(out[0, 0, p, q]) == pytest.approx(want, abs=1e-5)


def test_batched_nms_equals_torchvision() -> None:
    ops = pytest.importorskip("torchvision.ops")
    rng = np.random.default_rng(3)
    n = 1500
    corner = rng.uniform(0, 300, (n, 2))
    boxes = np.concatenate([corner, corner + rng.uniform(10, 80, (n, 1))], 1).astype(np.float32)
    scores = rng.random(n).astype(np.float32)
    groups = rng.integers(0, 8, n)
    ours = batched_nms(boxes, scores, groups, 0.5)
    theirs = ops.batched_nms(
        torch.as_tensor(boxes), torch.as_tensor(scores), torch.as_tensor(groups), 0.5
    ).numpy()
    assert np.array_equal(ours, theirs)


def test_batched_nms_keeps_groups_apart() -> None:
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [1, 1, 11, 11]], dtype=np.float32)
    scores = np.array([0.9, 0.8, 0.7], dtype=np.float32)
    assert batched_nms(boxes, scores, np.array([0, 0, 1]), 0.5).tolist() == [0, 2]
    assert nms(boxes, scores, 0.5).tolist() == [0]
    assert batched_nms(boxes[:0], scores[:0], np.zeros(0, dtype=int), 0.5).tolist() == []
