"""End to end on AMIGOS-format data: load → faces → crop cache → train → held-out scores."""

from __future__ import annotations

import numpy as np
import pytest

from core.learning.datasets.amigos import SignalScaling, frame_windows, load_dataset
from core.learning.datasets.frames import build_frame_samples
from core.learning.datasets.synthetic_amigos import write_synthetic_amigos
from core.learning.experiment import cross_validate, results_table, write_tables
from core.learning.training import TrainConfig
from core.models import BMMNConfig


@pytest.fixture(scope="module")
def amigos(tmp_path_factory):
    root = tmp_path_factory.mktemp("amigos")
    layout = write_synthetic_amigos(root, participants=6, trials=4, seconds=10, seed=3)
    return root, load_dataset(layout, range(1, 7))


def test_frame_samples_match_the_reference_windows_and_cache(amigos, tmp_path):
    root, trials = amigos
    scaling = SignalScaling.fit(trials)
    s = build_frame_samples(trials, scaling, tmp_path / "cache", frame_step=5, crop_size=48)
    assert len(s) > 100 and s.faces[0].shape == (48, 48, 3)
    # the lazily cut window equals the reference frame_windows of the same frame
    tr = [t for t in trials if t.video_path is not None][0]
    first = s.bio[0]
    ref = scaling.apply(frame_windows(tr.ecg, 128.0, np.array([0.0]), 1000), "ecg")[0]
    assert np.allclose(first[0], ref, atol=1e-5)
    n_files = len(list((tmp_path / "cache").glob("*.npy")))
    again = build_frame_samples(trials, scaling, tmp_path / "cache", frame_step=5, crop_size=48)
    assert len(list((tmp_path / "cache").glob("*.npy"))) == n_files  # read back, not rebuilt
    assert np.array_equal(again.faces[7], s.faces[7])


def test_held_out_participants_beat_the_majority_baseline(amigos, tmp_path):
    root, trials = amigos
    cfg = BMMNConfig(variant="bae2", backbone="small", backbone_weights="none", face_size=48)
    tc = TrainConfig(epochs_bmmn=6, epochs_bae=1, epochs_joint=3, batch_size=32)
    r = cross_validate(trials, cfg, tc, root / "cache", folds=3, frame_step=5)
    v, a = r["per_label"]["valence"], r["per_label"]["arousal"]
    assert v["accuracy"] > v["baseline"] + 10, v
    assert a["accuracy"] > a["baseline"] + 10, a
    rows = results_table([r])
    csv_path, md_path = write_tables(rows, tmp_path)
    assert "65.05" in md_path.read_text()  # the paper's BMMN-BAE-2 valence beside ours
    assert csv_path.read_text().count("\n") == 12  # header + 10 labels + average
