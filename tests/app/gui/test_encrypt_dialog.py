"""Clinic → Encrypt data folder…: a folder an older TheraScope wrote in the clear is said so in the
status bar, and the dialog backs it up, then encrypts it in place (issue 16, item 5)."""

from __future__ import annotations

import threading
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from app.demo.simulation import record_simulated
from app.gui.encrypt_dialog import EncryptDialog
from app.gui.main import create_window
from app.gui.workers import jobs_running, run_job
from core.catalog import Catalog
from core.config import Settings
from core.security import vault


def test_an_unencrypted_folder_is_backed_up_and_encrypted_from_the_clinic_menu(
    qtbot, app_env: Path
) -> None:  # type: ignore[no-untyped-def]
    data = app_env / "data"
    cat = Catalog.open(data / "catalog.sqlite")  # as an older TheraScope wrote it
    p = cat.add_patient("GUI-ENC")
    small = Settings(camera_width=96, camera_height=72, camera_fps=5)
    rec = record_simulated(cat, data, p.id, 1.0, settings=small)
    cat.close()
    folder = data / rec.folder
    assert not vault.is_sealed_session(folder)

    win, _ = create_window(demo=False)
    qtbot.addWidget(win)
    win.show()
    assert "stored unencrypted" in win.statusBar().currentMessage()
    (act,) = [a for a in win.clinic_menu.actions() if a.text() == "Encrypt data folder…"]
    act.trigger()  # what a click on the menu entry does
    dlg = win.access_dialog
    assert isinstance(dlg, EncryptDialog) and dlg.isVisible()
    assert "1 session(s)" in dlg.findChildren(type(dlg.outcome))[0].text()
    assert not dlg.encrypt_btn.isEnabled()  # no backup folder named yet
    qtbot.keyClicks(dlg.backup_edit, str(app_env / "backup-before"))
    # while an analysis or export runs in the background, nothing starts: it could be writing
    # into a session that is about to be swapped out
    busy = threading.Event()
    run_job(lambda _p: busy.wait(30))
    qtbot.mouseClick(dlg.encrypt_btn, Qt.MouseButton.LeftButton)
    assert "in progress" in dlg.error.text() and not vault.is_sealed_session(folder)
    busy.set()
    qtbot.waitUntil(lambda: jobs_running() == 0, timeout=10_000)
    qtbot.mouseClick(dlg.encrypt_btn, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dlg.outcome.text().startswith("Done."), timeout=60_000)
    assert "Encrypted 1 session(s)" in dlg.outcome.text()
    assert vault.is_sealed_session(folder) and (app_env / "backup-before" / "sessions").is_dir()
    assert dlg.close_btn.isEnabled() and not dlg.encrypt_btn.isEnabled()
    qtbot.mouseClick(dlg.close_btn, Qt.MouseButton.LeftButton)
    QApplication.processEvents()
    win.close()
