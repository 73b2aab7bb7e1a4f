"""The Help menu: keyboard shortcuts, intended use, where the data lives, the self-test, and
About."""

from __future__ import annotations

import html
from pathlib import Path

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMainWindow, QMenu, QMessageBox

from core import __license__, __version__
from core.config import config_dir
from core.report.data import INTENDED_USE

#: every keyboard shortcut of the app, as the Help menu lists it: (keys, where, what it does);
#: tests/app/gui/test_help_menu.py checks that it matches the shortcuts the screens really have
SHORTCUTS: tuple[tuple[str, str, str], ...] = (
    ("F1", "everywhere", "this list of keyboard shortcuts"),
    ("Esc", "patient, review, cohort", "back to the previous screen"),
    ("Ctrl+E", "patient, review", "export the session's PDF report"),
    ("Enter", "recording (marker field)", "add the typed marker"),
    ("Space", "recording", "add a quick marker (outside the marker field, or in it when empty)"),
    ("Ctrl+Z", "recording", "undo the last marker added in this session"),
    ("S", "recording", "the patient's SUDS rating (0–100) at this moment"),
    ("Ctrl+L", "everywhere (clinic data)", "lock TheraScope now (its password opens it again)"),
)


def shortcuts_html() -> str:
    rows = "".join(
        f"<tr><td><b>{html.escape(k)}</b></td><td>{html.escape(w)}</td>"
        f"<td>{html.escape(d)}</td></tr>"
        for k, w, d in SHORTCUTS
    )
    return f"<table cellpadding='3'><tr><th>Keys</th><th>Where</th><th>Does</th></tr>{rows}</table>"


def data_locations_html(data_root: Path) -> str:
    places = (
        ("Patients, sessions and reports", data_root),
        ("Catalog (SQLite)", data_root / "catalog.sqlite"),
        ("Accounts and keys (no password is stored)", data_root / "keys.json"),
        ("Session folders (signals, video, analysis)", data_root / "sessions"),
        ("Log (no names, notes or signals)", data_root / "logs" / "therascope.log"),
        ("Settings", config_dir() / "settings.json"),
    )
    rows = "".join(
        f"<tr><td>{html.escape(what)}</td><td><code>{html.escape(str(p))}</code></td></tr>"
        for what, p in places
    )
    return (
        "<p>Everything stays on this computer; nothing is sent anywhere.</p>"
        f"<table cellpadding='3'>{rows}</table>"
    )


def about_html() -> str:
    return (
        f"<h3>TheraScope {html.escape(__version__)}</h3>"
        "<p>Records therapy sessions (ECG, EDA and the patient's face), estimates valence and "
        "arousal with the BMMN-BAE-2 model and shows the course on the circumplex.</p>"
        f"<p>Open-source software under the {html.escape(__license__)} licence. It comes with "
        "no warranty.</p>"
    )


def install_help_menu(window: QMainWindow, data_root: Path) -> QMenu:
    """Add the Help menu to ``window``'s menu bar; returns it (its actions are what tests click)."""
    menu = window.menuBar().addMenu("&Help")

    def add(text: str, slot: object, keys: str | None = None) -> QAction:
        act = QAction(text, window)
        if keys:
            act.setShortcut(QKeySequence(keys))
        act.triggered.connect(slot)
        menu.addAction(act)
        return act

    add(
        "Keyboard shortcuts",
        lambda: QMessageBox.information(window, "Keyboard shortcuts", shortcuts_html()),
        "F1",
    )
    add(
        "Intended use",
        lambda: QMessageBox.information(
            window, "Intended use", f"<p>{html.escape(INTENDED_USE)}</p>"
        ),
    )
    add(
        "Where the data lives",
        lambda: QMessageBox.information(
            window, "Where the data lives", data_locations_html(data_root)
        ),
    )
    window.selftest_dialog = None  # type: ignore[attr-defined]

    def selftest() -> None:
        """Help → Self-test…: the installation's self-test in a dialog (runs in the background)."""
        from app.gui.selftest_dialog import SelfTestDialog

        record = getattr(window, "record", None)
        dlg = SelfTestDialog(
            data_root,
            window,
            recording=lambda: bool(getattr(record, "recording", False)),
        )
        window.selftest_dialog = dlg  # type: ignore[attr-defined]
        dlg.open()
        dlg.start()

    add("Self-test…", selftest)
    menu.addSeparator()
    add("About TheraScope", lambda: QMessageBox.about(window, "About TheraScope", about_html()))
    return menu
