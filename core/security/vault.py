"""The one storage layer for a session's files: plaintext or sealed, through the same calls.

A session recorded (or imported) while its data folder is unlocked is *sealed*: before anything
else, its folder gets the marker ``sealed.json`` (plaintext: the session's uid, its patient's
uuid — random ids, never the patient's code — and the fingerprint of its key), and from then on
every file written into the folder or its subfolders is a sealed file
(:mod:`core.security.sealed`: AES-256-GCM, chunk by chunk at the recorder's flush cadence) under
the session's own key, which the key store wraps with the patient's key
(:mod:`core.security.keystore`). Sessions of the demo folder and sessions written before this
layer existed are plaintext; the same calls read and write both, so every reader works on either:

* :func:`open_append` — the recorder's stores and the journal: ``write``, ``flush(fsync)``,
  ``tell``, ``close``; a new file in a sealed session is sealed, an existing file keeps its form;
* :func:`open_read` — random access, ``read(offset, length)`` and ``size``; a sealed file's damaged
  or missing chunks read as zero bytes and are listed in ``damaged``, so the session's checksums
  (:mod:`core.recording.integrity`, computed on the plaintext) report the damage exactly as they
  do for a damaged plaintext file, and the rest stays readable;
* :func:`read_bytes`, :func:`write_bytes_atomic` — whole small files (manifests, analysis results);
* :func:`size`, :func:`truncate`, :func:`recover` — crash recovery.

A patient's record file (``patients/<uuid>.json``, the catalog's mirror of the patient's code,
name and notes) written while its folder is unlocked is sealed with the patient's key.

Keys come from the data folders unlocked in this process (:func:`register`: the GUI after its
login, every command line that touches patient data after it unlocks). A sealed file met while its
folder is not unlocked raises :class:`FolderLockedError`, in words.
"""

from __future__ import annotations

import io
import json
import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol

from core.security.keystore import Unlocked, key_id
from core.security.sealed import (
    HEADER_SIZE,
    LARGEST_CHUNK,
    MAGIC,
    DamagedChunk,
    SealedDamageError,
    SealedReader,
    SealedWriter,
    open_bytes,
    seal_bytes,
)
from core.security.sealed import truncate as truncate_sealed
from core.storage import fsync_folder

log = logging.getLogger(__name__)

#: the marker of a sealed session folder (plaintext, holds no patient data)
SESSION_MARK = "sealed.json"
MARK_FORMAT = "therascope-sealed-session"
MARK_VERSION = 1
#: files of a sealed session that stay plaintext: the marker, and the recording's lock
PLAIN_NAMES = frozenset({SESSION_MARK, "recording.lock", "import.lock"})
#: the folder of the patients' record files (``<root>/patients/<uuid>.json``, sealed with the
#: patient's key when written while the folder is unlocked)
PATIENTS_FOLDER = "patients"
#: how far above a file its session folder may be (``video/frames.mjpeg``,
#: ``analysis/gen-x/estimates.npz``)
_MAX_DEPTH = 3

_lock = threading.Lock()
_unlocked: dict[Path, Unlocked] = {}  # data root (resolved) → its unlocked key store
_keys: dict[Path, tuple[bytes, bytes]] = {}  # session folder (resolved) → key, key id
_sizes: dict[tuple[Path, int, int], int] = {}  # (file, bytes on disk, mtime) → plaintext bytes


class FolderLockedError(PermissionError):
    """A sealed session's data folder is not unlocked in this process."""


@dataclass(frozen=True)
class SessionMark:
    """What ``sealed.json`` says: the session, its patient, its key's fingerprint (hex)."""

    uid: str
    patient_uuid: str
    key_id: str


# -- the unlocked data folders ----------------------------------------------------------------------


def register(root: Path, unlocked: Unlocked) -> None:
    """Let this process open the sealed sessions of the data folder ``root`` with ``unlocked``."""
    r = Path(root).resolve()
    with _lock:
        _unlocked[r] = unlocked
        for folder in [f for f in _keys if f.is_relative_to(r)]:
            del _keys[folder]


