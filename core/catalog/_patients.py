"""Patients: create, read, update, search, archive and delete."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Collection
from datetime import date
from typing import Any
from uuid import uuid4

from core.catalog._base import (
    CatalogBase,
    clean_text,
    row_to_patient,
    row_to_session,
    utc_now,
)
from core.catalog.models import (
    MAX_CODE_LEN,
    MAX_NAME_LEN,
    MAX_NOTES_LEN,
    Patient,
    PatientOverview,
    SessionRecord,
)

MIN_BIRTH_YEAR = 1900

_PATIENT_FIELDS = ("code", "name", "birth_year", "notes", "is_demo")
#: how the audit entry of a deleted demo patient ends (read by ``demo_patient_deleted``)
_DEMO_DELETED = "; demo=1"
#: what an erased patient's code becomes in the audit trail
ERASED = "[erased]"
#: the audit fields that hold a patient's code (``code=``, and ``was=`` after a change of code)
_CODE_FIELD = re.compile(r"(?:^|;\s*)(code|was)=([^;]*)")


def clean_code(code: str) -> str:
    """Validate and normalise a patient code (stripped, 1–32 printable characters)."""
    if not isinstance(code, str):
        raise ValueError("The patient code must be text")
    code = code.strip()
    if not code:
        raise ValueError("A patient code is required")
    if len(code) > MAX_CODE_LEN:
        raise ValueError(f"A patient code has at most {MAX_CODE_LEN} characters")
    if any(unicodedata.category(ch).startswith("C") for ch in code):
        raise ValueError("A patient code cannot contain control characters")
    return code


def clean_birth_year(year: int | None) -> int | None:
    """Validate a birth year: ``None`` or between 1900 and the current year."""
    if year is None:
        return None
    if isinstance(year, bool) or not isinstance(year, int):
        raise ValueError("The birth year must be a whole number")
    this_year = date.today().year
    if not MIN_BIRTH_YEAR <= year <= this_year:
        raise ValueError(f"The birth year must be between {MIN_BIRTH_YEAR} and {this_year}")
    return year


def clean_name(name: str | None) -> str | None:
    """Strip a name; an empty name is stored as ``None``; at most :data:`MAX_NAME_LEN`
    characters, no control characters."""
    if name is None:
        return None
    name = clean_text(str(name).strip(), "The name", MAX_NAME_LEN)
    return name or None


class PatientsMixin(CatalogBase):
    """Patient methods of :class:`core.catalog.Catalog`."""

    def add_patient(
        self,
        code: str,
        name: str | None = None,
        birth_year: int | None = None,
        notes: str = "",
        is_demo: bool = False,
    ) -> Patient:
        """Add a patient.

        Parameters
        ----------
        code : str — pseudonymous code, unique (case-insensitive), 1–32 characters
        name : str, optional — clear name (kept out of the audit trail)
        birth_year : int, optional — year of birth (1900 – this year)
        notes : str — free notes
        is_demo : bool — a demo patient

        Returns
        -------
        Patient

        Raises
        ------
        ValueError — invalid fields, or the code is already in use
        """
        code = clean_code(code)
        name = clean_name(name)
        birth_year = clean_birth_year(birth_year)
        notes = clean_text(notes, "The notes", MAX_NOTES_LEN, multiline=True)
        now = utc_now()
        with self._lock, self._conn:
            if self._code_taken(code, exclude_id=None):
                raise ValueError(f"A patient with code {code} already exists")
            cur = self._conn.execute(
                "INSERT INTO patients (code, name, birth_year, notes, is_demo, created_at,"
                " updated_at, uuid) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (code, name, birth_year, notes, int(bool(is_demo)), now, now, str(uuid4())),
            )
            pid = int(cur.lastrowid or 0)
            self._write_audit("create", "patient", pid, f"code={code}")
            return self._patient_or_raise(pid)

    def update_patient(self, patient_id: int, **fields: Any) -> Patient:
        """Change some of a patient's fields.

        Parameters
        ----------
        patient_id : int — the patient's id
        **fields — any of ``code``, ``name``, ``birth_year``, ``notes``, ``is_demo``

        Returns
        -------
        Patient — as stored after the change

        Raises
        ------
        KeyError — no such patient
        ValueError — an unknown field, an invalid value, or a code already in use
        """
        unknown = sorted(set(fields) - set(_PATIENT_FIELDS))
        if unknown:
            raise ValueError(f"Unknown patient field(s): {', '.join(unknown)}")
        values: dict[str, Any] = {}
        if "code" in fields:
            values["code"] = clean_code(fields["code"])
        if "name" in fields:
            values["name"] = clean_name(fields["name"])
        if "birth_year" in fields:
            values["birth_year"] = clean_birth_year(fields["birth_year"])
        if "notes" in fields:
            values["notes"] = clean_text(fields["notes"], "The notes", MAX_NOTES_LEN, True)
        if "is_demo" in fields:
            values["is_demo"] = int(bool(fields["is_demo"]))
        with self._lock, self._conn:
            old = self._patient_or_raise(patient_id)
            if not values:
                return old
            if "code" in values and self._code_taken(values["code"], exclude_id=patient_id):
                raise ValueError(f"A patient with code {values['code']} already exists")
            assignments = ", ".join(f"{k} = ?" for k in values)
            self._conn.execute(
                f"UPDATE patients SET {assignments}, updated_at = ? WHERE id = ?",
                (*values.values(), utc_now(), patient_id),
            )
            # Field names only: the values may be a name or notes.
            detail = f"code={values.get('code', old.code)}; fields={','.join(values)}"
            if values.get("code", old.code) != old.code:
                detail += f"; was={old.code}"
            self._write_audit("update", "patient", patient_id, detail)
            return self._patient_or_raise(patient_id)

    def get_patient(self, patient_id: int) -> Patient | None:
        """The patient with this id, or ``None``."""
        with self._lock:
            row = self._conn.execute(
                "SELECT * FROM patients WHERE id = ?", (patient_id,)
            ).fetchone()
        return row_to_patient(row) if row else None

    def patient_by_code(self, code: str) -> Patient | None:
        """The patient with this code (case-insensitive, surrounding spaces ignored), or ``None``."""
        with self._lock:
            row = self._conn.execute(
                "SELECT * FROM patients WHERE code = ?", (str(code).strip(),)
            ).fetchone()
        return row_to_patient(row) if row else None

    def list_patients(self, search: str = "", *, include_archived: bool = True) -> list[Patient]:
        """Patients ordered by code, optionally only those whose code or name contains ``search``.

        Parameters
        ----------
        search : str — case-insensitive substring of the code or the name; empty for all
        include_archived : bool — also archived patients (the default: every patient)
        """
        with self._lock:
            rows = self._conn.execute("SELECT * FROM patients ORDER BY code").fetchall()
        patients = [row_to_patient(r) for r in rows]
        if not include_archived:
            patients = [p for p in patients if not p.archived]
        needle = search.strip().casefold()
        if not needle:
            return patients
        # Filtered in Python: SQLite's LIKE folds ASCII only, and names are often not ASCII.
        return [
            p
            for p in patients
            if needle in p.code.casefold() or (p.name is not None and needle in p.name.casefold())
        ]

    def delete_patient(
        self,
        patient_id: int,
        *,
        with_sessions: bool = False,
        expected_sessions: Collection[int] | None = None,
    ) -> list[SessionRecord]:
        """Delete a patient, and with it (only when asked) its sessions with their markers,
        self-reports, analyses and report records.

        The session folders on disk are left alone: :func:`core.catalog.erasure.delete_patient_data`
        removes them first, then calls this.

        In the same transaction the patient's code (and any code it had before) leaves the audit
        trail: wherever an entry names it (``code=``, ``was=``, ``patient=``, a session folder
        ``…/<code>/…``) it becomes ``[erased]``. The history of what happened stays; the
        deletion's own entries name the uuid and the ids only.

        Parameters
        ----------
        patient_id : int — the patient's id
        with_sessions : bool — also delete the patient's sessions; without it a patient who has
            sessions is refused
        expected_sessions : collection of int, optional — the ids of the sessions the caller
            removed the folders of; a patient whose sessions are not exactly these (one was
            started meanwhile) is refused and nothing is deleted

        Returns
        -------
        list of SessionRecord — the deleted sessions (their ``folder`` is for the caller to remove)

        Raises
        ------
        KeyError — no such patient
        ValueError — the patient has sessions and ``with_sessions`` is false, or its sessions are
            not ``expected_sessions``
        """
        with self._lock, self._conn:
            patient = self._patient_or_raise(patient_id)
            rows = self._conn.execute(
                "SELECT * FROM sessions WHERE patient_id = ? ORDER BY started_at", (patient_id,)
            ).fetchall()
            sessions = [row_to_session(r) for r in rows]
            if sessions and not with_sessions:
                raise ValueError(
                    f"Patient {patient.code} has {len(sessions)} session(s); "
                    "delete them too or keep the patient"
                )
            if expected_sessions is not None and {s.id for s in sessions} != set(expected_sessions):
                raise ValueError(
                    f"Patient {patient.code}'s sessions changed meanwhile (a session was started "
                    "or deleted); nothing more was deleted, try again"
                )
            codes = self._codes_of(patient_id) | {patient.code}
            for s in sessions:
                self._conn.execute("DELETE FROM sessions WHERE id = ?", (s.id,))
            self._conn.execute("DELETE FROM patients WHERE id = ?", (patient_id,))
            self._erase_codes_from_audit(codes)
            # the tombstones: ids and uuids only, never the code
            for s in sessions:
                self._write_audit(
                    "delete", "session", s.id, f"uid={s.uid}; patient_uuid={patient.uuid or '-'}"
                )
            detail = f"uuid={patient.uuid or '-'}; sessions={len(sessions)}"
            if patient.is_demo:
                detail += _DEMO_DELETED  # remembered: see demo_patient_deleted
            self._write_audit("delete", "patient", patient_id, detail)
        return sessions

    def demo_patient_deleted(self) -> bool:
        """A demo patient was deleted from this catalog on purpose (the audit trail says so), so
        the app does not build it again by itself."""
        with self._lock:
            row = self._conn.execute(
                "SELECT 1 FROM audit WHERE action = 'delete' AND entity = 'patient'"
                " AND substr(detail, -?) = ? LIMIT 1",
                (len(_DEMO_DELETED), _DEMO_DELETED),
            ).fetchone()
        return row is not None

    def archive_patient(self, patient_id: int) -> Patient:
        """Archive a patient: every record is kept, the patients list hides it by default.

        Returns
        -------
        Patient — as stored (unchanged, and no audit entry, if it was archived already)

        Raises
        ------
        KeyError — no such patient
        """
        return self._set_archived(patient_id, archived=True)

    def unarchive_patient(self, patient_id: int) -> Patient:
        """Make an archived patient active again (see :meth:`archive_patient`).

        Raises
        ------
        KeyError — no such patient
        """
        return self._set_archived(patient_id, archived=False)

    def patient_overview(self, *, include_archived: bool = True) -> list[PatientOverview]:
        """Every patient with the number of sessions and the start of the latest, ordered by code.

        Parameters
        ----------
        include_archived : bool — also archived patients (the default: every patient)
        """
        with self._lock:
            rows = self._conn.execute(
                "SELECT p.id, p.code, p.name, p.is_demo, p.archived_at, COUNT(s.id) AS n_sessions,"
                " MAX(s.started_at) AS last_session_at"
                " FROM patients p LEFT JOIN sessions s ON s.patient_id = p.id"
                " GROUP BY p.id ORDER BY p.code"
            ).fetchall()
        return [
            PatientOverview(
                id=r["id"],
                code=r["code"],
                name=r["name"],
                is_demo=bool(r["is_demo"]),
                archived=r["archived_at"] is not None,
                n_sessions=int(r["n_sessions"]),
                last_session_at=r["last_session_at"],
            )
            for r in rows
            if include_archived or r["archived_at"] is None
        ]

    def _set_archived(self, patient_id: int, archived: bool) -> Patient:
        with self._lock, self._conn:
            old = self._patient_or_raise(patient_id)
            if old.archived == archived:
                return old
            now = utc_now()
            self._conn.execute(
                "UPDATE patients SET archived_at = ?, updated_at = ? WHERE id = ?",
                (now if archived else None, now, patient_id),
            )
            what = "archived" if archived else "unarchived"
            self._write_audit("update", "patient", patient_id, f"code={old.code}; {what}")
            return self._patient_or_raise(patient_id)

    def _codes_of(self, patient_id: int) -> set[str]:
        """Every code the patient had, as its audit entries say (``code=``, ``was=``)."""
        rows = self._conn.execute(
            "SELECT detail FROM audit WHERE entity = 'patient' AND entity_id = ?", (patient_id,)
        ).fetchall()
        found: set[str] = set()
        for (detail,) in rows:
            found.update(m.group(2) for m in _CODE_FIELD.finditer(detail or ""))
        return {c for c in found if c}

    def _erase_codes_from_audit(self, codes: set[str]) -> int:
        """Replace ``codes`` by ``[erased]`` where audit entries name them; the caller holds the
        lock and an open transaction. Returns how many entries changed."""
        patterns = [
            re.compile(
                rf"((?:^|;\s*)(?:code|was|patient)=){re.escape(code)}(?=;|$)"
                rf"|((?:^|;\s*)folder=[^;]*/){re.escape(code)}(?=/)",
                re.IGNORECASE,
            )
            for code in sorted(codes, key=len, reverse=True)
        ]
        changed = 0
        rows = self._conn.execute("SELECT id, detail FROM audit").fetchall()
        for aid, detail in rows:
            text = detail or ""
            for pattern in patterns:
                text = pattern.sub(lambda m: (m.group(1) or m.group(2)) + ERASED, text)
            if text != (detail or ""):
                self._conn.execute("UPDATE audit SET detail = ? WHERE id = ?", (text, aid))
                changed += 1
        return changed

    def _code_taken(self, code: str, exclude_id: int | None) -> bool:
        row = self._conn.execute(
            "SELECT id FROM patients WHERE code = ? AND id IS NOT ?", (code, exclude_id)
        ).fetchone()
        return row is not None

    def _patient_or_raise(self, patient_id: int) -> Patient:
        row = self._conn.execute("SELECT * FROM patients WHERE id = ?", (patient_id,)).fetchone()
        if row is None:
            raise KeyError(f"No patient with id {patient_id}")
        return row_to_patient(row)
