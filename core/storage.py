"""Storage errors in words: one mapping for every catalog and file operation.

An OS or SQLite error says what the system saw (``EROFS``, ``SQLITE_FULL``, "database disk image
is malformed"); the user needs what failed, why, and what to do, and advice that cannot make
things worse: a full disk or a read-only folder is never called a damaged catalog (restoring a
backup over a good catalog would lose work). :func:`explain` turns either kind of error into a
:class:`StorageError` whose text is that message; callers raise it ``from`` the original, which
goes to the log.
"""

from __future__ import annotations

import errno
import os
import sqlite3
from pathlib import Path

from sqlcipher3 import dbapi2 as sqlcipher

# SQLite's errors as either driver raises them: the standard library's sqlite3 (plaintext
# catalogs) and SQLCipher's binding (encrypted catalogs, core.catalog.cipher), whose classes are
# its own, not subclasses of sqlite3's. ``except SQL_ERRORS`` wherever ``except sqlite3.Error``
# was meant.
SQL_ERRORS: tuple[type[Exception], ...] = (sqlite3.Error, sqlcipher.Error)
SQL_DATABASE_ERRORS: tuple[type[Exception], ...] = (sqlite3.DatabaseError, sqlcipher.DatabaseError)
SQL_INTEGRITY_ERRORS: tuple[type[Exception], ...] = (
    sqlite3.IntegrityError,
    sqlcipher.IntegrityError,
)
SQL_OPERATIONAL_ERRORS: tuple[type[Exception], ...] = (
    sqlite3.OperationalError,
    sqlcipher.OperationalError,
)

#: what went wrong, as :attr:`StorageError.kind`
READ_ONLY = "read-only"
FULL = "full"
DAMAGED = "damaged"
LOCKED = "locked"
DENIED = "denied"
MISSING = "missing"
FAILED = "failed"

# SQLite's primary result codes (https://sqlite.org/rescode.html)
_SQLITE_KINDS = {
    3: DENIED,  # SQLITE_PERM
    5: LOCKED,  # SQLITE_BUSY
    6: LOCKED,  # SQLITE_LOCKED
    8: READ_ONLY,  # SQLITE_READONLY
    10: FAILED,  # SQLITE_IOERR
    11: DAMAGED,  # SQLITE_CORRUPT
    13: FULL,  # SQLITE_FULL
    14: MISSING,  # SQLITE_CANTOPEN
    23: DENIED,  # SQLITE_AUTH
    26: DAMAGED,  # SQLITE_NOTADB
}
_SQLITE_TEXT = (  # for errors that carry no code
    ("readonly", READ_ONLY),
    ("read-only", READ_ONLY),
    ("disk is full", FULL),
    ("malformed", DAMAGED),
    ("not a database", DAMAGED),
    ("locked", LOCKED),
    ("unable to open", MISSING),
    ("disk i/o error", FAILED),
)
_OS_KINDS = {
    errno.EROFS: READ_ONLY,
    errno.EACCES: DENIED,
    errno.EPERM: DENIED,
    errno.ENOSPC: FULL,
    errno.EDQUOT: FULL,
    errno.EFBIG: FULL,
    errno.ENOENT: MISSING,
    errno.ENOTDIR: MISSING,
    errno.ENODEV: MISSING,
    errno.ENXIO: MISSING,
    errno.EIO: FAILED,
    errno.EBUSY: LOCKED,
    errno.ETXTBSY: LOCKED,
}


class StorageError(RuntimeError):
    """A catalog or file operation failed; ``str()`` is the message for the user.

    Attributes
    ----------
    kind : str — :data:`READ_ONLY`, :data:`FULL`, :data:`DAMAGED`, :data:`LOCKED`,
        :data:`DENIED`, :data:`MISSING` or :data:`FAILED`
    expected : bool — a condition of the computer, not a fault of TheraScope (no traceback)
    """

    expected = True

    def __init__(self, message: str, kind: str) -> None:
        super().__init__(message)
        self.kind = kind


def kind_of(exc: BaseException) -> str:
    """What kind of storage failure ``exc`` is (:data:`FAILED` when it cannot tell)."""
    if isinstance(exc, StorageError):
        return exc.kind
    if isinstance(exc, SQL_ERRORS):
        code = getattr(exc, "sqlite_errorcode", None)
        if isinstance(code, int) and (code & 0xFF) in _SQLITE_KINDS:
            return _SQLITE_KINDS[code & 0xFF]
        text = str(exc).lower()
        for needle, kind in _SQLITE_TEXT:
            if needle in text:
                return kind
        return FAILED
    if isinstance(exc, OSError):
        return _OS_KINDS.get(exc.errno or 0, FAILED)
    return FAILED


