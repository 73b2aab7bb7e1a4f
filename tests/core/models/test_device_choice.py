"""The analysis/training device setting (issue 13, part 5): one check, in plain words, naming the
devices this computer has, never torch's raw "Expected one of cpu, cuda, ipu, xpu…"."""

from __future__ import annotations

import pytest
import torch

from core.models import runtime
from core.models.runtime import pick_device


@pytest.fixture
def no_gpu(monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 0)
    monkeypatch.setattr(runtime, "_mps_available", lambda: False, raising=False)


@pytest.fixture
def two_gpus(monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setattr(runtime, "_mps_available", lambda: False, raising=False)


@pytest.mark.parametrize("spec", ["bogus", "", "gpu", "cuda0", "cpu:0", "cuda:-1", "cuda:x"])
def test_an_unknown_device_names_the_valid_ones(no_gpu, spec):
    with pytest.raises(RuntimeError) as exc:
        pick_device(spec)
    msg = str(exc.value)
    assert "\n" not in msg and "Expected one of" not in msg
    assert msg.endswith("Valid devices on this computer: auto, cpu (no CUDA GPU on this computer)")
    assert type(exc.value).__name__ == "DeviceError"  # a RuntimeError: what callers catch


@pytest.mark.parametrize("spec", ["cuda", "cuda:0", "CUDA:1", "mps"])
def test_a_gpu_this_computer_lacks(no_gpu, spec):
    with pytest.raises(RuntimeError) as exc:
        pick_device(spec)
    msg = str(exc.value)
    assert "\n" not in msg and f"Device {spec!r} cannot be used" in msg
    assert "Valid devices on this computer: auto, cpu" in msg
    if spec != "mps":
        assert "no CUDA GPU on this computer" in msg


def test_without_a_gpu(no_gpu):
    assert runtime.valid_devices() == ["auto", "cpu"]
    assert pick_device("auto") == torch.device("cpu")
    assert pick_device(" CPU ") == torch.device("cpu")
    assert runtime.describe_valid_devices().endswith("(no CUDA GPU on this computer)")


def test_with_two_gpus(two_gpus):
    assert runtime.valid_devices() == ["auto", "cpu", "cuda", "cuda:0", "cuda:1"]
    assert pick_device("auto") == torch.device("cuda")
    assert pick_device("cuda:1") == torch.device("cuda", 1)
    assert pick_device("Cuda") == torch.device("cuda")
    with pytest.raises(RuntimeError) as exc:
        pick_device("cuda:2")
    assert str(exc.value) == (
        "Device 'cuda:2' cannot be used: this computer has 2 CUDA GPUs (cuda:0, cuda:1). "
        "Valid devices on this computer: auto, cpu, cuda, cuda:0, cuda:1"
    )
    with pytest.raises(RuntimeError, match=r"^Unknown device 'bogus'\. Valid devices on this "
                       r"computer: auto, cpu, cuda, cuda:0, cuda:1$"):  # fmt: skip
        pick_device("bogus")


def test_on_this_computer():
    assert pick_device("cpu").type == "cpu"
    expected = ["auto", "cpu"] + (
        ["cuda", *(f"cuda:{i}" for i in range(torch.cuda.device_count()))]
        if torch.cuda.is_available()
        else []
    )
    assert runtime.valid_devices()[: len(expected)] == expected
    for spec in runtime.valid_devices():
        pick_device(spec)
