"""Crash-safe storage of the face video while recording.

Format, in a session's ``video/`` folder:

``frames.mjpeg``
    The frames as JPEG images (``cv2.imencode``, quality 85 by default), simply concatenated in
    capture order. Nothing else: any JPEG tool can cut it apart at the SOI/EOI markers.
``frames.idx``
    One fixed-size little-endian record (32 bytes) per stored frame, in the same order:

    ======  ==========  =========================================================
    bytes   type        meaning
    ======  ==========  =========================================================
    0–7     int64       camera frame index (gaps = frames the camera dropped)
    8–15    int64       ``t_host_ns``: host monotonic time at capture (ns)
    16–23   int64       byte offset of the JPEG in ``frames.mjpeg``
    24–27   int32       byte length of the JPEG
    28–31   int32       CRC-32 (zlib) of the JPEG bytes, stored as signed int32
    ======  ==========  =========================================================

Crash safety: the writer appends JPEG bytes at once but keeps index records in memory until
:meth:`VideoStoreWriter.flush`, which first flushes (and fsyncs) ``frames.mjpeg`` and only then
writes the index records and flushes (and fsyncs) ``frames.idx``. An index record therefore
never points at bytes that were not on disk before it. After a crash the reader ignores a
trailing partial record, records reaching beyond the end of ``frames.mjpeg`` and records whose
CRC does not match; :func:`recover_video_store` truncates both files to the last good record.

A finalised session's store is sealed (:mod:`core.recording.integrity`): given the seals of both
files, the reader checks the index chunk by chunk and the video's size (with ``verify``, every
chunk of it too, then the CRC of the frames in a damaged chunk), and lists the frames a damaged
file cost in :attr:`VideoStoreReader.damage` instead of leaving them out silently.
"""

from __future__ import annotations

import threading
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.recording.integrity import (
    FileCheck,
    FileSeal,
    check_bytes,
    check_file,
    merge_ranges,
    overlapping,
    runs,
)
from core.security import vault
from core.types import Frame

MJPEG_NAME = "frames.mjpeg"
INDEX_NAME = "frames.idx"
INDEX_DTYPE = np.dtype(
    [("index", "<i8"), ("t_host_ns", "<i8"), ("offset", "<i8"), ("length", "<i4"), ("crc", "<i4")]
)
RECORD_SIZE = INDEX_DTYPE.itemsize  # 32 bytes


def _crc32(data: bytes | memoryview) -> int:
    """CRC-32 as the signed int32 stored in the index."""
    c = zlib.crc32(data)
    return c - (1 << 32) if c >= (1 << 31) else c


class CorruptFrameError(ValueError):
    """The bytes of a stored frame do not match their CRC or cannot be decoded."""


@dataclass
class FrameDamage:
    """Frames lost because a sealed file is damaged (:mod:`core.recording.integrity`).

    Parameters
    ----------
    first : int — position of the first lost frame among the frames recorded
    frames : int — how many consecutive recorded frames were lost
    t_start_ns, t_end_ns : int — host time of the first and last lost frame (ns; their
        neighbours' when the index that held them is damaged)
    file : str — ``"frames.idx"`` or ``"frames.mjpeg"``
    """

    first: int
    frames: int
    t_start_ns: int
    t_end_ns: int
    file: str


