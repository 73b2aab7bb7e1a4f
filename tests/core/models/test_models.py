"""BMMN family: layer sizes against the paper's Tables I and II, variants, modalities, init, weights."""

from __future__ import annotations

import math
import urllib.error
import warnings
from pathlib import Path
from typing import Any

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("torchvision")

from torch import Tensor, nn  # noqa: E402
from torchvision import models as tvm  # noqa: E402

from core.models import (  # noqa: E402
    BMMN,
    OUTPUT_NAMES,
    BioAutoEncoder,
    BioNetwork,
    BMMNConfig,
    SpatialNetwork,
    UntrainedBackboneWarning,
    build_model,
)

SMALL = {"backbone": "small", "backbone_weights": "none", "face_size": 64}
N = 3


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)


def _face(n: int = N, size: int = 64) -> Tensor:
    return torch.randn(n, 3, size, size)


def _bio(n: int = N, signals: int = 2) -> Tensor:
    return torch.randn(n, signals, 1000)


def _output_lengths(net: nn.Module, names: list[str], x: Tensor) -> dict[str, tuple[int, ...]]:
    shapes: dict[str, tuple[int, ...]] = {}
    hooks = [
        getattr(net, name).register_forward_hook(
            lambda _m, _i, out, name=name: shapes.__setitem__(name, tuple(out.shape[1:]))
        )
        for name in names
    ]
    with torch.no_grad():
        net(x)
    for h in hooks:
        h.remove()
    return shapes


def test_bio_network_matches_table_1() -> None:
    net = BioNetwork()
    names = ["conv1", "pool1", "conv2", "pool2", "conv3", "pool3", "conv4", "pool4"]
    shapes = _output_lengths(net, names, torch.randn(2, 1, 1000))
    # (channels, length): the table writes length x channels.
    assert shapes == {
        "conv1": (4, 805),
        "pool1": (4, 402),
        "conv2": (2, 307),
        "pool2": (2, 153),
        "conv3": (2, 357),
        "pool3": (2, 178),
        "conv4": (2, 382),
        "pool4": (2, 191),
    }
    out = net(torch.randn(2, 1, 1000))
    assert out.shape == (2, 2652) and net.out_features == 2652
    assert (out >= 0).all()


def test_bio_autoencoder_matches_table_2() -> None:
    ae = BioAutoEncoder()
    names = ["conv1", "pool1", "conv2", "pool2", "conv3", "pool3", "fc"]
    names += ["unpool1", "deconv4", "unpool2", "deconv5", "unpool3", "deconv6"]
    shapes = _output_lengths(ae, names, torch.randn(2, 1, 1000))
    assert shapes == {
        "conv1": (16, 801),
        "pool1": (16, 400),
        "conv2": (8, 301),
        "pool2": (8, 150),
        "conv3": (4, 101),
        "pool3": (4, 50),
        "fc": (128,),
        "unpool1": (4, 101),
        "deconv4": (8, 150),
        "unpool2": (8, 301),
        "deconv5": (16, 400),
        "unpool3": (16, 801),
        "deconv6": (1, 1000),
    }
    z, rec = ae(torch.randn(2, 1, 1000))
    assert z.shape == (2, 128) and rec.shape == (2, 1, 1000)
    assert not any(isinstance(m, nn.MaxUnpool1d) for m in ae.modules())


def test_reconstruction_depends_on_the_input_only_through_z() -> None:
    model = build_model(BMMNConfig(variant="bae2", modalities="bio", **SMALL)).eval()
    for ae in model.autoencoders.values():
        ae.fc.register_forward_hook(lambda _m, _i, out: torch.zeros_like(out))
    a = model(bio=_bio())
    b = model(bio=_bio() * 5 + 3)
    assert a["recon"] is not None and b["recon"] is not None
    assert torch.equal(a["recon"], b["recon"])
    # Without the hook the reconstruction does follow the input.
    ae = BioAutoEncoder().eval()
    assert not torch.equal(ae(_bio(2, 1))[1], ae(_bio(2, 1))[1])


