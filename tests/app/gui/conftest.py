"""The main window for the GUI tests: fresh data folder, no demo patient, shown and active (so
keyboard shortcuts reach it); an analysis still running is cancelled at the end."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from PySide6.QtWidgets import QApplication

from app.gui.main import create_window
from app.gui.window import MainWindow


@pytest.fixture
def win(qtbot, app_env) -> Iterator[MainWindow]:
    w, _ = create_window(demo=False)
    qtbot.addWidget(w)
    w.show()
    qtbot.waitExposed(w)
    w.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is w)
    yield w
    w.review.shutdown()
