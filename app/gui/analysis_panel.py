"""Screen 5's "Analyse now": what it runs on, how much there is to do, progress and cancel.

The analysis runs in a worker thread (:class:`AnalysisRunner`), so the therapist can leave the
screen and come back; the estimated time comes from the rate measured in this computer's last
analysis on the same kind of device, never from a guess.
"""

from __future__ import annotations

import threading
from dataclasses import replace
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import QLabel, QProgressBar, QPushButton, QVBoxLayout, QWidget

from app.gui.workers import Job, run_job
from core.analysis.planning import WholeSessionEstimate, frames_to_analyse
from core.catalog import Catalog, SessionRecord
from core.config import Settings
from core.timefmt import format_clock

_device_cache: dict[str, str] = {}


def describe_analysis_device(spec: str) -> str:
    """What an analysis with device setting ``spec`` runs on, e.g. "cuda: NVIDIA H100" (slow
    the first time: imports torch)."""
    if spec not in _device_cache:
        from core.analysis.engine import describe_device
        from core.inference.select import plan_inference

        try:
            plan = plan_inference(spec)
        except RuntimeError as e:  # CUDA chosen in the settings, none here
            return f"not available — {e}"
        text = describe_device(plan.device)
        if plan.optimised:
            text += " — the optimised CPU runtime (OpenVINO), as there is no GPU"
        else:
            text += f" ({plan.reason.removeprefix('auto: ')})"
        _device_cache[spec] = text
    return _device_cache[spec]


def cached_analysis_device(spec: str) -> str | None:
    """:func:`describe_analysis_device`'s answer if it is known already (never imports torch)."""
    return _device_cache.get(spec)


class AnalysisRunner(QObject):
    """Runs one analysis at a time in a worker thread. Signals arrive on the GUI thread."""

    progressed = Signal(float, str)
    succeeded = Signal(int, object)  # session id, SessionReview
    cancelled = Signal(int)
    failed = Signal(int, str)  # session id, message for the therapist

    def __init__(self, catalog: Catalog, data_root: Path, settings: Settings) -> None:
        super().__init__()
        self.catalog = catalog
        self.data_root = data_root
        self.settings = settings
        self.session_id: int | None = None
        self.job: Job | None = None
        self._cancel = threading.Event()

    @property
    def running(self) -> bool:
        return self.session_id is not None

    def start(self, session_id: int) -> None:
        if self.running:
            raise RuntimeError("an analysis is already running")
        self.session_id = session_id
        self._cancel = threading.Event()
        cancel = self._cancel
        settings = replace(self.settings)  # the settings as they were when it started
        catalog, root = self.catalog, self.data_root

        def work(_progress: Any) -> Any:
            from app.demo.simulation import Cancelled
            from core.analysis.engine import AnalysisCancelled, AnalysisError
            from core.analysis.review import analyse_and_review
            from core.learning.demo_model import active_checkpoint
            from core.models.checkpoint import CheckpointError

            try:
                ck = active_checkpoint(settings, root)
                if ck is None:
                    from app.demo.training import ensure_demo_checkpoint

                    self.progressed.emit(0.0, "Building the demo model (once; takes minutes)…")
                    ck = ensure_demo_checkpoint(
                        lambda stage, f: self.progressed.emit(
                            f, f"Building the demo model: {stage}"
                        ),
                        root,
                        cancel.is_set,
                    )
                if cancel.is_set():
                    return ("cancelled", None)
                self.progressed.emit(0.0, "Loading the model…")
                review = analyse_and_review(
                    catalog,
                    root,
                    session_id,
                    ck,
                    settings,
                    progress=lambda f, text: self.progressed.emit(float(f), str(text)),
                    cancel=cancel.is_set,
                )
            except (AnalysisCancelled, Cancelled):
                return ("cancelled", None)
            except (AnalysisError, CheckpointError, OSError, RuntimeError) as e:
                return ("error", str(e))
            return ("done", review)

        self.job = run_job(work, self._done, self._crashed)

    def _done(self, result: tuple[str, Any]) -> None:
        sid, self.session_id = self.session_id, None
        assert sid is not None
        what, value = result
        if what == "done":
            self.succeeded.emit(sid, value)
        elif what == "cancelled":
            self.cancelled.emit(sid)
        else:
            self.failed.emit(sid, value)

    def _crashed(self, msg: str) -> None:
        sid, self.session_id = self.session_id, None
        assert sid is not None
        self.failed.emit(sid, f"The analysis stopped with an unexpected error: {msg}")

    def cancel(self) -> None:
        self._cancel.set()

    def wait(self, ms: int = 10000) -> None:
        """Cancel and wait for the worker (when the window closes)."""
        self._cancel.set()
        if self.job is not None and self.job.worker_thread.isRunning():
            self.job.worker_thread.wait(ms)


_WHAT_IT_DOES = (
    "The analysis estimates valence and arousal frame by frame from the face and the physiology, "
    "then compares the pre and post windows on the circumplex."
)
INTRO_NOT_ANALYSED = f"<b>This session has not been analysed yet.</b><br>{_WHAT_IT_DOES}"
INTRO_ANALYSING = f"<b>Analysing this session…</b><br>{_WHAT_IT_DOES}"
INTRO_REANALYSING = (
    "<b>Re-analysing this session…</b><br>Its existing results stay on the other tabs until the "
    "new analysis is complete; cancelling keeps them."
)
WAITING = "Another session is being analysed; this one can start after it."


