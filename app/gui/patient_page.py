"""Screen 2 — Patient: details, sessions with their state and pre→post quadrants, the circumplex
history (one arrow per analysed session) and the self-report history; start, review, play back,
export."""

from __future__ import annotations

import html
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMessageBox,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.gui.circumplex_view import CircumplexView
from app.gui.patients_page import PatientDialog
from app.gui.quality_panel import QualityDialog
from app.gui.report_export import export_session_report
from app.gui.review_tables import analysis_of, shift_text
from app.gui.widgets import heading
from core.catalog import Catalog, SessionRecord
from core.quality.session import assess_quality
from core.quality.text import VERDICT_WORDS
from core.timefmt import format_clock

SESSION_COLUMNS = [
    "No.",
    "Started (UTC)",
    "Duration",
    "State",
    "Pre → post",
    "Lost samples",
    "Dropped frames",
    "Data",
]
SELF_REPORT_COLUMNS = [
    "No.",
    "Date",
    "SAM valence pre → post",
    "SAM arousal pre → post",
    "GAD-7 pre → post",
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
        self.title = heading("Patient")
        self.details = QLabel()
        self.details.setTextFormat(Qt.TextFormat.RichText)
        self.details.setWordWrap(True)
        back = QPushButton("← Patients")
        back.clicked.connect(self.back.emit)
        edit = QPushButton("Edit patient")
        edit.clicked.connect(self.edit)
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
        self.report_btn.clicked.connect(self.export_report)
        self.table = QTableWidget(0, len(SESSION_COLUMNS))
        self.table.setHorizontalHeaderLabels(SESSION_COLUMNS)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        hh = self.table.horizontalHeader()
        hh.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        hh.setSectionResizeMode(SESSION_COLUMNS.index("Pre → post"), QHeaderView.ResizeMode.Stretch)
        self.table.verticalHeader().setVisible(False)
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
        self.history.setMinimumSize(340, 360)
        self.status = QLabel()
        QShortcut(QKeySequence("Esc"), self, self.back.emit)
        top = QHBoxLayout()
        top.addWidget(back)
        top.addWidget(self.title, 1)
        top.addWidget(edit)
        top.addWidget(self.new_btn)
        actions = QHBoxLayout()
        actions.addWidget(QLabel("<b>Sessions</b>"))
        actions.addStretch(1)
        actions.addWidget(self.review_btn)
        actions.addWidget(self.play_btn)
        actions.addWidget(self.quality_btn)
        actions.addWidget(self.report_btn)
        left = QWidget()
        ll = QVBoxLayout(left)
        ll.setContentsMargins(0, 0, 0, 0)
        ll.addLayout(actions)
        ll.addWidget(self.table, 3)
        ll.addWidget(QLabel("<b>Self-reports</b> (SAM 1–9, GAD-7 0–21)"))
        ll.addWidget(self.reports, 2)
        right = QWidget()
        rl = QVBoxLayout(right)
        rl.setContentsMargins(0, 0, 0, 0)
        rl.addWidget(
            QLabel("<b>Circumplex history</b> — one pre → post arrow per analysed session")
        )
        rl.addWidget(self.history, 1)
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
        self.patient_id = patient_id
        self.refresh()

    def refresh(self) -> None:
        if self.patient_id is None:
            return
        p = self.catalog.get_patient(self.patient_id)
        if p is None:
            self.back.emit()
            return
        self.title.setText(f"Patient {p.code}" + ("  (demo patient)" if p.is_demo else ""))
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
        self.table.setRowCount(len(self.sessions))
        for i, r in enumerate(self.sessions):
            lost, drop = quality_text(r)
            a = self.analyses[r.id]
            cells = [
                str(number[r.id]),
                r.started_at[:16].replace("T", " "),
                format_clock(r.duration_s),
                states.get(r.id, r.status),
                shift_text(*a) if a else "–",
                lost,
                drop,
                "simulated" if r.simulated else "recorded",
            ]
            tip = quality_tooltip(r) if r.quality else ""
            for j, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setData(Qt.ItemDataRole.UserRole, r.id)
                if tip and SESSION_COLUMNS[j] in ("Lost samples", "Dropped frames"):
                    item.setToolTip(tip)
                self.table.setItem(i, j, item)
        rows = [i for i, r in enumerate(self.sessions) if selected and r.id == selected.id]
        if self.sessions:
            self.table.selectRow(rows[0] if rows else 0)
        has = bool(self.sessions)
        self.review_btn.setEnabled(has)
        self.play_btn.setEnabled(has)
        self.quality_btn.setEnabled(has)
        self.report_btn.setEnabled(has)
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
                    r.started_at[:10],
                    _pair(pre, post, "sam_valence"),
                    _pair(pre, post, "sam_arousal"),
                    _pair(pre, post, "gad7"),
                ]
            )
        self.reports.setRowCount(len(rows))
        for i, cells in enumerate(rows):
            for j, text in enumerate(cells):
                self.reports.setItem(i, j, QTableWidgetItem(text))

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
        for i, r in enumerate(getattr(self, "sessions", [])):
            if r.id == session_id:
                self.table.selectRow(i)
                return

    def _play(self) -> None:
        rec = self._finished_selection()
        if rec is not None:
            self.play_session.emit(rec.id)

    def show_quality(self) -> None:
        """The selected session's data-quality panel, in a dialog."""
        rec = self._finished_selection()
        if rec is None:
            return
        title = f"Data quality — session of {rec.started_at[:16].replace('T', ' ')} UTC"
        self.quality_dialog = QualityDialog(self.data_root / rec.folder, title, self)
        self.quality_dialog.open()

    def edit(self) -> None:
        if self.patient_id is None:
            return
        dlg = PatientDialog(self.catalog, self.catalog.get_patient(self.patient_id), parent=self)
        if dlg.exec():
            self.refresh()

    def export_report(
        self,
        path: str | None = None,
        include_name: bool | None = None,
        session_id: int | None = None,
    ) -> None:
        """Ask where to save (unless ``path`` is given) and build the PDF in the background.

        ``session_id``: that session (e.g. from the review screen); else the selected one.
        """
        rec = (
            self.catalog.get_session(session_id)
            if session_id is not None
            else self.selected_session()
        )
        if rec is None:
            return

        def done(result: Path) -> None:
            self.report_btn.setEnabled(True)
            self.status.setText(f"Report saved: {result}")
            self.last_report = result
            self.message.emit(f"Report saved: {result}")
            self.refresh()  # the session is now "reported"

        def failed(msg: str) -> None:
            self.report_btn.setEnabled(True)
            self.status.setText("")
            self.message.emit("Report not saved")
            QMessageBox.warning(self, "Report not saved", msg)

        if export_session_report(
            self, self.catalog, self.data_root, rec, done, failed, path, include_name
        ):  # the callbacks run later, on this thread's event loop
            self.report_btn.setEnabled(False)
            self.status.setText("Building the report…")
