"""The model's outputs: their order and the scale the network is trained on.

The order is AMIGOS' (:mod:`core.learning.datasets.amigos` maps its label columns onto it):
valence, arousal, liking (self-assessments, 1–9) and the seven one-hot basic emotions ("joy" in
the paper is "happiness"). numpy only, so readers of results need no torch.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

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


#: the metadata key under which a checkpoint records the outputs it was trained on
TRAINED_KEY = "outputs_trained"
#: what older checkpoints of the demo model call the same record
_LEGACY_KEY = "labels_trained"
#: what a model is assumed to have learned when its checkpoint records nothing usable: the two
#: outputs every TheraScope model is trained on and the circumplex shows
CONSERVATIVE: tuple[str, ...] = ("valence", "arousal")


def labelled_outputs(targets: np.ndarray) -> list[str]:
    """The outputs (in output order) with at least one known label in ``targets`` (N, 10),
    NaN = unknown: those a model trained on them learns; every family's loss leaves the others
    out."""
    t = np.asarray(targets, dtype=np.float64).reshape(-1, len(OUTPUT_NAMES))
    known = np.asarray(np.isfinite(t).any(axis=0), dtype=bool)
    return [name for i, name in enumerate(OUTPUT_NAMES) if known[i]]


def ordered_outputs(names: object, where: str = "outputs_trained") -> list[str]:
    """``names`` as a list of output names in output order, checked.

    Raises
    ------
    ValueError — not a list of output names, or one named twice
    """
    if isinstance(names, (str, bytes)) or not isinstance(names, (list, tuple)):
        raise ValueError(f"{where} must be a list of output names, not {type(names).__name__}")
    unknown = [str(n) for n in names if n not in OUTPUT_NAMES]
    if unknown:
        raise ValueError(
            f"{where} names unknown outputs {', '.join(unknown)} (known: {', '.join(OUTPUT_NAMES)})"
        )
    if len(set(names)) != len(names):
        raise ValueError(f"{where} names an output twice")
    return [n for n in OUTPUT_NAMES if n in names]


def trained_outputs(metadata: Mapping[str, Any]) -> tuple[list[str], str]:
    """Which outputs a checkpoint's model learned, from its metadata, and how that is known.

    In order of preference:

    1. ``outputs_trained`` (written by every training path since it was introduced: the outputs
       with at least one label in the training data, :func:`labelled_outputs`);
    2. ``labels_trained``, the same record under the demo model's earlier name;
    3. AMIGOS training data (``amigos`` metadata, or ``training_data`` / the fine-tuning
       provenance naming AMIGOS): the AMIGOS loader leaves out every trial without all its
       self-assessment labels, so such a model learned all ten outputs;
    4. otherwise, conservatively, valence and arousal only (:data:`CONSERVATIVE`): nothing says
       the model learned liking or the emotions, so they are not shown as its estimates.

    Returns
    -------
    (names in output order, basis) — ``basis`` in words for the therapist, e.g.
    ``"as its checkpoint records"``
    """
    recorded = [(k, metadata[k]) for k in (TRAINED_KEY, _LEGACY_KEY) if metadata.get(k) is not None]
    if recorded:
        key, names = recorded[0]
        try:
            return ordered_outputs(names, key), "as its checkpoint records"
        except ValueError:
            return list(CONSERVATIVE), (
                "its checkpoint's record of the outputs it learned cannot be read, so only "
                "valence and arousal are taken as learned"
            )
    else:
        provenance = metadata.get("provenance")
        fine = provenance.get("fine_tuning") if isinstance(provenance, dict) else None
        sources = [
            metadata.get("training_data"),
            fine.get("data") if isinstance(fine, dict) else None,
        ]
        if isinstance(metadata.get("amigos"), dict) or any(
            isinstance(s, str) and s.startswith("AMIGOS") for s in sources
        ):
            return list(OUTPUT_NAMES), (
                "derived from its training data: AMIGOS, where every trial used has all ten labels"
            )
    return list(CONSERVATIVE), (
        "the checkpoint does not record which outputs it learned, so only valence and arousal "
        "are taken as learned"
    )
