"""An imported video kept as its original file, with a frame-time index.

An hour of 60 fps video would take about half an hour to transcode into the recorder's JPEG store
on two cores; it takes about a minute and a half to *index* (each frame decoded once, nothing
encoded). So an imported video is stored as a byte-for-byte copy of the original container and an
index of its frames, in a session's ``video/`` folder:

``source.<ext>``
    The original file (MP4, MOV, AVI, MKV… whatever OpenCV's FFmpeg reads), unchanged.
``source.idx``
    One record per decodable frame, the recorder's index layout
    (:data:`core.recording.video_store.INDEX_DTYPE`): ``index`` and ``offset`` are the frame's
    position in decoding order, ``t_host_ns`` its time on the session clock (the container's own
    presentation time, so a variable frame rate is kept, plus the import's offset); ``length``
    and ``crc`` are 0 (the frame lives in the container). A frame the container lists but that
    would not decode has no record: it counts as dropped.

:class:`VideoFileReader` reads it with the same methods as
:class:`~core.recording.video_store.VideoStoreReader`, so playback, analysis and quality do not
care where a session's video came from. Both files are sealed at import like a recording's; a
damaged container cannot be mapped to frames, so damage to it marks the whole video damaged.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from core.recording.integrity import FileCheck, FileSeal, check_bytes, check_file
from core.recording.video_store import (
    INDEX_DTYPE,
    RECORD_SIZE,
    CorruptFrameError,
    FrameDamage,
    VideoStoreReader,
)
from core.security import vault
from core.types import Frame

SOURCE_STEM = "source"
SOURCE_INDEX_NAME = "source.idx"
#: the import's count of frames that would not decode (``{"frames": n, "dropped": n}``)
SOURCE_FACTS_NAME = "source.json"
#: forward decoding beats a seek for jumps up to this many frames
_MAX_FORWARD = 90
#: frames in a row that will not decode before the rest of a file is given up
_MAX_SKIPPED = 600


class VideoFileError(ValueError):
    """A video file that cannot be imported, in plain words."""


@dataclass
class VideoFacts:
    """What indexing a video file found.

    Parameters
    ----------
    times_s : ndarray float64 — presentation time of each decodable frame (s, from the first)
    listed : int or None — frames the container says it holds (None: it does not say)
    width, height : int — frame size in pixels
    nominal_fps : float — the container's frame rate (0 when it states none)
    codec : str — the codec's four-character code as OpenCV reports it
    positions : ndarray int64 — each decodable frame's place in the container's order (a gap:
        frames that would not decode); None: consecutive
    given_up : int — frames the container lists beyond the last one reached (reading gave up
        after too many frames in a row would not decode)
    first_ms : float — the container's presentation time of the first decoded frame (ms)
    """

    times_s: np.ndarray
    listed: int | None
    width: int
    height: int
    nominal_fps: float
    codec: str
    positions: np.ndarray | None = None
    given_up: int = 0
    first_ms: float = 0.0

    @property
    def frame_positions(self) -> np.ndarray:
        if self.positions is not None:
            return self.positions
        return np.arange(self.frames, dtype=np.int64)

    @property
    def frames(self) -> int:
        return int(self.times_s.shape[0])

    @property
    def unreadable(self) -> int:
        """Frames that could not be decoded: the gaps between decoded frames' places, and those
        never reached (:attr:`given_up`)."""
        gaps = int(self.frame_positions[-1]) + 1 - self.frames if self.frames else 0
        return gaps + self.given_up

    @property
    def duration_s(self) -> float:
        """First to last frame, plus one frame's time."""
        if self.frames == 0:
            return 0.0
        step = 1.0 / self.nominal_fps if self.nominal_fps > 0 else 0.0
        if self.frames > 1:
            step = float(np.median(np.diff(self.times_s)))
        return float(self.times_s[-1] - self.times_s[0]) + step

    @property
    def variable_rate(self) -> bool:
        """Frame intervals differ by more than 10 % from their median."""
        if self.frames < 3:
            return False
        d = np.diff(self.times_s)
        med = float(np.median(d))
        return bool(med > 0 and np.any(np.abs(d - med) > 0.1 * med))


def _capture(path: Path, keep: list[Any] | None = None) -> Any:
    """An OpenCV capture of ``path``; a sealed file (an encrypted session's imported video) is
    decoded from a stream decrypted in memory, never from a plaintext copy on disk (the stream
    is appended to ``keep``, which must outlive the capture)."""
    import cv2

    if not path.is_file():
        raise VideoFileError(f"No video file at {path}")
    if vault.is_sealed(path):
        stream = vault.open_stream(path)
        if keep is not None:
            keep.append(stream)
        cap = cv2.VideoCapture(stream, cv2.CAP_FFMPEG, [])  # type: ignore[call-overload]  # any io.BufferedIOBase
    else:
        cap = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)
    if not cap.isOpened():
        cap.release()
        raise VideoFileError(
            f"{path.name} is not a video this machine can read (OpenCV's FFmpeg could not open it)"
        )
    return cap


