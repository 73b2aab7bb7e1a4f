"""How long a session the optimised CPU path analyses whole, decided by measured rates (issue 21).

The rule (:func:`whole_session_minutes`): a session of up to :data:`WHOLE_SESSION_MINUTES` is
analysed whole at the CPU rate when a session that long would take at most
:data:`WHOLE_SESSION_BUDGET_MINUTES` end to end, by what this computer measured:

1. the end-to-end rate of its last analysis with the same checkpoint, precision and face detector
   (frames over the time from the first chunk to the last: decoding, faces, windows and the
   network together, export excluded), when one of at least :data:`MIN_MEASURED_FRAMES` frames was
   recorded;
2. else the network's own rate (measured when its export was made) with decoding + faces added:
   the rate measured in this computer's last analysis with that detector, else the conservative
   :data:`UNMEASURED_FACE_STAGE_FPS`. The stages overlap in the analysis but share the cores, so
   their times are added.

The rates are kept in ``measured_rates.json`` in the export cache folder (this computer's user
cache): rates, frame counts, times and the CPU's name — no patient data. Light (no torch, no
OpenVINO): the engine decides with it before an analysis, and the review screen's estimate asks
the same question on the GUI thread (:func:`core.analysis.planning.optimised_whole_minutes`).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

#: the optimised path analyses sessions up to this long whole at the CPU rate when a session this
#: long would take at most :data:`WHOLE_SESSION_BUDGET_MINUTES` by the measured rates
WHOLE_SESSION_MINUTES = 60.0
WHOLE_SESSION_BUDGET_MINUTES = 20.0
#: decoding + finding and cropping faces (frames/s) where this computer has not measured it for
#: the detector yet: MTCNN's slowest measured track + crop on the 2-core CPU (13 frames/s at load
#: 8–10; README, "Fast CPU inference"), decoding (≥ 500 frames/s) added, rounded down — the
#: Haar cascade is faster, so this errs towards the windows
UNMEASURED_FACE_STAGE_FPS = 12.0
#: an analysis shorter than this (frames) is not kept as a measurement (warm-up dominates it)
MIN_MEASURED_FRAMES = 100
RATES_FILE = "measured_rates.json"
NO_FACES = "no faces"


@dataclass(frozen=True)
class FaceStage:
    """Decoding and the face stage's rate on this computer (frames/s), and where it came from."""

    frames_per_s: float
    source: str
    measured: bool = False


@dataclass(frozen=True)
class WholeSession:
    """The whole-session decision: the limit (min), the estimated time of a
    :data:`WHOLE_SESSION_MINUTES` session at the CPU rate (min; None: not measurable yet), why."""

    minutes: float
    session_minutes: float | None
    reason: str


def _root(root: Path | None) -> Path:
    from core.inference.cache import cache_root

    return root or cache_root()


