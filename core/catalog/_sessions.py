"""Sessions and their markers."""

from __future__ import annotations

import math
import re
from datetime import datetime
from typing import Any

from core.catalog._base import (
    CatalogBase,
    clean_relative_path,
    clean_text,
    row_to_marker,
    row_to_session,
    to_iso_utc,
    to_json_object,
    utc_now,
)
from core.catalog.models import (
    MARKER_KINDS,
    MAX_LABEL_LEN,
    MAX_NOTES_LEN,
    SESSION_STATUSES,
    Marker,
    SessionRecord,
)

# Folder-safe on every platform: no separators, no leading dot, nothing Windows reserves.
_UID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")

_END_STATUS_ACTION = {"finalised": "finalise", "recovered": "recover", "failed": "update"}


def _check_uid(uid: str) -> str:
    if not isinstance(uid, str) or not _UID_RE.match(uid):
        raise ValueError(
            f"Session uid {uid!r} is not folder-safe "
            "(letters, digits, '.', '_', '-'; at most 128; not starting with '.', '_' or '-')"
        )
    return uid


def _check_folder(folder: str) -> str:
    """A path relative to the data directory, stored with forward slashes."""
    return clean_relative_path(folder, "Session folder", "the data directory")


def _check_t_s(t_s: float) -> float:
    t = float(t_s)
    if not math.isfinite(t) or t < 0:
        raise ValueError(f"Marker time must be a finite number of seconds ≥ 0, got {t_s!r}")
    return t


def _check_kind(kind: str) -> str:
    if kind not in MARKER_KINDS:
        raise ValueError(f"Marker kind must be one of {', '.join(MARKER_KINDS)}; got {kind!r}")
    return kind


