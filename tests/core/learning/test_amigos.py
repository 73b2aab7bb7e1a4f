"""AMIGOS loading, per-frame windows, scaling, folds and scores, on a synthetic AMIGOS copy."""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from core.learning.datasets.amigos import (
    EMOTION_NAMES,
    LABEL_COLUMNS,
    LABEL_SOURCE_COLUMN,
    OUTPUT_NAMES,
    AmigosLayout,
    SignalScaling,
    Trial,
    frame_windows,
    gsr_to_conductance,
    labels_to_targets,
    load_dataset,
)
from core.learning.datasets.evaluation import binary_scores, person_folds
from core.learning.datasets.synthetic_amigos import write_synthetic_amigos

SECONDS, FPS, TRIALS, PARTICIPANTS = 6.0, 25.0, 3, 3


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory: pytest.TempPathFactory) -> AmigosLayout:
    root = tmp_path_factory.mktemp("amigos")
    return write_synthetic_amigos(
        root, participants=PARTICIPANTS, trials=TRIALS, seconds=SECONDS, fps=FPS, seed=3
    )


def test_label_mapping_puts_valence_before_arousal() -> None:
    # stored: arousal, valence, dominance, liking, familiarity, then 7 emotions
    row = [2.0, 8.0, 3.0, 7.0, 4.0, 0, 0, 1, 0, 0, 0, 0]
    assert labels_to_targets(row).tolist() == [8.0, 2.0, 7.0, 0, 0, 1, 0, 0, 0, 0]
    assert LABEL_COLUMNS[:2] == ("arousal", "valence")
    assert OUTPUT_NAMES[:3] == ("valence", "arousal", "liking")
    assert all(LABEL_COLUMNS[LABEL_SOURCE_COLUMN[n]] == n for n in OUTPUT_NAMES)
    with pytest.raises(ValueError):
        labels_to_targets(row[:11])


def test_synthetic_files_have_the_amigos_layout(synthetic: AmigosLayout) -> None:
    import scipy.io

    mat = scipy.io.loadmat(str(synthetic.mat_path(1)))
    n_cells = TRIALS + 2  # two defect cells in participant 1
    for name in ("joined_data", "labels_selfassessment", "labels_ext_annotation", "VideoIDs"):
        assert mat[name].shape == (1, n_cells) and mat[name].dtype == object
    assert mat["joined_data"][0][0].shape == (int(SECONDS * 128), 17)
    assert mat["joined_data"][0][1].shape == (0, 0)
    assert mat["labels_selfassessment"][0][0].shape == (1, 12)
    assert mat["labels_selfassessment"][0][3].shape == (1, 0)
    assert synthetic.mat_path(1).name == "Data_Preprocessed_P01.mat"


def test_round_trip_skips_defects_and_finds_videos(
    synthetic: AmigosLayout, caplog: pytest.LogCaptureFixture
) -> None:
    import cv2

    with caplog.at_level(logging.INFO, logger="core.learning.datasets.amigos"):
        trials = load_dataset(synthetic, participants=[1, 2, 3, 7])
    assert len(trials) == PARTICIPANTS * TRIALS
    log = caplog.text
    assert "P01 trial 1 skipped: no signals (shape (0, 0))" in log
    assert "P01 trial 3 skipped: labels missing (shape (1, 0))" in log
    assert "P02 trial 1 skipped: ECG or GSR is all NaN" in log
    assert "P07 skipped: no file" in log
    assert [t.index for t in trials if t.participant == 1] == [0, 2, 4]
    n = int(SECONDS * 128)
    for t in trials:
        assert t.ecg.shape == t.gsr.shape == (n,) and t.labels.shape == (10,)
        assert np.isfinite(t.ecg).all() and (t.gsr > 0).all()
        assert (
            t.video_path is not None
            and t.video_path.name == f"P{t.participant}_{t.video_id}_face.mov"
        )
    # the same stimulus (video id) for everyone
    assert {t.video_id for t in trials} == {"4", "5", "9"}
    cap = cv2.VideoCapture(str(trials[0].video_path))
    try:
        assert cap.isOpened()
        count = 0
        while cap.read()[0]:
            count += 1
    finally:
        cap.release()
    assert count == int(SECONDS * FPS)
    # GSR is converted back to conductance: higher arousal, higher level
    arousal = np.array([t.labels[1] for t in trials])
    level = np.array([t.gsr.mean() for t in trials])
    assert np.corrcoef(arousal, level)[0, 1] > 0.5


def test_layout_options(synthetic: AmigosLayout, caplog: pytest.LogCaptureFixture) -> None:
    right = load_dataset(synthetic, [3])
    left = load_dataset(replace(synthetic, ecg_column=15), [3])
    assert not np.allclose(right[0].ecg, left[0].ecg)
    moved = replace(synthetic, video_pattern="faces/P{p}/P{p}_{video_id}_face.mov")
    assert moved.video_path(3, "N1") == Path(synthetic.root) / "faces/P3/P3_N1_face.mov"
    assert all(t.video_path is None for t in load_dataset(moved, [3]))
    with caplog.at_level(logging.WARNING, logger="core.learning.datasets.amigos"):
        load_dataset(replace(synthetic, gsr_resistance_unit_ohm=1.0), [3])
    assert "implausible for skin conductance" in caplog.text


