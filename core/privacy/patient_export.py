"""One patient's data as one zip file: what a patient may ask for (GDPR Art. 15 and 20).

``therascope patients export CODE --out FILE.zip`` and the patient page's "Export patient (zip)…"
call :func:`export_patient`. The zip holds::

    manifest.json                   the patient's code and uuid (name and birth year only when
                                    asked), the sessions, every other file of the zip with its
                                    size and SHA-256, the TheraScope version and the export time
    audit.json                      the audit entries about the patient and its sessions (time,
                                    account, action, entity, detail), oldest first
    sessions/<uid>/data/…           the session's CSV export (:func:`core.transfer.export.
                                    export_session`: signals, markers, estimates, physiology,
                                    session.json)
    sessions/<uid>/video/…          the video as stored: the recorder's frames.mjpeg and
                                    frames.idx, or an imported video's source.* files
    sessions/<uid>/analysis/…       the current analysis: estimates.npz and analysis.json
    sessions/<uid>/markers.json     the markers
    sessions/<uid>/self_reports.json  the patient's ratings (SAM, GAD-7) before and after
    sessions/<uid>/questionnaires.json  GAD-7 and PHQ-9 item by item, scored (core.clinical)
    sessions/<uid>/suds.json        the SUDS ratings with their session times
    sessions/<uid>/reports.json     the PDF reports exported (when, pages, name printed or not)
    sessions/<uid>/reports/*.pdf    PDFs kept inside the session folder, if any (those saved
                                    elsewhere are the clinic's copies and are not reached)

The zip is written to a hidden temporary file beside ``out_zip`` and renamed at the end, so a
failure leaves no zip and no partial one; each session's CSV export is built in a hidden folder
beside it and removed once zipped. A session still recording is left out, and a session whose
files cannot be read is listed with the problem instead of its files (the manifest says which).

Audited once for the patient (``export``, ``patient``, id, ``format=zip; sessions=N``) and once
per session by the CSV export: codes and ids only, never the name or a path.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import os
import re
import secrets
import shutil
import tempfile
import time
import zipfile
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from core import __version__
from core.analysis.results import (
    CURRENT_NAME,
    ESTIMATES_NAME,
    INFO_NAME,
    RESULT_DIR,
    generation_of,
    published_generation,
)
from core.catalog import AuditEntry, Catalog, Patient, SessionRecord
from core.clinical import session_questionnaires
from core.config import Settings
from core.security import vault
from core.transfer.export import export_session

__all__ = [
    "AUDIT_NAME",
    "EXPORT_FORMAT",
    "EXPORT_FORMAT_VERSION",
    "MANIFEST_NAME",
    "PatientExport",
    "audit_excerpt",
    "export_patient",
]

log = logging.getLogger(__name__)

EXPORT_FORMAT = "therascope-patient-export"
EXPORT_FORMAT_VERSION = 1
MANIFEST_NAME = "manifest.json"
AUDIT_NAME = "audit.json"
#: the video files of a session folder: the recorder's (frames.*) or an import's (source.*)
VIDEO_DIR = "video"
VIDEO_STEMS = ("frames", "source")
#: already compressed: stored in the zip as they are
STORED_SUFFIXES = {".mjpeg", ".mp4", ".avi", ".mov", ".mkv", ".webm", ".jpg", ".png", ".pdf"}
_CHUNK = 1 << 20

Progress = Callable[[float], None]


@dataclass
class PatientExport:
    """What :func:`export_patient` wrote.

    Parameters
    ----------
    path : Path — the zip file
    patient_code : str
    sessions : list of str — the uids of the sessions exported
    left_out : dict — uid → why that session's files are not in the zip (recording, unreadable)
    files : int — files in the zip, the manifest included
    bytes : int — the zip's size
    include_name : bool — the patient's name is in the zip
    seconds : float — how long the export took
    """

    path: Path
    patient_code: str
    sessions: list[str] = field(default_factory=list)
    left_out: dict[str, str] = field(default_factory=dict)
    files: int = 0
    bytes: int = 0
    include_name: bool = False
    seconds: float = 0.0


class _ZipWriter:
    """Adds files to the zip and remembers each one's size and SHA-256 for the manifest."""

    def __init__(self, zf: zipfile.ZipFile) -> None:
        self.zf = zf
        self.entries: list[dict[str, Any]] = []

    def add_file(self, src: Path, arcname: str) -> None:
        info = zipfile.ZipInfo.from_file(src, arcname)
        stored = src.suffix.lower() in STORED_SUFFIXES
        info.compress_type = zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED
        digest = hashlib.sha256()
        size = 0
        # the file's content: a sealed session file is decrypted (core.security.vault), so the
        # patient receives readable data
        with vault.open_read(src) as fin:
            big = fin.size > (1 << 31)
            with self.zf.open(info, "w", force_zip64=big) as fout:
                while chunk := fin.read(size, _CHUNK):
                    digest.update(chunk)
                    fout.write(chunk)
                    size += len(chunk)
        self.entries.append({"path": arcname, "bytes": size, "sha256": digest.hexdigest()})

    def add_json(self, data: Any, arcname: str, listed: bool = True) -> None:
        raw = (json.dumps(data, ensure_ascii=False, indent=1, allow_nan=False) + "\n").encode()
        info = zipfile.ZipInfo(arcname, date_time=time.localtime()[:6])
        info.compress_type = zipfile.ZIP_DEFLATED
        info.external_attr = 0o600 << 16
        self.zf.writestr(info, raw)
        if listed:
            self.entries.append(
                {"path": arcname, "bytes": len(raw), "sha256": hashlib.sha256(raw).hexdigest()}
            )