def unregister(root: Path) -> None:
    """Forget ``root``'s keys (sealed sessions there can no longer be opened by this process)."""
    r = Path(root).resolve()
    with _lock:
        _unlocked.pop(r, None)
        for folder in [f for f in _keys if f.is_relative_to(r)]:
            del _keys[folder]


def forget_session(folder: Path) -> None:
    """Drop a session's cached key (after its key was destroyed)."""
    with _lock:
        _keys.pop(Path(folder).resolve(), None)


def unlocked_for(root: Path) -> Unlocked | None:
    """The unlocked key store registered for the data folder ``root``, if any."""
    with _lock:
        return _unlocked.get(Path(root).resolve())


def _root_of(folder: Path) -> tuple[Path, Unlocked] | None:
    f = folder.resolve()
    with _lock:
        found = [(r, u) for r, u in _unlocked.items() if f.is_relative_to(r)]
    return max(found, key=lambda ru: len(ru[0].parts)) if found else None


# -- session folders --------------------------------------------------------------------------------


def seal_new_session(folder: Path, root: Path, uid: str, patient_uuid: str) -> bool:
    """Mark a new session folder as sealed when ``root`` is unlocked in this process: its key is
    made and the marker written (fsynced) before any other file. Returns whether it is sealed.

    A folder outside an unlocked data folder (the demo folder; a script that did not unlock)
    stays plaintext.
    """
    unlocked = unlocked_for(root)
    if unlocked is None:
        return False
    key = unlocked.session_key(uid, patient_uuid, create=True)
    mark = {
        "format": MARK_FORMAT,
        "format_version": MARK_VERSION,
        "cipher": "AES-256-GCM (core.security.sealed)",
        "session": str(uid),
        "patient": str(patient_uuid),
        "key_id": key_id(key).hex(),
    }
    path = Path(folder) / SESSION_MARK
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_BINARY", 0), 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(json.dumps(mark, indent=1).encode())
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    with _lock:
        _keys[Path(folder).resolve()] = (key, key_id(key))
    return True


def read_mark(folder: Path) -> SessionMark | None:
    """The marker of a session folder (None: the session is plaintext).

    Raises
    ------
    ValueError — the marker is unreadable (the session cannot be opened)
    """
    path = Path(folder) / SESSION_MARK
    try:
        doc = json.loads(path.read_bytes())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise ValueError(f"{path} is damaged: the session's key cannot be found ({exc})") from exc
    if not isinstance(doc, dict) or doc.get("format") != MARK_FORMAT:
        raise ValueError(f"{path} is not a TheraScope seal marker")
    try:
        return SessionMark(str(doc["session"]), str(doc["patient"]), str(doc["key_id"]))
    except KeyError as exc:
        raise ValueError(f"{path} lacks {exc}") from None


def session_folder_of(path: Path) -> Path | None:
    """The sealed session folder ``path`` lies in (itself included), or None."""
    p = Path(path)
    for folder in [p, *list(p.parents)[:_MAX_DEPTH]]:
        if (folder / SESSION_MARK).is_file():
            return folder
    return None


def is_sealed_session(folder: Path) -> bool:
    """Whether the session folder holds sealed files (has the marker)."""
    return (Path(folder) / SESSION_MARK).is_file()


def session_key(folder: Path) -> tuple[bytes, bytes]:
    """The key and key id of a sealed session folder.

    Raises
    ------
    FolderLockedError — its data folder is not unlocked in this process
    ValueError — the folder is not sealed, or its marker is damaged
    core.security.keystore.KeyDestroyedError — the session (or its patient) was erased
    """
    f = Path(folder).resolve()
    with _lock:
        cached = _keys.get(f)
    if cached is not None:
        return cached
    mark = read_mark(f)
    if mark is None:
        raise ValueError(f"{f} is not a sealed session")
    found = _root_of(f)
    if found is None:
        raise FolderLockedError(
            "This session is encrypted and its data folder is not unlocked: sign in to "
            "TheraScope (or give THERASCOPE_USER and THERASCOPE_PASSWORD_FILE to a script)."
        )
    key = found[1].session_key(mark.uid, mark.patient_uuid, create=False)
    kid = key_id(key)
    if kid.hex() != mark.key_id:
        raise ValueError(f"{f / SESSION_MARK} names another key than the key store holds")
    with _lock:
        _keys[f] = (key, kid)
    return key, kid


