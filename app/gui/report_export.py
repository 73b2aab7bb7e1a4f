"""Exporting a session's PDF report from any screen: where to save it, the patient's name, the
session notes, and building it off the GUI thread."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtWidgets import QFileDialog, QMessageBox, QWidget

from app.gui.widgets import ask_include_name
from app.gui.workers import run_job
from core.catalog import Catalog, SessionRecord
from core.filenames import safe_file_name, safe_name_part


def default_report_name(code: str, uid: str) -> str:
    """The name the save dialog offers for a session's report: ``TheraScope_<code>_<uid>.pdf``,
    with the patient code (typed by the therapist: "../x", "CON", "a/b") made one safe name
    (:func:`core.filenames.safe_name_part`)."""
    return safe_file_name(f"TheraScope_{safe_name_part(code)}_{safe_name_part(uid)}.pdf")


def export_session_report(
    parent: QWidget,
    catalog: Catalog,
    data_root: Path,
    rec: SessionRecord,
    on_done: Callable[[Path], None],
    on_failed: Callable[[str], None],
    path: str | None = None,
    include_name: bool | None = None,
    include_notes: bool | None = None,
) -> bool:
    """Ask where to save (unless ``path`` is given), whether to print the patient's name (unless
    ``include_name`` is given, and only when the patient has one) and whether to print the session
    notes (unless ``include_notes`` is given, and only when the session has notes), then build the
    PDF in a worker thread; ``on_done(path)`` or ``on_failed(message)`` run on the GUI thread.

    Returns
    -------
    bool — False when nothing was started (a session still recording, or the therapist cancelled)
    """
    if rec.status == "recording":
        return False
    p = catalog.get_patient(rec.patient_id)
    assert p is not None
    if path is None:
        default = str(Path.home() / default_report_name(p.code, rec.uid))
        path, _ = QFileDialog.getSaveFileName(parent, "Export report", default, "PDF (*.pdf)")
        if not path:
            return False
    if include_name is None:
        include_name = ask_include_name(
            parent,
            p.name,
            "Print the patient's name on the report? (Otherwise only the code.)",
        )
    if include_notes is None:
        include_notes = False
        fresh = catalog.get_session(rec.id)  # the notes may have changed since ``rec`` was read
        if fresh is not None and fresh.notes.strip():
            ans = QMessageBox.question(
                parent,
                "Session notes",
                "Print the session notes on the report? (Otherwise they stay in TheraScope.)",
            )
            include_notes = ans == QMessageBox.StandardButton.Yes
    out, with_name, with_notes = Path(path), bool(include_name), bool(include_notes)

    def job(progress: Callable[[float], None]) -> Path:
        from core.report.session import export_session_report as build

        return build(
            catalog, data_root, rec.id, out, include_name=with_name, include_notes=with_notes
        )

    def done(result: object) -> None:
        on_done(Path(str(result)))

    run_job(job, done, on_failed, what="the session report")
    return True
