"""Spatial Network: face crop -> feature vector (paper Sec. III-B: a pretrained ResNet-50).

Backbones
---------
``"resnet50"``
    ResNet-50 without its classifier, 2048 features (the paper's choice).
``"resnet18"``
    ResNet-18 without its classifier, 512 features (cheaper; same weights options).

Both are :mod:`core.models.resnet`: plain torch with torchvision's parameter names, so checkpoints
and weight files in torchvision's format load unchanged, and torchvision is not needed to run
(the CPU-only torch cannot be paired with it).
``"small"``
    A small CNN of our own, 256 features, for the demo model and fast tests. Never pretrained.

Weights
-------
``"imagenet"``
    torchvision's ImageNet weights (``ResNet50_Weights.DEFAULT`` / ``ResNet18_Weights.DEFAULT``,
    the files :data:`core.models.resnet.IMAGENET_URLS` names), downloaded once into torch's hub
    cache. If that fails (no internet, bad hash) the network keeps
    its random init and a warning says it is untrained for faces.
``"none"``
    torchvision's random init (Kaiming normal; our He-uniform init for ``"small"``).
a path
    A local state dict in torchvision's format (``torch.save(resnet.state_dict(), path)``), read
    with ``weights_only=True`` so it cannot run code. Classifier (``fc.*``) entries are ignored;
    everything else must match exactly.

Inputs are RGB crops of shape (N, 3, H, W), float, normalised with ``IMAGENET_MEAN`` and
``IMAGENET_STD`` (per channel, after scaling pixel values to [0, 1]). All backbones end in global
average pooling, so any H, W of about 64 or more works; 224 is torchvision's default for the ResNets
and 112 suits the small one. ``torch.channels_last`` inputs are supported.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Mapping
from pathlib import Path

import torch
from torch import Tensor, nn

from core.faces.detect import IMAGENET_MEAN_RGB, IMAGENET_STD_RGB
from core.models import resnet
from core.models._init import he_uniform_

log = logging.getLogger(__name__)

BACKBONES = ("resnet50", "resnet18", "small")
# one definition of the normalisation, shared with the crop pipeline (core.faces.detect has no torch)
IMAGENET_MEAN = IMAGENET_MEAN_RGB
IMAGENET_STD = IMAGENET_STD_RGB
SMALL_CHANNELS = (32, 64, 128, 256)

_FEATURES = {"resnet50": 2048, "resnet18": 512, "small": SMALL_CHANNELS[-1]}


class UntrainedBackboneWarning(UserWarning):
    """ImageNet weights were asked for but could not be had: the face branch starts untrained."""


def _small_cnn() -> nn.Sequential:
    layers: list[nn.Module] = []
    c_in = 3
    for c_out in SMALL_CHANNELS:
        # Stride-2 3x3 blocks: each halves the resolution, so 112 px ends at 7 x 7 before pooling.
        layers += [
            nn.Conv2d(c_in, c_out, kernel_size=3, stride=2, padding=1, bias=False),
            nn.BatchNorm2d(c_out),
            nn.ReLU(inplace=True),
        ]
        c_in = c_out
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(1)]
    net = nn.Sequential(*layers)
    he_uniform_(net)
    return net


def _imagenet_state_dict(backbone: str) -> Mapping[str, Tensor] | None:
    try:
        state = resnet.imagenet_state_dict(backbone)
    except (OSError, RuntimeError, ValueError) as exc:
        # URLError is an OSError; a corrupt download fails the hash check with a RuntimeError.
        msg = (
            f"ImageNet weights for {backbone} could not be loaded ({exc}); the face network "
            "starts from random weights and is UNTRAINED for faces until you train it. Put the "
            "weights file in torch's hub cache or pass its path as the backbone weights."
        )
        log.warning(msg)
        warnings.warn(msg, UntrainedBackboneWarning, stacklevel=3)
        return None
    return state


def _load_local(net: nn.Module, path: Path, *, drop_fc: bool) -> None:
    if not path.is_file():
        raise FileNotFoundError(f"backbone weights file not found: {path}")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises several types for corrupt or code-carrying files
        raise ValueError(f"cannot read backbone weights {path}: {exc}") from exc
    if not isinstance(state, Mapping) or not all(isinstance(v, Tensor) for v in state.values()):
        raise ValueError(f"{path} is not a state dict (a mapping of names to tensors)")
    if drop_fc:
        state = {k: v for k, v in state.items() if not k.startswith("fc.")}
    _load_strict(net, state, source=str(path))


def _load_strict(net: nn.Module, state: Mapping[str, Tensor], *, source: str) -> None:
    own = net.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    shapes = [
        f"{k}: file {tuple(state[k].shape)} vs model {tuple(own[k].shape)}"
        for k in own
        if k in state and state[k].shape != own[k].shape
    ]
    problems = []
    if missing:
        problems.append(f"missing {len(missing)} (e.g. {', '.join(missing[:3])})")
    if unexpected:
        problems.append(f"unexpected {len(unexpected)} (e.g. {', '.join(unexpected[:3])})")
    if shapes:
        problems.append(f"{len(shapes)} shape mismatches (e.g. {'; '.join(shapes[:3])})")
    if problems:
        raise ValueError(f"weights in {source} do not fit the backbone: " + "; ".join(problems))
    net.load_state_dict(state, strict=True)


class SpatialNetwork(nn.Module):
    """Face feature extractor.

    Parameters
    ----------
    backbone
        ``"resnet50"`` (default, 2048 features), ``"resnet18"`` (512) or ``"small"`` (256).
    weights
        ``"imagenet"``, ``"none"`` or a path to a local state dict (see the module docstring).
    input_size
        Side of the square face crop in pixels the network is meant for (recorded for
        preprocessing; pooling makes the network itself size-agnostic).

    Attributes
    ----------
    out_features : int
        Length of the feature vector.
    pretrained : bool
        True when weights were loaded (ImageNet or a file), False for random init.
    """

    def __init__(
        self,
        backbone: str = "resnet50",
        weights: str | Path = "imagenet",
        input_size: int = 224,
    ) -> None:
        super().__init__()
        if backbone not in BACKBONES:
            raise ValueError(f"unknown backbone {backbone!r}; choose one of {BACKBONES}")
        self.backbone_name = backbone
        self.input_size = input_size
        self.out_features = _FEATURES[backbone]
        self.pretrained = False
        is_path = isinstance(weights, Path) or weights not in ("imagenet", "none")
        if backbone == "small":
            if weights == "imagenet":
                raise ValueError(
                    "the 'small' backbone has no ImageNet weights; use 'none' or a path"
                )
            self.net: nn.Module = _small_cnn()
            if is_path:
                _load_local(self.net, Path(weights), drop_fc=False)
                self.pretrained = True
            return
        net = resnet.resnet50() if backbone == "resnet50" else resnet.resnet18()
        # The classifier is dropped before loading; ImageNet's 1000-class head is of no use here.
        net.fc = nn.Identity()
        self.net = net
        if is_path:
            _load_local(self.net, Path(weights), drop_fc=True)
            self.pretrained = True
        elif weights == "imagenet":
            state = _imagenet_state_dict(backbone)
            if state is not None:
                _load_strict(
                    self.net,
                    {k: v for k, v in state.items() if not k.startswith("fc.")},
                    source=resnet.IMAGENET_URLS[backbone],
                )
                self.pretrained = True
                log.info("spatial network %s: ImageNet weights loaded", backbone)

    def forward(self, face: Tensor) -> Tensor:
        """Features of shape (N, out_features) from face crops of shape (N, 3, H, W)."""
        out: Tensor = self.net(face)
        return out
