"""What training and inference share at run time: the device, mixed precision and the face input.

torch is imported here at the top: only modules that run a model import this one.
"""

from __future__ import annotations

import re
from typing import Any

import torch

from core.models.spatial import IMAGENET_MEAN, IMAGENET_STD


class DeviceError(RuntimeError):
    """A device setting this computer cannot run on; the message, one line, names those it can."""


def _mps_available() -> bool:
    mps = getattr(torch.backends, "mps", None)
    return bool(mps is not None and mps.is_available())


def valid_devices() -> list[str]:
    """The device settings this computer runs on.

    Returns
    -------
    list of str — ``"auto"``, ``"cpu"``; with CUDA also ``"cuda"`` and ``"cuda:0"`` …
    ``"cuda:N-1"`` for its N GPUs; ``"mps"`` on a Mac with Metal
    """
    out = ["auto", "cpu"]
    if torch.cuda.is_available():
        out += ["cuda", *(f"cuda:{i}" for i in range(torch.cuda.device_count()))]
    if _mps_available():
        out.append("mps")
    return out


def describe_valid_devices() -> str:
    """One sentence naming :func:`valid_devices`, e.g. "Valid devices on this computer: auto,
    cpu (no CUDA GPU on this computer)"."""
    text = "Valid devices on this computer: " + ", ".join(valid_devices())
    if not torch.cuda.is_available():
        text += " (no CUDA GPU on this computer)"
    return text


def pick_device(spec: str) -> torch.device:
    """The device a setting means on this computer: the one check the command line, the GUI's
    settings, training and analysis share.

    Parameters
    ----------
    spec : str — ``"auto"`` (CUDA when there is a GPU, else the CPU), ``"cpu"``, ``"cuda"``,
        ``"cuda:N"`` or ``"mps"``; case and surrounding spaces do not matter

    Returns
    -------
    torch.device

    Raises
    ------
    DeviceError — (a RuntimeError) ``spec`` is no device, or one this computer lacks; the one-line
        message says which are valid here, and "no CUDA GPU on this computer" when there is none
    """
    key = spec.strip().lower() if isinstance(spec, str) else ""
    if key == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if key in valid_devices():
        return torch.device(key)
    valid = describe_valid_devices()
    if re.fullmatch(r"cuda(:\d+)?", key):
        if not torch.cuda.is_available():
            raise DeviceError(
                f"Device {spec!r} cannot be used: no CUDA GPU on this computer (no usable CUDA "
                f"device). Valid devices on this computer: auto, cpu"
                + (", mps" if _mps_available() else "")
            )
        n = torch.cuda.device_count()
        gpus = ", ".join(f"cuda:{i}" for i in range(n))
        raise DeviceError(
            f"Device {spec!r} cannot be used: this computer has {n} CUDA GPU"
            f"{'' if n == 1 else 's'} ({gpus}). {valid}"
        )
    if key == "mps":
        raise DeviceError(
            f"Device {spec!r} cannot be used: this computer has no Metal GPU. {valid}"
        )
    raise DeviceError(f"Unknown device {spec!r}. {valid}")


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