def export_patient(
    catalog: Catalog,
    data_root: Path,
    patient_id: int,
    out_zip: Path,
    *,
    include_name: bool = False,
    settings: Settings | None = None,
    progress: Progress | None = None,
) -> PatientExport:
    """Write every session and record of one patient into one zip file (see the module
    docstring), and audit the export.

    Parameters
    ----------
    catalog : Catalog
    data_root : Path — the data folder
    patient_id : int — the patient's catalog id
    out_zip : Path — the zip file to write (replaced when it exists)
    include_name : bool — write the patient's name too (the manifest, each session.json); by
        default only the code
    settings : Settings, optional — the physiology windows' length (default: the saved settings)
    progress : callable, optional — called with the share done (0–1)

    Returns
    -------
    PatientExport

    Raises
    ------
    KeyError — no such patient
    IsADirectoryError — ``out_zip`` is a folder
    OSError — the zip cannot be written (nothing is left behind)
    """
    t_start = time.perf_counter()
    say: Progress = progress or (lambda _share: None)
    patient = catalog.get_patient(patient_id)
    if patient is None:
        raise KeyError(f"No patient with id {patient_id}")
    out = Path(out_zip)
    if out.is_dir():
        raise IsADirectoryError(f"Export refused: {out.name} is a folder, not a file name")
    settings = settings or Settings.load()
    sessions = catalog.list_sessions(patient_id=patient_id)
    result = PatientExport(path=out, patient_code=patient.code, include_name=include_name)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp_zip = out.parent / f".{out.name}.{secrets.token_hex(8)}.partial"
    work = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".partial", dir=out.parent))
    try:
        with zipfile.ZipFile(tmp_zip, "w", allowZip64=True) as zf:
            writer = _ZipWriter(zf)
            listed: list[dict[str, Any]] = []
            for i, rec in enumerate(sessions):

                def part(share: float, i: int = i) -> None:
                    say(0.95 * (i + share) / max(1, len(sessions)))

                listed.append(
                    _add_session(
                        catalog, data_root, patient, rec, writer, work, include_name, settings,
                        part, result,
                    )
                )  # fmt: skip
            catalog.audit(
                "export", "patient", patient.id, f"format=zip; sessions={len(result.sessions)}"
            )
            writer.add_json(audit_excerpt(catalog, patient, sessions), AUDIT_NAME)
            manifest = _manifest(patient, listed, writer.entries, include_name)
            writer.add_json(manifest, MANIFEST_NAME, listed=False)
        os.chmod(tmp_zip, 0o600)
        os.replace(tmp_zip, out)
    except BaseException:
        tmp_zip.unlink(missing_ok=True)
        raise
    finally:
        shutil.rmtree(work, ignore_errors=True)
    say(1.0)
    result.files = len(writer.entries) + 1
    result.bytes = out.stat().st_size
    result.seconds = time.perf_counter() - t_start
    log.info(
        "patient %s exported as zip: %d session(s), %d left out, %d files, %.1f s",
        patient.uuid,
        len(result.sessions),
        len(result.left_out),
        result.files,
        result.seconds,
    )
    return result


