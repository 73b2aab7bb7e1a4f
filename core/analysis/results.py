"""Per-frame estimates of a session, stored in the session folder next to the recording.

Layout: ``<session>/analysis/estimates.npz`` (arrays) and ``<session>/analysis/analysis.json``
(which checkpoint, on what device, with which options, what it cost and what it could not
estimate). Both are written to temporary names and renamed, so a crash leaves the previous
analysis or none, never half of one.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypedDict

import numpy as np

RESULT_DIR = "analysis"
ESTIMATES_NAME = "estimates.npz"
INFO_NAME = "analysis.json"
FORMAT_VERSION = 1


class CheckpointIdentity(TypedDict, total=False):
    """Who made the estimates (:func:`core.analysis.engine.checkpoint_identity`): stored with
    every analysis and printed in every report."""

    path: str
    file: str
    sha256: str
    label: str
    demo: bool
    variant: str
    backbone: str
    modalities: str
    signals: list[str]
    training_data: str
    created_at: str


class AnalysisCounts(TypedDict, total=False):
    """How many frames the analysis saw, and why some got no estimate."""

    frames_stored: int
    frames_analysed: int
    estimated: int
    without_face: int
    bio_incomplete: int
    unreadable: int


class AnalysisTimings(TypedDict, total=False):
    """Seconds spent per stage (decode, faces, bio, model; the stages overlap) and in all."""

    decode: float
    faces: float
    bio: float
    model: float
    wall: float


class AnalysisInfo(TypedDict, total=False):
    """:attr:`SessionEstimates.info`, stored as ``analysis.json``: which checkpoint, on what
    device, with which options, what it cost and what it could not estimate.

    Written by :func:`core.analysis.engine.analyse_session`; every key may be absent from an
    older file (readers use ``.get``). ``spans``: the ``[start_s, end_s]`` parts analysed (None:
    the whole session); ``frames_per_s``: the analysis rate (None: every stored frame);
    ``options``: :class:`core.analysis.engine.AnalysisOptions` as a dict.
    """

    format_version: int
    created_at: str
    code_version: str
    checkpoint: CheckpointIdentity
    inputs: str
    output_names: list[str]
    device: str
    precision: str
    options: dict[str, Any]
    frames_per_s: float | None
    spans: list[list[float]] | None
    duration_s: float
    counts: AnalysisCounts
    timings_s: AnalysisTimings


@dataclass
class SessionEstimates:
    """The model's estimates for the analysed frames of one session.

    Parameters
    ----------
    t_s : ndarray (N,) float64 — capture time of each analysed frame since session start (s)
    frame : ndarray (N,) int64 — camera frame index
    outputs : ndarray (N, 10) float32 — in the checkpoint's output order (valence, arousal,
        liking on the 1–9 scale, then the seven emotions); NaN where not estimated
    has_face : ndarray (N,) bool — a face was found (False also for unreadable frames)
    bio_complete : ndarray (N,) bool — the bio window had no lost sample
    info : AnalysisInfo — provenance and counts (see :func:`core.analysis.engine.analyse_session`)
    """

    t_s: np.ndarray
    frame: np.ndarray
    outputs: np.ndarray
    has_face: np.ndarray
    bio_complete: np.ndarray
    info: AnalysisInfo = field(default_factory=AnalysisInfo)

    def __len__(self) -> int:
        return len(self.t_s)

    @property
    def estimated(self) -> np.ndarray:
        """Frames with an estimate (bool, N)."""
        return np.all(np.isfinite(self.outputs[:, :2]), axis=1)

    @property
    def valence(self) -> np.ndarray:
        """Valence on the circumplex scale [-1, 1] ((rating − 5) / 4); NaN where not estimated."""
        return (self.outputs[:, 0].astype(np.float64) - 5.0) / 4.0

    @property
    def arousal(self) -> np.ndarray:
        """Arousal on the circumplex scale [-1, 1]; NaN where not estimated."""
        return (self.outputs[:, 1].astype(np.float64) - 5.0) / 4.0

    @property
    def demo_model(self) -> bool:
        """Whether the estimates come from the demo model (not clinically valid)."""
        return bool(self.info.get("checkpoint", {}).get("demo", False))


def _atomic_write(path: Path, write: Any) -> None:
    tmp = path.with_name(path.name + ".partial")
    with open(tmp, "wb") as fh:
        write(fh)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def save_estimates(folder: Path, est: SessionEstimates) -> Path:
    """Write ``est`` into ``<folder>/analysis/`` (replacing an earlier analysis); return that dir."""
    out = Path(folder) / RESULT_DIR
    out.mkdir(exist_ok=True)

    def arrays(fh: Any) -> None:
        np.savez(
            fh,
            t_s=est.t_s,
            frame=est.frame,
            outputs=est.outputs,
            has_face=est.has_face,
            bio_complete=est.bio_complete,
        )

    info: AnalysisInfo = {"format_version": FORMAT_VERSION, **est.info}
    _atomic_write(out / ESTIMATES_NAME, arrays)
    _atomic_write(out / INFO_NAME, lambda fh: fh.write(json.dumps(info, indent=2).encode()))
    return out


def load_estimates(folder: Path) -> SessionEstimates | None:
    """The session's stored analysis, or None when it has not been analysed.

    Raises
    ------
    ValueError — the stored analysis is unreadable or from a newer TheraScope
    """
    d = Path(folder) / RESULT_DIR
    npz, meta = d / ESTIMATES_NAME, d / INFO_NAME
    if not npz.exists() or not meta.exists():
        return None
    try:
        info: AnalysisInfo = json.loads(meta.read_text())
        with np.load(npz, allow_pickle=False) as z:
            arrays = {k: z[k] for k in ("t_s", "frame", "outputs", "has_face", "bio_complete")}
    except (OSError, ValueError, KeyError) as exc:
        raise ValueError(
            f"the stored analysis in {d} cannot be read ({exc}); analyse again"
        ) from exc
    if int(info.get("format_version", 0)) > FORMAT_VERSION:
        raise ValueError(f"the stored analysis in {d} was written by a newer TheraScope")
    return SessionEstimates(info=info, **arrays)
