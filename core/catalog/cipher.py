"""The catalog encrypted at rest: SQLCipher 4 with the data folder's catalog key.

A catalog created while its data folder is unlocked in this process
(:func:`core.security.vault.register`) is *encrypted*: every page of the file and of its WAL file
is encrypted and authenticated by SQLCipher (AES-256-CBC, HMAC-SHA512 per page: SQLCipher 4's
defaults), so nothing of it reads as SQLite, not even its header. The key is
:meth:`core.security.keystore.Unlocked.catalog_key` (derived from the clinic key), given as a raw
256-bit key: it is random already, so SQLCipher's PBKDF2 would only slow every opening down.
Everything else stays as it was: WAL with ``synchronous=FULL``, ``secure_delete``, the online
backup API, ``VACUUM``, migrations.

A *plaintext* catalog (its first 16 bytes are SQLite's header: the demo folder, tests without
accounts, folders written before this) keeps opening with the standard library's ``sqlite3``;
:func:`encrypt_catalog` converts one in place (``therascope encrypt``).

SQLCipher's binding raises its own exception classes, not sqlite3's: catch
:data:`core.storage.SQL_ERRORS` and its siblings.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlcipher3 import dbapi2 as sqlcipher

from core.catalog.errors import CatalogEncryptionError, CatalogKeyError, CatalogLockedError
from core.security import vault
from core.security.keystore import KeyStoreError, Unlocked
from core.storage import DAMAGED, fsync_folder, kind_of

log = logging.getLogger(__name__)

#: the first 16 bytes of a plaintext SQLite file; an encrypted one begins with its random salt
SQLITE_MAGIC = b"SQLite format 3\x00"
#: a catalog being encrypted is written here first (beside it), then renamed over it
ENCRYPTING_SUFFIX = ".encrypting"
KEY_BYTES = 32
_SMALLEST_PAGE = 512

_cache_lock = threading.Lock()
#: data root (resolved) → the unlocked key store registered for it, and its catalog key
_cache: dict[Path, tuple[Unlocked, bytes]] = {}


def _head(path: Path) -> bytes | None:
    """The first 16 bytes of ``path``; None when there is no file or it is empty."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(len(SQLITE_MAGIC))
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        return None
    return head or None


def is_encrypted(path: Path) -> bool:
    """Whether ``path`` looks like an encrypted catalog: it does not begin with SQLite's header,
    and it is made of whole pages (a multiple of 512 bytes, SQLite's smallest page), as any
    database file is. Only the key tells an encrypted catalog from other such files."""
    path = Path(path)
    head = _head(path)
    if head is None or head == SQLITE_MAGIC:
        return False
    try:
        size = path.stat().st_size
    except OSError:
        return False
    return size % _SMALLEST_PAGE == 0


def is_plaintext(path: Path) -> bool:
    """Whether ``path`` is a plaintext SQLite file (one that :func:`encrypt_catalog` converts)."""
    return _head(Path(path)) == SQLITE_MAGIC


def folder_key(data_root: Path) -> bytes | None:
    """The catalog key of ``data_root`` when that folder is unlocked in this process, else None.

    Derived once per registration and kept while the folder stays registered, as
    :mod:`core.security.vault` keeps the session keys it derived: a command that closes its
    unlocked key store when done (which drops only the clinic key) leaves the folder readable by
    this process until it is unregistered.
    """
    root = Path(data_root).resolve()
    unlocked = vault.unlocked_for(root)
    with _cache_lock:
        if unlocked is None:
            _cache.pop(root, None)
            return None
        cached = _cache.get(root)
        if cached is not None and cached[0] is unlocked:
            return cached[1]
        try:
            key = unlocked.catalog_key()
        except KeyStoreError:  # closed before the catalog was ever opened
            return None
        _cache[root] = (unlocked, key)
        return key


def _key_pragma(key: bytes) -> str:
    if len(key) != KEY_BYTES:
        raise ValueError(f"A catalog key has {KEY_BYTES} bytes, not {len(key)}")
    # a raw key (x'…'): used as it is, no key derivation; the file's salt is its first 16 bytes
    return f"PRAGMA key = \"x'{key.hex()}'\""


def _locked_message(path: Path) -> str:
    return (
        f"The catalog {path} is encrypted, and this data folder is not unlocked: sign in first "
        "(the window asks for your account; on the command line give --user, or THERASCOPE_USER, "
        "and your password)."
    )


