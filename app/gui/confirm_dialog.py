"""Confirming what cannot be undone (or hides a patient) by typing the patient code or session
uid, as shown."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from core.catalog.erasure import confirmation_matches


class TypeToConfirmDialog(QDialog):
    """Explains the action and enables its button only once ``expected`` is typed exactly.

    Open it with ``open()`` (window-modal, not blocking) and connect ``accepted``.

    Parameters
    ----------
    title : str — the window title, e.g. "Delete patient"
    message : str — what will happen (plain text)
    expected : str — the text to type: the patient code or the session uid
    action : str — the button's label, e.g. "Delete for good"
    parent : QWidget, optional
    """

    def __init__(
        self,
        title: str,
        message: str,
        expected: str,
        action: str,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.expected = expected
        self.setWindowTitle(title)
        self.setWindowModality(Qt.WindowModality.WindowModal)
        text = QLabel(message)
        text.setTextFormat(Qt.TextFormat.PlainText)  # codes and uids are typed by people
        text.setWordWrap(True)
        ask = QLabel(f"Type {expected} to confirm:")
        ask.setTextFormat(Qt.TextFormat.PlainText)
        self.field = QLineEdit()
        self.field.setPlaceholderText(expected)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.ok_btn: QPushButton = self.buttons.addButton(
            action, QDialogButtonBox.ButtonRole.DestructiveRole
        )
        self.ok_btn.setEnabled(False)
        for b in self.buttons.buttons():  # Enter confirms (once the text matches), never cancels
            if isinstance(b, QPushButton):
                b.setAutoDefault(False)
                b.setDefault(False)
        self.ok_btn.clicked.connect(self._confirm)
        self.buttons.rejected.connect(self.reject)
        self.field.textChanged.connect(self._check)
        self.field.returnPressed.connect(self._confirm)
        lay = QVBoxLayout(self)
        lay.addWidget(text)
        lay.addWidget(ask)
        lay.addWidget(self.field)
        lay.addWidget(self.buttons)
        self.setMinimumWidth(420)

    def _check(self, text: str) -> None:
        self.ok_btn.setEnabled(confirmation_matches(self.expected, text))

    def _confirm(self) -> None:
        if confirmation_matches(self.expected, self.field.text()):
            self.accept()
