"""All model families on the same person-independent folds, beside each paper's own figures.

Every family sees the same trials, the same folds (:func:`person_folds` with the same seed), the
same signal scaling (fitted on each fold's training participants) and the same crop cache; each is
scored with the same per-label binary scores and majority baseline. The papers' figures are printed
beside ours labelled with their dataset and protocol: DEAP/MAHNOB-HCI (DeepVANet), AMIGOS with
10-fold cross-validation over segments (Transformer), SEMAINE/SEWA with correlation metrics (AViGaS)
and AMIGOS person-independent (BMMN) are different data and protocols, not comparable with each other
or with our folds.

DeepVANet's per-subject protocol (:func:`per_subject_protocol`) is run two ways: random 1-s segments
in train and test, as the paper did, and segments split by time blocks within each trial; the
difference is how much adjacent segments of one trial on both sides inflate accuracy.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from core.learning.datasets.amigos import OUTPUT_NAMES, SignalScaling, Trial
from core.learning.datasets.evaluation import binary_scores, person_folds
from core.learning.datasets.frames import FrameSamples, build_frame_samples
from core.learning.experiment import cross_validate
from core.learning.family_training import (
    FamilyTrainConfig,
    SequenceDataset,
    predict_family,
    train_family,
)
from core.learning.sequences import SequenceSamples
from core.learning.training import TrainConfig
from core.models.avigas import AViGaSConfig
from core.models.bmmn import BMMNConfig
from core.models.deepvanet import DeepVANetConfig
from core.models.families import family_of, inputs_of
from core.models.mvp_transformer import MVPTransformerConfig, filter_segment
from core.models.outputs import to_training_scale

log = logging.getLogger(__name__)

#: each paper's own figures (accuracy %, or F1 % / CCC where stated) with dataset and protocol
PAPER_FIGURES: dict[str, dict[str, Any]] = {
    "bmmn": {
        "source": "paper 000: AMIGOS, person-independent, accuracy (BMMN-BAE-2)",
        "valence": 65.05,
        "arousal": 87.53,
        "liking": 78.10,
        "average": 71.57,
    },
    "deepvanet": {
        "source": "paper 001: DEAP, inter-subject 10-fold CV over 1-s segments, accuracy "
        "(MAHNOB-HCI 96.82 / 97.79)",
        "valence": 95.56,
        "arousal": 95.33,
    },
    "transformer": {
        "source": "paper 003: AMIGOS ECG + EEG, 10-fold CV over 10-s segments, accuracy "
        "(F1 0.85 / 0.89)",
        "valence": 85.0,
        "arousal": 89.0,
    },
    "avigas": {
        "source": "paper 004: SEMAINE, continuous valence/arousal, CCC 0.587 / 0.642 "
        "(no accuracy reported)",
    },
}

#: DeepVANet's own per-subject figures (paper 001, Table 2), accuracy %
DEEPVANET_PER_SUBJECT = {"DEAP": (98.56, 98.18), "MAHNOB-HCI": (99.19, 99.22)}

NOT_COMPARABLE = (
    "The papers' figures come from other datasets and protocols (DEAP/MAHNOB-HCI per- and "
    "inter-subject segment CV; AMIGOS 10-fold segment CV; SEMAINE/SEWA CCC; AMIGOS "
    "person-independent) and are not comparable with each other nor with our folds."
)


#: reduced sizes for CPU runs and tests ("--size small"); everything else as the paper
SMALL: dict[str, Any] = {
    "deepvanet": DeepVANetConfig(
        face_size=32, frames=3, face_channels=(4, 8, 8), convlstm_hidden=4, dropout=0.0
    ),
    "transformer": MVPTransformerConfig(
        segment_s=4.0, frames=2, face_size=32, cnn_kernels=(9, 5, 3), cnn_channels=(8, 16, 16),
        token_pool=16, feedforward=32, mvp_hidden=16, head_hidden=16, fusion_hidden=(16, 8),
        head_dropout=0.2, face_backbone="small", face_weights="none", freeze_face=False,
    ),
    "avigas": AViGaSConfig(
        steps=4, face_size=32, latent=16, bio_channels=(8, 16), gmu=16, lstm_hidden=16
    ),
}  # fmt: skip


def family_config(name: str, size: str = "paper") -> Any:
    """A sequence family's config: the paper's sizes (``"paper"``) or :data:`SMALL` ones."""
    if size == "small":
        return SMALL[name]
    if size != "paper":
        raise ValueError(f"size must be 'paper' or 'small', not {size!r}")
    defaults = {
        "deepvanet": DeepVANetConfig,
        "transformer": MVPTransformerConfig,
        "avigas": AViGaSConfig,
    }
    return defaults[name]()


def _scores_summary(
    totals: dict[str, np.ndarray], n_total: int
) -> tuple[dict[str, dict[str, float]], float, float]:
    per_label = {
        n: dict(zip(("accuracy", "precision", "f1", "baseline"), 100 * v / n_total, strict=True))
        for n, v in totals.items()
    }
    avg = float(np.mean([v["accuracy"] for v in per_label.values()]))
    base = float(np.mean([v["baseline"] for v in per_label.values()]))
    return per_label, avg, base


def sequence_samples_for(config: Any, samples: FrameSamples, anchor_step: int) -> SequenceSamples:
    """A sequence family's samples from frame samples (the Transformer's signals filtered)."""
    flt = filter_segment if isinstance(config, MVPTransformerConfig) else None
    return SequenceSamples.build(samples, inputs_of(config), anchor_step, flt)


def cross_validate_family(
    trials: Sequence[Trial],
    config: Any,
    train_cfg: TrainConfig | FamilyTrainConfig,
    cache_dir: Path,
    folds: int = 5,
    frame_step: int = 1,
    seed: int = 0,
    anchor_step: int = 1,
    progress: Callable[[str], None] | None = None,
    tracker_factory: Callable[[], Any] | None = None,
) -> dict[str, Any]:
    """Train and score one family over person-independent folds.

    ``train_cfg`` is a :class:`TrainConfig` for BMMN (which goes through
    :func:`core.learning.experiment.cross_validate`) and a :class:`FamilyTrainConfig` for the
    others. ``anchor_step`` anchors a sequence sample on every n-th analysed frame.

    Returns
    -------
    dict with ``family``, ``per_label`` (label → accuracy, precision, f1, baseline in %),
    ``average``, ``average_baseline``, ``folds``, ``n_test``, ``samples_per_s`` (inference on the
    test samples, CPU or the device trained on), ``inputs`` (what one sample holds)
    """
    fam = family_of(config)
    if isinstance(config, BMMNConfig):
        if not isinstance(train_cfg, TrainConfig):
            raise TypeError("BMMN trains with a TrainConfig")
        t0 = time.perf_counter()
        r = cross_validate(
            trials, config, train_cfg, cache_dir, folds, frame_step, seed, progress, tracker_factory
        )
        r.update(
            family="bmmn",
            n_test=r["n_test_frames"],
            inputs=inputs_of(config).describe(),
            samples_per_s=float("nan"),
            seconds=time.perf_counter() - t0,
        )
        return r
    if not isinstance(train_cfg, FamilyTrainConfig):
        raise TypeError(f"{fam.name} trains with a FamilyTrainConfig")
    inputs = inputs_of(config)
    participants = sorted({t.participant for t in trials})
    totals = {n: np.zeros(4) for n in OUTPUT_NAMES}
    n_total, fold_rows, infer_s = 0, [], 0.0
    t0 = time.perf_counter()
    for k, (train_ids, test_ids) in enumerate(person_folds(participants, folds, seed)):
        scaling = SignalScaling.fit(trials, participants=train_ids)
        frames = build_frame_samples(
            trials,
            scaling,
            cache_dir,
            frame_step,
            inputs.face_size,
            tracker_factory=tracker_factory,
        )
        seqs = sequence_samples_for(config, frames, anchor_step)
        tr = seqs.subset(np.isin(seqs.participants, list(train_ids)))
        te = seqs.subset(np.isin(seqs.participants, list(test_ids)))
        if not len(tr) or not len(te):
            raise ValueError(f"fold {k + 1}: no samples for training or testing")
        if progress is not None:
            progress(f"{fam.name} fold {k + 1}/{folds}: train {len(tr)}, test {len(te)} samples")
        model, _ = train_family(
            config,
            replace(train_cfg, seed=train_cfg.seed + k),
            SequenceDataset(tr, to_training_scale(tr.targets)),
        )
        t1 = time.perf_counter()
        pred = predict_family(
            model, SequenceDataset(te, to_training_scale(te.targets)), device=train_cfg.device
        )
        infer_s += time.perf_counter() - t1
        scores = binary_scores(te.targets, pred, tr.targets)
        fold_rows.append({n: s.accuracy for n, s in scores.items()})
        for n, s in scores.items():
            totals[n] += np.array([s.accuracy, s.precision, s.f1, s.baseline_accuracy]) * s.n
        n_total += len(te)
    per_label, avg, base = _scores_summary(totals, n_total)
    return {
        "family": fam.name,
        "variant": fam.name,
        "modalities": getattr(config, "modalities", "both"),
        "per_label": per_label,
        "average": avg,
        "average_baseline": base,
        "folds": fold_rows,
        "n_test": n_total,
        "samples_per_s": n_total / infer_s if infer_s else float("nan"),
        "inputs": inputs.describe(),
        "seconds": time.perf_counter() - t0,
    }


def comparison_table(results: list[dict[str, Any]]) -> list[dict[str, str]]:
    """One row per family and label (and the family's average) with the paper's figure beside."""
    rows = []
    for r in results:
        paper = PAPER_FIGURES.get(r["family"], {})
        for name in (*OUTPUT_NAMES, "average"):
            if name == "average":
                ours = {"accuracy": r["average"], "baseline": r["average_baseline"]}
            else:
                ours = r["per_label"][name]
            fig = paper.get(name)
            rows.append(
                {
                    "family": r["family"],
                    "label": name,
                    "accuracy %": f"{ours['accuracy']:.2f}",
                    "precision %": f"{ours['precision']:.2f}" if "precision" in ours else "",
                    "F1 %": f"{ours['f1']:.2f}" if "f1" in ours else "",
                    "majority baseline %": f"{ours['baseline']:.2f}",
                    "samples/s": f"{r['samples_per_s']:.0f}"
                    if name == "average" and np.isfinite(r.get("samples_per_s", np.nan))
                    else "",
                    "paper %": f"{fig:.2f}" if isinstance(fig, float) else "",
                    "paper's dataset and protocol": paper.get("source", "")
                    if name in ("valence", "average")
                    else "",
                }
            )
    return rows


def markdown(rows: list[dict[str, str]], note: str = NOT_COMPARABLE) -> str:
    """The table as Markdown, with the note on comparability below it."""
    head = list(rows[0])
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    lines += ["| " + " | ".join(r[h] for h in head) + " |" for r in rows]
    return "\n".join(lines) + f"\n\n{note}\n"


def _non_overlapping(seqs: SequenceSamples) -> np.ndarray:
    """Indices of samples whose segments do not overlap within a trial (greedy, in time order)."""
    keep = []
    span = seqs.inputs.bio_samples
    for k in np.unique(seqs.trials):
        rows = np.nonzero(seqs.trials == k)[0]
        rows = rows[np.argsort(seqs.centres[rows], kind="stable")]
        last = -np.inf
        for r in rows:
            if seqs.centres[r] - last >= span:
                keep.append(r)
                last = seqs.centres[r]
    return np.array(sorted(keep), dtype=np.int64)


def per_subject_splits(
    seqs: SequenceSamples, folds: int, split: str, seed: int = 0
) -> list[tuple[np.ndarray, np.ndarray]]:
    """(train, test) index arrays of one participant's segments.

    ``split="random"``: segments shuffled into ``folds`` folds (the paper's way: neighbours of a
    test segment from the same trial are in training). ``split="time"``: each trial's segments in
    time order cut into ``folds`` contiguous blocks; fold j tests block j of every trial.
    """
    n = len(seqs)
    if split == "random":
        order = np.random.default_rng(seed).permutation(n)
        groups = np.array_split(order, folds)
    elif split == "time":
        groups = [np.zeros(0, np.int64) for _ in range(folds)]
        for k in np.unique(seqs.trials):
            rows = np.nonzero(seqs.trials == k)[0]
            rows = rows[np.argsort(seqs.centres[rows], kind="stable")]
            for j, block in enumerate(np.array_split(rows, folds)):
                groups[j] = np.concatenate([groups[j], block])
    else:
        raise ValueError(f"split must be 'random' or 'time', not {split!r}")
    out = []
    for j in range(folds):
        test = np.sort(groups[j])
        train = np.setdiff1d(np.arange(n), test)
        if len(test) and len(train):
            out.append((train, test))
    return out


def per_subject_protocol(
    trials: Sequence[Trial],
    config: Any,
    train_cfg: FamilyTrainConfig,
    cache_dir: Path,
    folds: int = 10,
    frame_step: int = 1,
    splits: Sequence[str] = ("random", "time"),
    participants: Sequence[int] | None = None,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """DeepVANet's per-subject protocol: a model per participant, k-fold over its 1-s segments.

    Segments do not overlap (as the paper's 1-s segments); the signal scaling is the participant's
    own. Returns ``{split: {"valence": %, "arousal": %, "baseline_valence": %, ...}}`` averaged
    over participants and folds, and ``"inflation"``: random minus time-block accuracy (points).
    """
    inputs = inputs_of(config)
    people = sorted({t.participant for t in trials}) if participants is None else list(participants)
    acc: dict[str, dict[str, list[float]]] = {
        s: {"valence": [], "arousal": [], "baseline_valence": [], "baseline_arousal": []}
        for s in splits
    }
    for p in people:
        own = [t for t in trials if t.participant == p]
        scaling = SignalScaling.fit(own)
        frames = build_frame_samples(own, scaling, cache_dir, frame_step, inputs.face_size)
        seqs = sequence_samples_for(config, frames, 1)
        seqs = seqs.subset(_non_overlapping(seqs))
        for split in splits:
            for j, (tr_i, _te_i) in enumerate(per_subject_splits(seqs, folds, split, seed=p)):
                mask_tr = np.zeros(len(seqs), bool)
                mask_tr[tr_i] = True
                tr, te = seqs.subset(mask_tr), seqs.subset(~mask_tr)
                model, _ = train_family(
                    config,
                    replace(train_cfg, seed=train_cfg.seed + j),
                    SequenceDataset(tr, to_training_scale(tr.targets)),
                )
                pred = predict_family(
                    model,
                    SequenceDataset(te, to_training_scale(te.targets)),
                    device=train_cfg.device,
                )
                sc = binary_scores(te.targets, pred, tr.targets)
                for lab in ("valence", "arousal"):
                    acc[split][lab].append(100 * sc[lab].accuracy)
                    acc[split][f"baseline_{lab}"].append(100 * sc[lab].baseline_accuracy)
            if progress is not None:
                progress(f"P{p:02d} {split}: {len(seqs)} segments")
    out: dict[str, Any] = {s: {k: float(np.mean(v)) for k, v in d.items()} for s, d in acc.items()}
    if "random" in out and "time" in out:
        out["inflation"] = {
            lab: out["random"][lab] - out["time"][lab] for lab in ("valence", "arousal")
        }
    out["paper"] = DEEPVANET_PER_SUBJECT
    return out
