"""The user's settings file: its keys stay as first written, whatever the fields are called."""

from __future__ import annotations

import json
from pathlib import Path

from core.config import Settings

#: a settings file as earlier versions wrote it (the sampling rate under ``"bio_rate"``)
OLD_FILE = {
    "bio_rate": 500.0,
    "camera_fps": 30.0,
    "camera_width": 640,
    "camera_height": 480,
    "jpeg_quality": 85,
    "clinic_name": "Clinic",
    "phase_minutes": 10.0,
    "model_checkpoint": "",
    "analysis_device": "auto",
    "analysis_frames_per_s": 4.0,
    "neutral_radius": 0.15,
    "sensor_address": "",
    "sensor_profile": "",
    "sensor_name": "",
    "camera_source": "",
}


def test_an_old_settings_file_loads_and_saves_with_the_same_keys(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    path.write_text(json.dumps(OLD_FILE, indent=2))
    s = Settings.load(path)
    assert s.bio_rate_hz == 500.0 and s.camera_fps == 30.0 and s.clinic_name == "Clinic"
    s.save(path)
    saved = json.loads(path.read_text())
    # the old keys keep their names, order and values; settings added since follow them
    assert list(saved)[: len(OLD_FILE)] == list(OLD_FILE)
    assert {k: saved[k] for k in OLD_FILE} == OLD_FILE
    assert "bio_rate_hz" not in saved
    assert Settings.load(path) == s


def test_settings_keys_are_the_file_keys(tmp_path: Path) -> None:
    s = Settings(bio_rate_hz=250.0)
    d = s.to_dict()
    assert d["bio_rate"] == 250.0 and "bio_rate_hz" not in d
    assert Settings.from_dict(d) == s
    path = tmp_path / "settings.json"
    s.save(path)
    assert json.loads(path.read_text()) == d


def test_unknown_keys_are_left_out(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    # a field's name is not a file key: only "bio_rate" sets the rate, as before
    path.write_text(json.dumps({"bio_rate_hz": 100.0, "colour": "blue", "jpeg_quality": 70}))
    s = Settings.load(path)
    assert s == Settings(jpeg_quality=70)
