"""Model checkpoints: round trip, metadata, and clear refusal of bad, foreign or hostile files."""

from __future__ import annotations

import pickle
import random
from pathlib import Path
from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("torchvision")

from torchvision import models as tvm  # noqa: E402

import core  # noqa: E402
from core.models import (  # noqa: E402
    OUTPUT_NAMES,
    BMMNConfig,
    CheckpointError,
    build_model,
    load_checkpoint,
    save_checkpoint,
)
from core.models.bmmn import BMMN  # noqa: E402

CFG = BMMNConfig(
    variant="bae2", backbone="small", backbone_weights="none", face_size=64, dropout=0.2
)
META = {
    "scaling": {"ECG": {"mean": 0.01, "std": 0.35}, "EDA": {"mean": 2.4, "std": 0.8}},
    "data_fingerprint": "sha256:1234abcd",
    "metrics": {"valence": {"accuracy": 0.61, "f1": 0.58}},
}


class RunsCode:
    """Unpickling this would create ``marker``: proof that code ran."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (open, (str(self.marker), "w"))


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, BMMN]:
    torch.manual_seed(1)
    model = build_model(CFG)
    # One training step's worth of forward passes moves the batch-norm running statistics away
    # from their defaults, so the round trip also covers buffers, not just parameters.
    model.train()
    with torch.no_grad():
        model(torch.randn(4, 3, 64, 64), torch.randn(4, 2, 1000))
    model.eval()
    path = save_checkpoint(tmp_path_factory.mktemp("ckpt") / "model.pt", model, CFG, META)
    return path, model


def _payload(path: Path) -> dict[str, Any]:
    obj: dict[str, Any] = torch.load(path, weights_only=True)
    return obj


def test_round_trip_same_outputs_and_metadata(saved: tuple[Path, BMMN]) -> None:
    path, model = saved
    loaded, config, meta = load_checkpoint(path)
    assert config == CFG and not loaded.training
    face, bio = torch.randn(2, 3, 64, 64), torch.randn(2, 2, 1000)
    with torch.no_grad():
        a, b = model(face, bio), loaded(face, bio)
    assert torch.equal(a["out"], b["out"])
    assert a["recon"] is not None and b["recon"] is not None
    assert torch.equal(a["recon"], b["recon"])
    for key, value in META.items():
        assert meta[key] == value
    assert meta["variant"] == "bae2" and meta["backbone"] == "small"
    assert meta["input_sizes"] == {"face": [3, 64, 64], "bio": [2, 1000]}
    assert meta["bio_rate_hz"] == 128.0 and meta["signals"] == ["ECG", "EDA"]
    assert meta["output_names"] == list(OUTPUT_NAMES)
    assert meta["code_version"] == core.__version__
    assert meta["created_at"].endswith("+00:00")
    assert not list(path.parent.glob("*.partial"))


def test_file_holds_only_plain_types(saved: tuple[Path, BMMN]) -> None:
    obj = _payload(saved[0])
    assert obj["format"] == "therascope-bmmn" and obj["format_version"] == 2
    assert obj["family"] == "bmmn" and obj["inputs"]["kind"] == "frame"
    assert obj["config"]["signals"] == ["ECG", "EDA"]
    assert all(isinstance(v, torch.Tensor) for v in obj["state_dict"].values())


def test_loading_never_fetches_backbone_weights(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ref = tvm.resnet18(weights=None).state_dict()
    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", lambda url, **kw: ref)
    cfg = BMMNConfig(variant="bmmn", backbone="resnet18", backbone_weights="imagenet")
    model = build_model(cfg)
    path = save_checkpoint(tmp_path / "r18.pt", model, cfg, {})

    def forbidden(url: str, **kw: Any) -> Any:
        raise AssertionError("load_checkpoint tried to fetch ImageNet weights")

    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", forbidden)
    loaded, config, _ = load_checkpoint(path)
    assert config.backbone_weights == "imagenet"
    assert loaded.spatial is not None
    key = "layer1.0.conv1.weight"
    assert torch.equal(loaded.spatial.net.state_dict()[key], ref[key])


def test_save_rejects_non_plain_metadata_and_wrong_config(
    tmp_path: Path, saved: tuple[Path, BMMN]
) -> None:
    model = saved[1]
    with pytest.raises(TypeError, match=r"metadata\.scaling"):
        save_checkpoint(tmp_path / "x.pt", model, CFG, {"scaling": {1, 2}})
    # numpy scalars and tensors are stored as plain floats and CPU tensors, loadable safely.
    meta = {
        "metrics": {"f1": np.float64(0.5)},
        "scaling": {"mean": torch.nn.Parameter(torch.ones(2))},
    }
    _, _, got = load_checkpoint(save_checkpoint(tmp_path / "np.pt", model, CFG, meta))
    assert type(got["metrics"]["f1"]) is float and torch.equal(
        got["scaling"]["mean"], torch.ones(2)
    )
    other = BMMNConfig(variant="bae1", backbone="small", backbone_weights="none", face_size=64)
    with pytest.raises(ValueError, match="does not match"):
        save_checkpoint(tmp_path / "y.pt", model, other, {})
    assert not (tmp_path / "x.pt").exists() and not (tmp_path / "y.pt").exists()


def test_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="no such file"):
        load_checkpoint(tmp_path / "nope.pt")
    with pytest.raises(CheckpointError, match="not a file"):
        load_checkpoint(tmp_path)


def test_random_bytes_and_empty_file(tmp_path: Path) -> None:
    junk = tmp_path / "junk.pt"
    # Fixed bytes: a random file starting with b"c" would read as a pickle GLOBAL, i.e. code.
    junk.write_bytes(random.Random(7).randbytes(4096))
    with pytest.raises(CheckpointError, match="truncated, corrupt or not a model checkpoint"):
        load_checkpoint(junk)
    empty = tmp_path / "empty.pt"
    empty.write_bytes(b"")
    with pytest.raises(CheckpointError, match="truncated, corrupt"):
        load_checkpoint(empty)


def test_truncated_file(tmp_path: Path, saved: tuple[Path, BMMN]) -> None:
    data = saved[0].read_bytes()
    cut = tmp_path / "cut.pt"
    cut.write_bytes(data[: len(data) * 2 // 3])
    with pytest.raises(CheckpointError, match="truncated, corrupt"):
        load_checkpoint(cut)


@pytest.mark.parametrize("writer", ["torch.save", "pickle.dump"])
def test_pickle_that_would_run_code_is_refused_and_not_run(tmp_path: Path, writer: str) -> None:
    marker = tmp_path / "code_ran"
    evil = tmp_path / "evil.pt"
    payload = {"format": "therascope-bmmn", "format_version": 1, "x": RunsCode(marker)}
    if writer == "torch.save":
        torch.save(payload, evil)
    else:
        with evil.open("wb") as fh:
            pickle.dump(payload, fh)
    with pytest.raises(CheckpointError, match="refused: this file contains code, not just weights"):
        load_checkpoint(evil)
    assert not marker.exists()


def test_foreign_torchvision_state_dict(tmp_path: Path) -> None:
    foreign = tmp_path / "resnet18.pth"
    torch.save(tvm.resnet18(weights=None).state_dict(), foreign)
    with pytest.raises(CheckpointError, match="not a TheraScope model checkpoint.*bare state dict"):
        load_checkpoint(foreign)
    other = tmp_path / "other.pt"
    torch.save({"format": "someone-else", "format_version": 1}, other)
    with pytest.raises(CheckpointError, match="not a TheraScope model checkpoint"):
        load_checkpoint(other)


def test_newer_format_version(tmp_path: Path, saved: tuple[Path, BMMN]) -> None:
    obj = _payload(saved[0])
    obj["format_version"] = 3
    newer = tmp_path / "newer.pt"
    torch.save(obj, newer)
    with pytest.raises(CheckpointError, match="newer TheraScope.*format 3"):
        load_checkpoint(newer)


def test_weights_that_do_not_match_the_config(tmp_path: Path, saved: tuple[Path, BMMN]) -> None:
    obj = _payload(saved[0])
    obj["config"]["bottleneck"] = 256
    shapes = tmp_path / "shapes.pt"
    torch.save(obj, shapes)
    with pytest.raises(CheckpointError, match=r"do not match.*wrong shape.*bottleneck\.weight"):
        load_checkpoint(shapes)

    obj = _payload(saved[0])
    obj["config"]["variant"] = "bmmn"
    variant = tmp_path / "variant.pt"
    torch.save(obj, variant)
    with pytest.raises(CheckpointError, match=r"do not match.*unexpected weights.*autoencoders"):
        load_checkpoint(variant)

    obj = _payload(saved[0])
    del obj["state_dict"]["head.bias"]
    missing = tmp_path / "missing.pt"
    torch.save(obj, missing)
    with pytest.raises(CheckpointError, match=r"1 missing weights \(e\.g\. head\.bias\)"):
        load_checkpoint(missing)


def test_invalid_config_in_checkpoint(tmp_path: Path, saved: tuple[Path, BMMN]) -> None:
    obj = _payload(saved[0])
    obj["config"]["variant"] = "bae9"
    bad = tmp_path / "bad.pt"
    torch.save(obj, bad)
    with pytest.raises(CheckpointError, match="invalid model config.*bae9"):
        load_checkpoint(bad)