class AnalysePanel(QWidget):
    """Shown for a session that has not been analysed, or is being analysed (again).

    What it says is set for the session shown: :meth:`reset` when another session is shown,
    :meth:`set_running` whenever the analysis starts or ends.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.intro = QLabel(INTRO_NOT_ANALYSED)
        self.intro.setWordWrap(True)
        self.model = QLabel()
        self.device = QLabel("Runs on: finding out…")
        self.amount = QLabel()
        self.estimate = QLabel()
        for lab in (self.model, self.device, self.amount, self.estimate):
            lab.setWordWrap(True)
            lab.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.analyse_btn = QPushButton("Analyse now")
        self.analyse_btn.setStyleSheet("font-weight:600; padding:8px 24px;")
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setTextVisible(False)
        self.cancel_btn = QPushButton("Cancel")
        self.status = QLabel()
        self.status.setWordWrap(True)
        lay = QVBoxLayout(self)
        lay.addWidget(self.intro)
        lay.addSpacing(8)
        for w in (self.model, self.device, self.amount, self.estimate):
            lay.addWidget(w)
        lay.addSpacing(8)
        lay.addWidget(self.analyse_btn, 0, Qt.AlignmentFlag.AlignLeft)
        lay.addWidget(self.progress)
        lay.addWidget(self.cancel_btn, 0, Qt.AlignmentFlag.AlignLeft)
        lay.addWidget(self.status)
        lay.addStretch(1)
        self.set_running(False)

    def reset(self) -> None:
        """Another session is shown: nothing of the previous one's progress or messages stays."""
        self.progress.setValue(0)
        self.status.clear()
        self.set_running(False)

    def set_running(self, running: bool, here: bool = True, analysed: bool = False) -> None:
        """Show whether an analysis runs.

        Parameters
        ----------
        running : bool
            An analysis runs (this session's or another's).
        here : bool
            The running analysis is this session's.
        analysed : bool
            This session has results already (then a running analysis is a re-analysis).
        """
        this = running and here
        self.analyse_btn.setEnabled(not running)
        self.progress.setVisible(this)
        self.cancel_btn.setVisible(this)
        self.cancel_btn.setEnabled(True)
        if this:
            self.intro.setText(INTRO_REANALYSING if analysed else INTRO_ANALYSING)
        else:
            self.intro.setText(INTRO_NOT_ANALYSED)
        if running and not here:
            self.status.setText(WAITING)
        elif self.status.text() == WAITING:  # the other session's analysis has ended
            self.status.clear()

    def set_progress(self, fraction: float, text: str) -> None:
        self.progress.setValue(int(round(1000 * min(max(fraction, 0.0), 1.0))))
        self.status.setText(text)

    def describe(
        self,
        rec: SessionRecord,
        settings: Settings,
        device: str | None,
        frames_per_s: float | None,
        windows: Any,
        whole: WholeSessionEstimate | None = None,
    ) -> None:
        """Fill in the model, device, amount of work and estimated time for ``rec``
        (``whole``: the optimised CPU runtime's whole-session limit for the chosen checkpoint,
        :func:`core.analysis.planning.optimised_whole_minutes`; None: 40 min)."""
        if settings.model_checkpoint:
            self.model.setText(
                f"Model: {Path(settings.model_checkpoint).name} (chosen in Settings)"
            )
        else:
            self.model.setText(
                "Model: the TheraScope demo model — <b style='color:#c0392b'>not clinically "
                "valid</b> (choose the clinic's model in Settings)"
            )
        if device is None:
            self.device.setText("Runs on: finding out…")
            self.amount.setText("")
            self.estimate.setText("")
            return
        self.device.setText(f"Runs on: {device}")
        on_cuda = device.startswith("cuda")
        optimised = "OpenVINO" in device and whole is not None
        limit = whole.minutes if optimised and whole is not None else 40.0
        n = frames_to_analyse(rec, settings, on_cuda, windows, limit)
        how = "every frame" if on_cuda else f"{settings.analysis_frames_per_s:g} frames per second"
        scope = ""  # why a long session is analysed whole or in windows here
        if optimised and whole is not None and float(rec.duration_s or 0.0) > 40.0 * 60.0:
            scope = f"<br>{whole.note[:1].upper()}{whole.note[1:]}"
        self.amount.setText(
            f"Frames to analyse: about {n:,} ({how} of a {format_clock(rec.duration_s)} "
            f"session){scope}"
        )
        self.amount.setToolTip(whole.reason if optimised and whole is not None else "")
        if frames_per_s:
            self.estimate.setText(
                f"Estimated time: about {format_clock(max(n / frames_per_s, 1.0))} "
                f"(at {frames_per_s:.1f} frames/s, measured in this computer's last analysis)"
            )
        else:
            self.estimate.setText(
                "Estimated time: measured during the first analysis on this computer"
            )