class SessionsMixin(CatalogBase):
    """Session and marker methods of :class:`core.catalog.Catalog`."""

    def create_session(
        self,
        patient_id: int,
        uid: str,
        started_at: datetime | str,
        devices: dict[str, Any],
        settings: dict[str, Any],
        consent_at: datetime | str,
        consent_note: str,
        simulated: bool,
        folder: str,
        imported: bool = False,
    ) -> SessionRecord:
        """Register a session that is starting to record (status ``recording``).

        Parameters
        ----------
        patient_id : int — the patient's id
        uid : str — unique, folder-safe id
        started_at : datetime or str — start of recording, aware datetime or ISO-8601 with offset
        devices : dict — the devices in use (JSON-serialisable)
        settings : dict — the recording settings (JSON-serialisable)
        consent_at : datetime or str — when consent was recorded; required, not after ``started_at``
        consent_note : str — how consent was given
        simulated : bool — recorded from simulated devices
        folder : str — the session folder, relative to the data directory
        imported : bool — made from another tool's files: ``started_at`` is when that recording
            began, and the consent to use it may be recorded later

        Returns
        -------
        SessionRecord

        Raises
        ------
        ValueError — no consent, consent after the start, invalid fields, or the uid in use
        KeyError — no such patient
        """
        if consent_at is None or (isinstance(consent_at, str) and not consent_at.strip()):
            raise ValueError("Consent must be recorded before a session can start")
        consent_iso = to_iso_utc(consent_at, "consent_at")
        started_iso = to_iso_utc(started_at, "started_at")
        if consent_iso > started_iso and not imported:
            raise ValueError("Consent must be recorded before the recording starts")
        uid = _check_uid(uid)
        folder = _check_folder(folder)
        devices_json = to_json_object(devices, "devices")
        settings_json = to_json_object(settings, "settings")
        with self._lock, self._conn:
            prow = self._conn.execute(
                "SELECT code FROM patients WHERE id = ?", (patient_id,)
            ).fetchone()
            if prow is None:
                raise KeyError(f"No patient with id {patient_id}")
            if self._conn.execute("SELECT 1 FROM sessions WHERE uid = ?", (uid,)).fetchone():
                raise ValueError(f"A session with uid {uid} already exists")
            cur = self._conn.execute(
                "INSERT INTO sessions (uid, patient_id, started_at, status, devices_json,"
                " settings_json, consent_at, consent_note, simulated, folder)"
                " VALUES (?, ?, ?, 'recording', ?, ?, ?, ?, ?, ?)",
                (
                    uid,
                    patient_id,
                    started_iso,
                    devices_json,
                    settings_json,
                    consent_iso,
                    str(consent_note),
                    int(bool(simulated)),
                    folder,
                ),
            )
            sid = int(cur.lastrowid or 0)
            self._write_audit(
                "create",
                "session",
                sid,
                f"uid={uid}; patient={prow['code']}; simulated={int(bool(simulated))}",
            )
            return self._session_or_raise(sid)

    def finalise_session(
        self,
        session_id: int,
        ended_at: datetime | str,
        duration_s: float,
        quality: dict[str, Any],
        status: str = "finalised",
    ) -> SessionRecord:
        """Close a session: its end, length and quality figures.

        Parameters
        ----------
        session_id : int — the session's id
        ended_at : datetime or str — end of recording (aware datetime or ISO-8601 with offset)
        duration_s : float — recorded length (s), ≥ 0
        quality : dict — lost samples, dropped frames … (JSON-serialisable)
        status : str — ``finalised``, ``recovered`` (after a crash) or ``failed``

        Returns
        -------
        SessionRecord

        Raises
        ------
        KeyError — no such session
        ValueError — invalid fields
        """
        if status not in _END_STATUS_ACTION:
            raise ValueError(f"A session ends as one of {', '.join(_END_STATUS_ACTION)}")
        ended_iso = to_iso_utc(ended_at, "ended_at")
        duration = float(duration_s)
        if not math.isfinite(duration) or duration < 0:
            raise ValueError(f"duration_s must be a finite number ≥ 0, got {duration_s!r}")
        quality_json = to_json_object(quality, "quality")
        with self._lock, self._conn:
            old = self._session_or_raise(session_id)
            self._conn.execute(
                "UPDATE sessions SET ended_at = ?, duration_s = ?, quality_json = ?, status = ?"
                " WHERE id = ?",
                (ended_iso, duration, quality_json, status, session_id),
            )
            self._write_audit(
                _END_STATUS_ACTION[status],
                "session",
                session_id,
                f"uid={old.uid}; status={status}; duration_s={duration:.3f}",
            )
            return self._session_or_raise(session_id)

    def set_session_status(self, session_id: int, status: str) -> SessionRecord:
        """Set a session's status (``recording``, ``finalised``, ``recovered`` or ``failed``)."""
        if status not in SESSION_STATUSES:
            raise ValueError(f"Session status must be one of {', '.join(SESSION_STATUSES)}")
        with self._lock, self._conn:
            old = self._session_or_raise(session_id)
            self._conn.execute("UPDATE sessions SET status = ? WHERE id = ?", (status, session_id))
            action = _END_STATUS_ACTION.get(status, "update")
            self._write_audit(
                action, "session", session_id, f"uid={old.uid}; status={old.status}->{status}"
            )
            return self._session_or_raise(session_id)

    def update_session_quality(self, session_id: int, quality: dict[str, Any]) -> SessionRecord:
        """Replace a finished session's stored quality figures (e.g. after ``verify`` found a
        damaged file: the lists and the report then count what the damage cost).

        Raises
        ------
        KeyError — no such session
        ValueError — the session is still recording, or ``quality`` is not strict JSON
        """
        quality_json = to_json_object(quality, "The quality figures")
        with self._lock, self._conn:
            old = self._session_or_raise(session_id)
            if old.status == "recording":
                raise ValueError(f"Session {old.uid} is still recording")
            self._conn.execute(
                "UPDATE sessions SET quality_json = ? WHERE id = ?", (quality_json, session_id)
            )
            self._write_audit("update", "session", session_id, f"uid={old.uid}; fields=quality")
            return self._session_or_raise(session_id)

    def update_session_notes(self, session_id: int, notes: str) -> SessionRecord:
        """Replace a session's free notes (the notes stay out of the audit trail)."""
        notes = clean_text(notes, "The session notes", MAX_NOTES_LEN, multiline=True)
        with self._lock, self._conn:
            old = self._session_or_raise(session_id)
            self._conn.execute("UPDATE sessions SET notes = ? WHERE id = ?", (notes, session_id))
            self._write_audit("update", "session", session_id, f"uid={old.uid}; fields=notes")
            return self._session_or_raise(session_id)

    def get_session(self, session_id: int) -> SessionRecord | None:
        """The session with this id, or ``None``."""
        with self._lock:
            row = self._conn.execute(
                "SELECT * FROM sessions WHERE id = ?", (session_id,)
            ).fetchone()
        return row_to_session(row) if row else None

    def session_by_uid(self, uid: str) -> SessionRecord | None:
        """The session with this uid, or ``None``."""
        with self._lock:
            row = self._conn.execute("SELECT * FROM sessions WHERE uid = ?", (uid,)).fetchone()
        return row_to_session(row) if row else None

    def list_sessions(
        self, patient_id: int | None = None, status: str | None = None
    ) -> list[SessionRecord]:
        """Sessions, newest first, optionally of one patient and/or with one status."""
        clauses: list[str] = []
        params: list[object] = []
        if patient_id is not None:
            clauses.append("patient_id = ?")
            params.append(patient_id)
        if status is not None:
            clauses.append("status = ?")
            params.append(status)
        where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
        with self._lock:
            rows = self._conn.execute(
                f"SELECT * FROM sessions{where} ORDER BY started_at DESC, id DESC", params
            ).fetchall()
        return [row_to_session(r) for r in rows]

    def unfinished_sessions(self) -> list[SessionRecord]:
        """Sessions still marked ``recording``: after a crash, the ones to recover."""
        return self.list_sessions(status="recording")

    def delete_session(self, session_id: int) -> SessionRecord:
        """Delete a session with its markers, self-reports, analyses and report records.

        The folder on disk is left for the caller.

        Returns
        -------
        SessionRecord — the deleted session (its ``folder`` is for the caller to remove)

        Raises
        ------
        KeyError — no such session
        """
        with self._lock, self._conn:
            old = self._session_or_raise(session_id)
            self._conn.execute("DELETE FROM sessions WHERE id = ?", (session_id,))
            self._write_audit("delete", "session", session_id, f"uid={old.uid}")
        return old

    def add_marker(self, session_id: int, t_s: float, kind: str, label: str = "") -> Marker:
        """Add a marker to a session.

        Parameters
        ----------
        session_id : int — the session's id
        t_s : float — time since the session's start (s), ≥ 0
        kind : str — ``treatment_start``, ``treatment_end`` or ``note``
        label : str — free text (kept out of the audit trail)

        Raises
        ------
        KeyError — no such session
        ValueError — invalid time or kind
        """
        t = _check_t_s(t_s)
        kind = _check_kind(kind)
        label = clean_text(label, "The marker's text", MAX_LABEL_LEN)
        with self._lock, self._conn:
            session = self._session_or_raise(session_id)
            cur = self._conn.execute(
                "INSERT INTO markers (session_id, t_s, kind, label, created_at)"
                " VALUES (?, ?, ?, ?, ?)",
                (session_id, t, kind, label, utc_now()),
            )
            mid = int(cur.lastrowid or 0)
            self._write_audit(
                "create", "marker", mid, f"session={session.uid}; kind={kind}; t_s={t:.3f}"
            )
            return self._marker_or_raise(mid)

    def update_marker(
        self,
        marker_id: int,
        *,
        t_s: float | None = None,
        kind: str | None = None,
        label: str | None = None,
    ) -> Marker:
        """Change a marker's time, kind and/or label; ``None`` leaves a field as it is."""
        values: dict[str, Any] = {}
        if t_s is not None:
            values["t_s"] = _check_t_s(t_s)
        if kind is not None:
            values["kind"] = _check_kind(kind)
        if label is not None:
            values["label"] = clean_text(label, "The marker's text", MAX_LABEL_LEN)
        with self._lock, self._conn:
            old = self._marker_or_raise(marker_id)
            if not values:
                return old
            assignments = ", ".join(f"{k} = ?" for k in values)
            self._conn.execute(
                f"UPDATE markers SET {assignments} WHERE id = ?", (*values.values(), marker_id)
            )
            self._write_audit(
                "update",
                "marker",
                marker_id,
                f"session_id={old.session_id}; fields={','.join(values)}",
            )
            return self._marker_or_raise(marker_id)

    def delete_marker(self, marker_id: int) -> None:
        """Delete a marker.

        Raises
        ------
        KeyError — no such marker
        """
        with self._lock, self._conn:
            old = self._marker_or_raise(marker_id)
            self._conn.execute("DELETE FROM markers WHERE id = ?", (marker_id,))
            self._write_audit(
                "delete", "marker", marker_id, f"session_id={old.session_id}; kind={old.kind}"
            )

    def list_markers(self, session_id: int) -> list[Marker]:
        """A session's markers in time order."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT * FROM markers WHERE session_id = ? ORDER BY t_s, id", (session_id,)
            ).fetchall()
        return [row_to_marker(r) for r in rows]

    def _session_or_raise(self, session_id: int) -> SessionRecord:
        row = self._conn.execute("SELECT * FROM sessions WHERE id = ?", (session_id,)).fetchone()
        if row is None:
            raise KeyError(f"No session with id {session_id}")
        return row_to_session(row)

    def _marker_or_raise(self, marker_id: int) -> Marker:
        row = self._conn.execute("SELECT * FROM markers WHERE id = ?", (marker_id,)).fetchone()
        if row is None:
            raise KeyError(f"No marker with id {marker_id}")
        return row_to_marker(row)
