"""How much recording the free disk space allows, on every screen from the same rate.

The set-up screen and the recording screen must not disagree: both turn free bytes into minutes
with the rate :func:`expected_rate` finds (the rate measured in the newest finished session
recorded with the same kind of camera at the same size and frame rate, else a conservative
estimate), until the running session has measured its own rate; both write the result with
:func:`disk_time_text`.
"""

from __future__ import annotations

import math
import shutil
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from core.config import Settings
from core.recording.manifest import read_manifest

#: assumed stored JPEG size (bytes) of a 640×480 camera frame at quality 85, scaled by pixel count
#: for other sizes. Deliberately conservative (a real webcam image is typically 30–50 KB; the
#: simulated face is ≈ 18 KB), so the estimate shown before recording never overstates the time
#: left. Once recording runs, the measured storage rate replaces it.
JPEG_BYTES_640x480 = 40_000
#: a finished session shorter than this (s) does not give a storage rate worth keeping
MIN_MEASURED_S = 20.0
#: how many of the newest sessions :func:`expected_rate` looks through for a matching one
LOOK_BACK = 20


def estimated_bytes_per_s(
    settings: Settings, n_bio_channels: int = 2, with_video: bool = True
) -> float:
    """Expected storage rate (bytes/s) for the given settings, before any data is measured."""
    bio = settings.bio_rate_hz * n_bio_channels * 4 * 1.02  # float32 + ~2 % index
    if not with_video:
        return bio
    px = settings.camera_width * settings.camera_height / (640 * 480)
    video = settings.camera_fps * JPEG_BYTES_640x480 * px * 1.001
    return bio + video


@dataclass(frozen=True)
class StorageRate:
    """The rate at which a session will fill the disk.

    Parameters
    ----------
    bytes_per_s : float — storage rate
    basis : str — where it comes from, in words ("measured in the last session with this
        camera", "estimated: no session with this camera yet")
    """

    bytes_per_s: float
    basis: str


def folder_bytes(folder: Path) -> int:
    """Bytes of every file under ``folder`` (0 when it is gone)."""
    total = 0
    for p in folder.rglob("*"):
        try:
            if p.is_file():
                total += p.stat().st_size
        except OSError:
            continue
    return total


def measured_bytes_per_s(folder: Path, duration_s: float) -> float | None:
    """A finished session's storage rate (its folder's bytes over its duration); None when the
    session is too short (< :data:`MIN_MEASURED_S`) or its folder is empty or unreadable."""
    if not duration_s or duration_s < MIN_MEASURED_S:
        return None
    size = folder_bytes(folder)
    return size / duration_s if size > 0 else None


def _same_camera(manifest: dict[str, object], settings: Settings, camera: str) -> bool:
    cam = manifest.get("camera")
    if camera == "none":
        return cam is None
    if not isinstance(cam, dict) or bool(cam.get("simulated")) != (camera == "sim"):
        return False
    want = (settings.camera_width, settings.camera_height, settings.camera_fps)
    got = (cam.get("width"), cam.get("height"), cam.get("fps"))
    return all(
        isinstance(g, int | float) and float(g) == float(w) for g, w in zip(got, want, strict=True)
    )


def expected_rate(
    settings: Settings, camera: str, past: Iterable[tuple[Path, float]]
) -> StorageRate:
    """The storage rate a new session will have, for the set-up and recording screens.

    Parameters
    ----------
    settings : Settings — camera size and frame rate, bio-signal rate
    camera : str — ``"sim"`` (the simulated camera), ``"real"`` (a camera) or ``"none"``
    past : iterable of (folder, duration_s) — finished sessions, newest first

    Returns
    -------
    StorageRate — measured in the newest of the last :data:`LOOK_BACK` sessions recorded with
        the same kind of camera at the same size and frame rate, else the estimate of
        :func:`estimated_bytes_per_s` (conservative)
    """
    for i, (folder, duration_s) in enumerate(past):
        if i >= LOOK_BACK:
            break
        try:
            manifest = read_manifest(folder)
        except (OSError, ValueError):
            continue
        if not _same_camera(manifest, settings, camera):
            continue
        rate = measured_bytes_per_s(folder, duration_s)
        if rate is not None:
            return StorageRate(rate, "at the rate measured in the last session with this camera")
    return StorageRate(
        estimated_bytes_per_s(settings, with_video=camera != "none"),
        "estimated: no session with this camera yet",
    )


def minutes_available(folder: Path, bytes_per_s: float) -> float:
    """Minutes of recording left on the disk holding ``folder`` at ``bytes_per_s``."""
    free = shutil.disk_usage(folder).free
    return free / max(bytes_per_s, 1.0) / 60.0


def disk_time_text(minutes: float) -> str:
    """Recording time in words both screens share: two significant figures above 100 min (the
    rate is an estimate; "4,800 min", not "4,838 min"), hours beside long ones, e.g.
    "4,800 min (80 h)", "95 min", "3 min"."""
    if not math.isfinite(minutes) or minutes < 0:
        minutes = 0.0
    if minutes >= 100:
        digits = int(math.floor(math.log10(minutes))) - 1
        minutes = round(minutes, -digits)
    text = f"{minutes:,.0f} min"
    if minutes >= 600:
        text += f" ({minutes / 60:,.0f} h)"
    return text
