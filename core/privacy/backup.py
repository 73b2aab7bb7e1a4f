"""Backups of a data folder taken while the app runs, and restores that never bring back what
was erased.

A backup is a folder (``therascope backup DEST``)::

    DEST/
      backup.json            the manifest (below), written last
      catalog.sqlite         the catalog, copied with SQLite's online backup: one consistent
                             snapshot even while the app writes (one self-contained file,
                             rollback journal; a restore turns WAL back on); an encrypted
                             catalog's copy is encrypted with the same key
      keys.json              the key store as it was, read under its lock (wrapped keys only)
      patients/<uuid>.json   the patients' record files
      sessions/<uid>/…       every session file as it is on disk (sealed files stay sealed)

Left out: sessions still recording or being imported (their uids are in the manifest), and what
interrupted or live writes leave: ``*.tmp``, ``recording.lock``, ``import.lock``, ``.deleting-*``
and ``.importing-*``. The logs, the models and ``last-backup.json`` are not part of a backup.

The manifest ``backup.json``::

    {"format": "therascope-backup", "version": 1,
     "created_at": "<UTC ISO-8601>", "therascope_version": "0.1.0",
     "source": "<the data folder>", "account": "<who made it>",
     "files": [{"path": "sessions/<uid>/bio.bin", "size": 123, "sha256": "<hex>"}, …],
     "ledger": [{"kind": "patient" | "session", "id": "<uuid or uid>", "destroyed_at": "…"}],
     "left_out_sessions": ["<uid>", …],
     "digest": "<SHA-256 of the manifest without this field>"}

Everything is written into ``DEST.partial`` and renamed to ``DEST`` at the end, so a folder named
``DEST`` is always a whole backup; an interrupted one leaves ``DEST.partial``, which no restore
reads. Hashes catch damage (a failing disk, a file edited by hand), not a forger, who can write a
new manifest.

Erasure reaches backups through the **erasure ledger** (:mod:`core.security.keystore`): every
backup carries the ledger it was taken with, and :func:`restore` applies the union of that ledger
and the newer ones it is given (the current data folder's): an erased patient's catalog rows,
session folders and record file are removed from the restored copy, and the restored key store
destroys their keys. A backup taken before an erasure still holds the erased patient's wrapped
keys and files: such backups must be rotated out (SECURITY.md).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path, PurePosixPath
from typing import Any

from core import __version__
from core.catalog import CATALOG_FILENAME, Catalog
from core.catalog.cipher import connect, is_encrypted, new_connection_like
from core.catalog.erasure import TOMBSTONE_PREFIX
from core.recording.cleanup import IMPORT_STAGING_PREFIX
from core.recording.lock import IMPORT_LOCK_NAME, LOCK_NAME, is_recording_live
from core.security import vault
from core.security.keystore import (
    KEY_STORE_NAME,
    KeyStore,
    KeyStoreBusyError,
    LedgerEntry,
    Unlocked,
)
from core.storage import fsync_folder
from core.timefmt import format_local_time

__all__ = [
    "BACKUP_FORMAT",
    "BACKUP_VERSION",
    "LAST_BACKUP_NAME",
    "MANIFEST_NAME",
    "BackupDamaged",
    "BackupError",
    "BackupResult",
    "RestoreResult",
    "backup",
    "last_backup",
    "last_backup_words",
    "ledger_of_folder",
    "read_manifest",
    "restore",
    "verify_backup",
]

log = logging.getLogger(__name__)

BACKUP_FORMAT = "therascope-backup"
BACKUP_VERSION = 1
#: the manifest inside a backup folder
MANIFEST_NAME = "backup.json"
#: in the data folder: when and where the last backup went
LAST_BACKUP_NAME = "last-backup.json"
LAST_BACKUP_FORMAT = "therascope-last-backup"
#: a backup is written here (beside the destination) and renamed when whole
PARTIAL_SUFFIX = ".partial"
#: the data folder's folders a backup copies, besides the catalog and the key store
BACKED_UP_FOLDERS = ("patients", "sessions")
#: files never copied: the locks of live writes
SKIPPED_NAMES = frozenset({LOCK_NAME, IMPORT_LOCK_NAME})
#: files and folders never copied: a deletion or an import under way
SKIPPED_PREFIXES = (TOMBSTONE_PREFIX, IMPORT_STAGING_PREFIX)
#: temporary files of atomic writes
SKIPPED_SUFFIXES = (".tmp",)
#: how long a backup waits for another program that holds the key store's lock
KEY_STORE_WAIT_S = 10.0
_BLOCK = 1 << 20
_HEX = frozenset("0123456789abcdef")


class BackupError(RuntimeError):
    """A backup or a restore cannot be made as asked; the message says why, in words."""


class BackupDamaged(BackupError):
    """The backup does not match its manifest (a file missing, changed or damaged, or the
    manifest itself); nothing was restored. :attr:`problems` lists each problem."""

    def __init__(self, message: str, problems: list[str]) -> None:
        super().__init__(message)
        self.problems = problems


@dataclass(frozen=True)
class BackupResult:
    """What :func:`backup` wrote.

    Parameters
    ----------
    dest : Path — the backup folder
    created_at : str — when the snapshot was taken (UTC, ISO-8601)
    files : int — files in the backup (the catalog and the key store included; the manifest not)
    bytes : int — their total size
    left_out : tuple of str — uids of sessions left out because they were still recording or
        being imported
    ledger_entries : int — erasures the backup's ledger lists
    """

    dest: Path
    created_at: str
    files: int
    bytes: int
    left_out: tuple[str, ...]
    ledger_entries: int


@dataclass(frozen=True)
class RestoreResult:
    """What :func:`restore` wrote.

    Parameters
    ----------
    into : Path — the restored data folder
    files : int — files copied from the backup
    bytes : int — their total size
    erased_patients : tuple of str — uuids of patients the ledger had erased whose data the
        backup still held: removed from the restored copy
    erased_sessions : tuple of str — the same for sessions (uids), those of erased patients
        included
    ledger_merged : int — ledger entries that were new to the backup's key store
    account : str — the administrator who restored it
    """

    into: Path
    files: int
    bytes: int
    erased_patients: tuple[str, ...]
    erased_sessions: tuple[str, ...]
    ledger_merged: int
    account: str


# ------------------------------------------------------------------------------------------------
# small pieces


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)


def _open_private(path: str, flags: int) -> int:
    return os.open(path, flags, 0o600)


def _write_private(path: Path, data: bytes) -> None:
    """Write a new file with mode 0600 and sync it."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def _write_private_atomic(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` (mode 0600): a crash leaves the old file or the new one."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.unlink(missing_ok=True)
    try:
        _write_private(tmp, data)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _sha256_file(path: Path) -> tuple[int, str]:
    """The size and SHA-256 (hex) of a file's bytes."""
    h = hashlib.sha256()
    n = 0
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(_BLOCK), b""):
            h.update(block)
            n += len(block)
    return n, h.hexdigest()


