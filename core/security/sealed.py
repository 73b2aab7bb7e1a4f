"""Sealed files: session data encrypted and authenticated at rest, chunk by chunk.

A sealed file holds a stream of bytes (a bio-signal file, the video, an index) encrypted with
AES-256-GCM under the session's key. It is written in *chunks* that follow the recorder's flush
cadence: :meth:`SealedWriter.flush` seals what was written since the last flush as one chunk (a
long stretch as several of at most ``max_chunk`` bytes), writes it and fsyncs it. A process
killed at any moment therefore loses at most what was not yet flushed, and each chunk's tag is
also its integrity check: a damaged chunk is reported as damaged (its byte range) while the rest
of the file stays readable.

Why AES-256-GCM rather than ChaCha20-Poly1305: both are 256-bit-key AEADs with 96-bit nonces and
128-bit tags; the desktop CPUs the app runs on have AES and carry-less-multiply instructions
(AES-NI and PCLMULQDQ or VAES on x86-64, the crypto extensions on ARMv8 / Apple silicon), with
which OpenSSL's AES-GCM runs at several GB/s per core — ChaCha20-Poly1305 is the better choice
only on CPUs without AES hardware, where it is faster and constant-time in software.

File layout (all integers little-endian unless said otherwise)
------------------------------------------------------------------

Header, 64 bytes, written with the file's first chunk (or when an empty file is closed) and made
durable by the flush that makes that chunk durable:

======  =====  ===================================================================
bytes   size   meaning
======  =====  ===================================================================
0–7     8      magic ``b"TSSEALED"``
8–9     2      format version (uint16), 1
10–11   2      header size (uint16), 64
12–15   4      ``max_chunk``: the most plaintext bytes one chunk holds (uint32)
16–31   16     file id: random, new for every file (also for every rewrite of a small file)
32–39   8      key id: names the key the file is sealed with (given by the caller)
40–55   16     key check: the AES-GCM tag of the empty message under nonce
               ``file_id[:8] ‖ FF FF FF FF`` with bytes 0–39 as associated data; tells a wrong
               key from damage before any chunk is read
56–59   4      reserved, zero
60–63   4      CRC-32 (zlib) of bytes 0–59 (uint32): tells a damaged header from a wrong key
======  =====  ===================================================================

Then the chunks, one after the other. Each is a 24-byte chunk header followed by the
ciphertext and its 16-byte tag:

======  =====  ===================================================================
bytes   size   meaning
======  =====  ===================================================================
0–3     4      sync mark ``b"TSck"``
4–7     4      ciphertext length including the tag (uint32): plaintext length + 16
8–11    4      chunk number (uint32): strictly increasing through the file
12–19   8      plaintext offset of the chunk's first byte (uint64)
20–23   4      CRC-32 of bytes 0–19 (uint32)
24–     n      ciphertext ‖ 16-byte GCM tag
======  =====  ===================================================================

* Nonce (12 bytes) = ``file_id[:8]`` ‖ chunk number (4 bytes, **big**-endian). The file id is
  random per file and a file's chunk numbers only grow (a file reopened for append continues
  past every number it already holds, a torn chunk's included), so under one key a nonce repeats
  only if two files draw the same 64-bit prefix: with one key per session and a few dozen files
  each, about 2⁻⁵⁵. Number ``FFFFFFFF`` is kept for the key check.
* Associated data = the whole 64-byte header ‖ chunk number (uint32) ‖ plaintext offset
  (uint64). A chunk therefore fails its tag when it is moved to another place in the file,
  into another file (even one sealed with the same key) or given another file's header.
* The chunk header is not secret but carries its own CRC-32 and a sync mark: a damaged header is
  recognised as such, the reader finds the next intact chunk by its sync mark, and the stored
  plaintext offsets say exactly which bytes the damaged stretch held — one damaged byte never
  shifts the chunks after it.

Reading checks the order: chunk numbers must grow and each chunk must start where the one before
ended. A chunk found out of place (moved, swapped or repeated) and the plaintext bytes no intact
chunk holds are listed in :attr:`SealedReader.damaged`, as are chunks whose tag fails (found on
reading them, or by :meth:`SealedReader.verify`). A trailing partial chunk is a write torn by a
crash: it is ignored (:attr:`SealedReader.torn_bytes`) and :func:`recover` cuts it off. Chunks
cut off at a chunk boundary at the end cannot be told from a crash before they were written;
the session's integrity seal (its sizes) covers that case.
"""

