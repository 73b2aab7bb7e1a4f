"""Person-independent folds and the paper's per-label scores (numpy only).

Evaluation follows Sec. IV of the BMMN paper: folds never share a participant between training
and test; each of the 10 outputs is scored as a binary decision (ratings high when > 5, emotions
felt or not) by accuracy, precision and F1, beside the majority-class baseline.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from core.learning.datasets.amigos import HIGH_RATING, OUTPUT_NAMES


def person_folds(
    participants: Iterable[int], k: int, seed: int = 0
) -> list[tuple[tuple[int, ...], tuple[int, ...]]]:
    """Person-independent k-fold split: no participant is in both train and test of a fold.

    Parameters
    ----------
    participants : iterable of int — participant numbers (duplicates ignored)
    k : int — number of folds, 2 ≤ k ≤ number of participants
    seed : int — shuffling seed (same seed, same folds)

    Returns
    -------
    list of (train_ids, test_ids) — sorted tuples; the test sets partition the participants
    """
    ids = np.array(sorted(set(participants)), dtype=int)
    if not 2 <= k <= ids.size:
        raise ValueError(f"k={k} folds need 2 ≤ k ≤ {ids.size} participants")
    shuffled = np.random.default_rng(seed).permutation(ids)
    folds = []
    for test in np.array_split(shuffled, k):
        test_set = {int(p) for p in test}
        train = tuple(int(p) for p in ids if p not in test_set)
        folds.append((train, tuple(sorted(test_set))))
    return folds


@dataclass(frozen=True)
class LabelScores:
    """Binary scores of one label on a test set; all rates are fractions in [0, 1].

    ``baseline_accuracy`` is the accuracy of always predicting the training set's majority class.
    Precision is 0 when nothing was predicted positive, F1 is 0 when there are no positives.
    """

    label: str
    accuracy: float
    precision: float
    f1: float
    baseline_accuracy: float
    n: int
    positives: int  # test samples whose true class is "high" / "felt"


def binary_decisions(y: np.ndarray, *, predicted: bool) -> np.ndarray:
    """Turn outputs or labels in :data:`OUTPUT_NAMES` order into high/low decisions.

    Ratings (valence, arousal, liking) are high when > 5. Emotions: true labels are taken as
    felt when ≥ 0.5; predictions are one-hot — the argmax over the 7 emotion outputs is felt,
    the others not. Each emotion is then scored as its own binary label (felt vs not), which is
    how the paper reports a score per emotion.

    Parameters
    ----------
    y : ndarray (n, 10) — ratings on the 1–9 scale and emotion scores
    predicted : bool — True for model outputs (argmax for emotions), False for true labels

    Returns
    -------
    ndarray (n, 10), bool
    """
    y = np.atleast_2d(np.asarray(y, dtype=float))
    if y.shape[1] != len(OUTPUT_NAMES):
        raise ValueError(f"expected {len(OUTPUT_NAMES)} columns, got {y.shape[1]}")
    out = np.zeros(y.shape, dtype=bool)
    out[:, :3] = y[:, :3] > HIGH_RATING
    if predicted:
        out[np.arange(len(y)), 3 + np.argmax(y[:, 3:], axis=1)] = True
    else:
        out[:, 3:] = y[:, 3:] >= 0.5
    return out


def binary_scores(
    y_true_ratings: np.ndarray, y_pred_ratings: np.ndarray, y_train_ratings: np.ndarray
) -> dict[str, LabelScores]:
    """Accuracy, precision, F1 and the majority baseline for each of the 10 labels.

    Parameters
    ----------
    y_true_ratings : ndarray (n, 10) — test labels, :data:`OUTPUT_NAMES` order, ratings 1–9
    y_pred_ratings : ndarray (n, 10) — model outputs for the same samples, same scale
    y_train_ratings : ndarray (n_train, 10) — training labels; their majority class per label
        (ties → low) is the baseline predictor applied to the test set

    Returns
    -------
    dict label → LabelScores, in :data:`OUTPUT_NAMES` order
    """
    t = binary_decisions(y_true_ratings, predicted=False)
    p = binary_decisions(y_pred_ratings, predicted=True)
    majority = binary_decisions(y_train_ratings, predicted=False).mean(axis=0) > 0.5
    if t.shape != p.shape:
        raise ValueError(f"true {t.shape} and predicted {p.shape} differ")
    scores = {}
    for j, name in enumerate(OUTPUT_NAMES):
        tp = int(np.sum(t[:, j] & p[:, j]))
        fp = int(np.sum(~t[:, j] & p[:, j]))
        fn = int(np.sum(t[:, j] & ~p[:, j]))
        n = len(t)
        scores[name] = LabelScores(
            label=name,
            accuracy=float(np.mean(t[:, j] == p[:, j])) if n else 0.0,
            precision=tp / (tp + fp) if tp + fp else 0.0,
            f1=2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0,
            baseline_accuracy=float(np.mean(t[:, j] == majority[j])) if n else 0.0,
            n=n,
            positives=int(t[:, j].sum()),
        )
    return scores