def _copy_hashed(src: Path, dst: Path) -> tuple[int, str]:
    """Copy ``src`` to the new file ``dst`` (mode 0600, synced, modification time kept), hashing
    the bytes as they are copied: the hash is that of the copy even if ``src`` changes meanwhile.

    Returns
    -------
    (int, str) — the size and SHA-256 (hex) of what was copied
    """
    h = hashlib.sha256()
    n = 0
    dst.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    with open(src, "rb") as fin:
        st = os.fstat(fin.fileno())
        fd = os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o600)
        with os.fdopen(fd, "wb") as fout:
            for block in iter(lambda: fin.read(_BLOCK), b""):
                h.update(block)
                fout.write(block)
                n += len(block)
            fout.flush()
            os.fsync(fout.fileno())
    os.utime(dst, ns=(st.st_atime_ns, st.st_mtime_ns))
    return n, h.hexdigest()


def _skipped(name: str) -> bool:
    return (
        name in SKIPPED_NAMES
        or name.startswith(SKIPPED_PREFIXES)
        or name.endswith(SKIPPED_SUFFIXES)
    )


def _live(folder: Path) -> bool:
    """Whether a live process records or imports into ``folder``."""
    if not ((folder / LOCK_NAME).exists() or (folder / IMPORT_LOCK_NAME).exists()):
        return False
    return is_recording_live(folder)


def _is_empty_folder(path: Path) -> bool:
    return path.is_dir() and not path.is_symlink() and next(path.iterdir(), None) is None


