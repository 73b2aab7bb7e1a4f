"""What follows a recording: self-reports, analysis runs, exported reports, and a session's state.

Session state (:meth:`ReportsMixin.session_state`), from ``sessions.status`` and the rows here:

============================  ==========================================================
``sessions.status``           state
============================  ==========================================================
``recording``                 ``recording`` — being recorded now, or it crashed and will be
                              recovered at the next start (:meth:`unfinished_sessions`)
``failed``                    ``failed`` — nothing usable was recorded (e.g. folder missing)
``finalised``, ``recovered``  ``reported`` if a report was exported, else ``analysed`` if it
                              was analysed, else ``recorded``
============================  ==========================================================

The furthest step reached counts: a session re-analysed after its report stays ``reported``.
"""

from __future__ import annotations

import operator
import re
import sqlite3
from typing import Any

from core.catalog._base import (
    CatalogBase,
    clean_relative_path,
    row_to_analysis,
    row_to_report,
    row_to_self_report,
    to_json_object,
    utc_now,
)
from core.catalog.models import SELF_REPORT_PHASES, AnalysisRecord, ReportRecord, SelfReport

_SHA256_RE = re.compile(r"^[0-9a-f]{64}$")

# (column, name in messages, lowest, highest)
_SCORES: tuple[tuple[str, str, int, int], ...] = (
    ("sam_valence", "SAM valence", 1, 9),
    ("sam_arousal", "SAM arousal", 1, 9),
    ("gad7", "GAD-7", 0, 21),
)

_STATE_SQL = (
    "SELECT s.id, s.status,"
    " EXISTS (SELECT 1 FROM analyses a WHERE a.session_id = s.id) AS analysed,"
    " EXISTS (SELECT 1 FROM reports r WHERE r.session_id = s.id) AS reported"
    " FROM sessions s"
)