@pytest.mark.parametrize(
    ("variant", "width"),
    [("bmmn", 256 + 2 * 2652), ("bae1", 256 + 2 * 128), ("bae2", 256 + 2 * 2652 + 2 * 128)],
)
def test_each_variant_forward_and_fusion_width(variant: str, width: int) -> None:
    model = build_model(BMMNConfig(variant=variant, **SMALL))
    seen: list[int] = []
    model.bottleneck.register_forward_hook(lambda _m, inp, _o: seen.append(inp[0].shape[1]))
    res = model(_face(), _bio())
    assert model.fusion_width == width and seen == [width]
    assert res["out"].shape == (N, len(OUTPUT_NAMES)) == (N, 10)
    if variant == "bmmn":
        assert res["recon"] is None and res["z"] is None
        assert len(model.autoencoders) == 0 and set(model.bio_nets) == {"ECG", "EDA"}
    else:
        assert res["recon"] is not None and res["recon"].shape == (N, 2, 1000)
        assert res["z"] is not None and res["z"].shape == (N, 2, 128)
        assert set(model.autoencoders) == {"ECG", "EDA"}
        assert len(model.bio_nets) == (2 if variant == "bae2" else 0)
    res["out"].sum().backward()


@pytest.mark.parametrize("variant", ["bmmn", "bae1", "bae2"])
def test_bio_only_needs_no_face(variant: str) -> None:
    model = build_model(BMMNConfig(variant=variant, modalities="bio", **SMALL))
    assert model.spatial is None
    res = model(bio=_bio())
    assert res["out"].shape == (N, 10)
    assert (res["recon"] is None) == (variant == "bmmn")
    with pytest.raises(ValueError, match="needs a bio"):
        model(_face())


def test_face_only_needs_no_bio() -> None:
    model = build_model(BMMNConfig(variant="bae2", modalities="face", **SMALL))
    assert len(model.bio_nets) == 0 and len(model.autoencoders) == 0
    assert model.fusion_width == 256
    res = model(_face())
    assert res["out"].shape == (N, 10) and res["recon"] is None
    with pytest.raises(ValueError, match="needs a face"):
        model(bio=_bio())


def test_bad_inputs_and_configs_are_rejected() -> None:
    model = build_model(BMMNConfig(variant="bae2", **SMALL))
    with pytest.raises(ValueError, match=r"shape \(N, 2, 1000\)"):
        model(_face(), torch.randn(N, 1, 1000))
    with pytest.raises(ValueError, match="face batch"):
        model(_face(2), _bio(3))
    for bad in ({"variant": "bae3"}, {"modalities": "eeg"}, {"dropout": 1.0}, {"signals": ()}):
        with pytest.raises(ValueError):
            BMMNConfig(**{**SMALL, **bad})
    cfg = BMMNConfig(signals=("ECG", "EDA", "RESP"), **SMALL)
    assert BMMNConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ValueError, match="unknown"):
        BMMNConfig.from_dict({**cfg.to_dict(), "colour": 1})


def test_config_keys_in_checkpoints_stay_as_first_written() -> None:
    cfg = BMMNConfig(bio_rate_hz=256.0, **SMALL)
    d = cfg.to_dict()
    assert d["bio_rate"] == 256.0 and "bio_rate_hz" not in d
    assert BMMNConfig.from_dict(d) == cfg
    with pytest.raises(ValueError, match="unknown"):
        BMMNConfig.from_dict({**BMMNConfig(**SMALL).to_dict(), "bio_rate_hz": 256.0})


def test_three_signals_and_other_window() -> None:
    cfg = BMMNConfig(variant="bae2", signals=("ECG", "EDA", "RESP"), bio_window=800, **SMALL)
    res = build_model(cfg)(_face(), torch.randn(N, 3, 800))
    assert res["out"].shape == (N, 10) and res["recon"] is not None
    assert res["recon"].shape == (N, 3, 800)


def test_channels_last_faces() -> None:
    cfg = BMMNConfig(variant="bae2", backbone="resnet18", backbone_weights="none", face_size=64)
    model = build_model(cfg).eval()
    face, bio = _face(), _bio()
    with torch.no_grad():
        a = model(face, bio)["out"]
        b = model(face.contiguous(memory_format=torch.channels_last), bio)["out"]
    torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)


def _bound(fan_in: int, gain: float) -> float:
    return gain * math.sqrt(3.0 / fan_in)