def _check_new_folder(path: Path, what: str) -> None:
    """Refuse a ``path`` that is a file, or a folder with something in it."""
    if path.is_symlink() or (path.exists() and not path.is_dir()):
        raise BackupError(f"{path} is not a folder; choose a new folder for the {what}.")
    if path.exists() and not _is_empty_folder(path):
        raise BackupError(
            f"{path} is not empty; choose a new or empty folder for the {what} (nothing was "
            "written)."
        )


def _inside(path: Path, root: Path) -> bool:
    try:
        return path.resolve().is_relative_to(root.resolve())
    except OSError:
        return False


def _safe_relative(text: Any) -> PurePosixPath | None:
    """A manifest's file path as a relative path that stays inside the backup, or None."""
    if not isinstance(text, str) or not text or "\\" in text or "\x00" in text:
        return None
    p = PurePosixPath(text)
    if p.is_absolute() or any(part in ("", ".", "..") for part in p.parts) or ":" in p.parts[0]:
        return None
    return p


def _ledger_dicts(entries: Iterable[LedgerEntry]) -> list[dict[str, str]]:
    return [{"kind": e.kind, "id": e.id, "destroyed_at": e.destroyed_at} for e in entries]


def _manifest_digest(doc: dict[str, Any]) -> str:
    body = {k: v for k, v in doc.items() if k != "digest"}
    text = json.dumps(body, sort_keys=True, ensure_ascii=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("ascii")).hexdigest()


# ------------------------------------------------------------------------------------------------
# backup


def _snapshot_catalog(src: Path, dst: Path, key: bytes | None) -> None:
    """Copy the catalog with SQLite's online backup into the new file ``dst``.

    The copy is made in one step, inside one read transaction: it is the catalog as of its last
    commit (what is still in the WAL file included), never half of a change, and writers go on
    meanwhile (WAL readers block no one). The copy is switched to a rollback journal, so it is
    one self-contained file, and checked (``PRAGMA quick_check``). An encrypted catalog is
    read and copied with its key (``key``, the data folder's catalog key): the copy is encrypted
    too, and checked again as it lies on disk (opened anew with the key; every page's HMAC).
    """
    if not src.is_file():
        raise BackupError(f"There is no catalog at {src}: is this a TheraScope data folder?")
    source = connect(src, key, timeout=KEY_STORE_WAIT_S)
    try:
        fd = os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.close(fd)
        target = new_connection_like(source, dst, key)  # keyed when the source is encrypted
        try:
            source.backup(target)  # pages=-1: the whole file in one step, one snapshot
            target.execute("PRAGMA journal_mode = DELETE")
            check = target.execute("PRAGMA quick_check").fetchone()[0]
        finally:
            target.close()
    finally:
        source.close()
    if check != "ok":
        raise BackupError(f"The catalog's copy fails SQLite's check ({check}); nothing was kept.")
    if is_encrypted(src):
        problems = _check_encrypted_copy(dst, key)
        if problems:
            raise BackupError(
                f"The encrypted catalog's copy does not check ({'; '.join(problems)}); "
                "nothing was kept."
            )


def _check_encrypted_copy(path: Path, key: bytes | None) -> list[str]:
    """What is wrong with the encrypted copy ``path`` read anew with ``key`` (empty: nothing)."""
    if not is_encrypted(path):
        return ["it is not encrypted"]
    conn = connect(path, key)
    try:
        problems = [str(r[0]) for r in conn.execute("PRAGMA cipher_integrity_check")]
        check = conn.execute("PRAGMA quick_check").fetchone()[0]
    finally:
        conn.close()
    return problems + ([] if check == "ok" else [str(check)])


def _collect(data_root: Path) -> tuple[list[PurePosixPath], list[str]]:
    """The data folder's files a backup copies (relative paths, sorted) and the uids of the
    sessions left out because they are still recording or being imported."""
    files: list[PurePosixPath] = []
    left_out: list[str] = []
    for top in BACKED_UP_FOLDERS:
        base = data_root / top
        if not base.is_dir() or base.is_symlink():
            continue
        for dirpath, dirnames, filenames in os.walk(base):
            here = Path(dirpath)
            if top == "sessions" and here != base and _live(here):
                left_out.append(here.name)
                dirnames[:] = []
                continue
            dirnames[:] = sorted(
                n for n in dirnames if not _skipped(n) and not (here / n).is_symlink()
            )
            for name in sorted(filenames):
                path = here / name
                if _skipped(name) or path.is_symlink() or not path.is_file():
                    continue
                files.append(PurePosixPath(path.relative_to(data_root).as_posix()))
    return files, sorted(left_out)


