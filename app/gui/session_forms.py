"""What the therapist types about a session after it: self-reports, notes and phase markers.

Everything is saved as it is typed (notes after a short pause, so one edit is one audit entry).
"""

from __future__ import annotations

from PySide6.QtCore import Qt, QTime, QTimer, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QTimeEdit,
    QVBoxLayout,
    QWidget,
)

from core.catalog import Catalog, Marker

PHASES = (("pre", "Before (pre)"), ("post", "After (post)"))
KINDS = (
    ("treatment_start", "Treatment start"),
    ("treatment_end", "Treatment end"),
    ("note", "Note"),
)
NOTES_DELAY_MS = 800


def _score_spin(lo: int, hi: int) -> QSpinBox:
    """A spin box whose lowest value (one below ``lo``) means "not given"."""
    s = QSpinBox()
    s.setRange(lo - 1, hi)
    s.setSpecialValueText("–")
    s.setValue(lo - 1)
    s.setMinimumWidth(64)
    return s


class SelfReportBox(QGroupBox):
    """SAM valence and arousal (1–9) before and after, GAD-7 (0–21), and free notes."""

    changed = Signal()  # a self-report was stored

    def __init__(self, catalog: Catalog, parent: QWidget | None = None) -> None:
        super().__init__("Patient's own ratings and session notes (saved as you type)", parent)
        self.catalog = catalog
        self.session_id: int | None = None
        self._loading = False
        self.spins: dict[str, dict[str, QSpinBox]] = {}
        grid = QGridLayout()
        heads = (
            "SAM valence\n1 unpleasant – 9 pleasant",
            "SAM arousal\n1 calm – 9 activated",
            "GAD-7\n0–21",
        )
        for j, text in enumerate(heads):
            grid.addWidget(QLabel(text), 0, j + 1)
        for i, (phase, name) in enumerate(PHASES):
            grid.addWidget(QLabel(f"<b>{name}</b>"), i + 1, 0)
            row = {
                "sam_valence": _score_spin(1, 9),
                "sam_arousal": _score_spin(1, 9),
                "gad7": _score_spin(0, 21),
            }
            for j, spin in enumerate(row.values()):
                spin.valueChanged.connect(lambda _v, ph=phase: self._save(ph))
                grid.addWidget(spin, i + 1, j + 1)
            self.spins[phase] = row
        grid.setColumnStretch(4, 1)
        self.notes = QPlainTextEdit()
        self.notes.setPlaceholderText("Free notes on this session…")
        self.notes.textChanged.connect(self._notes_typed)
        self.notes_timer = QTimer(self)
        self.notes_timer.setSingleShot(True)
        self.notes_timer.setInterval(NOTES_DELAY_MS)
        self.notes_timer.timeout.connect(self.flush)
        self.error = QLabel()
        self.error.setStyleSheet("color:#c0392b;")
        lay = QVBoxLayout(self)
        lay.addLayout(grid)
        lay.addWidget(self.error)
        lay.addWidget(QLabel("Notes"))
        lay.addWidget(self.notes, 1)

    def load(self, session_id: int) -> None:
        self.flush()
        self.session_id = session_id
        reports = self.catalog.self_reports(session_id)
        rec = self.catalog.get_session(session_id)
        self._loading = True
        try:
            for phase, row in self.spins.items():
                sr = reports.get(phase)
                for col, spin in row.items():
                    value = getattr(sr, col) if sr is not None else None
                    spin.setValue(spin.minimum() if value is None else int(value))
            self.notes.setPlainText(rec.notes if rec else "")
        finally:
            self._loading = False
        self.error.setText("")

    def values(self, phase: str) -> dict[str, int | None]:
        return {
            col: (None if spin.value() == spin.minimum() else spin.value())
            for col, spin in self.spins[phase].items()
        }

    def _save(self, phase: str) -> None:
        if self._loading or self.session_id is None:
            return
        try:
            self.catalog.set_self_report(self.session_id, phase, **self.values(phase))
        except (ValueError, KeyError) as e:  # the spin ranges make this rare
            self.error.setText(f"Not saved: {e}")
            return
        self.error.setText("")
        self.changed.emit()

    def _notes_typed(self) -> None:
        if not self._loading:
            self.notes_timer.start()

    def flush(self) -> None:
        """Store notes typed in the last moments (also called when leaving the session)."""
        if not self.notes_timer.isActive() or self.session_id is None:
            return
        self.notes_timer.stop()
        rec = self.catalog.get_session(self.session_id)
        text = self.notes.toPlainText()
        if rec is not None and rec.notes != text:
            self.catalog.update_session_notes(self.session_id, text)


