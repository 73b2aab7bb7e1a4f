"""Our ResNet-18/50 (core.models.resnet) are torchvision's: same keys, same outputs, no import."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from core.models import resnet  # noqa: E402

ROOT = Path(__file__).resolve().parents[3]


def test_the_models_import_no_torchvision() -> None:
    code = (
        "import sys\n"
        "import core.models, core.models.families, core.faces.mtcnn\n"
        "from core.models import SpatialNetwork\n"
        "SpatialNetwork('resnet18', 'none')\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'torchvision'))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_feature_sizes_and_names() -> None:
    assert resnet.resnet18().fc.in_features == 512
    assert resnet.resnet50().fc.in_features == 2048
    keys = resnet.resnet50().state_dict()
    assert "layer1.0.downsample.0.weight" in keys and "layer4.2.bn3.running_var" in keys


@pytest.mark.parametrize("name", ["resnet18", "resnet50"])
def test_torchvision_weights_load_and_give_the_same_outputs(name: str) -> None:
    tvm = pytest.importorskip("torchvision.models")
    torch.manual_seed(0)
    theirs = getattr(tvm, name)(weights=None)
    # batch-norm statistics that are not the identity, so that every buffer matters
    with torch.no_grad():
        for m in theirs.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.1, 0.1)
                m.running_var.uniform_(0.5, 1.5)
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.1, 0.1)
    ours = getattr(resnet, name)()
    state = theirs.state_dict()
    assert {k: tuple(v.shape) for k, v in ours.state_dict().items()} == {
        k: tuple(v.shape) for k, v in state.items()
    }
    ours.load_state_dict(state, strict=True)
    x = torch.randn(2, 3, 96, 96)
    with torch.no_grad():
        expected = theirs.eval()(x)
        got = ours.eval()(x)
    torch.testing.assert_close(got, expected, rtol=0, atol=0)
    # and the other way: a checkpoint of ours is a torchvision state dict
    back = getattr(tvm, name)(weights=None)
    back.load_state_dict(ours.state_dict(), strict=True)


def test_the_imagenet_files_are_torchvision_defaults() -> None:
    tvm = pytest.importorskip("torchvision.models")
    assert {
        "resnet50": tvm.ResNet50_Weights.DEFAULT.url,
        "resnet18": tvm.ResNet18_Weights.DEFAULT.url,
    } == resnet.IMAGENET_URLS