from __future__ import annotations

import bisect
import contextlib
import mmap
import os
import secrets
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

MAGIC = b"TSSEALED"
FORMAT_VERSION = 1
HEADER_SIZE = 64
CHUNK_MARK = b"TSck"
CHUNK_HEADER_SIZE = 24
TAG_SIZE = 16
KEY_SIZE = 32
KEY_ID_SIZE = 8
FILE_ID_SIZE = 16
#: plaintext bytes per chunk unless told otherwise (a damaged byte costs at most this much)
DEFAULT_MAX_CHUNK = 1 << 20
#: the largest ``max_chunk`` a writer accepts (a chunk is sealed in memory)
LARGEST_CHUNK = 64 << 20
#: the largest file :func:`seal_bytes` seals (one chunk)
LARGEST_SMALL_FILE = 1 << 30
#: chunk numbers run from 0 to this; the next one is the key check's
LAST_NUMBER = 0xFFFFFFFE
KEY_CHECK_NUMBER = 0xFFFFFFFF

_HEADER = struct.Struct("<8sHHI16s8s16s4sI")
_CHUNK = struct.Struct("<4sIIQI")
_AAD_TAIL = struct.Struct("<IQ")


class SealedFileError(ValueError):
    """A sealed file cannot be read as asked. A :class:`ValueError`, like other unreadable data."""


class NotSealedError(SealedFileError):
    """The file is not a sealed file (no ``TSSEALED`` header)."""


class WrongKeyError(SealedFileError):
    """The key given is not the one the file was sealed with."""


@dataclass(frozen=True)
class DamagedChunk:
    """A stretch of plaintext that cannot be read back.

    Parameters
    ----------
    plaintext_start, plaintext_end : int
        The plaintext bytes ``[start, end)`` it held or claims to hold.
    file_offset : int
        Where in the file the damage was found (the chunk's header, or the start of a damaged
        stretch).
    reason : str
        ``"tag"`` (the chunk fails authentication: changed, or from another file), ``"missing"``
        (no intact chunk holds these bytes: damaged chunk headers, or a chunk taken out) or
        ``"out of place"`` (an intact chunk that does not belong where it is: moved, swapped or
        repeated; the bytes it claims are read from the chunk in their place, if there is one).
    """

    plaintext_start: int
    plaintext_end: int
    file_offset: int
    reason: str = "tag"

    def describe(self) -> str:
        """The damage in plain words."""
        what = {
            "tag": "fails its authentication check (damaged or tampered with)",
            "missing": "is not held by any intact chunk",
            "out of place": "comes from a chunk that is out of place",
        }.get(self.reason, self.reason)
        return (
            f"plaintext bytes {self.plaintext_start}–{self.plaintext_end} "
            f"(file offset {self.file_offset}) {what}"
        )


class SealedDamageError(SealedFileError):
    """Part of a sealed file is damaged: the bytes asked for cannot be read.

    Parameters
    ----------
    message : str
    damage : DamagedChunk or None — the damaged stretch (None: the header, or the whole file)
    """

    def __init__(self, message: str, damage: DamagedChunk | None = None) -> None:
        super().__init__(message)
        self.damage = damage


@dataclass(frozen=True)
class SealedHeader:
    """A sealed file's header, as read (see the module's layout table).

    Parameters
    ----------
    version : int
    max_chunk : int — most plaintext bytes per chunk
    file_id : bytes (16)
    key_id : bytes (8) — names the key the file needs
    key_check : bytes (16)
    raw : bytes (64) — the header as stored (every chunk's associated data begins with it)
    """

    version: int
    max_chunk: int
    file_id: bytes
    key_id: bytes
    key_check: bytes
    raw: bytes


