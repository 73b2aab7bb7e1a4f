"""A session's review, a patient's history and the cohort: what the review screens and the report show.

Glue between the catalog, the stored per-frame estimates (:mod:`core.analysis.results`) and the
circumplex analytics (:mod:`core.analysis.circumplex`). The analytics are recomputed from the stored
estimates whenever they are asked for (cheap: milliseconds for a 60-minute session), so editing
the phase markers afterwards changes the results at once; :func:`refresh_summary` then stores
the new summary in the catalog (with an audit entry).

The catalog and the session folder agree on which analysis a session has: the catalog's row of
the latest analysis names its generation (``result_dir`` ``analysis/gen-<id>``), and
:func:`review_of` reads that generation. :func:`store_analysis` writes a new one in this order:
the complete generation (unpublished), then the catalog row (the commit), then publishing it in
the folder. A kill before the catalog write leaves the old analysis everywhere (the new files are
removed at the next start); a kill after it leaves the new one in the catalog, which readers
follow, and the next start publishes it in the folder too
(:func:`core.analysis.results.clean_analysis_folder`). A catalog write that fails removes the new
generation at once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from core.analysis.circumplex import (
    CohortStats,
    SessionCircumplex,
    cohort_shift,
    session_circumplex,
)
from core.analysis.results import (
    CheckpointIdentity,
    SessionEstimates,
    StagedAnalysis,
    load_estimates,
    result_dir_of,
    stage_estimates,
)
from core.catalog import Catalog, SessionRecord
from core.config import Settings
from core.physiology.summary import PhaseWindow, phase_windows

log = logging.getLogger(__name__)


@dataclass
class SessionReview:
    """Everything the review screen shows about one analysed session.

    Parameters
    ----------
    record : SessionRecord
    estimates : SessionEstimates — per-frame estimates
    windows : list of PhaseWindow — [pre, post]
    circumplex : SessionCircumplex — per-phase statistics and the trajectory
    self_reports : dict — ``{"pre": SelfReport, "post": SelfReport}`` (those entered)
    """

    record: SessionRecord
    estimates: SessionEstimates
    windows: list[PhaseWindow]
    circumplex: SessionCircumplex
    self_reports: dict[str, Any]

    @property
    def demo_model(self) -> bool:
        """The estimates come from the demo model: every view must say so."""
        return self.estimates.demo_model

    @property
    def checkpoint(self) -> CheckpointIdentity:
        """Identity of the checkpoint that made the estimates."""
        return self.estimates.info.get("checkpoint", {}).copy()

    def summary(self) -> dict[str, Any]:
        """Plain summary stored in the catalog (for lists and the cohort)."""
        c = self.circumplex
        return {
            "circumplex": c.to_dict(),
            "checkpoint": self.checkpoint.get("label", ""),
            "demo_model": self.demo_model,
            "windows": [w.__dict__ for w in self.windows],
        }


def session_windows(catalog: Catalog, rec: SessionRecord, settings: Settings) -> list[PhaseWindow]:
    """The session's pre/post windows from its markers (or the first/last minutes)."""
    marks = [(m.t_s, m.kind) for m in catalog.list_markers(rec.id)]
    return phase_windows(max(rec.duration_s or 0.0, 1e-3), marks, settings.phase_minutes)


def review_of(
    catalog: Catalog, data_root: Path, session_id: int, settings: Settings | None = None
) -> SessionReview | None:
    """The review of an analysed session; None when it has not been analysed.

    Raises
    ------
    KeyError — no such session
    ValueError — the stored analysis cannot be read
    """
    settings = settings or Settings()
    rec = catalog.get_session(session_id)
    if rec is None:
        raise KeyError(f"no session {session_id}")
    latest = catalog.latest_analysis(session_id)
    est = load_estimates(data_root / rec.folder, latest.result_dir if latest else None)
    if est is None:
        return None
    return _review(catalog, rec, est, settings)


def _review(
    catalog: Catalog, rec: SessionRecord, est: SessionEstimates, settings: Settings
) -> SessionReview:
    windows = session_windows(catalog, rec, settings)
    circ = session_circumplex(est.t_s, est.valence, est.arousal, windows, settings.neutral_radius)
    return SessionReview(rec, est, windows, circ, catalog.self_reports(rec.id))


