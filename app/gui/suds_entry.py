"""The SUDS entry opened by S while recording (issue 19, item 3), and the session's SUDS ratings
afterwards (:class:`SudsEditor`, in the ratings tab: a value corrected, a rating deleted).

A small window, not modal: the recording, its clock and its buttons go on behind it. The rating
belongs to the moment S was pressed (shown in the window), not to when the number was typed. A
value that is not a whole number 0–100 is refused with a message and the window stays open (never
changed to fit); Esc or Cancel closes it without a rating.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from core.catalog import Catalog
from core.clinical import SUDS_MAX, SUDS_MIN, SudsRating, check_suds
from core.timefmt import format_clock

INVALID_STYLE = "border:1px solid #c0392b; background:#fdecea; font-size:22px;"
FIELD_STYLE = "font-size:22px;"


def parse_suds(text: str) -> int:
    """The rating typed: a whole number 0–100; ValueError with a message otherwise (an empty
    field too: there is nothing to save)."""
    t = text.strip()
    if not t:
        raise ValueError(f"Type the patient's rating, a whole number from {SUDS_MIN} to {SUDS_MAX}")
    if not (t.isascii() and t.isdigit()):
        raise ValueError(
            f'SUDS must be a whole number from {SUDS_MIN} to {SUDS_MAX}; "{t}" is not one'
        )
    return check_suds(int(t))


class SudsDialog(QDialog):
    """Ask for one SUDS rating, tied to ``t_s`` (s since the session's start)."""

    rating_entered = Signal(int, float)  # rating, its moment (s since the start)

    def __init__(self, t_s: float, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.t_s = float(t_s)
        self.setWindowTitle("SUDS rating")
        self.setModal(False)  # the recording screen stays usable behind it
        head = QLabel(
            f"<b>Distress now (SUDS)</b> — asked at <b>{format_clock(self.t_s)}</b><br>"
            f"{SUDS_MIN} = no distress, fully calm · {SUDS_MAX} = the worst distress imaginable"
        )
        head.setTextFormat(Qt.TextFormat.RichText)
        self.field = QLineEdit()
        self.field.setPlaceholderText(f"{SUDS_MIN}–{SUDS_MAX}")
        self.field.setMaxLength(4)
        self.field.setStyleSheet(FIELD_STYLE)
        self.field.setMaximumWidth(110)
        self.field.textEdited.connect(self._typed)
        self.error = QLabel()
        self.error.setWordWrap(True)
        self.error.setStyleSheet("color:#c0392b;")
        self.save_btn = QPushButton("Save rating")
        self.save_btn.setDefault(True)
        self.save_btn.clicked.connect(self.save)
        self.cancel_btn = QPushButton("Cancel")
        self.cancel_btn.clicked.connect(self.reject)
        row = QHBoxLayout()
        row.addWidget(self.field)
        row.addStretch(1)
        row.addWidget(self.cancel_btn)
        row.addWidget(self.save_btn)
        lay = QVBoxLayout(self)
        lay.addWidget(head)
        lay.addLayout(row)
        lay.addWidget(self.error)
        self.field.setFocus()

    def _typed(self, text: str) -> None:
        if not text.strip():
            self.error.clear()
            self.field.setStyleSheet(FIELD_STYLE)
            return
        try:
            parse_suds(text)
        except ValueError as e:
            self.error.setText(f"Not saved: {e}.")
            self.field.setStyleSheet(INVALID_STYLE)
        else:
            self.error.clear()
            self.field.setStyleSheet(FIELD_STYLE)

    def typed_rating(self) -> int | None:
        """The valid rating now in the field, or None."""
        try:
            return parse_suds(self.field.text())
        except ValueError:
            return None

    def save(self) -> None:
        """Emit the rating and close, or show why it is refused and stay open."""
        try:
            rating = parse_suds(self.field.text())
        except ValueError as e:
            self.error.setText(f"Not saved: {e}.")
            self.field.setStyleSheet(INVALID_STYLE)
            self.field.setFocus()
            return
        self.rating_entered.emit(rating, self.t_s)
        self.accept()


class SudsEditor(QWidget):
    """A session's SUDS ratings after the recording: time and value; the value can be corrected
    (0–100, anything else refused with a message and the stored value kept), a rating deleted
    (asks first). Their moments stay where S was pressed."""

    changed = Signal()

    def __init__(self, catalog: Catalog, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.catalog = catalog
        self.session_id: int | None = None
        self.ratings: list[SudsRating] = []
        self._loading = False
        self.table = QTableWidget(0, 2)
        self.table.setHorizontalHeaderLabels(["Session time", f"SUDS ({SUDS_MIN}–{SUDS_MAX})"])
        self.table.verticalHeader().setVisible(False)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        hh = self.table.horizontalHeader()
        hh.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        hh.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        self.table.itemChanged.connect(self._edited)
        self.table.itemSelectionChanged.connect(self._selection_changed)
        self.empty = QLabel("No SUDS ratings in this session (press S while recording).")
        self.empty.setStyleSheet("color:#777;")
        self.error = QLabel()
        self.error.setWordWrap(True)
        self.error.setStyleSheet("color:#c0392b;")
        self.delete_btn = QPushButton("Delete")
        self.delete_btn.setToolTip("Delete the selected SUDS rating (asks first)")
        self.delete_btn.clicked.connect(self.delete_selected)
        bar = QHBoxLayout()
        bar.addWidget(QLabel("Double-click a value to correct it."))
        bar.addStretch(1)
        bar.addWidget(self.delete_btn)
        lay = QVBoxLayout(self)
        lay.addWidget(self.empty)
        lay.addWidget(self.table, 1)
        lay.addWidget(self.error)
        lay.addLayout(bar)

    def load(self, session_id: int) -> None:
        self.session_id = session_id
        self.ratings = self.catalog.list_suds(session_id)
        self._loading = True
        try:
            self.table.setRowCount(len(self.ratings))
            for i, r in enumerate(self.ratings):
                t = QTableWidgetItem(format_clock(r.t_s))
                t.setFlags(t.flags() & ~Qt.ItemFlag.ItemIsEditable)
                self.table.setItem(i, 0, t)
                v = QTableWidgetItem(str(r.rating))
                v.setData(Qt.ItemDataRole.UserRole, r.id)
                v.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.table.setItem(i, 1, v)
            self.table.clearSelection()
        finally:
            self._loading = False
        self.empty.setVisible(not self.ratings)
        self.error.clear()
        self._selection_changed()

    def _selection_changed(self) -> None:
        self.delete_btn.setEnabled(self._selected() is not None)

    def _selected(self) -> SudsRating | None:
        rows = {i.row() for i in self.table.selectedIndexes()}
        return self.ratings[min(rows)] if rows and min(rows) < len(self.ratings) else None

    def _edited(self, item: QTableWidgetItem) -> None:
        if self._loading or item.column() != 1 or self.session_id is None:
            return
        rid = int(item.data(Qt.ItemDataRole.UserRole))
        old = next(r for r in self.ratings if r.id == rid)
        try:
            value = parse_suds(item.text())
            self.catalog.update_suds(rid, value)
        except (ValueError, KeyError) as e:
            self.error.setText(
                f"Not saved: {e} (the stored {old.rating} at {format_clock(old.t_s)} stays)."
            )
            self._loading = True
            item.setText(str(old.rating))
            self._loading = False
            return
        self.error.clear()
        self.ratings = self.catalog.list_suds(self.session_id)
        self.changed.emit()

    def delete_selected(self) -> None:
        r = self._selected()
        if r is None or self.session_id is None:
            return
        ans = QMessageBox.question(
            self,
            "Delete SUDS rating?",
            f"Delete the SUDS rating {r.rating} at {format_clock(r.t_s)}?",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            QMessageBox.StandardButton.No,
        )
        if ans != QMessageBox.StandardButton.Yes:
            return
        try:
            self.catalog.delete_suds(r.id)
        except KeyError as e:
            QMessageBox.warning(self, "SUDS rating not deleted", str(e))
        self.load(self.session_id)
        self.changed.emit()
