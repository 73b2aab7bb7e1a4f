"""A course of therapy: one patient's sessions by date, with what changed in each.

For every session of the patient (oldest first) :func:`patient_course` gathers:

- the model's valence and arousal in the pre and post windows: the windows' means with their
  **sample SD** (ddof = 1) as the spread, on the circumplex scale [-1, 1] — the same statistics as
  the review screen and the session report (:func:`core.analysis.review.review_of`). The windows
  are the session's own (:func:`core.physiology.summary.phase_windows`): the first and last
  ``phase_minutes`` (15 by default; a third of a shorter session each), or the therapist's
  treatment markers when both are set;
- the physiology of the same windows (:func:`core.analysis.physiology.session_physiology`): heart
  rate, RMSSD, EDA tonic level and SCR rate, computed afresh from the recorded signals as the
  session report does;
- the patient's own ratings: SAM valence and arousal (1–9) before and after, as stored with the
  session's self-reports; GAD-7 and PHQ-9 before and after as :mod:`core.clinical` scores them
  (the total of a complete questionnaire, or a GAD-7 total entered alone; an incomplete one has
  no total, and says so); SUDS ratings during the session (the trends take the first and the
  last rating, :data:`SUDS_POINTS`; a single rating is one point).

A session without an analysis (or whose stored analysis cannot be read) is ``"not analysed"``:
its valence and arousal are ``None``, never numbers; its physiology and ratings are still shown.
A session still recording has neither.

Nothing here is stored: the course is recomputed from the catalog and the session folders each
time it is asked for (the physiology is the slow part: seconds per hour of ECG; the GUI asks in a
worker thread).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from core.analysis.circumplex import PhaseStats, quadrant_label
from core.analysis.review import review_of
from core.catalog import Catalog, SessionRecord
from core.clinical import QuestionnaireResult, instrument, session_measures
from core.config import Settings
from core.physiology.summary import METRICS, PhysiologySummary

log = logging.getLogger(__name__)

#: a session's state in the course
ANALYSED = "analysed"
NOT_ANALYSED = "not analysed"
RECORDING = "still recording"
#: how the spread of the model's estimates is given, for every screen and the PDF
SPREAD = "SD"
SPREAD_WORDS = "mean ± SD (sample SD of the window's estimated frames)"
PHASES = ("pre", "post")


@dataclass(frozen=True)
class TrendMeasure:
    """One measure followed across the sessions.

    Parameters
    ----------
    key : str — :meth:`SessionCourse.value`'s key
    label : str — plain name for plots and tables
    unit : str — printed after the value ("" for scores)
    decimals : int — digits shown
    group : str — ``"model"``, ``"physiology"`` or ``"self-report"``
    """

    key: str
    label: str
    unit: str
    decimals: int
    group: str

    @property
    def title(self) -> str:
        """``label (unit)``, or the label alone."""
        return f"{self.label} ({self.unit})" if self.unit else self.label


#: every measure of the course, in the order screens and the PDF show them
TRENDS: tuple[TrendMeasure, ...] = (
    TrendMeasure("valence", "Valence (pleasant–unpleasant)", "", 2, "model"),
    TrendMeasure("arousal", "Arousal (calm–activated)", "", 2, "model"),
    *(
        TrendMeasure(m.key, m.label.split(" (")[0], m.unit, m.decimals, "physiology")
        for m in METRICS
    ),
    TrendMeasure("gad7", "GAD-7 total", "0–21", 0, "self-report"),
    TrendMeasure("phq9", "PHQ-9 total", "0–27", 0, "self-report"),
    TrendMeasure("sam_valence", "SAM valence", "1–9", 0, "self-report"),
    TrendMeasure("sam_arousal", "SAM arousal", "1–9", 0, "self-report"),
    TrendMeasure("suds", "SUDS", "0–100", 0, "self-report"),
)
TREND_KEYS = tuple(m.key for m in TRENDS)
#: what SUDS's two points are (its "pre"/"post" are not the pre and post windows)
SUDS_POINTS = (
    "open circle: the session's first SUDS rating → filled: its last (one rating: one point)"
)


def trend_measure(key: str) -> TrendMeasure:
    """The :class:`TrendMeasure` named ``key``."""
    for m in TRENDS:
        if m.key == key:
            return m
    raise KeyError(f"no trend measure {key!r}")


@dataclass(frozen=True)
class WindowEstimate:
    """The model's estimate of one window: mean and sample SD (circumplex units).

    ``sd`` is None below two estimated frames; ``n`` is the number of estimated frames.
    """

    mean: float
    sd: float | None
    n: int


def _estimate(mean: float, sd: float, n: int) -> WindowEstimate | None:
    if not np.isfinite(mean) or n == 0:
        return None
    return WindowEstimate(float(mean), float(sd) if np.isfinite(sd) else None, int(n))


@dataclass
class SessionCourse:
    """One session in the course.

    Parameters
    ----------
    session_id : int
    uid : str
    number : int — 1 for the patient's first session by date, and so on
    started_at : str — ISO-8601 UTC start
    duration_s : float or None
    state : str — :data:`ANALYSED`, :data:`NOT_ANALYSED` or :data:`RECORDING`
    simulated : bool — recorded from simulated devices
    demo_model : bool — analysed by the demo model (not clinically valid)
    model : str — the checkpoint's label ("" when not analysed)
    windows : list of (label, start_s, end_s) — the pre and post windows as used
    valence, arousal : dict — phase → :class:`WindowEstimate`, or None where not estimated;
        both phases None when not analysed
    quadrants : dict — phase → quadrant label of the window's mean ("" when not analysed)
    physiology : PhysiologySummary or None — None when it could not be computed
        (``physiology_note`` says why)
    ratings : dict — phase → {"sam_valence", "sam_arousal", "gad7", "phq9"} (int or None: a
        questionnaire's total only when complete, or a GAD-7 total entered alone)
    questionnaires : dict — phase → instrument key (``gad7``, ``phq9``) →
        :class:`core.clinical.QuestionnaireResult` (bands, incomplete ones, the PHQ-9 item 9 flag)
    suds : list of (t_s, rating) — SUDS ratings during the session, in time order
    """

    session_id: int
    uid: str
    number: int
    started_at: str
    duration_s: float | None
    state: str
    simulated: bool
    demo_model: bool = False
    model: str = ""
    windows: list[tuple[str, float, float]] = field(default_factory=list)
    valence: dict[str, WindowEstimate | None] = field(default_factory=dict)
    arousal: dict[str, WindowEstimate | None] = field(default_factory=dict)
    quadrants: dict[str, str] = field(default_factory=dict)
    physiology: PhysiologySummary | None = None
    physiology_note: str = ""
    ratings: dict[str, dict[str, int | None]] = field(default_factory=dict)
    questionnaires: dict[str, dict[str, QuestionnaireResult]] = field(default_factory=dict)
    suds: list[tuple[float, int]] = field(default_factory=list)

    @property
    def flagged(self) -> bool:
        """PHQ-9 item 9 (thoughts of self-harm) was answered above 0 in either phase."""
        return any(q.flagged for by in self.questionnaires.values() for q in by.values())

    def questionnaire_text(self, key: str, phase: str) -> str:
        """``"12 (moderate)"``, ``"14 (moderate; total only)"`` (a GAD-7 total entered alone,
        as the session PDF prints it), ``"incomplete (6 of 9 items)"`` or "—" (not entered)."""
        q = self.questionnaires.get(phase, {}).get(key)
        if q is None:
            return "—"
        n = instrument(key).n_items
        if q.total is None:
            return f"incomplete ({q.n_answered} of {n} items)"
        if q.items_pending:
            return f"{q.total} ({q.band}; total only, items being entered: {q.n_answered} of {n})"
        if q.source == "total only":
            return f"{q.total} ({q.band}; total only)"
        return f"{q.total} ({q.band})"

    @property
    def analysed(self) -> bool:
        return self.state == ANALYSED

    def estimate(self, key: str, phase: str) -> WindowEstimate | None:
        """The model's ``"valence"`` or ``"arousal"`` estimate of a window (None: not
        estimated or not analysed)."""
        return (self.valence if key == "valence" else self.arousal).get(phase)

    def value(self, key: str, phase: str) -> float | None:
        """The value of a :data:`TRENDS` measure in ``"pre"`` or ``"post"``; None where not
        analysed, not measured or not entered.

        SUDS: ``pre`` is the session's first rating, ``post`` its last (None without ratings;
        ``post`` None with a single rating: one point, never the same rating twice). Screens and
        the PDF label them with :data:`SUDS_POINTS`, not as pre/post windows.
        """
        if phase not in PHASES:
            raise ValueError(f"phase must be 'pre' or 'post', not {phase!r}")
        if key in ("valence", "arousal"):
            e = self.estimate(key, phase)
            return None if e is None else e.mean
        if key in (m.key for m in METRICS):
            if self.physiology is None:
                return None
            w = self.physiology.pre if phase == "pre" else self.physiology.post
            return w.value(key)
        if key == "suds":
            if not self.suds or (phase == "post" and len(self.suds) < 2):
                return None
            return float(self.suds[0 if phase == "pre" else -1][1])
        if key in ("gad7", "phq9", "sam_valence", "sam_arousal"):
            v = self.ratings.get(phase, {}).get(key)
            return None if v is None else float(v)
        raise KeyError(f"no trend measure {key!r}")

    def change(self, key: str) -> float | None:
        """post − pre of a measure (None where either is missing)."""
        a, b = self.value(key, "pre"), self.value(key, "post")
        return None if a is None or b is None else b - a


@dataclass
class PatientCourse:
    """A patient's course: the sessions oldest first.

    Parameters
    ----------
    patient_id : int
    code : str — the patient's pseudonymous code
    is_demo : bool — the demo patient
    sessions : list of SessionCourse — by start time, oldest first
    phase_minutes : float — window length without markers (min)
    """

    patient_id: int
    code: str
    is_demo: bool
    sessions: list[SessionCourse]
    phase_minutes: float

    @property
    def demo_model(self) -> bool:
        """Some session's estimates come from the demo model."""
        return any(s.demo_model for s in self.sessions)

    @property
    def simulated(self) -> bool:
        """Some session was recorded from simulated devices."""
        return any(s.simulated for s in self.sessions)

    @property
    def analysed(self) -> list[SessionCourse]:
        return [s for s in self.sessions if s.analysed]

    def trend(self, key: str, phase: str) -> list[tuple[SessionCourse, float]]:
        """The sessions where the measure has a value in ``phase``, with that value."""
        out = []
        for s in self.sessions:
            v = s.value(key, phase)
            if v is not None:
                out.append((s, v))
        return out

    def has(self, key: str) -> bool:
        """Whether any session has a value of the measure."""
        return any(s.value(key, p) is not None for s in self.sessions for p in PHASES)


