"""Help → Self-test…, chosen in the real menu with the mouse: the dialog runs the self-test in the
background, each step's row goes from running to passed, the verdict and this computer's
description follow, and "Copy results" copies them."""

from __future__ import annotations

import tempfile

from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from app.demo import selftest
from app.demo.selftest import STEPS
from app.gui.selftest_dialog import SelfTestDialog


def choose_from_help_menu(win, qtbot, text: str) -> None:
    """Click Help in the menu bar, then the entry ``text`` in the menu that opens."""
    bar = win.menuBar()
    rect = bar.actionGeometry(win.help_menu.menuAction())
    QTest.mouseClick(bar, Qt.MouseButton.LeftButton, pos=rect.center())
    qtbot.waitUntil(win.help_menu.isVisible)
    entry = next(a for a in win.help_menu.actions() if a.text() == text)
    QTest.mouseClick(
        win.help_menu, Qt.MouseButton.LeftButton, pos=win.help_menu.actionGeometry(entry).center()
    )


def test_self_test_from_the_help_menu_shows_every_step_passing(win, qtbot, monkeypatch):
    # the full 20 s run is the command line's test; the dialog's is shorter
    monkeypatch.setattr(selftest, "SELFTEST_SECONDS", 5.0)
    # its temporary folder goes beside the data folder, where the test sees it go
    monkeypatch.setattr(tempfile, "tempdir", str(win.data_root.parent))
    seen: list[tuple[str, str]] = []
    real_init = SelfTestDialog.__init__

    def watched_init(self, *a, **k):  # noqa: ANN001, ANN002, ANN003
        real_init(self, *a, **k)
        self._relay.step.connect(lambda s: seen.append((s.name, s.state)))

    monkeypatch.setattr(SelfTestDialog, "__init__", watched_init)
    choose_from_help_menu(win, qtbot, "Self-test…")
    dlg = win.selftest_dialog
    assert isinstance(dlg, SelfTestDialog)
    qtbot.waitUntil(dlg.isVisible)
    assert dlg.running and dlg.close_btn.text() == "Stop"  # it runs while the window is live
    qtbot.waitUntil(lambda: dlg.outcome is not None, timeout=120_000)
    # every step was shown running, then passed, in order
    names = [name for name, _ in STEPS]
    assert [n for n, s in seen if s == "running"] == names
    assert [n for n, s in seen if s == "passed"] == names
    for row, name in enumerate(names):
        assert dlg.table.item(row, 0).text() == name
        assert dlg.table.item(row, 1).text() == "✓ passed"
        assert dlg.table.item(row, 2).text().endswith(" s")
    assert dlg.summary.text().startswith("All 6 steps passed in ")
    for topic in ("Data folder", "Bluetooth", "Camera", "GPU", "torch"):
        assert f"• {topic}: " in dlg.computer.text()
    assert str(win.data_root) in dlg.computer.text()
    assert dlg.close_btn.text() == "Close" and dlg.run_btn.isEnabled()
    assert not [p for p in win.data_root.parent.iterdir() if p.name.startswith("therascope-self")]
    qtbot.mouseClick(dlg.copy_btn, Qt.MouseButton.LeftButton)
    copied = QApplication.clipboard().text()
    assert "PASSED   record" in copied and "This computer:" in copied
    qtbot.mouseClick(dlg.close_btn, Qt.MouseButton.LeftButton)
    assert not dlg.isVisible()


def test_self_test_does_not_start_while_recording(win, qtbot, monkeypatch):
    dlg = SelfTestDialog(win.data_root, win, recording=lambda: True)
    qtbot.addWidget(dlg)
    dlg.open()
    dlg.start()
    assert not dlg.running
    assert "being recorded" in dlg.error.text()


def test_stop_closes_the_dialog_once_the_temporary_folder_is_gone(win, qtbot, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(win.data_root.parent))
    dlg = SelfTestDialog(win.data_root, win)
    qtbot.addWidget(dlg)
    dlg.open()
    dlg.start()
    qtbot.waitUntil(lambda: dlg.table.item(0, 1).text() == "✓ passed", timeout=60_000)
    qtbot.mouseClick(dlg.close_btn, Qt.MouseButton.LeftButton)  # "Stop"
    assert dlg.isVisible() and "Stopping" in dlg.summary.text()  # until the clean-up is done
    qtbot.waitUntil(lambda: not dlg.isVisible(), timeout=60_000)
    assert dlg.outcome is not None and dlg.outcome.stopped
    assert dlg.outcome.steps[-1].passed  # the clean-up
    assert not [p for p in win.data_root.parent.iterdir() if p.name.startswith("therascope-self")]
