"""Read a recorded session back: signals on their sample grid with host-clock times, and video.

Sample times come from the counter→host clock fit (stored in the manifest at finalisation, or
re-derived from the stored arrival times for a session that was never finalised).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from core.clock import fit_counter_clock
from core.recording.bio_store import BioStream, read_bio_stream
from core.recording.manifest import read_manifest, stream_infos

if TYPE_CHECKING:
    from core.recording.video_store import VideoStoreReader


@dataclass
class Signal:
    """One channel on its full sample grid.

    Parameters
    ----------
    name : str — channel name, e.g. ``"ECG"``
    unit : str
    rate_hz : float — nominal sampling rate (Hz)
    t_s : ndarray float64 — time of each sample since session start (s)
    values : ndarray float32 — NaN where samples were lost
    """

    name: str
    unit: str
    rate_hz: float
    t_s: np.ndarray
    values: np.ndarray


@dataclass
class SessionData:
    """A session folder opened for playback, analysis and reports."""

    folder: Path
    manifest: dict[str, Any]
    streams: dict[str, BioStream] = field(default_factory=dict)
    fits: dict[str, dict[str, float]] = field(default_factory=dict)

    @property
    def t0_ns(self) -> int:
        return int(self.manifest["t0_host_ns"])

    @property
    def simulated(self) -> bool:
        return bool(self.manifest.get("simulated"))

    @property
    def duration_s(self) -> float:
        d = self.manifest.get("duration_s")
        if d is not None:
            return float(d)
        from core.recording.manifest import compute_quality

        return float(compute_quality(self.folder, self.manifest)["duration_s"])

    def channels(self) -> list[str]:
        return [c for s in self.streams.values() for c in s.info.channels]

    def signal(self, channel: str) -> Signal:
        """The channel named ``channel`` (e.g. ``"ECG"``), lost samples as NaN."""
        for name, s in self.streams.items():
            if channel in s.info.channels:
                ch = s.info.channels.index(channel)
                fit = self.fits[name]
                counters = np.arange(s.first_counter, s.end_counter, dtype=np.float64)
                t = (fit["offset_ns"] + fit["period_ns"] * counters - self.t0_ns) / 1e9
                return Signal(channel, s.info.units[ch], s.info.rate_hz, t, s.grid()[:, ch])
        raise KeyError(f"No channel {channel!r} in this session (has {self.channels()})")

    def video(self, verify: bool = False) -> VideoStoreReader | None:
        """The stored video, or None when the session has none (close it when done).

        ``verify`` checks every frame's CRC on opening (reads the whole video); without it each
        :meth:`read` still checks its own frame.
        """
        vdir = self.folder / "video"
        if not (vdir / "frames.idx").exists():
            return None
        from core.recording.video_store import VideoStoreReader

        return VideoStoreReader(vdir, verify=verify)

    def frame_times_s(self) -> np.ndarray:
        """Capture time of every stored frame since session start (s)."""
        v = self.video()
        if v is None:
            return np.zeros(0)
        try:
            return (np.asarray(v.timestamps_ns, dtype=np.int64) - self.t0_ns) / 1e9
        finally:
            v.close()

    def simulation(self) -> dict[str, Any] | None:
        """The simulated session's truth (scenario, dropped packets), if any."""
        import json

        p = self.folder / "simulation.json"
        return json.loads(p.read_text()) if p.exists() else None


def open_session(folder: Path) -> SessionData:
    """Open a session folder (finalised, recovered or even still unfinished)."""
    manifest = read_manifest(folder)
    data = SessionData(folder, manifest)
    stored_fits = manifest.get("clock_fits") or {}
    for info in stream_infos(manifest):
        s = read_bio_stream(folder / "bio", info)
        data.streams[info.name] = s
        if info.name in stored_fits:
            data.fits[info.name] = stored_fits[info.name]
        else:
            data.fits[info.name] = fit_counter_clock(
                s.index["first_counter"] + s.index["n"] - 1, s.index["arrival_ns"], info.rate_hz
            )
    return data