def _ratings(catalog: Catalog, s: SessionCourse) -> None:
    """SAM from the self-reports; GAD-7, PHQ-9 and SUDS as :mod:`core.clinical` reads them."""
    reports = catalog.self_reports(s.session_id)
    measures = session_measures(catalog, s.session_id)
    s.questionnaires = measures.questionnaires
    s.suds = [(float(r.t_s), int(r.rating)) for r in measures.suds]
    for phase in PHASES:
        r = reports.get(phase)
        qs = s.questionnaires.get(phase, {})
        s.ratings[phase] = {
            "sam_valence": getattr(r, "sam_valence", None),
            "sam_arousal": getattr(r, "sam_arousal", None),
            **{k: (q.total if (q := qs.get(k)) is not None else None) for k in ("gad7", "phq9")},
        }


def _physiology(
    data_root: Path, rec: SessionRecord, markers: list[tuple[float, str]], phase_minutes: float
) -> tuple[PhysiologySummary | None, str]:
    from core.analysis.physiology import session_physiology
    from core.recording import open_session

    try:
        data = open_session(data_root / rec.folder)
        summary, _ = session_physiology(data, markers, phase_minutes, with_series=False)
    except (OSError, ValueError) as e:
        log.warning("session %s: physiology not computed: %s", rec.uid, e)
        return None, f"could not be computed: {e}"
    return summary, ""


