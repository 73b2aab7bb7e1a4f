"""The recorder: device data → session folder on disk, crash-safely, plus live ring buffers.

Devices call the sinks (:meth:`Recorder.on_batch`, :meth:`on_frame`, :meth:`on_event`) from their
own threads; the sinks only put into a queue. One writer thread drains it, appends to the stores
and flushes with fsync every ``flush_interval_s`` (so data is on disk within about a second), and
updates the ring buffers the GUI reads. In virtual-clock mode there is no thread: the caller drains
the queue with :meth:`Recorder.process_pending` after pumping the devices.

A failing disk (``OSError``, e.g. a full disk) stops storing, keeps what was flushed, counts every
sample and frame that could not be stored, and reports the error through :attr:`Recorder.error`.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from core.clock import Clock
from core.recording.bio_store import BioStoreWriter
from core.recording.live import FrameSlot, SignalRing
from core.security import vault
from core.types import DeviceEvent, Frame, SampleBatch, StreamInfo

log = logging.getLogger(__name__)

_STOP = object()


@dataclass
class StreamStats:
    """Live figures of one stream."""

    received: int = 0
    lost: int = 0
    gaps: int = 0
    rejected: int = 0
    not_stored: int = 0
    achieved_rate_hz: float = 0.0


@dataclass
class RecorderStats:
    """A snapshot of the recorder's figures, safe to read from the GUI thread."""

    elapsed_s: float = 0.0
    streams: dict[str, StreamStats] = field(default_factory=dict)
    frames_stored: int = 0
    frames_dropped: int = 0
    frames_not_stored: int = 0
    frames_rejected: int = 0
    achieved_fps: float = 0.0
    bytes_written: int = 0
    queue_depth: int = 0
    heart_rate_bpm: float | None = None
    eda_level_us: float | None = None
    error: str | None = None
    item_errors: int = 0
    last_item_error: str | None = None
    writer_cpu_s: float = 0.0


class _RateMeter:
    """Items per second over the last ``window_s`` of host time; falls to 0 when data stop.

    The items of the window's first batch arrived before it, so the rate is the items after it
    over the time from it to the last batch: a steady 800 Hz stream in batches reads 800, not
    "801" or "810" as a count over the whole window does when one batch more falls inside it.
    Once no batch has come for :data:`STALE_S`, the time runs on to now, and the rate falls.

    Parameters
    ----------
    start_ns : int — host time (ns) the measurement starts (the recording start)
    """

    STALE_S = 0.5

    def __init__(self, start_ns: int, window_s: float = 2.0) -> None:
        self.start_ns = start_ns
        self.window_ns = int(window_s * 1e9)
        self._ev: deque[tuple[int, int]] = deque()

    def add(self, t_ns: int, n: int) -> None:
        self._ev.append((t_ns, n))
        # pruned here too, not only when read: a session nobody watches must not grow memory
        while self._ev and t_ns - self._ev[0][0] > self.window_ns:
            self._ev.popleft()

    def rate_hz(self, now_ns: int) -> float:
        """Items per second (Hz) over the window up to ``now_ns``."""
        while self._ev and now_ns - self._ev[0][0] > self.window_ns:
            self._ev.popleft()
        if len(self._ev) < 2:
            return 0.0
        t_first, n_first = self._ev[0]
        t_last = self._ev[-1][0]
        end = t_last if now_ns - t_last <= self.STALE_S * 1e9 else now_ns
        span = end - t_first
        return (sum(n for _, n in self._ev) - n_first) * 1e9 / span if span > 0 else 0.0


