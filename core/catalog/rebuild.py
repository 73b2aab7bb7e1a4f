"""Rebuild a catalog from the data folder's record files, beside the old one.

The catalog is the index; the data live in the folders. When the catalog is lost or damaged,
:func:`rebuild_catalog` recreates one from what the folders keep (:mod:`core.catalog._mirror`):
each patient's record file (``patients/<uuid>.json``) and each session folder's ``catalog.json``
(its catalog row, markers, self-reports, analyses, report exports). A session folder without
``catalog.json`` (recorded before these files existed, or its file is damaged) is rebuilt from its
``session.json`` alone: the session comes back, its markers, ratings and analyses do not, and the
result says so. The old catalog is never touched: the new one is written beside it, encrypted
(:mod:`core.catalog.cipher`) when the data folder is unlocked in this process.

What no folder keeps is not recovered, and the result says so: the audit trail (who did what,
when), and a patient whose record file is missing (its sessions are kept under a stand-in
patient named after the UUID, for the therapist to rename).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from core.catalog._base import to_json_object
from core.catalog._mirror import (
    MIRROR_VERSION,
    PATIENT_FORMAT,
    PATIENTS_FOLDER,
    SESSION_FILE,
    SESSION_FORMAT,
)
from core.catalog.cipher import folder_key
from core.catalog.db import CATALOG_FILENAME, Catalog
from core.catalog.models import MARKER_KINDS, SESSION_STATUSES
from core.clinical.instruments import GAD7, check_item, check_suds
from core.security import vault

log = logging.getLogger(__name__)

#: the session manifest's format name (core.recording.manifest.FORMAT; the catalog sits below
#: recording and reads the file as plain JSON)
SESSION_MANIFEST_FORMAT = "therascope-session"


@dataclass
class RebuildResult:
    """What a rebuild recovered, and what it could not.

    Parameters
    ----------
    path : Path — the new catalog file
    patients, sessions, markers, self_reports, analyses, reports : int — rows recreated
    questionnaire_items, suds : int — questionnaire answers and SUDS ratings recreated
    problems : list of str — what could not be recovered, in words (no names: codes and uids)
    """

    path: Path
    patients: int = 0
    sessions: int = 0
    markers: int = 0
    self_reports: int = 0
    analyses: int = 0
    reports: int = 0
    questionnaire_items: int = 0
    suds: int = 0
    problems: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """One line: what the new catalog holds."""
        return (
            f"{self.patients} patient(s), {self.sessions} session(s), {self.markers} marker(s), "
            f"{self.self_reports} self-report(s), {self.questionnaire_items} questionnaire "
            f"item(s), {self.suds} SUDS rating(s), {self.analyses} analysis run(s), "
            f"{self.reports} report export(s)"
        )


def _read(path: Path, fmt: str) -> dict[str, Any]:
    data = json.loads(vault.read_bytes(path).decode("utf-8"))
    if not isinstance(data, dict) or data.get("format") != fmt:
        raise ValueError(f"{path.name} is not a TheraScope {fmt} file")
    if int(data.get("format_version", 0)) > MIRROR_VERSION:
        raise ValueError(f"{path.name} was written by a newer TheraScope")
    return data


def default_target(data_root: Path) -> Path:
    """``catalog.rebuilt-<UTC time>.sqlite`` in the data folder (never an existing file)."""
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    target = data_root / f"catalog.rebuilt-{stamp}.sqlite"
    n = 1
    while target.exists():
        n += 1
        target = data_root / f"catalog.rebuilt-{stamp}-{n}.sqlite"
    return target


def rebuild_catalog(data_root: Path, target: Path | None = None) -> RebuildResult:
    """Recreate a catalog from the record files under ``data_root``.

    Parameters
    ----------
    data_root : Path — the data folder (``patients/``, ``sessions/``)
    target : Path, optional — the new catalog file (must not exist); default
        :func:`default_target`

    Returns
    -------
    RebuildResult

    Raises
    ------
    FileExistsError — ``target`` exists
    StorageError — the new catalog cannot be written (read-only, full…)
    """
    target = target or default_target(data_root)
    if target.exists():
        raise FileExistsError(f"{target} exists already; choose another file")
    if target.resolve() == (data_root / CATALOG_FILENAME).resolve():
        raise FileExistsError("The rebuilt catalog is written beside the old one, not over it")
    result = RebuildResult(target)
    # encrypted under the folder's catalog key when the folder is unlocked here, wherever the
    # new file is written (--out may name another folder)
    cat = Catalog.open(target, key=folder_key(data_root))
    try:
        with cat._lock, cat._conn:
            ids = _patients(cat, data_root, result)
            _sessions(cat, data_root, ids, result)
            cat._write_audit(
                "create",
                "catalog",
                None,
                f"rebuilt from the data folder: {result.summary()}; the old audit trail is not "
                "in the folders",
            )
        result.problems.append(
            "The audit trail (who created, changed, exported or deleted what, and when) is kept "
            "only in the catalog and could not be recovered; the new one starts now."
        )
    finally:
        cat.close()
    return result


def _patients(cat: Catalog, data_root: Path, result: RebuildResult) -> dict[str, int]:
    """Insert every readable patient record; returns UUID → new catalog id."""
    ids: dict[str, int] = {}
    folder = data_root / PATIENTS_FOLDER
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            p = _read(path, PATIENT_FORMAT)["patient"]
            uuid, code = str(p["uuid"]), str(p["code"])
            if uuid in ids:
                raise ValueError("a second record of the same patient")
            cur = cat._conn.execute(
                "INSERT INTO patients (code, name, birth_year, notes, is_demo, created_at,"
                " updated_at, archived_at, uuid) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    code,
                    p.get("name"),
                    p.get("birth_year"),
                    str(p.get("notes") or ""),
                    int(bool(p.get("is_demo"))),
                    str(p["created_at"]),
                    str(p["updated_at"]),
                    p.get("archived_at"),
                    uuid,
                ),
            )
        except (OSError, ValueError, KeyError, TypeError) as exc:
            result.problems.append(f"Patient record {path.name} could not be read ({exc}).")
            continue
        except Exception as exc:  # e.g. two records with one code: sqlite3.IntegrityError
            result.problems.append(f"Patient record {path.name} was not restored ({exc}).")
            continue
        ids[uuid] = int(cur.lastrowid or 0)
        result.patients += 1
    return ids


def _stand_in_patient(cat: Catalog, uuid: str, code_hint: str | None, ids: dict[str, int]) -> int:
    """A patient for sessions whose patient record is missing (the UUID kept, so a later
    record file of the patient matches)."""
    if uuid in ids:
        return ids[uuid]
    code = f"RECOVERED-{uuid[:8]}"
    now = datetime.now(timezone.utc).isoformat(timespec="milliseconds")
    notes = "Restored by rebuild-catalog: the patient's record file was missing."
    if code_hint:
        notes += f" The sessions' record files call the patient {code_hint}."
    cur = cat._conn.execute(
        "INSERT INTO patients (code, name, birth_year, notes, is_demo, created_at, updated_at,"
        " uuid) VALUES (?, NULL, NULL, ?, 0, ?, ?, ?)",
        (code, notes, now, now, uuid),
    )
    ids[uuid] = int(cur.lastrowid or 0)
    return ids[uuid]


def _sessions(cat: Catalog, data_root: Path, ids: dict[str, int], result: RebuildResult) -> None:
    sessions = data_root / "sessions"
    found: list[tuple[Path, dict[str, Any] | None]] = []
    for folder in sorted(sessions.iterdir()) if sessions.is_dir() else []:
        if not folder.is_dir() or folder.name.startswith("."):
            continue
        facts: dict[str, Any] | None = None
        try:
            facts = _read(folder / SESSION_FILE, SESSION_FORMAT)
        except FileNotFoundError:
            pass
        except (OSError, ValueError) as exc:
            result.problems.append(
                f"Session {folder.name}: its catalog.json is unreadable ({exc})."
            )
        found.append((folder, facts))
    # what the sessions call a patient whose own record file is missing
    hints = {
        str(f.get("patient_uuid")): str(f.get("patient_code"))
        for _, f in found
        if f is not None and f.get("patient_code")
    }
    for folder, facts in found:
        rel = f"sessions/{folder.name}"
        # each session in a savepoint: one that fails leaves nothing half restored behind
        counts = {n: getattr(result, n) for n in _COUNTS}
        cat._conn.execute("SAVEPOINT restore_session")
        try:
            if facts is not None:
                _session_from_facts(cat, rel, facts, ids, hints, result, folder.name)
            else:
                _session_from_manifest(cat, folder, rel, ids, hints, result)
        except Exception as exc:  # also sqlite3.IntegrityError: e.g. the same uid twice
            cat._conn.execute("ROLLBACK TO restore_session")
            _restore_counts(result, counts)
            how = "could not be" if isinstance(exc, OSError | ValueError | KeyError) else "was not"
            result.problems.append(f"Session {folder.name} {how} restored ({exc}).")
        cat._conn.execute("RELEASE restore_session")


_COUNTS = (
    "patients",
    "sessions",
    "markers",
    "self_reports",
    "analyses",
    "reports",
    "questionnaire_items",
    "suds",
)


def _restore_counts(result: RebuildResult, counts: dict[str, int]) -> None:
    """Put back the counts taken before a session that was rolled back."""
    for name, value in counts.items():
        setattr(result, name, value)


@contextmanager
def _entry(result: RebuildResult, folder: str, what: str) -> Iterator[None]:
    """One entry of a session's catalog.json: one that cannot be restored (a missing field, a
    value the scales refuse, sqlite3.IntegrityError) is left out and named in
    ``result.problems``; the session's other entries are kept."""
    try:
        yield
    except Exception as exc:
        result.problems.append(f"Session {folder}: {what} was left out ({exc}).")