def chunk_nonce(file_id: bytes, number: int) -> bytes:
    """The 12-byte nonce of chunk ``number`` of the file with id ``file_id``."""
    return file_id[:8] + number.to_bytes(4, "big")


def _check_key(key: bytes) -> None:
    if not isinstance(key, bytes | bytearray) or len(key) != KEY_SIZE:
        raise ValueError(f"a sealing key is {KEY_SIZE} bytes (256 bits)")


def _chunk_aad(header_raw: bytes, number: int, offset: int) -> bytes:
    return header_raw + _AAD_TAIL.pack(number, offset)


def _make_header(aead: AESGCM, key_id: bytes, max_chunk: int) -> SealedHeader:
    if len(key_id) != KEY_ID_SIZE:
        raise ValueError(f"a key id is {KEY_ID_SIZE} bytes")
    file_id = secrets.token_bytes(FILE_ID_SIZE)
    prefix = _HEADER.pack(
        MAGIC, FORMAT_VERSION, HEADER_SIZE, max_chunk, file_id, key_id, b"", b"", 0
    )[:40]
    key_check = aead.encrypt(chunk_nonce(file_id, KEY_CHECK_NUMBER), b"", prefix)
    body = prefix + key_check + bytes(4)
    raw = body + struct.pack("<I", zlib.crc32(body))
    return SealedHeader(FORMAT_VERSION, max_chunk, file_id, bytes(key_id), key_check, raw)


def parse_header(raw: bytes, name: str = "the file") -> SealedHeader:
    """Read a sealed file's header from its first bytes (no key needed).

    Raises
    ------
    NotSealedError — no sealed-file magic
    SealedFileError — a format version this program does not read
    SealedDamageError — the header is cut short or damaged (nothing in the file can be read)
    """
    if raw[: len(MAGIC)] != MAGIC:
        raise NotSealedError(f"{name} is not a sealed (encrypted) file")
    if len(raw) < HEADER_SIZE:
        raise SealedDamageError(f"the header of {name} is cut short: nothing in it can be read")
    magic, version, hsize, max_chunk, file_id, key_id, key_check, _, crc = _HEADER.unpack(
        raw[:HEADER_SIZE]
    )
    if zlib.crc32(raw[:60]) != crc:
        raise SealedDamageError(f"the header of {name} is damaged: nothing in it can be read")
    if version != FORMAT_VERSION or hsize != HEADER_SIZE:
        raise SealedFileError(
            f"{name} is sealed in format version {version}; this program reads version "
            f"{FORMAT_VERSION}"
        )
    return SealedHeader(version, max_chunk, file_id, key_id, key_check, bytes(raw[:HEADER_SIZE]))


def read_header(path: str | os.PathLike[str]) -> SealedHeader:
    """The header of the sealed file at ``path``: its :attr:`~SealedHeader.key_id` says which key
    opens it. Raises like :func:`parse_header`."""
    with open(path, "rb") as fh:
        return parse_header(fh.read(HEADER_SIZE), Path(path).name)


def _open_with_key(header: SealedHeader, key: bytes, name: str) -> AESGCM:
    """An AES-GCM instance for ``key``, once the header's key check accepts it."""
    _check_key(key)
    aead = AESGCM(bytes(key))
    try:
        aead.decrypt(
            chunk_nonce(header.file_id, KEY_CHECK_NUMBER), header.key_check, header.raw[:40]
        )
    except InvalidTag:
        raise WrongKeyError(
            f"{name} is sealed with key {header.key_id.hex()}, and the key given is not that key"
        ) from None
    return aead


@dataclass(frozen=True)
class _Chunk:
    number: int
    start: int  # plaintext offset
    length: int  # plaintext bytes
    file_offset: int  # of its chunk header

    @property
    def end(self) -> int:
        return self.start + self.length


@dataclass
class _Layout:
    chunks: list[_Chunk]  # intact-looking chunks in order (their tags not yet checked)
    damaged: list[DamagedChunk]  # what the scan found: missing stretches, chunks out of place
    end: int  # file offset where the complete chunks end (the torn tail starts)
    size: int  # plaintext bytes the complete chunks span
    torn_bytes: int
    top_number: int  # highest chunk number in any intact chunk header (−1: none)