def session_course(
    catalog: Catalog,
    data_root: Path,
    rec: SessionRecord,
    number: int,
    settings: Settings,
    physiology: bool = True,
) -> SessionCourse:
    """One session's entry in the course (see the module's docstring).

    ``physiology``: compute the physiology (False leaves it None with a note; the quick path
    for lists).
    """
    s = SessionCourse(
        session_id=rec.id,
        uid=rec.uid,
        number=number,
        started_at=rec.started_at,
        duration_s=rec.duration_s,
        state=RECORDING if rec.status == "recording" else NOT_ANALYSED,
        simulated=bool(rec.simulated),
    )
    _ratings(catalog, s)
    s.valence = {p: None for p in PHASES}
    s.arousal = {p: None for p in PHASES}
    if s.state == RECORDING:
        s.physiology_note = "the session is still recording"
        return s
    try:
        review = review_of(catalog, data_root, rec.id, settings)
    except ValueError as e:  # an unreadable analysis counts as not analysed
        log.warning("session %s: stored analysis unreadable: %s", rec.uid, e)
        review = None
    if review is not None:
        c = review.circumplex
        s.state = ANALYSED
        s.demo_model = review.demo_model
        s.model = str(review.checkpoint.get("label", ""))
        stats: dict[str, PhaseStats] = {"pre": c.pre, "post": c.post}
        for p, st in stats.items():
            s.valence[p] = _estimate(st.mean_valence, st.sd_valence, st.n_estimated)
            s.arousal[p] = _estimate(st.mean_arousal, st.sd_arousal, st.n_estimated)
            s.quadrants[p] = quadrant_label(st.quadrant, short=True)
        s.windows = [(w.label, w.start_s, w.end_s) for w in review.windows]
    markers = [(m.t_s, m.kind) for m in catalog.list_markers(rec.id)]
    if physiology:
        s.physiology, s.physiology_note = _physiology(
            data_root, rec, markers, settings.phase_minutes
        )
        if s.physiology is not None and not s.windows:
            s.windows = [(w.label, w.start_s, w.end_s) for w in s.physiology.windows]
    else:
        s.physiology_note = "not computed"
    return s


