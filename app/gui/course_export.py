"""Exporting a patient's course report (every session in one PDF) from the patient page: where
to save it, the patient's name, and building it off the GUI thread as the session report is
(:mod:`app.gui.report_export`)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtWidgets import QFileDialog, QMessageBox, QWidget

from app.gui.widgets import ask_include_name
from app.gui.workers import run_job
from core.catalog import Catalog
from core.filenames import safe_file_name, safe_name_part


def default_course_name(code: str) -> str:
    """The name the save dialog offers: ``TheraScope_<code>_course.pdf`` (the code made one safe
    name, :func:`core.filenames.safe_name_part`)."""
    return safe_file_name(f"TheraScope_{safe_name_part(code)}_course.pdf")


def export_course_report(
    parent: QWidget,
    catalog: Catalog,
    data_root: Path,
    patient_id: int,
    on_done: Callable[[Path], None],
    on_failed: Callable[[str], None],
    path: str | None = None,
    include_name: bool | None = None,
    on_progress: Callable[[float], None] | None = None,
) -> bool:
    """Ask where to save (unless ``path``), whether to print the patient's name (unless
    ``include_name``; only when the patient has one), then build the course report in a worker
    thread (:func:`core.report.course.export_course_report`); ``on_done(path)`` or
    ``on_failed(message)`` run on the GUI thread.

    Returns
    -------
    bool — False when nothing was started (no such patient, no session, or cancelled)
    """
    p = catalog.get_patient(patient_id)
    if p is None:
        return False
    if not catalog.list_sessions(patient_id=patient_id):
        QMessageBox.information(
            parent, "No sessions", "The patient has no session yet: nothing for a course report."
        )
        return False
    if path is None:
        default = str(Path.home() / default_course_name(p.code))
        path, _ = QFileDialog.getSaveFileName(parent, "Course report", default, "PDF (*.pdf)")
        if not path:
            return False
    if include_name is None:
        include_name = ask_include_name(
            parent,
            p.name,
            "Print the patient's name on the course report? (Otherwise only the code.)",
        )
    out, with_name = Path(path), bool(include_name)

    def job(progress: Callable[[float], None]) -> Path:
        from core.report.course import export_course_report as build

        return build(catalog, data_root, patient_id, out, include_name=with_name, progress=progress)

    def done(result: object) -> None:
        on_done(Path(str(result)))

    run_job(job, done, on_failed, on_progress, what="the course report")
    return True
