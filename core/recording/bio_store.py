"""Crash-safe storage of one bio-signal stream while recording.

Layout, in a session's ``bio/`` folder, for a stream named ``NAME``:

* ``NAME.f32`` — the received samples, float32 little-endian, channels interleaved, appended in
  arrival order. Lost samples are *not* written: the index says where they are.
* ``NAME.idx`` — one fixed-size record per received batch (:data:`IDX_DTYPE`): the unwrapped
  device counter of its first sample, the number of samples, the host arrival time (ns) and the
  batch's position (in samples) in ``NAME.f32``.

The ``.f32`` bytes of a batch are written before its index record, so after a crash every index
record that fits inside the data file points at complete samples; the reader ignores the rest.
Gaps (lost samples) are derived from the counters alone and are counted, never interpolated.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.types import SampleBatch, StreamInfo

IDX_DTYPE = np.dtype(
    [("first_counter", "<i8"), ("n", "<i4"), ("arrival_ns", "<i8"), ("offset", "<i8")]
)


def stream_paths(folder: Path, name: str) -> tuple[Path, Path]:
    """The data and index file of stream ``name`` in ``folder``."""
    return folder / f"{name}.f32", folder / f"{name}.idx"


@dataclass
class Gap:
    """A run of lost samples.

    Parameters
    ----------
    first_counter : int — counter of the first lost sample
    n : int — number of lost samples
    """

    first_counter: int
    n: int


class BioStoreWriter:
    """Append batches of one stream to disk; count what was lost.

    Parameters
    ----------
    folder : Path — the session's ``bio/`` folder
    stream : StreamInfo — the stream's description
    """

    def __init__(self, folder: Path, stream: StreamInfo) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.stream = stream
        self.n_channels = len(stream.channels)
        dpath, ipath = stream_paths(folder, stream.name)
        self._data = open(dpath, "ab")  # noqa: SIM115 — kept open for the whole recording
        self._idx = open(ipath, "ab")  # noqa: SIM115
        self.samples_written = self._data.tell() // (4 * self.n_channels)
        self.first_counter: int | None = None
        self.next_counter: int | None = None
        self.lost_samples = 0
        self.gaps: list[Gap] = []
        self.n_rejected = 0  # batches overlapping what was already stored

    def append(self, batch: SampleBatch) -> Gap | None:
        """Store one batch; return the gap before it, if samples were lost.

        A batch that overlaps samples already stored (a duplicate or an out-of-order packet) is
        rejected and counted: the store is strictly increasing in counter.
        """
        if batch.samples.ndim != 2 or batch.samples.shape[1] != self.n_channels:
            raise ValueError(
                f"stream {self.stream.name}: expected (n, {self.n_channels}) samples, "
                f"got {batch.samples.shape}"
            )
        gap = None
        if self.next_counter is not None:
            if batch.first_counter < self.next_counter:
                self.n_rejected += 1
                return None
            if batch.first_counter > self.next_counter:
                gap = Gap(self.next_counter, batch.first_counter - self.next_counter)
                self.gaps.append(gap)
                self.lost_samples += gap.n
        else:
            self.first_counter = batch.first_counter
        rec = np.zeros(1, dtype=IDX_DTYPE)
        rec["first_counter"] = batch.first_counter
        rec["n"] = batch.n
        rec["arrival_ns"] = batch.arrival_ns
        rec["offset"] = self.samples_written
        self._data.write(np.ascontiguousarray(batch.samples, dtype="<f4").tobytes())
        self._idx.write(rec.tobytes())
        self.samples_written += batch.n
        self.next_counter = batch.end_counter
        return gap

    def flush(self, fsync: bool = True) -> None:
        """Push written bytes to the OS and, with ``fsync``, to the disk (data before index)."""
        self._data.flush()
        if fsync:
            os.fsync(self._data.fileno())
        self._idx.flush()
        if fsync:
            os.fsync(self._idx.fileno())

    def close(self) -> None:
        if not self._data.closed:
            self.flush()
            self._data.close()
            self._idx.close()


@dataclass
class BioStream:
    """One stream read back from disk.

    Parameters
    ----------
    info : StreamInfo
    index : ndarray of IDX_DTYPE — the consistent batch records
    samples : ndarray (n_received, channels) float32 — received samples, in store order
    """

    info: StreamInfo
    index: np.ndarray
    samples: np.ndarray

    @property
    def n_received(self) -> int:
        return int(self.samples.shape[0])

    @property
    def first_counter(self) -> int:
        return int(self.index["first_counter"][0]) if len(self.index) else 0

    @property
    def end_counter(self) -> int:
        if not len(self.index):
            return 0
        return int(self.index["first_counter"][-1] + self.index["n"][-1])

    def counters(self) -> np.ndarray:
        """Counter of every received sample (int64)."""
        idx = self.index
        if not len(idx):
            return np.zeros(0, dtype=np.int64)
        starts = np.repeat(idx["first_counter"] - idx["offset"], idx["n"])
        return starts + np.arange(self.n_received, dtype=np.int64)

    def gaps(self) -> list[Gap]:
        """Runs of lost samples between the first and the last received sample."""
        idx = self.index
        if len(idx) < 2:
            return []
        ends = idx["first_counter"][:-1] + idx["n"][:-1]
        starts = idx["first_counter"][1:]
        where = np.nonzero(starts > ends)[0]
        return [Gap(int(ends[i]), int(starts[i] - ends[i])) for i in where]

    @property
    def lost_samples(self) -> int:
        return sum(g.n for g in self.gaps())

    def grid(self) -> np.ndarray:
        """Samples on the full counter grid from first to last, NaN where samples were lost.

        Returns
        -------
        ndarray (end_counter − first_counter, channels) float32
        """
        out = np.full(
            (self.end_counter - self.first_counter, len(self.info.channels)), np.nan, np.float32
        )
        if self.n_received:
            out[self.counters() - self.first_counter] = self.samples
        return out


def read_bio_stream(folder: Path, info: StreamInfo) -> BioStream:
    """Read a stream, tolerating a crash: records beyond the data, or torn, are ignored.

    Overlapping records (which the writer never produces) are treated as corruption: reading stops
    at the first one.
    """
    dpath, ipath = stream_paths(folder, info.name)
    nch = len(info.channels)
    raw_idx = ipath.read_bytes() if ipath.exists() else b""
    n_rec = len(raw_idx) // IDX_DTYPE.itemsize
    idx = np.frombuffer(raw_idx[: n_rec * IDX_DTYPE.itemsize], dtype=IDX_DTYPE)
    n_data = (dpath.stat().st_size // (4 * nch)) if dpath.exists() else 0
    ok = (idx["offset"] + idx["n"] <= n_data) & (idx["n"] > 0)
    if len(idx) > 1:
        # each record must start where the previous one ended, with a counter that moves on
        cont = np.ones(len(idx), dtype=bool)
        cont[1:] = (idx["offset"][1:] == idx["offset"][:-1] + idx["n"][:-1]) & (
            idx["first_counter"][1:] >= idx["first_counter"][:-1] + idx["n"][:-1]
        )
        ok &= cont
    bad = np.nonzero(~ok)[0]
    keep = int(bad[0]) if len(bad) else len(idx)
    idx = idx[:keep].copy()
    n_samples = int(idx["offset"][-1] + idx["n"][-1]) if keep else 0
    raw = b""
    if n_samples:
        with open(dpath, "rb") as fh:
            raw = fh.read(n_samples * 4 * nch)
    data = np.frombuffer(raw, dtype="<f4")
    return BioStream(info, idx, data.reshape(-1, nch).astype(np.float32, copy=False))


def truncate_bio_stream(folder: Path, info: StreamInfo) -> dict[str, int]:
    """Cut both files back to their last consistent record (crash recovery); report counts."""
    dpath, ipath = stream_paths(folder, info.name)
    s = read_bio_stream(folder, info)
    nch = len(info.channels)
    before_idx = ipath.stat().st_size if ipath.exists() else 0
    before_data = dpath.stat().st_size if dpath.exists() else 0
    keep_idx = len(s.index) * IDX_DTYPE.itemsize
    keep_data = s.n_received * 4 * nch
    for path, size in ((ipath, keep_idx), (dpath, keep_data)):
        if path.exists():
            with open(path, "r+b") as fh:
                fh.truncate(size)
                fh.flush()
                os.fsync(fh.fileno())
    return {
        "records": len(s.index),
        "samples": s.n_received,
        "index_bytes_dropped": before_idx - keep_idx,
        "data_bytes_dropped": before_data - keep_data,
    }
