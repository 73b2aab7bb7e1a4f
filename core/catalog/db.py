"""The catalog: an SQLite database indexing patients, sessions, markers, self-reports, analysis
runs, exported reports and an audit trail.

Opening creates, checks and migrates the file (:meth:`Catalog.open`); the methods live in
:mod:`core.catalog._patients`, :mod:`core.catalog._sessions` and :mod:`core.catalog._reports`. One
connection is shared by the GUI thread and worker threads, serialised by a lock.

Schema: version 1 is ``schema_v1.sql``; each later version is one step in
:mod:`core.catalog._migrations`. A new file is created at v1 and migrated like any other (without
a backup), so each version is defined in exactly one place.

Durability: WAL journal with ``synchronous=FULL``, so a committed write survives a power cut, not
only a crash of the program. Every change writes its audit row in the same transaction.

Encryption at rest: a catalog created while its data folder is unlocked in this process is
encrypted with SQLCipher under the folder's catalog key, and opens only with it; a plaintext
catalog opens as before (:mod:`core.catalog.cipher`).

Erasure: every connection sets ``secure_delete``, so deleted rows are overwritten with zeros;
:meth:`Catalog.erase_free_space` rewrites the file and empties the WAL file after an erasure
(:mod:`core.privacy.erasure`).
"""

from __future__ import annotations

import functools
import inspect
import logging
import re
import sqlite3
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from types import TracebackType
from typing import Any

from core.catalog._base import row_to_audit
from core.catalog._clinical import ClinicalMixin
from core.catalog._migrations import (
    migrate_v1_to_v2,
    migrate_v2_to_v3,
    migrate_v3_to_v4,
    migrate_v4_to_v5,
    migrate_v5_to_v6,
    migrate_v6_to_v7,
    migrate_v7_to_v8,
)
from core.catalog._mirror import (
    patient_file,
    patient_record,
    session_file,
    session_record,
    try_remove,
    try_write,
)
from core.catalog._patients import PatientsMixin
from core.catalog._reports import ReportsMixin
from core.catalog._sessions import SessionsMixin
from core.catalog.cipher import (
    SQLITE_MAGIC,
    connect,
    encrypt_catalog,
    folder_key,
    is_encrypted,
    is_plaintext,
    new_connection_like,
    row_factory,
)
from core.catalog.errors import (
    CatalogError,
    CatalogFormatError,
    CatalogKeyError,
    CatalogLockedError,
    CatalogVersionError,
)
from core.catalog.models import AUDIT_ACTIONS, AuditEntry, Patient
from core.config import data_dir
from core.resources import package_path
from core.storage import DAMAGED, SQL_DATABASE_ERRORS, SQL_ERRORS, explain, kind_of

log = logging.getLogger(__name__)

CURRENT_SCHEMA = 8
"""The schema version this code reads and writes (kept in ``PRAGMA user_version``)."""

Migration = Callable[[sqlite3.Connection], None]
MIGRATIONS: dict[int, Migration] = {
    2: migrate_v1_to_v2,
    3: migrate_v2_to_v3,
    4: migrate_v3_to_v4,
    5: migrate_v4_to_v5,
    6: migrate_v5_to_v6,
    7: migrate_v6_to_v7,
    8: migrate_v7_to_v8,
}
"""``MIGRATIONS[n]`` upgrades a version ``n - 1`` catalog to version ``n``.

A step runs inside a transaction opened for it, with foreign keys off (so tables can be rebuilt as
SQLite recommends); it must use ``conn.execute`` only (``executescript`` would commit half-way).
Version 1 is ``schema_v1.sql`` and is never edited: later versions only add steps here (written
in :mod:`core.catalog._migrations`).
"""

CATALOG_FILENAME = "catalog.sqlite"
_BUSY_TIMEOUT_MS = 10_000
_OPEN_ERRORS: tuple[type[Exception], ...] = (OSError, *SQL_ERRORS)
_MIRROR_ERRORS: tuple[type[Exception], ...] = (*SQL_ERRORS, OSError, ValueError, KeyError)