def _chunk_header(buf: mmap.mmap | bytes, pos: int, size: int, limit: int) -> _Chunk | None:
    """The chunk header at ``pos`` if it is intact (mark, CRC, plausible fields), else None."""
    if pos + CHUNK_HEADER_SIZE > size:
        return None
    raw = buf[pos : pos + CHUNK_HEADER_SIZE]
    mark, ct_len, number, offset, crc = _CHUNK.unpack(raw)
    if mark != CHUNK_MARK or zlib.crc32(raw[:20]) != crc:
        return None
    if not TAG_SIZE <= ct_len <= limit + TAG_SIZE or number > LAST_NUMBER:
        return None
    return _Chunk(number, offset, ct_len - TAG_SIZE, pos)


def _scan(buf: mmap.mmap | bytes, size: int, header: SealedHeader) -> _Layout:
    """Walk the chunk headers once (no decryption) and lay the file out."""
    limit = header.max_chunk
    chunks: list[_Chunk] = []
    damaged: list[DamagedChunk] = []
    pos, expect, last, top = HEADER_SIZE, 0, -1, -1
    bad_from: int | None = None  # start of a stretch of unreadable bytes before ``pos``
    torn = 0
    while pos < size:
        ch = _chunk_header(buf, pos, size, limit)
        if ch is None:
            nxt = _resync(buf, pos + 1, size, limit)
            if nxt is None:
                torn = size - pos
                break
            if bad_from is None:
                bad_from = pos
            pos = nxt
            continue
        top = max(top, ch.number)
        stop = pos + CHUNK_HEADER_SIZE + ch.length + TAG_SIZE
        if stop > size:  # the last chunk, torn by a crash
            torn = size - pos
            if bad_from is not None and ch.start > expect:
                damaged.append(DamagedChunk(expect, ch.start, bad_from, "missing"))
                expect = ch.start
            break
        if ch.number > last and ch.start >= expect:
            if ch.start > expect:
                where = bad_from if bad_from is not None else pos
                damaged.append(DamagedChunk(expect, ch.start, where, "missing"))
            chunks.append(ch)
            expect, last, bad_from = ch.end, ch.number, None
        else:
            damaged.append(DamagedChunk(ch.start, ch.end, pos, "out of place"))
        pos = stop
    return _Layout(chunks, damaged, pos if torn else size, expect, torn, top)


def _resync(buf: mmap.mmap | bytes, start: int, size: int, limit: int) -> int | None:
    """The file offset of the next intact chunk header at or after ``start`` (None: none)."""
    at = buf.find(CHUNK_MARK, start)
    while at != -1:
        if _chunk_header(buf, at, size, limit) is not None:
            return at
        at = buf.find(CHUNK_MARK, at + 1)
    return None