def _insert_session(cat: Catalog, patient_id: int, rel: str, s: dict[str, Any], status: str) -> int:
    cur = cat._conn.execute(
        "INSERT INTO sessions (uid, patient_id, started_at, ended_at, duration_s, status,"
        " devices_json, settings_json, consent_at, consent_note, simulated, folder, quality_json,"
        " notes) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            str(s["uid"]),
            patient_id,
            str(s["started_at"]),
            s.get("ended_at"),
            s.get("duration_s"),
            status,
            to_json_object(dict(s.get("devices") or {}), "devices"),
            to_json_object(dict(s.get("settings") or {}), "settings"),
            str(s.get("consent_at") or s["started_at"]),
            str(s.get("consent_note") or ""),
            int(bool(s.get("simulated"))),
            rel,
            to_json_object(dict(s.get("quality") or {}), "quality"),
            str(s.get("notes") or ""),
        ),
    )
    return int(cur.lastrowid or 0)


def _patient_for(
    cat: Catalog, uuid: object, hints: dict[str, str], ids: dict[str, int], result: RebuildResult
) -> int:
    if not isinstance(uuid, str) or len(uuid) != 36:
        raise ValueError("it does not say whose session it is")
    code_hint = hints.get(uuid)
    if uuid not in ids:
        pid = _stand_in_patient(cat, uuid, code_hint, ids)
        result.patients += 1
        result.problems.append(
            f"The record file of patient {code_hint or uuid} is missing: their sessions are kept "
            f"under RECOVERED-{uuid[:8]} (rename it on the patient page)."
        )
        return pid
    return ids[uuid]


