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

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from core.recording.integrity import FileCheck, FileSeal, check_bytes, overlapping, runs
from core.security import vault
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
        # through the storage layer: sealed in a sealed session (core.security.vault)
        self._data = vault.open_append(dpath)
        try:
            self._idx = vault.open_append(ipath)
        except BaseException:
            self._data.close()
            raise
        self._closed = False
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
        self._data.flush(fsync)
        self._idx.flush(fsync)

    def close(self) -> None:
        if not self._closed:
            self.flush()
            self._closed = True
            self._data.close()
            self._idx.close()


@dataclass
class SampleDamage:
    """Samples lost because a sealed file is damaged (:mod:`core.recording.integrity`).

    Parameters
    ----------
    first_counter, end_counter : int — the counter range the damaged part covered
    samples : int — samples it held (fewer than the range when samples were lost on the way too)
    file : str — the damaged file's name (``"bio.f32"`` or ``"bio.idx"``)
    """

    first_counter: int
    end_counter: int
    samples: int
    file: str


@dataclass
class BioStream:
    """One stream read back from disk.

    Parameters
    ----------
    info : StreamInfo
    index : ndarray of IDX_DTYPE — the consistent batch records (offsets: positions in
        ``samples``)
    samples : ndarray (n_received, channels) float32 — received samples, in store order
    damage : list of SampleDamage — what damaged files cost (sealed sessions only)
    extent : (int, int) or None — first and end counter as recorded (from the seal); None: from
        the records read
    checks : list of FileCheck — the data and index file against their seal (empty: unsealed)
    """

    info: StreamInfo
    index: np.ndarray
    samples: np.ndarray
    damage: list[SampleDamage] = field(default_factory=list)
    extent: tuple[int, int] | None = None
    checks: list[FileCheck] = field(default_factory=list)

    @property
    def n_received(self) -> int:
        return int(self.samples.shape[0])

    @property
    def first_counter(self) -> int:
        if self.extent is not None:
            return self.extent[0]
        return int(self.index["first_counter"][0]) if len(self.index) else 0

    @property
    def end_counter(self) -> int:
        if self.extent is not None:
            return self.extent[1]
        if not len(self.index):
            return 0
        return int(self.index["first_counter"][-1] + self.index["n"][-1])

    @property
    def damaged_samples(self) -> int:
        """Samples lost to damaged files (0 for an intact or unsealed stream)."""
        return sum(d.samples for d in self.damage)

    def counters(self) -> np.ndarray:
        """Counter of every received sample (int64)."""
        idx = self.index
        if not len(idx):
            return np.zeros(0, dtype=np.int64)
        starts = np.repeat(idx["first_counter"] - idx["offset"], idx["n"])
        return starts + np.arange(self.n_received, dtype=np.int64)

    def gaps(self) -> list[Gap]:
        """Runs of lost samples: between received samples, and (sealed streams) before the first
        and after the last one the recording had, which a damaged file can cost."""
        idx = self.index
        if not len(idx):
            span = self.end_counter - self.first_counter
            return [Gap(self.first_counter, span)] if span > 0 else []
        ends = idx["first_counter"][:-1] + idx["n"][:-1]
        starts = idx["first_counter"][1:]
        where = np.nonzero(starts > ends)[0]
        out = [Gap(int(ends[i]), int(starts[i] - ends[i])) for i in where]
        head = int(idx["first_counter"][0]) - self.first_counter
        tail = self.end_counter - int(idx["first_counter"][-1] + idx["n"][-1])
        if head > 0:
            out.insert(0, Gap(self.first_counter, head))
        if tail > 0:
            out.append(Gap(self.end_counter - tail, tail))
        return out

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