def _load(root: Path | None) -> dict[str, Any]:
    try:
        data = json.loads((_root(root) / RATES_FILE).read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _this_machine(rec: Any) -> bool:
    from core.machine import cpu_description

    return isinstance(rec, dict) and rec.get("machine") == cpu_description()


def rate_key(sha256: str, precision: str, detector: str | None) -> str:
    """The end-to-end record's key: checkpoint, precision and face detector."""
    return f"{sha256[:32]}/{precision}/{detector or NO_FACES}"


def face_stage(detector: str, root: Path | None = None) -> FaceStage:
    """Decoding + the face stage's rate for ``detector`` measured in this computer's last
    optimised analysis with it, else the conservative :data:`UNMEASURED_FACE_STAGE_FPS`."""
    rec = _load(root).get("faces", {}).get(detector)
    try:
        if _this_machine(rec) and float(rec["frames_per_s"]) > 0:
            return FaceStage(
                float(rec["frames_per_s"]),
                f"decoding + faces ({detector}) {float(rec['frames_per_s']):g} frames/s, measured "
                f"in this computer's last analysis with it ({int(rec['frames'])} frames)",
                measured=True,
            )
    except (KeyError, TypeError, ValueError):
        pass
    return FaceStage(
        UNMEASURED_FACE_STAGE_FPS,
        f"decoding + faces ({detector}) not measured on this computer yet: "
        f"{UNMEASURED_FACE_STAGE_FPS:g} frames/s assumed (MTCNN's slowest measured rate on "
        "2 cores)",
    )


def end_to_end(key: str, root: Path | None = None) -> tuple[float, str] | None:
    """The end-to-end rate (frames/s) and its source for :func:`rate_key` ``key``, when this
    computer measured one."""
    rec = _load(root).get("end_to_end", {}).get(key)
    try:
        if _this_machine(rec) and float(rec["frames_per_s"]) > 0:
            rate = float(rec["frames_per_s"])
            return rate, (
                f"{rate:g} frames/s end to end, measured in this computer's last analysis with "
                f"this checkpoint ({int(rec['frames'])} frames)"
            )
    except (KeyError, TypeError, ValueError):
        pass
    return None


def record_rates(
    frames: int,
    detector: str | None,
    face_s: float,
    key: str | None,
    loop_s: float,
    root: Path | None = None,
) -> None:
    """Keep an optimised analysis' measured rates: decoding + faces for ``detector`` (None: no
    faces) over ``face_s`` seconds, and end to end for ``key`` (None: not kept, e.g. after a
    fallback) over ``loop_s``. Analyses under :data:`MIN_MEASURED_FRAMES` frames are not kept;
    failing to write is logged, never raised."""
    from core.machine import cpu_description

    if frames < MIN_MEASURED_FRAMES:
        return
    now = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    data = _load(root)

    def entry(seconds: float) -> dict[str, Any]:
        return {
            "frames_per_s": round(frames / seconds, 2),
            "frames": int(frames),
            "recorded_at": now,
            "machine": cpu_description(),
        }

    if detector is not None and face_s > 0:
        data.setdefault("faces", {})[detector] = entry(face_s)
    if key is not None and loop_s > 0:
        data.setdefault("end_to_end", {})[key] = entry(loop_s)
    try:
        path = _root(root) / RATES_FILE
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, indent=2))
        tmp.replace(path)
    except OSError as exc:
        log.warning("could not record the analysis' measured rates: %s", exc)


def whole_session_minutes(
    model_fps: float | None,
    face: FaceStage | None,
    cpu_frames_per_s: float,
    default: float,
    measured: tuple[float, str] | None = None,
) -> WholeSession:
    """The rule (module docstring): ``measured`` — :func:`end_to_end`'s answer, used when there;
    else ``model_fps`` (the network alone; None: not measured) plus ``face``
    (:func:`face_stage`; None: a model without faces). ``default``: the limit otherwise."""
    frames = WHOLE_SESSION_MINUTES * 60.0 * cpu_frames_per_s
    if measured is not None:
        per_frame, parts = 1.0 / measured[0], measured[1]
    elif model_fps is None or model_fps <= 0:
        return WholeSession(default, None, "the network's speed is not measured yet")
    else:
        per_frame = 1.0 / model_fps + (1.0 / face.frames_per_s if face is not None else 0.0)
        parts = f"the network alone {model_fps:g} frames/s" + (
            f"; {face.source}" if face is not None else ""
        )
    minutes = frames * per_frame / 60.0
    verdict = (
        f"a {WHOLE_SESSION_MINUTES:g}-minute session at {cpu_frames_per_s:g} frames/s "
        f"({frames:,.0f} frames) takes about {minutes:.0f} min ({parts})"
    )
    if minutes <= WHOLE_SESSION_BUDGET_MINUTES:
        return WholeSession(
            max(WHOLE_SESSION_MINUTES, default),
            minutes,
            f"{verdict}: within {WHOLE_SESSION_BUDGET_MINUTES:g} min, so sessions up to "
            f"{max(WHOLE_SESSION_MINUTES, default):g} min are analysed whole",
        )
    return WholeSession(
        default,
        minutes,
        f"{verdict}: over {WHOLE_SESSION_BUDGET_MINUTES:g} min, so sessions over "
        f"{default:g} min keep the two windows",
    )