def index_video(
    path: Path | str, progress: Callable[[int, int | None], None] | None = None
) -> VideoFacts:
    """Decode every frame of ``path`` once and note its presentation time.

    ``progress(done, listed)`` is called every 500 frames. Raises :class:`VideoFileError` for a
    file that will not open, holds no decodable frame, or whose frames carry no increasing
    presentation times (a raw stream without a container).

    A frame that will not decode stops OpenCV's reading; indexing steps over it (it and the few
    frames OpenCV needs before the next one count as undecodable) as long as the container's
    length says more frames follow; a container's frame count that is only an estimate (MKV,
    WebM) is not taken for undecodable frames at the end.
    """
    import cv2

    path = Path(path)
    cap = _capture(path)
    try:
        listed_f = cap.get(cv2.CAP_PROP_FRAME_COUNT)
        listed = int(listed_f) if listed_f and listed_f > 0 else None
        fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
        width = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH))
        height = int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
        code = int(cap.get(cv2.CAP_PROP_FOURCC))
        codec = "".join(chr((code >> (8 * i)) & 0xFF) for i in range(4)).strip("\x00 ")
        end_s = (listed - 1) / fps if listed and fps > 0 else None
        times: list[float] = []
        places: list[int] = []
        tried = 0  # frames decoded or given up on, in the container's order
        failed_in_a_row = 0
        given_up = 0  # frames the container lists that were never reached
        while True:
            if not cap.grab():
                tried += 1
                failed_in_a_row += 1
                if listed is None or tried >= listed or _at_end(times, end_s):
                    break
                if failed_in_a_row > _MAX_SKIPPED:
                    given_up = listed - tried
                    break
                cap.set(cv2.CAP_PROP_POS_FRAMES, tried)
                continue
            resumed = failed_in_a_row > 0
            failed_in_a_row = 0
            t = float(cap.get(cv2.CAP_PROP_POS_MSEC)) / 1e3
            if resumed and fps > 0:
                # after stepping over undecodable frames OpenCV may land a frame or more away
                # from where it was sent: the frame's own time says where it is
                tried = max(tried, int(round(t * fps)))
            if times and not t > times[-1]:
                raise VideoFileError(
                    f"{path.name}: its frames carry no increasing presentation times (a raw "
                    "stream without a container?). Put it in a container first, e.g. "
                    "ffmpeg -i video.h264 -c copy video.mkv"
                )
            times.append(t)
            places.append(tried)
            tried += 1
            if progress is not None and len(times) % 500 == 0:
                progress(len(times), listed)
    finally:
        cap.release()
    if not times:
        raise VideoFileError(f"{path.name} holds no frame that could be decoded")
    arr = np.asarray(times, dtype=np.float64)
    pos = np.asarray(places, dtype=np.int64)
    return VideoFacts(
        arr - arr[0], listed, width, height, fps, codec or "?", pos, given_up, arr[0] * 1e3
    )


def _at_end(times: list[float], end_s: float | None) -> bool:
    """Whether the last frame decoded is the container's last (within two frame intervals of
    the end its length gives): a failing read there is the end, not a damaged frame."""
    if end_s is None or len(times) < 2:
        return False
    step = float(np.median(np.diff(times[-50:])))
    return end_s - times[-1] <= 2.0 * step


def source_name(original: Path | str) -> str:
    """The stored name of an imported video: ``source`` plus the original's extension."""
    ext = Path(original).suffix.lower()
    return SOURCE_STEM + (ext if ext.isascii() and len(ext) <= 6 else ".video")


def find_source(folder: Path) -> Path | None:
    """The imported video in a ``video/`` folder (None when it holds a recorded video)."""
    if not (folder / SOURCE_INDEX_NAME).exists():
        return None
    for p in sorted(folder.glob(SOURCE_STEM + ".*")):
        if p.name not in (SOURCE_INDEX_NAME, SOURCE_FACTS_NAME):
            return p
    return None


def write_index(
    folder: Path,
    times_ns: np.ndarray,
    positions: np.ndarray | None = None,
    dropped: int = 0,
    first_ms: float | None = None,
) -> Path:
    """``source.idx`` for frames at ``times_ns`` (session clock) at ``positions`` in the
    container, and ``source.json`` with the frames that would not decode; fsynced."""
    n = len(times_ns)
    rec = np.zeros(n, dtype=INDEX_DTYPE)
    rec["index"] = np.arange(n) if positions is None else np.asarray(positions, dtype=np.int64)
    rec["offset"] = np.arange(n)
    facts = json.dumps({"frames": n, "dropped": int(dropped), "first_ms": first_ms}).encode()
    vault.write_bytes_atomic(folder / SOURCE_FACTS_NAME, facts)
    rec["t_host_ns"] = np.asarray(times_ns, dtype=np.int64)
    path = folder / SOURCE_INDEX_NAME
    vault.write_bytes_atomic(path, rec.tobytes())
    return path


