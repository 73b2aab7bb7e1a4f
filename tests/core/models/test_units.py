"""Units from file to model (issue 22): checkpoints record them, the analysis matches a session's
units to them or refuses the checkpoint in plain words."""

from __future__ import annotations

from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from core.analysis.inputs import UnitMismatchError, unit_factors  # noqa: E402
from core.models import BMMNConfig, build_model, load_checkpoint, save_checkpoint  # noqa: E402
from core.models.checkpoint import update_metadata  # noqa: E402
from core.models.units import (  # noqa: E402
    SIGNAL_UNITS,
    checkpoint_units,
    default_units,
    unit_factor,
)

CFG = BMMNConfig(variant="bmmn", backbone="small", backbone_weights="none", face_size=48)
SCALING = {"mean": {"ecg": 0.0, "gsr": 5.0}, "std": {"ecg": 0.3, "gsr": 3.0}}


def test_unit_factors_between_the_units_of_each_signal() -> None:
    assert SIGNAL_UNITS == {"ECG": "mV", "EDA": "uS"}
    assert unit_factor("ECG", "uV", "mV") == pytest.approx(1e-3)
    assert unit_factor("ECG", "V", "mV") == pytest.approx(1e3)
    assert unit_factor("EDA", "nS", "uS") == pytest.approx(1e-3)
    assert unit_factor("EDA", "µS", "uS") == 1.0
    assert unit_factor("EDA", "a.u.", "uS") is None
    assert unit_factor("EDA", "mV", "uS") is None  # another kind of quantity
    assert unit_factor("RESP", "a.u.", "a.u.") == 1.0
    assert default_units(["ECG", "EDA", "RESP"]) == {"ECG": "mV", "EDA": "uS"}


def test_a_saved_checkpoint_records_its_units(tmp_path: Path) -> None:
    model = build_model(CFG)
    plain = save_checkpoint(tmp_path / "a.pt", model, CFG, {"scaling": SCALING})
    assert load_checkpoint(plain)[2]["units"] == {"ECG": "mV", "EDA": "uS"}
    stated = {**SCALING, "units": {"ECG": "uV", "EDA": "uS"}}
    other = save_checkpoint(tmp_path / "b.pt", model, CFG, {"scaling": stated})
    meta = load_checkpoint(other)[2]
    assert checkpoint_units(meta) == {"ECG": "uV", "EDA": "uS"}
    update_metadata(other, {"label": "relabelled"})
    model2, _, meta2 = load_checkpoint(other)
    assert meta2["label"] == "relabelled" and meta2["units"] == {"ECG": "uV", "EDA": "uS"}
    for k, v in model.state_dict().items():
        assert torch.equal(model2.state_dict()[k], v)


def test_the_session_is_converted_into_the_checkpoints_units() -> None:
    meta = {"units": {"ECG": "mV", "EDA": "uS"}}
    assert unit_factors(["ECG", "EDA"], meta, {"ECG": "mV", "EDA": "uS"}) == {
        "ECG": 1.0,
        "EDA": 1.0,
    }
    f = unit_factors(["ECG", "EDA"], meta, {"ECG": "uV", "EDA": "nS"})
    assert f["ECG"] == pytest.approx(1e-3) and f["EDA"] == pytest.approx(1e-3)
    # units recorded inside the scaling are read too
    assert unit_factors(["ECG"], {"scaling": {"units": {"ECG": "mV"}}}, {"ECG": "V"}) == {
        "ECG": pytest.approx(1e3)
    }


def test_a_checkpoint_without_units_is_refused_in_plain_words() -> None:
    with pytest.raises(UnitMismatchError) as exc:
        unit_factors(["ECG", "EDA"], {"scaling": SCALING}, {"ECG": "mV", "EDA": "uS"})
    text = str(exc.value)
    assert "does not record the units" in text and "train it again" in text
    assert "Traceback" not in text and "KeyError" not in text


def test_units_that_cannot_be_matched_are_refused_in_plain_words() -> None:
    with pytest.raises(UnitMismatchError) as exc:
        unit_factors(["ECG", "EDA"], {"units": {"ECG": "mV", "EDA": "uS"}},
                     {"ECG": "mV", "EDA": "a.u."})  # fmt: skip
    assert str(exc.value) == (
        "the model reads EDA in µS, this session stores it in a.u., and the two cannot be converted"
    )
    with pytest.raises(UnitMismatchError, match="reads ECG in an unrecorded unit"):
        unit_factors(["ECG"], {"units": {"EDA": "uS"}}, {"ECG": "mV"})