class VideoStoreWriter:
    """Append frames to a video store (see the module docstring for the format).

    Parameters
    ----------
    folder : path — the session's ``video/`` folder (created if missing)
    quality : int — JPEG quality, 0–100
    append : bool — continue an existing store (it is first recovered with
        :func:`recover_video_store`); without it an existing non-empty store is an error, so
        that recorded video is never overwritten

    Attributes
    ----------
    n_frames : int — frames appended by this writer
    bytes_written : int — JPEG bytes appended by this writer
    """

    def __init__(self, folder: Path | str, quality: int = 85, append: bool = False) -> None:
        import cv2

        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.quality = int(quality)
        mj, ix = self.folder / MJPEG_NAME, self.folder / INDEX_NAME
        exists = vault.size(mj) > 0 or vault.size(ix) > 0
        if exists and not append:
            raise FileExistsError(f"video store in {self.folder} is not empty")
        if exists:
            recover_video_store(self.folder)
        # through the storage layer: sealed in a sealed session (core.security.vault)
        self._mjpeg = vault.open_append(mj)
        self._idx = vault.open_append(ix)
        self._offset = self._mjpeg.tell()
        self._pending: list[tuple[int, int, int, int, int]] = []
        self._lock = threading.Lock()
        self._params = [int(cv2.IMWRITE_JPEG_QUALITY), self.quality]
        self._imencode = cv2.imencode
        self.n_frames = 0
        self.bytes_written = 0
        self.closed = False

    def append(self, frame: Frame) -> None:
        """Encode ``frame`` as JPEG and append it; its index record waits for :meth:`flush`."""
        ok, buf = self._imencode(".jpg", frame.image, self._params)
        if not ok:
            raise ValueError(f"JPEG encoding failed for frame {frame.index}")
        self.append_encoded(frame.index, frame.t_host_ns, buf.tobytes())

    def append_encoded(self, index: int, t_host_ns: int, data: bytes) -> None:
        """Append an already JPEG-encoded frame (camera ``index``, capture time in host ns)."""
        with self._lock:
            if self.closed:
                raise ValueError("video store is closed")
            self._mjpeg.write(data)
            self._mjpeg.end_chunk()  # sealed: one chunk per frame, so damage costs one frame
            self._pending.append(
                (int(index), int(t_host_ns), self._offset, len(data), _crc32(data))
            )
            self._offset += len(data)
            self.n_frames += 1
            self.bytes_written += len(data)

    def flush(self, fsync: bool = True) -> None:
        """Make every appended frame durable: JPEG bytes first, then their index records.

        Parameters
        ----------
        fsync : bool — also ask the OS to write to the disk (survives power loss, not just a
            crash of this process); costs a few ms
        """
        with self._lock:
            if self.closed:
                return
            self._mjpeg.flush(fsync)
            if self._pending:
                self._idx.write(np.array(self._pending, dtype=INDEX_DTYPE).tobytes())
                self._pending.clear()
            self._idx.flush(fsync)

    def close(self) -> None:
        """Flush (with fsync) and close both files. Idempotent."""
        if self.closed:
            return
        self.flush(fsync=True)
        with self._lock:
            self.closed = True
            self._mjpeg.close()
            self._idx.close()

    def __enter__(self) -> VideoStoreWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class VideoStoreReader:
    """Random access to a video store, tolerant of files left behind by a crash.

    Parameters
    ----------
    folder : path — the ``video/`` folder
    verify : bool — check every frame's CRC on opening (reads the whole ``frames.mjpeg``, about
        1 s per GB); with False only bounds are checked on opening and :meth:`read` checks the
        CRC of each frame it reads. With seals: every chunk's checksum instead (about 0.6 s per
        GB), then the CRC of each frame in a damaged chunk
    index_seal, mjpeg_seal : FileSeal, optional — both files' seals (a finalised session,
        :mod:`core.recording.integrity`): damaged or missing chunks are found and the frames
        they cost listed in :attr:`damage`; without ``verify`` the video is checked by its size
        and each frame by its CRC as it is read

    Attributes
    ----------
    records : ndarray of INDEX_DTYPE — the valid index records, in file order
    all_records : ndarray of INDEX_DTYPE — every complete index record in the file
    valid : ndarray of bool — which of ``all_records`` are valid
    n_corrupt : int — index records ignored (bytes missing or CRC mismatch)
    n_partial_bytes : int — bytes of a trailing partial index record (ignored)
    damage : list of FrameDamage — recorded frames lost to damaged files (sealed stores)
    checks : list of FileCheck — the index and the video against their seals (sealed stores)
    """

    #: frames may be read from several threads at once (each is its own JPEG)
    parallel_reads = True

    def __init__(
        self,
        folder: Path | str,
        verify: bool = True,
        index_seal: FileSeal | None = None,
        mjpeg_seal: FileSeal | None = None,
    ) -> None:
        self.folder = Path(folder)
        mj, ix = self.folder / MJPEG_NAME, self.folder / INDEX_NAME
        self._f = vault.open_read(mj) if mj.exists() else None
        self._mjpeg_size = self._f.size if self._f is not None else 0
        self._lock = threading.Lock()
        #: frames a damaged file cost, and each file against its seal (sealed stores only)
        self.damage: list[FrameDamage] = []
        self.checks: list[FileCheck] = []
        #: frames recorded, first and last capture time (ns) as sealed (None: unsealed)
        self.recorded: tuple[int, int, int] | None = None
        self._dropped: int | None = None
        if index_seal is not None and mjpeg_seal is not None:
            self._open_sealed(index_seal, mjpeg_seal, verify)
            return
        raw = vault.read_bytes(ix) if ix.exists() else b""
        n_full = len(raw) // RECORD_SIZE
        self.n_partial_bytes = len(raw) - n_full * RECORD_SIZE
        rec = np.frombuffer(raw, dtype=INDEX_DTYPE, count=n_full)
        self.all_records = rec
        self.valid = self._valid_mask(rec, verify)
        self.n_corrupt = int(n_full - self.valid.sum())
        self.records = rec[self.valid].copy()

    @property
    def n_damaged(self) -> int:
        """Recorded frames lost to damaged files (0 for an intact or unsealed store)."""
        return sum(d.frames for d in self.damage)

    def _open_sealed(self, index_seal: FileSeal, mjpeg_seal: FileSeal, verify: bool) -> None:
        """The index checked chunk by chunk, the video by size (``verify``: by chunk, and the CRC
        of each frame in a damaged chunk); damaged frames left out and listed."""
        ix = self.folder / INDEX_NAME
        holds = index_seal.holds
        n_exp = int(holds.get("frames", index_seal.size // RECORD_SIZE))
        try:
            with vault.open_read(ix) as fh:
                isize: int | None = fh.size
                raw = fh.read(0, index_seal.size)
        except FileNotFoundError:
            raw, isize = b"", None
        icheck = check_bytes(index_seal, raw, isize)
        mcheck = check_file(self.folder / MJPEG_NAME, mjpeg_seal, contents=verify)
        self.checks = [icheck, mcheck]
        self._dropped = int(holds["dropped"]) if "dropped" in holds else None
        self.recorded = (n_exp, int(holds.get("first_t_ns", 0)), int(holds.get("last_t_ns", 0)))
        if icheck.ok and mcheck.ok and len(raw) >= n_exp * RECORD_SIZE:  # nothing damaged
            rec = np.frombuffer(raw, dtype=INDEX_DTYPE, count=n_exp)
            off, ln = rec["offset"], rec["length"].astype(np.int64)
            self.all_records = rec
            self.valid = (off >= 0) & (ln > 0) & (off + ln <= mjpeg_seal.size)
            self.n_partial_bytes = 0
            self.n_corrupt = int(n_exp - self.valid.sum())
            self.records = rec[self.valid] if self.n_corrupt else rec.copy()
            return
        have = min(len(raw) // RECORD_SIZE, n_exp)
        rec = np.zeros(n_exp, dtype=INDEX_DTYPE)
        rec[:have] = np.frombuffer(raw, dtype=INDEX_DTYPE, count=have)
        starts = np.arange(n_exp, dtype=np.int64) * RECORD_SIZE
        trusted = ~overlapping(starts, starts + RECORD_SIZE, icheck.bad)
        trusted[have:] = False
        off, ln = rec["offset"], rec["length"].astype(np.int64)
        inside = trusted & (off >= 0) & (ln > 0) & (off + ln <= mjpeg_seal.size)
        touched = inside & overlapping(off, off + ln, mcheck.bad)
        for i in np.flatnonzero(touched):
            # the chunk is damaged, perhaps not this frame: its CRC decides, if it is all there
            a, n = int(off[i]), int(ln[i])
            if self._f is not None and a + n <= self._mjpeg_size:
                touched[i] = _crc32(self._read_bytes(a, n)) != int(rec["crc"][i])
        # what the video lost, to the frame: the bytes of the frames whose CRC failed or that
        # are cut, what is missing at the end, and any damaged chunk no frame explains
        lost = [(int(off[i]), int(off[i] + ln[i])) for i in np.flatnonzero(touched)]
        explained = overlapping(
            np.array([a for a, _ in mcheck.changed], dtype=np.int64),
            np.array([b for _, b in mcheck.changed], dtype=np.int64),
            merge_ranges(lost),
        )
        changed = [r for r, hit in zip(mcheck.changed, explained, strict=True) if not hit]
        changed += [(a, b) for a, b in lost if b <= self._mjpeg_size]
        tail = [(self._mjpeg_size, mjpeg_seal.size)] if self._mjpeg_size < mjpeg_seal.size else []
        if mcheck.size is not None:
            mcheck.changed = merge_ranges(changed)
            mcheck.bad = merge_ranges(mcheck.changed + lost + tail)
        self.all_records = rec
        self.valid = inside & ~touched
        self.n_partial_bytes = 0
        self.n_corrupt = int((trusted & ~inside).sum())  # already so when it was sealed
        self.records = rec[self.valid].copy()
        t = rec["t_host_ns"].astype(np.int64)
        first_t, last_t = int(holds.get("first_t_ns", 0)), int(holds.get("last_t_ns", 0))
        for mask, name in ((~trusted, INDEX_NAME), (touched, MJPEG_NAME)):
            for a, b in runs(mask):
                t0 = int(t[a]) if trusted[a] else int(t[a - 1]) if a > 0 else first_t
                t1 = int(t[b - 1]) if trusted[b - 1] else int(t[b]) if b < n_exp else last_t
                self.damage.append(FrameDamage(a, b - a, t0, max(t0, t1), name))
        self.damage.sort(key=lambda d: d.first)

    def _valid_mask(self, rec: np.ndarray, verify: bool) -> np.ndarray:
        off, ln = rec["offset"], rec["length"].astype(np.int64)
        ok = (off >= 0) & (ln > 0) & (off + ln <= self._mjpeg_size)
        if verify and self._f is not None:
            for i in np.flatnonzero(ok):
                ok[i] = _crc32(self._read_bytes(int(off[i]), int(ln[i]))) == int(rec["crc"][i])
        return ok

    def _read_bytes(self, offset: int, length: int) -> bytes:
        assert self._f is not None
        return self._f.read(offset, length)

    def __len__(self) -> int:
        return int(self.records.shape[0])

    @property
    def timestamps_ns(self) -> np.ndarray:
        """Capture times (host monotonic ns, int64) of the stored frames."""
        return self.records["t_host_ns"].astype(np.int64)

    @property
    def frame_indices(self) -> np.ndarray:
        """Camera frame indices (int64) of the stored frames."""
        return self.records["index"].astype(np.int64)

    def read_jpeg(self, i: int) -> bytes:
        """The JPEG bytes of the ``i``-th stored frame (position, not camera index)."""
        r = self.records[i]
        data = self._read_bytes(int(r["offset"]), int(r["length"]))
        if len(data) != int(r["length"]) or _crc32(data) != int(r["crc"]):
            raise CorruptFrameError(f"frame at position {i} fails its CRC check")
        return data

    def read(self, i: int) -> np.ndarray:
        """The ``i``-th stored frame (position, not camera index) as BGR uint8 (h, w, 3)."""
        import cv2

        img = cv2.imdecode(np.frombuffer(self.read_jpeg(i), np.uint8), cv2.IMREAD_COLOR)
        if img is None:
            raise CorruptFrameError(f"frame at position {i} is not a decodable JPEG")
        return np.asarray(img)

    def iter_frames(self, start: int = 0, stop: int | None = None) -> Iterator[Frame]:
        """Stored frames ``start``..``stop-1`` (positions) as :class:`Frame` objects."""
        stop = len(self) if stop is None else min(stop, len(self))
        for i in range(max(0, start), stop):
            r = self.records[i]
            yield Frame(int(r["index"]), int(r["t_host_ns"]), self.read(i))

    def dropped_frames(self) -> int:
        """Camera indices missing between the first and the last stored frame (a sealed store:
        the camera's drops counted at finalisation, whatever damage came later)."""
        if self._dropped is not None:
            return self._dropped
        if len(self) == 0:
            return 0
        idx = np.unique(self.frame_indices)
        return int(idx[-1] - idx[0] + 1 - idx.size)

    def close(self) -> None:
        if self._f is not None:
            self._f.close()
            self._f = None

    def __enter__(self) -> VideoStoreReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def recover_video_store(folder: Path | str) -> dict[str, int]:
    """Truncate a store left by a crash to its last consistent record.

    The index is cut after the last record whose bytes are present and pass their CRC, and
    ``frames.mjpeg`` after that record's bytes; any corrupt record before it stays in the file
    (the reader skips it). Both files are fsynced.

    Returns
    -------
    dict — ``frames`` (valid records kept), ``corrupt`` (bad records kept before the last good
    one), ``records_removed``, ``index_bytes_removed``, ``mjpeg_bytes_removed``
    """
    folder = Path(folder)
    mj, ix = folder / MJPEG_NAME, folder / INDEX_NAME
    for p in (mj, ix):
        p.touch(exist_ok=True)
    with VideoStoreReader(folder, verify=True) as rd:
        raw, good, n_partial = rd.all_records, rd.valid, rd.n_partial_bytes
        n_total, size = len(raw), vault.size(mj)
    last = int(np.flatnonzero(good)[-1]) if good.any() else -1
    keep = last + 1
    mj_end = int(raw["offset"][last] + raw["length"][last]) if last >= 0 else 0
    for p, end in ((ix, keep * RECORD_SIZE), (mj, mj_end)):
        vault.truncate(p, end)
    return {
        "frames": int(good[:keep].sum()),
        "corrupt": int(keep - good[:keep].sum()),
        "records_removed": n_total - keep,
        "index_bytes_removed": (n_total - keep) * RECORD_SIZE + n_partial,
        "mjpeg_bytes_removed": size - mj_end,
    }


def export_avi(
    folder: Path | str, out_path: Path | str, fps: float, fill_gaps: bool = False
) -> int:
    """Write the stored frames to an ordinary Motion-JPEG ``.avi`` for other tools.

    Parameters
    ----------
    folder : path — the ``video/`` folder
    out_path : path — the ``.avi`` to write
    fps : float — frame rate (Hz) written into the AVI header
    fill_gaps : bool — repeat the previous frame for each dropped camera index, so that the
        AVI's constant-rate timeline matches capture time

    Returns
    -------
    int — frames written
    """
    import cv2

    n = 0
    with VideoStoreReader(folder) as rd:
        if len(rd) == 0:
            raise ValueError("the video store holds no frames")
        first = rd.read(0)
        h, w = first.shape[:2]
        vw = cv2.VideoWriter(str(out_path), cv2.VideoWriter.fourcc(*"MJPG"), float(fps), (w, h))
        if not vw.isOpened():
            raise OSError(f"cannot open {out_path} for writing")
        vw.set(cv2.VIDEOWRITER_PROP_QUALITY, 95)  # re-encoded: keep the second loss small
        try:
            prev, prev_idx = first, int(rd.frame_indices[0]) - 1
            for i in range(len(rd)):
                img = first if i == 0 else rd.read(i)
                idx = int(rd.records["index"][i])
                for _ in range(max(0, idx - prev_idx - 1) if fill_gaps else 0):
                    vw.write(prev)
                    n += 1
                vw.write(img)
                n += 1
                prev, prev_idx = img, idx
        finally:
            vw.release()
    return n
