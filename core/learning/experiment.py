"""Person-independent evaluation of the BMMN family, printed beside the paper's figures.

For each fold the signal scaling is fitted on the training participants only, the model is trained
(:func:`core.learning.training.train`) on their frames and scored on the held-out participants' frames with
the paper's per-label binary scores (high = rating > 5; emotions one-hot), next to the majority
baseline of the training labels. Face crops come from the cache, so folds and variants after the
first never decode video.
"""

from __future__ import annotations

import csv
import hashlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from core.learning.datasets.amigos import OUTPUT_NAMES, SignalScaling, Trial
from core.learning.datasets.evaluation import binary_scores, person_folds
from core.learning.datasets.frames import FrameSamples, build_frame_samples
from core.learning.training import FrameDataset, TrainConfig, predict, train
from core.models import BMMNConfig
from core.models.outputs import to_training_scale

log = logging.getLogger(__name__)

#: the paper's accuracy (%) on AMIGOS, person-independent (Tables III–V of Comas et al. 2020)
PAPER = {
    ("bae2", "both"): {"valence": 65.05, "arousal": 87.53, "liking": 78.10, "average": 71.57},
    ("bmmn", "both"): {"average": 67.53},
    ("bae1", "both"): {"average": 67.62},
    ("bmmn", "bio"): {"average": 46.92},
    ("bmmn", "face"): {"average": 44.46},
}


def data_fingerprint(trials: Sequence[Trial]) -> str:
    """A short hash of which trials (and labels) a model saw, stored with its checkpoint."""
    h = hashlib.sha256()
    for t in sorted(trials, key=lambda t: (t.participant, t.index)):
        h.update(f"{t.participant}:{t.index}:{t.video_id}:{len(t.ecg)}".encode())
        h.update(np.asarray(t.labels, np.float32).tobytes())
    return h.hexdigest()[:16]


def dataset_of(samples: FrameSamples) -> FrameDataset:
    return FrameDataset(samples.faces, samples.bio, to_training_scale(samples.targets))  # type: ignore[arg-type]


def cross_validate(
    trials: Sequence[Trial],
    model_cfg: BMMNConfig,
    train_cfg: TrainConfig,
    cache_dir: Path,
    folds: int = 5,
    frame_step: int = 1,
    seed: int = 0,
    progress: Callable[[str], None] | None = None,
    tracker_factory: Callable[[], Any] | None = None,
) -> dict[str, Any]:
    """Train and score one variant/modality over person-independent folds.

    Returns
    -------
    dict with ``per_label``: label → {accuracy, precision, f1, baseline} in % (frame-weighted
    over folds), ``average`` (mean accuracy over the 10 labels, %), ``average_baseline``, ``folds``
    """
    participants = sorted({t.participant for t in trials})
    totals: dict[str, np.ndarray] = {n: np.zeros(4) for n in OUTPUT_NAMES}
    n_total = 0
    fold_rows = []
    for k, (train_ids, test_ids) in enumerate(person_folds(participants, folds, seed)):
        scaling = SignalScaling.fit(trials, participants=train_ids)
        samples = build_frame_samples(
            trials,
            scaling,
            cache_dir,
            frame_step,
            model_cfg.face_size,
            tracker_factory=tracker_factory,
        )
        tr = samples.subset(np.isin(samples.participants, list(train_ids)))
        te = samples.subset(np.isin(samples.participants, list(test_ids)))
        if not len(tr) or not len(te):
            raise ValueError(f"fold {k + 1}: no frames for training or testing")
        if progress is not None:
            progress(f"fold {k + 1}/{folds}: train {len(tr)} frames, test {len(te)} frames")
        model, _ = train(model_cfg, replace(train_cfg, seed=train_cfg.seed + k), dataset_of(tr))
        pred = predict(model, dataset_of(te), device=train_cfg.device, amp=train_cfg.amp)
        scores = binary_scores(te.targets, pred, tr.targets)
        fold_rows.append({n: s.accuracy for n, s in scores.items()})
        for n, s in scores.items():
            totals[n] += np.array([s.accuracy, s.precision, s.f1, s.baseline_accuracy]) * s.n
        n_total += len(te)
    per_label = {
        n: dict(zip(("accuracy", "precision", "f1", "baseline"), 100 * v / n_total, strict=True))
        for n, v in totals.items()
    }
    return {
        "variant": model_cfg.variant,
        "modalities": model_cfg.modalities,
        "per_label": per_label,
        "average": float(np.mean([v["accuracy"] for v in per_label.values()])),
        "average_baseline": float(np.mean([v["baseline"] for v in per_label.values()])),
        "folds": fold_rows,
        "n_test_frames": n_total,
    }


def results_table(results: list[dict[str, Any]]) -> list[dict[str, str]]:
    """Rows (one per label and run, plus averages) with our scores beside the paper's."""
    rows = []
    for r in results:
        paper = PAPER.get((r["variant"], r["modalities"]), {})
        for name in (*OUTPUT_NAMES, "average"):
            if name == "average":
                ours = {"accuracy": r["average"], "baseline": r["average_baseline"]}
            else:
                ours = r["per_label"][name]
            rows.append(
                {
                    "variant": r["variant"],
                    "modalities": r["modalities"],
                    "label": name,
                    "accuracy %": f"{ours['accuracy']:.2f}",
                    "precision %": f"{ours['precision']:.2f}" if "precision" in ours else "",
                    "F1 %": f"{ours['f1']:.2f}" if "f1" in ours else "",
                    "majority baseline %": f"{ours['baseline']:.2f}",
                    "paper accuracy %": f"{paper[name]:.2f}" if name in paper else "",
                }
            )
    return rows


def write_tables(rows: list[dict[str, str]], out_dir: Path) -> tuple[Path, Path]:
    """Save the table as CSV and as Markdown; return both paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    csv_path, md_path = out_dir / "evaluation.csv", out_dir / "evaluation.md"
    with open(csv_path, "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    head = list(rows[0])
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    lines += ["| " + " | ".join(r[h] for h in head) + " |" for r in rows]
    md_path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return csv_path, md_path