def _fsync_folder(folder: Path) -> None:
    """Make a new or renamed entry of ``folder`` durable (where the system allows it)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _write_all(fd: int, data: bytes, offset: int) -> None:
    """Write all of ``data`` at ``offset`` of ``fd``."""
    os.lseek(fd, offset, os.SEEK_SET)
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]


_BINARY = getattr(os, "O_BINARY", 0)


class SealedWriter:
    """Write a sealed file, chunk by chunk, flush by flush.

    Parameters
    ----------
    path : path of the file; a new file is created with mode 0600 (it must not exist yet)
    key : bytes — the 256-bit key (32 bytes)
    key_id : bytes — 8 bytes naming the key, stored in the header
    append : bool
        Reopen an existing sealed file and go on writing at its end: its header is checked
        (:class:`WrongKeyError` for another key, :class:`ValueError` for another key id), a torn
        tail is cut off and the chunk numbering goes on past every number in the file. A file
        that does not exist yet is created.
    max_chunk : int — most plaintext bytes per chunk (new files; an appended file keeps its own)

    Notes
    -----
    :meth:`write` keeps the bytes in memory and seals a chunk (written, not fsynced) each time
    ``max_chunk`` bytes have gathered; :meth:`flush` seals the rest as one chunk, writes it and
    fsyncs. Not thread-safe: one thread writes.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        key: bytes,
        key_id: bytes,
        append: bool = False,
        max_chunk: int = DEFAULT_MAX_CHUNK,
    ) -> None:
        _check_key(key)
        if not 1 <= max_chunk <= LARGEST_CHUNK:
            raise ValueError(f"max_chunk must be 1 to {LARGEST_CHUNK} bytes, not {max_chunk}")
        self.path = Path(path)
        self._buf = bytearray()
        self._fd = -1
        self._closed = False
        self._new_entry = False
        if append and self.path.exists():
            if self._reopen(bytes(key), bytes(key_id)):
                # the torn chunk's number is gone with it: an empty chunk numbered past it keeps
                # the high-water mark in the file, so no later writer uses that number again
                self._mark_numbers()
        else:
            if self.path.exists():
                raise FileExistsError(f"{self.path.name} exists already")
            self._aead = AESGCM(bytes(key))
            self.header = _make_header(self._aead, bytes(key_id), max_chunk)
            # the file is made with its first chunk (or at close): starting a recording costs no
            # disk round trip per file, and the header is made durable with that chunk
            self._end = HEADER_SIZE  # file offset after the last chunk
            self._offset = 0  # plaintext bytes in written chunks
            self._number = 0  # the next chunk's number

    def _create(self) -> None:
        """Make the file and write its header (not yet fsynced)."""
        self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _BINARY, 0o600)
        try:
            _write_all(self._fd, self.header.raw, 0)
        except BaseException:
            os.close(self._fd)
            self._fd = -1
            with contextlib.suppress(OSError):
                self.path.unlink()
            raise
        self._new_entry = True  # the folder's entry is made durable by the next flush

    def _mark_numbers(self) -> None:
        """Write an empty chunk (its tag only) with the next number and make it durable: the file
        then records every number used so far, even after chunks were cut off."""
        self._seal(memoryview(b""))
        os.fsync(self._fd)

    def _reopen(self, key: bytes, key_id: bytes) -> bool:
        """Open the existing file for appending; whether a torn tail was cut off."""
        self._fd = os.open(self.path, os.O_RDWR | _BINARY)
        try:
            size = os.fstat(self._fd).st_size
            with open(self._fd, "rb", closefd=False) as fh:
                head = fh.read(HEADER_SIZE)
            header = parse_header(head, self.path.name)
            if header.key_id != key_id:
                raise ValueError(
                    f"{self.path.name} is sealed with key {header.key_id.hex()}, not with key "
                    f"{key_id.hex()}"
                )
            self._aead = _open_with_key(header, key, self.path.name)
            with mmap.mmap(self._fd, size, access=mmap.ACCESS_READ) as mm:
                layout = _scan(mm, size, header)
            if layout.torn_bytes:
                os.ftruncate(self._fd, layout.end)
                os.fsync(self._fd)
        except BaseException:
            os.close(self._fd)
            self._fd = -1
            raise
        self.header = header
        self._end = layout.end
        self._offset = layout.size
        # past every number the file holds, torn chunk included; one more after a torn tail, in
        # case the torn chunk's header itself was lost
        self._number = layout.top_number + 1 + (1 if layout.torn_bytes else 0)
        return bool(layout.torn_bytes)

    @property
    def file_id(self) -> bytes:
        return self.header.file_id

    @property
    def key_id(self) -> bytes:
        return self.header.key_id

    @property
    def max_chunk(self) -> int:
        return self.header.max_chunk

    @property
    def closed(self) -> bool:
        return self._closed

    def tell(self) -> int:
        """Plaintext bytes written so far, those still in memory included."""
        return self._offset + len(self._buf)

    def write(self, data: bytes | bytearray | memoryview) -> int:
        """Add ``data`` (any contiguous bytes-like object) to the file: sealed at the next flush,
        or at once for each full chunk. Returns its length in bytes."""
        if self.closed:
            raise ValueError(f"{self.path.name} is closed")
        view = memoryview(data).cast("B")
        n, at, size = len(view), 0, self.max_chunk
        try:
            if self._buf:
                at = min(size - len(self._buf), n)
                self._buf += view[:at]
                if len(self._buf) >= size:
                    self._seal_buffered(size)
            while n - at >= size:  # full chunks straight from the caller's bytes
                self._seal(view[at : at + size])
                at += size
        finally:  # what is not sealed yet stays in memory, also after a failed write
            self._buf += view[at:]
        return n

    def flush(self, fsync: bool = True) -> None:
        """Seal what is in memory as one chunk (if anything), write it and, with ``fsync``, make
        it durable."""
        if self.closed:
            raise ValueError(f"{self.path.name} is closed")
        while self._buf:  # one chunk, unless a failed write left more than a chunk behind
            self._seal_buffered(min(len(self._buf), self.max_chunk))
        if fsync and self._fd >= 0:
            os.fsync(self._fd)
            if self._new_entry:
                _fsync_folder(self.path.parent)
                self._new_entry = False

    def _seal_buffered(self, n: int) -> None:
        """Seal the first ``n`` buffered bytes as the next chunk, write it, drop them."""
        with memoryview(self._buf) as whole, whole[:n] as part:
            self._seal(part)
        del self._buf[:n]

    def _seal(self, plain: memoryview) -> None:
        """Seal ``plain`` as the next chunk and write it (nothing of it stays on a failure)."""
        if self._number > LAST_NUMBER:
            raise OverflowError(f"{self.path.name} has as many chunks as a sealed file can hold")
        if self._fd < 0:
            self._create()
        number = self._number
        self._number += 1  # a number is never used twice, not even after a failed write
        ct = self._aead.encrypt(
            chunk_nonce(self.header.file_id, number),
            plain,
            _chunk_aad(self.header.raw, number, self._offset),
        )
        head = _CHUNK.pack(CHUNK_MARK, len(ct), number, self._offset, 0)[:20]
        head += struct.pack("<I", zlib.crc32(head))
        try:
            _write_all(self._fd, head, self._end)
            _write_all(self._fd, ct, self._end + len(head))
        except OSError:
            with contextlib.suppress(OSError):  # leave no partial chunk behind
                os.ftruncate(self._fd, self._end)
            raise
        self._end += len(head) + len(ct)
        self._offset += len(plain)

    def close(self) -> None:
        """Flush (fsync) and close."""
        if self.closed:
            return
        try:
            if self._fd < 0:  # nothing was ever written: the file is made all the same
                self._create()
            self.flush()
        finally:
            self._closed = True
            if self._fd >= 0:
                os.close(self._fd)
            self._fd = -1

    def __enter__(self) -> SealedWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class SealedReader:
    """Read a sealed file at random, decrypting only the chunks asked for.

    Opening reads the header (:class:`NotSealedError`, :class:`SealedDamageError`,
    :class:`WrongKeyError`) and walks the chunk headers once, without decrypting. A trailing
    partial chunk (a write torn by a crash) is left out (:attr:`torn_bytes`).

    Parameters
    ----------
    path : path of the sealed file
    key : bytes — the 256-bit key it was sealed with
    """

    def __init__(self, path: str | os.PathLike[str], key: bytes) -> None:
        self.path = Path(path)
        name = self.path.name
        self._fh = open(self.path, "rb")  # noqa: SIM115 — held until close()
        try:
            self.header = parse_header(self._fh.read(HEADER_SIZE), name)
            self._aead = _open_with_key(self.header, key, name)
            file_size = os.fstat(self._fh.fileno()).st_size
            self._mm = mmap.mmap(self._fh.fileno(), file_size, access=mmap.ACCESS_READ)
        except BaseException:
            self._fh.close()
            raise
        layout = _scan(self._mm, file_size, self.header)
        self._chunks = layout.chunks
        self._starts = [c.start for c in layout.chunks]
        self._found = layout.damaged  # from the scan: missing stretches, chunks out of place
        self._failed: dict[int, DamagedChunk] = {}  # chunk index → its failed tag
        self.size = layout.size
        self.torn_bytes = layout.torn_bytes
        self._cache: tuple[int, bytes] | None = None

    @property
    def key_id(self) -> bytes:
        return self.header.key_id

    @property
    def file_id(self) -> bytes:
        return self.header.file_id

    @property
    def n_chunks(self) -> int:
        """Complete chunks in their place (their tags checked only when read)."""
        return len(self._chunks)

    @property
    def chunk_numbers(self) -> list[int]:
        """The number of each chunk in its place, in file order."""
        return [c.number for c in self._chunks]

    @property
    def damaged(self) -> list[DamagedChunk]:
        """Damage known so far, by plaintext offset: what the scan found, and the chunks whose
        tag failed when read (all of them after :meth:`verify`)."""
        found = self._found + list(self._failed.values())
        return sorted(found, key=lambda d: (d.plaintext_start, d.file_offset))

    def _plain(self, i: int) -> bytes:
        """Decrypt chunk ``i`` (the last one decrypted is kept)."""
        if self._cache is not None and self._cache[0] == i:
            return self._cache[1]
        ch = self._chunks[i]
        if i in self._failed:
            raise self._damage_error(self._failed[i])
        at = ch.file_offset + CHUNK_HEADER_SIZE
        try:
            with memoryview(self._mm) as whole, whole[at : at + ch.length + TAG_SIZE] as ct:
                plain = self._aead.decrypt(
                    chunk_nonce(self.header.file_id, ch.number),
                    ct,
                    _chunk_aad(self.header.raw, ch.number, ch.start),
                )
        except InvalidTag:
            d = DamagedChunk(ch.start, ch.end, ch.file_offset, "tag")
            self._failed[i] = d
            raise self._damage_error(d) from None
        self._cache = (i, plain)
        return plain

    def _damage_error(self, d: DamagedChunk) -> SealedDamageError:
        return SealedDamageError(f"{self.path.name}: {d.describe()}", d)

    def read(self, offset: int, length: int) -> bytes:
        """``length`` plaintext bytes from ``offset`` (fewer at the end of the file).

        Raises
        ------
        SealedDamageError — a byte of the range is damaged or missing (the error names the
            damaged stretch); other ranges stay readable
        """
        if offset < 0 or length < 0:
            raise ValueError("offset and length must not be negative")
        end = min(offset + length, self.size)
        parts: list[bytes] = []
        pos = offset
        while pos < end:
            i = bisect.bisect_right(self._starts, pos) - 1
            ch = self._chunks[i] if i >= 0 else None
            if ch is None or pos >= ch.end:  # bytes no chunk in its place holds
                raise self._damage_error(self._missing_at(pos))
            plain = self._plain(i)
            stop = min(end, ch.end)
            whole = pos == ch.start and stop == ch.end
            parts.append(plain if whole else plain[pos - ch.start : stop - ch.start])
            pos = stop
        return parts[0] if len(parts) == 1 else b"".join(parts)

    def _missing_at(self, pos: int) -> DamagedChunk:
        for d in self._found:
            if d.reason == "missing" and d.plaintext_start <= pos < d.plaintext_end:
                return d
        return DamagedChunk(pos, pos + 1, -1, "missing")  # not expected: the scan lists gaps

    def verify(self) -> list[DamagedChunk]:
        """Decrypt every chunk; return :attr:`damaged` (empty: the whole file is intact)."""
        for i in range(len(self._chunks)):
            with contextlib.suppress(SealedDamageError):
                self._plain(i)
        return self.damaged

    def close(self) -> None:
        self._cache = None
        if not self._fh.closed:
            self._mm.close()
            self._fh.close()

    def __enter__(self) -> SealedReader:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def recover(path: str | os.PathLike[str]) -> int:
    """Cut a torn tail (a chunk partly written when the process died) off a sealed file.

    No key is needed: only the chunk headers are read. Returns the bytes cut off (0: none).
    Raises like :func:`parse_header` when the file is not sealed or its header is damaged.
    """
    p = Path(path)
    with open(p, "r+b") as fh:
        header = parse_header(fh.read(HEADER_SIZE), p.name)
        size = os.fstat(fh.fileno()).st_size
        if size <= HEADER_SIZE:
            return 0
        with mmap.mmap(fh.fileno(), size, access=mmap.ACCESS_READ) as mm:
            layout = _scan(mm, size, header)
        if layout.torn_bytes:
            fh.truncate(layout.end)
            fh.flush()
            os.fsync(fh.fileno())
        return layout.torn_bytes