__all__ = [
    "CATALOG_FILENAME",
    "CURRENT_SCHEMA",
    "MIGRATIONS",
    "Catalog",
    "CatalogError",
    "CatalogFormatError",
    "CatalogKeyError",
    "CatalogLockedError",
    "CatalogVersionError",
    "backup_file",
]


def _schema_v1_sql() -> str:
    return package_path("core.catalog", "schema_v1.sql").read_text(encoding="utf-8")


def _user_version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def _check_is_sqlite(path: Path) -> None:
    if path.is_dir():
        raise CatalogFormatError(f"{path} is a folder, not a TheraScope catalog file.")
    if not path.exists() or path.stat().st_size == 0:
        return
    with path.open("rb") as fh:
        head = fh.read(len(SQLITE_MAGIC))
    if head != SQLITE_MAGIC and not is_encrypted(path):
        raise CatalogFormatError(
            f"{path} is not a TheraScope catalog (it is not an SQLite database). "
            "Choose another data folder, or move this file out of the way."
        )


def _apply_v1(conn: sqlite3.Connection) -> None:
    # One script, one transaction: a crash leaves either no schema or all of version 1.
    try:
        conn.executescript(
            f"BEGIN IMMEDIATE;\n{_schema_v1_sql()}\nPRAGMA user_version = 1;\nCOMMIT;"
        )
    except BaseException:
        if conn.in_transaction:
            conn.rollback()
        raise


def backup_file(
    conn: sqlite3.Connection, path: Path, version: int, key: bytes | None = None
) -> Path:
    """Copy the open database next to itself before a migration (SQLite's online backup).

    An encrypted catalog's copy is encrypted with the same key (``key``, required then).

    Returns
    -------
    Path — ``<name>.v<version>-<UTC time>.bak``
    """
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    target = path.with_name(f"{path.name}.v{version}-{stamp}.bak")
    n = 1
    while target.exists():
        n += 1
        target = path.with_name(f"{path.name}.v{version}-{stamp}-{n}.bak")
    # The backup API, not a file copy: it includes what is still in the WAL file.
    dst = new_connection_like(conn, target, key)
    try:
        conn.backup(dst)
    finally:
        dst.close()
    return target


def _migrate(
    conn: sqlite3.Connection,
    path: Path,
    version: int,
    make_backup: bool,
    key: bytes | None = None,
) -> None:
    """Bring a catalog from ``version`` up to :data:`CURRENT_SCHEMA`, one step at a time."""
    if version >= CURRENT_SCHEMA:
        return
    backup = backup_file(conn, path, version, key) if make_backup else None
    conn.execute("PRAGMA foreign_keys = OFF")
    try:
        for target in range(version + 1, CURRENT_SCHEMA + 1):
            step = MIGRATIONS.get(target)
            if step is None:
                raise CatalogError(f"No migration from schema v{target - 1} to v{target}")
            conn.execute("BEGIN IMMEDIATE")
            try:
                step(conn)
                broken = conn.execute("PRAGMA foreign_key_check").fetchall()
                if broken:
                    raise CatalogError(
                        f"Migration to schema v{target} left {len(broken)} broken reference(s)"
                    )
                conn.execute(f"PRAGMA user_version = {int(target)}")
                detail = f"schema v{target - 1}->v{target}"
                if backup is not None:
                    detail += f"; backup={backup.name}"
                conn.execute(
                    "INSERT INTO audit (at, action, entity, entity_id, detail)"
                    " VALUES (?, 'update', 'catalog', NULL, ?)",
                    (datetime.now(timezone.utc).isoformat(timespec="milliseconds"), detail),
                )
                conn.commit()
            except BaseException:
                conn.rollback()
                raise
    finally:
        conn.execute("PRAGMA foreign_keys = ON")


