"""Smaller promises of the screens: what they show and what keys do."""

from __future__ import annotations

import threading

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QMessageBox

from app.demo.simulation import record_simulated
from app.gui.main import create_window
from core.config import Settings


def _window(qtbot):
    w, _ = create_window(demo=False)
    qtbot.addWidget(w)
    w.show()
    return w


def test_playback_never_shows_another_sessions_video(qtbot, app_env):
    w = _window(qtbot)
    a = w.catalog.add_patient("A-1")
    b = w.catalog.add_patient("B-1")
    small = Settings(camera_width=160, camera_height=120)
    with_video = record_simulated(w.catalog, w.data_root, a.id, 3.0, settings=small)
    without = record_simulated(w.catalog, w.data_root, b.id, 3.0, settings=Settings(camera_fps=0))
    w.show_playback(with_video.id)
    assert not w.playback.video.pixmap().isNull()
    w.show_playback(without.id)
    assert w.playback.video.pixmap().isNull()
    assert "no video" in w.playback.video.text()
    w.show_playback(with_video.id)
    assert w.playback.current_frame == 0 and not w.playback.video.pixmap().isNull()


def test_space_is_a_marker_only_while_recording(qtbot, app_env):
    w = _window(qtbot)
    p = w.catalog.add_patient("S-1")
    w.show_record(p.id)
    assert not w.record.space.isEnabled()  # in set-up, Space ticks the consent box
    w.record.consent.setChecked(True)
    w.record.start_recording()
    assert w.record.space.isEnabled()
    w.record.stop_recording()
    assert not w.record.space.isEnabled()


def _recording(qtbot, monkeypatch, code, ms):
    """A window recording a new patient's session for ``ms``; "Stop?" is answered yes."""
    w = _window(qtbot)
    w.show_record(w.catalog.add_patient(code).id)
    w.record.consent.setChecked(True)
    w.record.start_recording()
    qtbot.wait(ms)
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Yes)
    return w


def test_stop_saves_in_the_background_while_the_screen_stays_live(qtbot, app_env, monkeypatch):
    """A sensor that hangs on disconnecting never freezes the screen; the session is saved whole."""
    w = _recording(qtbot, monkeypatch, "H-1", 500)
    sensor = w.record.session.sensor
    release = threading.Event()
    real_stop = sensor.stop

    def hanging_stop():
        release.wait(10)  # a peripheral that does not answer its disconnect (for a while)
        real_stop()

    monkeypatch.setattr(sensor, "stop", hanging_stop)
    finished = []
    w.record.finished.connect(finished.append)
    w.record.confirm_stop()  # returns at once
    assert w.record.saving and not w.record.recording
    assert w.record.stop_btn.text() == "Saving…" and not w.record.stop_btn.isEnabled()
    assert not w.record.treat_start.isEnabled() and "Saving the session" in (
        w.record.markers_label.text()
    )
    ticks = []
    QTimer.singleShot(50, lambda: ticks.append(1))
    qtbot.waitUntil(lambda: bool(ticks), timeout=3000)  # the event loop runs meanwhile
    assert not finished and w.record.saving
    release.set()
    qtbot.waitUntil(lambda: bool(finished), timeout=15000)
    assert not w.record.saving and w.record.stop_btn.isEnabled()
    assert w.record.stop_btn.text() == "Stop"
    assert w.catalog.get_session(finished[0]).status == "finalised"
    assert w.stack.currentWidget() is w.review


def test_closing_waits_for_a_background_save(qtbot, app_env, monkeypatch):
    w = _recording(qtbot, monkeypatch, "H-2", 300)
    sid = w.record.session.record.id
    w.record.confirm_stop()
    assert w.record.saving
    w.close()
    assert not w.record.saving or not w.record.stopping_job.worker_thread.isRunning()
    assert w.catalog.get_session(sid).status == "finalised"


def test_patient_details_are_shown_as_typed(qtbot, app_env):
    w = _window(qtbot)
    p = w.catalog.add_patient("<b>X</b>", notes="panic if HR<100 <and> sleeps<6h")
    w.show_patient(p.id)
    # escaped in the rich-text label, so Qt shows exactly what was typed
    assert "panic if HR&lt;100 &lt;and&gt; sleeps&lt;6h" in w.patient.details.text()
    assert w.patient.title.text() == "Patient <b>X</b>"
    assert w.patient.title.textFormat() == Qt.TextFormat.PlainText


def test_enter_on_the_list_opens_the_patient(qtbot, app_env):
    w = _window(qtbot)
    p = w.catalog.add_patient("E-1")
    w.patients.refresh()
    w.patients.table.setFocus()
    w.patients.table.setCurrentCell(0, 0)
    opened = []
    w.patients.open_patient.connect(opened.append)
    qtbot.keyClick(w.patients.table, Qt.Key.Key_Return)
    assert opened == [p.id]
