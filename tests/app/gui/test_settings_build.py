"""Settings says which build this is: version, torch flavour and torch version (issue 20)."""

from __future__ import annotations

from app.build_info import build_info
from app.gui.settings_dialog import SettingsDialog


def test_settings_shows_the_flavour_line(win, qtbot) -> None:  # type: ignore[no-untyped-def]
    dlg = SettingsDialog(win.settings, win.data_root, parent=win)
    qtbot.addWidget(dlg)
    dlg.show()
    line = build_info().line()
    assert dlg.build.text() == line and dlg.build.isVisible()
    assert "torch" in line and ("CUDA" in line or "CPU-only" in line or "unknown" in line)
    dlg.reject()