def _check_unlocked_here(data_root: Path, unlocked: Unlocked) -> None:
    """Refuse an account of another clinic's key store."""
    here = data_root / KEY_STORE_NAME
    if not KeyStore.exists(here):
        raise BackupError(f"{data_root} has no key store ({KEY_STORE_NAME}): nothing to back up.")
    if KeyStore.open(here).clinic_key_id != unlocked.store.clinic_key_id:
        raise BackupError("The account given belongs to another data folder's key store.")


def backup(
    data_root: Path,
    dest: Path,
    *,
    unlocked: Unlocked,
    catalog: Catalog | None = None,
    now: Callable[[], datetime] | None = None,
) -> BackupResult:
    """Back up the data folder ``data_root`` into the new folder ``dest``, while the app may be
    running (see the module docstring for what is copied and the layout).

    Parameters
    ----------
    data_root : Path — the data folder
    dest : Path — the backup folder: new, or an empty folder, outside the data folder
    unlocked : Unlocked — the data folder's key store unlocked by the account making the backup
        (any account may)
    catalog : Catalog, optional — the data folder's open catalog, to audit the backup through
        (its ``account`` names who did it); default: the catalog is opened for that and closed
    now : callable, optional — the current time (UTC, aware); tests give a fake clock

    Returns
    -------
    BackupResult

    Raises
    ------
    BackupError — ``dest`` is not new or empty, lies in the data folder, an interrupted backup
        is in the way, the account is another folder's, or the catalog's copy is damaged;
        nothing is left at ``dest``
    OSError — a file could not be read or written (a full disk…); nothing is left at ``dest``
    """
    data_root = Path(data_root)
    dest = Path(os.path.abspath(dest))  # "backups/new", "." and ".." alike get a folder name
    _check_unlocked_here(data_root, unlocked)
    _check_new_folder(dest, "backup")
    if _inside(dest, data_root):
        raise BackupError(
            f"{dest} is inside the data folder; a backup belongs elsewhere (another disk)."
        )
    partial = dest.with_name(dest.name + PARTIAL_SUFFIX)
    if partial.exists() or partial.is_symlink():
        raise BackupError(
            f"{partial} is in the way: a backup that was interrupted, or one still running. "
            "Remove it once no backup runs, and try again."
        )
    created = (now or _utc_now)().astimezone(timezone.utc).isoformat(timespec="seconds")
    partial.mkdir(parents=True, mode=0o700)
    try:
        entries: list[dict[str, Any]] = []

        def add(rel: str, size: int, digest: str) -> None:
            entries.append({"path": rel, "size": size, "sha256": digest})

        key = unlocked.catalog_key()
        _snapshot_catalog(data_root / CATALOG_FILENAME, partial / CATALOG_FILENAME, key)
        add(CATALOG_FILENAME, *_sha256_file(partial / CATALOG_FILENAME))
        store = KeyStore.open(data_root / KEY_STORE_NAME)
        try:
            with store.locked():  # the key store copied whole, between two changes
                add(KEY_STORE_NAME, *_copy_hashed(store.path, partial / KEY_STORE_NAME))
        except KeyStoreBusyError as exc:
            raise BackupError(f"{exc} Try the backup again.") from None
        ledger = KeyStore.open(partial / KEY_STORE_NAME).ledger()  # the copy's: they agree
        files, left_out = _collect(data_root)
        for rel in files:
            try:
                size, digest = _copy_hashed(data_root / rel, partial / rel)
            except FileNotFoundError:  # removed meanwhile (a session deleted, a file replaced)
                log.info("backup: a file went away while it was copied; left out")
                continue
            add(rel.as_posix(), size, digest)
        if left_out:
            log.info("backup: sessions still recording left out: %s", ", ".join(left_out))
        doc: dict[str, Any] = {
            "format": BACKUP_FORMAT,
            "version": BACKUP_VERSION,
            "created_at": created,
            "therascope_version": __version__,
            "source": str(data_root.resolve()),
            "account": unlocked.account.name,
            "files": entries,
            "ledger": _ledger_dicts(ledger),
            "left_out_sessions": left_out,
        }
        doc["digest"] = _manifest_digest(doc)
        _write_private(
            partial / MANIFEST_NAME, json.dumps(doc, indent=1, ensure_ascii=False).encode("utf-8")
        )
        fsync_folder(partial)
        if dest.exists():
            dest.rmdir()  # empty (checked above)
        os.rename(partial, dest)
        fsync_folder(dest.parent)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    total = sum(int(e["size"]) for e in entries)
    result = BackupResult(dest, created, len(entries), total, tuple(left_out), len(ledger))
    _record_last_backup(data_root, result, unlocked.account.name)
    _audit_backup(data_root, catalog, unlocked.account.name, result, key)
    log.info("backup written: %d files, %d bytes", result.files, result.bytes)
    return result


