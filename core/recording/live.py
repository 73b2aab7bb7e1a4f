"""Ring buffers the live views read: the last few seconds of every stream and the latest frame.

Written by the recorder's writer thread, read by the GUI's timer; a lock guards each buffer and
reads return copies, so a slow reader never holds up the writer for long.
"""

from __future__ import annotations

import threading

import numpy as np

from core.types import Frame


class SignalRing:
    """The last ``seconds`` of one stream on its counter grid; lost samples are NaN.

    Parameters
    ----------
    rate_hz : float — nominal sampling rate (Hz)
    n_channels : int
    seconds : float — how much history to keep (s)
    """

    def __init__(self, rate_hz: float, n_channels: int, seconds: float = 10.0) -> None:
        self.rate_hz = rate_hz
        self.size = int(round(rate_hz * seconds))
        self._buf = np.full((self.size, n_channels), np.nan, dtype=np.float32)
        self._end: int | None = None  # counter one past the newest sample
        self._lock = threading.Lock()

    def write(self, first_counter: int, samples: np.ndarray) -> None:
        """Add samples starting at ``first_counter``; samples skipped over become NaN."""
        n = samples.shape[0]
        with self._lock:
            if self._end is not None and first_counter < self._end:
                return  # stale or duplicate: the store rejects it too
            if self._end is not None and first_counter > self._end:
                gap = min(first_counter - self._end, self.size)
                pos = (self._end + np.arange(gap)) % self.size
                self._buf[pos] = np.nan
            if n >= self.size:
                samples = samples[-self.size :]
                first_counter += n - self.size
                n = self.size
            pos = (first_counter + np.arange(n)) % self.size
            self._buf[pos] = samples
            self._end = first_counter + n

    def snapshot(self) -> tuple[np.ndarray, np.ndarray]:
        """Return (counters, samples) of the buffer, oldest first (copies)."""
        with self._lock:
            if self._end is None:
                return np.zeros(0, np.int64), self._buf[:0].copy()
            start = max(0, self._end - self.size)
            counters = np.arange(start, self._end, dtype=np.int64)
            return counters, self._buf[counters % self.size].copy()


class FrameSlot:
    """The newest camera frame (for the preview)."""

    def __init__(self) -> None:
        self._frame: Frame | None = None
        self._lock = threading.Lock()

    def put(self, frame: Frame) -> None:
        with self._lock:
            self._frame = frame

    def get(self) -> Frame | None:
        with self._lock:
            return self._frame
