"""The catalog's facts mirrored into the data folder, so a lost or damaged catalog can be rebuilt.

Each patient has a small record file of its own, ``patients/<uuid>.json`` (code, name, birth
year, notes, demo, archived); each session folder has ``catalog.json`` (whose session it is, its
catalog row, markers, self-reports, questionnaire items, SUDS ratings, analyses and report
exports). The catalog writes them after
each change it commits (:class:`core.catalog.Catalog`); :mod:`core.catalog.rebuild` reads them.

They are a safety net, not the record: a mirror that cannot be written (a full disk) is logged and
the catalog's change stands. Each file is replaced atomically, so a crash leaves the previous one.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict
from pathlib import Path
from typing import Any

from core.catalog.models import AnalysisRecord, Marker, Patient, SelfReport, SessionRecord
from core.clinical.instruments import SudsRating
from core.security import vault

log = logging.getLogger(__name__)

PATIENT_FORMAT = "therascope-patient"
SESSION_FORMAT = "therascope-session-catalog"
MIRROR_VERSION = 1
PATIENTS_FOLDER = "patients"
SESSION_FILE = "catalog.json"


def patient_file(data_root: Path, uuid: str) -> Path:
    """The record file of the patient with this UUID."""
    return data_root / PATIENTS_FOLDER / f"{uuid}.json"


def session_file(data_root: Path, folder: str) -> Path:
    """The catalog facts file of the session in ``folder`` (relative to the data folder)."""
    return data_root / folder / SESSION_FILE


def write_json(path: Path, data: dict[str, Any]) -> None:
    """Replace ``path`` atomically with ``data`` as JSON (written, synced, then renamed)."""
    text = json.dumps(data, ensure_ascii=False, indent=1, sort_keys=True)
    # sealed in a sealed session folder, or with the patient's key (core.security.vault)
    vault.write_bytes_atomic(path, text.encode("utf-8"))


def patient_record(p: Patient) -> dict[str, Any]:
    """The patient's record file's content."""
    fields = asdict(p)
    fields.pop("id")
    return {"format": PATIENT_FORMAT, "format_version": MIRROR_VERSION, "patient": fields}


def session_record(
    s: SessionRecord,
    patient: Patient,
    markers: list[Marker],
    self_reports: list[SelfReport],
    analyses: list[AnalysisRecord],
    reports: list[dict[str, Any]],
    *,
    questionnaires: dict[str, dict[str, dict[int, int]]] | None = None,
    suds: list[SudsRating] | None = None,
) -> dict[str, Any]:
    """A session folder's ``catalog.json`` content (catalog ids left out: a rebuilt catalog
    numbers anew)."""
    row = asdict(s)
    for key in ("id", "patient_id"):
        row.pop(key)
    return {
        "format": SESSION_FORMAT,
        "format_version": MIRROR_VERSION,
        "patient_uuid": patient.uuid,
        "patient_code": patient.code,
        "session": row,
        "markers": [
            {k: v for k, v in asdict(m).items() if k not in ("id", "session_id")} for m in markers
        ],
        "self_reports": [
            {k: v for k, v in asdict(r).items() if k not in ("id", "session_id")}
            for r in self_reports
        ],
        "analyses": [
            {k: v for k, v in asdict(a).items() if k not in ("id", "session_id")} for a in analyses
        ],
        "reports": reports,
        # {phase: {instrument: {item (text, JSON keys are strings): score}}}
        "questionnaires": {
            phase: {key: {str(i): v for i, v in items.items()} for key, items in by.items()}
            for phase, by in (questionnaires or {}).items()
        },
        "suds": [
            {"t_s": r.t_s, "rating": r.rating, "created_at": r.created_at} for r in suds or []
        ],
    }


def try_write(path: Path, data: dict[str, Any], what: str) -> None:
    """Write a mirror file; a failure is logged (the catalog's change stands)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_json(path, data)
    except OSError as exc:
        log.warning("could not write %s (%s): %s", what, path.name, exc)


def try_remove(path: Path, what: str) -> None:
    """Remove a mirror file; a failure is logged."""
    try:
        path.unlink(missing_ok=True)
    except OSError as exc:
        log.warning("could not remove %s (%s): %s", what, path.name, exc)
