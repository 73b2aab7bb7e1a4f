"""Import a recording and export a session's data from the GUI, as the therapist does: the
patient page's "Import recording…" (choose files, read, preview, consent, import) and the
"Export data…" menu on the patient page and the review screen."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QApplication, QFileDialog, QMenu

from tests.app.gui.test_patient_page import _open_from_list
from tests.app.review_data import record_short
from tests.core.transfer.recordings import (
    simulated_signals,
    write_bitalino_text,
    write_face_video,
)


def _choose_from_menu(qtbot, button, words: str) -> None:  # type: ignore[no-untyped-def]
    """Click ``button`` and, in the menu it opens, the entry that starts with ``words``."""

    def pick() -> None:
        menu = QApplication.activePopupWidget()
        assert isinstance(menu, QMenu), "the button opened no menu"
        action = next(a for a in menu.actions() if a.text().startswith(words))
        qtbot.mouseClick(menu, Qt.MouseButton.LeftButton, pos=menu.actionGeometry(action).center())

    QTimer.singleShot(200, pick)
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def test_import_a_bitalino_recording_with_its_video(
    win, qtbot, monkeypatch, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    sig = simulated_signals(20.0, 1000.0)
    txt = write_bitalino_text(tmp_path / "rec.txt", sig, drop=slice(300, 305))
    mp4 = write_face_video(tmp_path / "face.mp4", 18.0, fps=5.0)
    opened = iter([(str(txt), ""), (str(mp4), "")])
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: next(opened))
    win.catalog.add_patient("G-IMP")
    win.show_patients()
    _open_from_list(win, qtbot, "G-IMP")
    page = win.patient
    qtbot.mouseClick(page.import_btn, Qt.MouseButton.LeftButton)
    dlg = page.import_dialog
    assert dlg is not None and dlg.isVisible()
    assert not dlg.import_btn.isEnabled()
    qtbot.mouseClick(dlg.signals_btn, Qt.MouseButton.LeftButton)
    qtbot.mouseClick(dlg.video_btn, Qt.MouseButton.LeftButton)
    assert dlg.signals_edit.text() == str(txt) and dlg.video_edit.text() == str(mp4)
    dlg.offset.setFocus()
    dlg.offset.selectAll()
    qtbot.keyClicks(dlg.offset, "1.5")
    qtbot.mouseClick(dlg.read_btn, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dlg.plan is not None and not dlg.busy, timeout=30000)
    assert dlg.table.rowCount() == 2
    roles = {dlg.table.item(i, 0).text(): dlg.table.item(i, 6).text() for i in range(2)}
    assert roles == {"A1": "ECG", "A2": "EDA"}
    assert dlg.table.item(0, 5).text() == "5"  # the five lost rows
    assert "offset +1.50 s" in dlg.summary.text()
    assert "video covers" in dlg.warnings.text()  # 18 s of video for 20 s of signals
    # a new offset typed after the read: the preview follows it once the typing stops
    dlg.offset.setFocus()
    dlg.offset.selectAll()
    qtbot.keyClicks(dlg.offset, "2.75")
    qtbot.waitUntil(lambda: dlg.plan.offset_s == 2.75 and not dlg.busy, timeout=10000)
    assert "offset +2.75 s" in dlg.summary.text()
    dlg.offset.selectAll()
    qtbot.keyClicks(dlg.offset, "1.5")
    qtbot.waitUntil(lambda: dlg.plan.offset_s == 1.5 and not dlg.busy, timeout=10000)
    assert not dlg.import_btn.isEnabled()  # consent first
    qtbot.mouseClick(dlg.consent, Qt.MouseButton.LeftButton)
    assert dlg.import_btn.isEnabled()
    with qtbot.waitSignal(dlg.imported, timeout=30000) as got:
        qtbot.mouseClick(dlg.import_btn, Qt.MouseButton.LeftButton)
    rec = got.args[0]
    qtbot.waitUntil(lambda: not dlg.isVisible())
    assert rec.origin == "imported" and rec.devices["import"]["offset_s"] == 1.5
    assert page.selected_session() is not None and page.selected_session().id == rec.id
    origin_col = [
        page.table.horizontalHeaderItem(j).text() for j in range(page.table.columnCount())
    ]
    row = page.table.currentRow()
    assert "imported" in [page.table.item(row, j).text() for j in range(len(origin_col))]


def test_a_file_that_is_no_recording_is_refused_in_words(
    win, qtbot, monkeypatch, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    bad = tmp_path / "notes.txt"
    bad.write_text("shopping list\n")
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(bad), ""))
    win.catalog.add_patient("G-BAD")
    win.show_patients()
    _open_from_list(win, qtbot, "G-BAD")
    qtbot.mouseClick(win.patient.import_btn, Qt.MouseButton.LeftButton)
    dlg = win.patient.import_dialog
    qtbot.mouseClick(dlg.signals_btn, Qt.MouseButton.LeftButton)
    qtbot.mouseClick(dlg.read_btn, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "Cannot import" in dlg.summary.text(), timeout=10000)
    assert "notes.txt" in dlg.summary.text() and not dlg.import_btn.isEnabled()
    qtbot.keyClick(dlg, Qt.Key.Key_Escape)
    assert not dlg.isVisible() and win.catalog.list_sessions() == []


def test_export_data_menu_on_patient_page_and_review(
    win, qtbot, monkeypatch, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    p = win.catalog.add_patient("G-EXP", name="Gerda Export")
    rec = record_short(win.catalog, win.data_root, p.id, 12.0)
    answers = iter([(str(tmp_path / "csv"), ""), (str(tmp_path / "s.edf"), "")])
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: next(answers))
    from PySide6.QtWidgets import QMessageBox

    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.No)
    win.show_patients()
    _open_from_list(win, qtbot, "G-EXP")
    page = win.patient
    page.table.selectRow(0)
    _choose_from_menu(qtbot, page.data_btn, "Data as CSV")
    qtbot.waitUntil(lambda: "Data exported" in page.status.text(), timeout=30000)
    df = pd.read_csv(next((tmp_path / "csv").glob("signals_*.csv")))
    assert list(df.columns)[:3] == ["time_s", "ECG_mV", "EDA_uS"]
    assert b"Gerda" not in (tmp_path / "csv" / "session.json").read_bytes()

    win.review.load_session(rec.id) if hasattr(win.review, "load_session") else None
    qtbot.mouseClick(page.review_btn, Qt.MouseButton.LeftButton)
    assert win.stack.currentWidget() is win.review
    _choose_from_menu(qtbot, win.review.data_btn, "Signals as EDF+")
    qtbot.waitUntil(lambda: win.review.last_data_export is not None, timeout=30000)
    assert win.review.last_data_export == tmp_path / "s.edf"
    from core.formats.edf import read_edf

    got = read_edf(tmp_path / "s.edf")
    assert [c.label for c in got.channels] == ["ECG", "EDA"]
    assert [e.action for e in win.catalog.audit_log(entity="session")].count("export") == 2
