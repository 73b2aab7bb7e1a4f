"""Screen 1 — Patients: search, sort, list (archived ones on request), create and edit."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QBrush, QPalette
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QVBoxLayout,
    QWidget,
)

from app.gui.review_tables import analysis_of, shift_text
from app.gui.sortable import SortItem, make_sortable, row_of
from app.gui.widgets import heading
from core.catalog import MAX_CODE_LEN, MAX_NAME_LEN, MAX_NOTES_LEN, Catalog, Patient
from core.storage import StorageError


class PatientDialog(QDialog):
    """Create or edit a patient. Only the pseudonymous code is required."""

    def __init__(
        self, catalog: Catalog, patient: Patient | None = None, parent: QWidget | None = None
    ):
        super().__init__(parent)
        self.catalog = catalog
        self.patient = patient
        self.setWindowTitle("Edit patient" if patient else "New patient")
        self.code = QLineEdit(patient.code if patient else "")
        self.code.setPlaceholderText("pseudonymous code, e.g. P-0042")
        self.code.setMaxLength(MAX_CODE_LEN)
        self.code.setToolTip(f"At most {MAX_CODE_LEN} characters; no control characters")
        self.name = QLineEdit((patient.name or "") if patient else "")
        self.name.setPlaceholderText("optional")
        self.name.setMaxLength(MAX_NAME_LEN)
        self.name.setToolTip(f"At most {MAX_NAME_LEN} characters")
        self.birth_year = QSpinBox()
        self.birth_year.setRange(0, 2100)
        self.birth_year.setSpecialValueText("not given")
        self.birth_year.setValue((patient.birth_year or 0) if patient else 0)
        self.notes = QPlainTextEdit((patient.notes if patient else "") or "")
        self.notes.setFixedHeight(80)
        self.notes.setToolTip(f"At most {MAX_NOTES_LEN:,} characters")
        form = QFormLayout()
        form.addRow("Code *", self.code)
        form.addRow("Name", self.name)
        form.addRow("Birth year", self.birth_year)
        form.addRow("Notes", self.notes)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.save)
        buttons.rejected.connect(self.reject)
        lay = QVBoxLayout(self)
        lay.addLayout(form)
        lay.addWidget(buttons)
        self.result_patient: Patient | None = None

    def save(self) -> None:
        code = self.code.text().strip()
        fields = {
            "name": self.name.text().strip() or None,
            "birth_year": self.birth_year.value() or None,
            "notes": self.notes.toPlainText(),
        }
        try:
            if self.patient is None:
                self.result_patient = self.catalog.add_patient(code, **fields)  # type: ignore[arg-type]
            else:
                self.result_patient = self.catalog.update_patient(
                    self.patient.id, code=code, **fields
                )
        except (ValueError, StorageError) as e:  # the dialog stays open: nothing typed is lost
            QMessageBox.warning(self, "Patient not saved", str(e))
            return
        self.accept()


PATIENT_COLUMNS = ["Code", "Name", "Sessions", "Last session", "Last analysed pre → post"]

FIRST_STEPS = (
    "<p><b>No patients yet.</b> Three steps to a first result:</p>"
    "<ol>"
    "<li><b>New patient</b> (top right): a pseudonymous code is all it needs.</li>"
    "<li><b>Record a session</b>: open the patient, click <b>New session</b>, tick the consent "
    "box and start.</li>"
    "<li><b>Analyse and review</b>: after the recording, click <b>Analyse now</b>, then review "
    "the pre → post shift on the circumplex and export the PDF report.</li>"
    "</ol>"
)
ALL_ARCHIVED = "Every patient is archived: tick <b>Show archived</b> to see them."
NO_MATCH = "No patient matches the search."


class PatientsPage(QWidget):
    """The list of patients with search and sorting; double-click (or Enter) opens a patient.

    Archived patients are hidden unless "Show archived" is ticked.
    """

    open_patient = Signal(int)
    open_cohort = Signal()
    open_settings = Signal()

    def __init__(self, catalog: Catalog, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.catalog = catalog
        self.search = QLineEdit()
        self.search.setPlaceholderText("Search by code or name…")
        self.search.setClearButtonEnabled(True)
        self.search.textChanged.connect(self.refresh)
        self.new_btn = QPushButton("New patient")
        self.new_btn.clicked.connect(self.new_patient)
        self.edit_btn = QPushButton("Edit")
        self.edit_btn.clicked.connect(self.edit_patient)
        self.open_btn = QPushButton("Open")
        self.open_btn.clicked.connect(self._open_selected)
        self.cohort_btn = QPushButton("Cohort")
        self.cohort_btn.setToolTip("Every patient's pre → post arrow, with group statistics")
        self.cohort_btn.clicked.connect(self.open_cohort.emit)
        self.settings_btn = QPushButton("Settings")
        self.settings_btn.clicked.connect(self.open_settings.emit)
        self.show_archived = QCheckBox("Show archived")
        self.show_archived.setToolTip("Also list archived patients")
        self.show_archived.toggled.connect(self.refresh)
        self.table = QTableWidget(0, len(PATIENT_COLUMNS))
        self.table.setHorizontalHeaderLabels(PATIENT_COLUMNS)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.table.verticalHeader().setVisible(False)
        make_sortable(self.table, 0, Qt.SortOrder.AscendingOrder)
        self.table.activated.connect(self._open_selected)  # double-click or Enter
        self.empty = QLabel()
        self.empty.setTextFormat(Qt.TextFormat.RichText)  # our own text only, never a name
        self.empty.setWordWrap(True)
        self.empty.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.empty.setStyleSheet("font-size:14px; padding:24px;")
        top = QHBoxLayout()
        top.addWidget(heading("Patients"))
        top.addStretch(1)
        top.addWidget(self.cohort_btn)
        top.addWidget(self.settings_btn)
        top.addWidget(self.new_btn)
        bar = QHBoxLayout()
        bar.addWidget(self.search, 1)
        bar.addWidget(self.show_archived)
        bar.addWidget(self.edit_btn)
        bar.addWidget(self.open_btn)
        lay = QVBoxLayout(self)
        lay.addLayout(top)
        lay.addLayout(bar)
        lay.addWidget(self.table, 1)
        lay.addWidget(self.empty, 1)
        self.refresh()

    def refresh(self) -> None:
        """List the patients: the search applied, archived ones only with "Show archived"."""
        term = self.search.text().strip().casefold()
        everyone = self.catalog.patient_overview()
        listed = [r for r in everyone if self.show_archived.isChecked() or not r["archived"]]
        rows = [
            r
            for r in listed
            if not term or term in r["code"].casefold() or term in (r["name"] or "").casefold()
        ]
        selected = self.selected_id()
        muted = QBrush(self.palette().color(QPalette.ColorGroup.Disabled, QPalette.ColorRole.Text))
        self.table.setSortingEnabled(False)  # rows stay where they are put while filling
        self.table.clearContents()
        self.table.setRowCount(len(rows))
        for i, r in enumerate(rows):
            code = (
                r["code"]
                + ("  (demo)" if r["is_demo"] else "")
                + ("  (archived)" if r["archived"] else "")
            )
            last = (r["last_session_at"] or "–")[:16].replace("T", " ")
            shift = self.last_shift(r["id"]) if r["n_sessions"] else "–"
            cells: list[tuple[str, float | str | None]] = [
                (code, r["code"].casefold()),
                (r["name"] or "", None),
                (str(r["n_sessions"]), r["n_sessions"]),
                (last, r["last_session_at"]),
                (shift, None),
            ]
            for j, (text, key) in enumerate(cells):
                item = SortItem(text, key)
                item.setData(Qt.ItemDataRole.UserRole, r["id"])
                if r["archived"]:
                    item.setForeground(muted)
                self.table.setItem(i, j, item)
        self.table.setSortingEnabled(True)  # sorts again by the column the therapist chose
        row = row_of(self.table, selected) if selected is not None else None
        if rows:
            self.table.selectRow(row if row is not None else 0)
        self._show_empty_state(bool(everyone), bool(listed), bool(rows))

    def _show_empty_state(self, anyone: bool, listed: bool, shown: bool) -> None:
        """The first steps on an empty catalog; a short line when the list is only filtered."""
        if not anyone:
            text = FIRST_STEPS
        elif not listed:
            text = ALL_ARCHIVED
        elif not shown:
            text = NO_MATCH
        else:
            text = ""
        self.empty.setText(text)
        self.empty.setVisible(bool(text))
        self.table.setVisible(anyone and listed)

    def last_shift(self, patient_id: int) -> str:
        """The newest analysed session's pre → post quadrants, e.g. "Q2 LVHA → Q4 HVLA"."""
        for rec in self.catalog.list_sessions(patient_id=patient_id):
            a = analysis_of(self.catalog, rec.id)
            if a is not None:
                return shift_text(*a)
        return "–"

    def selected_id(self) -> int | None:
        items = self.table.selectedItems()
        return int(items[0].data(Qt.ItemDataRole.UserRole)) if items else None

    def _open_selected(self) -> None:
        pid = self.selected_id()
        if pid is not None:
            self.open_patient.emit(pid)

    def new_patient(self) -> None:
        dlg = PatientDialog(self.catalog, parent=self)
        if dlg.exec() and dlg.result_patient is not None:
            self.refresh()
            self.open_patient.emit(dlg.result_patient.id)

    def edit_patient(self) -> None:
        pid = self.selected_id()
        if pid is None:
            return
        dlg = PatientDialog(self.catalog, self.catalog.get_patient(pid), parent=self)
        if dlg.exec():
            self.refresh()