def _record_last_backup(data_root: Path, result: BackupResult, account: str) -> None:
    doc = {
        "format": LAST_BACKUP_FORMAT,
        "version": 1,
        "at": result.created_at,
        "where": str(result.dest.resolve()),
        "files": result.files,
        "bytes": result.bytes,
        "account": account,
    }
    try:
        _write_private_atomic(
            data_root / LAST_BACKUP_NAME,
            json.dumps(doc, indent=1, ensure_ascii=False).encode("utf-8") + b"\n",
        )
    except OSError as exc:  # the backup stands; only the note of it is missing
        log.warning("could not write %s: %s", LAST_BACKUP_NAME, exc)


def _audit_backup(
    data_root: Path, catalog: Catalog | None, account: str, result: BackupResult, key: bytes
) -> None:
    detail = f"files={result.files}; bytes={result.bytes}"
    if catalog is not None:
        catalog.audit("export", "backup", None, detail)
        return
    with Catalog.open(data_root / CATALOG_FILENAME, key=key) as cat:
        cat.account = account
        cat.audit("export", "backup", None, detail)


def last_backup(data_root: Path) -> dict[str, Any] | None:
    """The last backup of the data folder, as :func:`backup` noted it: ``{"at"`` (UTC,
    ISO-8601), ``"where"``, ``"files"``, ``"bytes"``, ``"account"}``; None when there was none
    (or the note cannot be read)."""
    try:
        doc = json.loads((Path(data_root) / LAST_BACKUP_NAME).read_bytes())
    except (OSError, ValueError):
        return None
    if not isinstance(doc, dict) or doc.get("format") != LAST_BACKUP_FORMAT:
        return None
    return doc


def _size_words(n: int) -> str:
    if n < 1000:
        return f"{n} bytes"
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= scale:
            value = n / scale
            return f"{value:,.0f} {unit}" if value >= 10 else f"{value:.1f} {unit}"
    return f"{n} bytes"  # pragma: no cover


def last_backup_words(data_root: Path) -> str:
    """The last backup in one line for the settings: ``"Last backup: 2026-12-05 18:20 CET,
    1,234 files, 56 MB, to /media/backup/therascope-2026-12-05"``, or ``"No backup yet"``."""
    doc = last_backup(data_root)
    if doc is None:
        return "No backup yet"
    try:
        files, size = int(doc.get("files") or 0), int(doc.get("bytes") or 0)
    except (TypeError, ValueError):
        files, size = 0, 0
    when = format_local_time(str(doc.get("at") or ""), missing="at an unknown time")
    return f"Last backup: {when}, {files:,} files, {_size_words(size)}, to {doc.get('where')}"


# ------------------------------------------------------------------------------------------------
# checking