def patient_course(
    catalog: Catalog,
    data_root: Path,
    patient_id: int,
    settings: Settings | None = None,
    physiology: bool = True,
    progress: Callable[[float], None] | None = None,
    only: Sequence[int] | None = None,
) -> PatientCourse:
    """The patient's course of therapy, sessions oldest first (see the module's docstring).

    Parameters
    ----------
    catalog, data_root — the catalog and its data folder
    patient_id : int
    settings : Settings, optional — phase minutes, near-neutral radius (default: saved)
    physiology : bool — compute each session's physiology (seconds per hour of ECG)
    progress : callable, optional — called with the fraction done after each session
    only : sequence of int, optional — session ids to include (numbers still count every
        session of the patient)

    Raises
    ------
    KeyError — no such patient
    """
    settings = settings or Settings.load()
    p = catalog.get_patient(patient_id)
    if p is None:
        raise KeyError(f"no patient {patient_id}")
    recs = sorted(catalog.list_sessions(patient_id=patient_id), key=lambda r: (r.started_at, r.id))
    wanted = [(i, r) for i, r in enumerate(recs, start=1) if only is None or r.id in only]
    sessions = []
    for k, (number, r) in enumerate(wanted, start=1):
        sessions.append(session_course(catalog, data_root, r, number, settings, physiology))
        if progress is not None:
            progress(k / len(wanted))
    return PatientCourse(p.id, p.code, p.is_demo, sessions, settings.phase_minutes)


def format_trend_value(value: float | None, measure: TrendMeasure, signed: bool = False) -> str:
    """A value as the course's tables print it (ASCII signs: the PDF's Helvetica has no U+2212);
    None prints as an em dash. Model values are always signed."""
    if value is None:
        return "—"
    value = round(value, measure.decimals) + 0.0  # no "-0.00"
    if signed or measure.group == "model":
        return f"{value:+.{measure.decimals}f}"
    return f"{value:.{measure.decimals}f}"


def estimate_text(e: WindowEstimate | None, analysed: bool) -> str:
    """``+0.25 ± 0.10``; "not analysed" for a session without analysis; "not estimated"
    for a window without any estimate."""
    if not analysed:
        return NOT_ANALYSED
    if e is None:
        return "not estimated"
    mean = f"{round(e.mean, 2) + 0.0:+.2f}"
    return mean + (f" ± {e.sd:.2f}" if e.sd is not None else "")