class Recorder:
    """Write one session's streams and video to ``folder``.

    Parameters
    ----------
    folder : Path — the session folder (``bio/``, ``video/`` and ``journal.jsonl`` go inside)
    streams : list of StreamInfo — the bio streams to expect
    clock : Clock — host monotonic clock (real or virtual)
    t0_ns : int — host time (ns) of the session start
    record_video : bool — whether a camera is attached
    jpeg_quality : int — quality (1–100) of stored frames
    flush_interval_s : float — the longest time (s) data waits before fsync
    live_seconds : float — history (s) kept in the ring buffers
    threaded : bool — run a writer thread (real time) or let the caller drain (virtual clock)
    """

    def __init__(
        self,
        folder: Path,
        streams: list[StreamInfo],
        clock: Clock,
        t0_ns: int,
        record_video: bool = True,
        jpeg_quality: int = 85,
        flush_interval_s: float = 0.5,
        live_seconds: float = 10.0,
        threaded: bool = True,
    ) -> None:
        from core.recording.video_store import VideoStoreWriter

        self.folder = folder
        self.clock = clock
        self.t0_ns = t0_ns
        self.flush_interval_ns = int(flush_interval_s * 1e9)
        self.streams = {s.stream_id: s for s in streams}
        self._bio = {s.stream_id: BioStoreWriter(folder / "bio", s) for s in streams}
        self._video = (
            VideoStoreWriter(folder / "video", quality=jpeg_quality) if record_video else None
        )
        # through the storage layer: sealed in a sealed session (core.security.vault)
        self._journal = vault.open_append(folder / "journal.jsonl")
        self.rings = {s.name: SignalRing(s.rate_hz, len(s.channels), live_seconds) for s in streams}
        self.frame_slot = FrameSlot()
        self._q: queue.SimpleQueue[object] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._stats = RecorderStats(streams={s.name: StreamStats() for s in streams})
        self._rate_meters = {s.stream_id: _RateMeter(t0_ns) for s in streams}
        self._fps = _RateMeter(t0_ns)
        self._next_frame_index: int | None = None
        self._last_flush = clock.now_ns()
        self._last_metrics = clock.now_ns()
        self._dirty = False
        self.error: str | None = None
        self._thread: threading.Thread | None = None
        self._threaded = threaded
        self._closed = False
        self._cpu_ns = 0
        if threaded:
            self._thread = threading.Thread(target=self._run, name="recorder-writer", daemon=True)
            self._thread.start()

    # ---- sinks (any thread) ------------------------------------------------------------------
    def on_batch(self, batch: SampleBatch) -> None:
        self._q.put(batch)

    def on_frame(self, frame: Frame) -> None:
        self._q.put(frame)

    def on_event(self, event: DeviceEvent) -> None:
        self._q.put(event)

    def log_event(self, kind: str, **detail: object) -> None:
        """Add an entry to the session journal (through the writer, in order with the data)."""
        self._q.put(DeviceEvent(kind, self.clock.now_ns(), dict(detail)))

    # ---- writer ------------------------------------------------------------------------------
    def _run(self) -> None:
        t_cpu = time.thread_time_ns()
        while True:
            try:
                item = self._q.get(timeout=0.1)
            except queue.Empty:
                item = None
            if item is _STOP:
                break
            if item is not None:
                self._handle(item)
            self._maybe_flush()
            self._cpu_ns = time.thread_time_ns() - t_cpu
        self._drain()
        self._cpu_ns = time.thread_time_ns() - t_cpu

    def process_pending(self) -> None:
        """Drain the queue in the caller's thread (virtual-clock mode)."""
        t_cpu = time.thread_time_ns()
        self._drain()
        self._maybe_flush()
        self._cpu_ns += time.thread_time_ns() - t_cpu

    def _drain(self) -> None:
        while True:
            try:
                item = self._q.get_nowait()
            except queue.Empty:
                return
            if item is not _STOP:
                self._handle(item)

    def _handle(self, item: object) -> None:
        # The writer must survive anything one item can do (a corrupt frame, a bad batch):
        # the item is counted as not stored, logged, and recording goes on.
        try:
            if isinstance(item, SampleBatch):
                self._handle_batch(item)
            elif isinstance(item, Frame):
                self._handle_frame(item)
            elif isinstance(item, DeviceEvent):
                self._journal_write(
                    {"event": item.kind, "t_s": self._t_s(item.t_host_ns), **item.detail}
                )
        except OSError as e:
            self._fail(e)
        except Exception as e:
            log.exception("recorder could not store a %s", type(item).__name__)
            with self._lock:
                if isinstance(item, SampleBatch) and item.stream_id in self.streams:
                    self._stats.streams[self.streams[item.stream_id].name].not_stored += item.n
                elif isinstance(item, Frame):
                    self._stats.frames_not_stored += 1
                self._stats.item_errors += 1
                self._stats.last_item_error = f"{type(e).__name__}: {e}"

    def _handle_batch(self, b: SampleBatch) -> None:
        info = self.streams.get(b.stream_id)
        if info is None:
            return
        st = self._stats.streams[info.name]
        self.rings[info.name].write(b.first_counter, b.samples)
        if self.error is not None:
            with self._lock:
                st.not_stored += b.n
            return
        w = self._bio[b.stream_id]
        try:
            gap = w.append(b)
        except OSError as e:
            self._fail(e)
            with self._lock:
                st.not_stored += b.n
            return
        self._dirty = True
        with self._lock:
            self._rate_meters[b.stream_id].add(b.arrival_ns, b.n)
            st.received = w.samples_written
            st.lost = w.lost_samples
            st.gaps = len(w.gaps)
            st.rejected = w.n_rejected
        if gap is not None:
            self._journal_write(
                {
                    "event": "gap",
                    "stream": info.name,
                    "first_counter": gap.first_counter,
                    "n": gap.n,
                    "t_s": self._t_s(b.arrival_ns),
                }
            )

    def _handle_frame(self, f: Frame) -> None:
        self.frame_slot.put(f)
        if self._video is None:
            return
        dropped = 0
        if self._next_frame_index is not None and f.index > self._next_frame_index:
            dropped = f.index - self._next_frame_index
        if self._next_frame_index is not None and f.index < self._next_frame_index:
            with self._lock:
                self._stats.frames_rejected += 1  # a repeated or out-of-order frame
            return
        self._next_frame_index = f.index + 1
        if self.error is None:
            try:
                self._video.append(f)
                self._dirty = True
            except OSError as e:
                self._fail(e)
        with self._lock:
            self._fps.add(f.t_host_ns, 1)
            s = self._stats
            s.frames_dropped += dropped
            if self.error is None:
                s.frames_stored = self._video.n_frames
            else:
                s.frames_not_stored += 1

    def _journal_write(self, entry: dict[str, object]) -> None:
        if self.error is not None:
            return
        try:
            self._journal.write((json.dumps(entry) + "\n").encode("utf-8"))
            self._dirty = True
        except OSError as e:
            self._fail(e)

    def _t_s(self, t_ns: int) -> float:
        return round((t_ns - self.t0_ns) / 1e9, 4)

    def _maybe_flush(self, force: bool = False) -> None:
        now = self.clock.now_ns()
        if now - self._last_metrics >= 1_000_000_000:
            self._last_metrics = now
            try:
                self._update_live_metrics()
            except Exception:  # a display figure must never stop the recording
                log.exception("live heart rate / EDA level failed")
        if not force and now - self._last_flush < self.flush_interval_ns:
            return
        self._last_flush = now
        if self._dirty and self.error is None:
            try:
                self.flush()
            except OSError as e:
                self._fail(e)

    def flush(self) -> None:
        """Flush and fsync everything written so far."""
        for w in self._bio.values():
            w.flush()
        if self._video is not None:
            self._video.flush()
        self._journal.flush(fsync=True)
        self._dirty = False

    def _fail(self, e: OSError) -> None:
        # keep the first error: later ones are consequences of it
        if self.error is None:
            self.error = f"Cannot write to {self.folder}: {e.strerror or e}"
            log.error("recording storage failed: %s", e.strerror or e)
            with self._lock:
                self._stats.error = self.error

    def _update_live_metrics(self) -> None:
        from core.physiology.summary import eda_level_series, heart_rate_series

        hr = eda = None
        for info in self.streams.values():
            ring = self.rings[info.name]
            _, x = ring.snapshot()
            for ch, name in enumerate(info.channels):
                col = x[:, ch]
                col = col[np.isfinite(col)]
                if len(col) < info.rate_hz * 3:
                    continue
                if name.upper() == "ECG":
                    _, bpm = heart_rate_series(col, info.rate_hz)
                    if len(bpm) and np.isfinite(bpm).any():
                        hr = float(np.nanmedian(bpm))
                elif name.upper() == "EDA":
                    _, lvl = eda_level_series(col, info.rate_hz)
                    if len(lvl):
                        eda = float(np.nanmean(lvl[-max(1, len(lvl) // 5) :]))
        with self._lock:
            self._stats.heart_rate_bpm = hr
            self._stats.eda_level_us = eda

    # ---- control -----------------------------------------------------------------------------
    def stats(self) -> RecorderStats:
        """A consistent copy of the current figures (rates measured up to now)."""
        now = self.clock.now_ns()
        with self._lock:
            s = self._stats
            streams = {k: StreamStats(**vars(v)) for k, v in s.streams.items()}
            for sid, info in self.streams.items():
                streams[info.name].achieved_rate_hz = self._rate_meters[sid].rate_hz(now)
            out = RecorderStats(
                elapsed_s=(now - self.t0_ns) / 1e9,
                streams=streams,
                frames_stored=s.frames_stored,
                frames_dropped=s.frames_dropped,
                frames_not_stored=s.frames_not_stored,
                frames_rejected=s.frames_rejected,
                achieved_fps=self._fps.rate_hz(now),
                bytes_written=self._bytes_written(),
                queue_depth=self._q.qsize(),
                heart_rate_bpm=s.heart_rate_bpm,
                eda_level_us=s.eda_level_us,
                error=s.error,
                item_errors=s.item_errors,
                last_item_error=s.last_item_error,
                writer_cpu_s=self._cpu_ns / 1e9,
            )
        if self._thread is not None and not self._thread.is_alive() and not self._closed:
            out.error = out.error or "The recorder's writer stopped; data is no longer stored."
        return out

    def _bytes_written(self) -> int:
        n = sum(w.samples_written * 4 * w.n_channels for w in self._bio.values())
        if self._video is not None:
            n += self._video.bytes_written
        return n

    def close(self) -> None:
        """Drain everything queued, flush, fsync and close the files. Idempotent."""
        if self._closed:
            return
        self._closed = True
        if self._thread is not None and self._thread.is_alive():
            self._q.put(_STOP)
            self._thread.join()
        self._drain()  # anything left, e.g. if the writer thread had died
        closers = [w.close for w in self._bio.values()]
        if self._video is not None:
            closers.append(self._video.close)
        closers.append(self._close_journal)
        for close in closers:  # each on its own: one failing file must not strand the others
            try:
                close()
            except OSError as e:
                self._fail(e)

    def _close_journal(self) -> None:
        try:
            self._journal.flush(fsync=True)
        finally:
            self._journal.close()