def truncate(path: str | os.PathLike[str], key: bytes, key_id: bytes, size: int) -> None:
    """Cut a sealed file's plaintext back to ``size`` bytes, durably (crash recovery: a data file
    that holds more than its index describes).

    The chunks wholly past ``size`` are cut off; the part of the chunk ``size`` falls in that is
    kept is sealed again as a new chunk whose number comes after every number the file ever held,
    so no nonce is used twice. A torn tail is cut off too. Nothing happens when the file holds
    ``size`` bytes or fewer.

    Raises
    ------
    SealedDamageError — the kept part of the chunk that is cut is damaged (nothing is changed)
    """
    if size < 0:
        raise ValueError("size must not be negative")
    p = Path(path)
    with SealedReader(p, key) as r:
        if size >= r.size and not r.torn_bytes:
            return
        chunks = r._chunks
        i = bisect.bisect_right(r._starts, size) - 1
        # the first chunk to cut: the one ``size`` falls inside, else the next one (``size`` in
        # a damaged stretch, or on a boundary); None when nothing past ``size`` is intact
        j = i if i >= 0 and size < chunks[i].end else i + 1
        cut = chunks[j] if 0 <= j < len(chunks) else None
        keep = b"" if cut is None or size <= cut.start else r.read(cut.start, size - cut.start)
        start = 0 if cut is None else cut.start if keep else chunks[j - 1].end if j > 0 else 0
    writer = SealedWriter(p, key, key_id, append=True)  # cuts a torn tail; numbers go on
    try:
        if cut is not None:
            os.ftruncate(writer._fd, cut.file_offset)
            writer._end, writer._offset = cut.file_offset, start
            if keep:
                writer.write(keep)
            else:  # the cut chunks' numbers are recorded by an empty chunk numbered past them
                writer._seal(memoryview(b""))
        writer.flush(fsync=True)
    finally:
        writer.close()


