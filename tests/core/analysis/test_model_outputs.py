"""Which outputs a checkpoint learned (recorded, derived, or decided conservatively) and the
per-window means of liking and the emotions against hand-computed ones."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from core.analysis.model_outputs import (
    DEFAULT_OUTPUT_NAMES,
    EXTRA_OUTPUTS,
    NOT_ESTIMATED,
    format_mean,
    summarise_outputs,
)
from core.models.outputs import OUTPUT_NAMES, labelled_outputs, trained_outputs
from core.physiology.summary import PhaseWindow
from tests.app.review_data import NAN_FRAMES, hand_estimates


def test_the_output_order_is_the_models() -> None:
    assert DEFAULT_OUTPUT_NAMES == OUTPUT_NAMES
    assert OUTPUT_NAMES[2:] == EXTRA_OUTPUTS


def test_the_labelled_outputs_are_the_columns_with_a_known_label() -> None:
    y = np.full((4, 10), np.nan, np.float32)
    y[:, :2] = 5.0
    assert labelled_outputs(y) == ["valence", "arousal"]
    y[2, 9] = 1.0  # one sadness label is enough: the loss uses it
    assert labelled_outputs(y) == ["valence", "arousal", "sadness"]


def test_trained_outputs_recorded_derived_or_conservative() -> None:
    every = list(OUTPUT_NAMES)
    names, basis = trained_outputs({"outputs_trained": ["fear", "valence", "arousal"]})
    assert names == ["valence", "arousal", "fear"] and basis == "as its checkpoint records"
    assert trained_outputs({"labels_trained": ["valence", "arousal"]})[0] == ["valence", "arousal"]
    # AMIGOS: the loader keeps only trials with all labels, so all ten were learned
    assert trained_outputs({"amigos": {"long_videos": False}})[0] == every
    amigos_family = {"provenance": {"fine_tuning": {"data": "AMIGOS at /d, 12 trials"}}}
    names, basis = trained_outputs(amigos_family)
    assert names == every and "AMIGOS" in basis
    # nothing recorded: valence and arousal only, and said so
    names, basis = trained_outputs({"training_data": "my own sessions"})
    assert names == ["valence", "arousal"] and "does not record" in basis
    names, basis = trained_outputs({"outputs_trained": ["joy"]})  # a damaged record
    assert names == ["valence", "arousal"] and "cannot be read" in basis


def test_new_checkpoints_record_their_outputs_and_refuse_unknown_ones(tmp_path: Path) -> None:
    from core.learning.demo_model import SHIPPED
    from core.models import BMMNConfig, build_model
    from core.models.checkpoint import load_any_checkpoint, save_checkpoint

    cfg = BMMNConfig(variant="bmmn", backbone="small", backbone_weights="none", face_size=64)
    model = build_model(cfg)
    meta = {"scaling": {"mean": {"ecg": 0.0, "gsr": 5.0}, "std": {"ecg": 0.3, "gsr": 3.0}}}
    path = save_checkpoint(
        tmp_path / "a.pt", model, cfg, {**meta, "outputs_trained": ["liking", "valence"]}
    )
    assert load_any_checkpoint(path)[2]["outputs_trained"] == ["valence", "liking"]
    # the demo model's earlier name for the record is carried over
    path = save_checkpoint(
        tmp_path / "b.pt", model, cfg, {**meta, "labels_trained": ["valence", "arousal"]}
    )
    assert load_any_checkpoint(path)[2]["outputs_trained"] == ["valence", "arousal"]
    with pytest.raises(ValueError, match="unknown outputs joy"):
        save_checkpoint(tmp_path / "c.pt", model, cfg, {**meta, "outputs_trained": ["joy"]})
    assert not (tmp_path / "c.pt").exists()
    # the shipped demo model learned valence and arousal only
    assert trained_outputs(load_any_checkpoint(SHIPPED)[2])[0] == ["valence", "arousal"]


def _windows(duration: float) -> list[PhaseWindow]:
    return [
        PhaseWindow("pre", "first 0:06", 0.0, duration / 3, ""),
        PhaseWindow("post", "last 0:06", 2 * duration / 3, duration, ""),
    ]


def test_window_means_are_the_hand_computed_means_of_the_frames() -> None:
    est = hand_estimates(18.0, demo=False)
    rng = np.random.default_rng(3)
    est.outputs[:, 2:] = rng.uniform(0.0, 9.0, (len(est), 8)).astype(np.float32)
    est.outputs[list(NAN_FRAMES)] = np.nan  # frames without an estimate stay without
    est.info["checkpoint"]["outputs_trained"] = list(OUTPUT_NAMES)
    est.info["checkpoint"]["outputs_basis"] = "as its checkpoint records"
    windows = _windows(18.0)
    s = summarise_outputs(est, windows)
    assert [o.name for o in s.outputs] == list(EXTRA_OUTPUTS) and not s.not_estimated
    for k, o in enumerate(s.outputs, start=2):
        np.testing.assert_array_equal(o.values, est.outputs[:, k].astype(np.float64))
        for w, got in zip(windows, o.windows, strict=True):
            # by hand: the frames with start ≤ t < end and a value
            vals = [
                float(est.outputs[i, k])
                for i in range(len(est))
                if w.start_s <= est.t_s[i] < w.end_s and i not in NAN_FRAMES
            ]
            mean = sum(vals) / len(vals)
            sd = (sum((v - mean) ** 2 for v in vals) / (len(vals) - 1)) ** 0.5
            assert got.mean == pytest.approx(mean, rel=1e-6)
            assert got.sd == pytest.approx(sd, rel=1e-6)
            assert got.n_estimated == len(vals)
            assert format_mean(o, got) == f"{mean:.2f} ± {sd:.2f}"
        assert o.change == pytest.approx(o.windows[1].mean - o.windows[0].mean)


def test_an_analysis_that_does_not_record_its_outputs_shows_none_of_them() -> None:
    est = hand_estimates(18.0, demo=False)  # no outputs_trained: made before it was recorded
    est.outputs[:, 2:] = 0.7  # the stored values of outputs nobody knows were learned
    s = summarise_outputs(est, _windows(18.0))
    assert s.learned == ["valence", "arousal"] and "before TheraScope recorded" in s.basis
    assert not s.estimated
    for o in s.outputs:
        assert o.reason.startswith(NOT_ESTIMATED) and o.values.size == 0
        assert all(w.mean is None and w.sd is None for w in o.windows)
        assert format_mean(o, o.windows[0]) == NOT_ESTIMATED
        d = o.to_dict()
        assert d["windows"] is None and d["change"] is None and d["estimated"] is False
