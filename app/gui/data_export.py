"""Export a session's data for other tools (CSV folder, EDF+ file) from the patient page or the
review screen: a button with a menu, where to save, whether to write the patient's name, the
export off the GUI thread, and what was written in words."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QFileDialog, QMenu, QPushButton, QWidget

from app.gui.widgets import ask_include_name
from app.gui.workers import run_job
from core.catalog import Catalog, SessionRecord
from core.filenames import safe_file_name, safe_name_part
from core.transfer.export import ExportResult, export_session

#: the menu's entries: format → its words
FORMAT_WORDS = {"csv": "Data as CSV (folder)…", "edf": "Signals as EDF+ (file)…"}


def default_export_name(code: str, uid: str, fmt: str) -> str:
    """``TheraScope_<code>_<uid>`` (a folder for CSV) or ``….edf``, as one safe file name."""
    stem = f"TheraScope_{safe_name_part(code)}_{safe_name_part(uid)}"
    return safe_file_name(stem + (".edf" if fmt == "edf" else ""))


def result_text(res: ExportResult) -> str:
    """What an export wrote, in a few lines."""
    what = "CSV folder" if res.format == "csv" else f"{res.format} file"
    lines = [
        f"{what}: {res.path}",
        f"{res.samples:,} samples, {res.markers} markers"
        + (f", {res.estimates:,} estimated frames" if res.estimates else ""),
    ]
    for c in res.channels:
        if c.step is not None and c.resolution is not None:
            verdict = "within" if c.step_ok else "coarser than"
            lines.append(
                f"{c.name}: step {c.step:.3g} {c.unit}, {verdict} the sensor's "
                f"{c.resolution:.3g} {c.unit}"
            )
    lines += res.notes
    return "\n".join(lines)


def export_session_data(
    parent: QWidget,
    catalog: Catalog,
    data_root: Path,
    rec: SessionRecord,
    fmt: str,
    on_done: Callable[[ExportResult], None],
    on_failed: Callable[[str], None],
    path: str | None = None,
    include_name: bool | None = None,
) -> bool:
    """Ask where (unless ``path``) and whether to write the patient's name (unless
    ``include_name``; only when the patient has one), then export in a worker thread.

    Returns False when nothing was started (a session still recording, or cancelled).
    """
    if rec.status == "recording":
        return False
    p = catalog.get_patient(rec.patient_id)
    assert p is not None
    if path is None:
        default = str(Path.home() / default_export_name(p.code, rec.uid, fmt))
        if fmt == "csv":
            path, _ = QFileDialog.getSaveFileName(
                parent, "Export data as CSV: the folder to create", default, "Folder (*)"
            )
        else:
            path, _ = QFileDialog.getSaveFileName(
                parent, "Export signals as EDF+", default, "EDF+ (*.edf)"
            )
        if not path:
            return False
    if include_name is None:
        include_name = ask_include_name(
            parent,
            p.name,
            "Write the patient's name into the exported files? (Otherwise only the code.)",
        )
    out, with_name = Path(path), bool(include_name)

    def job(progress: Callable[[float], None]) -> ExportResult:
        return export_session(
            catalog, data_root, rec.uid, fmt, out, include_name=with_name, progress=progress
        )

    run_job(job, lambda r: on_done(r), on_failed, what="the data export")  # type: ignore[arg-type]
    return True


class DataExportButton(QPushButton):
    """ "Export data…" with a menu of formats; emits ``chosen(fmt)``."""

    chosen = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Export data…", parent)
        self.setToolTip("The session's signals, markers and estimates for other tools")
        menu = QMenu(self)
        self.actions_by_format: dict[str, QAction] = {}
        for fmt, words in FORMAT_WORDS.items():
            act = menu.addAction(words)
            act.triggered.connect(lambda _=False, f=fmt: self.chosen.emit(f))
            self.actions_by_format[fmt] = act
        self.setMenu(menu)
