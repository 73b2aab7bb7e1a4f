"""The demo patient: simulated sessions recorded once and analysed with the demo model.

Built in the background on the first start in demo mode, so the review screens have something to
show; every session is labelled simulated and every estimate comes from the demo model. The
therapist may archive or delete it like any patient; once deleted on purpose it is not built again
at the next start (:func:`demo_patient_wanted`), only on request (``therascope demo``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

from app.demo.simulation import Cancelled, Progress, record_simulated, remove_session
from app.demo.training import ensure_demo_checkpoint
from core.catalog import Catalog, Patient
from core.config import Settings

DEMO_CODE = "DEMO-01"
#: the demo patient's sessions: (scenario, minutes, seed, packet-loss probability)
DEMO_SESSIONS: tuple[tuple[str, float, int, float], ...] = (
    ("anxious_to_calm", 5.0, 101, 0.0),
    ("anxious_to_calm", 5.0, 102, 0.002),
    ("anxious_to_calm", 5.0, 103, 0.0),
)
#: the demo sessions' camera rate (frames/s) and the rate their analysis samples (frames/s): low,
#: so that the demo patient is ready within a minute of the first start on a 2-core laptop; both
#: are stored with each session and analysis, as for any other
DEMO_FPS = 15.0
DEMO_ANALYSIS_FPS = 2.0
#: share of the build's progress spent recording (the rest analyses), measured on 2 cores
RECORD_SHARE = 0.4
#: the demo sessions' camera size (pixels): a quarter of the pixels of a live session, so the demo
#: patient is ready within a couple of minutes on a 2-core laptop; it is stored with each session
DEMO_FRAME = (320, 240)


def demo_patient_wanted(catalog: Catalog) -> bool:
    """Whether the app should build (or complete) the demo patient by itself at start.

    Yes, unless the therapist deleted it on purpose (the catalog's audit trail remembers it,
    :meth:`Catalog.demo_patient_deleted`) and it was not made again since (``therascope demo``).
    An archived demo patient is still wanted: it is completed, and stays archived.
    """
    return catalog.patient_by_code(DEMO_CODE) is not None or not catalog.demo_patient_deleted()


def ensure_demo_patient(
    catalog: Catalog,
    data_root: Path,
    progress: Progress | None = None,
    sessions: tuple[tuple[str, float, int, float], ...] | None = None,
    cancel: Callable[[], bool] | None = None,
    analyse: bool = False,
    step: Callable[[str], None] | None = None,
) -> Patient:
    """The demo patient with its simulated sessions; created (once) if missing or incomplete.

    ``sessions`` defaults to :data:`DEMO_SESSIONS`: (scenario, minutes, seed, packet loss),
    recorded at :data:`DEMO_FPS`. With ``analyse`` every demo session not analysed yet is analysed
    with the demo model (built first if it is neither shipped nor built) at
    :data:`DEMO_ANALYSIS_FPS`, so the review screens have something to show. ``progress`` gets one
    fraction for the whole build (recording, then analysis), never running twice; ``step`` what
    the build does now. ``cancel`` is polled between steps (a caller may block in it to pause).
    """
    record_share = RECORD_SHARE if analyse else 1.0

    def part(lo: float, hi: float) -> Progress:
        def report(f: float) -> None:
            if progress is not None:
                progress(lo + (hi - lo) * min(max(f, 0.0), 1.0))

        return report

    if step is not None:
        step("recording simulated sessions")
    sessions = DEMO_SESSIONS if sessions is None else sessions
    patient = catalog.patient_by_code(DEMO_CODE)
    if patient is None:
        patient = catalog.add_patient(
            DEMO_CODE, notes="Demo patient: every session is simulated.", is_demo=True
        )
    done = []
    for s in catalog.list_sessions(patient_id=patient.id):
        if s.status == "finalised":
            done.append(s)
        elif s.status != "recording":
            # a demo session cut short (the app closed or crashed meanwhile): make it anew
            remove_session(catalog, data_root, s)
    todo = sessions[len(done) :]
    settings = Settings(
        camera_width=DEMO_FRAME[0], camera_height=DEMO_FRAME[1], camera_fps=DEMO_FPS
    )
    total = sum(m for _, m, _, _ in todo) or 1.0
    before = 0.0
    recording = part(0.0, record_share)
    for name, minutes, seed, loss in todo:

        def sub(f: float, base: float = before, m: float = minutes) -> None:
            recording((base + f * m) / total)

        record_simulated(
            catalog,
            data_root,
            patient.id,
            minutes * 60,
            scenario=name,
            seed=seed,
            settings=settings,
            drop_prob=loss,
            progress=sub,
            with_markers=True,
            consent_note="demo patient (simulated)",
            cancel=cancel,
        )
        before += minutes
    if analyse:
        if step is not None:
            step("analysing its sessions with the demo model")
        analyse_demo_sessions(catalog, data_root, patient.id, part(record_share, 1.0), cancel)
    if progress is not None:
        progress(1.0)
    return patient


def analyse_demo_sessions(
    catalog: Catalog,
    data_root: Path,
    patient_id: int,
    progress: Progress | None = None,
    cancel: Callable[[], bool] | None = None,
) -> None:
    """Analyse the demo patient's unanalysed sessions with the demo model."""
    from core.analysis.engine import AnalysisCancelled
    from core.analysis.review import analyse_and_review

    todo = [
        s
        for s in catalog.list_sessions(patient_id=patient_id)
        if s.status == "finalised" and catalog.latest_analysis(s.id) is None
    ]
    if not todo:
        return
    ckpt = ensure_demo_checkpoint(data_root=data_root)
    settings = dataclasses.replace(Settings.load(), analysis_frames_per_s=DEMO_ANALYSIS_FPS)
    for k, s in enumerate(todo):

        def sub(f: float, _text: str, k: int = k) -> None:
            if progress is not None:
                progress((k + f) / len(todo))

        try:
            analyse_and_review(catalog, data_root, s.id, ckpt, settings, sub, cancel)
        except AnalysisCancelled:
            raise Cancelled("demo analysis cancelled") from None
