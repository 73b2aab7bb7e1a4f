"""Markers while recording, driven by the keys and buttons a therapist uses.

Enter adds the typed marker, Space outside typed text adds a quick one, Ctrl+Z undoes the last
marker added, the treatment buttons mark each phase once, and text typed but not added when the
session stops belongs to that session.
"""

from __future__ import annotations

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QApplication, QMessageBox

from app.gui.main import create_window
from app.gui.record_page import RecordPage


@pytest.fixture
def win(qtbot, app_env):
    w, _ = create_window(demo=False)
    w.show()
    qtbot.waitExposed(w)
    w.activateWindow()
    yield w
    # closed here, not by qtbot (which would close it first, asking "Stop recording?" of nobody)
    if w.record.recording:
        w.record.stop_recording()
    w.close()
    w.deleteLater()


def start(win, qtbot, code: str) -> RecordPage:
    """Open a new patient's set-up, tick consent and click "Start recording"."""
    win.show_record(win.catalog.add_patient(code).id)
    page = win.record
    box = page.consent.rect()
    qtbot.mouseClick(page.consent, Qt.MouseButton.LeftButton, pos=QPoint(8, box.height() // 2))
    assert page.consent.isChecked()
    qtbot.mouseClick(page.start_btn, Qt.MouseButton.LeftButton)
    assert page.recording
    return page


def press(qtbot, key: Qt.Key, modifier=Qt.KeyboardModifier.NoModifier) -> None:
    """A key press as the keyboard sends it: to the widget that has the focus."""
    target = QApplication.focusWidget()
    assert target is not None
    qtbot.keyClick(target, key, modifier)


def kinds_and_labels(page: RecordPage) -> list[tuple[str, str]]:
    assert page.session is not None
    return [(m.kind, m.label) for m in page.catalog.list_markers(page.session.record.id)]


def stop(win, qtbot, monkeypatch, answer=QMessageBox.StandardButton.Yes) -> list[str]:
    """Click Stop, answer "Stop recording?"; returns the question's text. Waits for the review."""
    asked: list[str] = []

    def question(*a, **k):
        asked.append(a[2])
        return answer

    monkeypatch.setattr(QMessageBox, "question", question)
    qtbot.mouseClick(win.record.stop_btn, Qt.MouseButton.LeftButton)
    if answer == QMessageBox.StandardButton.Yes:
        qtbot.waitUntil(lambda: win.stack.currentWidget() is win.review, timeout=15000)
    return asked


def test_enter_adds_the_typed_marker_and_a_following_space_adds_a_quick_one(win, qtbot):
    page = start(win, qtbot, "K-1")
    qtbot.mouseClick(page.marker_edit, Qt.MouseButton.LeftButton)
    assert page.marker_edit.hasFocus()
    qtbot.keyClicks(page.marker_edit, "deep breath")
    press(qtbot, Qt.Key.Key_Space)  # inside the text being typed: a space
    qtbot.keyClicks(page.marker_edit, "taken")
    assert page.marker_edit.text() == "deep breath taken" and kinds_and_labels(page) == []
    press(qtbot, Qt.Key.Key_Return)
    assert kinds_and_labels(page) == [("note", "deep breath taken")]
    assert page.marker_edit.text() == "" and not page.marker_edit.hasFocus()
    press(qtbot, Qt.Key.Key_Space)  # right after Enter: a quick marker, not a space
    assert kinds_and_labels(page) == [("note", "deep breath taken"), ("note", "marker")]
    assert page.marker_edit.text() == ""
    # clicking into the empty field and pressing Space: still a quick marker (no text to type in)
    qtbot.mouseClick(page.marker_edit, Qt.MouseButton.LeftButton)
    press(qtbot, Qt.Key.Key_Space)
    assert kinds_and_labels(page)[-1] == ("note", "marker") and len(kinds_and_labels(page)) == 3
    assert page.marker_edit.text() == ""
    # after a treatment button was clicked (it has the focus), Space is a quick marker too
    qtbot.mouseClick(page.treat_start, Qt.MouseButton.LeftButton)
    press(qtbot, Qt.Key.Key_Space)
    assert [k for k, _ in kinds_and_labels(page)] == [
        "note",
        "note",
        "note",
        "treatment_start",
        "note",
    ]


def test_treatment_buttons_mark_each_phase_once(win, qtbot, monkeypatch):
    page = start(win, qtbot, "K-2")
    qtbot.wait(1200)
    qtbot.mouseClick(page.treat_start, Qt.MouseButton.LeftButton)
    first = page.catalog.list_markers(page.session.record.id)
    assert [m.kind for m in first] == ["treatment_start"]
    assert page.treat_start.text().startswith("Treatment start ✓")
    # a second press asks; "No" keeps the marker where it is
    asked: list[str] = []
    answer = [QMessageBox.StandardButton.No]

    def question(*a, **k):
        asked.append(a[2])
        return answer[0]

    monkeypatch.setattr(QMessageBox, "question", question)
    qtbot.wait(1100)
    qtbot.mouseClick(page.treat_start, Qt.MouseButton.LeftButton)
    assert len(asked) == 1 and "already marked" in asked[0]
    assert page.catalog.list_markers(page.session.record.id) == first
    # "Yes" moves the one marker to the time of the press
    answer[0] = QMessageBox.StandardButton.Yes
    qtbot.mouseClick(page.treat_start, Qt.MouseButton.LeftButton)
    moved = page.catalog.list_markers(page.session.record.id)
    assert [m.kind for m in moved] == ["treatment_start"] and moved[0].id == first[0].id
    assert moved[0].t_s > first[0].t_s + 1.0
    # the same for treatment end
    qtbot.mouseClick(page.treat_end, Qt.MouseButton.LeftButton)
    answer[0] = QMessageBox.StandardButton.No
    qtbot.mouseClick(page.treat_end, Qt.MouseButton.LeftButton)
    assert [m.kind for m in page.catalog.list_markers(page.session.record.id)] == [
        "treatment_start",
        "treatment_end",
    ]
    assert len(asked) == 3 and "Treatment end" in asked[2]


def test_ctrl_z_undoes_the_last_marker_added(win, qtbot, monkeypatch):
    page = start(win, qtbot, "K-3")
    sid = page.session.record.id
    qtbot.mouseClick(page.treat_start, Qt.MouseButton.LeftButton)
    qtbot.mouseClick(page.marker_edit, Qt.MouseButton.LeftButton)
    qtbot.keyClicks(page.marker_edit, "tears")
    press(qtbot, Qt.Key.Key_Return)
    press(qtbot, Qt.Key.Key_Space)
    assert [lab for _, lab in kinds_and_labels(page)][1:] == ["tears", "marker"]
    press(qtbot, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert kinds_and_labels(page) == [("treatment_start", ""), ("note", "tears")]
    assert "Undone" in page.markers_label.text()
    press(qtbot, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    press(qtbot, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert kinds_and_labels(page) == []
    assert page.treat_start.text() == "Treatment start"  # no start marked any more
    deleted = [a for a in page.catalog.audit_log(entity="marker") if a.action == "delete"]
    assert len(deleted) == 3 and all(f"session_id={sid}" in a.detail for a in deleted)
    press(qtbot, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)  # nothing left: says so
    assert "Nothing to undo" in page.markers_label.text()
    # undoing a moved treatment start puts it back where it was
    qtbot.mouseClick(page.treat_start, Qt.MouseButton.LeftButton)
    t0 = page.catalog.list_markers(sid)[0].t_s
    qtbot.wait(1100)
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Yes)
    qtbot.mouseClick(page.treat_start, Qt.MouseButton.LeftButton)
    assert page.catalog.list_markers(sid)[0].t_s > t0 + 1.0
    page.setFocus()
    press(qtbot, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    back = page.catalog.list_markers(sid)
    assert len(back) == 1 and back[0].t_s == pytest.approx(t0)
    # in the marker field with text, Ctrl+Z undoes the typing, not a marker
    qtbot.mouseClick(page.marker_edit, Qt.MouseButton.LeftButton)
    qtbot.keyClicks(page.marker_edit, "abc")
    press(qtbot, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert len(page.catalog.list_markers(sid)) == 1


def test_ctrl_z_is_no_shortcut_outside_a_recording(win, qtbot, monkeypatch):
    page = start(win, qtbot, "K-4")
    qtbot.mouseClick(page.treat_start, Qt.MouseButton.LeftButton)
    sid = page.session.record.id
    stop(win, qtbot, monkeypatch)
    assert not page.undo.isEnabled()
    assert [m.kind for m in win.catalog.list_markers(sid)] == ["treatment_start"]


def test_text_typed_but_not_added_is_a_marker_of_its_own_session(win, qtbot, monkeypatch):
    page = start(win, qtbot, "K-5")
    sid = page.session.record.id
    qtbot.wait(600)
    qtbot.mouseClick(page.marker_edit, Qt.MouseButton.LeftButton)
    qtbot.keyClicks(page.marker_edit, "says the room feels small  ")
    asked = stop(win, qtbot, monkeypatch)
    assert '"says the room feels small"' in asked[0] and "added as a marker" in asked[0]
    markers = win.catalog.list_markers(sid)
    assert [(m.kind, m.label) for m in markers] == [("note", "says the room feels small")]
    rec = win.catalog.get_session(sid)
    assert markers[0].t_s == pytest.approx(rec.duration_s, abs=0.5)  # at the stop
    assert win.review.markers.markers == markers  # on the review screen's markers
    # the next session (another patient) starts with an empty field and no leftovers
    page = start(win, qtbot, "K-6")
    assert page.marker_edit.text() == ""
    assert page.markers_label.text() == "No markers yet"
    assert page.treat_start.text() == "Treatment start"
    sid2 = page.session.record.id
    stop(win, qtbot, monkeypatch)
    assert win.catalog.list_markers(sid2) == []


def test_answering_no_to_stop_keeps_the_typed_text(win, qtbot, monkeypatch):
    page = start(win, qtbot, "K-7")
    qtbot.mouseClick(page.marker_edit, Qt.MouseButton.LeftButton)
    qtbot.keyClicks(page.marker_edit, "half typed")
    stop(win, qtbot, monkeypatch, answer=QMessageBox.StandardButton.No)
    assert page.recording and page.marker_edit.text() == "half typed"
    assert kinds_and_labels(page) == []
