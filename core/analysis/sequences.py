"""Feeding the sequence families (DeepVANet, the MVP Transformer, AViGaS) from a recorded session.

The engine (:mod:`core.analysis.engine`) selects and crops frames as for BMMN: every frame on
CUDA, ``cpu_frames_per_s`` (4) per second on the CPU. Each analysed frame is then an *anchor*: its
sequence takes, for each of the model's instants (``frames`` at ``frame_rate_hz``, centred on the
anchor), the nearest analysed crop with a face, exactly as training picks the nearest crops of its
crop cache (:mod:`core.learning.sequences`); its bio segment is the ``bio_samples`` samples centred
on the anchor (the Transformer's signals low-pass filtered as in its paper). Anchors are capped
at :func:`anchor_rate_cap` per second (10 for the three families): "every frame" on CUDA means
10 anchors per second for them, as their crops are held in memory. At 4 frames/s on the
CPU the analysed crops are 0.25 s apart, so DeepVANet's 5 instants 0.2 s apart may share a crop
and the Transformer's and AViGaS' instants 1 s apart fall on distinct crops; on CUDA the crops are
0.1 s apart. An anchor gets no estimate when an
instant has no crop with a face within :data:`MAX_CROP_DISTANCE_S`, or its segment holds a lost
sample.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from core.models.heads import ModelInputs, sequence_offsets

#: the farthest an analysed face crop may be from the instant it stands for (s)
MAX_CROP_DISTANCE_S = 0.5
#: the fewest anchors per second a sequence family's analysis is capped at (below: twice the
#: family's own crop rate)
MIN_ANCHOR_CAP_PER_S = 10.0


def anchor_rate_cap(inputs: ModelInputs) -> float:
    """The most anchors per second a sequence family is analysed at: its crops and segments are
    held in memory until the sequences are cut (a whole 60-minute session at 60 frames/s would
    take gigabytes), and anchors closer than half its own crop interval add nothing. Twice the
    family's crop rate, at least :data:`MIN_ANCHOR_CAP_PER_S`."""
    return max(MIN_ANCHOR_CAP_PER_S, 2.0 * float(inputs.frame_rate_hz))


def describe_sampling(inputs: ModelInputs, frames_per_s: float | None) -> str:
    """Plain words for how sequences are sampled in this analysis (stored with the estimates)."""
    analysed = "every frame" if frames_per_s is None else f"{frames_per_s:g} frames/s"
    return (
        f"{inputs.describe()}; crops analysed at {analysed}, each instant of a sequence takes "
        f"the nearest analysed crop with a face (at most {MAX_CROP_DISTANCE_S:g} s away)"
    )


def sequence_crop_index(
    times_s: np.ndarray, has_face: np.ndarray, inputs: ModelInputs
) -> tuple[np.ndarray, np.ndarray]:
    """For each anchor, the indices of the analysed crops its sequence uses.

    Parameters
    ----------
    times_s : ndarray (n,) — times of the analysed frames (s), ascending
    has_face : ndarray (n,) bool — whether each has a face crop

    Returns
    -------
    index : ndarray (n, frames) int — into the analysed crops (0 where unusable)
    usable : ndarray (n,) bool — every instant has a face crop near enough
    """
    offsets = sequence_offsets(inputs) / inputs.bio_rate_hz
    with_face = np.flatnonzero(has_face)
    n = len(times_s)
    index = np.zeros((n, len(offsets)), np.int64)
    if not len(with_face):
        return index, np.zeros(n, bool)
    ft = np.asarray(times_s)[with_face]
    want = np.asarray(times_s)[:, None] + offsets[None, :]
    j = np.clip(np.searchsorted(ft, want), 1, max(len(ft) - 1, 1))
    if len(ft) > 1:
        left = np.abs(want - ft[j - 1]) <= np.abs(ft[j] - want)
        j = np.where(left, j - 1, j)
    else:
        j = np.zeros_like(j)
    usable = np.all(np.abs(ft[j] - want) <= MAX_CROP_DISTANCE_S, axis=1)
    return with_face[j], usable


def filtered(values: np.ndarray, signals: tuple[str, ...], rate_hz: float) -> np.ndarray:
    """The Transformer's filtering over whole channels (lost samples filled with 0 first; the
    segments that hold them get no estimate anyway)."""
    from core.models.mvp_transformer import filter_segment

    clean = np.nan_to_num(values)
    return np.stack([filter_segment(clean[i], signals[i], rate_hz) for i in range(len(signals))])


def estimate_sequences(
    model: Any,
    inputs: ModelInputs,
    crops: np.ndarray,
    index: np.ndarray,
    segments: np.ndarray,
    usable: np.ndarray,
    device: Any,
    amp: str,
    batch_size: int,
) -> np.ndarray:
    """Model outputs (training scale) for the usable anchors; NaN rows elsewhere.

    Parameters
    ----------
    crops : ndarray (m, S, S, 3) uint8 BGR — the analysed crops
    index : ndarray (n, frames) int — :func:`sequence_crop_index`
    segments : ndarray (n, n_signals, bio_samples) float32 — scaled bio segments
    usable : ndarray (n,) bool — anchors to estimate
    """
    import torch

    from core.models.runtime import autocast, faces_to_input

    out = np.full((len(index), 10), np.nan, np.float32)
    todo = np.flatnonzero(usable)
    for b in range(0, len(todo), batch_size):
        j = todo[b : b + batch_size]
        face_u8 = torch.from_numpy(crops[index[j].ravel()])
        face = faces_to_input(face_u8, device, channels_last=False)
        face = face.view(len(j), inputs.frames, *face.shape[1:])
        bio = torch.from_numpy(np.ascontiguousarray(segments[j])).to(device)
        with torch.inference_mode(), autocast(device, amp):
            out[j] = model(face, bio)["out"].float().cpu().numpy()
    return out
