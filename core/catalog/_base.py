"""Shared plumbing of the catalog: the connection, the lock, times and row conversion."""

from __future__ import annotations

import json
import sqlite3
import threading
import unicodedata
from datetime import datetime, timezone
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any

from core.catalog.models import (
    AnalysisRecord,
    AuditEntry,
    Marker,
    Patient,
    ReportRecord,
    SelfReport,
    SessionRecord,
)


def utc_now() -> str:
    """The current wall-clock time as an ISO-8601 UTC string (ms resolution)."""
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def to_iso_utc(value: datetime | str, what: str) -> str:
    """Normalise a time to the catalog's ISO-8601 UTC form.

    Parameters
    ----------
    value : datetime or str — an aware datetime, or an ISO-8601 string with an offset or ``Z``
    what : str — the field's name, for the error message

    Returns
    -------
    str — ``YYYY-MM-DDTHH:MM:SS.mmm+00:00``

    Raises
    ------
    ValueError — empty, unparsable, or without a time zone (a naive time is ambiguous)
    """
    if isinstance(value, str):
        text = value.strip()
        if not text:
            raise ValueError(f"{what} is required")
        # Python 3.10's fromisoformat does not accept a trailing "Z".
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        try:
            value = datetime.fromisoformat(text)
        except ValueError:
            raise ValueError(f"{what} is not an ISO-8601 time: {value!r}") from None
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{what} must carry a time zone (UTC), got {value.isoformat()}")
    return value.astimezone(timezone.utc).isoformat(timespec="milliseconds")


