"""Screen 2 — Patient: details, sessions with their state and pre→post quadrants (sortable,
filterable), the circumplex history (one arrow per analysed session) and the self-report history;
start, review, play back, export; archive or delete the patient, delete a session."""

from __future__ import annotations

import html
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from app.gui.circumplex_view import CircumplexView
from app.gui.confirm_dialog import TypeToConfirmDialog
from app.gui.course_export import export_course_report
from app.gui.course_view import CourseView
from app.gui.data_export import DataExportButton, export_session_data
from app.gui.import_dialog import ImportDialog
from app.gui.patients_page import PatientDialog
from app.gui.quality_panel import QualityDialog
from app.gui.report_export import export_session_report
from app.gui.review_tables import analysis_of, shift_text
from app.gui.session_compare import SessionCompareDialog
from app.gui.sortable import SortItem, apply_filter, first_visible_row, make_sortable, row_of
from app.gui.widgets import heading
from app.gui.workers import run_job
from core.catalog import Catalog, SessionRecord
from core.filenames import safe_file_name, safe_name_part
from core.privacy.erasure import DeletionError, DeletionRefused, erase_patient, erase_session
from core.privacy.patient_export import PatientExport, export_patient
from core.quality.session import assess_quality
from core.quality.text import VERDICT_WORDS
from core.timefmt import format_clock, format_local_time
from core.transfer.export import ExportResult

SESSION_COLUMNS = [
    "No.",
    "Started",
    "Duration",
    "State",
    "Pre → post",
    "Lost\nsamples",
    "Dropped\nframes",
    "Data",
]
SELF_REPORT_COLUMNS = [
    "No.",
    "Date",
    "SAM valence\npre → post",
    "SAM arousal\npre → post",
    "GAD-7\npre → post",
]


def quality_text(rec: SessionRecord) -> tuple[str, str]:
    """(lost samples, dropped frames) as short texts for the table."""
    q = rec.quality or {}
    streams = q.get("streams", {})
    exp = sum(s.get("expected", 0) for s in streams.values())
    lost = sum(s.get("lost", 0) for s in streams.values())
    lost_t = f"{lost} ({100 * lost / exp:.2f} %)" if exp else "–"
    v = q.get("video") or {}
    drop_t = f"{v.get('dropped', 0)} of {v.get('frames', 0) + v.get('dropped', 0)}" if v else "–"
    return lost_t, drop_t


def quality_tooltip(rec: SessionRecord) -> str:
    """The stored quality's verdict and reasons, for the quality cells' tooltip."""
    s = assess_quality(rec.quality or {}, rec.devices or {}, rec.simulated)
    reasons = s["reasons"] or ["no problems found"]
    lines = [f"Data quality: {VERDICT_WORDS[s['verdict']].lower()}"] + [f"• {r}" for r in reasons]
    return "\n".join(lines + ["(Data quality… shows the figures)"])


def quality_keys(rec: SessionRecord) -> tuple[int | None, int | None]:
    """(lost samples, dropped frames) as numbers to sort the table by; ``None`` where unknown."""
    q = rec.quality or {}
    streams = q.get("streams", {})
    lost = sum(s.get("lost", 0) for s in streams.values()) if streams else None
    v = q.get("video") or {}
    return lost, (v.get("dropped", 0) if v else None)


def _pair(pre: object, post: object, field: str) -> str:
    a, b = getattr(pre, field, None), getattr(post, field, None)
    if a is None and b is None:
        return "–"
    return f"{'–' if a is None else a} → {'–' if b is None else b}"