def read_bio_stream(
    folder: Path,
    info: StreamInfo,
    data_seal: FileSeal | None = None,
    index_seal: FileSeal | None = None,
) -> BioStream:
    """Read a stream, tolerating a crash: records beyond the data, or torn, are ignored.

    Overlapping records (which the writer never produces) are treated as corruption: reading stops
    at the first one.

    With the seals of both files (a finalised session, :mod:`core.recording.integrity`) every
    chunk read is checked instead: the samples a damaged or missing chunk held are left out and
    listed in :attr:`BioStream.damage`, the stream keeps its recorded extent (they read as lost),
    and :attr:`BioStream.checks` says which bytes of which file are damaged.
    """
    if data_seal is not None and index_seal is not None:
        return _read_sealed(folder, info, data_seal, index_seal)
    dpath, ipath = stream_paths(folder, info.name)
    nch = len(info.channels)
    raw_idx = vault.read_bytes(ipath) if ipath.exists() else b""
    n_rec = len(raw_idx) // IDX_DTYPE.itemsize
    idx = np.frombuffer(raw_idx[: n_rec * IDX_DTYPE.itemsize], dtype=IDX_DTYPE)
    n_data = vault.size(dpath) // (4 * nch)
    keep = _consistent_records(idx, n_data)
    idx = idx[:keep].copy()
    n_samples = int(idx["offset"][-1] + idx["n"][-1]) if keep else 0
    raw = b""
    if n_samples:
        with vault.open_read(dpath) as fh:
            raw = fh.read(0, n_samples * 4 * nch)
    data = np.frombuffer(raw, dtype="<f4")
    return BioStream(info, idx, data.reshape(-1, nch).astype(np.float32, copy=False))


def _consistent_records(idx: np.ndarray, n_data: int) -> int:
    """How many leading records are consistent with each other and within ``n_data`` samples."""
    ok = (idx["offset"] >= 0) & (idx["offset"] + idx["n"] <= n_data) & (idx["n"] > 0)
    if len(idx) > 1:
        # each record must start where the previous one ended, with a counter that moves on
        cont = np.ones(len(idx), dtype=bool)
        cont[1:] = (idx["offset"][1:] == idx["offset"][:-1] + idx["n"][:-1]) & (
            idx["first_counter"][1:] >= idx["first_counter"][:-1] + idx["n"][:-1]
        )
        ok &= cont
    bad = np.nonzero(~ok)[0]
    return int(bad[0]) if len(bad) else len(idx)


def _read_file(path: Path, limit: int) -> tuple[bytes, int | None]:
    """At most ``limit`` bytes from the start of ``path``, and its size (None: missing)."""
    try:
        with vault.open_read(path) as fh:
            return fh.read(0, limit), fh.size
    except FileNotFoundError:
        return b"", None


