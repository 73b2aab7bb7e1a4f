"""Unlabelled bio segments from TheraScope's own recorded sessions, for MVP pre-training (paper 003).

The masked-value-prediction pre-training of the Transformer needs no labels, so every recorded
session counts: its ECG and EDA are read the way the analysis reads them
(:mod:`core.analysis.inputs`: the 128 Hz grid, the session's units converted into TheraScope's,
the model's scaling), filtered as the Transformer's inputs are, and cut into segments every
``hop_s`` seconds; a segment holding a lost sample is left out. The result goes to
:func:`core.learning.family_training.train_family` as ``unlabelled``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from core.analysis.inputs import bio_windows, scale_channels, session_bio_grid
from core.analysis.sequences import filtered
from core.learning.datasets.sessions import session_unit_factors

log = logging.getLogger(__name__)


def session_segments(
    folders: Sequence[Path],
    scaling: dict[str, Any],
    signals: Sequence[str] = ("ECG", "EDA"),
    rate_hz: float = 128.0,
    samples: int = 1280,
    hop_s: float = 5.0,
    filter_signals: bool = True,
) -> tuple[np.ndarray, list[dict[str, Any]]]:
    """Unlabelled, scaled (and filtered) bio segments of recorded sessions.

    Parameters
    ----------
    folders : session folders
    scaling : the model's scaling (``{"mean": {"ecg": …, "gsr": …}, "std": {…}}``, ECG mV, EDA µS)
    samples : int — segment length (samples at ``rate_hz``; the Transformer's 10 s: 1280)
    hop_s : float — seconds between segment centres

    Returns
    -------
    segments : ndarray (N, n_signals, samples) float32
    sources : list of dict — per session: ``folder``, ``segments`` (for the checkpoint's provenance)
    """
    from core.recording.reader import open_session

    chans = tuple(signals)
    out: list[np.ndarray] = []
    sources: list[dict[str, Any]] = []
    for folder in folders:
        data = open_session(Path(folder))
        factors = session_unit_factors(data, chans)
        grid = session_bio_grid(data, chans, rate_hz)
        values = scale_channels(grid, chans, scaling, factors)
        if filter_signals:
            values = filtered(values, chans, rate_hz)
        half_s = samples / rate_hz / 2
        times = np.arange(half_s, max(half_s, data.duration_s - half_s) + 1e-9, hop_s)
        segs, ok = bio_windows(values, grid, times, samples)
        out.append(segs[ok])
        sources.append({"folder": str(folder), "segments": int(ok.sum())})
        log.info("%s: %d unlabelled segments", folder, int(ok.sum()))
    if not out:
        return np.zeros((0, len(chans), samples), np.float32), sources
    return np.concatenate(out).astype(np.float32), sources
