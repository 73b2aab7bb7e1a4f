"""``--device`` on the command line (issue 13, part 5): a device this computer lacks is refused in
one plain line naming the valid ones, before anything is loaded; never torch's raw error."""

from __future__ import annotations

import json

import pytest
import torch

from app.cli.main import main
from core.models import runtime


@pytest.fixture
def no_gpu(monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 0)
    monkeypatch.setattr(runtime, "_mps_available", lambda: False, raising=False)


@pytest.mark.parametrize(
    "argv",
    [
        ["analyse", "S-1"],
        ["train", "--demo"],
        ["train", "--amigos", "nowhere", "--out", "x.pt"],
        ["evaluate", "--amigos", "nowhere", "--out-dir", "out"],
    ],
)
@pytest.mark.parametrize("device", ["bogus", "cuda", "cuda:3"])
def test_a_device_this_computer_lacks_is_one_plain_line(app_env, no_gpu, capsys, argv, device):
    with pytest.raises(SystemExit) as exc:
        main([*argv, "--device", device])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if "error:" in line]
    assert len(errors) == 1, err
    assert "argument --device: " in errors[0]
    assert errors[0].endswith(
        "Valid devices on this computer: auto, cpu (no CUDA GPU on this computer)"
    ) or errors[0].endswith("no CUDA GPU on this computer (no usable CUDA device). "
                            "Valid devices on this computer: auto, cpu")  # fmt: skip
    assert "Expected one of" not in err and "Traceback" not in err


def test_a_bogus_device_in_the_settings_file(app_env, no_gpu, capsys):
    settings = app_env / "cfg" / "settings.json"
    settings.write_text(json.dumps({"analysis_device": "bogus"}))
    assert main(["analyse", "S-1"]) == 2  # refused before the session is even looked up
    err = capsys.readouterr().err
    assert err.strip() == (
        "therascope: The settings' analysis device: Unknown device 'bogus'. "
        "Valid devices on this computer: auto, cpu (no CUDA GPU on this computer)"
    )