def _set_pragmas(conn: sqlite3.Connection) -> None:
    """What every connection to a catalog sets (the file's WAL mode included)."""
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = FULL")
    conn.execute("PRAGMA foreign_keys = ON")
    # Deleted rows are overwritten with zeros, not only unlinked: an erased patient's data does
    # not linger in free space (the cost is a few percent on deletions only).
    conn.execute("PRAGMA secure_delete = ON")


def _prepare(conn: sqlite3.Connection, path: Path, key: bytes | None = None) -> int:
    """Check the version, set the pragmas, create or migrate the schema; returns the version
    the file had (0: new). ``key``: the catalog key of an encrypted catalog (its migration
    backup is encrypted with it)."""
    try:
        version = _user_version(conn)
        has_tables = conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0] > 0
    except SQL_DATABASE_ERRORS as exc:
        if kind_of(exc) != DAMAGED:  # locked, unreadable disk…: the file itself may be fine
            raise explain(exc, "open the catalog", path, catalog=True) from exc
        raise CatalogFormatError(
            f"{path} cannot be read as a TheraScope catalog ({exc}). It is damaged: rebuild it "
            "from the session folders (therascope rebuild-catalog) or restore a backup."
        ) from exc
    # Checked before any pragma that writes, so a newer catalog is left exactly as it was.
    if version > CURRENT_SCHEMA:
        raise CatalogVersionError(
            f"This catalog was written by a newer TheraScope (schema v{version}); this version "
            f"reads up to v{CURRENT_SCHEMA}. Update TheraScope, or choose another data folder."
        )
    if version == 0 and has_tables:
        raise CatalogFormatError(
            f"{path} is an SQLite database but not a TheraScope catalog. "
            "Choose another data folder, or move this file out of the way."
        )
    _set_pragmas(conn)
    was = version
    fresh = version == 0
    if fresh:
        _apply_v1(conn)
        version = 1
    _migrate(conn, path, version, make_backup=not fresh, key=key)
    return was


def _connect(path: Path, key: bytes | None) -> sqlite3.Connection:
    """A connection to the catalog file ``path`` (encrypted with ``key`` when it is, or when
    it is new and a key is given), shared by threads under the catalog's lock."""
    conn: sqlite3.Connection = connect(
        path, key, timeout=_BUSY_TIMEOUT_MS / 1000, check_same_thread=False
    )
    conn.row_factory = row_factory(conn)
    return conn


