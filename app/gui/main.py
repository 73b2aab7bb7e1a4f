"""Start the GUI: open the catalog, recover crashed sessions, create the demo patient."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from PySide6.QtWidgets import QWidget

log = logging.getLogger(__name__)


@dataclass
class DemoBuildState:
    """Where the demo patient's build is: written by its worker thread, read by the GUI's."""

    step: str = "starting"
    fraction: float = 0.0


def create_window(  # type: ignore[no-untyped-def]
    data_dir: str | None = None, demo: bool = True, unlocked=None, build_demo: bool = True
):
    """Build the main window (the QApplication must exist). Returns (window, messages), or
    (None, []) when the therapist cancels the login.

    ``demo``: the demo data folder (:func:`core.config.demo_dir`; a simulated patient, built if
    wanted and ``build_demo``; no account). Otherwise the clinic's data folder (``data_dir``), unlocked by an
    account (``unlocked``, else :func:`app.gui.access.unlock_at_start`: the environment's
    credentials, the first account's set-up or the login).
    """
    from app.demo.patient import demo_patient_wanted, ensure_demo_patient
    from app.demo.simulation import Cancelled, simulated_device_factory
    from app.gui.window import MainWindow
    from app.gui.workers import run_job
    from core.catalog import Catalog
    from core.config import Settings, demo_dir
    from core.config import data_dir as resolve
    from core.recording.recovery import recover_unfinished
    from core.report.cleanup import clean_interrupted_writes

    created = False  # the clinic's first account made at this start (audited below)
    if demo:
        root = demo_dir()
    else:
        from app.gui.access import unlock_at_start

        root = resolve(data_dir)
        if unlocked is None:
            unlocked, created = unlock_at_start(root)
            if unlocked is None:
                return None, []
    if unlocked is not None:
        from core.security import vault

        vault.register(root, unlocked)  # sessions recorded from now on are sealed
    catalog = Catalog.open(root / "catalog.sqlite")
    if unlocked is not None:
        catalog.account = unlocked.account.name
        if created:
            catalog.audit("create", "account", None, f"account={unlocked.account.name}; first")
    results = recover_unfinished(catalog, root)
    try:  # what a killed analysis, export or start left: never in the way of starting
        removed = clean_interrupted_writes(catalog, root)
        if removed:
            log.info("removed %d leftover(s) of interrupted writes: %s", len(removed), removed)
    except Exception as exc:
        log.warning("could not clean up after interrupted writes: %s", exc)
    recovered = [r for r in results if r["status"] == "recovered"]
    settings = Settings.load()
    win = MainWindow(
        catalog, root, simulated_device_factory(settings), settings, demo=demo, unlocked=unlocked
    )
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
    if demo and build_demo and demo_patient_wanted(catalog):  # not again once deleted on purpose
        # the build's current step, written by the worker, read by the GUI with each progress
        state = DemoBuildState()
        win.demo_progress.update_progress(0.0, state.step)

        def done(_: object) -> None:
            win.demo_progress.finish()
            win.statusBar().showMessage("Demo patient ready", 5000)
            win.patients.refresh()

        def failed(msg: str) -> None:
            win.demo_progress.finish()
            win.statusBar().showMessage(f"Demo patient not created: {msg}")

        def build(progress: Callable[[float], None]) -> object:
            def report(f: float) -> None:
                state.fraction = f
                progress(f)

            def step(text: str) -> None:
                state.step = text
                progress(state.fraction)

            def busy() -> bool:
                """The therapist sets up or records a session (or it is being saved)."""
                return win.record_screen_open.is_set() or win.record.recording or win.record.saving

            def cancel_or_pause() -> bool:
                """Polled between steps (every 0.1 s of simulated time, every analysis batch):
                wait while a session is set up or recorded, so the build never competes with a
                recording or the set-up's test signal; True once the window closes."""
                if busy():
                    was = state.step
                    step("paused while a session is set up or recorded")
                    while busy() and not win.closing.is_set():
                        win.closing.wait(0.2)
                    step(was)
                return win.closing.is_set()

            try:
                return ensure_demo_patient(
                    catalog, root, report, cancel=cancel_or_pause, analyse=True, step=step
                )
            except Cancelled:
                return None

        def shown(f: float) -> None:
            win.demo_progress.update_progress(f, state.step)

        win.demo_job = run_job(build, done, failed, shown)
    win.show_patients()
    return win, messages


def install_error_dialogs() -> None:
    """Show every exception that reaches Qt's event loop (a slot that failed), never only log it.

    An expected condition (``expected`` is true: a full disk, a read-only catalog, Bluetooth
    switched off) shows its own message; anything else is a fault of TheraScope: it is logged
    with its traceback and the dialog says so and where the log is.
    """
    from PySide6.QtWidgets import QApplication, QMessageBox

    def hook(kind: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
        parent = QApplication.activeWindow()
        if getattr(exc, "expected", False):
            log.warning("not done: %s", exc)
            QMessageBox.warning(parent, "Not done", str(exc))
            return
        log.error("unexpected error", exc_info=(kind, exc, tb))
        QMessageBox.critical(
            parent,
            "Something went wrong",
            f"TheraScope met an unexpected error ({kind.__name__}: {exc}). What was saved "
            "before stays saved. The details are in the log file (Help → Where the data lives).",
        )

    sys.excepthook = hook


def _announce_first_paint(widget: QWidget, line: str) -> None:
    """Print ``line`` (flushed) once ``widget`` has painted for the first time."""
    from PySide6.QtCore import QEvent, QObject

    class _Once(QObject):
        def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt's name
            if event.type() == QEvent.Type.Paint:
                widget.removeEventFilter(self)
                print(line, flush=True)
            return False

    widget.installEventFilter(_Once(widget))


def run_gui(data_dir: str | None = None, demo: bool = True) -> int:
    from PySide6.QtWidgets import QApplication, QMessageBox

    from core.catalog import CatalogError
    from core.storage import StorageError, explain

    app = QApplication.instance() or QApplication(sys.argv)
    app.setApplicationName("TheraScope")
    install_error_dialogs()
    from core.security.keystore import KeyStoreError

    try:
        win, messages = create_window(data_dir, demo)
    except (CatalogError, StorageError, OSError, KeyStoreError) as e:  # in words
        if isinstance(e, OSError):
            e = explain(e, "open the data folder", e.filename or "the data folder")
        QMessageBox.critical(None, "TheraScope cannot open its data", str(e))
        return 2
    if win is None:  # the login was cancelled
        return 0
    win.show()
    for m in messages:
        QMessageBox.information(win, "Recovered sessions", m)
    if os.environ.get("THERASCOPE_READY_SIGNAL"):
        # packaging/test_bundle.sh times the cold start: one line once the patients screen painted
        _announce_first_paint(win.patients, "therascope: ready: patients screen shown")
    if os.environ.get("THERASCOPE_SCREENSHOT"):
        # used by the README's screenshot command: grab the window once it has drawn
        from PySide6.QtCore import QTimer

        out = Path(os.environ["THERASCOPE_SCREENSHOT"])
        QTimer.singleShot(1500, lambda: (win.grab().save(str(out)), app.quit()))
    return int(app.exec())
