"""What an analysis will take before it runs: how many frames, and how fast this computer went.

The review screen's "Analyse now" shows these; the speed is the one measured in this computer's
last stored analysis on the same kind of device, never a guess.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from core.analysis.results import AnalysisInfo, load_analysis_info
from core.catalog import Catalog, SessionRecord
from core.config import Settings


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
    session is longer than ``whole_minutes``: 40, or 60 on the optimised CPU runtime where its
    network is fast enough, :func:`optimised_whole_minutes`)."""

    video = (rec.quality or {}).get("video") or {}
    stored = int(video.get("frames", 0))
    duration = float(rec.duration_s or 0.0)
    if on_cuda:
        return stored
    whole = whole_minutes * 60.0
    span = duration if duration <= whole else sum(w.end_s - w.start_s for w in windows)
    n = math.ceil(span * settings.analysis_frames_per_s)
    return min(n, stored) if stored else n


def optimised_whole_minutes(
    catalog: Catalog, data_root: Path, cpu_frames_per_s: float, default: float = 40.0
) -> float:
    """The whole-session limit the optimised CPU runtime applied in this computer's newest
    analysis on it (60 min where its network was fast enough), or ``default`` when it has not
    run yet or ran at another rate."""
    for rec in catalog.list_sessions():
        try:
            info = load_analysis_info(data_root / rec.folder)
            rt = (info or {}).get("runtime") or {}
            if str(rt.get("engine", "torch")) == "torch" or "whole_session_minutes" not in rt:
                continue
            if float((info or {}).get("frames_per_s") or 0.0) != float(cpu_frames_per_s):
                return default
            return float(rt["whole_session_minutes"])
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            continue
    return default
