"""The SUDS entry opened by S while recording (issue 19, item 3).

A small window, not modal: the recording, its clock and its buttons go on behind it. The rating
belongs to the moment S was pressed (shown in the window), not to when the number was typed. A
value that is not a whole number 0–100 is refused with a message and the window stays open (never
changed to fit); Esc or Cancel closes it without a rating.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from core.clinical import SUDS_MAX, SUDS_MIN, check_suds
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
