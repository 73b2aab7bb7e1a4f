"""A finished session's files are sealed with checksums, and damage is found and counted.

Issue 13: truncating a session's ``.f32`` or flipping 16 bytes of its ``.idx`` made half the
signal vanish with no error ("lost 0 · Signals: Good"); a video cut mid-frame silently ended early.
Here each damage is reported by the reader, counted as lost (reason: damaged file) in the quality
figures, and the verdict is never good.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from app.demo.simulation import record_simulated
from core.catalog import Catalog
from core.config import Settings
from core.quality.session import quality_summary
from core.recording import open_session
from core.recording.bio_store import IDX_DTYPE
from core.recording.integrity import INTEGRITY_NAME, SessionDamageError, parse_seal
from core.recording.manifest import (
    BIO_INDEX_CHUNK_RECORDS,
    bio_chunk_bytes,
    compute_quality,
    read_manifest,
    stream_infos,
)
from core.recording.reader import verify_session
from core.recording.video_store import INDEX_DTYPE, CorruptFrameError

SMALL = Settings(camera_width=160, camera_height=120, camera_fps=10)
SECONDS = 12.0


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One short simulated session (ECG+EDA at 800 Hz, 10 frames/s), finalised and sealed."""
    root = tmp_path_factory.mktemp("sealed")
    cat = Catalog.open(root / "catalog.sqlite")
    p = cat.add_patient("I-0001")
    rec = record_simulated(cat, root, p.id, SECONDS, settings=SMALL, seed=3)
    cat.close()
    return root / rec.folder


@pytest.fixture
def folder(recorded: Path, tmp_path: Path) -> Path:
    """A fresh copy of the sealed session, to damage."""
    out = tmp_path / recorded.name
    shutil.copytree(recorded, out)
    return out


def truncate(path: Path, size: int) -> None:
    with open(path, "r+b") as fh:
        fh.truncate(size)


def flip(path: Path, at: int, n: int = 16) -> None:
    data = bytearray(path.read_bytes())
    for i in range(at, at + n):
        data[i] ^= 0xFF
    path.write_bytes(bytes(data))


def figures(folder: Path) -> dict:
    manifest = read_manifest(folder)
    return compute_quality(folder, manifest, deep=True)


def damaged_file(q: dict, name: str) -> dict:
    (f,) = [f for f in q["integrity"]["files"] if f["file"] == name]
    return f


def test_finalisation_seals_every_file(folder: Path) -> None:
    manifest = json.loads((folder / "session.json").read_text())
    assert manifest["integrity"] == INTEGRITY_NAME and manifest["format_version"] == 1
    assert manifest["quality"]["integrity"]["state"] == "sealed"
    seal = parse_seal((folder / INTEGRITY_NAME).read_bytes())
    assert set(seal.files) == {
        "session.json",
        "journal.jsonl",
        "simulation.json",
        "bio/bio.f32",
        "bio/bio.idx",
        "video/frames.idx",
        "video/frames.mjpeg",
    }
    import hashlib

    for path, f in seal.files.items():
        data = (folder / path).read_bytes()
        assert f.size == len(data) and f.sha256 == hashlib.sha256(data).hexdigest()
    idx = seal.files["bio/bio.idx"]
    assert idx.chunk_bytes == BIO_INDEX_CHUNK_RECORDS * IDX_DTYPE.itemsize
    assert idx.holds["records"] * IDX_DTYPE.itemsize == idx.size
    # intact: verified, nothing lost, the same data as a reader without checks
    data = open_session(folder)
    assert data.integrity is not None and data.integrity["state"] == "verified"
    assert not data.damaged and data.streams["bio"].damaged_samples == 0
    q = verify_session(folder)
    assert q["integrity"]["state"] == "verified" and q["integrity"]["checked"] == "full"
    assert q["streams"]["bio"]["damaged"] == 0 and q["video"]["damaged"] == 0
    s = quality_summary(folder)
    assert s["files"]["verdict"] == "good" and s["verdict"] == "good"


