"""What an analysis will take before it runs: how many frames, and how fast this computer went.

The review screen's "Analyse now" shows these; the speed is the one measured in this computer's
last stored analysis on the same kind of device, never a guess.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.analysis.results import AnalysisInfo, load_analysis_info
from core.catalog import Catalog, SessionRecord
from core.config import Settings
from core.machine import file_sha256


def measured_rate(catalog: Catalog, data_root: Path, device_kind: str) -> float | None:
    """Frames per second of wall time in the newest stored analysis on ``device_kind``
    ("cpu"/"cuda"), or None when this computer has not analysed anything on it yet."""
    for rec in catalog.list_sessions():
        try:
            info: AnalysisInfo | None = load_analysis_info(data_root / rec.folder)
            if info is None:
                continue
            frames = float(info["counts"]["frames_analysed"])
            wall = float(info["timings_s"]["wall"])
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if str(info.get("device", "")).split(":")[0] == device_kind and frames > 0 and wall > 0:
            return frames / wall
    return None


def frames_to_analyse(
    rec: SessionRecord,
    settings: Settings,
    on_cuda: bool,
    windows: Any,
    whole_minutes: float = 40.0,
) -> int:
    """About how many frames the engine will analyse (its default scope: every frame on CUDA;
    on the CPU ``analysis_frames_per_s`` over the session, or over the pre/post windows when the
    session is longer than ``whole_minutes``: 40, or 60 on the optimised CPU runtime where a
    60-minute session is fast enough by the measured rates, :func:`optimised_whole_minutes`)."""

    video = (rec.quality or {}).get("video") or {}
    stored = int(video.get("frames", 0))
    duration = float(rec.duration_s or 0.0)
    if on_cuda:
        return stored
    whole = whole_minutes * 60.0
    span = duration if duration <= whole else sum(w.end_s - w.start_s for w in windows)
    n = math.ceil(span * settings.analysis_frames_per_s)
    return min(n, stored) if stored else n


@dataclass(frozen=True)
class WholeSessionEstimate:
    """The optimised CPU runtime's whole-session limit for the estimate (min), a short note for
    the therapist, and the rule's full reason."""

    minutes: float
    note: str
    reason: str


_sha_memo: dict[tuple[str, int, int], str] = {}


def _checkpoint_sha256(path: Path) -> str:
    """The file's SHA-256, hashed once per path, size and modification time."""
    st = path.stat()
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    if key not in _sha_memo:
        _sha_memo[key] = file_sha256(path)
    return _sha_memo[key]


def optimised_whole_minutes(
    settings: Settings,
    checkpoint: Path | None,
    cache_root: Path | None = None,
    default: float = 40.0,
    int8: str = "auto",
) -> WholeSessionEstimate:
    """The whole-session limit the engine will apply on the optimised CPU runtime with the
    checkpoint the settings choose (``checkpoint``: :func:`core.learning.demo_model.active_checkpoint`;
    None: none yet): the same rule
    (:func:`core.inference.speed.whole_session_minutes`) on the same figures — the network's rate
    from that checkpoint's export manifest (its SHA-256 and this computer's versions), this
    computer's measured rates (:mod:`core.inference.speed`); ``int8`` as the analysis'
    option (the app's analyses use ``"auto"``). Without an export yet, ``default``
    and a note saying the first analysis measures the speed. Cheap enough for the GUI thread:
    one manifest and one small file read; the checkpoint is hashed once (memoised)."""
    from core.inference import speed
    from core.inference.cache import find_manifest

    windows = f"sessions over {default:g} min: the two comparison windows"
    try:
        sha = _checkpoint_sha256(checkpoint) if checkpoint is not None else None
    except OSError:
        sha = None
    manifest = find_manifest(sha, cache_root) if sha else None
    if sha is None or manifest is None:
        return WholeSessionEstimate(
            default,
            f"{windows}, until the first analysis with this model on this computer measures "
            "its speed",
            "no export of this checkpoint yet: its speed is not measured",
        )
    try:
        made = "int8.onnx" in manifest["files"]
        accepted = bool(manifest["int8_check"]["accepted"])
        use = made and (int8 == "on" or (int8 == "auto" and accepted))
        prec = "int8" if use else "fp32"
        model_fps = manifest.get("frames_per_s", {}).get(prec)
        uses_face = "face" in manifest["inputs"]
        chosen = settings.face_detector if settings.face_detector != "model" else None
        detector = (chosen or manifest.get("face_detector")) if uses_face else None
    except (KeyError, TypeError, AttributeError):
        return WholeSessionEstimate(default, windows, "this checkpoint's export is unreadable")
    face = None
    measured = None
    if uses_face and detector is None:  # an export made before the detector was recorded
        face = speed.FaceStage(
            speed.UNMEASURED_FACE_STAGE_FPS,
            f"decoding + faces: {speed.UNMEASURED_FACE_STAGE_FPS:g} frames/s assumed",
        )
    else:
        face = speed.face_stage(detector, cache_root) if detector else None
        measured = speed.end_to_end(speed.rate_key(sha, prec, detector), cache_root)
    d = speed.whole_session_minutes(
        float(model_fps) if model_fps else None,
        face,
        settings.analysis_frames_per_s,
        default,
        measured,
    )
    if d.session_minutes is None:
        note = f"{windows} (this model's speed is not measured yet)"
    elif d.minutes > default:
        note = (
            f"sessions up to {d.minutes:g} min whole (a {speed.WHOLE_SESSION_MINUTES:g}-minute "
            f"session takes about {d.session_minutes:.0f} min on this computer)"
        )
    else:
        note = (
            f"{windows} (a {speed.WHOLE_SESSION_MINUTES:g}-minute session whole would take "
            f"about {d.session_minutes:.0f} min on this computer)"
        )
    return WholeSessionEstimate(d.minutes, note, d.reason)
