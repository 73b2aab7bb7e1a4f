"""Click every enabled control on every screen and dialog reachable from the main window.

With a recorded and an analysed session present, each screen is visited and each of its enabled
buttons (and check boxes, radio buttons), menu actions and shortcuts is pressed the way a user
does; the test fails on any exception that reaches Qt's event loop (an excepthook installed here),
on any error logged by a background job, and on any dialog that Escape does not close. Modal and
file dialogs are answered by stubs (CI has no display and no one to answer): questions with "No"
(nothing is deleted, nothing overwritten), save dialogs with a file in the test's folder, open
dialogs with "cancel"; a dialog run with ``exec()`` is shown and its own controls clicked too.
"""

from __future__ import annotations

import gc
import logging
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import TracebackType

import pytest
from PySide6.QtCore import QEvent, QPoint, Qt
from PySide6.QtGui import QShortcut
from PySide6.QtTest import QTest
from PySide6.QtWidgets import (
    QAbstractButton,
    QApplication,
    QCheckBox,
    QDialog,
    QFileDialog,
    QInputDialog,
    QMessageBox,
    QRadioButton,
    QTabWidget,
    QWidget,
)
from shiboken6 import isValid

import app.gui.workers as workers
from app.gui.main import create_window
from tests.app.review_data import make_analysed, record_short

#: buttons that leave the screen or end the session are pressed last on their screen
LAST = ("Stop", "←", "Back", "Cancel", "Delete", "Archive")


class Exceptions:
    """Collects what reaches ``sys.excepthook`` (exceptions in slots and event handlers)."""

    def __init__(self) -> None:
        self.caught: list[str] = []

    def hook(self, kind: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
        self.caught.append(f"{kind.__name__}: {exc}")


@pytest.fixture
def excepthook(monkeypatch: pytest.MonkeyPatch) -> Exceptions:
    ex = Exceptions()
    monkeypatch.setattr(sys, "excepthook", ex.hook)
    return ex


@pytest.fixture
def stubs(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[str]:
    """Answer every modal and file dialog; returns what was asked, for the failure message."""
    asked: list[str] = []
    n = [0]

    def box(kind: str, answer: QMessageBox.StandardButton) -> Callable[..., object]:
        def f(parent: object, title: str, text: str = "", *a: object, **k: object) -> object:
            asked.append(f"{kind}: {title}")
            return answer

        return f

    No, Ok = QMessageBox.StandardButton.No, QMessageBox.StandardButton.Ok  # noqa: N806
    Yes = QMessageBox.StandardButton.Yes  # noqa: N806

    def question(parent: object, title: str, text: str = "", *a: object, **k: object) -> object:
        asked.append(f"question: {title}")
        # go on with a recording; refuse everything else (nothing deleted, nothing overwritten)
        return Yes if title in ("Set-up not sound", "Stop recording?") else No

    monkeypatch.setattr(QMessageBox, "question", question)
    for kind in ("information", "warning", "critical"):
        monkeypatch.setattr(QMessageBox, kind, box(kind, Ok))
    monkeypatch.setattr(QMessageBox, "about", lambda p, t, text: asked.append(f"about: {t}"))

    def save(parent: object, caption: str = "", default: str = "", filt: str = "", *a: object):  # noqa: ANN202
        n[0] += 1
        ext = ".pdf" if "PDF" in filt else ".svg" if "SVG" in filt and "PNG" not in filt else ".png"
        asked.append(f"save: {caption}")
        return str(tmp_path / f"out-{n[0]}{ext}"), filt

    monkeypatch.setattr(QFileDialog, "getSaveFileName", save)
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: ("", ""))
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, **k: "")
    monkeypatch.setattr(QInputDialog, "getText", lambda *a, **k: ("", False))

    def exec_(self: QDialog) -> int:  # shown, not blocking: the test clicks in it, then closes it
        asked.append(f"dialog: {self.windowTitle()}")
        self.show()
        return int(QDialog.DialogCode.Rejected)

    monkeypatch.setattr(QDialog, "exec", exec_)
    return asked


def _wait_idle(win: QWidget, qtbot: object) -> None:
    """Let background jobs (report export, analysis, saving) and queued signals finish."""
    qtbot.wait(30)  # type: ignore[attr-defined]
    review = win.review  # type: ignore[attr-defined]
    qtbot.waitUntil(  # type: ignore[attr-defined]
        lambda: not workers._running and not review.runner.running, timeout=60000
    )
    qtbot.wait(30)  # type: ignore[attr-defined]


def _visible_dialogs() -> list[QWidget]:
    return [w for w in QApplication.topLevelWidgets() if isinstance(w, QDialog) and w.isVisible()]


def _controls(root: QWidget) -> Iterator[QAbstractButton]:
    """The root's enabled, visible buttons in a stable order, the ones that leave last."""
    buttons = [
        b
        for b in root.findChildren(QAbstractButton)
        if b.isVisibleTo(root) and b.isEnabled() and b.text()
    ]
    buttons.sort(key=lambda b: any(b.text().startswith(x) for x in LAST))
    yield from buttons