class Catalog(PatientsMixin, SessionsMixin, ReportsMixin, ClinicalMixin):
    """The catalog of patients, sessions, markers, self-reports, analyses, reports and the audit
    trail.

    Open with :meth:`open`; safe to share between threads. Use as a context manager, or call
    :meth:`close`.
    """

    @classmethod
    def open(cls, path: Path | None = None, key: bytes | None = None) -> Catalog:
        """Open (creating or migrating as needed) a catalog file.

        A new file is created encrypted when a key is given or its data folder (the file's
        folder) is unlocked in this process (:func:`core.security.vault.register`), plaintext
        otherwise (the demo folder). An encrypted file opens with that key; a plaintext one
        opens as it is (``therascope encrypt`` converts it: :meth:`encrypt`).

        Parameters
        ----------
        path : Path, optional — the SQLite file; default ``data_dir() / "catalog.sqlite"``
        key : bytes, optional — the 32-byte catalog key
            (:meth:`core.security.keystore.Unlocked.catalog_key`); default: that of the file's
            folder when it is unlocked in this process

        Returns
        -------
        Catalog

        Raises
        ------
        CatalogVersionError — written by a newer TheraScope
        CatalogFormatError — not an SQLite database, damaged, or another program's database
        CatalogLockedError — encrypted, and its folder is not unlocked (sign in first)
        CatalogKeyError — encrypted, and the key does not open it (another folder's, damaged)
        StorageError — the folder or file cannot be created or written (read-only, full,
            locked, denied, missing), in words; never called damaged
        """
        path = Path(path) if path is not None else data_dir() / CATALOG_FILENAME
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            _check_is_sqlite(path)
            if key is None:
                key = folder_key(path.parent)
            conn = _connect(path, key)
        except _OPEN_ERRORS as exc:
            raise explain(exc, "open the catalog", path, catalog=True) from exc
        try:
            was = _prepare(conn, path, key)
        except SQL_ERRORS as exc:  # e.g. WAL set-up or the schema on a read-only disk
            conn.close()
            raise explain(exc, "open the catalog", path, catalog=True) from exc
        except BaseException:
            conn.close()
            raise
        cat = cls(conn, path)
        if 0 < was < 4:  # the record files a rebuild needs begin with v4
            cat.write_record_files()
        return cat

    @property
    def is_encrypted(self) -> bool:
        """Whether the catalog file is encrypted (SQLCipher) rather than plaintext SQLite."""
        return not isinstance(self._conn, sqlite3.Connection)

    def encrypt(self, key: bytes) -> bool:
        """Encrypt this plaintext catalog in place with ``key`` and go on with it encrypted
        (:func:`core.catalog.cipher.encrypt_catalog`: verified, atomic, the plaintext's WAL
        gone), then audit it. Other threads wait on the catalog's lock meanwhile; no other
        program, and no other connection of this process, may have the file open.

        Parameters
        ----------
        key : bytes — the 32-byte catalog key of the data folder

        Returns
        -------
        bool — True when it was encrypted now; False when it was encrypted already

        Raises
        ------
        CatalogEncryptionError — in use by another program, or the copy did not verify; the
            catalog stays plaintext and open
        StorageError — a read or write failed (a full disk…); the catalog stays plaintext
        """
        with self._lock:
            if not is_plaintext(self.path):
                return False
            self._conn.close()
            try:
                done = encrypt_catalog(self.path, key)
            finally:  # encrypted or not, the catalog goes on with the file as it now is
                self._conn = _connect(self.path, None if is_plaintext(self.path) else key)
                _set_pragmas(self._conn)
            with self._conn:
                self._write_audit(
                    "update",
                    "catalog",
                    None,
                    f"encrypted at rest (SQLCipher): {done.tables} tables, {done.rows} rows",
                )
            return True

    @property
    def data_root(self) -> Path:
        """The data folder: the catalog file's folder (sessions/, patients/ …)."""
        return self.path.parent

    def _mirror_patient(self, patient: Patient) -> None:
        if patient.uuid:
            try_write(
                patient_file(self.data_root, patient.uuid),
                patient_record(patient),
                "patient record",
            )

    def _mirror_session(self, session_id: int) -> None:
        """Write the session folder's ``catalog.json`` (only into a folder that exists: a row
        without a folder on disk gets none)."""
        s = self.get_session(session_id)
        if s is None or not (self.data_root / s.folder).is_dir():
            return
        patient = self.get_patient(s.patient_id)
        if patient is None:
            return
        reports = [
            {"created_at": r.created_at, "pages": r.pages, "include_name": r.include_name}
            for r in self.list_reports(session_id)
        ]
        try_write(
            session_file(self.data_root, s.folder),
            session_record(
                s,
                patient,
                self.list_markers(session_id),
                list(self.self_reports(session_id).values()),
                self.list_analyses(session_id),
                reports,
                questionnaires=self.questionnaire_items(session_id),
                suds=self.list_suds(session_id),
            ),
            "session record",
        )

    def write_record_files(self) -> int:
        """Write every patient's and session's record file now (e.g. once after the catalog
        was migrated to v4, when the files do not exist yet); returns how many were written."""
        n = 0
        for p in self.list_patients():
            self._mirror_patient(p)
            n += 1
        for s in self.list_sessions():
            self._mirror_session(s.id)
            n += 1
        return n

    @property
    def schema_version(self) -> int:
        """The schema version of the open file (``PRAGMA user_version``)."""
        with self._lock:
            return _user_version(self._conn)

    def audit(
        self, action: str, entity: str, entity_id: int | None, detail: str = ""
    ) -> AuditEntry:
        """Append an entry to the audit trail (used by other modules, e.g. for exports).

        Parameters
        ----------
        action : str — one of ``create``, ``update``, ``record``, ``import``, ``finalise``,
            ``recover``, ``export``, ``delete``
        entity : str — what it concerns, e.g. ``session``
        entity_id : int or None — the entity's catalog id
        detail : str — codes and ids only. As a safety net any patient name found in it is
            replaced by ``[name]``.

        Returns
        -------
        AuditEntry
        """
        if action not in AUDIT_ACTIONS:
            raise ValueError(f"Audit action must be one of {', '.join(AUDIT_ACTIONS)}")
        if not entity or not entity.strip():
            raise ValueError("An audit entry needs an entity")
        with self._lock, self._conn:
            clean = self._redact_names(str(detail))
            aid = self._write_audit(action, entity.strip(), entity_id, clean)
            row = self._conn.execute("SELECT * FROM audit WHERE id = ?", (aid,)).fetchone()
        return row_to_audit(row)

    def audit_log(
        self, limit: int = 200, entity: str | None = None, entity_id: int | None = None
    ) -> list[AuditEntry]:
        """The latest audit entries, newest first.

        Parameters
        ----------
        limit : int — at most this many entries
        entity, entity_id : optional — only entries about this entity (and id)
        """
        clauses: list[str] = []
        params: list[object] = []
        if entity is not None:
            clauses.append("entity = ?")
            params.append(entity)
        if entity_id is not None:
            clauses.append("entity_id = ?")
            params.append(entity_id)
        where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
        with self._lock:
            rows = self._conn.execute(
                f"SELECT * FROM audit{where} ORDER BY id DESC LIMIT ?", (*params, int(limit))
            ).fetchall()
        return [row_to_audit(r) for r in rows]

    def erase_free_space(self) -> bool:
        """Leave no copy of deleted rows in the catalog's files: rewrite the database without its
        free pages (``VACUUM``), then copy the WAL file into it and empty it
        (``wal_checkpoint(TRUNCATE)``).

        Returns
        -------
        bool — True when the WAL file was emptied; False when another connection was reading
            meanwhile (its pages stay in the WAL file until the next checkpoint)
        """
        with self._lock:
            self._conn.execute("VACUUM")
            busy, _log, _done = self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        return int(busy) == 0

    def close(self) -> None:
        """Close the connection (committed data is already on disk)."""
        with self._lock:
            self._conn.close()

    def __enter__(self) -> Catalog:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _redact_names(self, detail: str) -> str:
        """Replace any patient name (whole, or a part of 3+ letters) by ``[name]``."""
        if not detail:
            return detail
        names = [
            r[0] for r in self._conn.execute("SELECT name FROM patients WHERE name IS NOT NULL")
        ]
        pieces: set[str] = set()
        for name in names:
            pieces.add(name)
            pieces.update(part for part in re.split(r"\W+", name) if len(part) >= 3)
        # Longest first, so a full name is replaced before its parts.
        for piece in sorted(pieces, key=len, reverse=True):
            if len(piece) < 2:
                continue
            pattern = rf"(?<!\w){re.escape(piece)}(?!\w)"
            detail = re.sub(pattern, "[name]", detail, flags=re.IGNORECASE)
        return detail


