"""Training samples from TheraScope's own recorded sessions (issue 3b).

Each analysed frame of a session becomes one sample, prepared exactly as the analysis engine
prepares it (:mod:`core.analysis.inputs`): the face crop, the 1000-sample ECG and EDA windows at
128 Hz centred on the frame, in TheraScope's units (ECG mV, EDA µS; a session stored in other
units is converted) and scaled with statistics fitted on the training sessions only. Labels:

* simulated sessions carry their scenario (``simulation.json``): valence and arousal at the
  frame's time, on the 1–9 scale (5 + 4·v);
* liking and the seven emotions are unknown for sessions and stay NaN, which the training loss
  leaves out (:func:`core.learning.training._label_loss`).

Frames without a face or with an incomplete bio window are left out and counted. A clinic's own
labelled sessions can be added later by giving :func:`session_samples` a ``labels`` function.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from core.learning.datasets.amigos import OUTPUT_NAMES

log = logging.getLogger(__name__)

#: labels of frames at times ``t_s`` (s) of a session → (N, 10) on the rating scale, NaN unknown
LabelFn = Callable[[Any, np.ndarray], np.ndarray | None]


def scenario_labels(data: Any, t_s: np.ndarray) -> np.ndarray | None:
    """Labels of a simulated session from its scenario (None for a session without one)."""
    from core.simulation.scenario import Scenario, to_amigos_scale

    sim = data.simulation()
    if not sim or "scenario" not in sim:
        return None
    v, a = Scenario.from_dict(sim["scenario"]).at(t_s)
    y = np.full((len(t_s), len(OUTPUT_NAMES)), np.nan, np.float32)
    y[:, 0], y[:, 1] = to_amigos_scale(v), to_amigos_scale(a)
    return y


@dataclass
class SessionSamples:
    """Per-frame samples of several sessions, as arrays.

    Parameters
    ----------
    faces : ndarray (N, S, S, 3) uint8 BGR
    bio : ndarray (N, n_signals, window) float32 — scaled windows
    targets : ndarray (N, 10) float32 — rating scale, NaN where unknown
    groups : ndarray (N,) int — which session (for session-independent splits)
    times_s : ndarray (N,) — frame time within its session (s)
    scaling : dict — ``{"mean": {...}, "std": {...}}`` per scaling key, fitted on these sessions
    counts : dict — frames considered, without a face, with an incomplete window
    """

    faces: np.ndarray
    bio: np.ndarray
    targets: np.ndarray
    groups: np.ndarray
    times_s: np.ndarray
    scaling: dict[str, Any]
    counts: dict[str, int] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.targets)


def fit_session_scaling(grids: Sequence[Any], channels: Sequence[str]) -> dict[str, Any]:
    """Mean and SD of each channel over the valid grid samples of the training sessions.

    The statistics are in the sessions' units, TheraScope's (ECG mV, EDA µS), recorded as
    ``units`` so the analysis can match a session against them.
    """
    from core.analysis.inputs import SCALING_KEYS
    from core.models.units import default_units

    mean: dict[str, float] = {}
    std: dict[str, float] = {}
    for i, c in enumerate(channels):
        x = np.concatenate([g.values[i][g.valid] for g in grids])
        if len(x) == 0:
            raise ValueError(f"no valid {c} samples in the training sessions")
        key = SCALING_KEYS.get(c, c.lower())
        mean[key] = float(np.mean(x))
        sd = float(np.std(x))
        std[key] = sd if sd > 1e-12 else 1.0
    return {"mean": mean, "std": std, "fitted_on": [], "units": default_units(channels)}


def session_unit_factors(data: Any, channels: Sequence[str]) -> dict[str, float]:
    """Per channel, the factor from the session's stored unit into TheraScope's (ECG mV, EDA µS).

    Raises
    ------
    core.analysis.inputs.UnitMismatchError — a channel's unit cannot be converted
    """
    from core.analysis.inputs import unit_factors
    from core.models.units import default_units

    units = {
        c: u
        for st in data.streams.values()
        for c, u in zip(st.info.channels, st.info.units, strict=True)
    }
    return unit_factors(channels, {"units": default_units(channels)}, units)


def session_samples(
    folders: Sequence[Path],
    *,
    channels: Sequence[str] = ("ECG", "EDA"),
    rate_hz: float = 128.0,
    window: int = 1000,
    frames_per_s: float = 2.0,
    crop_size: int = 112,
    scaling: dict[str, Any] | None = None,
    labels: LabelFn = scenario_labels,
    progress: Callable[[float], None] | None = None,
    cancel: Callable[[], bool] | None = None,
    face_detector: str = "haar",
) -> SessionSamples:
    """Samples from the sessions in ``folders`` (sessions without labels are skipped, logged).

    Parameters
    ----------
    rate_hz : float — sampling rate of the bio grid (Hz), the model's ``bio_rate_hz``
    frames_per_s : float — frames taken per second of session (the first of each
        1/frames_per_s tick)
    crop_size : int — face crop side (pixels), the model's ``face_size``
    scaling : dict, optional — use this scaling (e.g. a held-out set scaled like the training
        set); default: fitted on these sessions
    labels : callable — labels for the frames of one session (default: its scenario)
    face_detector : str — the detector that finds the faces (:func:`core.faces.detect.make_detector`);
        the checkpoint records it (:func:`core.faces.track.face_stage`) and the analysis uses the same
    """
    from core.analysis.inputs import (
        bio_windows,
        iter_face_crops,
        scale_channels,
        select_frames,
        session_bio_grid,
    )
    from core.faces.detect import make_detector
    from core.faces.track import CropPolicy, FaceTracker
    from core.recording.reader import open_session

    opened = []
    for k, f in enumerate(folders):
        data = open_session(Path(f))
        t_all = data.frame_times_s()
        pos = select_frames(t_all, frames_per_s)
        y = labels(data, t_all[pos])
        if y is None:
            log.info("session %s has no labels; skipped", Path(f).name)
            continue
        opened.append((k, data, t_all, pos, y))
    if not opened:
        raise ValueError("none of the sessions has labels to train on")
    grids = []
    for _, d, _, _, _ in opened:
        grid = session_bio_grid(d, channels, rate_hz)
        to_mv_us = session_unit_factors(d, channels)  # TheraScope's units: ECG mV, EDA µS
        for i, name in enumerate(channels):
            grid.values[i] *= to_mv_us.get(name, 1.0)
        grids.append(grid)
    scaling = scaling or fit_session_scaling(grids, channels)
    faces_l, bio_l, y_l, g_l, t_l = [], [], [], [], []
    counts = {"frames": 0, "without_face": 0, "bio_incomplete": 0}
    policy = CropPolicy(size=crop_size)
    for n_done, ((k, data, t_all, pos, y), grid) in enumerate(zip(opened, grids, strict=True)):
        video = data.video()
        if video is None:
            log.info("session %s has no video; skipped", data.folder.name)
            continue
        try:
            scaled = scale_channels(grid, channels, scaling)
            tracker = FaceTracker(make_detector(face_detector))
            for c in iter_face_crops(video, pos, t_all[pos], tracker, policy, cancel=cancel):
                win, ok = bio_windows(scaled, grid, c.times_s, window)
                a = int(np.searchsorted(pos, c.positions[0]))
                keep = c.has_face & ok
                counts["frames"] += len(keep)
                counts["without_face"] += int((~c.has_face).sum())
                counts["bio_incomplete"] += int((c.has_face & ~ok).sum())
                faces_l.append(c.crops[keep])
                bio_l.append(win[keep])
                y_l.append(y[a : a + len(keep)][keep])
                g_l.append(np.full(int(keep.sum()), k))
                t_l.append(c.times_s[keep])
        finally:
            video.close()
        if cancel is not None and cancel():
            raise InterruptedError("cancelled")
        if progress is not None:
            progress((n_done + 1) / len(opened))
    if not faces_l or sum(len(x) for x in faces_l) == 0:
        raise ValueError("no usable frames: no face found, or every bio window incomplete")
    return SessionSamples(
        np.concatenate(faces_l),
        np.concatenate(bio_l),
        np.concatenate(y_l).astype(np.float32),
        np.concatenate(g_l),
        np.concatenate(t_l),
        scaling,
        counts,
    )
