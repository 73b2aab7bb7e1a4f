"""ResNet-18 and ResNet-50 in plain torch, with torchvision's parameter names.

The architecture is He, Zhang, Ren and Sun, "Deep Residual Learning for Image Recognition"
(CVPR 2016), in the form torchvision ships ("ResNet v1.5": the stride of a bottleneck block is on
its 3×3 convolution). Module names and order are torchvision's (``conv1``, ``bn1``, ``layer1.0
.downsample.0`` …, ``fc``), so ``state_dict()`` keys and shapes are identical: every checkpoint
written with torchvision's ResNet, and torchvision-format weight files, load unchanged
(``tests/core/models/test_resnet.py`` loads a torchvision ResNet's state dict into these and
compares the outputs, where torchvision is installed). The initialisation is torchvision's too
(Kaiming normal, fan-out, for convolutions; batch norm 1 and 0).

Why not torchvision itself: the CPU-only torch builds cannot be paired with a torchvision wheel
from the package index (its compiled operators need torch's CUDA libraries:
``operator torchvision::nms does not exist``), so torchvision is not a run-time dependency; the
small CPU flavour of the bundle ships the CPU-only torch alone.

:data:`IMAGENET_URLS` are the ImageNet weights torchvision's ``ResNet50_Weights.DEFAULT`` and
``ResNet18_Weights.DEFAULT`` point to; :func:`imagenet_state_dict` fetches them into torch's hub
cache with the same file names (a file torchvision fetched earlier is reused), hash-checked.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import Tensor, nn

#: ImageNet weights (torchvision's DEFAULT for each: IMAGENET1K_V2 for ResNet-50, V1 for -18);
#: the hex in the file name is the start of the file's SHA-256, which torch.hub checks.
IMAGENET_URLS = {
    "resnet50": "https://download.pytorch.org/models/resnet50-11ad3fa6.pth",
    "resnet18": "https://download.pytorch.org/models/resnet18-f37072fd.pth",
}


def _conv3x3(c_in: int, c_out: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(c_in, c_out, kernel_size=3, stride=stride, padding=1, bias=False)


def _conv1x1(c_in: int, c_out: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(c_in, c_out, kernel_size=1, stride=stride, bias=False)


class BasicBlock(nn.Module):
    """Two 3×3 convolutions and the identity (or a 1×1 projection): ResNet-18/34."""

    expansion = 1

    def __init__(
        self, c_in: int, planes: int, stride: int = 1, downsample: nn.Module | None = None
    ) -> None:
        super().__init__()
        self.conv1 = _conv3x3(c_in, planes, stride)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = _conv3x3(planes, planes)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = downsample
        self.stride = stride

    def forward(self, x: Tensor) -> Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        out = out + identity
        return self.relu(out)


class Bottleneck(nn.Module):
    """1×1 reduce, 3×3 (carrying the stride), 1×1 expand ×4, and the shortcut: ResNet-50."""

    expansion = 4

    def __init__(
        self, c_in: int, planes: int, stride: int = 1, downsample: nn.Module | None = None
    ) -> None:
        super().__init__()
        self.conv1 = _conv1x1(c_in, planes)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = _conv3x3(planes, planes, stride)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = _conv1x1(planes, planes * self.expansion)
        self.bn3 = nn.BatchNorm2d(planes * self.expansion)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample
        self.stride = stride

    def forward(self, x: Tensor) -> Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        out = out + identity
        return self.relu(out)


class ResNet(nn.Module):
    """Stem (7×7/2 convolution, 3×3/2 max pool), four stages, global average pool, ``fc``.

    Parameters
    ----------
    block : BasicBlock or Bottleneck
    layers : four ints — blocks per stage ([2, 2, 2, 2] for ResNet-18, [3, 4, 6, 3] for -50)
    num_classes : int — outputs of ``fc`` (1000 for ImageNet weights)
    """

    def __init__(
        self,
        block: type[BasicBlock] | type[Bottleneck],
        layers: tuple[int, int, int, int],
        num_classes: int = 1000,
    ) -> None:
        super().__init__()
        self._block = block
        self.inplanes = 64
        self.conv1 = nn.Conv2d(3, 64, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1 = self._stage(64, layers[0], 1)
        self.layer2 = self._stage(128, layers[1], 2)
        self.layer3 = self._stage(256, layers[2], 2)
        self.layer4 = self._stage(512, layers[3], 2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc: nn.Module = nn.Linear(512 * block.expansion, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.constant_(m.weight, 1)
                nn.init.constant_(m.bias, 0)

    def _stage(self, planes: int, blocks: int, stride: int) -> nn.Sequential:
        block = self._block
        downsample: nn.Module | None = None
        if stride != 1 or self.inplanes != planes * block.expansion:
            downsample = nn.Sequential(
                _conv1x1(self.inplanes, planes * block.expansion, stride),
                nn.BatchNorm2d(planes * block.expansion),
            )
        out: list[nn.Module] = [block(self.inplanes, planes, stride, downsample)]
        self.inplanes = planes * block.expansion
        out += [block(self.inplanes, planes) for _ in range(1, blocks)]
        return nn.Sequential(*out)

    def forward(self, x: Tensor) -> Tensor:
        """(N, 3, H, W) → (N, num_classes), or the pooled features when ``fc`` is an identity."""
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        out: Tensor = self.fc(torch.flatten(self.avgpool(x), 1))
        return out


def resnet18(num_classes: int = 1000) -> ResNet:
    """ResNet-18 (512 features before ``fc``), randomly initialised."""
    return ResNet(BasicBlock, (2, 2, 2, 2), num_classes)


def resnet50(num_classes: int = 1000) -> ResNet:
    """ResNet-50 (2048 features before ``fc``), randomly initialised."""
    return ResNet(Bottleneck, (3, 4, 6, 3), num_classes)


def imagenet_state_dict(name: str) -> Mapping[str, Tensor]:
    """The ImageNet weights of ``"resnet50"`` or ``"resnet18"`` (downloaded once, hash-checked).

    Raises what :func:`torch.hub.load_state_dict_from_url` raises: an ``OSError`` (``URLError``)
    without a network, a ``RuntimeError`` for a file whose hash does not match.
    """
    state: Mapping[str, Tensor] = torch.hub.load_state_dict_from_url(
        IMAGENET_URLS[name], progress=False, check_hash=True, map_location="cpu", weights_only=True
    )
    return state
