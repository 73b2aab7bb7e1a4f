"""From a recorded session to its PDF report: gather the figures, build, audit."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from core.catalog import Catalog
from core.config import Settings
from core.physiology import PhysiologySummary, summarize
from core.recording import SessionData, open_session
from core.report import ReportData, build_session_report


def _from_start(data: SessionData, channel: str) -> tuple[np.ndarray | None, float]:
    """A channel on a grid starting at session time 0 (NaN before the first sample), and its rate."""
    try:
        s = data.signal(channel)
    except KeyError:
        return None, 0.0
    if not len(s.t_s):
        return None, s.rate
    pad = max(0, int(round(s.t_s[0] * s.rate)))
    x = np.concatenate([np.full(pad, np.nan, np.float32), s.values]) if pad else s.values
    return x, s.rate


def _binned(t: np.ndarray, y: np.ndarray, width_s: float) -> tuple[np.ndarray, np.ndarray]:
    """Medians of ``y`` in bins of ``width_s`` seconds (empty bins left out)."""
    if not len(t):
        return t, y
    b = np.floor(t / width_s).astype(np.int64)
    _, start = np.unique(b, return_index=True)
    # each bin is placed at the median time of its beats, so the series never runs past the data
    t_mid = [np.median(p) for p in np.split(t, start[1:])]
    return np.array(t_mid), np.array([np.nanmedian(p) for p in np.split(y, start[1:])])


def session_physiology(
    data: SessionData, markers: list[tuple[float, str]], phase_minutes: float
) -> tuple[PhysiologySummary, dict[str, np.ndarray | None]]:
    """The pre/post summary and the whole-session heart-rate and EDA series for plots."""
    from core.physiology import eda_level_series, heart_rate_series

    ecg, r1 = _from_start(data, "ECG")
    eda, r2 = _from_start(data, "EDA")
    rate = r1 or r2
    if ecg is not None and eda is not None:
        n = max(len(ecg), len(eda))
        ecg = np.pad(ecg, (0, n - len(ecg)), constant_values=np.nan)
        eda = np.pad(eda, (0, n - len(eda)), constant_values=np.nan)
    summary = summarize(ecg, eda, rate, data.duration_s, markers, phase_minutes)
    series: dict[str, np.ndarray | None] = {"hr_t": None, "hr": None, "eda_t": None, "eda": None}
    width = max(5.0, data.duration_s / 300)  # at most ~300 points per chart
    if ecg is not None:
        t, bpm = heart_rate_series(ecg, rate)
        series["hr_t"], series["hr"] = _binned(t, bpm, width)
    if eda is not None:
        series["eda_t"], series["eda"] = eda_level_series(eda, rate, step_s=width)
    return summary, series


def report_data_for(
    catalog: Catalog,
    data_root: Path,
    session_id: int,
    include_name: bool = False,
    settings: Settings | None = None,
) -> ReportData:
    """Everything the session report prints, read from the catalog and the session folder."""
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
    q = rec.quality or {}
    video = q.get("video") or {}
    quality = {
        "streams": [{"name": name, **st} for name, st in q.get("streams", {}).items()],
        "frames_stored": video.get("frames"),
        "frames_dropped": video.get("dropped"),
        "gaps": sum(st.get("gaps", 0) for st in q.get("streams", {}).values()),
    }
    devices = [
        {"name": d.get("name", "?"), "simulated": bool(d.get("simulated"))}
        for d in (rec.devices or {}).values()
        if isinstance(d, dict)
    ]
    return ReportData(
        clinic_name=settings.clinic_name,
        patient_code=patient.code,
        patient_name=patient.name,
        include_name=include_name,
        session_uid=rec.uid,
        started_at=rec.started_at[:16].replace("T", " ") + " UTC",
        duration_s=float(rec.duration_s or data.duration_s),
        physiology=summary,
        simulated=rec.simulated,
        devices=devices,
        quality=quality,
        markers=[(m.t_s, m.kind, m.label) for m in markers],
        hr_t_s=series["hr_t"],
        hr_bpm=series["hr"],
        eda_t_s=series["eda_t"],
        eda_us=series["eda"],
    )


def export_session_report(
    catalog: Catalog,
    data_root: Path,
    session_id: int,
    out_path: Path,
    include_name: bool = False,
) -> Path:
    """Build the session's PDF at ``out_path`` and record the export in the audit trail."""
    data = report_data_for(catalog, data_root, session_id, include_name)
    out = build_session_report(data, out_path)
    catalog.audit(
        "export", "session", session_id, "pdf report" + (" with name" if include_name else "")
    )
    return out
