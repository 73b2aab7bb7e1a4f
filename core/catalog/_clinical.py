"""Questionnaires item by item (GAD-7, PHQ-9) and SUDS ratings of a session.

The scales themselves (items, ranges, scoring, bands) are :mod:`core.clinical.instruments`; here
they are stored. Every value is checked before anything is written: a score out of range is refused
with a message naming the item, and nothing of the call is stored (never clamped).
"""

from __future__ import annotations

import math
import sqlite3
from collections.abc import Mapping

from core.catalog._base import CatalogBase, utc_now
from core.catalog.models import SELF_REPORT_PHASES, QuestionnaireEntry
from core.clinical.instruments import GAD7, SudsRating, check_item, check_suds, instrument


def _row_to_suds(row: sqlite3.Row) -> SudsRating:
    return SudsRating(
        id=int(row["id"]),
        session_id=int(row["session_id"]),
        t_s=float(row["t_s"]),
        rating=int(row["rating"]),
        created_at=str(row["created_at"]),
    )


def _check_phase(phase: str) -> str:
    if phase not in SELF_REPORT_PHASES:
        raise ValueError(f"Questionnaire phase must be 'pre' or 'post', got {phase!r}")
    return phase


def _check_time(t_s: float) -> float:
    try:
        t = float(t_s)
    except (TypeError, ValueError):
        raise ValueError(f"A SUDS rating's time must be a number of seconds, got {t_s!r}") from None
    if not math.isfinite(t) or t < 0:
        raise ValueError(f"A SUDS rating's time must be 0 s or later, got {t_s!r}")
    return t