def test_truncated_bio_data_is_lost_samples_for_a_damaged_file(folder: Path) -> None:
    f32 = folder / "bio" / "bio.f32"
    size = f32.stat().st_size
    info = stream_infos(read_manifest(folder))[0]
    frame, chunk = 4 * len(info.channels), bio_chunk_bytes(info)
    cut = size // 2 + 3  # mid-chunk, mid-sample
    lost = (size - (cut // chunk) * chunk) // frame  # the cut chunk can no longer be checked
    before = open_session(folder).signal("ECG")
    truncate(f32, cut)

    data = open_session(folder)  # the reader: damage reported, nothing silently shorter
    s = data.streams["bio"]
    assert data.damaged and s.damaged_samples == lost
    assert [d.file for d in s.damage] == ["bio.f32"]
    ecg = data.signal("ECG")
    assert len(ecg.values) == len(before.values)  # the session keeps its length …
    assert int(np.isnan(ecg.values).sum()) == lost  # … the damaged part reads as lost
    np.testing.assert_array_equal(ecg.t_s, before.t_s)

    q = figures(folder)  # the quality figures
    st = q["streams"]["bio"]
    assert (st["lost"], st["damaged"], st["gaps"]) == (lost, lost, 0)
    assert st["received"] + st["lost"] == st["expected"]
    f = damaged_file(q, "bio/bio.f32")
    assert f["status"] == "damaged" and f["samples_lost"] == lost
    assert f["problem"] == f"truncated: {cut:,} of {size:,} bytes left".replace(",", " ")
    assert f["bad_bytes"] == [[(cut // chunk) * chunk, size]]
    summary = quality_summary(folder)  # the verdict
    assert summary["verdict"] == "poor" and summary["signals"]["verdict"] == "poor"
    assert summary["files"]["verdict"] == "poor"
    assert any(
        f"{lost} ECG + EDA samples lost: damaged file bio/bio.f32" in r for r in summary["reasons"]
    )
    assert not any("radio" in r or "in 0 gaps" in r for r in summary["reasons"])


def test_16_flipped_bytes_of_the_bio_index_lose_the_samples_of_their_records(
    folder: Path,
) -> None:
    idx_path = folder / "bio" / "bio.idx"
    rec = np.frombuffer(idx_path.read_bytes(), dtype=IDX_DTYPE)
    at = 100 * IDX_DTYPE.itemsize + 20  # inside record 100, over into 101
    chunk = BIO_INDEX_CHUNK_RECORDS
    first = (at // IDX_DTYPE.itemsize) // chunk * chunk  # the damaged chunk's records
    lost = int(rec["n"][first : first + chunk].sum())
    flip(idx_path, at)

    data = open_session(folder)
    s = data.streams["bio"]
    assert data.damaged and s.damaged_samples == lost
    (d,) = s.damage
    assert d.file == "bio.idx" and d.first_counter == int(rec["first_counter"][first])
    assert int(np.isnan(data.signal("EDA").values).sum()) == lost

    q = figures(folder)
    assert q["streams"]["bio"]["lost"] == q["streams"]["bio"]["damaged"] == lost
    f = damaged_file(q, "bio/bio.idx")
    assert f["problem"].startswith("bytes ") and f["problem"].endswith(" changed")
    assert f["samples_lost"] == lost
    summary = quality_summary(folder)
    assert summary["verdict"] == "poor" and summary["signals"]["verdict"] == "poor"


def test_video_cut_mid_frame_loses_that_frame_and_the_rest(folder: Path) -> None:
    mjpeg = folder / "video" / "frames.mjpeg"
    rec = np.frombuffer((folder / "video" / "frames.idx").read_bytes(), dtype=INDEX_DTYPE)
    k = len(rec) * 2 // 3
    truncate(mjpeg, int(rec["offset"][k]) + int(rec["length"][k]) // 2)
    lost = len(rec) - k

    data = open_session(folder)  # the size is checked on every opening
    assert data.damaged
    v = data.video()
    assert v is not None and len(v) == k and v.n_damaged == lost
    (d,) = v.damage
    assert (d.first, d.frames, d.file) == (k, lost, "frames.mjpeg")
    assert v.read(k - 1).shape == (120, 160, 3)
    v.close()

    q = figures(folder)
    assert (q["video"]["frames"], q["video"]["damaged"], q["video"]["dropped"]) == (k, lost, 0)
    t0 = int(read_manifest(folder)["t0_host_ns"])
    start = round((int(rec["t_host_ns"][k]) - t0) / 1e9, 2)
    assert q["video"]["damaged_s"] == [[start, round((int(rec["t_host_ns"][-1]) - t0) / 1e9, 2)]]
    f = damaged_file(q, "video/frames.mjpeg")
    assert f["frames_lost"] == lost and f["problem"].startswith("truncated: ")
    summary = quality_summary(folder)
    assert summary["video"]["verdict"] == "poor" and summary["verdict"] == "poor"
    assert any(f"{lost} video frames lost: damaged file" in r for r in summary["reasons"])


def test_flipped_bytes_inside_the_video_lose_exactly_that_frame(folder: Path) -> None:
    mjpeg = folder / "video" / "frames.mjpeg"
    rec = np.frombuffer((folder / "video" / "frames.idx").read_bytes(), dtype=INDEX_DTYPE)
    k = 37
    flip(mjpeg, int(rec["offset"][k]) + 100)

    lazy = open_session(folder).video()  # the lazy reader checks each frame as it reads it
    assert lazy is not None
    with pytest.raises(CorruptFrameError):
        lazy.read(k)
    lazy.close()
    data = open_session(folder, deep=True)  # and the full check finds it on opening
    assert data.damaged
    v = data.video(verify=True)
    assert v is not None and len(v) == len(rec) - 1 and k not in v.frame_indices
    assert [(d.first, d.frames, d.file) for d in v.damage] == [(k, 1, "frames.mjpeg")]
    v.close()

    q = figures(folder)
    assert q["video"]["damaged"] == 1 and q["video"]["frames"] == len(rec) - 1
    f = damaged_file(q, "video/frames.mjpeg")
    a, b = int(rec["offset"][k]), int(rec["offset"][k] + rec["length"][k])
    assert f["bad_bytes"] == [[a, b]] and f["frames_lost"] == 1  # narrowed down to the frame
    summary = quality_summary(folder)
    assert summary["video"]["verdict"] == "poor" and summary["verdict"] == "poor"
    assert "1 video frame lost: damaged file video/frames.mjpeg" in " ".join(summary["reasons"])


def test_a_damaged_frame_index_loses_its_frames(folder: Path) -> None:
    flip(folder / "video" / "frames.idx", 3 * 32 + 8)
    q = figures(folder)
    assert q["video"]["damaged"] == 64  # the chunk of 64 records
    assert quality_summary(folder)["video"]["verdict"] == "poor"


def test_a_damaged_manifest_is_a_clear_error(folder: Path) -> None:
    flip(folder / "session.json", 200, 1)
    with pytest.raises(SessionDamageError, match="session.json is damaged"):
        open_session(folder)
    with pytest.raises(SessionDamageError):
        quality_summary(folder)


def test_a_damaged_seal_reads_as_damaged_not_verified(folder: Path) -> None:
    raw = bytearray((folder / INTEGRITY_NAME).read_bytes())
    raw[raw.index(b'"sealed_at"') + 20] ^= 0x01  # still JSON, a digit changed
    (folder / INTEGRITY_NAME).write_bytes(bytes(raw))
    data = open_session(folder)
    assert data.damaged and data.streams["bio"].n_received > 0  # the data still read
    s = quality_summary(folder)
    assert s["files"]["verdict"] == "poor" and s["verdict"] == "poor"
    assert "integrity.json is damaged" in " ".join(s["reasons"])


def test_a_session_without_checksums_reads_as_before_and_not_verified(folder: Path) -> None:
    (folder / INTEGRITY_NAME).unlink()
    manifest = json.loads((folder / "session.json").read_text())
    del manifest["integrity"]
    (folder / "session.json").write_text(json.dumps(manifest, indent=2))
    data = open_session(folder)
    assert data.integrity is not None and data.integrity["state"] == "not verified"
    assert not data.damaged and data.streams["bio"].extent is None
    s = quality_summary(folder)
    assert s["files"]["verdict"] is None and s["verdict"] == "good"
    assert s["files"]["findings"][0]["text"].startswith("files not verified")
    assert s["signals"]["streams"][0]["damaged"] is None


def test_missing_seal_of_a_sealed_session_is_damage(folder: Path) -> None:
    (folder / INTEGRITY_NAME).unlink()
    s = quality_summary(folder)
    assert s["files"]["verdict"] == "poor" and "integrity.json is missing" in s["reasons"][-1]


@pytest.mark.parametrize("fails", [INTEGRITY_NAME, "session.json"])
def test_a_recovered_session_is_sealed_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fails: str
) -> None:
    """Finalisation fails (a full disk) before the seal, or between the seal and the manifest
    (a seal of a session still marked recording: ignored); recovery seals it again."""
    import errno

    import core.recording.session as session_mod
    from core.clock import VirtualClock
    from core.recording.recovery import recover_unfinished
    from core.recording.session import RecordingSession
    from core.simulation.scenario import preset
    from devices.simulated.sensor import SimulatedSensor

    cat = Catalog.open(tmp_path / "catalog.sqlite")
    pid = cat.add_patient("R-01").id
    clock = VirtualClock()
    sensor = SimulatedSensor(preset(duration_s=5), seed=4, clock=clock)
    s = RecordingSession.start(
        cat, tmp_path, pid, sensor, None, consent=True, clock=clock, virtual=True
    )
    for k in range(1, 31):
        s.advance(s.t0_ns + k * 100_000_000)
    real = session_mod.write_json_atomic

    def full(path: Path, data: dict) -> None:  # type: ignore[type-arg]
        if path.name == fails:
            raise OSError(errno.ENOSPC, "No space left on device")
        real(path, data)

    monkeypatch.setattr(session_mod, "write_json_atomic", full)
    with pytest.raises(RuntimeError):
        s.stop()
    monkeypatch.undo()
    assert (s.folder / INTEGRITY_NAME).exists() == (fails == "session.json")
    assert open_session(s.folder).integrity["state"] == "not verified"  # type: ignore[index]
    assert [r["status"] for r in recover_unfinished(cat, tmp_path)] == ["recovered"]
    rec = cat.get_session(s.record.id)
    assert rec is not None and rec.status == "recovered"
    assert rec.quality["integrity"]["state"] == "sealed"
    assert verify_session(s.folder)["integrity"]["state"] == "verified"
    cat.close()
