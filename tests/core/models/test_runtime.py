"""The run-time helpers training and inference share (core.models.runtime)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from core.faces.detect import IMAGENET_MEAN_RGB, IMAGENET_STD_RGB
from core.models.runtime import autocast, faces_to_input, pick_device


def test_faces_to_input_normalises_bgr_crops_like_imagenet() -> None:
    crops = torch.zeros((2, 8, 8, 3), dtype=torch.uint8)
    crops[0, ..., 2] = 255  # pure red in BGR
    x = faces_to_input(crops, torch.device("cpu"))
    assert x.shape == (2, 3, 8, 8) and x.dtype == torch.float32 and x.is_contiguous()
    mean, std = np.array(IMAGENET_MEAN_RGB), np.array(IMAGENET_STD_RGB)
    assert x[0, :, 0, 0].numpy() == pytest.approx(((1, 0, 0) - mean) / std, rel=1e-5)
    assert x[1, :, 3, 3].numpy() == pytest.approx(-mean / std, rel=1e-5)


def test_pick_device_and_autocast_on_the_cpu() -> None:
    assert pick_device("cpu").type == "cpu"
    assert pick_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match="no usable CUDA"):
            pick_device("cuda")
    with autocast(torch.device("cpu"), "auto"):  # off on the CPU unless asked
        assert torch.ones(2, 2).matmul(torch.ones(2, 2)).dtype == torch.float32
    with autocast(torch.device("cpu"), "bf16"):
        assert torch.ones(2, 2).matmul(torch.ones(2, 2)).dtype == torch.bfloat16