class ClinicalMixin(CatalogBase):
    """Questionnaire and SUDS methods of :class:`core.catalog.Catalog`."""

    def _require_session_row(self, session_id: int) -> None:
        if (
            self._conn.execute("SELECT 1 FROM sessions WHERE id = ?", (session_id,)).fetchone()
            is None
        ):
            raise KeyError(f"No session with id {session_id}")

    # --- questionnaires --------------------------------------------------------------------

    def set_questionnaire(
        self,
        session_id: int,
        phase: str,
        instrument_key: str,
        answers: Mapping[int, int | None],
    ) -> QuestionnaireEntry:
        """Save answers of one questionnaire (``gad7``, ``phq9``) for one phase of a session.

        Each ``item → score`` given is stored (``None`` clears that item); items not given stay
        as they are. Every score is checked first (0–3, the item must exist): one refused score
        stores nothing of the call. For GAD-7 the self-report's total (``self_reports.gad7``)
        follows the items: their sum once all seven are answered, empty while some are missing;
        a total entered alone (e.g. before v8) stays until all seven are answered, then their
        sum replaces it (the audit entry names the total it replaced).

        Returns
        -------
        QuestionnaireEntry — every item of that questionnaire now stored for the phase

        Raises
        ------
        ValueError — an unknown phase or questionnaire, an item that does not exist, a score
            outside 0–3 (e.g. "PHQ-9 item 9 (Thoughts …) must be from 0 to 3; 4 is outside that
            range")
        KeyError — no such session
        """
        phase = _check_phase(phase)
        ins = instrument(instrument_key)
        checked: dict[int, int | None] = {}
        for item, value in answers.items():
            if value is None:
                check_item(ins, item, 0)  # the item must exist
                checked[int(item)] = None
            else:
                checked[int(item)] = check_item(ins, item, value)
        with self._lock, self._conn:
            self._require_session_row(session_id)
            stored = self._questionnaire_answers(session_id, phase, ins.key)
            now = utc_now()
            changed = []
            for item, value in sorted(checked.items()):
                if stored.get(item) == value:
                    continue
                changed.append(item)
                if value is None:
                    self._conn.execute(
                        "DELETE FROM questionnaire_items WHERE session_id = ? AND phase = ?"
                        " AND instrument = ? AND item = ?",
                        (session_id, phase, ins.key, item),
                    )
                elif item in stored:
                    self._conn.execute(
                        "UPDATE questionnaire_items SET score = ?, updated_at = ?"
                        " WHERE session_id = ? AND phase = ? AND instrument = ? AND item = ?",
                        (value, now, session_id, phase, ins.key, item),
                    )
                else:
                    self._conn.execute(
                        "INSERT INTO questionnaire_items (session_id, phase, instrument, item,"
                        " score, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                        (session_id, phase, ins.key, item, value, now, now),
                    )
            after = self._questionnaire_answers(session_id, phase, ins.key)
            if changed:
                replaced = ""
                if ins.key == GAD7.key:
                    replaced = self._gad7_follows_items(session_id, phase, stored, after, now)
                self._write_audit(
                    "update" if stored else "create",
                    "questionnaire",
                    session_id,
                    f"session_id={session_id}; phase={phase}; instrument={ins.key};"
                    f" items={','.join(map(str, changed))}{replaced}",
                )
        return QuestionnaireEntry(
            session_id=session_id, phase=phase, instrument=ins.key, answers=after
        )

    def _questionnaire_answers(self, session_id: int, phase: str, key: str) -> dict[int, int]:
        rows = self._conn.execute(
            "SELECT item, score FROM questionnaire_items WHERE session_id = ? AND phase = ?"
            " AND instrument = ? ORDER BY item",
            (session_id, phase, key),
        ).fetchall()
        return {int(r["item"]): int(r["score"]) for r in rows}

    def _gad7_follows_items(
        self, session_id: int, phase: str, before: dict[int, int], answers: dict[int, int], now: str
    ) -> str:
        """``self_reports.gad7`` follows the items: their sum once all seven are answered; NULL
        when a complete set loses an item; a total entered alone (no complete set before) stays
        while items are being entered. Returns the audit note ``"; replaced_total=14"`` when a
        complete set replaced such a total, else ``""``. The caller holds the lock and the
        transaction."""
        n = GAD7.n_items
        row = self._conn.execute(
            "SELECT id, gad7 FROM self_reports WHERE session_id = ? AND phase = ?",
            (session_id, phase),
        ).fetchone()
        old = row["gad7"] if row is not None else None
        note = ""
        if len(answers) == n:
            total: int | None = sum(answers.values())
            if old is not None and len(before) != n:
                note = f"; replaced_total={old}"  # a total entered alone, now from the items
        elif len(before) == n:
            total = None  # the total was the items' sum: it goes with the complete set
        else:
            return ""  # a total entered alone stays until all seven items are answered
        if row is None:
            if total is not None:
                self._conn.execute(
                    "INSERT INTO self_reports (session_id, phase, gad7, created_at, updated_at)"
                    " VALUES (?, ?, ?, ?, ?)",
                    (session_id, phase, total, now, now),
                )
        elif old != total:
            self._conn.execute(
                "UPDATE self_reports SET gad7 = ?, updated_at = ? WHERE id = ?",
                (total, now, row["id"]),
            )
        return note

    def questionnaire_items(self, session_id: int) -> dict[str, dict[str, dict[int, int]]]:
        """A session's answered items: ``{phase: {instrument: {item: score}}}`` (only what was
        entered; a GAD-7 total entered alone is in :meth:`self_reports`)."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT phase, instrument, item, score FROM questionnaire_items"
                " WHERE session_id = ? ORDER BY phase DESC, instrument, item",
                (session_id,),
            ).fetchall()
        out: dict[str, dict[str, dict[int, int]]] = {}
        for r in rows:
            out.setdefault(r["phase"], {}).setdefault(r["instrument"], {})[int(r["item"])] = int(
                r["score"]
            )
        return out

    # --- SUDS ------------------------------------------------------------------------------

    def add_suds(self, session_id: int, t_s: float, rating: int) -> SudsRating:
        """Store a SUDS rating (0–100) at ``t_s`` seconds since the session's start.

        Raises
        ------
        ValueError — a rating outside 0–100 or not a whole number, a negative time
        KeyError — no such session
        """
        value = check_suds(rating)
        t = round(_check_time(t_s), 3)
        with self._lock, self._conn:
            self._require_session_row(session_id)
            cur = self._conn.execute(
                "INSERT INTO suds_ratings (session_id, t_s, rating, created_at) VALUES (?, ?, ?, ?)",
                (session_id, t, value, utc_now()),
            )
            sid = int(cur.lastrowid or 0)
            self._write_audit("create", "suds", sid, f"session_id={session_id}; t_s={t:.3f}")
            return self._suds_or_raise(sid)

    def update_suds(self, suds_id: int, rating: int) -> SudsRating:
        """Correct a SUDS rating's value (its moment stays). ValueError: outside 0–100; KeyError:
        no such rating."""
        value = check_suds(rating)
        with self._lock, self._conn:
            old = self._suds_or_raise(suds_id)
            if old.rating == value:
                return old
            self._conn.execute("UPDATE suds_ratings SET rating = ? WHERE id = ?", (value, suds_id))
            self._write_audit("update", "suds", suds_id, f"session_id={old.session_id}")
            return self._suds_or_raise(suds_id)

    def delete_suds(self, suds_id: int) -> SudsRating:
        """Delete a SUDS rating; returns it. KeyError: no such rating."""
        with self._lock, self._conn:
            old = self._suds_or_raise(suds_id)
            self._conn.execute("DELETE FROM suds_ratings WHERE id = ?", (suds_id,))
            self._write_audit("delete", "suds", suds_id, f"session_id={old.session_id}")
            return old

    def list_suds(self, session_id: int) -> list[SudsRating]:
        """A session's SUDS ratings in time order."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT * FROM suds_ratings WHERE session_id = ? ORDER BY t_s, id", (session_id,)
            ).fetchall()
        return [_row_to_suds(r) for r in rows]

    def _suds_or_raise(self, suds_id: int) -> SudsRating:
        row = self._conn.execute("SELECT * FROM suds_ratings WHERE id = ?", (suds_id,)).fetchone()
        if row is None:
            raise KeyError(f"No SUDS rating with id {suds_id}")
        return _row_to_suds(row)