class PatientPage(QWidget):
    """One patient's details and sessions."""

    back = Signal()
    new_session = Signal(int)  # patient id
    play_session = Signal(int)  # session id
    review_session = Signal(int)  # session id
    message = Signal(str)  # for the window's status bar

    def __init__(self, catalog: Catalog, data_root: Path, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.catalog = catalog
        self.data_root = data_root
        self.patient_id: int | None = None
        self.sessions: list[SessionRecord] = []
        self.last_report: Path | None = None  # the PDF exported last for this patient
        self.confirm_dialog: TypeToConfirmDialog | None = None
        #: the account that unlocked the data folder (set by the window; None: the demo folder):
        #: an erasure destroys keys with it
        self.unlocked: Any = None
        self.last_patient_export: PatientExport | None = None
        self._patient_exports = 0  # patient zips being written
        self._exports = 0  # reports being built
        self._data_exports = 0  # data exports running
        self.title = heading("Patient")
        self.details = QLabel()
        self.details.setTextFormat(Qt.TextFormat.RichText)
        self.details.setWordWrap(True)
        self.back_btn = QPushButton("← Patients")
        self.back_btn.clicked.connect(self.back.emit)
        edit = QPushButton("Edit patient")
        edit.clicked.connect(self.edit)
        self.archive_btn = QPushButton("Archive patient…")
        self.archive_btn.clicked.connect(self._archive_clicked)
        self.export_patient_btn = QPushButton("Export patient (zip)…")
        self.export_patient_btn.setToolTip(
            "Every session, video, estimate, report record and self-report of the patient, with "
            "a manifest and the audit excerpt, in one zip file"
        )
        self.export_patient_btn.clicked.connect(self._export_patient_clicked)
        self.delete_btn = QPushButton("Delete patient…")
        self.delete_btn.setToolTip("Delete the patient and every session, for good")
        self.delete_btn.clicked.connect(self.ask_delete_patient)
        self.new_btn = QPushButton("New session")
        self.new_btn.setStyleSheet("font-weight:600; padding:6px 16px;")
        self.new_btn.clicked.connect(lambda: self.new_session.emit(self.patient_id))
        self.review_btn = QPushButton("Review")
        self.review_btn.setStyleSheet("font-weight:600;")
        self.review_btn.clicked.connect(self._review)
        self.play_btn = QPushButton("Play back")
        self.play_btn.clicked.connect(self._play)
        self.quality_btn = QPushButton("Data quality…")
        self.quality_btn.clicked.connect(self.show_quality)
        self.quality_dialog: QualityDialog | None = None
        self.report_btn = QPushButton("Export report (PDF)…")
        self.report_btn.setShortcut("Ctrl+E")
        # not export_report itself: clicked(bool) would arrive as its ``path``
        self.report_btn.clicked.connect(self._export_clicked)
        self.data_btn = DataExportButton()
        self.data_btn.chosen.connect(self._export_data_chosen)
        self.import_btn = QPushButton("Import recording…")
        self.import_btn.setToolTip(
            "A recording made with another tool (OpenSignals, EDF/BDF, XDF) and its video"
        )
        self.import_btn.clicked.connect(self._import_clicked)
        self.import_dialog: ImportDialog | None = None
        self.delete_session_btn = QPushButton("Delete session…")
        self.delete_session_btn.setToolTip("Delete the selected session, for good")
        self.delete_session_btn.clicked.connect(self.ask_delete_session)
        self.filter = QLineEdit()
        self.filter.setPlaceholderText("Filter sessions (date, state, quadrant…)")
        self.filter.setClearButtonEnabled(True)
        self.filter.textChanged.connect(self._apply_filter)
        self.table = QTableWidget(0, len(SESSION_COLUMNS))
        self.table.setHorizontalHeaderLabels(SESSION_COLUMNS)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        hh = self.table.horizontalHeader()
        # every column as wide as its text (the table scrolls sideways where the screen is
        # narrow: nothing is cut off), rows as high as the two-line pre → post cells
        hh.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        hh.setStretchLastSection(True)
        self.table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.verticalHeader().setVisible(False)
        make_sortable(self.table, SESSION_COLUMNS.index("Started"), Qt.SortOrder.DescendingOrder)
        self.table.itemSelectionChanged.connect(self._update_buttons)
        self.table.doubleClicked.connect(self._review)
        self.reports = QTableWidget(0, len(SELF_REPORT_COLUMNS))
        self.reports.setHorizontalHeaderLabels(SELF_REPORT_COLUMNS)
        self.reports.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.reports.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.reports.verticalHeader().setVisible(False)
        self.reports.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.reports.horizontalHeader().setSectionResizeMode(
            0, QHeaderView.ResizeMode.ResizeToContents
        )
        self.history = CircumplexView(compact=True)
        # the course of therapy (issue 19): trends, two sessions side by side, the course report
        self.trends = CourseView()
        self.compare_btn = QPushButton("Compare two sessions…")
        self.compare_btn.setToolTip("Any two sessions side by side: circumplex, tables, physiology")
        self.compare_btn.clicked.connect(self._compare_clicked)
        self.compare_dialog: SessionCompareDialog | None = None
        self.course_btn = QPushButton("Course report…")
        self.course_btn.setToolTip(
            "Every session of the patient in one PDF: trends, per-session table, questionnaires"
        )
        self.course_btn.clicked.connect(self._course_report_clicked)
        self.last_course_report: Path | None = None
        self._course_exports = 0
        self.history.setMinimumSize(280, 280)
        self.status = QLabel()
        QShortcut(QKeySequence("Esc"), self, self.back.emit)
        top = QHBoxLayout()
        top.addWidget(self.back_btn)
        top.addWidget(self.title, 1)
        top.addWidget(edit)
        top.addWidget(self.archive_btn)
        top.addWidget(self.export_patient_btn)
        top.addWidget(self.delete_btn)
        top.addWidget(self.import_btn)
        top.addWidget(self.new_btn)
        search = QHBoxLayout()
        search.addWidget(QLabel("<b>Sessions</b>"))
        search.addWidget(self.filter, 1)
        search.addWidget(self.compare_btn)
        actions = QHBoxLayout()
        actions.addWidget(self.review_btn)
        actions.addWidget(self.play_btn)
        actions.addWidget(self.quality_btn)
        actions.addWidget(self.report_btn)
        actions.addWidget(self.data_btn)
        actions.addWidget(self.delete_session_btn)
        self.no_match = QLabel("No session matches the filter.")
        self.no_match.setVisible(False)
        left = QWidget()
        ll = QVBoxLayout(left)
        ll.setContentsMargins(0, 0, 0, 0)
        ll.addLayout(search)
        ll.addLayout(actions)
        ll.addWidget(self.table, 3)
        ll.addWidget(self.no_match)
        ll.addWidget(QLabel("<b>Self-reports</b> (SAM 1–9, GAD-7 0–21)"))
        ll.addWidget(self.reports, 2)
        right = QWidget()
        rl = QVBoxLayout(right)
        rl.setContentsMargins(0, 0, 0, 0)
        history_label = QLabel(
            "<b>Circumplex history</b> — one pre → post arrow per analysed session"
        )
        history_label.setWordWrap(True)
        history_tab = QWidget()
        hl = QVBoxLayout(history_tab)
        hl.setContentsMargins(0, 0, 0, 0)
        hl.addWidget(history_label)
        hl.addWidget(self.history, 1)
        trends_tab = QWidget()
        tl = QVBoxLayout(trends_tab)
        tl.setContentsMargins(0, 0, 0, 0)
        course_row = QHBoxLayout()
        course_row.addWidget(QLabel("<b>Progress across sessions</b>"), 1)
        course_row.addWidget(self.course_btn)
        tl.addLayout(course_row)
        tl.addWidget(self.trends, 1)
        self.tabs = QTabWidget()
        self.tabs.addTab(history_tab, "Circumplex history")
        self.tabs.addTab(trends_tab, "Progress trends")
        self.tabs.currentChanged.connect(lambda _i: self._load_trends())
        rl.addWidget(self.tabs, 1)
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(left)
        split.addWidget(right)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        split.setSizes([760, 480])
        lay = QVBoxLayout(self)
        lay.addLayout(top)
        lay.addWidget(self.details)
        lay.addWidget(split, 1)
        lay.addWidget(self.status)

    def show_patient(self, patient_id: int) -> None:
        """Show a patient; another patient than the one shown starts from a clean page."""
        if patient_id != self.patient_id:
            self._reset_patient_state()
        self.patient_id = patient_id
        self.refresh()

    def _reset_patient_state(self) -> None:
        """Forget what belongs to the patient shown before: the last report, the status line,
        the filter, the selection and any dialog about that patient."""
        self.last_report = None
        self.last_course_report = None
        self.last_patient_export = None
        self.status.setText("")
        self.filter.clear()
        self.table.clearSelection()
        for dlg in (self.quality_dialog, self.confirm_dialog, self.compare_dialog):
            if dlg is not None:
                dlg.reject()
        self.quality_dialog = None
        self.confirm_dialog = None
        self.compare_dialog = None

    def refresh(self) -> None:
        if self.patient_id is None:
            return
        p = self.catalog.get_patient(self.patient_id)
        if p is None:
            self.back.emit()
            return
        self.title.setText(
            f"Patient {p.code}"
            + ("  (demo patient)" if p.is_demo else "")
            + ("  (archived)" if p.archived else "")
        )
        self.archive_btn.setText("Unarchive patient" if p.archived else "Archive patient…")
        self.new_btn.setEnabled(not p.archived)
        self.new_btn.setToolTip("Unarchive the patient to record" if p.archived else "")
        bits = []  # rich text: what the therapist typed is escaped, never read as markup
        if p.name:
            bits.append(f"Name: {html.escape(p.name)}")
        if p.birth_year:
            bits.append(f"Born: {p.birth_year}")
        if p.notes:
            bits.append(f"Notes: {html.escape(p.notes)}")
        self.details.setText(" · ".join(bits) or "<i>No details besides the code.</i>")
        selected = self.selected_session()
        self.sessions = self.catalog.list_sessions(patient_id=p.id)  # newest first
        states = self.catalog.session_states(p.id)
        number = {r.id: len(self.sessions) - i for i, r in enumerate(self.sessions)}
        self.analyses = {r.id: analysis_of(self.catalog, r.id) for r in self.sessions}
        self.table.setSortingEnabled(False)  # rows stay where they are put while filling
        self.table.clearContents()
        self.table.setRowCount(len(self.sessions))
        for i, r in enumerate(self.sessions):
            lost, drop = quality_text(r)
            lost_n, drop_n = quality_keys(r)
            a = self.analyses[r.id]
            cells: list[tuple[str, float | str | None]] = [
                (str(number[r.id]), number[r.id]),
                (format_local_time(r.started_at), r.started_at),
                (format_clock(r.duration_s), r.duration_s),
                (states.get(r.id, r.status), None),
                (shift_text(*a, lines=True) if a else "–", None),
                (lost, lost_n),
                (drop, drop_n),
                (r.origin, None),
            ]
            tip = quality_tooltip(r) if r.quality else ""
            for j, (text, key) in enumerate(cells):
                item = SortItem(text, key)
                item.setData(Qt.ItemDataRole.UserRole, r.id)
                if tip and SESSION_COLUMNS[j] in ("Lost\nsamples", "Dropped\nframes"):
                    item.setToolTip(tip)
                self.table.setItem(i, j, item)
        self.table.setSortingEnabled(True)  # sorts again by the column the therapist chose
        self._apply_filter(self.filter.text())
        row = row_of(self.table, selected.id) if selected is not None else None
        if row is None or self.table.isRowHidden(row):
            row = first_visible_row(self.table)
        if row is not None:
            self.table.selectRow(row)
        self._update_buttons()
        arrows = []
        for r in reversed(self.sessions):  # oldest first: the arrows are coloured old → new
            a = self.analyses[r.id]
            if a is not None:
                c, demo = a
                pre = (c.pre.mean_valence, c.pre.mean_arousal)
                arrows.append(
                    (str(number[r.id]), pre, (c.post.mean_valence, c.post.mean_arousal), demo)
                )
        self.history.show_arrows(arrows, ordered=True)
        self._fill_reports()
        self._load_trends()

    def _fill_reports(self) -> None:
        rows = []
        for r in self.sessions:
            sr = self.catalog.self_reports(r.id)
            if not sr:
                continue
            pre, post = sr.get("pre"), sr.get("post")
            rows.append(
                [
                    str(len(self.sessions) - self.sessions.index(r)),
                    format_local_time(r.started_at)[:10],
                    _pair(pre, post, "sam_valence"),
                    _pair(pre, post, "sam_arousal"),
                    _pair(pre, post, "gad7"),
                ]
            )
        self.reports.setRowCount(len(rows))
        for i, cells in enumerate(rows):
            for j, text in enumerate(cells):
                self.reports.setItem(i, j, QTableWidgetItem(text))

    def _apply_filter(self, text: str) -> None:
        """Show only the sessions whose cells (or uid) contain ``text``."""
        uids = {r.id: r.uid for r in self.sessions}
        shown = apply_filter(self.table, text, uids)
        self.no_match.setVisible(bool(self.sessions) and shown == 0)
        items = self.table.selectedItems()
        if items and self.table.isRowHidden(items[0].row()):
            self.table.clearSelection()
        if not self.table.selectedItems():
            row = first_visible_row(self.table)
            if row is not None:
                self.table.selectRow(row)
        self._update_buttons()

    def _update_buttons(self) -> None:
        """The session buttons act on the selected session: enabled when there is one."""
        has = bool(self.table.selectedItems())
        self.review_btn.setEnabled(has)
        self.play_btn.setEnabled(has)
        self.quality_btn.setEnabled(has)
        self.report_btn.setEnabled(has and self._exports == 0)
        self.data_btn.setEnabled(has and self._data_exports == 0)
        self.delete_session_btn.setEnabled(has)
        finished = [r for r in self.sessions if r.status != "recording"]
        self.compare_btn.setEnabled(len(finished) >= 2)
        self.course_btn.setEnabled(bool(self.sessions) and self._course_exports == 0)

    def _session_or_selected(self, session_id: int | None) -> SessionRecord | None:
        """The session ``session_id`` (e.g. from the review screen), else the selected one."""
        if session_id is not None:
            return self.catalog.get_session(session_id)
        return self.selected_session()

    def selected_session(self) -> SessionRecord | None:
        items = self.table.selectedItems()
        if not items:
            return None
        return self.catalog.get_session(int(items[0].data(Qt.ItemDataRole.UserRole)))

    def _finished_selection(self) -> SessionRecord | None:
        """The selected session, unless there is none or it is still being recorded."""
        rec = self.selected_session()
        if rec is not None and rec.status == "recording":
            QMessageBox.information(self, "Still recording", "This session is still recording.")
            return None
        return rec

    def _review(self) -> None:
        rec = self._finished_selection()
        if rec is not None:
            self.review_session.emit(rec.id)

    def select_session(self, session_id: int) -> None:
        row = row_of(self.table, session_id)
        if row is not None:
            if self.table.isRowHidden(row):
                self.filter.clear()
            self.table.selectRow(row)

    def _play(self) -> None:
        rec = self._finished_selection()
        if rec is not None:
            self.play_session.emit(rec.id)

    def show_quality(self) -> None:
        """The selected session's data-quality panel, in a dialog."""
        rec = self._finished_selection()
        if rec is None:
            return
        title = f"Data quality — session of {format_local_time(rec.started_at)}"
        self.quality_dialog = QualityDialog(self.data_root / rec.folder, title, self)
        self.quality_dialog.open()

    def edit(self) -> None:
        if self.patient_id is None:
            return
        dlg = PatientDialog(self.catalog, self.catalog.get_patient(self.patient_id), parent=self)
        if dlg.exec():
            self.refresh()

    def _export_clicked(self) -> None:
        """The "Export report (PDF)…" button and Ctrl+E: the selected session's report."""
        self.export_report()

    def export_report(
        self,
        path: str | None = None,
        include_name: bool | None = None,
        session_id: int | None = None,
    ) -> None:
        """Ask where to save (unless ``path`` is given) and build the PDF in the background.

        ``session_id``: that session (e.g. from the review screen); else the selected one.
        """
        rec = self._session_or_selected(session_id)
        if rec is None:
            return
        patient_id = rec.patient_id

        def ended() -> bool:
            """One build less; whether this patient is still the one shown."""
            self._exports -= 1
            self._update_buttons()
            return self.patient_id == patient_id

        def done(result: Path) -> None:
            self.message.emit(f"Report saved: {result}")
            if ended():  # another patient's page never shows this patient's report
                self.status.setText(f"Report saved: {result}")
                self.last_report = result
                self.refresh()  # the session is now "reported"

        def failed(msg: str) -> None:
            if ended():
                self.status.setText("")
            self.message.emit("Report not saved")
            QMessageBox.warning(self, "Report not saved", msg)

        if export_session_report(
            self, self.catalog, self.data_root, rec, done, failed, path, include_name
        ):  # the callbacks run later, on this thread's event loop
            self._exports += 1
            self._update_buttons()
            self.status.setText("Building the report…")

    # --- the course of therapy -------------------------------------------------------------

    def _load_trends(self) -> None:
        """Compute and plot the trends while their tab is shown (in the background)."""
        if self.patient_id is not None and self.tabs.currentWidget() is not self.tabs.widget(0):
            self.trends.load(self.catalog, self.data_root, self.patient_id)

    def show_trends(self) -> None:
        """Show the "Progress trends" tab."""
        self.tabs.setCurrentIndex(1)

    def _compare_clicked(self) -> None:
        """ "Compare two sessions…": the selected session beside the one before it."""
        self.compare_sessions()

    def compare_sessions(self, right_id: int | None = None, left_id: int | None = None) -> None:
        """Open two sessions side by side (default: the selected one and the one before it)."""
        if self.patient_id is None:
            return
        sel = self.selected_session()
        right = right_id if right_id is not None else sel.id if sel is not None else None
        if self.compare_dialog is not None:
            self.compare_dialog.reject()
        try:
            dlg = SessionCompareDialog(
                self.catalog, self.data_root, self.patient_id, right, left_id, parent=self
            )
        except ValueError as e:
            QMessageBox.information(self, "Compare two sessions", str(e))
            return
        dlg.finished.connect(lambda _r: dlg.deleteLater())
        self.compare_dialog = dlg
        dlg.open()

    def _course_report_clicked(self) -> None:
        """ "Course report…": every session of the patient in one PDF."""
        self.export_course(None)

    def export_course(self, path: str | None = None, include_name: bool | None = None) -> None:
        """Ask where (unless ``path``) and build the course report in the background."""
        if self.patient_id is None:
            return
        patient_id = self.patient_id

        def ended() -> bool:
            self._course_exports -= 1
            self._update_buttons()
            return self.patient_id == patient_id

        def done(result: Path) -> None:
            self.message.emit(f"Course report saved: {result}")
            if ended():
                self.status.setText(f"Course report saved: {result}")
                self.last_course_report = result

        def failed(msg: str) -> None:
            if ended():
                self.status.setText("")
            self.message.emit("Course report not saved")
            QMessageBox.warning(self, "Course report not saved", msg)

        if export_course_report(
            self, self.catalog, self.data_root, patient_id, done, failed, path, include_name
        ):
            self._course_exports += 1
            self._update_buttons()
            self.status.setText("Building the course report…")

    # --- recordings in, data out -----------------------------------------------------------

    def _import_clicked(self) -> None:
        """ "Import recording…": the import dialog for this patient (window-modal)."""
        if self.patient_id is None:
            return
        self.import_dialog = ImportDialog(self.catalog, self.data_root, self.patient_id, self)
        self.import_dialog.imported.connect(self._imported)
        self.import_dialog.open()

    def _imported(self, rec: SessionRecord) -> None:
        self.message.emit(f"Imported session {rec.uid}")
        if rec.patient_id == self.patient_id:
            self.status.setText(f"Imported session {rec.uid}")
            self.refresh()
            self.select_session(rec.id)

    def _export_data_chosen(self, fmt: str) -> None:
        """A format from the "Export data…" menu: the selected session's data."""
        self.export_data(fmt)

    def export_data(
        self,
        fmt: str,
        path: str | None = None,
        include_name: bool | None = None,
        session_id: int | None = None,
    ) -> None:
        """Ask where (unless ``path``) and export the selected (or ``session_id``) session's data
        as ``fmt`` (``"csv"`` or ``"edf"``) in the background."""
        rec = self._session_or_selected(session_id)
        if rec is None:
            return

        patient_id = rec.patient_id

        def ended() -> bool:
            """One export less; whether this patient is still the one shown."""
            self._data_exports -= 1
            self._update_buttons()
            return self.patient_id == patient_id

        def done(res: ExportResult) -> None:
            self.message.emit(f"Data exported: {res.path}")
            if ended():
                self.status.setText(f"Data exported: {res.path}")

        def failed(msg: str) -> None:
            if ended():
                self.status.setText("")
            self.message.emit("Data not exported")
            QMessageBox.warning(self, "Data not exported", msg)

        if export_session_data(
            self, self.catalog, self.data_root, rec, fmt, done, failed, path, include_name
        ):
            self._data_exports += 1
            self._update_buttons()
            self.status.setText("Exporting the data…")

    def _export_patient_clicked(self) -> None:
        """ "Export patient (zip)…": ask where and about the name, then write the zip."""
        self.export_patient()

    def export_patient(self, path: str | None = None, include_name: bool | None = None) -> bool:
        """Ask where (unless ``path``) and whether to write the patient's name (unless
        ``include_name``; only when the patient has one), then write the patient's zip in the
        background; returns False when nothing was started."""
        p = self.catalog.get_patient(self.patient_id) if self.patient_id is not None else None
        if p is None:
            return False
        if path is None:
            name = safe_file_name(f"TheraScope_{safe_name_part(p.code)}.zip")
            path, _ = QFileDialog.getSaveFileName(
                self, "Export the patient's data (zip)", str(Path.home() / name), "Zip (*.zip)"
            )
            if not path:
                return False
        if include_name is None:
            include_name = False
            if p.name:
                ans = QMessageBox.question(
                    self,
                    "Patient name",
                    "Write the patient's name and birth year into the zip? (Otherwise only the "
                    "code.)",
                )
                include_name = ans == QMessageBox.StandardButton.Yes
        out, with_name, patient_id = Path(path), bool(include_name), p.id
        catalog, data_root = self.catalog, self.data_root

        def job(progress: Callable[[float], None]) -> PatientExport:
            return export_patient(
                catalog, data_root, patient_id, out, include_name=with_name, progress=progress
            )

        def ended() -> bool:
            self._patient_exports -= 1
            self.export_patient_btn.setEnabled(self._patient_exports == 0)
            return self.patient_id == patient_id

        def done(res: PatientExport) -> None:
            text = (
                f"Patient exported: {res.path} ({len(res.sessions)} session(s), {res.files} "
                f"files, {res.bytes / 1e6:.1f} MB)"
            )
            if res.left_out:
                text += f"; left out: {', '.join(res.left_out)}"
            self.message.emit(text)
            if ended():
                self.status.setText(text)
                self.last_patient_export = res

        def failed(msg: str) -> None:
            if ended():
                self.status.setText("")
            self.message.emit("Patient not exported")
            QMessageBox.warning(self, "Patient not exported", msg)

        self._patient_exports += 1
        self.export_patient_btn.setEnabled(False)
        self.status.setText("Exporting the patient…")
        run_job(job, lambda r: done(r), failed, what="the patient's export")
        return True

    # --- archive and delete ----------------------------------------------------------------

    def _archive_clicked(self) -> None:
        """Archive (after typing the code), or make an archived patient active again."""
        p = self.catalog.get_patient(self.patient_id) if self.patient_id is not None else None
        if p is None:
            return
        if p.archived:
            self.catalog.unarchive_patient(p.id)
            self.message.emit(f"Patient {p.code} is active again")
            self.refresh()
            return
        self._confirm(
            "Archive patient",
            f"Archive patient {p.code}? Every session and record is kept; the patient is only "
            "hidden from the patients list (tick “Show archived” there to see it) and can be "
            "unarchived at any time.",
            p.code,
            "Archive patient",
            lambda: self._archive(p.id),
        )

    def _archive(self, patient_id: int) -> None:
        if patient_id != self.patient_id:
            return
        p = self.catalog.archive_patient(patient_id)
        self.message.emit(f"Patient {p.code} archived")
        self.back.emit()

    def ask_delete_patient(self) -> None:
        """Ask to type the patient code, then delete the patient with every session."""
        p = self.catalog.get_patient(self.patient_id) if self.patient_id is not None else None
        if p is None:
            return
        n = len(self.catalog.list_sessions(patient_id=p.id))
        again = " The demo patient will not be built again at the next start." if p.is_demo else ""
        self._confirm(
            "Delete patient",
            f"Delete patient {p.code} and {n} session(s) for good: recordings, videos, markers, "
            "self-reports, analyses and report records. This cannot be undone. PDF reports "
            f"already exported are not touched.{again}",
            p.code,
            "Delete patient for good",
            lambda: self._delete_patient(p.id),
        )

    def _delete_patient(self, patient_id: int) -> None:
        if patient_id != self.patient_id:
            return
        try:
            gone = erase_patient(self.catalog, self.data_root, patient_id, self.unlocked)
        except (DeletionRefused, DeletionError, KeyError) as e:
            QMessageBox.warning(self, "Patient not deleted", str(e).strip("'\""))
            self.refresh()
            return
        self._reset_patient_state()
        self.patient_id = None
        self.message.emit(
            f"Patient {gone.patient_code} and {len(gone.session_uids)} session(s) deleted"
        )
        self.back.emit()

    def ask_delete_session(self) -> None:
        """Ask to type the selected session's uid, then delete it."""
        rec = self._finished_selection()
        if rec is None:
            return
        started = format_local_time(rec.started_at)
        self._confirm(
            "Delete session",
            f"Delete the session of {started} ({rec.uid}) for good: its recording, video, "
            "markers, self-reports, analyses and report records. This cannot be undone. PDF "
            "reports already exported are not touched.",
            rec.uid,
            "Delete session for good",
            lambda: self._delete_session(rec.id),
        )

    def _delete_session(self, session_id: int) -> None:
        try:
            gone = erase_session(self.catalog, self.data_root, session_id, self.unlocked)
        except (DeletionRefused, DeletionError, KeyError) as e:
            QMessageBox.warning(self, "Session not deleted", str(e).strip("'\""))
        else:
            self.status.setText(f"Session {gone.session_uids[0]} deleted")
            self.message.emit(f"Session {gone.session_uids[0]} deleted")
        self.refresh()

    def _confirm(
        self, title: str, message: str, expected: str, action: str, then: Callable[[], None]
    ) -> None:
        """Open the type-to-confirm dialog (not blocking); ``then`` runs once it is accepted."""
        if self.confirm_dialog is not None:
            self.confirm_dialog.reject()
        dlg = TypeToConfirmDialog(title, message, expected, action, self)

        def forget() -> None:
            if self.confirm_dialog is dlg:
                self.confirm_dialog = None

        def accepted() -> None:
            forget()
            then()

        def finished(_: int) -> None:
            forget()
            dlg.deleteLater()

        dlg.accepted.connect(accepted)
        dlg.finished.connect(finished)
        self.confirm_dialog = dlg
        dlg.open()