def _patient_unlocked(path: Path) -> Unlocked | None:
    """For a patient's record file (``<root>/patients/<uuid>.json``): its folder's unlocked key
    store, if registered."""
    if path.parent.name != PATIENTS_FOLDER or path.suffix != ".json":
        return None
    return unlocked_for(path.parent.parent)


def _key_for(path: Path, create: bool = False) -> tuple[bytes, bytes]:
    folder = session_folder_of(path.parent)
    if folder is not None:
        return session_key(folder)
    if path.parent.name == PATIENTS_FOLDER:
        unlocked = _patient_unlocked(path)
        if unlocked is None:
            raise FolderLockedError(
                "This patient's record is encrypted and its data folder is not unlocked: sign "
                "in to TheraScope (or give THERASCOPE_USER and THERASCOPE_PASSWORD_FILE to a "
                "script)."
            )
        key = unlocked.patient_key(path.stem, create=create)
        return key, key_id(key)
    raise ValueError(f"{path} is sealed but lies in no sealed session folder")


def kept_plain(path: Path) -> bool:
    """Files a sealed session keeps in the clear: the marker and the locks."""
    return Path(path).name in PLAIN_NAMES


def _wants_seal(path: Path) -> bool:
    if kept_plain(path):
        return False
    return session_folder_of(path.parent) is not None or _patient_unlocked(path) is not None


def is_sealed(path: Path) -> bool:
    """Whether the file at ``path`` is a sealed file (by its first bytes)."""
    try:
        with open(path, "rb") as fh:
            return fh.read(len(MAGIC)) == MAGIC
    except (FileNotFoundError, IsADirectoryError):
        return False


# -- files ----------------------------------------------------------------------------------------


class AppendFile(Protocol):
    """A file written at its end (plaintext or sealed)."""

    def write(self, data: bytes | bytearray | memoryview) -> int: ...
    def end_chunk(self) -> None:
        """Seal what was written since the last chunk as a chunk of its own (written, not
        fsynced): a damaged byte then costs only that piece (e.g. one video frame). Nothing for
        a plaintext file."""

    def flush(self, fsync: bool = True) -> None: ...
    def tell(self) -> int: ...
    def close(self) -> None: ...


class _PlainAppend:
    def __init__(self, path: Path) -> None:
        self._fh = open(path, "ab")  # noqa: SIM115 — held until close()

    def write(self, data: bytes | bytearray | memoryview) -> int:
        return self._fh.write(data)

    def end_chunk(self) -> None:
        pass

    def flush(self, fsync: bool = True) -> None:
        self._fh.flush()
        if fsync:
            os.fsync(self._fh.fileno())

    def tell(self) -> int:
        return self._fh.tell()

    def close(self) -> None:
        self._fh.close()


class _SealedAppend:
    def __init__(self, path: Path, key: bytes, kid: bytes) -> None:
        self._w = SealedWriter(path, key, kid, append=True)

    def write(self, data: bytes | bytearray | memoryview) -> int:
        return self._w.write(data)

    def end_chunk(self) -> None:
        self._w.flush(fsync=False)

    def flush(self, fsync: bool = True) -> None:
        self._w.flush(fsync=fsync)

    def tell(self) -> int:
        return self._w.tell()

    def close(self) -> None:
        if not self._w.closed:
            self._w.close()


