"""The session folder's manifest (``session.json``) and its quality figures.

``session.json`` is written when recording starts (status ``recording``) and rewritten atomically
(temp file, fsync, rename) when the session is finalised or recovered. Everything it says about
quality is computed from the stores on disk, so it is the same whether the recording stopped
cleanly or was recovered after a crash.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, TypedDict

import numpy as np

from core.recording.bio_store import read_bio_stream
from core.types import StreamInfo

FORMAT = "therascope-session"
FORMAT_VERSION = 1


class StreamFigures(TypedDict, total=False):
    """One bio stream's stored quality figures (:func:`compute_quality`'s ``streams[name]``).

    Every key is written today; a session finalised before a figure existed lacks it (see
    :data:`core.quality.session.NEWER_STREAM_KEYS`), and a figure that could not be measured
    is ``None``.
    """

    expected: int
    received: int
    lost: int
    lost_pct: float
    gaps: int
    duration_s: float
    rate_hz: float | None
    achieved_rate_hz: float | None
    longest_gap_s: float | None
    drift_ppm: float | None
    latency_median_ms: float | None
    latency_p95_ms: float | None
    segments: int | None
    segment_step_ms: float | None


class VideoFigures(TypedDict, total=False):
    """The video's stored quality figures (:func:`compute_quality`'s ``video``)."""

    frames: int
    dropped: int
    corrupt: int
    duration_s: float
    fps: float


def write_json_atomic(path: Path, data: dict[str, Any]) -> None:
    """Write JSON so that a crash leaves either the old or the new file, never a torn one."""
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(data, fh, indent=2)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    if hasattr(os, "O_DIRECTORY"):
        fd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def read_manifest(folder: Path) -> dict[str, Any]:
    """Read ``session.json``; a clear error if the folder is not a TheraScope session."""
    path = folder / "session.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ValueError(f"{folder} is not a TheraScope session (no session.json)") from None
    except ValueError as e:
        raise ValueError(f"{path} is damaged: {e}") from None
    if data.get("format") != FORMAT:
        raise ValueError(f"{path} is not a TheraScope session manifest")
    if int(data.get("format_version", 0)) > FORMAT_VERSION:
        raise ValueError(
            f"{folder.name} was recorded by a newer TheraScope (session format "
            f"v{data.get('format_version')}); this version reads up to v{FORMAT_VERSION}."
        )
    return data


def stream_infos(manifest: dict[str, Any]) -> list[StreamInfo]:
    return [StreamInfo.from_dict(s) for s in manifest.get("streams", [])]


def compute_quality(folder: Path, manifest: dict[str, Any]) -> dict[str, Any]:
    """Recording-quality figures from what is on disk.

    Returns
    -------
    dict — ``streams``: per stream ``expected``, ``received``, ``lost``, ``lost_pct``, ``gaps``,
    ``duration_s``, and ``rate_hz`` (nominal), ``achieved_rate_hz`` (samples stored per second of
    the stream's span), ``longest_gap_s``, ``drift_ppm`` (sensor clock against the host's),
    ``latency_median_ms``, ``latency_p95_ms``, ``segments``, ``segment_step_ms`` (see
    :func:`core.recording.journal.stream_timing`); ``video``: ``frames``, ``dropped``,
    ``corrupt``, ``duration_s``, ``fps``; ``duration_s`` (the longer of the bio and video spans,
    s); from the journal (:func:`core.recording.journal.event_quality`): ``link``, ``camera``,
    ``device_errors`` (None where not recorded). Shapes: :class:`StreamFigures`,
    :class:`VideoFigures`, :class:`core.recording.journal.EventQuality`.
    """
    from core.clock import fit_counter_clock
    from core.recording.journal import event_quality, stream_timing

    out: dict[str, Any] = {"streams": {}, "video": None}
    t0 = int(manifest["t0_host_ns"])
    ends = [0.0]
    for info in stream_infos(manifest):
        s = read_bio_stream(folder / "bio", info)
        expected = s.end_counter - s.first_counter
        gaps = s.gaps()
        lost = sum(g.n for g in gaps)
        dur = 0.0
        timing = stream_timing(np.zeros(0), np.zeros(0), info.rate_hz, {})
        drift = achieved = None
        if len(s.index):
            last = s.index["first_counter"] + s.index["n"] - 1
            fit = fit_counter_clock(last, s.index["arrival_ns"], info.rate_hz)
            dur = (fit["offset_ns"] + fit["period_ns"] * s.end_counter - t0) / 1e9
            ends.append(dur)
            timing = stream_timing(last, s.index["arrival_ns"], info.rate_hz, fit)
            drift = round(float(fit["drift_ppm"]), 2)
            span_s = expected * fit["period_ns"] / 1e9
            achieved = round(s.n_received / span_s, 3) if span_s > 0 else None
        figures: StreamFigures = {
            "expected": int(expected),
            "received": int(s.n_received),
            "lost": int(lost),
            "lost_pct": round(100.0 * lost / expected, 3) if expected else 0.0,
            "gaps": len(gaps),
            "duration_s": round(dur, 3),
            "rate_hz": float(info.rate_hz),
            "achieved_rate_hz": achieved,
            "longest_gap_s": round(max((g.n for g in gaps), default=0) / info.rate_hz, 4),
            "drift_ppm": drift,
            **timing,
        }
        out["streams"][info.name] = figures
    vdir = folder / "video"
    if (vdir / "frames.idx").exists():
        from core.recording.video_store import VideoStoreReader

        # index only (verify=False): a full CRC pass would read gigabytes at every stop;
        # recovery checks CRCs itself and every read() checks its frame's CRC
        v = VideoStoreReader(vdir, verify=False)
        n = len(v)
        vdur = 0.0
        fps = 0.0
        if n:
            ts = v.timestamps_ns
            vdur = (int(ts[-1]) - t0) / 1e9
            if n > 1:
                fps = (n - 1) / ((int(ts[-1]) - int(ts[0])) / 1e9)
            ends.append(vdur)
        v.close()
        video: VideoFigures = {
            "frames": n,
            "dropped": int(v.dropped_frames()),
            "corrupt": int(v.n_corrupt),
            "duration_s": round(vdur, 3),
            "fps": round(fps, 2),
        }
        out["video"] = video
    out["duration_s"] = round(max(ends), 3)
    out.update(event_quality(folder, out["duration_s"]))
    return out


def simulated_devices(manifest: dict[str, Any]) -> str | None:
    """Which of a session's devices were simulated: ``"sensor and camera"``, ``"sensor"``,
    ``"camera"``, or None for a real recording (older manifests: from the ``simulated`` flag)."""
    devices = manifest.get("devices") or {}
    sim = [k for k in ("sensor", "camera") if (devices.get(k) or {}).get("simulated")]
    if not sim:
        return "sensor and camera" if manifest.get("simulated") else None
    return " and ".join(sim)