def message(kind: str, doing: str, where: Path | str, catalog: bool = False) -> str:
    """The user's message for a ``kind`` of failure while ``doing`` something at ``where``.

    Parameters
    ----------
    kind : str — as :func:`kind_of` returns
    doing : str — what failed, as a verb phrase: "save the patient", "write the report"
    where : Path or str — the file or folder concerned
    catalog : bool — the catalog failed (one SQLite transaction: nothing was changed)
    """
    unchanged = " Nothing was changed." if catalog else ""
    if kind == READ_ONLY:
        return (
            f"Could not {doing}: {where} is read-only.{unchanged} Make the data folder "
            "writable (or start TheraScope with another one, --data-dir), then try again."
        )
    if kind == FULL:
        return (
            f"Could not {doing}: the disk holding {where} is full.{unchanged} Free some space, "
            "then try again."
        )
    if kind == DENIED:
        return (
            f"Could not {doing}: this user may not write to {where}.{unchanged} Ask the "
            "computer's administrator for access, or use another data folder (--data-dir)."
        )
    if kind == LOCKED:
        return (
            f"Could not {doing}: {where} is in use by another program (another TheraScope "
            f"window?).{unchanged} Close it, then try again."
        )
    if kind == MISSING:
        return (
            f"Could not {doing}: {where} cannot be reached (a disk or network folder that is "
            "not connected?). Connect it, then try again."
        )
    if kind == DAMAGED:
        if catalog:
            return (
                f"Could not {doing}: the catalog {where} is damaged. The recordings in the "
                "session folders are not affected: rebuild the catalog from them "
                "(therascope rebuild-catalog) or restore the catalog from a backup."
            )
        return f"Could not {doing}: {where} is damaged."
    return (
        f"Could not {doing}: the disk reported an error at {where} (it may be full, removed or "
        f"failing).{unchanged} Check the disk, then try again."
    )


def explain(
    exc: BaseException, doing: str, where: Path | str, catalog: bool = False
) -> StorageError:
    """A :class:`StorageError` for an OS or SQLite error (raise it ``from exc``)."""
    if isinstance(exc, StorageError):
        return exc
    kind = kind_of(exc)
    return StorageError(message(kind, doing, where, catalog), kind)


#: what another account on the machine may do with patient data on POSIX: nothing
PRIVATE_UMASK = 0o077


def private_umask() -> None:
    """From now on this process creates files 0600 and folders 0700 (POSIX; nothing on
    Windows, where the user's profile folder already keeps other accounts out)."""
    import os

    if os.name == "posix":
        os.umask(PRIVATE_UMASK)


def make_private(root: Path) -> int:
    """Keep the data folder to its owner (POSIX): new files 0600 and folders 0700 from now on
    (the process's umask), and an existing folder made so once (a folder from an older
    TheraScope was world-readable: catalog 0644, folders 0755).

    Returns
    -------
    int — files and folders whose mode was changed (0 when the folder already was private, or
    on Windows, where the user's profile folder already keeps other accounts out)
    """
    import os
    import stat

    if os.name != "posix":
        return 0
    private_umask()
    root = Path(root)
    try:
        if stat.S_IMODE(root.stat().st_mode) & PRIVATE_UMASK == 0:
            return 0  # already private (a newer TheraScope made it so)
    except OSError:
        return 0
    changed = 0
    for path in [root, *root.rglob("*")]:
        try:
            st = path.lstat()
            if stat.S_ISLNK(st.st_mode):
                continue
            mode = 0o700 if stat.S_ISDIR(st.st_mode) else 0o600
            if stat.S_IMODE(st.st_mode) != mode:
                os.chmod(path, mode)
                changed += 1
        except OSError:
            continue  # a file that went away or is not ours: the next start tries again
    return changed


def fsync_folder(folder: Path) -> None:
    """Make a new or renamed entry of ``folder`` durable (POSIX; Windows has no directory handle
    for this, and its renames are durable with the file system's journal)."""
    if hasattr(os, "O_DIRECTORY"):
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