def open_append(path: Path) -> AppendFile:
    """Open ``path`` for writing at its end (created when missing): sealed when the file is
    sealed, or new in a sealed session; plaintext otherwise.

    Raises
    ------
    FolderLockedError — the file is to be sealed but its data folder is not unlocked
    """
    path = Path(path)
    exists = path.exists() and path.stat().st_size > 0
    if exists and not is_sealed(path) and _wants_seal(path):
        if path.stat().st_size < HEADER_SIZE:
            # a header torn by a crash before the file's first chunk was durable: nothing of
            # it was ever readable, and plaintext must never be appended in its place
            path.unlink()
            exists = False
        else:
            raise ValueError(
                f"{path.name} lies in an encrypted session but is not encrypted (damaged, or put "
                "there by hand); nothing is written to it"
            )
    if (exists and is_sealed(path)) or (not exists and _wants_seal(path)):
        if not exists:
            path.unlink(missing_ok=True)  # an empty leftover: the sealed writer makes its own
        key, kid = _key_for(path)
        return _SealedAppend(path, key, kid)
    return _PlainAppend(path)


class ReadFile:
    """Random access to a file's contents (its plaintext, when sealed).

    Attributes
    ----------
    size : int — bytes of content (a sealed file's torn tail not counted)
    sealed : bool
    damaged : list of DamagedChunk — stretches of a sealed file found damaged so far; they read
        as zero bytes
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.damaged: list[DamagedChunk] = []
        self._rlock = threading.Lock()
        self._sealed: SealedReader | None = None
        self._fh = None
        #: a sealed file whose header is damaged: nothing in it can be read, so it reads as an
        #: empty file (every checksum of it then reports its content lost) and the rest of the
        #: session stays readable, as with a damaged plaintext file
        self.header_damage = ""
        if is_sealed(self.path):
            key, _ = _key_for(self.path)
            try:
                self._sealed = SealedReader(self.path, key)
            except SealedDamageError as exc:
                self.header_damage = str(exc)
                self.size = 0
                self.damaged.append(DamagedChunk(0, 0, 0, "header"))
                log.warning("%s", exc)
            else:
                self.size = self._sealed.size
                self.damaged.extend(self._sealed.damaged)
        else:
            self._fh = open(self.path, "rb")  # noqa: SIM115 — held until close()
            self.size = os.fstat(self._fh.fileno()).st_size
        self.sealed = self._sealed is not None

    def read(self, offset: int, length: int) -> bytes:
        """``length`` bytes from ``offset`` (fewer at the end); safe from several threads."""
        if self._sealed is None:
            if self._fh is None:  # a sealed file with a damaged header: no content
                return b""
            with self._rlock:
                self._fh.seek(offset)
                return self._fh.read(length)
        end = min(offset + length, self.size)
        parts: list[bytes] = []
        pos = offset
        while pos < end:
            try:
                with self._rlock:
                    parts.append(self._sealed.read(pos, end - pos))
                break
            except SealedDamageError as exc:
                d = exc.damage
                with self._rlock:
                    good = _readable_prefix(self._sealed, pos, d)
                parts.append(good)
                pos += len(good)
                stop = min(end, d.plaintext_end if d is not None else pos + 1)
                stop = max(stop, pos + 1)
                parts.append(bytes(stop - pos))
                if d is not None and d not in self.damaged:
                    self.damaged.append(d)
                pos = stop
        return b"".join(parts)

    def close(self) -> None:
        if self._sealed is not None:
            self._sealed.close()
        if self._fh is not None:
            self._fh.close()

    def __enter__(self) -> ReadFile:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _readable_prefix(reader: SealedReader, pos: int, d: DamagedChunk | None) -> bytes:
    """The bytes from ``pos`` up to the damaged stretch ``d`` (they were readable)."""
    if d is None or d.plaintext_start <= pos:
        return b""
    return reader.read(pos, d.plaintext_start - pos)


def open_read(path: Path) -> ReadFile:
    """Open a file for random reading (plaintext or sealed).

    Raises
    ------
    FileNotFoundError; FolderLockedError — sealed and its data folder is not unlocked;
    core.security.sealed.WrongKeyError, SealedDamageError — a sealed file's header is damaged
    """
    return ReadFile(Path(path))


class ContentStream(io.BufferedIOBase):
    """A file's content as a seekable binary stream (a sealed file decrypted chunk by chunk, in
    memory): what a decoder reads an imported video through (OpenCV's ``VideoCapture`` takes
    such a stream), so its plaintext is never written to the disk."""

    def __init__(self, path: Path) -> None:
        super().__init__()
        self._f = ReadFile(Path(path))
        self._pos = 0

    @property
    def damaged(self) -> list[DamagedChunk]:
        return self._f.damaged

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        n = self._f.size - self._pos if size is None or size < 0 else size
        data = self._f.read(self._pos, max(0, n))
        self._pos += len(data)
        return data

    def read1(self, size: int = -1) -> bytes:
        return self.read(size)

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        data = self.read(len(view))
        view[: len(data)] = data
        return len(data)

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._f.size}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def tell(self) -> int:
        return self._pos

    def close(self) -> None:
        if not self.closed:
            self._f.close()
        super().close()


def open_stream(path: Path) -> ContentStream:
    """A file's content (plaintext or sealed) as a seekable binary stream."""
    return ContentStream(Path(path))