class MarkersEditor(QGroupBox):
    """The session's markers: change time, kind or label, add at the cursor, delete.

    Treatment start/end markers set the pre and post windows; ``changed`` fires after each
    stored change (queued, so the table can be rebuilt safely).
    """

    changed = Signal()

    def __init__(self, catalog: Catalog, parent: QWidget | None = None) -> None:
        super().__init__("Phase markers (treatment start and end set the pre/post windows)", parent)
        self.catalog = catalog
        self.session_id: int | None = None
        self.duration = 0.0
        self.cursor_s = 0.0
        self.markers: list[Marker] = []
        self.table = QTableWidget(0, 3)
        self.table.setHorizontalHeaderLabels(["Time", "Kind", "Label"])
        self.table.verticalHeader().setVisible(False)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        hh = self.table.horizontalHeader()
        hh.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        hh.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        hh.setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        self.table.itemChanged.connect(self._label_edited)
        self.add_start = QPushButton("+ Treatment start")
        self.add_end = QPushButton("+ Treatment end")
        self.add_note = QPushButton("+ Note")
        for b, kind in (
            (self.add_start, "treatment_start"),
            (self.add_end, "treatment_end"),
            (self.add_note, "note"),
        ):
            b.setToolTip("Add at the cursor's time")
            b.clicked.connect(lambda _=False, k=kind: self.add(k))
        self.move_btn = QPushButton("Move to cursor")
        self.move_btn.clicked.connect(self.move_selected)
        self.delete_btn = QPushButton("Delete")
        self.delete_btn.clicked.connect(self.delete_selected)
        bar = QHBoxLayout()
        for b in (self.add_start, self.add_end, self.add_note):
            bar.addWidget(b)
        bar.addStretch(1)
        bar.addWidget(self.move_btn)
        bar.addWidget(self.delete_btn)
        lay = QVBoxLayout(self)
        lay.addWidget(self.table, 1)
        lay.addLayout(bar)

    def load(self, session_id: int, duration_s: float) -> None:
        self.session_id = session_id
        self.duration = max(float(duration_s), 0.0)
        self.markers = self.catalog.list_markers(session_id)
        self.table.blockSignals(True)
        self.table.setRowCount(len(self.markers))
        for i, m in enumerate(self.markers):
            edit = QTimeEdit()
            edit.setDisplayFormat("H:mm:ss")
            edit.setMaximumTime(QTime(0, 0).addSecs(int(self.duration)))
            edit.setTime(QTime(0, 0).addSecs(int(round(m.t_s))))
            edit.editingFinished.connect(lambda mid=m.id, e=edit: self._time_edited(mid, e))
            self.table.setCellWidget(i, 0, edit)
            combo = QComboBox()
            for kind, name in KINDS:
                combo.addItem(name, kind)
            combo.setCurrentIndex(max(0, combo.findData(m.kind)))
            combo.currentIndexChanged.connect(
                lambda _i, mid=m.id, c=combo: self._update(mid, kind=c.currentData())
            )
            self.table.setCellWidget(i, 1, combo)
            item = QTableWidgetItem(m.label)
            item.setData(Qt.ItemDataRole.UserRole, m.id)
            self.table.setItem(i, 2, item)
        self.table.blockSignals(False)
        has = bool(self.markers)
        self.move_btn.setEnabled(has)
        self.delete_btn.setEnabled(has)

    def time_edit(self, row: int) -> QTimeEdit:
        return self.table.cellWidget(row, 0)  # type: ignore[return-value]

    def kind_combo(self, row: int) -> QComboBox:
        return self.table.cellWidget(row, 1)  # type: ignore[return-value]

    def _selected(self) -> Marker | None:
        rows = {i.row() for i in self.table.selectedIndexes()}
        if not rows and self.table.currentRow() >= 0:
            rows = {self.table.currentRow()}
        return self.markers[min(rows)] if rows and min(rows) < len(self.markers) else None

    def _update(self, marker_id: int, **fields: object) -> None:
        try:
            self.catalog.update_marker(marker_id, **fields)  # type: ignore[arg-type]
        except (ValueError, KeyError) as e:
            QMessageBox.warning(self, "Marker not changed", str(e))
            return
        QTimer.singleShot(0, self.changed.emit)

    def _time_edited(self, marker_id: int, edit: QTimeEdit) -> None:
        t = edit.time().msecsSinceStartOfDay() / 1000.0
        old = next((m for m in self.markers if m.id == marker_id), None)
        if old is not None and int(round(old.t_s)) != int(round(t)):
            self._update(marker_id, t_s=t)

    def _label_edited(self, item: QTableWidgetItem) -> None:
        mid = int(item.data(Qt.ItemDataRole.UserRole))
        self._update(mid, label=item.text())

    def add(self, kind: str) -> None:
        if self.session_id is None:
            return
        label = dict(KINDS)[kind] if kind != "note" else "note"
        self.catalog.add_marker(self.session_id, min(self.cursor_s, self.duration), kind, label)
        QTimer.singleShot(0, self.changed.emit)

    def move_selected(self) -> None:
        m = self._selected()
        if m is not None:
            self._update(m.id, t_s=min(self.cursor_s, self.duration))

    def delete_selected(self) -> None:
        m = self._selected()
        if m is None:
            return
        self.catalog.delete_marker(m.id)
        QTimer.singleShot(0, self.changed.emit)
