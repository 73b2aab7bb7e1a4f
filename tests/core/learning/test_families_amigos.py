"""Every sequence family on synthetic AMIGOS-format data: held-out participants beat the majority.

Tiny models, CPU, fixed seeds, 3 person-independent folds; the three families together take well
under two minutes here (the crop cache, shared with nothing else, is built once at 32 px). The
margin: the mean accuracy over valence and arousal is at least 5 points above the mean majority
baseline of the two (BMMN's own check is in ``test_experiment.py``).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

pytest.importorskip("torch")

from core.learning.comparison import (  # noqa: E402
    NOT_COMPARABLE,
    comparison_table,
    cross_validate_family,
    family_config,
    markdown,
    per_subject_protocol,
    per_subject_splits,
    sequence_samples_for,
)
from core.learning.datasets.amigos import SignalScaling, load_dataset  # noqa: E402
from core.learning.datasets.frames import build_frame_samples  # noqa: E402
from core.learning.datasets.synthetic_amigos import write_synthetic_amigos  # noqa: E402
from core.learning.family_training import FamilyTrainConfig  # noqa: E402

FACE = 32
MARGIN = 5.0  # accuracy points above the majority baseline, mean of valence and arousal

CONFIGS = {name: family_config(name, "small") for name in ("deepvanet", "transformer", "avigas")}
TRAIN = FamilyTrainConfig(epochs=6, epochs_pretrain=2, batch_size=32, lr=1e-3, device="cpu")
EPOCHS = {"deepvanet": 10, "transformer": 12, "avigas": 6}


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():
    """One intra-op thread: these tiny models gain nothing from more, and on a busy machine two
    threads that spin-wait for each other made them ten times slower."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def amigos(tmp_path_factory):
    root = tmp_path_factory.mktemp("amigos_families")
    layout = write_synthetic_amigos(root, participants=6, trials=4, seconds=10, seed=3)
    return root, load_dataset(layout, range(1, 7))


def test_sequences_are_centred_and_use_the_nearest_crops(amigos) -> None:
    root, trials = amigos
    frames = build_frame_samples(
        trials, SignalScaling.fit(trials), root / "cache", frame_step=5, crop_size=FACE
    )
    seqs = sequence_samples_for(CONFIGS["deepvanet"], frames, anchor_step=1)
    assert len(seqs) == len(frames)
    i = len(seqs) // 2
    face, bio = seqs.face(i), seqs.bio(i)
    assert face.shape == (3, FACE, FACE, 3) and bio.shape == (2, 128)
    # the middle crop is the anchor frame's own; the middle of the segment its window's middle
    assert np.array_equal(face[1], frames.faces[int(seqs.anchors[i])])
    assert np.allclose(bio[:, 64], frames.bio[int(seqs.anchors[i])][:, 500])
    # a segment longer than BMMN's padding still comes out whole (edge-padded)
    tf = sequence_samples_for(CONFIGS["transformer"], frames, anchor_step=10)
    assert tf.bio(0).shape == (2, 512) and np.all(np.isfinite(tf.bio(0)))


@pytest.mark.parametrize("name", list(CONFIGS))
def test_family_beats_the_majority_baseline_on_held_out_participants(amigos, name) -> None:
    root, trials = amigos
    r = cross_validate_family(
        trials,
        CONFIGS[name],
        replace(TRAIN, epochs=EPOCHS[name]),
        root / "cache",
        folds=3,
        frame_step=5,
        anchor_step=5,
    )
    v, a = r["per_label"]["valence"], r["per_label"]["arousal"]
    ours = (v["accuracy"] + a["accuracy"]) / 2
    base = (v["baseline"] + a["baseline"]) / 2
    assert ours > base + MARGIN, (name, v, a)
    rows = comparison_table([r])
    assert len(rows) == 11 and rows[0]["family"] == name
    assert NOT_COMPARABLE in markdown(rows)


def test_per_subject_time_blocks_keep_trials_apart_in_time() -> None:
    class Fake:
        trials = np.repeat([0, 1], 10)
        centres = np.tile(np.arange(10) * 128, 2)

        def __len__(self) -> int:
            return 20

    for _train, test in per_subject_splits(Fake(), 5, "time"):  # type: ignore[arg-type]
        # each test block is 2 adjacent segments of each trial
        for k in (0, 1):
            c = np.sort(Fake.centres[test][Fake.trials[test] == k])
            assert len(c) == 2 and c[1] - c[0] == 128
    random = per_subject_splits(Fake(), 5, "random")  # type: ignore[arg-type]
    assert sorted(np.concatenate([t for _, t in random]).tolist()) == list(range(20))


def test_deepvanet_per_subject_protocol_runs_both_splits(amigos) -> None:
    root, trials = amigos
    tiny = FamilyTrainConfig(epochs=1, batch_size=16, device="cpu")
    out = per_subject_protocol(
        trials, CONFIGS["deepvanet"], tiny, root / "cache", folds=2, frame_step=5,
        participants=[2],
    )  # fmt: skip
    assert set(out["inflation"]) == {"valence", "arousal"}
    assert 0 <= out["random"]["valence"] <= 100 and 0 <= out["time"]["arousal"] <= 100


def test_decision_fusion_fits_its_adaboost_weights(amigos) -> None:
    from core.learning.family_training import SequenceDataset, train_family
    from core.models.outputs import to_training_scale

    root, trials = amigos
    cfg = replace(CONFIGS["deepvanet"], fusion="decision")
    frames = build_frame_samples(
        trials, SignalScaling.fit(trials), root / "cache", frame_step=5, crop_size=FACE
    )
    seqs = sequence_samples_for(cfg, frames, anchor_step=5)
    tc = replace(TRAIN, epochs=2)
    model, hist = train_family(cfg, tc, SequenceDataset(seqs, to_training_scale(seqs.targets)))
    alpha = model.boost_alpha.numpy()
    assert alpha.shape == (2, 3) and np.all(alpha >= 0) and not np.allclose(alpha, 1.0)
    assert len(hist["train"]) == 2


def test_transformer_pretraining_comes_first_and_falls(amigos) -> None:
    from core.learning.family_training import SequenceDataset, train_family
    from core.models.outputs import to_training_scale

    root, trials = amigos
    cfg = CONFIGS["transformer"]
    frames = build_frame_samples(
        trials, SignalScaling.fit(trials), root / "cache", frame_step=5, crop_size=FACE
    )
    seqs = sequence_samples_for(cfg, frames, anchor_step=10)
    extra = np.random.default_rng(0).standard_normal((16, 2, 512)).astype(np.float32)
    tc = replace(TRAIN, epochs=1, epochs_pretrain=4, lr_pretrain=3e-3)
    _, hist = train_family(
        cfg, tc, SequenceDataset(seqs, to_training_scale(seqs.targets)), unlabelled=extra
    )
    assert list(hist)[:2] == ["pretrain ECG", "pretrain EDA"]
    assert hist["pretrain ECG"][-1] < hist["pretrain ECG"][0]
