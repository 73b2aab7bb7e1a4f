"""Screens 5 and 6 — after the session and its review.

Not analysed yet: the patient's ratings, notes, markers and "Analyse now". Analysed: the circumplex
(pre and post with their spread, the course coloured by time, the arrow, the patient's own
ratings), the valence/arousal timeline with windows and markers, the video at the cursor on one
slider, the pre/post numbers beside the patient's ratings, and a plain-language sentence; the
"Emotions" tab (:mod:`app.gui.outputs_view`) gives the model's other outputs (liking and the
seven emotions).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QPushButton,
    QSlider,
    QSplitter,
    QStackedWidget,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)
from shiboken6 import isValid

from app.gui.analysis_panel import (
    AnalysePanel,
    AnalysisRunner,
    cached_analysis_device,
    describe_analysis_device,
)
from app.gui.circumplex_view import CircumplexView
from app.gui.data_export import DataExportButton, export_session_data
from app.gui.figure_export import save_figure
from app.gui.outputs_view import OutputsView
from app.gui.physiology_table import PhysiologyTable
from app.gui.quality_panel import QualityPanel, verdict_icon
from app.gui.report_export import export_session_report
from app.gui.review_tables import PhaseTable, analysis_details
from app.gui.session_forms import MarkersEditor, SelfReportBox
from app.gui.timeline_view import TimelineView
from app.gui.widgets import VideoView, banner, heading
from app.gui.workers import Job, run_job
from core.analysis.circumplex import describe_shift
from core.analysis.planning import measured_rate, optimised_whole_minutes
from core.analysis.review import SessionReview, refresh_summary, review_of, session_windows
from core.catalog import Catalog, SessionRecord
from core.clinical import PHQ9, session_measures
from core.config import Settings
from core.learning.demo_model import active_checkpoint
from core.recording.video_file import SessionVideo
from core.timefmt import format_clock, format_local_time
from core.transfer.export import ExportResult

VIDEO_W = 240


def demo_banner() -> QLabel:
    lab = banner("DEMO MODEL — these estimates are not clinically valid")
    lab.setStyleSheet(
        "background:#fdecea; color:#8a1c12; border:1px solid #c0392b; padding:4px; font-weight:600;"
    )
    return lab


def session_simulated_devices(folder: Path) -> str:
    """ "sensor and camera", "sensor" or "camera": what a simulated session simulated."""
    from core.recording.manifest import read_manifest, simulated_devices

    try:
        return simulated_devices(read_manifest(folder)) or "devices"
    except (OSError, ValueError):
        return "devices"


class ReviewPage(QWidget):
    """One session after recording: analyse it, then review it."""

    back = Signal(int)  # patient id
    play_session = Signal(int)  # session id
    message = Signal(str)  # for the window's status bar
    analysed = Signal(int)  # session id: a new analysis was stored

    def __init__(
        self, catalog: Catalog, data_root: Path, settings: Settings, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.catalog = catalog
        self.data_root = data_root
        self.settings = settings
        self.session_id: int | None = None
        self.record: SessionRecord | None = None
        self.last_report: Path | None = None  # the PDF exported last from this screen
        self.last_data_export: Path | None = None  # the CSV folder or EDF file exported last
        self.review: SessionReview | None = None
        self.vreader: SessionVideo | None = None
        self.frame_t = np.zeros(0)
        self.current_frame: int | None = None
        self.t = 0.0
        self.duration = 1.0
        self._device_job: Job | None = None
        self.runner = AnalysisRunner(catalog, data_root, settings)
        self.runner.progressed.connect(self._progress)
        self.runner.succeeded.connect(self._analysis_done)
        self.runner.cancelled.connect(self._analysis_cancelled)
        self.runner.failed.connect(self._analysis_failed)
        self._build()

    # --- layout ---------------------------------------------------------------------------

    def _build(self) -> None:
        self.title = heading("Session")
        back = QPushButton("← Patient")
        back.clicked.connect(self.go_back)
        QShortcut(QKeySequence("Esc"), self, self.go_back)
        self.play_btn = QPushButton("▶ Play back")
        self.play_btn.clicked.connect(self.play)
        self.figure_btn = QPushButton("Export figure…")
        self.figure_btn.clicked.connect(lambda: self.export_figure())
        self.report_btn = QPushButton("Export report (PDF)…")
        self.report_btn.setShortcut("Ctrl+E")
        self.report_btn.clicked.connect(lambda: self.export_report())
        self.data_btn = DataExportButton()
        self.data_btn.chosen.connect(self._export_data_chosen)
        self.reanalyse_btn = QPushButton("Re-analyse")
        self.reanalyse_btn.clicked.connect(self.reanalyse)
        top = QHBoxLayout()
        top.addWidget(back)
        top.addWidget(self.title, 1)
        buttons = (self.play_btn, self.figure_btn, self.report_btn, self.data_btn)
        for b in (*buttons, self.reanalyse_btn):
            top.addWidget(b)
        self.sim_banner = banner("SIMULATED SESSION — recorded from simulated devices")
        self.demo_banner = demo_banner()
        self.sentence = QLabel()
        self.sentence.setWordWrap(True)
        self.sentence.setStyleSheet(
            "font-size:14px; padding:6px; background:#f4f8fb; border:1px solid #d5e3ee;"
        )
        self.sentence.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        self.panel = AnalysePanel()
        self.panel.analyse_btn.clicked.connect(self.analyse)
        self.panel.cancel_btn.clicked.connect(self.cancel_analysis)
        self.circumplex = CircumplexView(self.settings.neutral_radius)
        self.circumplex.setMinimumSize(280, 262)
        self.left = QStackedWidget()
        self.left.addWidget(self.panel)
        self.left.addWidget(self.circumplex)

        self.table = PhaseTable()
        self.not_analysed = QLabel("Not analysed yet: the numbers appear here after the analysis.")
        self.not_analysed.setAlignment(Qt.AlignmentFlag.AlignCenter)
        numbers_page = QWidget()
        nl = QVBoxLayout(numbers_page)
        nl.setContentsMargins(4, 4, 4, 4)
        nl.addWidget(self.sentence)
        nl.addWidget(self.table, 1)
        self.numbers = QStackedWidget()
        self.numbers.addWidget(self.not_analysed)
        self.numbers.addWidget(numbers_page)
        self.numbers_page = numbers_page
        self.self_report = SelfReportBox(self.catalog)
        self.self_report.changed.connect(self._self_report_changed)
        self.markers = MarkersEditor(self.catalog)
        self.markers.changed.connect(self._markers_changed)
        self.details = QLabel()
        self.details.setWordWrap(True)
        self.details.setAlignment(Qt.AlignmentFlag.AlignTop)
        self.details.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.physiology = PhysiologyTable()
        self.outputs = OutputsView()  # liking and the seven emotions
        self.quality = QualityPanel()
        self.tabs = QTabWidget()
        # short titles, so that the seven fit beside the figure on a 1024 px wide display; each
        # tab's tooltip gives its full name
        for widget, title, tip in (
            (self.numbers, "Pre / post", "The pre and post windows' numbers"),
            (self.self_report, "Ratings", "Ratings & notes: SAM, GAD-7, PHQ-9, SUDS and notes"),
            (self.markers, "Markers", "The session's markers"),
            (self.physiology, "Physiology", "Heart rate, RMSSD, EDA and SCR rate before and after"),
            (self.outputs, "Emotions", "Liking & emotions: the model's other outputs"),
            (self.details, "Analysis", "How this session was analysed"),
            (self.quality, "Quality", "Data quality: what the recording lost, and its verdict"),
        ):
            self.tabs.setTabToolTip(self.tabs.addTab(widget, title), tip)

        self.video = VideoView("no video", VIDEO_W, 160)
        self.timeline = TimelineView()
        self.timeline.seek.connect(self.seek)
        self.no_timeline = QLabel(
            "The valence and arousal timeline appears here after the analysis.\n"
            "The slider already moves through the video."
        )
        self.no_timeline.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.no_timeline.setStyleSheet("color:#777; border:1px dashed #bbb;")
        self.timeline_stack = QStackedWidget()
        self.timeline_stack.addWidget(self.no_timeline)
        self.timeline_stack.addWidget(self.timeline)
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.valueChanged.connect(lambda v: self.seek(v / 1000.0, from_slider=True))
        self.time_label = QLabel("0:00 / 0:00")
        self.time_label.setStyleSheet("font-family:monospace; font-size:13px;")

        upper = QSplitter(Qt.Orientation.Horizontal)
        upper.addWidget(self.left)
        upper.addWidget(self.tabs)
        upper.setStretchFactor(0, 1)
        upper.setStretchFactor(1, 1)
        upper.setSizes([520, 740])
        # the video beside the timeline, the slider under the timeline; the therapist drags the
        # border between the figure and the timeline to give either more room
        slider_row = QHBoxLayout()
        slider_row.addWidget(self.slider, 1)
        slider_row.addWidget(self.time_label)
        timeline_column = QVBoxLayout()
        timeline_column.addWidget(self.timeline_stack, 1)
        timeline_column.addLayout(slider_row)
        lower = QWidget()
        lower_lay = QHBoxLayout(lower)
        lower_lay.setContentsMargins(0, 0, 0, 0)
        lower_lay.addWidget(self.video, 0, Qt.AlignmentFlag.AlignTop)
        lower_lay.addLayout(timeline_column, 1)
        body = QSplitter(Qt.Orientation.Vertical)
        body.addWidget(upper)
        body.addWidget(lower)
        body.setChildrenCollapsible(False)
        body.setStretchFactor(0, 5)
        body.setStretchFactor(1, 2)
        banners = QHBoxLayout()
        banners.addWidget(self.sim_banner)
        banners.addWidget(self.demo_banner)
        lay = QVBoxLayout(self)
        lay.addLayout(top)
        lay.addLayout(banners)
        lay.addWidget(body, 1)

    # --- loading ----------------------------------------------------------------------------

    def load(self, session_id: int) -> None:
        """Show one session (analysed or not). Raises KeyError for an unknown session."""
        rec = self.catalog.get_session(session_id)
        if rec is None:
            raise KeyError(f"no session {session_id}")
        self.self_report.flush()
        if session_id != self.session_id:
            self.panel.reset()  # nothing of the previous session's analysis stays on the panel
        self.session_id = session_id
        self.record = rec
        p = self.catalog.get_patient(rec.patient_id)
        self.title.setText(
            f"Patient {p.code if p else '?'} — {format_local_time(rec.started_at)}"
            f" — {format_clock(rec.duration_s)}"
        )
        self.sim_banner.setVisible(rec.simulated or rec.imported)
        if rec.simulated:
            what = session_simulated_devices(self.data_root / rec.folder)
            self.sim_banner.setText(f"SIMULATED SESSION — recorded from the simulated {what}")
        elif rec.imported:  # not a warning, but where the data came from must not be missed
            src = rec.devices.get("import") or {}
            names = ", ".join(str(f.get("name", "?")) for f in src.get("files") or [])
            self.sim_banner.setText(
                f"IMPORTED SESSION — from {names or 'files'} ({src.get('format', '?')})"
            )
        self.duration = max(float(rec.duration_s or 0.0), 1e-3)
        self._open_video(rec)
        self.quality.load(self.data_root / rec.folder)
        self.tabs.setTabIcon(self.tabs.indexOf(self.quality), verdict_icon(self.quality.verdict))
        self.self_report.load(session_id)
        self._mark_ratings_tab()
        self.slider.blockSignals(True)
        self.slider.setRange(0, int(self.duration * 1000))
        self.slider.setValue(0)
        self.slider.blockSignals(False)
        self.refresh()
        # after the session the ratings come first; once analysed, the numbers
        self.tabs.setCurrentIndex(0 if self.review is not None else 1)
        self.seek(0.0)

    def _open_video(self, rec: SessionRecord) -> None:
        from core.recording import open_session

        if self.vreader is not None:
            self.vreader.close()
        self.vreader = None
        self.frame_t = np.zeros(0)
        try:
            data = open_session(self.data_root / rec.folder)
            self.vreader = data.video()
            if self.vreader is not None:
                self.frame_t = (np.asarray(self.vreader.timestamps_ns, np.int64) - data.t0_ns) / 1e9
            text = "no video in this session" if self.vreader is None else ""
        except (OSError, ValueError, KeyError) as e:
            text = f"video not readable: {e}"
        self.current_frame = None
        self.video.clear_image(text)

    def refresh(self) -> None:
        """Re-read the analysis (e.g. after markers changed) and redraw everything."""
        if self.session_id is None:
            return
        rec = self.record
        assert rec is not None
        try:
            self.review = review_of(self.catalog, self.data_root, self.session_id, self.settings)
        except ValueError as e:
            self.review = None
            self.panel.status.setText(str(e))
        markers = self.catalog.list_markers(self.session_id)
        self.markers.load(self.session_id, self.duration)
        self.physiology.load(
            self.data_root / rec.folder,
            [(m.t_s, m.kind) for m in markers],
            self.settings.phase_minutes,
        )
        running_here = self.runner.session_id == self.session_id
        r = self.review
        analysed = r is not None and not running_here
        self.left.setCurrentWidget(self.circumplex if analysed else self.panel)
        self.numbers.setCurrentWidget(self.numbers_page if r is not None else self.not_analysed)
        self.timeline_stack.setCurrentWidget(self.timeline if r is not None else self.no_timeline)
        self.sentence.setVisible(r is not None)
        self.demo_banner.setVisible(r is not None and r.demo_model)
        self.figure_btn.setEnabled(r is not None)
        self.reanalyse_btn.setEnabled(r is not None and not self.runner.running)
        self.report_btn.setEnabled(rec.status in ("finalised", "recovered"))
        self.data_btn.setEnabled(rec.status in ("finalised", "recovered"))
        if r is not None:
            self.circumplex.show_session(r, phase_minutes=self.settings.phase_minutes)
            self.timeline.show_session(r, markers, self.catalog.list_suds(self.session_id))
            self.table.show_review(r)
            demo = " (demo model — not clinically valid)" if r.demo_model else ""
            self.sentence.setText(f"<b>{describe_shift(r.circumplex)}</b>{demo}")
            self.details.setText(analysis_details(r))
            self.outputs.show_review(r)
        else:
            self.details.setText("Not analysed yet.")
            self.outputs.clear()
        self.panel.set_running(self.runner.running, running_here, analysed=r is not None)
        if not self.runner.running:
            self.panel.progress.setValue(0)
        self._describe_panel()
        self.seek(self.t)

    def _describe_panel(self) -> None:
        rec = self.record
        if rec is None:
            return
        spec = self.settings.analysis_device
        device = cached_analysis_device(spec)
        windows = session_windows(self.catalog, rec, self.settings)
        rate = None
        if device is not None:
            kind = "cuda" if device.startswith("cuda") else "cpu"
            rate = measured_rate(self.catalog, self.data_root, kind)
        whole = None  # the optimised CPU runtime's limit for the checkpoint the settings choose
        if device is not None and "OpenVINO" in device:
            try:
                ck = active_checkpoint(self.settings, self.data_root)
            except FileNotFoundError:  # said when an analysis starts
                ck = None
            whole = optimised_whole_minutes(self.settings, ck)
        self.panel.describe(rec, self.settings, device, rate, windows, whole)
        if device is None:

            def found(_: object) -> None:
                if isValid(self) and self.record is rec:  # the page may be gone by now
                    self._describe_panel()

            self._device_job = run_job(
                lambda _p: describe_analysis_device(spec), found, lambda _m: None
            )

    # --- the slider -------------------------------------------------------------------------

    def seek(self, t: float, from_slider: bool = False) -> None:
        """Move the cursor, the video and the circumplex mark to session time ``t`` (s)."""
        if self.session_id is None:
            return
        self.t = float(np.clip(t, 0.0, self.duration))
        if not from_slider:
            self.slider.blockSignals(True)
            self.slider.setValue(int(self.t * 1000))
            self.slider.blockSignals(False)
        self.markers.cursor_s = self.t
        self.timeline.set_cursor(self.t)
        self.outputs.set_cursor(self.t)
        self.time_label.setText(f"{format_clock(self.t)} / {format_clock(self.duration)}")
        r = self.review
        if r is not None and len(r.estimates.t_s):
            i = int(np.argmin(np.abs(r.estimates.t_s - self.t)))
            near = abs(r.estimates.t_s[i] - self.t) <= 2.0
            v, a = (r.estimates.valence[i], r.estimates.arousal[i]) if near else (np.nan, np.nan)
            self.circumplex.set_cursor(float(v), float(a))
        self._show_frame()

    def _show_frame(self) -> None:
        if self.vreader is None or not len(self.frame_t):
            return
        i = int(
            np.clip(
                np.searchsorted(self.frame_t, self.t, side="right") - 1, 0, len(self.frame_t) - 1
            )
        )
        if i == self.current_frame:
            return
        try:
            self.video.show_image(self.vreader.read(i))
        except (OSError, ValueError) as e:
            self.video.clear_image(f"frame not readable: {e}")
        self.current_frame = i

    # --- what the therapist does ----------------------------------------------------------

    def go_back(self) -> None:
        """Back to the patient (Esc), once every rating typed is saved."""
        if self._ratings_saved():
            self.back.emit(self.record.patient_id if self.record else 0)

    def play(self) -> None:
        """Play the session back, once every rating typed is saved."""
        if self._ratings_saved():
            self.play_session.emit(self.session_id or 0)

    def _ratings_saved(self) -> bool:
        """Save what was typed; a rating that was refused keeps the therapist here, told why."""
        self.self_report.flush()
        problems = self.self_report.problems()
        if not problems:
            return True
        self.tabs.setCurrentWidget(self.self_report)
        QMessageBox.warning(
            self,
            "Ratings not saved",
            "\n".join(problems) + "\n\nCorrect these ratings, or clear them, before leaving.",
        )
        return False

    def _mark_ratings_tab(self) -> None:
        """The Ratings tab reads "Ratings ⚠" in red while this session's PHQ-9 item 9 is above 0
        (its tooltip says so), so the warning is seen from any tab."""
        i = self.tabs.indexOf(self.self_report)
        sid = self.session_id
        on = sid is not None and bool(session_measures(self.catalog, sid).flagged)
        self.tabs.setTabText(i, "Ratings ⚠" if on else "Ratings")
        self.tabs.tabBar().setTabTextColor(i, Qt.GlobalColor.red if on else Qt.GlobalColor.black)
        tip = "Ratings & notes: SAM, GAD-7, PHQ-9, SUDS and notes"
        self.tabs.setTabToolTip(i, f"{tip} — ⚠ {PHQ9.flag_text}" if on else tip)

    def _self_report_changed(self) -> None:
        self._mark_ratings_tab()
        if self.review is not None and self.session_id is not None:
            self.review.self_reports = self.catalog.self_reports(self.session_id)
            self.circumplex.show_session(self.review, phase_minutes=self.settings.phase_minutes)
            self.table.show_review(self.review)
            self.timeline.set_suds(self.catalog.list_suds(self.session_id))  # corrected, deleted
            self.seek(self.t)

    def _markers_changed(self) -> None:
        if self.session_id is None:
            return
        try:
            refresh_summary(self.catalog, self.data_root, self.session_id, self.settings)
        except ValueError as e:
            QMessageBox.warning(self, "Summary not updated", str(e))
        self.refresh()

    def analyse(self) -> None:
        if self.session_id is None or self.runner.running:
            return
        if self.record is not None and self.record.status not in ("finalised", "recovered"):
            QMessageBox.information(self, "Not ready", "Only a finished recording can be analysed.")
            return
        self.runner.start(self.session_id)
        self.panel.set_progress(0.0, "Starting the analysis…")
        self.refresh()

    def reanalyse(self) -> None:
        ans = QMessageBox.question(
            self,
            "Analyse again",
            "Analyse this session again with the model chosen in Settings? The new estimates "
            "replace the current ones once the analysis is complete.",
        )
        if ans == QMessageBox.StandardButton.Yes:
            self.analyse()

    def cancel_analysis(self) -> None:
        self.runner.cancel()
        self.panel.cancel_btn.setEnabled(False)
        self.panel.status.setText("Cancelling…")

    def _progress(self, fraction: float, text: str) -> None:
        if self.runner.session_id == self.session_id:
            self.panel.set_progress(fraction, text)

    def _analysis_done(self, session_id: int, review: object) -> None:
        self.analysed.emit(session_id)
        if session_id == self.session_id:
            self.refresh()
            self.tabs.setCurrentIndex(0)  # the results
        else:
            self._other_analysis_ended()

    def _analysis_cancelled(self, session_id: int) -> None:
        if session_id == self.session_id:
            self.refresh()
            self.panel.status.setText("Analysis cancelled; nothing was stored.")
        else:
            self._other_analysis_ended()

    def _analysis_failed(self, session_id: int, message: str) -> None:
        if session_id == self.session_id:
            self.refresh()
            self.panel.status.setText("The analysis did not run.")
        else:
            self._other_analysis_ended()
        QMessageBox.warning(self, "Analysis not possible", message)

    def _other_analysis_ended(self) -> None:
        """Another session's analysis ended: this one's can start now."""
        if self.session_id is not None:
            self.panel.set_running(False, analysed=self.review is not None)
            self.reanalyse_btn.setEnabled(self.review is not None)

    def export_report(self, path: str | None = None, include_name: bool | None = None) -> None:
        """Export this session's PDF report (asks where, unless ``path`` is given); the therapist
        stays on this screen."""
        rec = self.record
        if rec is None:
            return

        def done(result: Path) -> None:
            self.report_btn.setEnabled(True)
            self.last_report = result
            self.message.emit(f"Report saved: {result}")

        def failed(msg: str) -> None:
            self.report_btn.setEnabled(True)
            self.message.emit("Report not saved")
            QMessageBox.warning(self, "Report not saved", msg)

        if export_session_report(
            self, self.catalog, self.data_root, rec, done, failed, path, include_name
        ):
            self.report_btn.setEnabled(False)
            self.message.emit("Building the report…")

    def _export_data_chosen(self, fmt: str) -> None:
        self.export_data(fmt)

    def export_data(
        self, fmt: str, path: str | None = None, include_name: bool | None = None
    ) -> None:
        """Export this session's data as ``fmt`` (``"csv"``, ``"edf"``; asks where unless
        ``path``); the therapist stays on this screen."""
        rec = self.record
        if rec is None:
            return

        def done(res: ExportResult) -> None:
            self.data_btn.setEnabled(True)
            self.last_data_export = res.path
            self.message.emit(f"Data exported: {res.path}")

        def failed(msg: str) -> None:
            self.data_btn.setEnabled(True)
            self.message.emit("Data not exported")
            QMessageBox.warning(self, "Data not exported", msg)

        if export_session_data(
            self, self.catalog, self.data_root, rec, fmt, done, failed, path, include_name
        ):
            self.data_btn.setEnabled(False)
            self.message.emit("Exporting the data…")

    def export_figure(self, path: str | None = None) -> Path | None:
        """Save the circumplex as PNG or SVG (asks where unless ``path`` is given)."""
        if self.review is None or self.record is None:
            return None
        p = self.catalog.get_patient(self.record.patient_id)
        name = f"TheraScope_{p.code if p else 'session'}_{self.record.uid}.png"
        return save_figure(self, self.circumplex, name, path)

    def shutdown(self) -> None:
        """Stop a running analysis (the window is closing) and close the video."""
        self.self_report.flush()
        self.runner.wait()
        self.physiology.wait()
        if self._device_job is not None and self._device_job.worker_thread.isRunning():
            self._device_job.worker_thread.wait(15000)  # at most the time torch takes to import
        if self.vreader is not None:
            self.vreader.close()
            self.vreader = None
