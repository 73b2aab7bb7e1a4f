"""Checksums of a finished session's files (``integrity.json``), and the damage they reveal.

When a session is finalised (stopped, or recovered after a crash) every file the recording wrote
is *sealed*: its size, its SHA-256 and the SHA-256 of each of its chunks go into
``integrity.json``, written atomically next to ``session.json``. Nothing is hashed while
recording. A reader compares what it reads with the seal, chunk by chunk, and reports the byte
ranges that differ or are missing; the stores (:mod:`core.recording.bio_store`,
:mod:`core.recording.video_store`) turn those byte ranges into the samples and frames they held.

Chunks follow what a damaged byte costs. The seal records each file's chunk size, so a reader
needs no rule of its own:

* a bio data file (``bio/NAME.f32``): about 2 s of samples per chunk (at least 4 KiB, a whole
  number of samples) — a damaged byte loses at most the 2 s around it;
* a bio or frame index (``bio/NAME.idx``, ``video/frames.idx``): 32 (bio) or 64 (video) records
  per chunk, about 1–3 s of recording; a damaged index record loses the samples or the frame it
  described;
* the video (``video/frames.mjpeg``): 1 MiB per chunk; each frame also carries a CRC-32 in the
  (sealed) index, so a damaged chunk is narrowed down to the frames whose CRC fails;
* the rest (``session.json``, ``journal.jsonl``, ``simulation.json``): 64 KiB per chunk.

Chunk digests are the first 128 bits (32 hex digits) of each chunk's SHA-256, concatenated in one
string per file; the whole file's SHA-256 is kept in full (``sha256sum`` gives the same).
``self_sha256`` — the SHA-256 of the rest of the document as compact sorted JSON — and the rule
that the file is byte for byte as written let the reader tell a damaged ``integrity.json`` (its
checksums unusable: the session reads as damaged, unverified) from damaged data.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from core.security import vault

INTEGRITY_NAME = "integrity.json"
FORMAT = "therascope-integrity"
FORMAT_VERSION = 1
ALGORITHM = "sha256"
#: hex digits kept of each chunk's SHA-256 (128 bits: ample for finding accidental damage)
CHUNK_HEX = 32
#: chunk size of the video and of the small files (bytes)
MJPEG_CHUNK = 1 << 20
OTHER_CHUNK = 1 << 16
#: ``holds`` key of a file seal: plaintext ranges already damaged when the seal was made (a sealed
#: file's chunks that failed their tag at a crash recovery); they are reported as lost for good
DAMAGED_WHEN_SEALED = "damaged_when_sealed"
#: bytes read at a time when a file is streamed (a whole number of chunks of any size above)
READ_BLOCK = 8 << 20

Range = tuple[int, int]


class SessionDamageError(ValueError):
    """A session file is damaged so badly that the session cannot be read (e.g. its manifest).

    A :class:`ValueError`, so every place that already reports an unreadable session reports
    this one too; its message names the file and what is wrong with it.
    """


def merge_ranges(ranges: Iterable[Range]) -> list[Range]:
    """Sorted, non-empty, non-overlapping ``[start, end)`` ranges (touching ones joined)."""
    out: list[list[int]] = []
    for a, b in sorted((int(a), int(b)) for a, b in ranges if b > a):
        if out and a <= out[-1][1]:
            out[-1][1] = max(out[-1][1], b)
        else:
            out.append([a, b])
    return [(a, b) for a, b in out]


def overlapping(starts: np.ndarray, ends: np.ndarray, bad: list[Range]) -> np.ndarray:
    """Which items ``[starts[i], ends[i])`` touch a byte of ``bad`` (merged ranges); bool array."""
    hit = np.zeros(len(starts), dtype=bool)
    if not bad or not len(starts):
        return hit
    lo = np.array([a for a, _ in bad], dtype=np.int64)
    hi = np.array([b for _, b in bad], dtype=np.int64)
    # the first bad range ending after the item's start; the item overlaps it if it starts
    # before the item's end
    k = np.searchsorted(hi, np.asarray(starts, dtype=np.int64), side="right")
    inside = k < len(bad)
    hit[inside] = lo[k[inside]] < np.asarray(ends, dtype=np.int64)[inside]
    return hit & (np.asarray(ends) > np.asarray(starts))


def runs(mask: np.ndarray) -> list[Range]:
    """``[start, end)`` of every run of True in ``mask``."""
    m = np.concatenate([[False], np.asarray(mask, dtype=bool), [False]])
    d = np.flatnonzero(m[1:] != m[:-1])
    return [(int(a), int(b)) for a, b in zip(d[::2], d[1::2], strict=True)]


def _chunk_hex(data: bytes | memoryview) -> str:
    return hashlib.sha256(data).hexdigest()[:CHUNK_HEX]


@dataclass(frozen=True)
class FileSeal:
    """One sealed file (an entry of ``integrity.json``'s ``files``).

    Parameters
    ----------
    path : str — relative to the session folder, ``/``-separated (``"bio/bio.f32"``)
    size : int — bytes at finalisation
    sha256 : str — the whole file's SHA-256 (64 hex digits)
    chunk_bytes : int — chunk size (bytes); the last chunk may be shorter
    chunks : str — every chunk's digest (:data:`CHUNK_HEX` hex digits each), concatenated
    holds : dict — what the file held, for the reader of a damaged file: ``records``,
        ``samples``, ``first_counter``, ``end_counter`` (a bio index); ``frames``, ``dropped``,
        ``first_index``, ``last_index`` (the frame index); empty for the others
    """

    path: str
    size: int
    sha256: str
    chunk_bytes: int
    chunks: str
    holds: Mapping[str, Any]

    @property
    def n_chunks(self) -> int:
        return len(self.chunks) // CHUNK_HEX

    def chunk(self, i: int) -> str:
        """The digest of chunk ``i``."""
        return self.chunks[i * CHUNK_HEX : (i + 1) * CHUNK_HEX]

    def to_dict(self) -> dict[str, Any]:
        return {
            "size": self.size,
            "sha256": self.sha256,
            "chunk_bytes": self.chunk_bytes,
            "chunks": self.chunks,
            "holds": dict(self.holds),
        }

    @classmethod
    def from_dict(cls, path: str, d: Mapping[str, Any]) -> FileSeal:
        """An entry read back; :class:`ValueError` if it is not a well-formed one."""
        try:
            size, chunk = int(d["size"]), int(d["chunk_bytes"])
            sha, chunks, holds = str(d["sha256"]), str(d["chunks"]), d.get("holds") or {}
        except (KeyError, TypeError, ValueError) as e:
            raise ValueError(f"entry {path!r} is malformed ({e})") from None
        n = -(-size // chunk) if chunk > 0 else -1
        if size < 0 or chunk <= 0 or len(sha) != 64 or len(chunks) != n * CHUNK_HEX:
            raise ValueError(f"entry {path!r} is inconsistent")
        if not isinstance(holds, Mapping):
            raise ValueError(f"entry {path!r} is malformed (holds)")
        return cls(path, size, sha, chunk, chunks, dict(holds))


def seal_file(
    folder: Path, path: str, chunk_bytes: int, holds: Mapping[str, Any] | None = None
) -> FileSeal:
    """Seal ``folder / path``: read it once, in blocks, hashing the whole and every chunk.

    The two hashes of a block run side by side (hashlib releases the GIL), so a long video costs
    about one SHA-256 pass of wall time on a machine with two cores.
    """
    from concurrent.futures import ThreadPoolExecutor

    whole = hashlib.sha256()
    chunks: list[str] = []
    size = 0
    block = max(chunk_bytes, (READ_BLOCK // chunk_bytes) * chunk_bytes)

    def digests(view: memoryview) -> str:
        return "".join(
            _chunk_hex(view[i : i + chunk_bytes]) for i in range(0, len(view), chunk_bytes)
        )

    with vault.open_read(folder / path) as fh, ThreadPoolExecutor(1) as pool:
        # the file's content: a sealed file's plaintext (core.security.vault)
        while data := fh.read(size, block):
            view = memoryview(data)
            job = pool.submit(digests, view)
            whole.update(view)
            chunks.append(job.result())
            size += len(data)
        lost = [[d.plaintext_start, d.plaintext_end] for d in fh.damaged]
    facts = dict(holds or {})
    if lost:  # sealed chunks already damaged when sealed (e.g. at a crash recovery): read as
        # zeros, so their checksums are of zeros; they stay reported as lost
        facts[DAMAGED_WHEN_SEALED] = lost
    return FileSeal(path, size, whole.hexdigest(), chunk_bytes, "".join(chunks), facts)


def _known_lost(seal: FileSeal) -> list[Range]:
    """The ranges a seal records as damaged when it was made (within the sealed size)."""
    out: list[Range] = []
    for pair in seal.holds.get(DAMAGED_WHEN_SEALED, []) or []:
        try:
            a, b = int(pair[0]), int(pair[1])
        except (TypeError, ValueError, IndexError):
            continue
        a, b = max(0, a), min(seal.size, b if b > a else seal.size)
        if b > a:
            out.append((a, b))
    return out


def seal_bytes(path: str, data: bytes, chunk_bytes: int) -> FileSeal:
    """Seal bytes about to be written as ``path`` (e.g. the final ``session.json``)."""
    view = memoryview(data)
    chunks = "".join(
        _chunk_hex(view[i : i + chunk_bytes]) for i in range(0, len(view), chunk_bytes)
    )
    return FileSeal(path, len(data), hashlib.sha256(data).hexdigest(), chunk_bytes, chunks, {})


@dataclass
class FileCheck:
    """A file compared with its seal.

    Parameters
    ----------
    path : str — relative to the session folder
    expected_size : int or None — bytes at finalisation (None: not known)
    size : int or None — bytes now (None: the file is missing)
    bad : list of (int, int) — ``[start, end)`` byte ranges of what was sealed that are damaged
        or missing now (merged): the ``changed`` ones, and from the start of the chunk a
        truncation cut (which can no longer be checked) to the sealed end
    changed : list of (int, int) — ranges still there whose bytes differ from the seal
    contents : bool — the bytes were compared; False: only the size (the video's frames are
        then checked one by one as they are read)
    note : str — what is wrong when it is not about byte ranges (an unusable ``integrity.json``)
    """

    path: str
    expected_size: int | None
    size: int | None
    bad: list[Range]
    changed: list[Range] = field(default_factory=list)
    contents: bool = True
    note: str = ""

    @property
    def extra_bytes(self) -> int:
        """Bytes beyond the sealed end (a file that grew after finalisation)."""
        if self.size is None or self.expected_size is None:
            return 0
        return max(0, self.size - self.expected_size)

    @property
    def ok(self) -> bool:
        return not self.note and self.size is not None and not self.bad and not self.extra_bytes

    def problem(self) -> str:
        """What is wrong, in words ("" when nothing is): ``"missing"``, ``"truncated: 64 000
        of 127 680 bytes left"``, ``"bytes 12 800–25 599 changed"``…"""
        if self.note:
            return self.note
        if self.size is None:
            return "missing"
        parts = []
        exp = self.expected_size
        if exp is not None and self.size < exp:
            parts.append(f"truncated: {_n(self.size)} of {_n(exp)} bytes left")
        if self.changed:
            parts.append(f"{byte_ranges_text(self.changed)} changed")
        if self.extra_bytes:
            parts.append(f"{_n(self.extra_bytes)} bytes added after the end")
        return "; ".join(parts)


def _n(x: int) -> str:
    """An integer with its thousands separated by a space: ``127 680``."""
    return f"{int(x):,}".replace(",", " ")


def byte_ranges_text(ranges: list[Range], most: int = 4) -> str:
    """``"bytes 0–12 799"``, ``"bytes 0–99, 200–299 and 3 more ranges"`` (ends inclusive)."""
    parts = [f"{_n(a)}–{_n(b - 1)}" if b - a > 1 else _n(a) for a, b in ranges[:most]]
    more = len(ranges) - most
    text = ", ".join(parts)
    if more > 0:
        text += f" and {more} more range{'s' if more > 1 else ''}"
    word = "byte" if len(ranges) == 1 and ranges[0][1] - ranges[0][0] == 1 else "bytes"
    return f"{word} {text}"


def check_bytes(seal: FileSeal, data: bytes | memoryview, size: int | None) -> FileCheck:
    """Compare ``data`` (the file's bytes from its start, at most ``seal.size`` are looked at)
    with ``seal``; ``size`` is the file's size now (None: missing)."""
    view = memoryview(data)[: seal.size]
    c = seal.chunk_bytes
    have = len(view)
    changed: list[Range] = []
    cut: list[Range] = []
    want = bytes.fromhex(seal.chunks)
    k = CHUNK_HEX // 2
    sha = hashlib.sha256
    for i in range(seal.n_chunks):
        a, b = i * c, min((i + 1) * c, seal.size)
        if b > have:  # the chunk is not all there: it cannot be checked, it is lost
            cut.append((a, seal.size))
            break
        if sha(view[a:b]).digest()[:k] != want[i * k : (i + 1) * k]:
            changed.append((a, b))
    changed = merge_ranges(changed + _known_lost(seal))
    return FileCheck(seal.path, seal.size, size, merge_ranges(changed + cut), changed)


def check_file(path: Path, seal: FileSeal, contents: bool = True) -> FileCheck:
    """Compare the file at ``path`` with its seal, streaming it (``contents=False``: the size
    alone; what is missing at the end is still reported as bad)."""
    if not path.exists():
        return FileCheck(seal.path, seal.size, None, [(0, seal.size)] if seal.size else [])
    size = vault.size(path)
    if not contents:
        tail = [(size, seal.size)] if size < seal.size else []
        return FileCheck(seal.path, seal.size, size, tail, contents=False)
    c = seal.chunk_bytes
    block = max(c, (READ_BLOCK // c) * c)
    bad: list[Range] = []
    cut: list[Range] = []
    with vault.open_read(path) as fh:
        pos = 0
        while pos < seal.size:
            data = fh.read(pos, min(block, seal.size - pos))
            if not data:
                break
            view = memoryview(data)
            for j in range(0, len(view), c):
                a, b = pos + j, min(pos + j + c, seal.size)
                if b - a > len(view) - j:  # a chunk cut short by the end of the file
                    cut.append((a, seal.size))
                    break
                if _chunk_hex(view[j : j + (b - a)]) != seal.chunk(a // c):
                    bad.append((a, b))
            pos += len(data)
        if pos < seal.size:
            cut.append((pos - pos % c, seal.size))
    changed = merge_ranges(bad + _known_lost(seal))
    return FileCheck(seal.path, seal.size, size, merge_ranges(changed + cut), changed)


@dataclass(frozen=True)
class Seal:
    """``integrity.json`` read back: the sealed files, by path."""

    files: Mapping[str, FileSeal]
    sealed_at: str

    def get(self, path: str) -> FileSeal | None:
        return self.files.get(path)


def _doc_digest(doc: Mapping[str, Any]) -> str:
    """SHA-256 of the document without its own digest, as compact sorted JSON."""
    body = {k: v for k, v in doc.items() if k != "self_sha256"}
    canon = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(canon.encode("ascii")).hexdigest()


def seal_document(uid: str, sealed_at: str, files: Iterable[FileSeal]) -> dict[str, Any]:
    """The content of ``integrity.json`` for ``files`` (write it with :func:`json_bytes`)."""
    doc: dict[str, Any] = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "uid": uid,
        "sealed_at": sealed_at,
        "algorithm": ALGORITHM,
        "chunk_digest": f"{ALGORITHM}, first {CHUNK_HEX} hex digits of each chunk's",
        "files": {f.path: f.to_dict() for f in files},
    }
    doc["self_sha256"] = _doc_digest(doc)
    return doc


def parse_seal(raw: bytes) -> Seal:
    """Read ``integrity.json``'s bytes; :class:`ValueError` saying why it is unusable.

    Any change to its bytes is found: the document must be exactly as :func:`json_bytes` writes
    it (so not even its white space changed), and match its own ``self_sha256``.
    """
    try:
        doc = json.loads(raw.decode("utf-8"))
    except ValueError as e:  # UnicodeDecodeError is a ValueError
        raise ValueError(f"not readable JSON ({e})") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise ValueError("not a TheraScope integrity manifest")
    if doc.get("format_version") != FORMAT_VERSION or doc.get("algorithm") != ALGORITHM:
        raise ValueError(
            f"written by another TheraScope (format v{doc.get('format_version')}, "
            f"{doc.get('algorithm')})"
        )
    if json_bytes(doc) != raw or _doc_digest(doc) != doc.get("self_sha256"):
        raise ValueError("its bytes no longer match its own checksum")
    files = doc.get("files")
    if not isinstance(files, dict) or not all(isinstance(d, dict) for d in files.values()):
        raise ValueError("its table of files is malformed")
    return Seal(
        {str(p): FileSeal.from_dict(str(p), d) for p, d in files.items()},
        str(doc.get("sealed_at") or ""),
    )


def json_bytes(data: Mapping[str, Any]) -> bytes:
    """JSON as TheraScope writes its manifests (2-space indent, UTF-8)."""
    return json.dumps(data, indent=2).encode("utf-8")