def read_manifest(backup_dir: Path) -> dict[str, Any]:
    """The manifest of the backup folder ``backup_dir``, checked for form (not the files).

    Raises
    ------
    BackupError — no manifest, not JSON, not a TheraScope backup, a newer version, a field
        missing or of the wrong kind, or a digest that does not match (altered by hand)
    """
    path = Path(backup_dir) / MANIFEST_NAME
    try:
        doc = json.loads(path.read_bytes())
    except FileNotFoundError:
        raise BackupError(
            f"{backup_dir} is not a TheraScope backup (it has no {MANIFEST_NAME})."
        ) from None
    except ValueError:
        raise BackupError(f"The manifest {MANIFEST_NAME} is damaged (not JSON).") from None
    if not isinstance(doc, dict) or doc.get("format") != BACKUP_FORMAT:
        raise BackupError(f"{backup_dir} is not a TheraScope backup.")
    version = doc.get("version")
    if not isinstance(version, int) or version > BACKUP_VERSION:
        raise BackupError(
            f"The backup has version {version!r}; this TheraScope reads up to {BACKUP_VERSION}. "
            "Update TheraScope to restore it."
        )
    if doc.get("digest") != _manifest_digest(doc):
        raise BackupError(f"The manifest {MANIFEST_NAME} was altered or damaged (its digest).")
    files = doc.get("files")
    if not isinstance(files, list):
        raise BackupError(f"The manifest {MANIFEST_NAME} is damaged (files).")
    for e in files:
        if not (
            isinstance(e, dict)
            and _safe_relative(e.get("path")) is not None
            and isinstance(e.get("size"), int)
            and isinstance(e.get("sha256"), str)
            and len(e["sha256"]) == 64
            and set(e["sha256"]) <= _HEX
        ):
            raise BackupError(f"The manifest {MANIFEST_NAME} is damaged (a file's entry).")
    ledger = doc.get("ledger")
    if not isinstance(ledger, list) or not all(
        isinstance(e, dict) and isinstance(e.get("id"), str) for e in ledger
    ):
        raise BackupError(f"The manifest {MANIFEST_NAME} is damaged (ledger).")
    return doc


def _manifest_ledger(doc: dict[str, Any]) -> list[LedgerEntry]:
    return [
        LedgerEntry(str(e.get("kind")), str(e.get("id")), str(e.get("destroyed_at")))
        for e in doc["ledger"]
    ]


def verify_backup(backup_dir: Path) -> list[str]:
    """Check every file of a backup against its manifest (size and SHA-256).

    Parameters
    ----------
    backup_dir : Path — the backup folder

    Returns
    -------
    list of str — one line per problem (a manifest that cannot be read, a file missing, of
        another size or with other bytes); empty when the backup is whole
    """
    backup_dir = Path(backup_dir)
    if not backup_dir.is_dir():
        return [f"{backup_dir} is not a folder."]
    try:
        doc = read_manifest(backup_dir)
    except BackupError as exc:
        return [str(exc)]
    problems: list[str] = []
    paths = [str(e["path"]) for e in doc["files"]]
    for needed in (CATALOG_FILENAME, KEY_STORE_NAME):
        if needed not in paths:
            problems.append(f"The manifest lists no {needed}.")
    if len(set(paths)) != len(paths):
        problems.append("The manifest lists a file twice.")
    for e in doc["files"]:
        rel = str(e["path"])
        path = backup_dir / rel
        if path.is_symlink() or not path.is_file():
            problems.append(f"{rel}: missing.")
            continue
        try:
            size, digest = _sha256_file(path)
        except OSError as exc:
            problems.append(f"{rel}: cannot be read ({exc.strerror or exc}).")
            continue
        if size != e["size"]:
            problems.append(f"{rel}: {size:,} bytes where the manifest says {e['size']:,}.")
        elif digest != e["sha256"]:
            problems.append(f"{rel}: its bytes differ from those backed up (SHA-256).")
    return problems


# ------------------------------------------------------------------------------------------------
# restore


def _plain_id(text: str) -> bool:
    """Whether a ledger's id can name a file: not empty, no path separator, no dots alone."""
    return bool(text) and not ({"/", "\\", "\x00"} & set(text)) and text not in (".", "..")


def _union(ledgers: Iterable[Iterable[LedgerEntry]]) -> list[LedgerEntry]:
    """Every erasure any of the ledgers lists, once (the earliest time kept), oldest first."""
    seen: dict[tuple[str, str], LedgerEntry] = {}
    for ledger in ledgers:
        for e in ledger:
            if e.kind not in ("patient", "session") or not _plain_id(e.id):
                continue
            old = seen.get((e.kind, e.id))
            if old is None or e.destroyed_at < old.destroyed_at:
                seen[(e.kind, e.id)] = e
    return sorted(seen.values(), key=lambda e: (e.destroyed_at, e.kind, e.id))