def _check_score(value: int | None, what: str, lo: int, hi: int) -> int | None:
    """``None``, or a whole number within ``lo``–``hi``."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise ValueError(f"{what} must be a whole number {lo}–{hi}, got {value!r}")
    try:
        number = operator.index(value)  # int, numpy integers; not floats or text
    except TypeError:
        raise ValueError(f"{what} must be a whole number {lo}–{hi}, got {value!r}") from None
    if not lo <= number <= hi:
        raise ValueError(f"{what} must be {lo}–{hi}, got {number}")
    return number


def _check_phase(phase: str) -> str:
    if phase not in SELF_REPORT_PHASES:
        raise ValueError(f"Self-report phase must be 'pre' or 'post', got {phase!r}")
    return phase


def _check_text(value: str, what: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{what} is required")
    return value.strip()


def _check_sha256(value: str) -> str:
    text = value.strip().lower() if isinstance(value, str) else ""
    if not _SHA256_RE.match(text):
        raise ValueError(f"checkpoint_sha256 must be 64 hexadecimal digits, got {value!r}")
    return text


def _state(status: str, analysed: bool, reported: bool) -> str:
    """The state shown in the sessions table (see the module's table)."""
    if status not in ("finalised", "recovered"):
        return status
    if reported:
        return "reported"
    if analysed:
        return "analysed"
    return "recorded"


class ReportsMixin(CatalogBase):
    """Self-report, analysis, report and session-state methods of :class:`core.catalog.Catalog`."""

    # --- self-reports ----------------------------------------------------------------------

    def set_self_report(
        self,
        session_id: int,
        phase: str,
        *,
        sam_valence: int | None = None,
        sam_arousal: int | None = None,
        gad7: int | None = None,
    ) -> SelfReport:
        """Save the patient's ratings for one phase of a session (insert or replace).

        Meant to be called as the therapist types: every call stores all three fields as given
        (``None`` clears one); a call that changes nothing writes nothing.

        Parameters
        ----------
        session_id : int — the session's id
        phase : str — ``pre`` or ``post``
        sam_valence : int or None — SAM valence, 1 (unpleasant) – 9 (pleasant)
        sam_arousal : int or None — SAM arousal, 1 (calm) – 9 (activated)
        gad7 : int or None — GAD-7 total, 0 – 21

        Returns
        -------
        SelfReport — as stored

        Raises
        ------
        ValueError — an unknown phase or a score out of range (e.g. "SAM valence must be 1–9,
            got 12")
        KeyError — no such session
        """
        phase = _check_phase(phase)
        given = {"sam_valence": sam_valence, "sam_arousal": sam_arousal, "gad7": gad7}
        values = {col: _check_score(given[col], what, lo, hi) for col, what, lo, hi in _SCORES}
        with self._lock, self._conn:
            self._require_session(session_id)
            self._gad7_total_agrees_with_items(session_id, phase, values["gad7"])
            row = self._conn.execute(
                "SELECT * FROM self_reports WHERE session_id = ? AND phase = ?",
                (session_id, phase),
            ).fetchone()
            now = utc_now()
            if row is None:
                cur = self._conn.execute(
                    "INSERT INTO self_reports (session_id, phase, sam_valence, sam_arousal, gad7,"
                    " created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (session_id, phase, *values.values(), now, now),
                )
                rid = int(cur.lastrowid or 0)
                fields = [col for col, v in values.items() if v is not None]
                action = "create"
            else:
                rid = int(row["id"])
                fields = [col for col, v in values.items() if row[col] != v]
                if not fields:
                    return row_to_self_report(row)
                self._conn.execute(
                    "UPDATE self_reports SET sam_valence = ?, sam_arousal = ?, gad7 = ?,"
                    " updated_at = ? WHERE id = ?",
                    (*values.values(), now, rid),
                )
                action = "update"
            self._write_audit(
                action,
                "self_report",
                rid,
                f"session_id={session_id}; phase={phase}; fields={','.join(fields) or '-'}",
            )
            return self._self_report_or_raise(rid)

    def _gad7_total_agrees_with_items(self, session_id: int, phase: str, gad7: int | None) -> None:
        """Once GAD-7 is entered item by item for a phase, its total is their sum (all seven
        answered) or empty: a different total is refused (v8; :mod:`core.catalog._clinical`).
        While items are incomplete, a total entered alone before them may stay (or be cleared)."""
        rows = self._conn.execute(
            "SELECT score FROM questionnaire_items WHERE session_id = ? AND phase = ?"
            " AND instrument = 'gad7'",
            (session_id, phase),
        ).fetchall()
        if not rows:
            return
        derived = sum(int(r[0]) for r in rows) if len(rows) == 7 else None
        if derived is None:
            kept = self._conn.execute(
                "SELECT gad7 FROM self_reports WHERE session_id = ? AND phase = ?",
                (session_id, phase),
            ).fetchone()
            if gad7 is None or (kept is not None and gad7 == kept[0]):
                return
        if gad7 != derived:
            follows = f"{derived}" if derived is not None else "empty until all 7 are answered"
            raise ValueError(
                f"GAD-7 {phase} is entered item by item; its total follows from the items "
                f"({follows}), got {gad7}"
            )

    def self_reports(self, session_id: int) -> dict[str, SelfReport]:
        """A session's self-reports keyed by phase (``pre``, ``post``; absent if never saved)."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT * FROM self_reports WHERE session_id = ? ORDER BY phase DESC",
                (session_id,),
            ).fetchall()
        return {r["phase"]: row_to_self_report(r) for r in rows}

    # --- analyses --------------------------------------------------------------------------

    def record_analysis(
        self,
        session_id: int,
        *,
        checkpoint_sha256: str,
        checkpoint_label: str,
        demo_model: bool,
        device: str,
        result_dir: str,
        summary: dict[str, Any],
    ) -> AnalysisRecord:
        """Record one analysis run of a session.

        Parameters
        ----------
        session_id : int — the session's id
        checkpoint_sha256 : str — SHA-256 of the checkpoint (64 hex digits; stored lowercase)
        checkpoint_label : str — the checkpoint's name as shown to the therapist
        demo_model : bool — the demo model was used
        device : str — what it ran on, e.g. ``cpu`` or ``cuda: NVIDIA H100``
        result_dir : str — the results' folder, relative to the session folder
        summary : dict — the circumplex summary; strict JSON (no NaN or infinity: use None)

        Returns
        -------
        AnalysisRecord

        Raises
        ------
        ValueError — invalid fields
        KeyError — no such session
        """
        sha = _check_sha256(checkpoint_sha256)
        label = _check_text(checkpoint_label, "checkpoint_label")
        device = _check_text(device, "device")
        result_dir = clean_relative_path(result_dir, "result_dir", "the session folder")
        summary_json = to_json_object(summary, "The analysis summary")
        demo = int(bool(demo_model))
        with self._lock, self._conn:
            self._require_session(session_id)
            now = utc_now()
            cur = self._conn.execute(
                "INSERT INTO analyses (session_id, created_at, updated_at, checkpoint_sha256,"
                " checkpoint_label, demo_model, device, result_dir, summary_json)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (session_id, now, now, sha, label, demo, device, result_dir, summary_json),
            )
            aid = int(cur.lastrowid or 0)
            # No label or device: free text, and the sha identifies the checkpoint.
            self._write_audit(
                "create",
                "analysis",
                aid,
                f"session_id={session_id}; checkpoint={sha[:12]}; demo_model={demo}",
            )
            return self._analysis_or_raise(aid)

    def update_analysis_summary(self, analysis_id: int, summary: dict[str, Any]) -> AnalysisRecord:
        """Replace an analysis's summary (recomputed, e.g. after the phase markers were edited).

        Returns
        -------
        AnalysisRecord — as stored (unchanged, and no audit entry, if the summary is the same)

        Raises
        ------
        ValueError — the summary is not a JSON-serialisable dict
        KeyError — no such analysis
        """
        summary_json = to_json_object(summary, "The analysis summary")
        with self._lock, self._conn:
            old = self._analysis_row_or_raise(analysis_id)
            if old["summary_json"] == summary_json:
                return row_to_analysis(old)
            self._conn.execute(
                "UPDATE analyses SET summary_json = ?, updated_at = ? WHERE id = ?",
                (summary_json, utc_now(), analysis_id),
            )
            self._write_audit(
                "update",
                "analysis",
                analysis_id,
                f"session_id={old['session_id']}; fields=summary",
            )
            return self._analysis_or_raise(analysis_id)

    def latest_analysis(self, session_id: int) -> AnalysisRecord | None:
        """The session's most recently recorded analysis, or ``None``."""
        with self._lock:
            row = self._conn.execute(
                "SELECT * FROM analyses WHERE session_id = ? ORDER BY id DESC LIMIT 1",
                (session_id,),
            ).fetchone()
        return row_to_analysis(row) if row else None

    def get_analysis(self, analysis_id: int) -> AnalysisRecord | None:
        """The analysis with this id, or ``None``."""
        with self._lock:
            row = self._conn.execute(
                "SELECT * FROM analyses WHERE id = ?", (analysis_id,)
            ).fetchone()
        return row_to_analysis(row) if row else None

    def list_analyses(self, session_id: int) -> list[AnalysisRecord]:
        """A session's analyses, newest first (in the order they were recorded)."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT * FROM analyses WHERE session_id = ? ORDER BY id DESC", (session_id,)
            ).fetchall()
        return [row_to_analysis(r) for r in rows]

    # --- reports ---------------------------------------------------------------------------

    def record_report(self, session_id: int, *, pages: int, include_name: bool) -> ReportRecord:
        """Record that a session's report was exported (audited as ``export``).

        Parameters
        ----------
        session_id : int — the session's id
        pages : int — number of pages, ≥ 1
        include_name : bool — the patient's name was printed

        Raises
        ------
        ValueError — pages not a whole number ≥ 1
        KeyError — no such session
        """
        if isinstance(pages, bool):
            raise ValueError(f"pages must be a whole number ≥ 1, got {pages!r}")
        try:
            n_pages = operator.index(pages)
        except TypeError:
            raise ValueError(f"pages must be a whole number ≥ 1, got {pages!r}") from None
        if n_pages < 1:
            raise ValueError(f"pages must be a whole number ≥ 1, got {n_pages}")
        with_name = int(bool(include_name))
        with self._lock, self._conn:
            self._require_session(session_id)
            cur = self._conn.execute(
                "INSERT INTO reports (session_id, created_at, pages, include_name)"
                " VALUES (?, ?, ?, ?)",
                (session_id, utc_now(), n_pages, with_name),
            )
            rid = int(cur.lastrowid or 0)
            self._write_audit(
                "export",
                "report",
                rid,
                f"session_id={session_id}; pages={n_pages}; include_name={with_name}",
            )
            row = self._conn.execute("SELECT * FROM reports WHERE id = ?", (rid,)).fetchone()
            return row_to_report(row)

    def list_reports(self, session_id: int) -> list[ReportRecord]:
        """A session's exported reports, newest first."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT * FROM reports WHERE session_id = ? ORDER BY id DESC", (session_id,)
            ).fetchall()
        return [row_to_report(r) for r in rows]

    # --- state -----------------------------------------------------------------------------

    def session_state(self, session_id: int) -> str:
        """The session's state for the sessions table (see the module docstring).

        Returns
        -------
        str — ``recording``, ``failed``, ``recorded``, ``analysed`` or ``reported``

        Raises
        ------
        KeyError — no such session
        """
        with self._lock:
            row = self._conn.execute(f"{_STATE_SQL} WHERE s.id = ?", (session_id,)).fetchone()
        if row is None:
            raise KeyError(f"No session with id {session_id}")
        return _state(row["status"], bool(row["analysed"]), bool(row["reported"]))

    def session_states(self, patient_id: int | None = None) -> dict[int, str]:
        """:meth:`session_state` of every session (of one patient, if given), in one query."""
        sql = _STATE_SQL
        params: tuple[object, ...] = ()
        if patient_id is not None:
            sql, params = f"{_STATE_SQL} WHERE s.patient_id = ?", (patient_id,)
        with self._lock:
            rows = self._conn.execute(sql, params).fetchall()
        return {
            int(r["id"]): _state(r["status"], bool(r["analysed"]), bool(r["reported"]))
            for r in rows
        }

    # --- helpers (the caller holds the lock) -----------------------------------------------

    def _require_session(self, session_id: int) -> None:
        if (
            self._conn.execute("SELECT 1 FROM sessions WHERE id = ?", (session_id,)).fetchone()
            is None
        ):
            raise KeyError(f"No session with id {session_id}")

    def _self_report_or_raise(self, report_id: int) -> SelfReport:
        row = self._conn.execute("SELECT * FROM self_reports WHERE id = ?", (report_id,)).fetchone()
        if row is None:
            raise KeyError(f"No self-report with id {report_id}")
        return row_to_self_report(row)

    def _analysis_row_or_raise(self, analysis_id: int) -> sqlite3.Row:
        row = self._conn.execute("SELECT * FROM analyses WHERE id = ?", (analysis_id,)).fetchone()
        if row is None:
            raise KeyError(f"No analysis with id {analysis_id}")
        return row

    def _analysis_or_raise(self, analysis_id: int) -> AnalysisRecord:
        return row_to_analysis(self._analysis_row_or_raise(analysis_id))
