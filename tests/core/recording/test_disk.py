"""The disk's recording time: one rate and one way of writing it for every screen."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.config import Settings
from core.recording.disk import (
    MIN_MEASURED_S,
    disk_time_text,
    estimated_bytes_per_s,
    expected_rate,
    measured_bytes_per_s,
)
from core.recording.manifest import FORMAT, FORMAT_VERSION

S = Settings(camera_width=320, camera_height=240, camera_fps=30)


def session(tmp_path: Path, name: str, camera: dict | None, size: int) -> Path:
    """A finished session folder with a manifest and ``size`` bytes of data."""
    folder = tmp_path / name
    (folder / "video").mkdir(parents=True)
    (folder / "video" / "frames.bin").write_bytes(b"\0" * size)
    manifest = {"format": FORMAT, "format_version": FORMAT_VERSION, "camera": camera}
    (folder / "session.json").write_text(json.dumps(manifest))
    return folder


def cam(simulated: bool, w: int = 320, h: int = 240, fps: float = 30) -> dict:
    return {"name": "c", "simulated": simulated, "width": w, "height": h, "fps": fps}


def test_the_newest_matching_session_gives_the_rate(tmp_path):
    other_size = session(tmp_path, "a", cam(False, 640, 480), 9_000_000)
    sim = session(tmp_path, "b", cam(True), 2_000_000)
    real = session(tmp_path, "c", cam(False), 3_000_000)
    short = session(tmp_path, "d", cam(False), 5_000_000)
    past = [(short, MIN_MEASURED_S / 2), (other_size, 100.0), (real, 100.0), (sim, 100.0)]
    got = expected_rate(S, "real", past)
    size = 3_000_000 + len((real / "session.json").read_bytes())
    assert got.bytes_per_s == pytest.approx(size / 100.0)
    assert "measured" in got.basis
    assert expected_rate(S, "sim", past).bytes_per_s == pytest.approx(
        measured_bytes_per_s(sim, 100.0)
    )


def test_no_matching_session_falls_back_to_the_estimate(tmp_path):
    damaged = tmp_path / "x"
    damaged.mkdir()
    (damaged / "session.json").write_text("{not json")
    past = [(damaged, 100.0), (session(tmp_path, "y", None, 1000), 100.0)]
    got = expected_rate(S, "real", past)
    assert got.bytes_per_s == estimated_bytes_per_s(S)
    assert "estimated" in got.basis
    # a session without a camera matches only a set-up without one; bio alone is far smaller
    assert expected_rate(S, "none", past).bytes_per_s == pytest.approx(
        measured_bytes_per_s(past[1][0], 100.0)
    )
    assert expected_rate(S, "none", []).bytes_per_s == estimated_bytes_per_s(S, with_video=False)


@pytest.mark.parametrize(
    ("minutes", "text"),
    [
        (0.0, "0 min"),
        (-3.0, "0 min"),
        (float("nan"), "0 min"),
        (9.6, "10 min"),
        (99.4, "99 min"),
        (123.0, "120 min"),
        (4838.0, "4,800 min (80 h)"),
        (4861.0, "4,900 min (82 h)"),
        (12345.0, "12,000 min (200 h)"),
    ],
)
def test_disk_time_text(minutes, text):
    assert disk_time_text(minutes) == text
