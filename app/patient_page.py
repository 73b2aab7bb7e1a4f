"""Screen 2 — Patient: details and session history; start, play back, export."""

from __future__ import annotations

import html
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMessageBox,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.patients_page import PatientDialog
from app.widgets import fmt_duration, heading
from app.workers import run_job
from core.catalog import Catalog, SessionRecord


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


class PatientPage(QWidget):
    """One patient's details and sessions."""

    back = Signal()
    new_session = Signal(int)  # patient id
    play_session = Signal(int)  # session id

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
        self.play_btn = QPushButton("Play back")
        self.play_btn.clicked.connect(self._play)
        self.report_btn = QPushButton("Export report (PDF)…")
        self.report_btn.setShortcut("Ctrl+E")
        self.report_btn.clicked.connect(self.export_report)
        self.table = QTableWidget(0, 6)
        self.table.setHorizontalHeaderLabels(
            ["Started (UTC)", "Duration", "Status", "Lost samples", "Dropped frames", "Data"]
        )
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.table.verticalHeader().setVisible(False)
        self.table.doubleClicked.connect(self._play)
        self.status = QLabel()
        top = QHBoxLayout()
        top.addWidget(back)
        top.addWidget(self.title, 1)
        top.addWidget(edit)
        top.addWidget(self.new_btn)
        actions = QHBoxLayout()
        actions.addWidget(QLabel("<b>Sessions</b>"))
        actions.addStretch(1)
        actions.addWidget(self.play_btn)
        actions.addWidget(self.report_btn)
        lay = QVBoxLayout(self)
        lay.addLayout(top)
        lay.addWidget(self.details)
        lay.addLayout(actions)
        lay.addWidget(self.table, 1)
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
        self.sessions = self.catalog.list_sessions(patient_id=p.id)
        self.table.setRowCount(len(self.sessions))
        for i, r in enumerate(self.sessions):
            lost, drop = quality_text(r)
            cells = [
                r.started_at[:16].replace("T", " "),
                fmt_duration(r.duration_s),
                r.status,
                lost,
                drop,
                "simulated" if r.simulated else "recorded",
            ]
            for j, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setData(Qt.ItemDataRole.UserRole, r.id)
                self.table.setItem(i, j, item)
        if self.sessions:
            self.table.selectRow(0)
        has = bool(self.sessions)
        self.play_btn.setEnabled(has)
        self.report_btn.setEnabled(has)

    def selected_session(self) -> SessionRecord | None:
        items = self.table.selectedItems()
        if not items:
            return None
        return self.catalog.get_session(int(items[0].data(Qt.ItemDataRole.UserRole)))

    def _play(self) -> None:
        rec = self.selected_session()
        if rec is None:
            return
        if rec.status == "recording":
            QMessageBox.information(self, "Still recording", "This session is still recording.")
            return
        self.play_session.emit(rec.id)

    def edit(self) -> None:
        if self.patient_id is None:
            return
        dlg = PatientDialog(self.catalog, self.catalog.get_patient(self.patient_id), parent=self)
        if dlg.exec():
            self.refresh()

    def export_report(self, path: str | None = None, include_name: bool | None = None) -> None:
        """Ask where to save (unless ``path`` is given) and build the PDF in the background."""
        rec = self.selected_session()
        if rec is None or rec.status == "recording":
            return
        p = self.catalog.get_patient(rec.patient_id)
        assert p is not None
        if path is None:
            default = str(Path.home() / f"TheraScope_{p.code}_{rec.uid}.pdf")
            path, _ = QFileDialog.getSaveFileName(self, "Export report", default, "PDF (*.pdf)")
            if not path:
                return
        if include_name is None:
            include_name = False
            if p.name:
                ans = QMessageBox.question(
                    self,
                    "Patient name",
                    "Print the patient's name on the report? (Otherwise only the code.)",
                )
                include_name = ans == QMessageBox.StandardButton.Yes
        out = Path(path)
        self.status.setText("Building the report…")
        self.report_btn.setEnabled(False)

        def job(progress):  # type: ignore[no-untyped-def]
            from core.session_report import export_session_report

            return export_session_report(
                self.catalog, self.data_root, rec.id, out, include_name=bool(include_name)
            )

        def done(result: object) -> None:
            self.report_btn.setEnabled(True)
            self.status.setText(f"Report saved: {result}")
            self.last_report = result

        def failed(msg: str) -> None:
            self.report_btn.setEnabled(True)
            self.status.setText("")
            QMessageBox.warning(self, "Report not saved", msg)

        run_job(job, done, failed)
