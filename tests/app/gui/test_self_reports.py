"""The patient's own ratings on the review screen: saved exactly as typed, or refused with a message
(never clamped, truncated or cleared without a word)."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QMessageBox

from app.gui.session_forms import parse_score
from tests.app.review_data import record_short


@pytest.fixture
def session(win):
    """A recorded, unanalysed session on the review screen (its ratings tab is shown first)."""
    p = win.catalog.add_patient("G-1")
    rec = record_short(win.catalog, win.data_root, p.id, 4.0)
    win.show_review(rec.id)
    assert win.review.tabs.currentWidget() is win.review.self_report
    return rec


def type_in(qtbot, field, text: str, then=Qt.Key.Key_Tab) -> None:
    """Click the field, select what it holds, type ``text`` over it and leave with ``then``."""
    qtbot.mouseClick(field, Qt.MouseButton.LeftButton)
    assert field.hasFocus()
    qtbot.keyClick(field, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClicks(field, text)
    if then is not None:
        qtbot.keyClick(QApplication.focusWidget(), then)


def stored(win, rec, phase):
    sr = win.catalog.self_reports(rec.id).get(phase)
    return None if sr is None else (sr.sam_valence, sr.sam_arousal, sr.gad7)


def test_gad7_25_is_refused_with_a_message_not_stored_as_2(win, qtbot, session):
    box = win.review.self_report
    field = box.fields["post"]["gad7"]
    type_in(qtbot, field, "25")
    assert stored(win, session, "post") is None  # neither 25 nor the "2" typed on the way
    assert field.text() == "25"  # what was typed stays in sight, to be corrected
    assert box.error.isVisible()
    msg = box.error.text()
    assert "GAD-7 after (post)" in msg and "0 to 21" in msg and "25" in msg
    assert "nothing is stored" in msg
    assert "c0392b" in field.styleSheet()  # the field is marked red
    type_in(qtbot, field, "15")
    assert stored(win, session, "post") == (None, None, 15)
    assert box.error.text() == "" and field.styleSheet() == ""


def test_a_refused_entry_leaves_the_stored_score_as_it_was(win, qtbot, session):
    box = win.review.self_report
    field = box.fields["pre"]["gad7"]
    type_in(qtbot, field, "12", then=Qt.Key.Key_Return)
    assert stored(win, session, "pre") == (None, None, 12)
    type_in(qtbot, field, "22")
    assert stored(win, session, "pre") == (None, None, 12)
    assert "the stored 12 stays" in box.error.text()


@pytest.mark.parametrize(
    ("col", "text", "why"),
    [
        ("sam_valence", "0", "1 to 9"),  # was taken for "not given" and cleared
        ("sam_valence", "10", "1 to 9"),  # was cut to "1"
        ("sam_arousal", "2.5", "whole number"),
        ("sam_arousal", "-1", "whole number"),
        ("gad7", "abc", "whole number"),
        ("gad7", "100", "0 to 21"),
    ],
)
def test_out_of_range_ratings_are_refused_visibly(win, qtbot, session, col, text, why):
    box = win.review.self_report
    field = box.fields["pre"][col]
    type_in(qtbot, field, text)
    assert stored(win, session, "pre") is None
    assert field.text() == text
    assert why in box.error.text() and box.problems()


def test_valid_ratings_are_saved_exactly_as_typed(win, qtbot, session):
    box = win.review.self_report
    type_in(qtbot, box.fields["pre"]["sam_valence"], "1")
    type_in(qtbot, box.fields["pre"]["sam_arousal"], "9")
    type_in(qtbot, box.fields["pre"]["gad7"], "0")  # 0 is a score, not "not given"
    assert stored(win, session, "pre") == (1, 9, 0)
    field = box.fields["post"]["gad7"]
    type_in(qtbot, field, "21", then=None)  # typed, not yet left: nothing half-typed is stored
    assert stored(win, session, "post") is None
    qtbot.keyClick(field, Qt.Key.Key_Return)
    assert stored(win, session, "post") == (None, None, 21)
    # emptied: "not given"
    type_in(qtbot, box.fields["pre"]["gad7"], "", then=None)
    qtbot.keyClick(box.fields["pre"]["gad7"], Qt.Key.Key_Backspace)
    qtbot.keyClick(box.fields["pre"]["gad7"], Qt.Key.Key_Return)
    assert stored(win, session, "pre") == (1, 9, None)
    # shown again as stored when the session is opened again
    win.show_patient(win.catalog.get_session(session.id).patient_id)
    win.show_review(session.id)
    assert [box.fields["pre"][c].text() for c in ("sam_valence", "sam_arousal", "gad7")] == [
        "1",
        "9",
        "",
    ]
    assert box.fields["post"]["gad7"].text() == "21"


def test_leaving_with_a_refused_rating_says_so_and_stays(win, qtbot, monkeypatch, session):
    box = win.review.self_report
    warned: list[str] = []
    monkeypatch.setattr(QMessageBox, "warning", lambda *a, **k: warned.append(a[2]))
    type_in(qtbot, box.fields["post"]["sam_valence"], "12", then=None)
    qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_Escape)  # Esc: back to the patient
    assert win.stack.currentWidget() is win.review
    assert len(warned) == 1 and "SAM valence after (post)" in warned[0] and "12" in warned[0]
    qtbot.mouseClick(win.review.play_btn, Qt.MouseButton.LeftButton)
    assert win.stack.currentWidget() is win.review and len(warned) == 2
    # corrected, and Esc right away (the field not left first): saved, and back to the patient
    type_in(qtbot, box.fields["post"]["sam_valence"], "7", then=None)
    qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_Escape)
    assert win.stack.currentWidget() is win.patient
    assert stored(win, session, "post") == (7, None, None) and len(warned) == 2


def test_parse_score():
    assert parse_score(" 7 ", "GAD-7", 0, 21) == 7
    assert parse_score("", "GAD-7", 0, 21) is None
    with pytest.raises(ValueError, match="from 0 to 21; 25 is outside"):
        parse_score("25", "GAD-7", 0, 21)
    with pytest.raises(ValueError, match="whole number"):
        parse_score("٣", "SAM valence", 1, 9)  # not an ASCII digit
