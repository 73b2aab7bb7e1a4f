"""The therapist's path in the real widgets: patient → record → markers → stop → review → play back
→ PDF."""

from __future__ import annotations

import time

import pytest
from pypdf import PdfReader
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox

from app.gui.main import create_window
from app.gui.patients_page import PatientDialog


@pytest.fixture
def win(qtbot, app_env):
    w, messages = create_window(demo=False)
    qtbot.addWidget(w)
    w.show()
    assert messages == []
    yield w
    if w.record.recording:
        w.record.stop_recording()


def test_patients_create_edit_search(win, qtbot):
    dlg = PatientDialog(win.catalog, parent=win)
    dlg.code.setText("P-100")
    dlg.name.setText("Robin Test")
    dlg.birth_year.setValue(1985)
    dlg.save()
    assert dlg.result_patient is not None and dlg.result_patient.code == "P-100"
    dup = PatientDialog(win.catalog, parent=win)
    dup.code.setText("p-100")
    shown = []
    QMessageBox.warning = lambda *a, **k: shown.append(a[2])  # type: ignore[method-assign]
    dup.save()
    assert shown and "already exists" in shown[0]
    win.catalog.add_patient("Q-200")
    win.patients.refresh()
    assert win.patients.table.rowCount() == 2
    qtbot.keyClicks(win.patients.search, "robin")
    assert win.patients.table.rowCount() == 1
    assert win.patients.table.item(0, 0).text() == "P-100"
    edit = PatientDialog(win.catalog, win.catalog.patient_by_code("P-100"), parent=win)
    edit.notes.setPlainText("prefers morning sessions")
    edit.save()
    assert win.catalog.patient_by_code("P-100").notes == "prefers morning sessions"


def test_record_markers_stop_playback_report(win, qtbot, monkeypatch, app_env):
    p = win.catalog.add_patient("P-200", name="Sam Sample")
    win.patients.refresh()
    win.patients.open_patient.emit(p.id)
    assert win.stack.currentWidget() is win.patient
    qtbot.mouseClick(win.patient.new_btn, Qt.MouseButton.LeftButton)
    page = win.record
    assert win.stack.currentWidget() is page
    assert not page.start_btn.isEnabled()  # no consent, no recording
    page.consent.setChecked(True)
    assert page.start_btn.isEnabled()
    qtbot.mouseClick(page.start_btn, Qt.MouseButton.LeftButton)
    t_start = time.monotonic()
    assert page.recording and page.sim_banner.isVisible()
    qtbot.wait(1500)
    qtbot.mouseClick(page.treat_start, Qt.MouseButton.LeftButton)
    qtbot.keyClicks(page.marker_edit, "patient reports tension")
    qtbot.keyClick(page.marker_edit, Qt.Key.Key_Return)
    page.setFocus()
    page.space.activated.emit()  # the Space shortcut's action, with the field not focused
    qtbot.wait(2500)
    qtbot.mouseClick(page.treat_end, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: page.hr.text() != "– bpm", timeout=5000)
    x, y = page.signals.curves["ECG"].getData()
    assert len(x) > 2000  # ≥ 2.5 s of 800 Hz ECG on screen
    assert "bpm" in page.hr.text() and "µS" in page.eda.text()
    assert page.lights["disk"].state == "green"
    markers = win.catalog.list_markers(page.session.record.id)
    assert [m.kind for m in markers] == ["treatment_start", "note", "note", "treatment_end"]
    assert markers[1].label == "patient reports tension" and markers[2].label == "marker"

    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Yes)
    t_stop = time.monotonic()
    qtbot.mouseClick(page.stop_btn, Qt.MouseButton.LeftButton)
    assert not page.recording and page.saving  # saved in the background
    # after the session: its review screen, ready for the ratings and "Analyse now"
    review = win.review
    qtbot.waitUntil(lambda: win.stack.currentWidget() is review, timeout=15000)
    rec = win.catalog.list_sessions(patient_id=p.id)[0]
    assert review.session_id == rec.id
    assert review.left.currentWidget() is review.panel and review.panel.analyse_btn.isEnabled()
    assert len(review.markers.markers) == 4
    qtbot.mouseClick(review.play_btn, Qt.MouseButton.LeftButton)
    pb = win.playback
    assert win.stack.currentWidget() is pb
    assert rec.status == "finalised"
    assert rec.duration_s == pytest.approx(t_stop - t_start, abs=0.3)
    assert pb.slider.maximum() == int(pb.duration * 1000)
    pb.slider.setValue(pb.slider.maximum() // 2)
    assert pb.t == pytest.approx(pb.duration / 2, abs=0.01)
    # the frame on screen is the last one captured at or before the cursor
    ft = pb.frame_t
    assert ft[pb.current_frame] <= pb.t + 1e-9
    assert pb.current_frame == len(ft) - 1 or ft[pb.current_frame + 1] > pb.t
    assert len(pb.markers) == 4
    qtbot.mouseClick(pb.play_btn, Qt.MouseButton.LeftButton)
    t_before = pb.t
    qtbot.wait(300)
    assert pb.t > t_before
    pb.toggle_play()

    pb.back.emit(p.id)
    assert win.stack.currentWidget() is win.patient
    out = app_env / "report.pdf"
    win.patient.export_report(str(out), include_name=False)
    qtbot.waitUntil(lambda: getattr(win.patient, "last_report", None) is not None, timeout=30000)
    text = "".join(pg.extract_text() for pg in PdfReader(out).pages)
    assert "P-200" in text and "SIMULATED DATA" in text and "Sam Sample" not in text
    assert any(a.action == "export" for a in win.catalog.audit_log())


def test_closing_mid_recording_asks_and_never_loses(win, qtbot, monkeypatch):
    p = win.catalog.add_patient("P-300")
    win.show_record(p.id)
    win.record.consent.setChecked(True)
    win.record.start_recording()
    qtbot.wait(800)
    answer = [QMessageBox.StandardButton.No]
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: answer[0])
    win.close()
    assert win.record.recording  # "No": keeps recording
    answer[0] = QMessageBox.StandardButton.Yes
    win.close()
    assert not win.record.recording
    assert win.catalog.list_sessions(patient_id=p.id)[0].status == "finalised"


def test_demo_patient_is_built_in_the_background(qtbot, app_env, monkeypatch):
    import app.demo.patient as sim

    monkeypatch.setattr(sim, "DEMO_SESSIONS", (("anxious_to_calm", 0.1, 1, 0.0),) * 2)
    w, _ = create_window(demo=True)
    qtbot.addWidget(w)
    assert not w.demo_progress.isHidden()  # the bar shows while the sessions are simulated
    qtbot.waitUntil(w.demo_progress.isHidden, timeout=60000)
    demo = w.catalog.patient_by_code(sim.DEMO_CODE)
    assert demo is not None and demo.is_demo
    sessions = w.catalog.list_sessions(patient_id=demo.id)
    assert len(sessions) == 2 and all(s.simulated and s.status == "finalised" for s in sessions)
    assert "(demo)" in w.patients.table.item(0, 0).text()
