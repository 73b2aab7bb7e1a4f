"""The model's outputs: their order and the scale the network is trained on.

The order is AMIGOS' (:mod:`core.learning.datasets.amigos` maps its label columns onto it):
valence, arousal, liking (self-assessments, 1–9) and the seven one-hot basic emotions ("joy" in
the paper is "happiness"). numpy only, so readers of results need no torch.
"""

from __future__ import annotations

import numpy as np

OUTPUT_NAMES: tuple[str, ...] = (
    "valence", "arousal", "liking",
    "neutral", "disgust", "happiness", "surprise", "anger", "fear", "sadness",
)  # fmt: skip
N_RATINGS = 3  # valence, arousal, liking come first in the output order


def to_training_scale(targets: np.ndarray) -> np.ndarray:
    """Ratings (first three columns, 1–9) to [-1, 1]; emotion columns unchanged."""
    t = np.asarray(targets, dtype=np.float32).copy()
    t[:, :N_RATINGS] = (t[:, :N_RATINGS] - 5.0) / 4.0
    return t


def from_training_scale(outputs: np.ndarray) -> np.ndarray:
    """Inverse of :func:`to_training_scale`: model outputs back to ratings 1–9 and emotions."""
    o = np.asarray(outputs, dtype=np.float32).copy()
    o[:, :N_RATINGS] = 5.0 + 4.0 * o[:, :N_RATINGS]
    return o