#: what each catalog operation does, for the message when storage fails ("Could not …")
_DOING = {
    "add_marker": "save the marker",
    "add_patient": "save the new patient",
    "add_suds": "save the SUDS rating",
    "archive_patient": "archive the patient",
    "audit": "write the audit trail",
    "create_session": "start the session",
    "delete_marker": "delete the marker",
    "delete_patient": "delete the patient",
    "delete_session": "delete the session",
    "delete_suds": "delete the SUDS rating",
    "encrypt": "encrypt the catalog",
    "erase_free_space": "erase the deleted rows from the catalog file",
    "finalise_session": "save the finished session",
    "record_analysis": "save the analysis",
    "record_report": "record the report's export",
    "set_questionnaire": "save the questionnaire",
    "set_self_report": "save the patient's ratings",
    "set_session_status": "save the session's state",
    "unarchive_patient": "make the patient active again",
    "update_analysis_summary": "save the analysis",
    "update_marker": "save the marker",
    "update_patient": "save the patient",
    "update_session_notes": "save the session notes",
    "update_session_quality": "save the session's quality figures",
    "update_suds": "save the SUDS rating",
}


# --- the mirror: each committed change is also written to the data folder's record files ---

#: what the mirror must know from before a change (what a deletion takes away)
_BEFORE: dict[str, Callable[[Catalog, Any], Any]] = {
    "delete_patient": lambda c, pid: c.get_patient(pid),
    "delete_marker": lambda c, mid: c._marker_or_raise(mid).session_id,
}