def _session_from_facts(
    cat: Catalog,
    rel: str,
    facts: dict[str, Any],
    ids: dict[str, int],
    hints: dict[str, str],
    result: RebuildResult,
    folder: str = "",
) -> None:
    """One session from its ``catalog.json``: the session row (an error here fails the whole
    session), then each entry on its own (one refused or damaged entry is left out and named
    in ``result.problems``; the others are kept)."""
    s = facts["session"]
    folder = folder or rel
    pid = _patient_for(cat, facts.get("patient_uuid"), hints, ids, result)
    status = str(s.get("status"))
    if status not in SESSION_STATUSES:
        raise ValueError(f"unknown status {status!r}")
    sid = _insert_session(cat, pid, rel, s, status)
    result.sessions += 1
    sql = cat._conn.execute
    for m in facts.get("markers", []):
        if m.get("kind") not in MARKER_KINDS:
            result.problems.append(
                f"Session {folder}: a marker of unknown kind {m.get('kind')!r} was left out."
            )
            continue
        with _entry(result, folder, "a marker"):
            sql(
                "INSERT INTO markers (session_id, t_s, kind, label, created_at)"
                " VALUES (?, ?, ?, ?, ?)",
                (sid, float(m["t_s"]), m["kind"], str(m.get("label") or ""), str(m["created_at"])),
            )
            result.markers += 1
    for r in facts.get("self_reports", []):
        with _entry(result, folder, f"the {r.get('phase', '?')} self-report"):
            sql(
                "INSERT INTO self_reports (session_id, phase, sam_valence, sam_arousal, gad7,"
                " created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    sid,
                    r["phase"],
                    r.get("sam_valence"),
                    r.get("sam_arousal"),
                    r.get("gad7"),
                    str(r["created_at"]),
                    str(r["updated_at"]),
                ),
            )
            result.self_reports += 1
    now = str(s.get("ended_at") or s.get("started_at"))
    for phase, by in dict(facts.get("questionnaires") or {}).items():
        for key, items in dict(by).items():
            for item, score in dict(items).items():
                with _entry(result, folder, f"{key} item {item} ({phase}) = {score!r}"):
                    checked = check_item(key, int(item), score)  # refused: left out, not changed
                    sql(
                        "INSERT INTO questionnaire_items (session_id, phase, instrument, item,"
                        " score, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                        (sid, phase, key, int(item), checked, now, now),
                    )
                    result.questionnaire_items += 1
    _gad7_totals_from_items(cat, sid, now, folder, result)
    for r in facts.get("suds", []):
        with _entry(result, folder, f"a SUDS rating ({r.get('rating')!r})"):
            sql(
                "INSERT INTO suds_ratings (session_id, t_s, rating, created_at)"
                " VALUES (?, ?, ?, ?)",
                (sid, float(r["t_s"]), check_suds(r.get("rating")), str(r["created_at"])),
            )
            result.suds += 1
    # oldest first, so the newest analysis is again the latest
    for a in sorted(facts.get("analyses", []), key=lambda a: str(a.get("created_at"))):
        with _entry(result, folder, f"the analysis of {a.get('created_at', '?')}"):
            sql(
                "INSERT INTO analyses (session_id, created_at, updated_at, checkpoint_sha256,"
                " checkpoint_label, demo_model, device, result_dir, summary_json)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    sid,
                    str(a["created_at"]),
                    str(a["updated_at"]),
                    str(a["checkpoint_sha256"]),
                    str(a["checkpoint_label"]),
                    int(bool(a["demo_model"])),
                    str(a["device"]),
                    str(a["result_dir"]),
                    to_json_object(dict(a.get("summary") or {}), "summary"),
                ),
            )
            result.analyses += 1
    for r in sorted(facts.get("reports", []), key=lambda r: str(r.get("created_at"))):
        with _entry(result, folder, f"the report export of {r.get('created_at', '?')}"):
            sql(
                "INSERT INTO reports (session_id, created_at, pages, include_name)"
                " VALUES (?, ?, ?, ?)",
                (sid, str(r["created_at"]), int(r["pages"]), int(bool(r["include_name"]))),
            )
            result.reports += 1


