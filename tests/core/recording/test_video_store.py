"""The crash-safe video store: round trip, truncation, corruption, recovery, export, SIGKILL."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from core.recording.video_store import (
    INDEX_NAME,
    MJPEG_NAME,
    RECORD_SIZE,
    CorruptFrameError,
    VideoStoreReader,
    VideoStoreWriter,
    export_avi,
    recover_video_store,
)
from core.simulation.face import render_face
from core.types import Frame

REPO = Path(__file__).resolve().parents[3]
DT = 16_666_667


def _images(n: int, w: int = 320, h: int = 240) -> list[np.ndarray]:
    return [render_face(np.sin(i), np.cos(i), i / 60, width=w, height=h) for i in range(n)]


def _write(folder: Path, images: list[np.ndarray], skip: set[int] | None = None) -> list[Frame]:
    skip = skip or set()
    frames = []
    with VideoStoreWriter(folder) as w:
        i = 0
        for img in images:
            while i in skip:
                i += 1
            frames.append(Frame(i, 10**9 + i * DT, img))
            w.append(frames[-1])
            i += 1
            if i % 7 == 0:
                w.flush(fsync=False)
    return frames


@pytest.fixture(scope="module")
def images() -> list[np.ndarray]:
    return _images(24)


def test_round_trip(tmp_path: Path, images: list[np.ndarray]) -> None:
    frames = _write(tmp_path, images, skip={2, 3, 11})
    rd = VideoStoreReader(tmp_path)
    assert len(rd) == len(images) and rd.n_corrupt == 0
    np.testing.assert_array_equal(rd.frame_indices, [f.index for f in frames])
    np.testing.assert_array_equal(rd.timestamps_ns, [f.t_host_ns for f in frames])
    assert rd.timestamps_ns.dtype == np.int64
    assert rd.dropped_frames() == 3
    for i in (0, 5, len(images) - 1):
        diff = np.abs(rd.read(i).astype(int) - images[i].astype(int)).mean()
        assert diff < 3.0  # JPEG q85 is lossy, but only slightly
    got = list(rd.iter_frames(3, 6))
    assert [f.index for f in got] == [f.index for f in frames[3:6]]
    assert got[0].image.shape == images[0].shape
    rd.close()


def test_counters_and_index_written_only_on_flush(tmp_path: Path, images: list[np.ndarray]) -> None:
    w = VideoStoreWriter(tmp_path, quality=70)
    for i in range(3):
        w.append(Frame(i, i * DT, images[i]))
    assert w.n_frames == 3 and w.bytes_written == (tmp_path / MJPEG_NAME).stat().st_size
    assert (tmp_path / INDEX_NAME).stat().st_size == 0
    w.flush()
    assert (tmp_path / INDEX_NAME).stat().st_size == 3 * RECORD_SIZE
    w.close()
    w.close()
    with pytest.raises(FileExistsError):
        VideoStoreWriter(tmp_path)


def test_truncated_mjpeg_keeps_every_complete_frame(
    tmp_path: Path, images: list[np.ndarray]
) -> None:
    src = tmp_path / "src"
    _write(src, images)
    ends = VideoStoreReader(src).records
    ends = ends["offset"] + ends["length"]
    size = (src / MJPEG_NAME).stat().st_size
    rng = np.random.default_rng(1)
    for k, cut in enumerate([0, 1, size - 1, *rng.integers(0, size, 12)]):
        d = tmp_path / f"cut{k}"
        shutil.copytree(src, d)
        with open(d / MJPEG_NAME, "r+b") as f:
            f.truncate(int(cut))
        rd = VideoStoreReader(d)
        n_ok = int((ends <= cut).sum())
        assert len(rd) == n_ok and rd.n_corrupt == len(images) - n_ok
        for i in range(len(rd)):
            assert rd.read(i).shape == images[0].shape
        rd.close()


def test_truncated_index_ignores_partial_record(tmp_path: Path, images: list[np.ndarray]) -> None:
    src = tmp_path / "src"
    frames = _write(src, images)
    size = (src / INDEX_NAME).stat().st_size
    rng = np.random.default_rng(2)
    for k, cut in enumerate([0, 5, size - 1, *rng.integers(0, size, 10)]):
        d = tmp_path / f"cut{k}"
        shutil.copytree(src, d)
        with open(d / INDEX_NAME, "r+b") as f:
            f.truncate(int(cut))
        rd = VideoStoreReader(d)
        assert len(rd) == cut // RECORD_SIZE and rd.n_partial_bytes == cut % RECORD_SIZE
        assert rd.n_corrupt == 0
        np.testing.assert_array_equal(rd.timestamps_ns, [f.t_host_ns for f in frames[: len(rd)]])
        if len(rd):
            rd.read(len(rd) - 1)
        rd.close()
    (src / INDEX_NAME).unlink()
    (src / MJPEG_NAME).unlink()
    assert len(VideoStoreReader(src)) == 0  # missing files: an empty store, not a crash


def test_corrupted_bytes_are_caught_by_crc(tmp_path: Path, images: list[np.ndarray]) -> None:
    _write(tmp_path, images)
    rec = VideoStoreReader(tmp_path).records[5]
    with open(tmp_path / MJPEG_NAME, "r+b") as f:
        f.seek(int(rec["offset"]) + int(rec["length"]) // 2)
        b = f.read(1)
        f.seek(-1, os.SEEK_CUR)
        f.write(bytes([b[0] ^ 0x5A]))
    rd = VideoStoreReader(tmp_path)
    assert len(rd) == len(images) - 1 and rd.n_corrupt == 1
    assert 5 not in rd.frame_indices
    assert rd.dropped_frames() == 1
    lazy = VideoStoreReader(tmp_path, verify=False)
    assert len(lazy) == len(images)
    with pytest.raises(CorruptFrameError):
        lazy.read(5)


def test_recover_then_append(tmp_path: Path, images: list[np.ndarray]) -> None:
    _write(tmp_path, images[:10])
    rec = VideoStoreReader(tmp_path).records
    with open(tmp_path / MJPEG_NAME, "r+b") as f:  # crash: last frame half written …
        f.truncate(int(rec["offset"][9]) + 100)
    with open(tmp_path / INDEX_NAME, "ab") as f:  # … and a torn index record
        f.write(b"\x01" * 11)
    info = recover_video_store(tmp_path)
    assert info["frames"] == 9 and info["corrupt"] == 0 and info["records_removed"] == 1
    assert info["index_bytes_removed"] == RECORD_SIZE + 11 and info["mjpeg_bytes_removed"] == 100
    assert (tmp_path / MJPEG_NAME).stat().st_size == int(rec["offset"][9])
    assert (tmp_path / INDEX_NAME).stat().st_size == 9 * RECORD_SIZE
    with VideoStoreWriter(tmp_path, append=True) as w:
        w.append(Frame(20, 10**9 + 20 * DT, images[10]))
    rd = VideoStoreReader(tmp_path)
    assert len(rd) == 10 and rd.n_corrupt == 0
    assert list(rd.frame_indices) == [*range(9), 20]
    assert rd.dropped_frames() == 11


def test_export_avi_is_frame_exact(tmp_path: Path, images: list[np.ndarray]) -> None:
    import cv2

    _write(tmp_path / "video", images, skip={4, 5})
    for fill, expected in ((False, len(images)), (True, len(images) + 2)):
        out = tmp_path / f"export_{fill}.avi"
        assert export_avi(tmp_path / "video", out, fps=60.0, fill_gaps=fill) == expected
        cap = cv2.VideoCapture(str(out))
        assert cap.isOpened()
        n = 0
        while True:
            ok, img = cap.read()
            if not ok:
                break
            if n == 0:
                diff = np.abs(img.astype(int) - images[0].astype(int)).mean()
                assert img.shape == images[0].shape and diff < 4.0
            n += 1
        cap.release()
        assert n == expected


_CHILD = """
import sys, time
import numpy as np
sys.path.insert(0, {repo!r})
from core.types import Frame
from core.recording.video_store import VideoStoreWriter
rng = np.random.default_rng(0)
imgs = [rng.integers(0, 255, (120, 160, 3), dtype=np.uint8) for _ in range(8)]
w = VideoStoreWriter({folder!r})
i = 0
while True:
    w.append(Frame(i, 10**9 + i * {dt}, imgs[i % 8]))
    i += 1
    if i % 10 == 0:
        w.flush(fsync=True)
        print(i, flush=True)
    time.sleep(0.001)
"""


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")
def test_sigkill_keeps_everything_up_to_last_flush(tmp_path: Path) -> None:
    code = _CHILD.format(repo=str(REPO), folder=str(tmp_path), dt=DT)
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()  # the child is up and writing
        assert first.strip() == "10"
        time.sleep(1.0)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    assert proc.stdout is not None
    flushed = [int(x) for x in proc.stdout.read().split()]
    last_flush = flushed[-1] if flushed else 10
    assert last_flush >= 100  # about 1 s of writing happened
    rd = VideoStoreReader(tmp_path)
    assert len(rd) >= last_flush and rd.n_corrupt == 0
    np.testing.assert_array_equal(rd.frame_indices, np.arange(len(rd)))
    np.testing.assert_array_equal(rd.timestamps_ns, 10**9 + np.arange(len(rd)) * DT)
    assert rd.read(len(rd) - 1).shape == (120, 160, 3)
    info = recover_video_store(tmp_path)
    assert info["frames"] == len(rd) and info["corrupt"] == 0