class VideoFileReader:
    """Frames of an imported video (``video/source.*`` and ``source.idx``), with the methods
    and attributes of :class:`~core.recording.video_store.VideoStoreReader`.

    Parameters
    ----------
    folder : path — the ``video/`` folder
    verify : bool — with seals, read the whole container against its seal on opening
    index_seal, source_seal : FileSeal, optional — the two files' seals (every imported session
        has them); a damaged index or container is listed in :attr:`damage`
    """

    #: frames are decoded in order from one container: reading from threads would only seek
    parallel_reads = False

    def __init__(
        self,
        folder: Path | str,
        verify: bool = False,
        index_seal: FileSeal | None = None,
        source_seal: FileSeal | None = None,
    ) -> None:
        self.folder = Path(folder)
        source = find_source(self.folder)
        if source is None:
            raise FileNotFoundError(f"No imported video in {self.folder}")
        self.source = source
        self._lock = threading.Lock()
        self._cap: Any = None
        self._cur: int | None = None  # index position of the frame the capture holds
        self._first_ms = 0.0  # the container's time of its first frame (ms)
        self._rel: np.ndarray | None = None
        self.damage: list[FrameDamage] = []
        self.checks: list[FileCheck] = []
        self.recorded: tuple[int, int, int] | None = None
        self.n_partial_bytes = 0
        self._dropped: int | None = None
        raw = vault.read_bytes(self.folder / SOURCE_INDEX_NAME)
        if index_seal is not None and source_seal is not None:
            holds = index_seal.holds
            self._dropped = int(holds["dropped"]) if "dropped" in holds else None
            n_exp = int(holds.get("frames", index_seal.size // RECORD_SIZE))
            first_t, last_t = int(holds.get("first_t_ns", 0)), int(holds.get("last_t_ns", 0))
            self.recorded = (n_exp, first_t, last_t)
            icheck = check_bytes(index_seal, raw[: index_seal.size], len(raw))
            scheck = check_file(source, source_seal, contents=verify)
            self.checks = [icheck, scheck]
            if not (icheck.ok and scheck.ok):
                self.damage.append(
                    FrameDamage(
                        0, n_exp, first_t, last_t, icheck.path if not icheck.ok else source.name
                    )
                )
                raw = b""
        n_full = len(raw) // RECORD_SIZE
        self.n_partial_bytes = len(raw) - n_full * RECORD_SIZE
        rec = np.frombuffer(raw, dtype=INDEX_DTYPE, count=n_full)
        self.all_records = rec
        self.valid = np.ones(n_full, dtype=bool)
        self.n_corrupt = 0
        self.records = rec.copy()

    @property
    def n_damaged(self) -> int:
        return sum(d.frames for d in self.damage)

    def __len__(self) -> int:
        return int(self.records.shape[0])

    @property
    def timestamps_ns(self) -> np.ndarray:
        return self.records["t_host_ns"].astype(np.int64)

    @property
    def frame_indices(self) -> np.ndarray:
        return self.records["index"].astype(np.int64)

    def _rel_ms(self) -> np.ndarray:
        """Each indexed frame's time from the first frame (ms), in decoding order."""
        if self._rel is None:
            t = self.all_records["t_host_ns"].astype(np.int64)
            self._rel = (t - t[0]) / 1e6 if len(t) else np.zeros(0)
        return self._rel

    def _grab(self) -> int | None:
        """Decode the next frame; its position in the index (None: past the end, or a frame
        the index does not hold)."""
        import cv2

        if not self._cap.grab():
            return None
        return self._place(float(self._cap.get(cv2.CAP_PROP_POS_MSEC)))

    def _facts(self) -> dict[str, Any]:
        try:
            facts = json.loads(vault.read_bytes(self.folder / SOURCE_FACTS_NAME))
        except (OSError, ValueError):
            return {}
        return facts if isinstance(facts, dict) else {}

    def _open(self) -> None:
        """A fresh capture, holding the first frame that decodes (OpenCV seeks only once a
        capture has decoded a frame: a container whose first frame is damaged would refuse
        every seek). The first indexed frame's container time comes from the import's facts;
        an older index without it takes the first frame that decodes now."""
        import cv2

        old = getattr(self, "_streams", [])
        self._streams: list[Any] = []  # a sealed file's decrypting stream, held with the capture
        self._cap = _capture(self.source, self._streams)
        for stream in old:  # the released capture's
            stream.close()
        self._cur = None
        tried = 0
        while not self._cap.grab():
            tried += 1
            if tried > _MAX_SKIPPED:
                raise CorruptFrameError(f"{self.source.name}: no frame at its start decodes")
            self._cap.set(cv2.CAP_PROP_POS_FRAMES, tried)
        first = self._facts().get("first_ms")
        now = float(self._cap.get(cv2.CAP_PROP_POS_MSEC))
        self._first_ms = float(first) if isinstance(first, int | float) else now
        self._cur = self._place(now)

    def _forward(self, cur: int | None, ordinal: int) -> int | None:
        """Decode on from position ``cur`` to ``ordinal``, stepping over frames that will not
        decode the way indexing did (the container's next places, one by one); the position
        reached (None: lost)."""
        import cv2

        while cur is not None and cur < ordinal:
            nxt = self._grab()
            if nxt is None:  # a damaged frame: OpenCV stops; resume at the next places
                place = int(self.all_records["index"][cur]) + 1
                for k in range(_MAX_SKIPPED):
                    self._cap.set(cv2.CAP_PROP_POS_FRAMES, place + k)
                    nxt = self._grab()
                    if nxt is not None:
                        break
            if nxt is None or nxt <= cur:
                return None
            cur = nxt
        return cur

    def _place(self, pos_ms: float) -> int | None:
        """The index position of the frame at container time ``pos_ms`` (None: not indexed)."""
        rel = pos_ms - self._first_ms
        rel_ms = self._rel_ms()
        k = int(np.searchsorted(rel_ms, rel - 0.5))
        if k < len(rel_ms) and abs(rel_ms[k] - rel) <= 0.5:
            return k
        return None

    def _read_at(self, ordinal: int) -> np.ndarray:
        """The frame at ``ordinal`` (decoding order). Frames are found by their presentation
        time, never by a frame number: OpenCV seeks by frame number as if the frame rate were
        constant, which lands on the wrong frame of a variable-rate video."""
        import cv2

        if self._cap is None:
            self._open()
        cur = self._cur
        if cur is not None and cur <= ordinal <= cur + _MAX_FORWARD:
            cur = self._forward(cur, ordinal)  # near ahead: decode forward
            if cur != ordinal:
                self._cap.release()
                self._open()
                cur = self._cur
        if cur != ordinal:
            target = float(self._rel_ms()[ordinal]) + self._first_ms
            cur = None
            # land on the frame, or before it and decode forward (OpenCV decodes a few frames
            # before the one it seeks to, so a nearby frame that will not decode can spoil a
            # landing: then from further back)
            for back in (0.0, 1000.0, 2000.0, 4000.0, 8000.0, 16000.0, 32000.0, 64000.0):
                self._cap.set(cv2.CAP_PROP_POS_MSEC, max(0.0, target - back))
                cur = self._grab()
                if cur is not None and cur <= ordinal:
                    break
                if cur is None:
                    self._cap.release()
                    self._open()
                cur = None
            if cur is None:  # no landing before it: decode from the start
                self._cap.release()
                self._open()
                cur = self._cur
        cur = self._forward(cur, ordinal)
        self._cur = cur
        ok, img = self._cap.retrieve() if cur == ordinal else (False, None)
        if not ok or img is None:
            self._cap.release()
            self._cap = None
            self._cur = None
            raise CorruptFrameError(f"frame {ordinal} of {self.source.name} could not be decoded")
        return np.asarray(img)

    def read(self, i: int) -> np.ndarray:
        """The ``i``-th indexed frame as BGR uint8 (h, w, 3)."""
        if self.damage:
            raise CorruptFrameError(f"{self.source.name} is damaged (it fails its seal)")
        with self._lock:
            return self._read_at(int(self.records[i]["offset"]))

    def iter_frames(self, start: int = 0, stop: int | None = None) -> Iterator[Frame]:
        """Indexed frames ``start``..``stop-1`` in order, decoded sequentially."""
        stop = len(self) if stop is None else min(stop, len(self))
        for i in range(max(0, start), stop):
            r = self.records[i]
            yield Frame(int(r["index"]), int(r["t_host_ns"]), self.read(i))

    def dropped_frames(self) -> int:
        """Frames the container lists that would not decode (as counted at import)."""
        if self._dropped is not None:
            return self._dropped
        try:
            return int(self._facts()["dropped"])
        except (KeyError, TypeError, ValueError):
            return 0

    def close(self) -> None:
        with self._lock:
            if self._cap is not None:
                self._cap.release()
                self._cap = None
                self._cur = None
            for stream in getattr(self, "_streams", []):
                stream.close()
            self._streams = []

    def __enter__(self) -> VideoFileReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


#: a session's video, recorded or imported
SessionVideo = VideoStoreReader | VideoFileReader
