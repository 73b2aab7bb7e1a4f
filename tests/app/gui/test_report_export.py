"""Exporting the PDF from the GUI: the therapist's name from Settings and the question whether to
print the session notes (asked only when the session has notes), read back from the PDF."""

from __future__ import annotations

from pypdf import PdfReader
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialogButtonBox, QFileDialog, QMessageBox

from app.gui.settings_dialog import SettingsDialog
from core.config import Settings
from tests.app.review_data import make_analysed

NOTES = "calmer after the breathing exercise"


def pdf_text(path) -> str:  # type: ignore[no-untyped-def]
    return " ".join(" ".join((p.extract_text() or "").split()) for p in PdfReader(path).pages)


def answer(monkeypatch, replies: dict[str, QMessageBox.StandardButton]) -> list[str]:
    """Answer QMessageBox.question by its title; return the titles asked, in order."""
    asked: list[str] = []

    def question(parent, title, text, *a, **k):  # type: ignore[no-untyped-def]
        asked.append(title)
        return replies[title]

    monkeypatch.setattr(QMessageBox, "question", question)
    return asked


def export_from_review(win, qtbot, monkeypatch, rec, out) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(out), "PDF (*.pdf)"))
    win.review.last_report = None
    win.show_review(rec.id)
    qtbot.mouseClick(win.review.report_btn, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: win.review.last_report is not None, timeout=30000)


def test_therapist_name_from_settings_and_the_notes_question(win, qtbot, monkeypatch, app_env):
    # the therapist types their name in Settings and saves
    dlg = SettingsDialog(win.settings, win.data_root, parent=win)
    qtbot.addWidget(dlg)
    qtbot.keyClicks(dlg.therapist, "Dr. Anna Beispiel")
    save = dlg.findChild(QDialogButtonBox).button(QDialogButtonBox.StandardButton.Save)
    qtbot.mouseClick(save, Qt.MouseButton.LeftButton)
    assert Settings.load().therapist_name == "Dr. Anna Beispiel"
    assert win.settings.therapist_name == "Dr. Anna Beispiel"

    p = win.catalog.add_patient("N-1", name="Nora Name")
    rec, _ = make_analysed(win.catalog, win.data_root, p.id)
    win.show_review(rec.id)
    qtbot.keyClicks(win.review.self_report.notes, NOTES)  # typed on the review screen
    win.review.self_report.flush()
    assert win.catalog.get_session(rec.id).notes == NOTES

    Yes, No = QMessageBox.StandardButton.Yes, QMessageBox.StandardButton.No
    asked = answer(monkeypatch, {"Patient name": No, "Session notes": Yes})
    out = app_env / "with-notes.pdf"
    export_from_review(win, qtbot, monkeypatch, rec, out)
    assert asked == ["Patient name", "Session notes"]
    text = pdf_text(out)
    assert f"Session notes {NOTES}" in text and "Therapist Dr. Anna Beispiel" in text
    assert "Nora Name" not in text

    asked = answer(monkeypatch, {"Patient name": Yes, "Session notes": No})
    out = app_env / "without-notes.pdf"
    export_from_review(win, qtbot, monkeypatch, rec, out)
    assert asked == ["Patient name", "Session notes"]
    text = pdf_text(out)
    assert NOTES not in text and "Session notes" not in text and "Nora Name" in text


def test_no_notes_question_when_the_session_has_none(win, qtbot, monkeypatch, app_env):
    p = win.catalog.add_patient("N-2")  # no name either: nothing to ask
    rec, _ = make_analysed(win.catalog, win.data_root, p.id)
    asked = answer(monkeypatch, {})
    out = app_env / "plain.pdf"
    export_from_review(win, qtbot, monkeypatch, rec, out)
    assert asked == [] and "Session notes" not in pdf_text(out)