def _read_sealed(
    folder: Path, info: StreamInfo, data_seal: FileSeal, index_seal: FileSeal
) -> BioStream:
    """:func:`read_bio_stream` with both files checked against their seals."""
    dpath, ipath = stream_paths(folder, info.name)
    nch = len(info.channels)
    frame = 4 * nch
    rsize = IDX_DTYPE.itemsize
    holds = index_seal.holds
    n_rec = int(holds.get("records", index_seal.size // rsize))
    n_stored = int(holds.get("samples", data_seal.size // frame))
    first, end = int(holds.get("first_counter", 0)), int(holds.get("end_counter", 0))

    raw_idx, isize = _read_file(ipath, index_seal.size)
    icheck = check_bytes(index_seal, raw_idx, isize)
    raw, dsize = _read_file(dpath, data_seal.size)
    dcheck = check_bytes(data_seal, raw, dsize)
    checks = [icheck, dcheck]
    have = min(len(raw_idx) // rsize, n_rec)
    idx = np.frombuffer(raw_idx[: have * rsize], dtype=IDX_DTYPE)
    if icheck.ok and dcheck.ok and have == n_rec and _consistent_records(idx, n_stored) == n_rec:
        data = np.frombuffer(raw[: n_stored * frame], dtype="<f4").reshape(-1, nch)
        return BioStream(
            info, idx.copy(), data.astype(np.float32, copy=False), [], (first, end), checks
        )

    # which records can be trusted: all there, not touching a damaged byte of the index
    starts = np.arange(n_rec, dtype=np.int64) * rsize
    good = ~overlapping(starts, starts + rsize, icheck.bad)
    good[have:] = False
    rec = np.zeros(n_rec, dtype=IDX_DTYPE)
    rec[:have] = idx
    # a record that passed its checksum was consistent at finalisation; guard all the same
    good &= (rec["n"] > 0) & (rec["offset"] >= 0) & (rec["offset"] + rec["n"] <= n_stored)
    damage: list[SampleDamage] = []
    # runs of untrusted records: the samples between their trusted neighbours are lost
    for a, b in runs(~good):
        lo_c = int(rec["first_counter"][a - 1] + rec["n"][a - 1]) if a > 0 else first
        lo_o = int(rec["offset"][a - 1] + rec["n"][a - 1]) if a > 0 else 0
        hi_c = int(rec["first_counter"][b]) if b < n_rec else end
        hi_o = int(rec["offset"][b]) if b < n_rec else n_stored
        damage.append(SampleDamage(lo_c, max(lo_c, hi_c), max(0, hi_o - lo_o), ipath.name))
    keep = rec[good]
    # samples of trusted records that sit in damaged bytes of the data file
    bad_bytes = dcheck.bad
    sample_bad = np.zeros(n_stored, dtype=bool)
    for a, b in bad_bytes:
        sample_bad[a // frame : min(n_stored, -(-b // frame))] = True
    pos = np.repeat(keep["offset"], keep["n"]) + _ramp(keep["n"])
    counters = np.repeat(keep["first_counter"], keep["n"]) + _ramp(keep["n"])
    which = np.repeat(np.arange(len(keep)), keep["n"])
    lost = sample_bad[pos]
    for a, b in runs(lost):
        # one run per stretch of stored samples (it may span several records)
        damage.append(SampleDamage(int(counters[a]), int(counters[b - 1]) + 1, b - a, dpath.name))
    ok = ~lost
    pos, counters, which = pos[ok], counters[ok], which[ok]
    values = np.frombuffer(raw[: (len(raw) // frame) * frame], dtype="<f4").reshape(-1, nch)
    samples = values[pos].astype(np.float32, copy=False) if len(pos) else np.zeros((0, nch), "<f4")
    # new records: a run of kept samples of one original record, contiguous in counter
    brk = np.ones(len(pos), dtype=bool)
    brk[1:] = (which[1:] != which[:-1]) | (counters[1:] != counters[:-1] + 1)
    heads = np.flatnonzero(brk)
    out = np.zeros(len(heads), dtype=IDX_DTYPE)
    out["first_counter"] = counters[heads]
    out["n"] = np.diff(np.append(heads, len(pos)))
    out["arrival_ns"] = keep["arrival_ns"][which[heads]]
    out["offset"] = heads
    damage.sort(key=lambda d: d.first_counter)
    return BioStream(info, out, samples, damage, (first, end), checks)


def _ramp(n: np.ndarray) -> np.ndarray:
    """0, 1, …, n[0]−1, 0, 1, …, n[1]−1, … (int64)."""
    n = np.asarray(n, dtype=np.int64)
    total = int(n.sum())
    if not total:
        return np.zeros(0, dtype=np.int64)
    starts = np.repeat(np.cumsum(n) - n, n)
    return np.arange(total, dtype=np.int64) - starts


def truncate_bio_stream(folder: Path, info: StreamInfo) -> dict[str, int]:
    """Cut both files back to their last consistent record (crash recovery); report counts."""
    dpath, ipath = stream_paths(folder, info.name)
    s = read_bio_stream(folder, info)
    nch = len(info.channels)
    before_idx = vault.size(ipath)
    before_data = vault.size(dpath)
    keep_idx = len(s.index) * IDX_DTYPE.itemsize
    keep_data = s.n_received * 4 * nch
    for path, size in ((ipath, keep_idx), (dpath, keep_data)):
        if path.exists():
            vault.truncate(path, size)
    return {
        "records": len(s.index),
        "samples": s.n_received,
        "index_bytes_dropped": before_idx - keep_idx,
        "data_bytes_dropped": before_data - keep_data,
    }
