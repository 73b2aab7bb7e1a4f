"""What a session report prints: the data gathered for it and how numbers are written.

:class:`ReportData` is filled by :mod:`core.report.session` from the catalog and the session's
files, and rendered by :mod:`core.report.document`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, TypedDict

import numpy as np

from core import __version__
from core.analysis.circumplex import SessionCircumplex
from core.analysis.model_outputs import OutputsSummary
from core.analysis.results import AnalysisInfo
from core.clinical import SessionMeasures
from core.physiology.summary import PhysiologySummary
from core.quality.session import QualitySummary
from core.quality.text import VERDICT_WORDS

SIMULATED_BANNER = "SIMULATED DATA — not a real recording"
DEMO_BANNER = "DEMO MODEL — not clinically valid"
DISCLAIMER = "Decision support only — not a diagnosis"
NOT_ANALYSED = "Not analysed yet: no circumplex estimates"
NOT_MEASURED = "—"
INTENDED_USE = (
    "Decision support for the treating clinician; not a diagnosis. Estimates of valence and "
    "arousal from face and physiology are uncertain: they depend on the model, on what it was "
    "trained on, on lighting, posture and signal quality, and they tend to stay near the centre "
    "of the circumplex. Read them as a description of the recorded signals, together with the "
    "patient's own ratings and your clinical judgement, never on their own."
)


@dataclass
class ReportAnalysis:
    """The model's estimates as printed in the report.

    Parameters
    ----------
    circumplex : SessionCircumplex — pre/post statistics and the smoothed course
    t_s : ndarray — analysed frame times from the session start (s)
    valence, arousal : ndarray — per-frame estimates (circumplex units), NaN = not estimated
    info : AnalysisInfo — the analysis's provenance
        (:class:`core.analysis.results.SessionEstimates` ``info``: checkpoint, inputs, device,
        precision, counts, spans, frames_per_s, …)
    demo_model : bool — made by the demo model: a banner on every page
    model_outputs : OutputsSummary or None — liking and the seven emotions
        (:func:`core.analysis.model_outputs.summarise_outputs`); None: the section is left out
    """

    circumplex: SessionCircumplex
    t_s: np.ndarray
    valence: np.ndarray
    arousal: np.ndarray
    info: AnalysisInfo = field(default_factory=AnalysisInfo)
    demo_model: bool = False
    model_outputs: OutputsSummary | None = None


class ReportQuality(TypedDict, total=False):
    """:attr:`ReportData.quality`: the recording's figures as printed (missing keys print as
    "—"). ``streams``: per stream its stored figures with its ``name``
    (:class:`core.recording.manifest.StreamFigures`); ``summary``: the session's
    :func:`core.quality.session.quality_summary` (absent for a report built without a session
    folder)."""

    streams: list[dict[str, Any]]
    frames_stored: int | None
    frames_dropped: int | None
    gaps: int
    summary: QualitySummary


@dataclass
class ReportData:
    """Everything printed in a session report.

    Parameters
    ----------
    clinic_name : str — printed under the title
    patient_code : str — pseudonymous patient code
    session_uid : str — session identifier
    started_at : str — session date and time as it should be printed, in local time with the
        zone, e.g. "2025-03-04 14:05 CET" (:func:`core.report.times.local_time`)
    duration_s : float — session length (s)
    physiology : PhysiologySummary — pre/post comparison
    simulated : bool — data from simulated devices: banner on every page
    patient_name : str or None — printed only when ``include_name`` is True
    include_name : bool — the therapist chose to print the name
    therapist_name : str — the treating therapist (Settings); empty: not printed
    consent_at : str — when the patient's consent was recorded, as printed (local time with the
        zone); empty: not printed
    consent_note : str — how consent was given (printed after the time)
    notes : str — the therapist's session notes; printed only when ``include_notes`` is True
    include_notes : bool — the therapist chose to print the notes
    devices : list of dict — ``{"name": str, "simulated": bool, "imported": bool}`` per device
    source : dict or None — an imported session's import record (the session's
        ``devices["import"]``: ``files`` with name, format, size, sha256; ``offset_s``; ``notes``)
    quality : ReportQuality — ``streams``: list of ``{"name", "expected", "received", "lost"[, "lost_pct"]}``
        (samples; lost % is computed when absent), ``frames_stored``, ``frames_dropped``,
        ``gaps`` (ints); missing keys print as "—"; ``summary`` (optional): the session's
        :func:`core.quality.session.quality_summary` (link outages, packet errors, clock drift)
    markers : list of (t_s, kind, label) — session markers, time from session start (s)
    hr_t_s, hr_bpm : ndarray or None — heart-rate series for the chart (s, beats/min)
    eda_t_s, eda_us : ndarray or None — EDA-level series for the chart (s, µS)
    generated_at : str — generation time as printed; empty: now, local time with the zone
    app_version : str — TheraScope version printed in the footer
    analysis : ReportAnalysis or None — the model's estimates; None: not analysed yet
    self_reports : dict — ``{"pre"|"post": {"sam_valence", "sam_arousal", "gad7"}}`` (int or
        None each; phases never entered absent)
    measures : SessionMeasures or None — GAD-7 and PHQ-9 item by item and the SUDS ratings
        (:func:`core.clinical.session_measures`; :mod:`core.report.clinical` prints them)
    """

    clinic_name: str
    patient_code: str
    session_uid: str
    started_at: str
    duration_s: float
    physiology: PhysiologySummary
    simulated: bool = False
    patient_name: str | None = None
    include_name: bool = False
    therapist_name: str = ""
    consent_at: str = ""
    consent_note: str = ""
    notes: str = ""
    include_notes: bool = False
    devices: list[dict[str, Any]] = field(default_factory=list)
    source: dict[str, Any] | None = None
    quality: ReportQuality = field(default_factory=ReportQuality)
    markers: list[tuple[float, str, str]] = field(default_factory=list)
    hr_t_s: np.ndarray | None = None
    hr_bpm: np.ndarray | None = None
    eda_t_s: np.ndarray | None = None
    eda_us: np.ndarray | None = None
    generated_at: str = ""
    app_version: str = __version__
    analysis: ReportAnalysis | None = None
    self_reports: dict[str, dict[str, int | None]] = field(default_factory=dict)
    measures: SessionMeasures | None = None


def quality_verdict_text(summary: QualitySummary) -> str:
    """The session's overall data-quality verdict with its reasons: ``"Check: 2.1 % of …"``."""
    reasons = summary.get("reasons") or []
    return VERDICT_WORDS[summary.get("verdict")] + (": " + "; ".join(reasons) if reasons else "")


def format_value(value: float | None, decimals: int, signed: bool = False) -> str:
    """Number as printed in the tables; ``None`` prints as an em dash."""
    if value is None:
        return NOT_MEASURED
    return f"{value:+.{decimals}f}" if signed else f"{value:.{decimals}f}"