def test_gsr_conversion() -> None:
    assert gsr_to_conductance(np.array([500.0, 100.0])) == pytest.approx([2.0, 10.0])
    assert gsr_to_conductance(np.array([2.0]), "conductance") == pytest.approx([2.0])
    assert gsr_to_conductance(np.array([2e5]), resistance_unit_ohm=1.0) == pytest.approx([5.0])
    with pytest.raises(ValueError):
        gsr_to_conductance(np.array([100.0, 0.0]))


def _slow_windows(x: np.ndarray, rate_hz: float, times: np.ndarray, w: int) -> np.ndarray:
    out = np.empty((len(times), w))
    for i, t in enumerate(times):
        c = min(max(int(round(t * rate_hz)), 0), len(x) - 1)
        for j in range(w):
            out[i, j] = x[min(max(c - w // 2 + j, 0), len(x) - 1)]
    return out


@pytest.mark.parametrize("window", [8, 7, 40])
def test_frame_windows_match_reference_with_edge_padding(window: int) -> None:
    x = np.random.default_rng(0).standard_normal(30)
    times = np.array([0.0, 0.05, 0.31, 1.0, 2.3, 2.9, 3.6])  # first, middle, last, past the end
    got = frame_windows(x, 10.0, times, window)
    assert got.shape == (len(times), window)
    np.testing.assert_array_equal(got, _slow_windows(x, 10.0, times, window))
    assert np.all(got[0, : window // 2] == x[0])  # padded before the start
    assert np.all(got[-1, window - window // 2 :] == x[-1])  # and after the end
    with pytest.raises(ValueError):
        frame_windows(np.array([]), 10.0, times, window)


def _trial(p: int, level: float, rng: np.random.Generator) -> Trial:
    ecg = level + rng.standard_normal(100)
    return Trial(p, 0, "1", ecg, 2 * ecg + 5, np.zeros(10))


def test_scaling_is_fitted_on_training_participants_only() -> None:
    rng = np.random.default_rng(1)
    trials = [_trial(p, 10.0 * p, rng) for p in (1, 2, 3, 4)]
    train, _test = person_folds([1, 2, 3, 4], 2, seed=0)[0]
    s = SignalScaling.fit(trials, participants=train)
    train_ecg = np.concatenate([t.ecg for t in trials if t.participant in train])
    assert s.mean["ecg"] == pytest.approx(train_ecg.mean())
    assert s.std["ecg"] == pytest.approx(train_ecg.std())
    assert s.mean["gsr"] == pytest.approx(2 * train_ecg.mean() + 5)
    assert s.fitted_on == train
    assert s.mean["ecg"] != pytest.approx(SignalScaling.fit(trials).mean["ecg"])
    scaled = s.apply(train_ecg, "ecg")
    assert scaled.mean() == pytest.approx(0.0, abs=1e-9) and scaled.std() == pytest.approx(1.0)
    back = SignalScaling.from_dict(s.to_dict())
    assert back == s
    with pytest.raises(ValueError):
        SignalScaling.fit(trials, participants=[99])


def test_person_folds_are_disjoint_and_cover() -> None:
    ids = list(range(1, 11))
    folds = person_folds(ids + [3], k=3, seed=5)
    assert len(folds) == 3
    assert sorted(len(test) for _, test in folds) == [3, 3, 4]
    assert sorted(p for _, test in folds for p in test) == ids
    for train, test in folds:
        assert not set(train) & set(test) and sorted(train + test) == ids
    assert folds == person_folds(ids, k=3, seed=5)
    with pytest.raises(ValueError):
        person_folds(ids, k=11)


def _rows(valence: list[float], emotion: list[int | str]) -> np.ndarray:
    y = np.full((len(valence), 10), 5.0)  # arousal and liking at 5: never high
    y[:, 0] = valence
    y[:, 3:] = 0.0
    for i, e in enumerate(emotion):
        y[i, 3 + (EMOTION_NAMES.index(e) if isinstance(e, str) else e)] = 1.0
    return y


def test_binary_scores_on_a_hand_computed_example() -> None:
    y_true = _rows([7, 3, 6, 2], ["happiness", "sadness", "happiness", "neutral"])
    y_pred = _rows([6, 6, 7, 1], ["happiness", "fear", "happiness", "happiness"])
    y_pred[:, 3:] += 0.1 * np.arange(7)  # scores, not one-hot: argmax must still pick the 1
    y_train = _rows([2, 3, 8], ["happiness", "happiness", "sadness"])
    s = binary_scores(y_true, y_pred, y_train)
    assert list(s) == list(OUTPUT_NAMES)
    v = s["valence"]  # true high 1010, predicted 1110: TP 2, FP 1, FN 0, TN 1
    assert (v.accuracy, v.precision, v.f1) == pytest.approx((0.75, 2 / 3, 0.8))
    assert v.baseline_accuracy == 0.5 and v.n == 4 and v.positives == 2  # train majority: low
    a = s["arousal"]  # 5 is not > 5: all low, nothing predicted high
    assert (a.accuracy, a.precision, a.f1, a.baseline_accuracy) == (1.0, 0.0, 0.0, 1.0)
    h = s["happiness"]  # true 1010, predicted 1011
    assert (h.accuracy, h.precision, h.f1) == pytest.approx((0.75, 2 / 3, 0.8))
    assert h.baseline_accuracy == 0.5  # train majority: happiness felt
    sad, fear = s["sadness"], s["fear"]
    assert (sad.accuracy, sad.precision, sad.f1, sad.baseline_accuracy) == (0.75, 0.0, 0.0, 0.75)
    assert (fear.accuracy, fear.precision, fear.positives) == (0.75, 0.0, 0)
