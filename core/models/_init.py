"""The paper's "uniform distribution for weights initialization", applied to our own layers.

The paper does not give the range. A fixed range such as U(-0.05, 0.05) would make the pre-activation
variance grow with fan-in (the fusion layer sees 7,000+ inputs for BMMN-BAE-2 with ResNet-50, the
Bio Network's conv1 only 200), so we use He (Kaiming) *uniform* initialisation instead: weights from
U(-b, b) with b = gain * sqrt(3 / fan_in), gain = sqrt(2) before a ReLU and 1 for the linear output
layer. That keeps activations on a similar scale in every layer whatever its width, and it is still a
uniform distribution as the paper says. Biases start at zero. Batch-norm layers keep weight 1, bias 0.

Never call this on a pretrained (or torchvision-initialised) backbone: it would erase what transfer
learning brings.
"""

from __future__ import annotations

from typing import Literal

from torch import nn

_WEIGHTED = (nn.Conv1d, nn.Conv2d, nn.ConvTranspose1d, nn.Linear)


def he_uniform_(module: nn.Module, *, linear_output: nn.Module | None = None) -> None:
    """Initialise every conv/linear layer inside ``module`` in place (He uniform, zero bias).

    Parameters
    ----------
    module
        Root of the layers to initialise; all its submodules are visited.
    linear_output
        A layer whose output is not followed by a ReLU (e.g. a regression head); it gets gain 1
        instead of sqrt(2).
    """
    for layer in module.modules():
        if isinstance(layer, _WEIGHTED):
            gain: Literal["linear", "relu"] = "linear" if layer is linear_output else "relu"
            # A transposed conv's weight is (in, out, k), so PyTorch's "fan_in" for it is out * k;
            # each of its outputs actually sums in * k inputs (stride 1), which is "fan_out" there.
            mode: Literal["fan_in", "fan_out"] = (
                "fan_out" if isinstance(layer, nn.ConvTranspose1d) else "fan_in"
            )
            nn.init.kaiming_uniform_(layer.weight, mode=mode, nonlinearity=gain)
            if layer.bias is not None:
                nn.init.zeros_(layer.bias)
        elif isinstance(layer, (nn.BatchNorm1d, nn.BatchNorm2d)):
            nn.init.ones_(layer.weight)
            nn.init.zeros_(layer.bias)