def _wrong_key_message(path: Path) -> str:
    return (
        f"The catalog {path} cannot be opened with this data folder's key: it was made for "
        "another data folder (another key store), or it is damaged. Put the right catalog back, "
        "rebuild it from the session folders (therascope rebuild-catalog) or restore a backup."
    )


def connect(
    path: Path, key: bytes | None, timeout: float = 5.0, check_same_thread: bool = True
) -> Any:
    """Open a catalog file: with SQLCipher and ``key`` when it is encrypted (or new and a key is
    given), with the standard library's sqlite3 when it is plaintext (or new without a key).

    Parameters
    ----------
    path : Path — the catalog file
    key : bytes or None — the 32-byte catalog key; None: the folder is not unlocked
    timeout : float — how long a statement waits for another connection's lock (s)
    check_same_thread : bool — as :func:`sqlite3.connect`

    Returns
    -------
    sqlite3.Connection or SQLCipher's connection, which offers the same calls (rows are
    SQLCipher's ``Row``, alike to :class:`sqlite3.Row`)

    Raises
    ------
    CatalogLockedError — the file is encrypted and no key is given, in words
    CatalogKeyError — the key does not open it (another folder's, or damaged)
    sqlite3.Error or SQLCipher's Error — the file cannot be opened (read-only, missing…)
    """
    path = Path(path)
    encrypted = is_encrypted(path)
    if encrypted and key is None:
        raise CatalogLockedError(_locked_message(path))
    if key is None or not (encrypted or _head(path) is None):
        return sqlite3.connect(str(path), timeout=timeout, check_same_thread=check_same_thread)
    conn = sqlcipher.connect(str(path), timeout=timeout, check_same_thread=check_same_thread)
    try:
        # SQLCipher writes a wrong key's failure to stderr too; the message below says it
        conn.execute("PRAGMA cipher_log_level = NONE")
        conn.execute(_key_pragma(key))
        if encrypted:
            try:  # the key is only tried on the first read
                conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
            except sqlcipher.DatabaseError as exc:
                if kind_of(exc) == DAMAGED:
                    raise CatalogKeyError(_wrong_key_message(path)) from exc
                raise
    except BaseException:
        conn.close()
        raise
    return conn


def row_factory(conn: Any) -> Any:
    """The ``Row`` class of ``conn``'s driver (sqlite3's or SQLCipher's)."""
    return sqlite3.Row if isinstance(conn, sqlite3.Connection) else sqlcipher.Row


def new_connection_like(conn: Any, path: Path, key: bytes | None) -> Any:
    """A new connection to the new file ``path`` with ``conn``'s driver, keyed with ``key`` when
    ``conn`` is SQLCipher's (for the online backup API, which copies pages as they are: source
    and target must be both plaintext or both encrypted)."""
    if isinstance(conn, sqlite3.Connection):
        return sqlite3.connect(str(path))
    if key is None:
        raise ValueError("An encrypted catalog's copy needs the catalog key")
    target = sqlcipher.connect(str(path))
    try:
        target.execute("PRAGMA cipher_log_level = NONE")
        target.execute(_key_pragma(key))
    except BaseException:
        target.close()
        raise
    return target


def _fsync_file(path: Path) -> None:
    with open(path, "rb+") as fh:
        os.fsync(fh.fileno())


def _side_files(path: Path) -> list[Path]:
    return [path.with_name(path.name + s) for s in ("-wal", "-shm", "-journal")]


def _remove_with_side_files(path: Path) -> None:
    for p in [path, *_side_files(path)]:
        p.unlink(missing_ok=True)


def _counts(conn: Any, schema: str = "main") -> dict[str, int]:
    """Rows per table (``sqlite_sequence`` included: the id sequences must carry over)."""
    names = [
        r[0]
        for r in conn.execute(
            f"SELECT name FROM {schema}.sqlite_master WHERE type = 'table' ORDER BY name"
        )
    ]
    return {
        n: int(conn.execute(f'SELECT count(*) FROM {schema}."{n}"').fetchone()[0]) for n in names
    }


@dataclass(frozen=True)
class Encrypted:
    """What :func:`encrypt_catalog` did: the tables copied and their rows, in all."""

    tables: int
    rows: int