def to_json_object(value: dict[str, Any], what: str) -> str:
    """Encode a dict as strict JSON (sorted keys; NaN and infinity refused).

    Raises
    ------
    ValueError — not a dict, or not JSON-serialisable
    """
    if not isinstance(value, dict):
        raise ValueError(f"{what} must be a dict")
    try:
        return json.dumps(value, sort_keys=True, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{what} cannot be stored as JSON: {exc}") from None


def clean_relative_path(value: str, what: str, root: str) -> str:
    """Validate a path relative to ``root`` and store it with forward slashes.

    Parameters
    ----------
    value : str — the path
    what : str — what it is, for the message (e.g. ``Session folder``)
    root : str — what it is relative to, for the message (e.g. ``the data directory``)

    Raises
    ------
    ValueError — empty, absolute, on a drive, or reaching outside ``root`` with ``..``
    """
    text = str(value).strip().replace("\\", "/")
    if not text or PureWindowsPath(str(value)).is_absolute() or text.startswith("/"):
        raise ValueError(f"{what} must be relative to {root}: {value!r}")
    path = PurePosixPath(text)
    if ".." in path.parts or PureWindowsPath(str(value)).drive:
        raise ValueError(f"{what} must stay inside {root}: {value!r}")
    return path.as_posix()


#: line breaks and tabs are allowed in notes (multi-line text), nowhere else
_MULTILINE_OK = {"\n", "\t", "\r"}


def clean_text(value: object, what: str, max_len: int, multiline: bool = False) -> str:
    """Check free text before it is stored: at most ``max_len`` characters, and no control
    characters (NUL, escape, …; line breaks and tabs only where ``multiline``) or unpaired
    surrogates. Format characters (right-to-left marks, the joiners inside emoji) are kept.

    Raises
    ------
    ValueError — what is wrong, in words (the GUI shows it as it is)
    """
    text = str(value)
    if len(text) > max_len:
        raise ValueError(f"{what} has {len(text):,} characters; at most {max_len:,} are kept")
    for ch in text:
        cat = unicodedata.category(ch)
        if cat == "Cs" or (cat == "Cc" and not (multiline and ch in _MULTILINE_OK)):
            shown = f"U+{ord(ch):04X}"
            raise ValueError(
                f"{what} contains a control character ({shown}) that cannot be stored; "
                "remove it (it may have come with pasted text)"
            )
    return text


class CatalogBase:
    """State shared by the catalog's parts: one connection, guarded by one lock.

    The lock is re-entrant so that a public method may call another one while holding it.
    """

    _conn: sqlite3.Connection
    _lock: threading.RLock
    path: Path

    def __init__(self, conn: sqlite3.Connection, path: Path) -> None:
        self._conn = conn
        self._lock = threading.RLock()
        self.path = path
        #: the account acting through this catalog (its name in the key store), written into
        #: every audit row; None: the program itself (recovery at start, a migration)
        self.account: str | None = None

    def _write_audit(self, action: str, entity: str, entity_id: int | None, detail: str) -> int:
        """Insert one audit row, naming :attr:`account`; the caller holds the lock and an open
        transaction."""
        if self._has_account_column():
            cur = self._conn.execute(
                "INSERT INTO audit (at, action, entity, entity_id, detail, account)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (utc_now(), action, entity, entity_id, detail, self.account),
            )
        else:  # a catalog being migrated from before v6
            cur = self._conn.execute(
                "INSERT INTO audit (at, action, entity, entity_id, detail) VALUES (?, ?, ?, ?, ?)",
                (utc_now(), action, entity, entity_id, detail),
            )
        return int(cur.lastrowid or 0)

    def _has_account_column(self) -> bool:
        cols = self._conn.execute("PRAGMA table_info(audit)").fetchall()
        return any(c[1] == "account" for c in cols)


def row_to_patient(row: sqlite3.Row) -> Patient:
    """Build a :class:`Patient` from a ``patients`` row."""
    return Patient(
        id=row["id"],
        code=row["code"],
        name=row["name"],
        birth_year=row["birth_year"],
        notes=row["notes"],
        is_demo=bool(row["is_demo"]),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        # absent only from a catalog opened below v3 (a migration test stopping early);
        # keys(): `in` on an sqlite3.Row looks at the values
        archived_at=row["archived_at"] if "archived_at" in row.keys() else None,  # noqa: SIM118
        uuid=row["uuid"] if "uuid" in row.keys() else None,  # noqa: SIM118
    )


def row_to_session(row: sqlite3.Row) -> SessionRecord:
    """Build a :class:`SessionRecord` from a ``sessions`` row (JSON columns decoded)."""
    return SessionRecord(
        id=row["id"],
        uid=row["uid"],
        patient_id=row["patient_id"],
        started_at=row["started_at"],
        ended_at=row["ended_at"],
        duration_s=row["duration_s"],
        status=row["status"],
        devices=json.loads(row["devices_json"]),
        settings=json.loads(row["settings_json"]),
        consent_at=row["consent_at"],
        consent_note=row["consent_note"],
        simulated=bool(row["simulated"]),
        folder=row["folder"],
        quality=json.loads(row["quality_json"]),
        notes=row["notes"],
    )


def row_to_marker(row: sqlite3.Row) -> Marker:
    """Build a :class:`Marker` from a ``markers`` row."""
    return Marker(
        id=row["id"],
        session_id=row["session_id"],
        t_s=row["t_s"],
        kind=row["kind"],
        label=row["label"],
        created_at=row["created_at"],
    )


def row_to_audit(row: sqlite3.Row) -> AuditEntry:
    """Build an :class:`AuditEntry` from an ``audit`` row."""
    return AuditEntry(
        id=row["id"],
        at=row["at"],
        action=row["action"],
        entity=row["entity"],
        entity_id=row["entity_id"],
        detail=row["detail"],
        account=row["account"] if "account" in row.keys() else None,  # noqa: SIM118
    )


def row_to_self_report(row: sqlite3.Row) -> SelfReport:
    """Build a :class:`SelfReport` from a ``self_reports`` row."""
    return SelfReport(
        id=row["id"],
        session_id=row["session_id"],
        phase=row["phase"],
        sam_valence=row["sam_valence"],
        sam_arousal=row["sam_arousal"],
        gad7=row["gad7"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def row_to_analysis(row: sqlite3.Row) -> AnalysisRecord:
    """Build an :class:`AnalysisRecord` from an ``analyses`` row (the summary decoded)."""
    return AnalysisRecord(
        id=row["id"],
        session_id=row["session_id"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        checkpoint_sha256=row["checkpoint_sha256"],
        checkpoint_label=row["checkpoint_label"],
        demo_model=bool(row["demo_model"]),
        device=row["device"],
        result_dir=row["result_dir"],
        summary=json.loads(row["summary_json"]),
    )


def row_to_report(row: sqlite3.Row) -> ReportRecord:
    """Build a :class:`ReportRecord` from a ``reports`` row."""
    return ReportRecord(
        id=row["id"],
        session_id=row["session_id"],
        created_at=row["created_at"],
        pages=row["pages"],
        include_name=bool(row["include_name"]),
    )
