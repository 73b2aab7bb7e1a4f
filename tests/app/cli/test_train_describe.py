"""``therascope train`` (issue 22): the model card and the settings it would train with, the loss
weights and epochs on the command line, and an analysis that refuses a checkpoint without units."""

from __future__ import annotations

import pytest

from app.cli.main import main
from core.models.card import MODEL_CARD, model_card


@pytest.fixture
def env(app_env):  # type: ignore[no-untyped-def]
    return app_env


def test_describe_prints_the_model_card_and_the_settings(env, capsys) -> None:  # type: ignore[no-untyped-def]
    argv = ["train", "--describe", "--lambda-bmmn", "0.5", "--lambda-bae", "2",
            "--epochs", "3,2,1", "--include-long-videos", "--ecg-unit", "uV"]  # fmt: skip
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert out.startswith(model_card().rstrip())
    for deviation in ("Stride-2 pools", "Upsampling for un-pooling", "An extra decoder layer",
                      "Linear output", "The fusion head", "Initialisation"):  # fmt: skip
        assert deviation in out
    assert "epochs: BMMN 3, BAE 2, joint 1; λ_BMMN 0.5, λ_BAE 2" in out
    assert "16 short + 4 long videos" in out and "read as uV → mV" in out
    assert main(["train", "--describe"]) == 0
    out = capsys.readouterr().out
    assert "λ_BMMN 1, λ_BAE 1" in out and "the 16 short videos per participant" in out


def test_the_model_card_is_in_the_repository() -> None:
    assert MODEL_CARD.name == "MODEL_CARD.md" and MODEL_CARD.parent.name == "models"
    text = model_card()
    for heading in ("## Deviations from Tables I–II and Sec. III-D", "## Training data (AMIGOS)",
                    "## Units from file to model"):  # fmt: skip
        assert heading in text


@pytest.mark.parametrize(
    "flag, value", [("--lambda-bmmn", "-1"), ("--lambda-bae", "nan"), ("--ecg-unit", "mmHg")]
)
def test_bad_settings_are_one_plain_line(env, capsys, flag, value) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(SystemExit) as exc:
        main(["train", "--describe", flag, value])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert f"argument {flag}" in err and "Traceback" not in err


def test_the_lambdas_reach_the_training_config(env) -> None:  # type: ignore[no-untyped-def]
    import argparse

    from app.cli import ml

    parser = argparse.ArgumentParser()
    ml.add_commands(parser.add_subparsers(dest="cmd"))
    args = parser.parse_args(["train", "--lambda-bmmn", "0.25", "--lambda-bae", "4",
                              "--epochs", "2,0,3", "--device", "cpu"])  # fmt: skip
    _, tc = ml.training_configs(args, "bae2", "both")
    assert (tc.lambda_bmmn, tc.lambda_bae) == (0.25, 4.0)
    assert (tc.epochs_bmmn, tc.epochs_bae, tc.epochs_joint) == (2, 0, 3)
    assert args.include_long_videos is False and args.ecg_unit == "auto"


def test_analyse_refuses_a_checkpoint_without_units(env, capsys, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import torch

    from core.models import BMMNConfig, build_model, save_checkpoint

    assert main(["patients", "add", "U-1"]) == 0
    assert main(["record", "--patient", "U-1", "--simulate", "--virtual", "--consent",
                 "--duration", "6", "--quiet"]) == 0  # fmt: skip
    uid = capsys.readouterr().out.strip().splitlines()[-1]
    cfg = BMMNConfig(variant="bae2", backbone="small", backbone_weights="none", face_size=48)
    scaling = {"mean": {"ecg": 0.0, "gsr": 5.0}, "std": {"ecg": 0.3, "gsr": 3.0}}
    path = save_checkpoint(tmp_path / "old.pt", build_model(cfg), cfg, {"scaling": scaling})
    obj = torch.load(path, weights_only=True)
    del obj["metadata"]["units"]  # as written before units were recorded
    torch.save(obj, path)
    assert main(["analyse", uid, "--checkpoint", str(path), "--device", "cpu"]) == 2
    err = capsys.readouterr().err
    assert "This checkpoint cannot analyse this session" in err
    assert "does not record the units its ECG and EDA were scaled in" in err
    assert "Traceback" not in err