#: changes that return the session they changed, and those that return a part of one
_RETURNS_SESSION = {
    "create_session",
    "finalise_session",
    "set_session_status",
    "update_session_notes",
    "update_session_quality",
}
_RETURNS_SESSION_PART = {
    "add_marker",
    "update_marker",
    "set_self_report",
    "set_questionnaire",
    "add_suds",
    "update_suds",
    "delete_suds",
    "record_analysis",
    "update_analysis_summary",
    "record_report",
}


def _mirror_after(cat: Catalog, name: str, result: Any, before: Any) -> None:
    """Bring the record files up to date after the catalog committed ``name``."""
    if name in ("add_patient", "update_patient", "archive_patient", "unarchive_patient"):
        cat._mirror_patient(result)
    elif name == "delete_patient":
        if before is not None and before.uuid:
            try_remove(patient_file(cat.data_root, before.uuid), "patient record")
        for s in result:  # their folders are gone; a left-over file must not bring them back
            try_remove(session_file(cat.data_root, s.folder), "session record")
    elif name == "delete_session":
        try_remove(session_file(cat.data_root, result.folder), "session record")
    elif name in _RETURNS_SESSION:
        cat._mirror_session(result.id)
    elif name in _RETURNS_SESSION_PART:
        cat._mirror_session(result.session_id)
    elif name == "delete_marker":
        cat._mirror_session(before)


def _guarded(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    doing = _DOING.get(name, "read the catalog")
    before_of = _BEFORE.get(name)
    mirrored = name in _DOING and name != "audit"

    @functools.wraps(fn)
    def call(self: Catalog, *args: Any, **kwargs: Any) -> Any:
        try:
            first = args[0] if args else next(iter(kwargs.values()), None)
            before = before_of(self, first) if before_of is not None else None
            result = fn(self, *args, **kwargs)
        except SQL_ERRORS as exc:
            log.warning("catalog %s failed: %s: %s", name, type(exc).__name__, exc)
            raise explain(exc, doing, self.path, catalog=True) from exc
        if mirrored:
            try:
                _mirror_after(self, name, result, before)
            except _MIRROR_ERRORS as exc:  # a safety net only
                log.warning("catalog mirror after %s failed: %s", name, exc)
        return result

    return call


# One boundary for every public catalog operation: an SQLite error (read-only, full, damaged,
# locked…) leaves as a StorageError that says what failed and what to do. SQLite rolls the
# transaction back, so nothing was changed.
def _guard_catalog() -> None:
    for name in dir(Catalog):
        fn = inspect.getattr_static(Catalog, name)
        if name.startswith("_") or name == "close" or not inspect.isfunction(fn):
            continue  # open() maps its own errors; properties and helpers are inside a call
        setattr(Catalog, name, _guarded(name, fn))


_guard_catalog()
