"""How many minutes of recording the free disk space allows."""

from __future__ import annotations

import shutil
from pathlib import Path

from core.config import Settings

#: assumed stored JPEG size (bytes) of a 640×480 camera frame at quality 85, scaled by pixel count
#: for other sizes. Deliberately conservative (a real webcam image is typically 30–50 KB; the
#: simulated face is ≈ 18 KB), so the estimate shown before recording never overstates the time
#: left. Once recording runs, the measured storage rate replaces it.
JPEG_BYTES_640x480 = 40_000


def estimated_bytes_per_s(settings: Settings, n_bio_channels: int = 2) -> float:
    """Expected storage rate (bytes/s) for the given settings, before any data is measured."""
    bio = settings.bio_rate_hz * n_bio_channels * 4 * 1.02  # float32 + ~2 % index
    px = settings.camera_width * settings.camera_height / (640 * 480)
    video = settings.camera_fps * JPEG_BYTES_640x480 * px * 1.001
    return bio + video


def minutes_available(folder: Path, settings: Settings, bytes_per_s: float | None = None) -> float:
    """Minutes of recording left on the disk holding ``folder``.

    Parameters
    ----------
    bytes_per_s : float, optional — measured storage rate (bytes/s); default an estimate
    """
    free = shutil.disk_usage(folder).free
    write_bytes_per_s = (
        bytes_per_s if bytes_per_s and bytes_per_s > 0 else estimated_bytes_per_s(settings)
    )
    return free / write_bytes_per_s / 60.0
