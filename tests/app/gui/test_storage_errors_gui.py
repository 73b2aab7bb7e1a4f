"""The GUI on a read-only catalog, and errors in slots: always a message, nothing typed lost."""

from __future__ import annotations

import sys

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QDialog, QMessageBox, QPushButton

from core.storage import StorageError


def test_new_patient_on_a_read_only_catalog_keeps_the_dialog_and_says_why(win, qtbot, monkeypatch):
    warned: list[str] = []
    monkeypatch.setattr(
        QMessageBox, "warning", lambda parent, title, text, *a: warned.append(f"{title}: {text}")
    )
    dialogs: list[QDialog] = []
    monkeypatch.setattr(QDialog, "exec", lambda self: (dialogs.append(self), self.show())[0] and 0)
    win.catalog._conn.execute("PRAGMA query_only = ON")
    qtbot.mouseClick(win.patients.new_btn, Qt.MouseButton.LeftButton)
    (dlg,) = dialogs
    dlg.code.setText("RO-5")
    save = next(b for b in dlg.findChildren(QPushButton) if b.text().replace("&", "") == "Save")
    qtbot.mouseClick(save, Qt.MouseButton.LeftButton)
    assert len(warned) == 1 and "read-only" in warned[0] and "Patient not saved" in warned[0]
    assert dlg.isVisible() and dlg.code.text() == "RO-5"  # nothing typed is lost
    dlg.close()
    win.catalog._conn.execute("PRAGMA query_only = OFF")


@pytest.mark.qt_no_exception_capture  # the exceptions must reach sys.excepthook, as in the app
def test_an_error_in_any_slot_is_shown_never_only_logged(qapp, qtbot, monkeypatch):
    from app.gui.main import install_error_dialogs

    monkeypatch.setattr(sys, "excepthook", sys.excepthook)  # restored after the test
    said: list[tuple[str, str]] = []
    monkeypatch.setattr(QMessageBox, "warning", lambda p, t, x, *a: said.append(("warning", x)))
    monkeypatch.setattr(QMessageBox, "critical", lambda p, t, x, *a: said.append(("critical", x)))
    install_error_dialogs()
    button = QPushButton("Save")
    qtbot.addWidget(button)

    def fail_storage() -> None:
        raise StorageError("Could not save the marker: the disk holding /x is full.", "full")

    button.clicked.connect(fail_storage)
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    button.clicked.disconnect()
    button.clicked.connect(lambda: 1 / 0)
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    assert said[0] == ("warning", "Could not save the marker: the disk holding /x is full.")
    assert said[1][0] == "critical" and "ZeroDivisionError" in said[1][1]
    assert QApplication.activeModalWidget() is None
