"""What training and inference share at run time: the device, mixed precision and the face input.

torch is imported here at the top: only modules that run a model import this one.
"""

from __future__ import annotations

from typing import Any

import torch

from core.models.spatial import IMAGENET_MEAN, IMAGENET_STD


def pick_device(spec: str) -> torch.device:
    if spec == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(spec)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("CUDA was asked for, but this machine has no usable CUDA device")
    return dev


def autocast(device: torch.device, amp: str) -> Any:
    """bf16 autocast on CUDA (``amp="auto"``) or when asked (``"bf16"``); a no-op context otherwise."""
    use = amp == "bf16" or (amp == "auto" and device.type == "cuda")
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=use)


def faces_to_input(
    faces: torch.Tensor, device: torch.device, channels_last: bool = True
) -> torch.Tensor:
    """A batch of uint8 BGR crops (B, S, S, 3) → the model's normalised RGB input on ``device``.

    Returns
    -------
    Tensor (B, 3, S, S) float32 — ``(pixel / 255 − IMAGENET_MEAN) / IMAGENET_STD`` per RGB
    channel; channels-last memory on CUDA when ``channels_last`` (faster convolutions there)
    """
    x = faces.to(device, non_blocking=True).flip(-1).permute(0, 3, 1, 2).float()
    mean = torch.tensor(IMAGENET_MEAN, device=device).view(1, 3, 1, 1) * 255.0
    std = torch.tensor(IMAGENET_STD, device=device).view(1, 3, 1, 1) * 255.0
    x = (x - mean) / std
    fmt = (
        torch.channels_last if channels_last and device.type == "cuda" else torch.contiguous_format
    )
    return x.contiguous(memory_format=fmt)
