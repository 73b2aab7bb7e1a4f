"""Configuration in one place: where data lives and the user's settings.

Data (catalog, sessions) goes to the platform's user data directory (``platformdirs``), unless
``THERASCOPE_DATA_DIR`` or the CLI's ``--data-dir`` says otherwise. Settings are a small JSON file
in the platform's config directory (``THERASCOPE_CONFIG_DIR`` overrides). Nothing is written next
to the code.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

APP_NAME = "TheraScope"
DATA_ENV = "THERASCOPE_DATA_DIR"
CONFIG_ENV = "THERASCOPE_CONFIG_DIR"
DEMO_ENV = "THERASCOPE_DEMO_DIR"

#: the shortest and the longest session a recording may be asked to last (s): under a second
#: holds nothing to analyse; a day is far beyond any therapy session
MIN_SESSION_S = 1.0
MAX_SESSION_S = 24 * 3600.0


def session_seconds(value: float) -> float:
    """Check a session length asked for (s): finite, from :data:`MIN_SESSION_S` to
    :data:`MAX_SESSION_S`.

    Parameters
    ----------
    value : float — the length asked for (s)

    Returns
    -------
    float — ``value``

    Raises
    ------
    ValueError — ``value`` is not a number, not finite, or out of that range
    """
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        seconds = math.nan
    if not MIN_SESSION_S <= seconds <= MAX_SESSION_S:  # NaN fails every comparison
        raise ValueError(
            f"A session lasts from {MIN_SESSION_S:g} s to {MAX_SESSION_S:.0f} s (24 h), "
            f"not {value!r} s"
        )
    return seconds


def data_dir(override: str | os.PathLike[str] | None = None) -> Path:
    """The data directory: ``override``, else ``$THERASCOPE_DATA_DIR``, else the platform's."""
    if override:
        p = Path(override)
    elif os.environ.get(DATA_ENV):
        p = Path(os.environ[DATA_ENV])
    else:
        import platformdirs

        p = Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))
    p.mkdir(mode=0o700, parents=True, exist_ok=True)  # patient data: the owner's alone
    return p


def demo_dir() -> Path:
    """The demo data folder: simulated patients only, no account needed, kept apart from the
    clinic's data (``$THERASCOPE_DEMO_DIR``, else the platform's data folder for
    "TheraScope Demo")."""
    if os.environ.get(DEMO_ENV):
        p = Path(os.environ[DEMO_ENV])
    else:
        import platformdirs

        p = Path(platformdirs.user_data_dir(f"{APP_NAME} Demo", appauthor=False))
    p.mkdir(mode=0o700, parents=True, exist_ok=True)
    return p


def config_dir() -> Path:
    """The settings directory: ``$THERASCOPE_CONFIG_DIR`` or the platform's config directory."""
    if os.environ.get(CONFIG_ENV):
        p = Path(os.environ[CONFIG_ENV])
    else:
        import platformdirs

        p = Path(platformdirs.user_config_dir(APP_NAME, appauthor=False))
    p.mkdir(parents=True, exist_ok=True)
    return p


@dataclass
class Settings:
    """User settings (saved as JSON in :func:`config_dir`).

    Parameters
    ----------
    bio_rate_hz : float — sampling rate asked of the bio-sensor (Hz); ``"bio_rate"`` in the file
    camera_fps : float — frame rate asked of the camera (frames/s)
    camera_width, camera_height : int — frame size (pixels)
    jpeg_quality : int — 1–100, quality of the stored video frames
    clinic_name : str — printed on reports
    therapist_name : str — the treating therapist, printed on page 1 of reports (empty: not
        printed)
    phase_minutes : float — length of the pre/post windows (min)
    model_checkpoint : str — the clinic's own checkpoint file; empty uses the demo model
    analysis_device : str — ``"auto"`` (CUDA when available), ``"cpu"``, ``"cuda"``…
    analysis_frames_per_s : float — analysed frames per second on the CPU
    face_detector : str — the analysis' face detector: ``"model"`` (the one the model's
        training crops were made with, recorded in its checkpoint; Haar for older ones),
        ``"haar"`` (light, frontal faces) or ``"mtcnn"`` (a CNN: tilted and turned heads, low
        light, small faces; slower on the CPU)
    neutral_radius : float — circumplex points closer to the centre are "near neutral"
    sensor_address, sensor_profile, sensor_name : str — the Bluetooth sensor used last (empty:
        the simulated sensor); offered first at the next set-up
    camera_source : str — the camera used last: ``"sim"``, ``"none"`` or an OpenCV index/path
    lock_minutes : float — the window locks after this long without input (never while a
        session is recorded); 0: never
    lsl_network : bool — Lab Streaming Layer streams are found (and TheraScope's marker stream is
        offered) on the local network; off: on this computer only (applies at the next start)
    lsl_markers : bool — publish the session's markers as an LSL stream while recording (off by
        default: liblsl's outlet servers listen on every network interface, so other computers
        on the network can then see and read the marker stream — kinds and times, never text)
    """

    bio_rate_hz: float = 800.0
    camera_fps: float = 60.0
    camera_width: int = 640
    camera_height: int = 480
    jpeg_quality: int = 85
    clinic_name: str = ""
    phase_minutes: float = 15.0
    model_checkpoint: str = ""
    analysis_device: str = "auto"
    analysis_frames_per_s: float = 4.0
    neutral_radius: float = 0.15
    sensor_address: str = ""
    sensor_profile: str = ""
    sensor_name: str = ""
    camera_source: str = ""
    therapist_name: str = ""
    # settings added later go last: a settings file keeps its keys in the order first written
    face_detector: str = "model"
    lock_minutes: float = 10.0
    lsl_network: bool = False
    lsl_markers: bool = False

    @classmethod
    def load(cls, path: Path | None = None) -> Settings:
        path = path or config_dir() / "settings.json"
        if not path.exists():
            return cls()
        try:
            raw = json.loads(path.read_text())
        except (OSError, ValueError):
            return cls()
        return cls.from_dict(raw)

    def save(self, path: Path | None = None) -> None:
        path = path or config_dir() / "settings.json"
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.to_dict(), indent=2))
        os.replace(tmp, path)

    def to_dict(self) -> dict[str, object]:
        """The settings under their file keys, as saved (and as stored with each session)."""
        return {_FILE_KEYS.get(k, k): v for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Settings:
        """Inverse of :meth:`to_dict`; keys it does not know are left out."""
        names = {_FILE_KEYS.get(f.name, f.name): f.name for f in fields(cls)}
        return cls(**{names[k]: v for k, v in d.items() if k in names})


#: a field's key in the settings file, where the file keeps the name it was first written with
_FILE_KEYS = {"bio_rate_hz": "bio_rate"}