def record_review(catalog: Catalog, review: SessionReview) -> None:
    """Register a fresh analysis in the catalog, with the generation its estimates come from
    (after :func:`store_analysis`, or after :func:`core.analysis.results.save_estimates`)."""
    ck = review.checkpoint
    catalog.record_analysis(
        review.record.id,
        checkpoint_sha256=str(ck.get("sha256", "0" * 64)),
        checkpoint_label=str(ck.get("label", "")),
        demo_model=review.demo_model,
        device=str(review.estimates.info.get("device", "")),
        result_dir=result_dir_of(review.estimates),
        summary=review.summary(),
    )


def _undo(catalog: Catalog, session_id: int, staged: StagedAnalysis) -> None:
    """After a failure in :func:`store_analysis`: publish the new generation if the catalog
    records it after all, else remove it; if the catalog cannot tell, leave it to the start-up
    cleanup (which asks the catalog then)."""
    try:
        latest = catalog.latest_analysis(session_id)
    except Exception:
        staged.release()
        return
    try:
        if latest is not None and latest.result_dir == staged.result_dir:
            staged.publish()
        else:
            staged.discard()
    except Exception as e:  # the error being handled is the one to report
        log.warning("the new analysis was left for the start-up cleanup: %s", e)


def store_analysis(
    catalog: Catalog,
    data_root: Path,
    session_id: int,
    estimates: SessionEstimates,
    settings: Settings | None = None,
) -> SessionReview:
    """Store a session's new analysis and register it, so that the catalog and the folder never
    disagree about which analysis the session has (see the module's docstring).

    Steps: the complete generation is written unpublished
    (:func:`~core.analysis.results.stage_estimates`); its review is read back from it; the
    catalog records it (:func:`record_review`, the commit); it is published in the folder and the
    older generations removed. An error or interruption before the commit removes the new
    generation (the old analysis stays); a failure to publish after it is only logged (the
    catalog, which readers follow, has the new analysis; the next start publishes it).

    Returns
    -------
    SessionReview — of the new analysis

    Raises
    ------
    KeyError — no such session
    OSError — the new analysis could not be written (the old one stays)
    """
    settings = settings or Settings()
    rec = catalog.get_session(session_id)
    if rec is None:
        raise KeyError(f"no session {session_id}")
    folder = data_root / rec.folder
    staged = stage_estimates(folder, estimates)
    try:
        est = load_estimates(folder, staged.result_dir)
        if est is None or result_dir_of(est) != staged.result_dir:
            raise ValueError(f"the analysis just stored in {staged.path} cannot be read back")
        review = _review(catalog, rec, est, settings)
        record_review(catalog, review)
    except BaseException:
        _undo(catalog, session_id, staged)
        raise
    try:
        staged.publish()
    except Exception as e:  # committed: readers follow the catalog; the next start publishes it
        log.warning("session %s: the new analysis is not published yet: %s", rec.uid, e)
    return review


def refresh_summary(
    catalog: Catalog, data_root: Path, session_id: int, settings: Settings | None = None
) -> SessionReview | None:
    """Recompute after the phase markers changed; store the new summary (audited)."""
    review = review_of(catalog, data_root, session_id, settings)
    latest = catalog.latest_analysis(session_id)
    if review is not None and latest is not None:
        catalog.update_analysis_summary(latest.id, review.summary())
    return review


def analyse_and_review(
    catalog: Catalog,
    data_root: Path,
    session_id: int,
    checkpoint: Path,
    settings: Settings | None = None,
    progress: Callable[[float, str], None] | None = None,
    cancel: Callable[[], bool] | None = None,
    every_frame: bool = False,
) -> SessionReview:
    """Analyse a session (:func:`core.analysis.engine.analyse_session`), store and register it
    (:func:`store_analysis`); ``every_frame``: every stored frame of the whole session, on any
    device (else the settings' CPU rate, every frame on CUDA)."""
    from core.analysis.engine import AnalysisOptions, analyse_session

    settings = settings or Settings()
    rec = catalog.get_session(session_id)
    if rec is None:
        raise KeyError(f"no session {session_id}")
    marks = [(m.t_s, m.kind) for m in catalog.list_markers(rec.id)]
    opts = AnalysisOptions(
        device=settings.analysis_device,
        cpu_frames_per_s=settings.analysis_frames_per_s,
        phase_minutes=settings.phase_minutes,
        every_frame=every_frame,
        face_detector=None if settings.face_detector == "model" else settings.face_detector,
    )
    est = analyse_session(
        data_root / rec.folder, checkpoint, opts, marks, progress, cancel, save=False
    )
    return store_analysis(catalog, data_root, session_id, est, settings)


