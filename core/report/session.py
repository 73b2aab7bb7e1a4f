"""From a recorded session to its PDF report: gather the figures, build, record the export."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from core.analysis.model_outputs import summarise_outputs
from core.analysis.physiology import session_physiology
from core.analysis.review import review_of
from core.catalog import Catalog
from core.clinical import session_measures
from core.config import Settings
from core.quality.session import fresh_quality
from core.recording import open_session
from core.report.cleanup import pending_export
from core.report.data import ReportAnalysis, ReportData, ReportQuality
from core.report.document import render_session_report
from core.report.times import local_time


def report_data_for(
    catalog: Catalog,
    data_root: Path,
    session_id: int,
    include_name: bool = False,
    settings: Settings | None = None,
    include_notes: bool = False,
) -> ReportData:
    """Everything the session report prints, read from the catalog and the session folder.

    Parameters
    ----------
    catalog : Catalog
    data_root : Path — the data folder (the session's folder is relative to it)
    session_id : int
    include_name : bool — print the patient's name (the therapist's choice)
    settings : Settings, optional — clinic and therapist names, phase minutes (default: saved)
    include_notes : bool — print the session's notes (the therapist's choice)

    Returns
    -------
    ReportData — with the start and consent times in local time (stored UTC times converted
    for printing, :func:`core.report.times.local_time`)
    """
    settings = settings or Settings.load()
    rec = catalog.get_session(session_id)
    if rec is None:
        raise KeyError(f"No session with id {session_id}")
    if rec.status == "recording":
        raise ValueError("This session is still recording; stop it before exporting a report.")
    patient = catalog.get_patient(rec.patient_id)
    assert patient is not None
    data = open_session(data_root / rec.folder)
    markers = catalog.list_markers(session_id)
    summary, series = session_physiology(
        data, [(m.t_s, m.kind) for m in markers], settings.phase_minutes
    )
    # figures computed afresh from the checked files, never the catalog's copy from the stop:
    # a file damaged since counts in the table as in the red lines
    fresh, summary_q = fresh_quality(data_root / rec.folder)
    q = {**(rec.quality or {}), **fresh}
    video = q.get("video") or {}
    quality: ReportQuality = {
        "streams": [{"name": name, **st} for name, st in q.get("streams", {}).items()],
        "frames_stored": video.get("frames"),
        "frames_dropped": video.get("dropped"),
        "gaps": sum(st.get("gaps", 0) for st in q.get("streams", {}).values()),
        "summary": summary_q,
    }
    devices = [
        {
            "name": d.get("name", "?"),
            "simulated": bool(d.get("simulated")),
            "imported": bool(d.get("imported")),
        }
        for d in ((rec.devices or {}).get(k) for k in ("sensor", "camera"))
        if isinstance(d, dict)
    ]
    review = review_of(catalog, data_root, session_id, settings)
    analysis = None
    if review is not None:
        est = review.estimates
        analysis = ReportAnalysis(
            circumplex=review.circumplex,
            t_s=np.asarray(est.t_s, dtype=np.float64),
            valence=est.valence,
            arousal=est.arousal,
            info=est.info.copy(),
            demo_model=review.demo_model,
            model_outputs=summarise_outputs(est, review.windows),
        )
    self_reports = {
        phase: {"sam_valence": r.sam_valence, "sam_arousal": r.sam_arousal, "gad7": r.gad7}
        for phase, r in catalog.self_reports(session_id).items()
    }
    return ReportData(
        clinic_name=settings.clinic_name,
        patient_code=patient.code,
        patient_name=patient.name,
        include_name=include_name,
        therapist_name=settings.therapist_name,
        consent_at=local_time(rec.consent_at),
        consent_note=rec.consent_note,
        notes=rec.notes,
        include_notes=include_notes,
        session_uid=rec.uid,
        started_at=local_time(rec.started_at),
        duration_s=float(rec.duration_s or data.duration_s),
        physiology=summary,
        simulated=rec.simulated,
        devices=devices,
        source=(rec.devices or {}).get("import") if rec.imported else None,
        quality=quality,
        markers=[(m.t_s, m.kind, m.label) for m in markers],
        hr_t_s=series["hr_t"],
        hr_bpm=series["hr"],
        eda_t_s=series["eda_t"],
        eda_us=series["eda"],
        analysis=analysis,
        self_reports=self_reports,
        measures=session_measures(catalog, session_id),
    )


def export_session_report(
    catalog: Catalog,
    data_root: Path,
    session_id: int,
    out_path: Path,
    include_name: bool = False,
    settings: Settings | None = None,
    include_notes: bool = False,
) -> Path:
    """Build the session's PDF at ``out_path`` and record the export in the catalog.

    ``include_name`` and ``include_notes``: print the patient's name and the session's notes on
    page 1 (the therapist's choice each; neither is printed by default).

    The PDF is written to a temporary file beside ``out_path`` and renamed, so a failure never
    leaves half a report (nor replaces an earlier one): the temporary file is deleted on any
    error, KeyboardInterrupt included, and the export is journalled in the data folder while it
    runs, so that after a kill the next start removes it
    (:func:`core.report.cleanup.pending_export`). The export is recorded with
    :meth:`core.catalog.Catalog.record_report`, which also writes its audit entry.

    Raises
    ------
    KeyError — no such session
    ValueError — the session is still recording, or its stored analysis cannot be read
    """
    data = report_data_for(catalog, data_root, session_id, include_name, settings, include_notes)
    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    with pending_export(data_root, out) as tmp:
        pages = render_session_report(data, tmp)
        # recorded (and audited) before the PDF is put in place: when the catalog refuses (read-
        # only, full), the temporary file goes and no report exists without its export record
        printed_name = bool(data.include_name and data.patient_name)
        catalog.record_report(session_id, pages=pages, include_name=printed_name)
    return out
