"""Start the GUI: open the catalog, recover crashed sessions, create the demo patient."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger(__name__)


def create_window(data_dir: str | None = None, demo: bool = True):  # type: ignore[no-untyped-def]
    """Build the main window (the QApplication must exist). Returns (window, messages)."""
    from app.demo.patient import ensure_demo_patient
    from app.demo.simulation import Cancelled, simulated_device_factory
    from app.gui.window import MainWindow
    from app.gui.workers import run_job
    from core.catalog import Catalog
    from core.config import Settings
    from core.config import data_dir as resolve
    from core.recording.recovery import recover_unfinished

    root = resolve(data_dir)
    catalog = Catalog.open(root / "catalog.sqlite")
    results = recover_unfinished(catalog, root)
    recovered = [r for r in results if r["status"] == "recovered"]
    settings = Settings.load()
    win = MainWindow(catalog, root, simulated_device_factory(settings), settings, demo=True)
    messages = []
    if recovered:
        messages.append(
            f"{len(recovered)} session(s) interrupted by a crash were recovered: "
            + ", ".join(r["uid"] for r in recovered)
        )
    messages += [
        f"Session {r['uid']} could not be recovered yet: {r.get('reason', '')}"
        for r in results
        if r["status"] != "recovered"
    ]
    if demo:
        win.progress.setVisible(True)
        win.statusBar().showMessage("Preparing the demo patient's simulated sessions…")

        def done(_: object) -> None:
            win.progress.setVisible(False)
            win.statusBar().showMessage("Demo patient ready", 5000)
            win.patients.refresh()

        def failed(msg: str) -> None:
            win.progress.setVisible(False)
            win.statusBar().showMessage(f"Demo patient not created: {msg}")

        def build(progress: Callable[[float], None]) -> object:
            try:
                return ensure_demo_patient(
                    catalog, root, progress=progress, cancel=win.closing.is_set, analyse=True
                )
            except Cancelled:
                return None

        win.demo_job = run_job(build, done, failed, lambda f: win.progress.setValue(int(f * 100)))
    win.show_patients()
    return win, messages


def run_gui(data_dir: str | None = None, demo: bool = True) -> int:
    from PySide6.QtWidgets import QApplication, QMessageBox

    from core.catalog import CatalogError

    app = QApplication.instance() or QApplication(sys.argv)
    app.setApplicationName("TheraScope")
    try:
        win, messages = create_window(data_dir, demo)
    except (CatalogError, OSError) as e:
        QMessageBox.critical(None, "TheraScope cannot open its data", str(e))
        return 2
    win.show()
    for m in messages:
        QMessageBox.information(win, "Recovered sessions", m)
    if os.environ.get("THERASCOPE_SCREENSHOT"):
        # used by the README's screenshot command: grab the window once it has drawn
        from PySide6.QtCore import QTimer

        out = Path(os.environ["THERASCOPE_SCREENSHOT"])
        QTimer.singleShot(1500, lambda: (win.grab().save(str(out)), app.quit()))
    return int(app.exec())