@dataclass
class CohortEntry:
    """One patient's latest session in the cohort, as a pre→post arrow.

    Parameters
    ----------
    patient_id : int
    code : str — the patient's pseudonymous code
    session_id : int
    started_at : str — ISO-8601 UTC start of the session
    pre, post : (float, float) — (valence, arousal) means of the pre and post windows
        (circumplex units)
    demo_model : bool — estimated by the demo model (not clinically valid)
    simulated : bool — recorded from simulated devices (only with ``include_simulated``)
    """

    patient_id: int
    code: str
    session_id: int
    started_at: str
    pre: tuple[float, float]
    post: tuple[float, float]
    demo_model: bool
    simulated: bool = False


def patient_history(
    catalog: Catalog, data_root: Path, patient_id: int, settings: Settings | None = None
) -> list[SessionReview]:
    """Reviews of the patient's analysed sessions, oldest first."""
    out = []
    for rec in sorted(
        catalog.list_sessions(patient_id=patient_id), key=lambda r: (r.started_at, r.id)
    ):
        try:
            r = review_of(catalog, data_root, rec.id, settings)
        except ValueError:
            continue  # an unreadable analysis is shown as "not analysed" by the session list
        if r is not None:
            out.append(r)
    return out


def counts_for_cohort(rec: SessionRecord, include_simulated: bool = False) -> bool:
    """Whether a session may stand for its patient in the cohort (its analysis aside).

    Only a session with the patient's consent on record, recorded from real sensors; simulated
    sessions only with ``include_simulated`` (and then labelled as such). Demo patients are left
    out by :func:`cohort` itself.
    """
    return bool(rec.consent_at.strip()) and (include_simulated or not rec.simulated)


def cohort(
    catalog: Catalog,
    data_root: Path,
    settings: Settings | None = None,
    include_simulated: bool = False,
) -> tuple[list[CohortEntry], CohortStats]:
    """The cohort: each patient's latest eligible analysed session and the group's statistics.

    A patient counts when it is not a demo patient and has an analysed session that
    :func:`counts_for_cohort` accepts: real (not simulated, unless ``include_simulated``) and
    consented. The latest such session (by start time) stands for the patient. The paired
    statistics are :func:`core.analysis.circumplex.cohort_shift`'s: shifts always, tests only from
    :data:`core.analysis.circumplex.MIN_PATIENTS` patients on.

    Parameters
    ----------
    catalog : Catalog
    data_root : Path — the data folder (session folders are relative to it)
    settings : Settings, optional — phase minutes and the near-neutral radius
    include_simulated : bool — let simulated sessions count too (each entry says whether it is)

    Returns
    -------
    (entries, stats) — one CohortEntry per counted patient (catalog order) and CohortStats
    """
    entries = []
    for p in catalog.list_patients():
        if p.is_demo:
            continue
        newest_first = sorted(
            catalog.list_sessions(patient_id=p.id),
            key=lambda r: (r.started_at, r.id),
            reverse=True,
        )
        for rec in newest_first:
            if not counts_for_cohort(rec, include_simulated):
                continue
            try:
                r = review_of(catalog, data_root, rec.id, settings)
            except ValueError:
                continue  # an unreadable analysis counts as not analysed
            if r is None:
                continue
            c = r.circumplex
            entries.append(
                CohortEntry(
                    p.id,
                    p.code,
                    rec.id,
                    rec.started_at,
                    (c.pre.mean_valence, c.pre.mean_arousal),
                    (c.post.mean_valence, c.post.mean_arousal),
                    r.demo_model,
                    rec.simulated,
                )
            )
            break
    pre = np.array([e.pre for e in entries], dtype=float).reshape(-1, 2)
    post = np.array([e.post for e in entries], dtype=float).reshape(-1, 2)
    return entries, cohort_shift(pre, post)
