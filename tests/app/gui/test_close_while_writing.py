"""Closing the main window while a report is being written (issue 19): the therapist is asked
("Wait, then close" / "Keep working"); waiting leaves the whole PDF, keeping the window open
leaves the report running, and no worker thread outlives the window. The course report is
started with its real button and written by the real builder; the test only holds the builder
back until the close question has been answered, so the report is surely still being written
when the window closes."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pypdf import PdfReader
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QFileDialog, QMessageBox

import core.report.course as course_report
from app.gui.workers import jobs_running, running_jobs
from core.report.course import TITLE
from tests.app.course_data import build_course


def _answer(win: Any, qtbot: Any, button: str, then: Callable[[], None], seen: list[str]) -> None:
    """When the close question shows, note its text, run ``then`` and click ``button``."""

    def click() -> None:
        box = win.close_question
        if box is None:  # not shown yet
            QTimer.singleShot(20, click)
            return
        seen.append(box.text())
        then()
        (target,) = [b for b in box.buttons() if b.text() == button]
        qtbot.mouseClick(target, Qt.MouseButton.LeftButton)

    QTimer.singleShot(0, click)


def test_closing_while_the_course_report_is_written(win, qtbot, monkeypatch, app_env) -> None:  # type: ignore[no-untyped-def]
    fx = build_course(win.catalog, win.data_root, "W-1")
    gate = threading.Event()
    real = course_report.export_course_report

    def held(*args: Any, **kwargs: Any) -> Path:
        assert gate.wait(60), "the test never let the report go"
        return real(*args, **kwargs)

    monkeypatch.setattr(course_report, "export_course_report", held)
    out = app_env / "course.pdf"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a: (str(out), "PDF (*.pdf)"))
    win.show_patient(fx.patient_id)
    before = [p.name for p in out.parent.iterdir()]
    qtbot.mouseClick(win.patient.course_btn, Qt.MouseButton.LeftButton)
    assert [j.what for j in running_jobs()] == ["the course report"]

    # "Keep working": the window stays, the report goes on
    seen: list[str] = []
    _answer(win, qtbot, "Keep working", lambda: None, seen)
    assert not win.close()
    assert seen == ["The course report is still being written."]
    assert win.isVisible() and jobs_running() == 1 and not out.exists()

    # "Wait, then close": the window waits for the whole PDF before it goes
    _answer(win, qtbot, "Wait, then close", gate.set, seen)
    assert win.close()
    assert not win.isVisible() and len(seen) == 2
    assert running_jobs() == []  # no worker thread outlives the window
    pages = PdfReader(out).pages  # complete: pypdf reads it to its last page
    assert len(pages) > 1 and TITLE in (pages[0].extract_text() or "")
    assert sorted(p.name for p in out.parent.iterdir()) == sorted([*before, out.name])
    qtbot.waitUntil(lambda: jobs_running() == 0)


def test_closing_with_nothing_written_asks_nothing(win, qtbot, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    asked: list[str] = []
    monkeypatch.setattr(QMessageBox, "exec", lambda self: asked.append(self.text()))
    assert win.close()
    assert asked == [] and not win.isVisible()