def _remove_inside(root: Path, rel: str) -> bool:
    """Remove the file or folder ``rel`` of ``root`` (only if it lies inside ``root``); True when
    something was there."""
    path = (root / rel).absolute()
    if path == root.absolute() or not _inside(path.parent, root):
        return False
    if path.is_symlink() or path.is_file():
        path.unlink()
        return True
    if path.is_dir():
        shutil.rmtree(path)
        return True
    return False


def _folder_owner(folder: Path) -> tuple[str | None, str | None]:
    """The patient uuid and the session uid a session folder's own files name (``catalog.json``
    or ``session.json``), as far as they can be read."""
    uuid: str | None = None
    uid: str | None = None
    for name in ("catalog.json", "session.json"):
        try:
            doc = json.loads(vault.read_bytes(folder / name))
        except (OSError, ValueError):
            continue
        if not isinstance(doc, dict):
            continue
        if uuid is None and isinstance(doc.get("patient_uuid"), str):
            uuid = doc["patient_uuid"]
        session = doc.get("session")
        if isinstance(session, dict) and isinstance(session.get("uid"), str):
            uid = uid or session["uid"]
        if isinstance(doc.get("uid"), str):
            uid = uid or doc["uid"]
    return uuid, uid


def _apply_erasures(
    root: Path, patients: set[str], sessions: set[str], account: str, key: bytes
) -> tuple[list[str], list[str]]:
    """Remove from the restored data folder ``root`` what the ledger erased: catalog rows,
    session folders, patient record files. Returns the patients' uuids and the sessions' uids
    that were found and removed. ``key``: the catalog key (of an encrypted catalog)."""
    gone_p: list[str] = []
    gone_s: list[str] = []
    with Catalog.open(root / CATALOG_FILENAME, key=key) as cat:
        cat.account = account
        for p in cat.list_patients(include_archived=True):
            if p.uuid not in patients:
                continue
            owned = cat.list_sessions(patient_id=p.id)
            for s in owned:
                _remove_inside(root, s.folder)
            cat.delete_patient(p.id, with_sessions=True)
            gone_p.append(str(p.uuid))
            gone_s.extend(s.uid for s in owned)
        for uid in sorted(sessions):
            rec = cat.session_by_uid(uid)
            if rec is None:
                continue
            _remove_inside(root, rec.folder)
            cat.delete_session(rec.id)
            gone_s.append(uid)
    # what no row (or no longer a row) names: record files and session folders
    for uuid in sorted(patients):
        if _remove_inside(root, f"patients/{uuid}.json") and uuid not in gone_p:
            gone_p.append(uuid)
    sessions_dir = root / "sessions"
    if sessions_dir.is_dir():
        for folder in sorted(p for p in sessions_dir.iterdir() if p.is_dir()):
            owner, named = _folder_owner(folder)
            named = named or folder.name
            if owner in patients or named in sessions or folder.name in sessions:
                shutil.rmtree(folder)
                if named not in gone_s:
                    gone_s.append(named)
    return gone_p, gone_s


def _wipe_freed_pages(catalog_path: Path, key: bytes) -> None:
    """Rewrite the catalog so that the deleted rows' old pages are gone from the file (SQLite
    ``secure_delete`` and ``VACUUM``, the WAL checkpointed and emptied); an encrypted catalog
    is rewritten with its key, encrypted."""
    conn = connect(catalog_path, key)
    try:
        conn.execute("PRAGMA secure_delete = ON")
        conn.execute("VACUUM")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()


