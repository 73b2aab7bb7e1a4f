"""AMIGOS read the paper's way (issue 22): ECG in mV and EDA in µS from the file's own units, the
16 short videos by default and the long ones on request."""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import scipy.io

from core.learning.datasets.amigos import (
    ECG_RANGE_MV,
    EDA_RANGE_US,
    LONG_VIDEO_IDS,
    SHORT_VIDEO_IDS,
    AmigosLayout,
    SignalScaling,
    UnitCheckError,
    ecg_amplitude,
    ecg_to_mv,
    infer_ecg_unit,
    is_short_video,
    load_dataset,
    load_participant,
)
from core.learning.datasets.synthetic_amigos import write_synthetic_amigos

SECONDS = 4.0


@pytest.fixture(scope="module")
def copy(tmp_path_factory: pytest.TempPathFactory) -> AmigosLayout:
    """Three participants with the 16 short and the 4 long videos each (MATLAB files only)."""
    root = tmp_path_factory.mktemp("amigos_full")
    return write_synthetic_amigos(
        root, participants=3, trials=20, seconds=SECONDS, seed=5, with_video=False
    )


def _raw_cells(layout: AmigosLayout, p: int) -> tuple[list[np.ndarray], list[str]]:
    mat = scipy.io.loadmat(str(layout.mat_path(p)))
    sig = list(mat["joined_data"].ravel())
    vids = [str(np.asarray(v).ravel()[0]).strip() for v in mat["VideoIDs"].ravel()]
    return sig, vids


# --- units: file → mV / µS -------------------------------------------------------------------


def test_the_file_stores_the_datasets_units_and_loading_gives_mv_and_us(
    copy: AmigosLayout,
) -> None:
    sig, vids = _raw_cells(copy, 3)
    trials = load_dataset(copy, [3])
    assert trials and all(t.ecg_file_unit == "uV" for t in trials)
    for t in trials:
        raw = np.asarray(sig[t.index], float)
        # as written: ECG in µV (a surface ECG of about 1 mV reads about 1000), GSR in kΩ
        assert 200.0 <= ecg_amplitude(raw[:, 14]) <= 10_000.0
        assert np.allclose(t.ecg, raw[:, 14] / 1000.0)  # µV → mV
        assert np.allclose(t.gsr, 1000.0 / raw[:, 16])  # kΩ → µS
        assert ECG_RANGE_MV[0] <= ecg_amplitude(t.ecg) <= ECG_RANGE_MV[1]
        assert EDA_RANGE_US[0] <= float(np.median(t.gsr)) <= EDA_RANGE_US[1]
        assert t.video_id == vids[t.index]


def test_auto_finds_the_ecg_unit_from_the_amplitude(copy: AmigosLayout) -> None:
    stated = load_dataset(copy, [2])
    auto = load_dataset(replace(copy, ecg_unit="auto"), [2])
    assert [t.ecg_file_unit for t in auto] == ["uV"] * len(stated)
    for a, b in zip(auto, stated, strict=True):
        assert np.array_equal(a.ecg, b.ecg)
    rng = np.random.default_rng(0)
    beat = np.where(np.arange(1280) % 100 == 0, 1.2, 0.0) + 0.02 * rng.standard_normal(1280)
    assert infer_ecg_unit(beat) == "mV"
    assert infer_ecg_unit(beat * 1e3) == "uV"
    assert infer_ecg_unit(beat * 1e-3) == "V"
    assert infer_ecg_unit(beat * 1e6) is None  # nV: no choice makes it a surface ECG
    assert np.allclose(ecg_to_mv(beat * 1e3, "uV"), beat)
    with pytest.raises(ValueError, match="unknown ECG unit"):
        ecg_to_mv(beat, "mmHg")


def test_a_wrong_unit_is_refused_with_the_setting_named(
    copy: AmigosLayout, caplog: pytest.LogCaptureFixture
) -> None:
    with pytest.raises(UnitCheckError, match=r"outside the 0\.2–10 mV.*--ecg-unit"):
        load_participant(replace(copy, ecg_unit="mV"), 1)  # µV read as mV: 1000 × too large
    with caplog.at_level(logging.WARNING, logger="core.learning.datasets.amigos"):
        assert load_dataset(replace(copy, ecg_unit="mV"), [1]) == []
    assert "P01 refused:" in caplog.text
    with pytest.raises(UnitCheckError, match="gsr_resistance_unit_ohm"):
        load_participant(replace(copy, gsr_resistance_unit_ohm=1.0), 1)  # Ω, not kΩ


def test_the_scaling_records_its_units() -> None:
    d = SignalScaling({"ecg": 0.1, "gsr": 4.0}, {"ecg": 0.3, "gsr": 2.0}, (1, 2)).to_dict()
    assert d["units"] == {"ECG": "mV", "EDA": "uS"}
    assert SignalScaling.from_dict(d).units == {"ECG": "mV", "EDA": "uS"}


# --- the 16 short videos by default ----------------------------------------------------------


def test_the_default_reads_exactly_the_16_short_videos_of_each_participant(
    copy: AmigosLayout,
) -> None:
    short = load_dataset(copy)
    assert {t.participant for t in short} == {1, 2, 3}
    for p in (1, 2, 3):
        ids = [t.video_id for t in short if t.participant == p]
        assert len(ids) == 16 and set(ids) == SHORT_VIDEO_IDS
    both = load_dataset(copy, include_long_videos=True)
    for p in (1, 2, 3):
        ids = {t.video_id for t in both if t.participant == p}
        assert len([t for t in both if t.participant == p]) == 20
        assert ids == SHORT_VIDEO_IDS | LONG_VIDEO_IDS


def test_short_is_decided_by_video_id_then_by_position() -> None:
    assert is_short_video(18, "138")  # a short video's id, wherever it is stored
    assert not is_short_video(2, "N1")
    assert is_short_video(15, "x") and not is_short_video(16, "x")


def test_amigos_layout_defaults_are_stated() -> None:
    layout = AmigosLayout(root=Path("."))
    assert layout.ecg_unit == "auto" and layout.gsr_polarity == "resistance"
    assert layout.gsr_resistance_unit_ohm == 1e3
