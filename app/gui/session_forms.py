"""What the therapist types about a session after it: self-reports, GAD-7 and PHQ-9 item by item
(:mod:`app.gui.questionnaires`), notes and phase markers.

Everything is saved as it is typed: a score when its field is left (so "25" is never stored as the
"2" typed on the way, and a score outside its range is refused with a message, never changed),
notes after a short pause (so one edit is one audit entry).
"""

from __future__ import annotations

import re

from PySide6.QtCore import Qt, QTime, QTimer, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QTimeEdit,
    QVBoxLayout,
    QWidget,
)

from app.gui.questionnaires import QuestionnaireBox
from app.gui.suds_entry import SudsEditor
from core.catalog import Catalog, Marker

PHASES = (("pre", "Before (pre)"), ("post", "After (post)"))
KINDS = (
    ("treatment_start", "Treatment start"),
    ("treatment_end", "Treatment end"),
    ("note", "Note"),
)
#: the self-report scores: column, name, lowest and highest value
SCORES = (
    ("sam_valence", "SAM valence", 1, 9),
    ("sam_arousal", "SAM arousal", 1, 9),
    ("gad7", "GAD-7", 0, 21),
)
NOTES_DELAY_MS = 800
_INVALID_STYLE = "border:1px solid #c0392b; background:#fdecea;"


def parse_score(text: str, what: str, lo: int, hi: int) -> int | None:
    """The score typed in a field: a whole number within ``lo``–``hi``, or None when empty.

    Parameters
    ----------
    text : str
        What the field holds (spaces around it are ignored).
    what : str
        The score's name, for the message.
    lo, hi : int
        The lowest and highest valid score.

    Returns
    -------
    int or None
        The number typed; None for an empty field ("not given").

    Raises
    ------
    ValueError
        Not a whole number, or outside ``lo``–``hi``; the message is meant for the therapist.
    """
    t = text.strip()
    if not t:
        return None
    if not re.fullmatch(r"[0-9]+", t):
        raise ValueError(f'{what} must be a whole number from {lo} to {hi}; "{t}" is not one')
    n = int(t)
    if not lo <= n <= hi:
        raise ValueError(f"{what} must be from {lo} to {hi}; {n} is outside that range")
    return n


