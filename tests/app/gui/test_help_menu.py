"""The Help menu: shortcuts (and that the list matches the screens' real shortcuts), intended
use, where the data lives, About."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QShortcut
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QAbstractButton, QMessageBox

from app.gui.help_menu import SHORTCUTS
from core import __license__, __version__


@pytest.fixture
def boxes(monkeypatch):
    shown: list[tuple[str, str]] = []

    def information(parent, title, text, *a, **k):  # noqa: ANN001
        shown.append((title, text))
        return QMessageBox.StandardButton.Ok

    monkeypatch.setattr(QMessageBox, "information", information)
    monkeypatch.setattr(QMessageBox, "about", lambda parent, t, text: shown.append((t, text)))
    return shown


def test_f1_lists_the_shortcuts(win, qtbot, boxes):
    QTest.keyClick(win, Qt.Key.Key_F1)
    assert len(boxes) == 1 and boxes[0][0] == "Keyboard shortcuts"
    for keys, _where, _what in SHORTCUTS:
        assert f"<b>{keys}</b>" in boxes[0][1]


def test_every_help_entry_opens_its_text(win, qtbot, boxes):
    actions = [a for a in win.help_menu.actions() if not a.isSeparator()]
    assert [a.text() for a in actions] == [
        "Keyboard shortcuts",
        "Intended use",
        "Where the data lives",
        "Self-test…",  # a dialog of its own: tests/app/gui/test_selftest_dialog.py
        "About TheraScope",
    ]
    actions = [a for a in actions if a.text() != "Self-test…"]
    for a in actions:
        a.trigger()  # what a click on the menu entry does
    titles = [t for t, _ in boxes]
    assert titles == [a.text() for a in actions]
    texts = dict(boxes)
    assert "not a diagnosis" in texts["Intended use"]
    assert str(win.data_root) in texts["Where the data lives"]
    assert "catalog.sqlite" in texts["Where the data lives"]
    assert "settings.json" in texts["Where the data lives"]
    assert __version__ in texts["About TheraScope"] and __license__ in texts["About TheraScope"]


def test_the_shortcut_list_matches_the_screens(win):
    """A shortcut added to a screen but not to the Help list (or listed but gone) fails here."""
    found = set()
    for sc in win.findChildren(QShortcut):
        found.add(sc.key().toString())
    for b in win.findChildren(QAbstractButton):
        if not b.shortcut().isEmpty():
            found.add(b.shortcut().toString())
    for a in win.findChildren(QAction):
        if not a.shortcut().isEmpty():
            found.add(a.shortcut().toString())
    listed = {keys for keys, _, _ in SHORTCUTS if keys != "Enter"}  # Enter: the field's own key
    assert found == listed