def test_uniform_init_on_our_layers() -> None:
    model = build_model(BMMNConfig(variant="bae2", **SMALL))
    relu = math.sqrt(2.0)
    checks: list[tuple[Any, int, float]] = [
        (model.bio_nets["ECG"].conv1, 200, relu),
        (model.bio_nets["EDA"].conv4, 4 * 25, relu),
        (model.autoencoders["ECG"].conv2, 16 * 100, relu),
        (model.autoencoders["ECG"].deconv5, 8 * 100, relu),
        (model.autoencoders["ECG"].deconv6, 16 * 200, 1.0),
        (model.bottleneck, model.fusion_width, relu),
        (model.head, 512, 1.0),
    ]
    for layer, fan_in, gain in checks:
        w = layer.weight.detach().abs()
        bound = _bound(fan_in, gain)
        assert w.max() <= bound + 1e-7
        # PyTorch's default init stays within 1/sqrt(fan_in); He-uniform reaches well past it.
        assert w.max() > 1.2 / math.sqrt(fan_in)
        assert torch.count_nonzero(layer.bias) == 0


def test_pretrained_backbone_is_loaded_and_not_reinitialised(tmp_path: Path) -> None:
    ref = tvm.resnet18(weights=None)
    weights = tmp_path / "resnet18_faces.pth"
    torch.save(ref.state_dict(), weights)
    cfg = BMMNConfig(variant="bae2", backbone="resnet18", backbone_weights=str(weights))
    model = build_model(cfg)
    assert model.spatial is not None and model.spatial.pretrained
    net: Any = model.spatial.net
    for name in ("conv1.weight", "bn1.weight", "layer4.1.conv2.weight", "layer2.0.bn1.bias"):
        assert torch.equal(net.state_dict()[name], ref.state_dict()[name]), name
    assert isinstance(net.fc, nn.Identity)
    assert model(_face(2), _bio(2))["out"].shape == (2, 10)


def test_backbone_weights_file_errors(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        SpatialNetwork("resnet18", tmp_path / "missing.pth")
    state = tvm.resnet18(weights=None).state_dict()
    state["layer1.0.conv1.weight"] = torch.zeros(1, 1, 1, 1)
    del state["bn1.bias"]
    bad = tmp_path / "bad.pth"
    torch.save(state, bad)
    with pytest.raises(ValueError, match=r"do not fit.*missing 1.*bn1\.bias.*shape"):
        SpatialNetwork("resnet18", bad)
    with pytest.raises(ValueError, match="no ImageNet"):
        SpatialNetwork("small", "imagenet")


def test_imagenet_unavailable_offline_warns_and_starts_random(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    calls: list[Any] = []

    def offline(url: str, *args: Any, **kwargs: Any) -> Any:
        calls.append((url, kwargs["check_hash"]))
        raise urllib.error.URLError("Name or service not known")

    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", offline)
    with pytest.warns(UntrainedBackboneWarning, match="UNTRAINED for faces"):
        net = SpatialNetwork("resnet18", "imagenet")
    assert calls == [(tvm.ResNet18_Weights.DEFAULT.url, True)]  # torchvision's file, checked
    assert not net.pretrained
    assert "UNTRAINED" in caplog.text
    assert net(_face(1)).shape == (1, 512)


def test_imagenet_weights_are_used_when_available(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the file torchvision (or an earlier run) left in torch's hub cache: no download
    ref = tvm.resnet18(weights=None).state_dict()
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    cached = tmp_path / "hub" / "checkpoints" / Path(tvm.ResNet18_Weights.DEFAULT.url).name
    cached.parent.mkdir(parents=True)
    torch.save(ref, cached)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model = build_model(BMMNConfig(variant="bmmn", backbone="resnet18", face_size=64))
    assert model.spatial is not None and model.spatial.pretrained
    got = model.spatial.net.state_dict()["layer3.0.conv1.weight"]
    assert torch.equal(got, ref["layer3.0.conv1.weight"])


def test_resnet50_gives_2048_features() -> None:
    net = SpatialNetwork("resnet50", "none").eval()
    with torch.no_grad():
        feats = net(torch.randn(1, 3, 224, 224))
    assert feats.shape == (1, 2048) and net.out_features == 2048
    model = BMMN(BMMNConfig(variant="bae2", backbone="resnet50", backbone_weights="none"))
    assert model.fusion_width == 2048 + 2 * 2652 + 2 * 128


def test_autoencode_for_pretraining() -> None:
    model = build_model(BMMNConfig(variant="bae1", **SMALL))
    z, rec = model.autoencode(_bio())
    assert z.shape == (N, 2, 128) and rec.shape == (N, 2, 1000)
    with pytest.raises(ValueError, match="no auto-encoders"):
        build_model(BMMNConfig(variant="bmmn", **SMALL)).autoencode(_bio())