def encrypt_catalog(path: Path, key: bytes) -> Encrypted:
    """Encrypt the plaintext catalog ``path`` in place with ``key``.

    The plaintext's WAL is checkpointed into it; SQLCipher's ``sqlcipher_export`` writes every
    table, index and row (the id sequences and the schema version too) into a new encrypted file
    beside it, ``<name>.encrypting``; that file is checked (the same rows in every table, SQLite's
    ``integrity_check`` and SQLCipher's ``cipher_integrity_check``), switched to WAL, synced, and
    renamed over the plaintext, whose WAL and shared-memory files are gone by then. A kill at any
    point leaves either the plaintext catalog or the encrypted one, and at most a
    ``.encrypting`` file that the next run replaces.

    No other connection may have the catalog open (close the catalog first: :meth:`Catalog.encrypt
    <core.catalog.db.Catalog.encrypt>` does it for its own). Another program is detected (its
    WAL file outlives this connection); another ``sqlite3`` connection inside this process is
    not (the two SQLite libraries keep their locks apart), so there must be none.

    Parameters
    ----------
    path : Path — the plaintext catalog
    key : bytes — the 32-byte catalog key

    Returns
    -------
    Encrypted

    Raises
    ------
    CatalogEncryptionError — not a plaintext catalog, in use by another program, or its copy
        does not match; the plaintext catalog is as it was
    sqlite3.Error, SQLCipher's Error, OSError — reading or writing failed (a full disk…); the
        plaintext catalog is as it was
    """
    path = Path(path)
    if not is_plaintext(path):
        raise CatalogEncryptionError(f"{path} is not a plaintext catalog; nothing to encrypt.")
    pragma = _key_pragma(key)
    tmp = path.with_name(path.name + ENCRYPTING_SUFFIX)
    _remove_with_side_files(tmp)  # an earlier run's, killed half-way
    src = sqlcipher.connect(str(path))  # SQLCipher reads plaintext SQLite without a key
    try:
        busy = src.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
        if int(busy):
            raise CatalogEncryptionError(
                f"The catalog {path} is in use by another program (another TheraScope window?): "
                "close it, then encrypt again. Nothing was changed."
            )
        before = _counts(src)
        version = int(src.execute("PRAGMA user_version").fetchone()[0])
        src.execute("ATTACH DATABASE ? AS encrypted KEY ?", (str(tmp), f"x'{key.hex()}'"))
        try:
            src.execute("SELECT sqlcipher_export('encrypted')")
            src.execute(f"PRAGMA encrypted.user_version = {version}")  # not exported
        finally:
            src.execute("DETACH DATABASE encrypted")
    except BaseException:
        src.close()
        _remove_with_side_files(tmp)
        raise
    src.close()
    try:
        out = sqlcipher.connect(str(tmp))
        try:
            out.execute("PRAGMA cipher_log_level = NONE")
            out.execute(pragma)
            problems = []
            after = _counts(out)
            if after != before:
                problems.append(f"rows {after} where the plaintext has {before}")
            if int(out.execute("PRAGMA user_version").fetchone()[0]) != version:
                problems.append("another schema version")
            check = out.execute("PRAGMA integrity_check").fetchone()[0]
            if check != "ok":
                problems.append(f"integrity_check: {check}")
            problems += [str(r[0]) for r in out.execute("PRAGMA cipher_integrity_check")]
            if problems:
                raise CatalogEncryptionError(
                    f"The encrypted copy of {path} does not match it ({'; '.join(problems)}); "
                    "the plaintext catalog was left as it was."
                )
            out.execute("PRAGMA journal_mode = WAL")  # kept in the file's header
        finally:
            out.close()
        _fsync_file(tmp)
        # The plaintext's WAL was emptied into it, and SQLite removes the WAL and shared-memory
        # files when the last connection closes: if they are still there, another program holds
        # the catalog open (and may have written meanwhile), and the plaintext stays.
        wal = path.with_name(path.name + "-wal")
        if wal.exists():
            raise CatalogEncryptionError(
                f"The catalog {path} is in use by another program (another TheraScope window?): "
                "close it, then encrypt again. Nothing was changed."
            )
        path.with_name(path.name + "-shm").unlink(missing_ok=True)
        os.replace(tmp, path)
        fsync_folder(path.parent)
    except BaseException:
        _remove_with_side_files(tmp)
        raise
    log.info("catalog encrypted: %d tables, %d rows", len(after), sum(after.values()))
    return Encrypted(len(after), sum(after.values()))
