"""Patient history, cohort, settings and the ways between the screens."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog, QFileDialog, QMessageBox

import app.gui.settings_dialog as settings_dialog
from app.gui.settings_dialog import SettingsDialog
from core.config import Settings
from tests.app.review_data import make_analysed, record_short


def test_patient_page_shows_states_quadrants_and_history(win, qtbot):
    cat = win.catalog
    p = cat.add_patient("H-1")
    analysed, _ = make_analysed(cat, win.data_root, p.id)
    cat.set_self_report(analysed.id, "pre", sam_valence=3, sam_arousal=7, gad7=12)
    cat.set_self_report(analysed.id, "post", sam_valence=6, sam_arousal=4, gad7=8)
    recorded = record_short(cat, win.data_root, p.id, 4.0)
    win.show_patients()
    assert (
        "Q2 stressed/anxious → Q4 calm/relaxed (demo model)" in win.patients.table.item(0, 4).text()
    )
    win.patients.open_patient.emit(p.id)
    page = win.patient
    rows = {
        int(page.table.item(i, 0).data(Qt.ItemDataRole.UserRole)): [
            page.table.item(i, j).text() for j in range(page.table.columnCount())
        ]
        for i in range(page.table.rowCount())
    }
    assert rows[analysed.id][3] == "analysed" and rows[recorded.id][3] == "recorded"
    assert rows[analysed.id][4] == "Q2 stressed/anxious →\nQ4 calm/relaxed\n(demo model)"
    assert rows[recorded.id][4] == "–"
    assert len(page.history.arrows) == 1 and page.history.demo
    assert page.reports.rowCount() == 1
    assert [page.reports.item(0, j).text() for j in (2, 3, 4)] == ["3 → 6", "7 → 4", "12 → 8"]
    # double-click opens the review; "← Patient" (or Esc) comes back
    row = next(i for i in range(page.table.rowCount()) if rows_id(page, i) == analysed.id)
    page.table.selectRow(row)
    page.table.doubleClicked.emit(page.table.model().index(row, 0))
    assert win.stack.currentWidget() is win.review and win.review.session_id == analysed.id
    qtbot.keyClick(win.review, Qt.Key.Key_Escape)
    assert win.stack.currentWidget() is win.patient
    qtbot.mouseClick(page.review_btn, Qt.MouseButton.LeftButton)
    assert win.stack.currentWidget() is win.review
    qtbot.mouseClick(win.review.play_btn, Qt.MouseButton.LeftButton)
    assert win.stack.currentWidget() is win.playback
    assert win.playback.data is not None


def rows_id(page, i):
    return int(page.table.item(i, 0).data(Qt.ItemDataRole.UserRole))


def test_cohort_page_shows_every_patients_arrow_and_the_tests(win, qtbot, tmp_path):
    cat = win.catalog
    a = cat.add_patient("C-1")
    b = cat.add_patient("C-2")
    cat.add_patient("C-3")  # nothing analysed: not in the cohort
    make_analysed(cat, win.data_root, a.id, demo=True)
    make_analysed(cat, win.data_root, b.id, demo=False, calm_after=False)
    win.show_patients()
    qtbot.mouseClick(win.patients.cohort_btn, Qt.MouseButton.LeftButton)
    page = win.cohort
    assert win.stack.currentWidget() is page
    assert page.stats.n == 0  # simulated sessions count only with the switch
    qtbot.mouseClick(page.include_simulated, Qt.MouseButton.LeftButton)
    assert page.stats.n == 2 and not page.stats.tested  # two patients: no test (test_cohort_page)
    assert page.stats_table.item(0, 0).text() == "2" and page.stats_table.item(1, 0).text() == "2"
    assert "±" in page.stats_table.item(0, 1).text()
    assert len(page.view.arrows) == 2
    assert page.demo_banner.isVisible() and page.view.demo  # one arrow is the demo model's
    codes = sorted(page.patients.item(i, 0).text() for i in range(page.patients.rowCount()))
    assert codes == ["C-1", "C-2"]
    assert page.export_figure(str(tmp_path / "cohort.svg")).stat().st_size > 1000
    qtbot.keyClick(page, Qt.Key.Key_Escape)
    assert win.stack.currentWidget() is win.patients


def test_settings_dialog_saves_and_esc_cancels(win, qtbot, app_env, monkeypatch):
    ckpt = app_env / "clinic.pt"
    ckpt.write_bytes(b"not a checkpoint")
    dlg = SettingsDialog(win.settings, win.data_root, parent=win)
    qtbot.addWidget(dlg)
    assert dlg.data.isReadOnly() and dlg.data.text() == str(win.data_root)
    assert dlg.backup.text().startswith("No backup yet")
    dlg.choose_checkpoint(str(ckpt))
    qtbot.waitUntil(lambda: "Cannot use this file" in dlg.provenance.text(), timeout=20000)
    dlg.device.setCurrentIndex(dlg.device.findData("cpu"))
    dlg.rate.setValue(2.5)
    dlg.radius.setValue(0.2)
    dlg.minutes.setValue(10)
    dlg.clinic.setText("Praxis am See")
    dlg.detector.setCurrentIndex(dlg.detector.findData("mtcnn"))
    assert dlg.lock.value() == 10.0  # the default idle lock
    dlg.lock.setValue(0)
    assert dlg.lock.text() == "never"
    dlg.save()
    assert dlg.result() == QDialog.DialogCode.Accepted
    saved = Settings.load()
    assert saved.model_checkpoint == str(ckpt) and saved.analysis_device == "cpu"
    assert saved.face_detector == "mtcnn" and saved.lock_minutes == 0.0
    assert (saved.analysis_frames_per_s, saved.neutral_radius, saved.phase_minutes) == (
        2.5,
        0.2,
        10,
    )
    assert saved.clinic_name == "Praxis am See"
    assert saved.camera_width == 160  # settings the dialog does not show are kept
    assert win.settings.neutral_radius == 0.2  # every screen sees the change
    # back to the demo model; Esc leaves everything as it was
    dlg2 = SettingsDialog(win.settings, win.data_root, parent=win)
    qtbot.addWidget(dlg2)
    assert dlg2.use_clinic.isChecked()
    dlg2.use_demo.setChecked(True)
    dlg2.show()
    qtbot.keyClick(dlg2, Qt.Key.Key_Escape)
    assert dlg2.result() == QDialog.DialogCode.Rejected
    assert Settings.load().model_checkpoint == str(ckpt)
    # a clinic model with no file is refused
    shown = []
    monkeypatch.setattr(QMessageBox, "warning", lambda *a, **k: shown.append(a[2]))
    dlg3 = SettingsDialog(win.settings, win.data_root, parent=win)
    qtbot.addWidget(dlg3)
    dlg3.checkpoint.setText("")
    dlg3.save()
    assert shown and "checkpoint" in shown[0]


def test_settings_are_reachable_from_the_patients_list(win, qtbot, monkeypatch):
    opened = []
    monkeypatch.setattr(
        settings_dialog.SettingsDialog, "exec", lambda self: opened.append(self) or 0
    )
    qtbot.mouseClick(win.patients.settings_btn, Qt.MouseButton.LeftButton)
    assert len(opened) == 1 and opened[0].settings is win.settings


def test_review_exports_the_report_of_its_session(win, qtbot, monkeypatch, app_env):
    p = win.catalog.add_patient("PDF-1")
    rec, _ = make_analysed(win.catalog, win.data_root, p.id)
    record_short(win.catalog, win.data_root, p.id, 3.0)  # newer: selected first on the page
    out = app_env / "review-report.pdf"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(out), "PDF (*.pdf)"))
    win.show_review(rec.id)
    qtbot.mouseClick(win.review.report_btn, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: win.review.last_report is not None, timeout=30000)
    assert win.review.last_report == out
    assert out.exists() and out.stat().st_size > 1000
    assert win.catalog.list_reports(rec.id)  # that session's report, not the newer one's
    assert win.stack.currentWidget() is win.review  # the therapist stays where they were