class SelfReportBox(QGroupBox):
    """SAM valence and arousal (1–9) before and after, GAD-7 (0–21), and free notes.

    A score is saved exactly as typed when its field is left (Tab, Enter, a click elsewhere); an
    empty field means "not given". A score that is not a whole number within its range is refused:
    the field turns red, a message says what is wrong, and the stored score stays as it was.
    """

    changed = Signal()  # a self-report was stored

    def __init__(self, catalog: Catalog, parent: QWidget | None = None) -> None:
        super().__init__(
            "Patient's own ratings (saved when you leave a field) and session notes "
            "(saved as you type)",
            parent,
        )
        self.catalog = catalog
        self.session_id: int | None = None
        self._loading = False
        self.fields: dict[str, dict[str, QLineEdit]] = {}
        self._problems: dict[tuple[str, str], str] = {}
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
            row: dict[str, QLineEdit] = {}
            for j, (col, what, lo, hi) in enumerate(SCORES):
                field = QLineEdit()
                field.setPlaceholderText("–")
                field.setToolTip(f"{what}: a whole number from {lo} to {hi}; empty: not given")
                field.setMaximumWidth(72)
                field.textEdited.connect(lambda _t, ph=phase, c=col: self._check(ph, c))
                field.editingFinished.connect(lambda ph=phase, c=col: self._commit(ph, c))
                grid.addWidget(field, i + 1, j + 1)
                row[col] = field
            self.fields[phase] = row
        grid.setColumnStretch(4, 1)
        self.notes = QPlainTextEdit()
        self.notes.setPlaceholderText("Free notes on this session…")
        self.notes.textChanged.connect(self._notes_typed)
        self.notes_timer = QTimer(self)
        self.notes_timer.setSingleShot(True)
        self.notes_timer.setInterval(NOTES_DELAY_MS)
        self.notes_timer.timeout.connect(self.flush)
        self.error = QLabel()
        self.error.setWordWrap(True)
        self.error.setStyleSheet("color:#c0392b;")
        # GAD-7 and PHQ-9 item by item (app/gui/questionnaires.py) in tabs beside the notes, at
        # full width; the GAD-7 total above then follows the items and is read-only
        self.questionnaires = QuestionnaireBox(catalog)
        self.questionnaires.changed.connect(self._questionnaires_changed)
        self.questionnaires.insertTab(0, self.notes, "Notes")
        self.questionnaires.setCurrentIndex(0)
        # the SUDS ratings taken while recording (S): a value corrected, a rating deleted
        self.suds = SudsEditor(catalog)
        self.suds.changed.connect(self.changed.emit)
        self.questionnaires.addTab(self.suds, "SUDS ratings")
        # the tabs scroll: on a 1024×640 display the window must still fit (test_small_screens)
        self.questionnaires.setMinimumHeight(80)
        lay = QVBoxLayout(self)
        lay.addLayout(grid)
        lay.addWidget(self.error)
        lay.addWidget(self.questionnaires, 1)

    def load(self, session_id: int) -> None:
        """Show ``session_id``'s ratings and notes (what was typed for the previous one is saved
        first, where valid)."""
        self.flush()
        self.session_id = session_id
        reports = self.catalog.self_reports(session_id)
        rec = self.catalog.get_session(session_id)
        self._loading = True
        try:
            for phase, row in self.fields.items():
                sr = reports.get(phase)
                for col, field in row.items():
                    value = getattr(sr, col) if sr is not None else None
                    field.setText("" if value is None else str(value))
            self.notes.setPlainText(rec.notes if rec else "")
        finally:
            self._loading = False
        self._problems.clear()
        self._show_problems()
        self.questionnaires.load(session_id)
        self.suds.load(session_id)
        self._gad7_follows_items()

    def _gad7_follows_items(self) -> None:
        """A phase whose GAD-7 is entered item by item shows the items' total, read-only."""
        if self.session_id is None:
            return
        items = self.catalog.questionnaire_items(self.session_id)
        reports = self.catalog.self_reports(self.session_id)
        for phase, row in self.fields.items():
            field = row["gad7"]
            by_items = bool(items.get(phase, {}).get("gad7"))
            field.setReadOnly(by_items)
            if by_items:
                sr = reports.get(phase)
                total = sr.gad7 if sr is not None else None
                field.setText("" if total is None else str(total))
                field.setStyleSheet("background:#f0f0f0;")
                field.setToolTip(
                    "GAD-7 is entered item by item: this total follows the items (a total "
                    "entered alone stays until all seven are answered)"
                )
                self._problems.pop((phase, "gad7"), None)
            elif field.toolTip().startswith("GAD-7 is entered item by item"):
                field.setStyleSheet("")
                field.setToolTip("GAD-7: a whole number from 0 to 21; empty: not given")
        self._show_problems()

    def _questionnaires_changed(self) -> None:
        self._gad7_follows_items()
        self.changed.emit()

    def values(self, phase: str) -> dict[str, int | None]:
        """The scores stored for ``phase`` (None: not given)."""
        sid = self.session_id
        sr = self.catalog.self_reports(sid).get(phase) if sid is not None else None
        return {col: (getattr(sr, col) if sr is not None else None) for col, *_ in SCORES}

    def problems(self) -> list[str]:
        """The messages about scores typed but refused (empty when every field is saved)."""
        return list(self._problems.values()) + self.questionnaires.problems()

    def _score(self, phase: str, col: str) -> int | None:
        """The score typed in one field; raises ValueError with the message for the therapist."""
        what, lo, hi = next((w, lo, hi) for c, w, lo, hi in SCORES if c == col)
        name = f"{what} {dict(PHASES)[phase].lower()}"  # e.g. "GAD-7 after (post)"
        return parse_score(self.fields[phase][col].text(), name, lo, hi)

    def _check(self, phase: str, col: str) -> bool:
        """Mark the field as the therapist types: red with a message when its text is refused."""
        try:
            self._score(phase, col)
        except ValueError as e:
            stored = self.values(phase)[col]
            keeps = "nothing is stored" if stored is None else f"the stored {stored} stays"
            self._problems[(phase, col)] = f"Not saved: {e} ({keeps})."
            ok = False
        else:
            self._problems.pop((phase, col), None)
            ok = True
        self.fields[phase][col].setStyleSheet("" if ok else _INVALID_STYLE)
        self._show_problems()
        return ok

    def _show_problems(self) -> None:
        self.error.setText("<br>".join(self._problems.values()))
        self.error.setVisible(bool(self._problems))  # no blank line above the tabs

    def _commit(self, phase: str, col: str) -> None:
        """Save one score as typed, or refuse it with a visible message."""
        if self._loading or self.session_id is None or not self._check(phase, col):
            return
        value = self._score(phase, col)
        stored = self.values(phase)
        if stored[col] == value:
            return
        try:
            self.catalog.set_self_report(self.session_id, phase, **{**stored, col: value})
        except (ValueError, KeyError) as e:
            self._problems[(phase, col)] = f"Not saved: {e}."
            self.fields[phase][col].setStyleSheet(_INVALID_STYLE)
            self._show_problems()
            return
        self.changed.emit()

    def _notes_typed(self) -> None:
        if not self._loading:
            self.notes_timer.start()

    def flush(self) -> None:
        """Save what was typed last: a score still being edited, notes of the last moments (also
        called when leaving the session). Refused scores stay in :meth:`problems`."""
        if self.session_id is None:
            return
        for phase, row in self.fields.items():
            for col in row:
                self._commit(phase, col)
        self.questionnaires.flush()
        if not self.notes_timer.isActive():
            return
        self.notes_timer.stop()
        rec = self.catalog.get_session(self.session_id)
        text = self.notes.toPlainText()
        if rec is not None and rec.notes != text:
            try:
                self.catalog.update_session_notes(self.session_id, text)
            except ValueError as e:  # too long, or a control character: the text stays
                QMessageBox.warning(self, "Notes not saved", str(e))


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
        self.table.itemSelectionChanged.connect(self._selection_changed)
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
        self.delete_btn.setToolTip("Delete the selected marker (asks first)")
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
        # a rebuilt table selects nothing: a row left selected by the last delete would make the
        # next click on Delete act on a marker the therapist never chose
        self.table.clearSelection()
        self.table.setCurrentCell(-1, -1)
        self.table.blockSignals(False)
        self._selection_changed()

    def _selection_changed(self) -> None:
        """Move and Delete act on the selected marker: enabled only while one is selected."""
        has = self._selected() is not None
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
        label = dict(KINDS)[kind] if kind != "note" else "note"  # fixed texts: always valid
        self.catalog.add_marker(self.session_id, min(self.cursor_s, self.duration), kind, label)
        QTimer.singleShot(0, self.changed.emit)

    def move_selected(self) -> None:
        m = self._selected()
        if m is not None:
            self._update(m.id, t_s=min(self.cursor_s, self.duration))

    def delete_selected(self) -> None:
        """Delete the selected marker once the therapist confirms; the windows follow."""
        m = self._selected()
        if m is None:
            return
        name = dict(KINDS).get(m.kind, m.kind)
        label = f' "{m.label}"' if m.label and m.label != name else ""
        when = QTime(0, 0).addSecs(int(round(m.t_s))).toString("H:mm:ss")
        ans = QMessageBox.question(
            self,
            "Delete marker?",
            f"Delete the marker {name}{label} at {when}?"
            + (
                "\n\nThe pre/post windows are worked out again without it."
                if m.kind != "note"
                else ""
            ),
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            QMessageBox.StandardButton.No,
        )
        if ans != QMessageBox.StandardButton.Yes:
            return
        try:
            self.catalog.delete_marker(m.id)
        except KeyError as e:
            QMessageBox.warning(self, "Marker not deleted", str(e))
        QTimer.singleShot(0, self.changed.emit)
