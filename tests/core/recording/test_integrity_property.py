"""Any truncation or bit flip of any file of a finished session: reading never crashes with
anything but the project's own damage error, and the damage is always reported (and costs what
the damaged file held, never silently)."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.demo.simulation import record_simulated
from core.catalog import Catalog
from core.config import Settings
from core.quality.session import quality_summary
from core.quality.text import verify_lines
from core.recording import open_session
from core.recording.integrity import INTEGRITY_NAME, SessionDamageError
from core.recording.manifest import check_files
from core.recording.video_store import CorruptFrameError

FILES = (
    "bio/bio.f32",
    "bio/bio.idx",
    "video/frames.idx",
    "video/frames.mjpeg",
    "journal.jsonl",
    "simulation.json",
    "session.json",
    INTEGRITY_NAME,
)


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("prop")
    cat = Catalog.open(root / "catalog.sqlite")
    p = cat.add_patient("H-0001")
    small = Settings(camera_width=96, camera_height=72, camera_fps=10)
    rec = record_simulated(cat, root, p.id, 5.0, settings=small, seed=11)
    cat.close()
    return root / rec.folder


@st.composite
def damages(draw: st.DrawFn) -> tuple[str, str, float, list[int]]:
    """(file, "truncate" or "flip", where, XOR masks); the size is filled in per file."""
    name = draw(st.sampled_from(FILES))
    kind = draw(st.sampled_from(("truncate", "flip")))
    at = draw(st.floats(0.0, 1.0, exclude_max=True))
    masks = draw(st.lists(st.integers(1, 255), min_size=1, max_size=16))
    return name, kind, at, masks


def apply(folder: Path, name: str, kind: str, at: float, masks: list[int]) -> None:
    path = folder / name
    data = bytearray(path.read_bytes())
    pos = int(at * len(data))
    if kind == "truncate":
        del data[pos:]
    else:
        for i, m in enumerate(masks[: len(data) - pos]):
            data[pos + i] ^= m
    path.write_bytes(bytes(data))


def read_everything(folder: Path) -> None:
    """What playback, analysis and the report read, all of it."""
    data = open_session(folder, deep=True)
    assert data.damaged
    for ch in data.channels():
        sig = data.signal(ch)
        assert len(sig.values) == len(sig.t_s)
    for verify in (False, True):
        v = data.video(verify=verify)
        assert v is not None
        for i in range(len(v)):
            try:
                v.read(i)
            except CorruptFrameError:
                assert not verify  # the full check already left the damaged frames out
        v.close()
    data.frame_times_s()


@settings(derandomize=True, deadline=None, max_examples=80)
@given(damage=damages())
def test_any_damage_is_reported_never_a_crash(
    recorded: Path, damage: tuple[str, str, float, list[int]]
) -> None:
    name, kind, at, masks = damage
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / recorded.name
        shutil.copytree(recorded, folder)
        apply(folder, name, kind, at, masks)
        try:
            read_everything(folder)
        except SessionDamageError as e:
            assert name == "session.json", e  # only a damaged manifest stops the reading
            checks, _ = check_files(folder)
            assert [c.path for c in checks if not c.ok] == ["session.json"]
            return
        summary = quality_summary(folder)
        assert summary["verdict"] == "poor" and summary["files"]["verdict"] == "poor"
        assert verify_lines(summary)[0].endswith("DAMAGED")
        (stream,) = summary["signals"]["streams"]
        assert stream["received"] + stream["lost"] == stream["expected"]
        if name.startswith("bio/"):  # the samples the damaged file held are lost, for that
            assert stream["damaged"] and stream["damaged"] >= 1
            assert summary["signals"]["verdict"] == "poor"
            nan = np.isnan(open_session(folder).signal("ECG").values).sum()
            assert nan >= stream["damaged"]
        if name.startswith("video/"):
            assert summary["video"]["damaged"] and summary["video"]["damaged"] >= 1
            assert summary["video"]["verdict"] == "poor"
