"""First start in demo mode: the demo patient's build has its own progress indicator that runs
once from 0 to 100 %, and it pauses while the therapist records a session."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox

import app.demo.patient as demo
from app.gui.main import create_window


def test_the_demo_build_has_its_own_monotonic_progress(qtbot, app_env, monkeypatch):
    monkeypatch.setattr(demo, "DEMO_SESSIONS", (("anxious_to_calm", 0.1, 1, 0.0),) * 2)
    w, _ = create_window(demo=True)
    qtbot.addWidget(w)
    seen: list[tuple[int, str]] = []
    w.demo_progress.bar.valueChanged.connect(
        lambda v: seen.append((v, w.demo_progress.label.text()))
    )
    assert not w.demo_progress.isHidden()
    assert w.analysis_progress.isHidden()  # another job's indicator, not shared
    qtbot.waitUntil(w.demo_progress.isHidden, timeout=90000)
    values = [v for v, _ in seen]
    assert values == sorted(values) and values[-1] == 100, values  # once, never back to 0
    labels = {text for _, text in seen}
    assert any("recording simulated sessions" in t for t in labels), labels
    assert any("analysing" in t for t in labels), labels
    assert all(t.startswith("Demo patient: ") for t in labels)
    sessions = w.catalog.list_sessions(patient_id=w.catalog.patient_by_code(demo.DEMO_CODE).id)
    assert len(sessions) == 2 and all(w.catalog.latest_analysis(s.id) for s in sessions)


def test_the_demo_build_pauses_while_a_session_is_recorded(qtbot, app_env, monkeypatch):
    monkeypatch.setattr(demo, "DEMO_SESSIONS", (("anxious_to_calm", 0.2, 1, 0.0),) * 3)
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Yes)
    w, _ = create_window(demo=True)
    qtbot.addWidget(w)
    w.show()
    p = w.catalog.add_patient("REC-1")
    w.show_record(p.id)
    w.record.consent.setChecked(True)
    qtbot.mouseClick(w.record.start_btn, Qt.MouseButton.LeftButton)
    assert w.record.recording
    qtbot.waitUntil(lambda: "paused" in w.demo_progress.label.text(), timeout=30000)
    paused_at = w.demo_progress.bar.value()
    qtbot.wait(1500)  # the build stays where it was while the recording runs
    assert "paused" in w.demo_progress.label.text()
    assert w.demo_progress.bar.value() == paused_at
    qtbot.mouseClick(w.record.stop_btn, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not w.record.recording and not w.record.saving, timeout=30000)
    qtbot.waitUntil(w.demo_progress.isHidden, timeout=120000)  # and then goes on to the end
    demo_patient = w.catalog.patient_by_code(demo.DEMO_CODE)
    assert demo_patient is not None
    assert len(w.catalog.list_sessions(patient_id=demo_patient.id)) == 3