def restore(
    backup_dir: Path,
    into: Path,
    *,
    unlock: Callable[[KeyStore], Unlocked],
    ledgers: Iterable[Iterable[LedgerEntry]] = (),
) -> RestoreResult:
    """Restore a backup into a new data folder, without what any known ledger has erased.

    Steps: the backup is checked against its manifest (any problem: nothing is written); every
    file is copied into a folder beside ``into`` and checked again; the copied key store is
    unlocked by an administrator (``unlock``); the union of the backup's ledger and ``ledgers``
    is applied (the erased patients' and sessions' catalog rows, folders and record files
    removed, their keys destroyed in the restored key store, the catalog's freed pages wiped);
    the restore is audited in the restored catalog; the folder is renamed to ``into``.

    Parameters
    ----------
    backup_dir : Path — the backup folder
    into : Path — the data folder to restore into: new, or an empty folder
    unlock : callable — given the restored copy's key store (:class:`KeyStore`), returns it
        unlocked by an administrator of the backup's clinic, e.g.
        ``lambda store: store.unlock(name, password)``
    ledgers : iterable of ledgers — newer erasure ledgers (lists of :class:`LedgerEntry`), e.g.
        the current data folder's ``KeyStore.open(...).ledger()``

    Returns
    -------
    RestoreResult

    Raises
    ------
    BackupDamaged — the backup does not match its manifest; nothing was written
    BackupError — ``into`` is not new or empty, or a restore into it is under way
    PermissionError — the account is not an administrator; nothing is left
    core.security.keystore.KeyStoreError — the account's password is wrong (as ``unlock``
        raises it); nothing is left
    """
    backup_dir = Path(backup_dir)
    into = Path(os.path.abspath(into))
    problems = verify_backup(backup_dir)
    if problems:
        raise BackupDamaged(
            "The backup does not match its manifest; nothing was restored:\n  "
            + "\n  ".join(problems),
            problems,
        )
    doc = read_manifest(backup_dir)
    _check_new_folder(into, "restore")
    if _inside(into, backup_dir):
        raise BackupError(f"{into} is inside the backup; restore it elsewhere.")
    stage = into.with_name(f".{into.name}.restoring")
    if stage.exists() or stage.is_symlink():
        raise BackupError(
            f"{stage} is in the way: a restore that was interrupted, or one still running. "
            "Remove it once no restore runs, and try again."
        )
    stage.mkdir(parents=True, mode=0o700)
    try:
        total = 0
        for e in doc["files"]:
            rel = str(e["path"])
            size, digest = _copy_hashed(backup_dir / rel, stage / rel)
            if size != e["size"] or digest != e["sha256"]:
                raise BackupDamaged(
                    f"{rel} changed while it was restored; nothing was restored.",
                    [f"{rel}: changed while it was restored."],
                )
            total += size
        store = KeyStore.open(stage / KEY_STORE_NAME)
        unlocked = unlock(store)
        try:
            if Path(unlocked.store.path).resolve() != store.path.resolve():
                raise BackupError(
                    "The account was unlocked in another key store than the backup's."
                )
            if unlocked.account.role != "admin":
                raise PermissionError("Only an administrator can restore a backup.")
            account = unlocked.account.name
            entries = _union([_manifest_ledger(doc), store.ledger(), *ledgers])
            erased_p = {e.id for e in entries if e.kind == "patient"}
            erased_s = {e.id for e in entries if e.kind == "session"}
            key = unlocked.catalog_key()  # the clinic's: the restored catalog opens with it
            gone_p, gone_s = _apply_erasures(stage, erased_p, erased_s, account, key)
            merged = unlocked.merge_ledger(entries) if entries else 0
        finally:
            unlocked.close()
        catalog_path = stage / CATALOG_FILENAME
        with Catalog.open(catalog_path, key=key) as cat:
            cat.account = account
            cat.audit(
                "import",
                "backup",
                None,
                f"restored; created_at={doc.get('created_at')}; files={len(doc['files'])}; "
                f"erased_patients={len(gone_p)}; erased_sessions={len(gone_s)}",
            )
        if gone_p or gone_s:
            _wipe_freed_pages(catalog_path, key)
        # a catalog of an older schema was migrated on opening, and its copy from before (with
        # the erased rows) kept beside it: the backup is that copy already
        for left in stage.glob(f"{CATALOG_FILENAME}.v*.bak"):
            left.unlink()
        store.lock_path.unlink(missing_ok=True)
        fsync_folder(stage)
        if into.exists():
            into.rmdir()  # empty (checked above)
        os.rename(stage, into)
        fsync_folder(into.parent)
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise
    log.info(
        "backup restored: %d files; %d erased patients and %d erased sessions left out",
        len(doc["files"]),
        len(gone_p),
        len(gone_s),
    )
    return RestoreResult(
        into, len(doc["files"]), total, tuple(gone_p), tuple(gone_s), merged, account
    )


def ledger_of_folder(data_root: Path) -> list[LedgerEntry]:
    """The erasure ledger of a data folder's key store (empty when it has none).

    Raises
    ------
    core.security.keystore.KeyStoreError — the key store cannot be read
    """
    path = Path(data_root) / KEY_STORE_NAME
    if not KeyStore.exists(path):
        return []
    return KeyStore.open(path).ledger()