def seal_bytes(path: str | os.PathLike[str], data: bytes, key: bytes, key_id: bytes) -> None:
    """Write a small whole file (a JSON manifest) sealed, atomically.

    The file is sealed as a single chunk (an empty one for empty ``data``) in a temporary file
    next to ``path``, fsynced and renamed over ``path``: a reader sees the old file or the new
    one, never a mix; a failure leaves the old file as it was.
    """
    _check_key(key)
    if len(data) > LARGEST_SMALL_FILE:
        raise ValueError(f"seal_bytes seals at most {LARGEST_SMALL_FILE} bytes")
    p = Path(path)
    aead = AESGCM(bytes(key))
    header = _make_header(aead, bytes(key_id), max(1, len(data)))
    ct = aead.encrypt(chunk_nonce(header.file_id, 0), bytes(data), _chunk_aad(header.raw, 0, 0))
    head = _CHUNK.pack(CHUNK_MARK, len(ct), 0, 0, 0)[:20]
    head += struct.pack("<I", zlib.crc32(head))
    tmp = p.with_name(f".{p.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _BINARY, 0o600)
    try:
        try:
            _write_all(fd, header.raw + head + ct, 0)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, p)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_folder(p.parent)


def open_bytes(path: str | os.PathLike[str], key: bytes) -> bytes:
    """Read back a file written by :func:`seal_bytes`.

    Raises
    ------
    NotSealedError, WrongKeyError — as :class:`SealedReader`
    SealedDamageError — the file is damaged or incomplete (all of it is needed)
    """
    with SealedReader(path, key) as r:
        damage = r.verify()
        if damage:
            raise SealedDamageError(f"{r.path.name}: {damage[0].describe()}", damage[0])
        if r.torn_bytes or r.n_chunks != 1:
            raise SealedDamageError(f"{r.path.name} is incomplete: it cannot be read")
        return r.read(0, r.size)