def _gad7_totals_from_items(
    cat: Catalog, sid: int, now: str, folder: str, result: RebuildResult
) -> None:
    """Where all seven GAD-7 items of a phase were restored, the self-report's total is their
    sum (as the catalog keeps it); a different total in the file is named in the problems."""
    rows = cat._conn.execute(
        "SELECT phase, COUNT(*) AS n, SUM(score) AS total FROM questionnaire_items"
        " WHERE session_id = ? AND instrument = 'gad7' GROUP BY phase",
        (sid,),
    ).fetchall()
    for r in rows:
        if int(r["n"]) != GAD7.n_items:
            continue
        total = int(r["total"])
        sr = cat._conn.execute(
            "SELECT id, gad7 FROM self_reports WHERE session_id = ? AND phase = ?",
            (sid, r["phase"]),
        ).fetchone()
        if sr is None:
            cat._conn.execute(
                "INSERT INTO self_reports (session_id, phase, gad7, created_at, updated_at)"
                " VALUES (?, ?, ?, ?, ?)",
                (sid, r["phase"], total, now, now),
            )
            result.self_reports += 1
        elif sr["gad7"] != total:
            if sr["gad7"] is not None:
                result.problems.append(
                    f"Session {folder}: the GAD-7 {r['phase']} total {sr['gad7']} did not match "
                    f"its seven items; it is now their sum, {total}."
                )
            cat._conn.execute("UPDATE self_reports SET gad7 = ? WHERE id = ?", (total, sr["id"]))


def _session_from_manifest(
    cat: Catalog,
    folder: Path,
    rel: str,
    ids: dict[str, int],
    hints: dict[str, str],
    result: RebuildResult,
) -> None:
    try:
        m = json.loads(vault.read_bytes(folder / "session.json").decode("utf-8"))
    except FileNotFoundError:
        result.problems.append(f"Folder {folder.name} is not a session (no session.json).")
        return
    if not isinstance(m, dict) or m.get("format") != SESSION_MANIFEST_FORMAT:
        raise ValueError("its session.json is not a TheraScope session manifest")
    pid = _patient_for(cat, m.get("patient_uuid"), hints, ids, result)
    status = str(m.get("status"))
    if status not in SESSION_STATUSES:
        status = "recording"  # unfinished: recovered at the next start
    s = {
        "uid": m["uid"],
        "started_at": m["started_at"],
        "ended_at": m.get("ended_at"),
        "duration_s": m.get("duration_s"),
        "devices": m.get("devices"),
        "settings": m.get("settings"),
        "consent_at": m.get("started_at"),
        "simulated": m.get("simulated"),
        "quality": m.get("quality"),
    }
    _insert_session(cat, pid, rel, s, status)
    result.sessions += 1
    result.problems.append(
        f"Session {folder.name} has no catalog.json: it is restored from its recording, without "
        "its markers, ratings, notes and analyses (analyse it again)."
    )