def _click(qtbot: object, b: QAbstractButton) -> None:
    if not isValid(b) or not (
        b.isVisible() and b.isEnabled()
    ):  # an earlier click changed the screen
        return
    if isinstance(b, QCheckBox | QRadioButton):  # on its box, as a user does (not mid-row)
        pos = QPoint(min(8, b.width() // 2), b.height() // 2)
        qtbot.mouseClick(b, Qt.MouseButton.LeftButton, pos=pos)  # type: ignore[attr-defined]
    else:
        qtbot.mouseClick(b, Qt.MouseButton.LeftButton)  # type: ignore[attr-defined]


def _close_dialogs(qtbot: object, left_open: list[str], click_inside: bool) -> None:
    from app.gui.access_dialogs import LockDialog
    from tests.accounts import TEST_PASSWORD

    for dlg in _visible_dialogs():
        if isinstance(dlg, LockDialog):  # Escape must not open a locked window: the password
            QTest.keyClicks(dlg.password, TEST_PASSWORD)
            QTest.mouseClick(dlg.unlock_btn, Qt.MouseButton.LeftButton)
            qtbot.wait(20)  # type: ignore[attr-defined]
            if dlg.isVisible():
                left_open.append("the lock screen did not open with the password")
            continue
        if click_inside:
            for b in list(_controls(dlg)):
                if not isValid(dlg) or not dlg.isVisible():
                    break  # a click closed (and deleted) it
                if not isValid(b) or b.text() in ("OK", "&OK", "Save", "&Save"):
                    continue  # saving the settings is the settings test's job
                _click(qtbot, b)
                qtbot.wait(20)  # type: ignore[attr-defined]
        if isValid(dlg) and dlg.isVisible():
            QTest.keyClick(dlg, Qt.Key.Key_Escape)
            qtbot.wait(20)  # type: ignore[attr-defined]
        if isValid(dlg) and dlg.isVisible():
            left_open.append(dlg.windowTitle() or type(dlg).__name__)
            dlg.close()


@pytest.fixture
def own_windows(qtbot) -> Iterator[None]:
    """Every window and dialog this test opened is deleted before the next test (while what
    they point to still exists), not by a later garbage collection."""
    before = set(QApplication.topLevelWidgets())
    yield
    for w in QApplication.topLevelWidgets():
        if w not in before and isValid(w):
            w.close()
            w.deleteLater()
    QApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    QApplication.processEvents()
    gc.collect()


@pytest.mark.timeout(240)
def test_every_control_on_every_screen(qtbot, app_env, excepthook, stubs, caplog, own_windows):
    caplog.set_level(logging.ERROR)
    win, _ = create_window(demo=False)
    qtbot.addWidget(win)
    win.resize(1280, 800)
    win.show()
    qtbot.waitExposed(win)
    cat = win.catalog
    p = cat.add_patient("CLICK-1", name="Test Person", notes="clicked")
    analysed, _ = make_analysed(cat, win.data_root, p.id)
    recorded = record_short(cat, win.data_root, p.id, 3.0)
    left_open: list[str] = []
    screens: list[tuple[str, Callable[[], QWidget]]] = [
        ("patients", lambda: (win.show_patients(), win.patients)[1]),
        ("patient", lambda: (win.show_patient(p.id), win.patient)[1]),
        ("review, analysed", lambda: (win.show_review(analysed.id), win.review)[1]),
        ("review, recorded", lambda: (win.show_review(recorded.id), win.review)[1]),
        ("playback", lambda: (win.show_playback(analysed.id), win.playback)[1]),
        ("cohort", lambda: (win.show_cohort(), win.cohort)[1]),
        ("record", lambda: (win.show_record(p.id), win.record)[1]),
    ]
    pressed: list[str] = []
    for name, show in screens:
        screen = show()
        _wait_idle(win, qtbot)
        assert list(_controls(screen)), f"{name}: no enabled control found"
        done: set[str] = set()
        tabs = [(tw, i) for tw in screen.findChildren(QTabWidget) for i in range(tw.count())]
        for tab in [None, *tabs]:
            for _ in range(80):
                if win.stack.currentWidget() is not screen:  # a click left the screen
                    if win.record.recording:
                        break
                    screen = show()
                    _wait_idle(win, qtbot)
                if tab is not None and tab[0].currentIndex() != tab[1]:
                    bar = tab[0].tabBar()
                    qtbot.mouseClick(
                        bar, Qt.MouseButton.LeftButton, pos=bar.tabRect(tab[1]).center()
                    )
                todo = [b for b in _controls(screen) if b.text() not in done]
                if not todo:
                    break
                done.add(todo[0].text())
                _click(qtbot, todo[0])
                pressed.append(f"{name}: {todo[0].text()}")
                _wait_idle(win, qtbot)
                _close_dialogs(qtbot, left_open, click_inside=True)
                _wait_idle(win, qtbot)
        if win.record.recording:  # the record screen's Start was pressed: stop and save it
            _click(qtbot, win.record.stop_btn)
            qtbot.waitUntil(
                lambda: not win.record.recording and not win.record.saving, timeout=30000
            )
            _wait_idle(win, qtbot)
    # every menu action and every shortcut, from the screens where they live
    menus = [a.menu() for a in win.menuBar().actions() if a.menu() is not None]
    for act in [a for m in menus for a in m.actions()]:  # the menu bar's, as a user opens them
        if act.isEnabled() and act.text() and not act.isSeparator():
            act.trigger()
            pressed.append(f"menu: {act.text()}")
            _wait_idle(win, qtbot)
            _close_dialogs(qtbot, left_open, click_inside=False)
    for sc in win.findChildren(QShortcut):
        parent = sc.parent()
        if isinstance(parent, QWidget) and parent in [win.stack.widget(i) for i in range(6)]:
            win.stack.setCurrentWidget(parent)
        sc.activated.emit()  # what the key press does; record's Space adds a marker only live
        pressed.append(f"shortcut: {sc.key().toString()}")
        _wait_idle(win, qtbot)
        _close_dialogs(qtbot, left_open, click_inside=False)
    win.review.shutdown()
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(pressed) > 40, pressed
    assert excepthook.caught == [], (excepthook.caught, pressed)
    assert errors == [], (errors, pressed)
    assert left_open == [], (left_open, stubs)