def read_bytes(path: Path) -> bytes:
    """A whole file's contents (damaged chunks of a sealed file read as zero bytes)."""
    path = Path(path)
    if not is_sealed(path):
        return path.read_bytes()
    with ReadFile(path) as f:
        return f.read(0, f.size)


def read_bytes_strict(path: Path) -> bytes:
    """A whole small file's contents; a sealed file with any damage raises
    :class:`~core.security.sealed.SealedDamageError` (a manifest must be whole)."""
    path = Path(path)
    if not is_sealed(path):
        return path.read_bytes()
    key, _ = _key_for(path)
    return open_bytes(path, key)


def write_bytes_atomic(path: Path, data: bytes) -> None:
    """Write a whole file so a crash leaves the old or the new one (temporary file, fsync,
    rename, fsync of the folder): sealed in a sealed session."""
    path = Path(path)
    if _wants_seal(path):
        key, kid = _key_for(path, create=True)
        seal_bytes(path, data, key, kid)
        return
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    fsync_folder(path.parent)


def write_new(path: Path, data: bytes) -> None:
    """Write a whole file in place (replacing any), fsynced, sealed in a sealed session: for a
    caller that writes under a temporary name and renames it itself."""
    path = Path(path)
    if _wants_seal(path):
        key, kid = _key_for(path, create=True)
        path.unlink(missing_ok=True)
        w = SealedWriter(path, key, kid, max_chunk=max(1, min(len(data), LARGEST_CHUNK)))
        try:
            w.write(data)
        finally:
            w.close()  # flushes and fsyncs
        return
    with open(path, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def size(path: Path) -> int:
    """Bytes of content of the file at ``path`` (a sealed file's plaintext; 0 when missing)."""
    path = Path(path)
    if not path.exists():
        return 0
    if not is_sealed(path):
        return path.stat().st_size
    st = path.stat()
    if st.st_size <= HEADER_SIZE:
        return 0
    # a long video is a chunk per frame: its chunk headers are walked once per version of it
    stamp = (path.resolve(), st.st_size, st.st_mtime_ns)
    with _lock:
        known = _sizes.get(stamp)
    if known is not None:
        return known
    with ReadFile(path) as f:
        n = f.size
    with _lock:
        if len(_sizes) > 256:
            _sizes.clear()
        _sizes[stamp] = n
    return n


def truncate(path: Path, new_size: int) -> None:
    """Cut the file's content back to ``new_size`` bytes (crash recovery), durably."""
    path = Path(path)
    if is_sealed(path):
        key, kid = _key_for(path)
        truncate_sealed(path, key, kid, new_size)
        return
    with open(path, "r+b") as fh:
        fh.truncate(new_size)
        fh.flush()
        os.fsync(fh.fileno())


def recover(path: Path) -> int:
    """Cut a sealed file's torn tail (a chunk half written when the process died); returns the
    bytes cut (0 for a plaintext file: its readers bound what they read themselves)."""
    path = Path(path)
    if not is_sealed(path):
        return 0
    key, kid = _key_for(path)
    with SealedReader(path, key) as r:
        cut = r.torn_bytes
    if cut:  # the writer cuts it and records the torn chunk's number (never used again)
        SealedWriter(path, key, kid, append=True).close()
        log.info("%s: a torn chunk of %d bytes was cut off", path.name, cut)
    return cut
