"""Sealed-file throughput: AES-256-GCM chunks written, read and verified on this CPU.

    .venv/bin/python benchmarks/sealed_files.py              # 96 MB per case
    .venv/bin/python benchmarks/sealed_files.py --mb 256 --fsync

Prints the machine, then MB/s (plaintext) for

* ``write+flush``: :class:`~core.security.sealed.SealedWriter` fed like the recorder feeds its
  stores, one flush per recorded second — video-like (2.4 MB of JPEG bytes per flush, cut into
  1 MiB chunks), whole 1 MiB chunks, and bio-like (3.2 kB per flush: 800 Hz float32, one
  channel) — next to the same bytes written to a plain file; flushes fsync only with ``--fsync``
  (the recorder already pays its fsyncs; the sealing is what is new);
* ``read``: the file read back in 1 MiB pieces with :meth:`~core.security.sealed.SealedReader.read`;
* ``verify``: every chunk decrypted and checked by :meth:`~core.security.sealed.SealedReader.verify`;

and the CPU share (of one core) that sealing one second of the recorder's load costs: 2.4 MB/s of
video and its frame index (60 records of 32 bytes), and two 800 Hz float32 streams with their
batch index (about 10 batches/s of 28 bytes each), six files flushed once a second.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

MB = 1_000_000
VIDEO_PER_S = 2_400_000


def machine() -> str:
    from core.machine import cpu_description

    return f"{cpu_description()}, {platform.system()} {platform.release()}"


def write_sealed(path: Path, block: bytes, n: int, fsync: bool) -> tuple[float, float]:
    """Write ``n`` flushes of ``block``; return (wall s, CPU s)."""
    from core.security.sealed import SealedWriter

    key = os.urandom(32)
    t, c = time.perf_counter(), time.process_time()
    with SealedWriter(path, key, b"benchkey") as w:
        for _ in range(n):
            w.write(block)
            w.flush(fsync=fsync)
    wall, cpu = time.perf_counter() - t, time.process_time() - c
    path.with_suffix(".key").write_bytes(key)
    return wall, cpu


def write_plain(path: Path, block: bytes, n: int, fsync: bool) -> float:
    t = time.perf_counter()
    with open(path, "wb") as fh:
        for _ in range(n):
            fh.write(block)
            fh.flush()
            if fsync:
                os.fsync(fh.fileno())
    return time.perf_counter() - t


def read_back(path: Path) -> tuple[float, float]:
    """Read the whole file in 1 MiB pieces, then verify it; return (read s, verify s)."""
    from core.security.sealed import SealedReader

    key = path.with_suffix(".key").read_bytes()
    t = time.perf_counter()
    with SealedReader(path, key) as r:
        for at in range(0, r.size, 1 << 20):
            r.read(at, 1 << 20)
    read_s = time.perf_counter() - t
    t = time.perf_counter()
    with SealedReader(path, key) as r:
        assert r.verify() == []
    return read_s, time.perf_counter() - t


def recorder_second(folder: Path, seconds: int) -> float:
    """CPU seconds that sealing one recorded second costs (six files, one flush each)."""
    from core.security.sealed import SealedWriter

    key = os.urandom(32)
    video, vidx = os.urandom(VIDEO_PER_S), os.urandom(60 * 32)
    bio, bidx = os.urandom(800 * 4), os.urandom(10 * 28)
    sizes = {"video": video, "vidx": vidx, "ecg": bio, "eda": bio, "ecgi": bidx, "edai": bidx}
    writers = {name: SealedWriter(folder / f"rec-{name}.bin", key, b"benchkey") for name in sizes}
    c = time.process_time()
    for _ in range(seconds):
        for name, w in writers.items():
            w.write(sizes[name])
            w.flush(fsync=False)
    cpu = time.process_time() - c
    for w in writers.values():
        w.close()
    return cpu / seconds


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mb", type=float, default=96.0, help="plaintext MB per case")
    ap.add_argument("--fsync", action="store_true", help="fsync every flush")
    args = ap.parse_args()
    import cryptography

    print(f"machine: {machine()}; cryptography {cryptography.__version__}")
    print(f"{args.mb:g} MB per case, flushes {'with' if args.fsync else 'without'} fsync")
    total = int(args.mb * MB)
    cases = [
        ("video-like, 2.4 MB per flush", VIDEO_PER_S),
        ("1 MiB per flush", 1 << 20),
        ("bio-like, 3.2 kB per flush", 3200),
    ]
    with tempfile.TemporaryDirectory(prefix="therascope-sealed-") as tmp:
        folder = Path(tmp)
        print(f"{'case':32} {'plain':>9} {'sealed':>9} {'cpu':>9} {'read':>9} {'verify':>9}")
        for label, size in cases:
            block = os.urandom(size)
            n = max(1, min(total, 16 * MB if size < 65536 else total) // size)
            mb = n * size / MB
            plain = write_plain(folder / "plain.bin", block, n, args.fsync)
            wall, cpu = write_sealed(folder / "sealed.bin", block, n, args.fsync)
            read_s, verify_s = read_back(folder / "sealed.bin")
            print(
                f"{label:32} {mb / plain:7.0f}/s {mb / wall:7.0f}/s {mb / cpu:7.0f}/s "
                f"{mb / read_s:7.0f}/s {mb / verify_s:7.0f}/s   (MB/s, {mb:.0f} MB)"
            )
            for p in folder.iterdir():
                p.unlink()
        seconds = max(5, int(total / VIDEO_PER_S))
        per_s = recorder_second(folder, seconds)
        print(
            f"recorder load (2.4 MB/s video + index, 2 x 800 Hz float32 + indexes, 6 files): "
            f"{1000 * per_s:.1f} ms CPU per recorded second = {100 * per_s:.2f} % of one core "
            f"(averaged over {seconds} s)"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