def _add_session(
    catalog: Catalog,
    data_root: Path,
    patient: Patient,
    rec: SessionRecord,
    writer: _ZipWriter,
    work: Path,
    include_name: bool,
    settings: Settings,
    progress: Progress,
    result: PatientExport,
) -> dict[str, Any]:
    """Put one session into the zip; returns its manifest entry."""
    entry: dict[str, Any] = {
        "uid": rec.uid,
        "started_at": rec.started_at,
        "duration_s": rec.duration_s,
        "status": rec.status,
        "simulated": bool(rec.simulated),
        "exported": False,
    }
    base = f"sessions/{rec.uid}"
    if rec.status == "recording":
        why = "still recording (or interrupted and not recovered yet)"
        entry["left_out"] = result.left_out[rec.uid] = why
        return entry
    folder = data_root / rec.folder
    csv_dir = work / rec.uid
    try:
        exported = export_session(
            catalog, data_root, rec.uid, "csv", csv_dir,
            include_name=include_name, settings=settings, progress=progress,
        )  # fmt: skip
    except (ValueError, KeyError, FileNotFoundError) as exc:
        why = f"its files cannot be read: {exc}"
        entry["left_out"] = result.left_out[rec.uid] = why
        log.warning("patient export: session %s left out: %s", rec.uid, exc)
        return entry
    for path in sorted(exported.files):
        writer.add_file(path, f"{base}/data/{path.name}")
    shutil.rmtree(csv_dir, ignore_errors=True)
    video = folder / VIDEO_DIR
    if video.is_dir():
        for path in sorted(video.iterdir()):
            if path.is_file() and path.name.split(".")[0] in VIDEO_STEMS:
                writer.add_file(path, f"{base}/video/{path.name}")
    for path in _analysis_files(catalog, rec, folder):
        writer.add_file(path, f"{base}/analysis/{path.name}")
    writer.add_json([_row(m) for m in catalog.list_markers(rec.id)], f"{base}/markers.json")
    reports = catalog.self_reports(rec.id)
    writer.add_json([_row(r) for r in reports.values()], f"{base}/self_reports.json")
    writer.add_json(_questionnaires(catalog, rec.id), f"{base}/questionnaires.json")
    writer.add_json([_row(r) for r in catalog.list_suds(rec.id)], f"{base}/suds.json")
    writer.add_json([_row(r) for r in catalog.list_reports(rec.id)], f"{base}/reports.json")
    for path in sorted(folder.rglob("*.pdf")):
        if path.is_file():
            writer.add_file(path, f"{base}/reports/{path.name}")
    entry.update(
        exported=True,
        analysed=exported.analysed,
        markers=exported.markers,
        notes=exported.notes,
    )
    result.sessions.append(rec.uid)
    return entry


def _analysis_files(catalog: Catalog, rec: SessionRecord, folder: Path) -> list[Path]:
    """The files of the session's current analysis: the generation the catalog names, else the
    published one, else the older layout's pair."""
    adir = folder / RESULT_DIR
    latest = catalog.latest_analysis(rec.id)
    gen = generation_of(latest.result_dir) if latest is not None else None
    if gen is None or not (adir / gen).is_dir():
        try:
            gen = published_generation(folder)
        except ValueError:  # a damaged pointer: the older layout's files, if any
            gen = None
    where = adir / gen if gen is not None else adir
    names = (ESTIMATES_NAME, INFO_NAME)
    found = [where / n for n in names if (where / n).is_file()]
    if gen is not None and (adir / CURRENT_NAME).is_file():
        found.append(adir / CURRENT_NAME)
    return found


def _questionnaires(catalog: Catalog, session_id: int) -> list[dict[str, Any]]:
    """Each questionnaire of each phase as entered, with its total, band and source."""
    return [
        {
            "phase": r.phase,
            "instrument": r.instrument,
            "answers": {str(i): v for i, v in r.answers.items()},
            "total": r.total,
            "band": r.band,
            "source": r.source,
            "flagged": r.flagged,
        }
        for by in session_questionnaires(catalog, session_id).values()
        for r in by.values()
    ]


def _row(record: Any) -> dict[str, Any]:
    """A catalog record as JSON, without the catalog's ids (they mean nothing outside it)."""
    return {k: v for k, v in asdict(record).items() if k not in ("id", "session_id")}


def _manifest(
    patient: Patient,
    sessions: list[dict[str, Any]],
    files: list[dict[str, Any]],
    include_name: bool,
) -> dict[str, Any]:
    who: dict[str, Any] = {"code": patient.code, "uuid": patient.uuid}
    if include_name:  # what identifies the patient, only when asked
        if patient.name:
            who["name"] = patient.name
        if patient.birth_year is not None:
            who["birth_year"] = patient.birth_year
    return {
        "format": EXPORT_FORMAT,
        "format_version": EXPORT_FORMAT_VERSION,
        "therascope_version": __version__,
        "exported_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "patient": who,
        "sessions": sessions,
        "files": files,
    }


_SESSION_ID = re.compile(r"(?:^|;\s*)session_id=(\d+)(?=;|$)")
_SESSION_UID = re.compile(r"(?:^|;\s*)(?:session|uid)=([^;]*)")


def audit_excerpt(
    catalog: Catalog, patient: Patient, sessions: list[SessionRecord]
) -> list[dict[str, Any]]:
    """The audit entries about ``patient`` and its ``sessions`` (and their markers, self-reports,
    analyses and reports), oldest first, as JSON rows."""
    ids = {s.id for s in sessions}
    uids = {s.uid for s in sessions}

    def about(e: AuditEntry) -> bool:
        if e.entity == "patient":
            return e.entity_id == patient.id
        if e.entity in ("session", "session_folder") and e.entity_id in ids:
            return True
        detail = e.detail or ""
        by_id = _SESSION_ID.search(detail)
        if by_id is not None and int(by_id.group(1)) in ids:
            return True
        return any(m.group(1) in uids for m in _SESSION_UID.finditer(detail))

    rows = [e for e in catalog.audit_log(limit=1 << 62) if about(e)]
    return [
        {
            "at": e.at,
            "account": e.account,
            "action": e.action,
            "entity": e.entity,
            "entity_id": e.entity_id,
            "detail": e.detail,
        }
        for e in reversed(rows)
    ]
