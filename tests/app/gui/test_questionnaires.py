"""GAD-7 and PHQ-9 item by item in the session's ratings form (issue 19, item 4), typed into the
real fields: totals and bands follow as the therapist types, a score outside 0–3 is refused in
words and nothing is stored, PHQ-9 item 9 above 0 is highlighted, the GAD-7 total above follows
the items; and SUDS ratings on the review timeline."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLineEdit, QMessageBox

from app.gui.questionnaires import FLAG_ROW_STYLE, INVALID_STYLE
from app.gui.session_forms import SelfReportBox
from app.gui.timeline_view import TimelineView, suds_y
from core.catalog import Catalog
from core.clinical import session_measures
from tests.core.catalog.test_catalog import _session


@pytest.fixture
def form(qtbot, tmp_path: Path) -> Iterator[tuple[SelfReportBox, Catalog, int]]:
    cat = Catalog.open(tmp_path / "catalog.sqlite")
    sid = _session(cat, cat.add_patient("Q-1").id).id
    cat.set_self_report(sid, "pre", sam_valence=3, gad7=14)  # a total from before v8
    box = SelfReportBox(cat)
    qtbot.addWidget(box)
    box.load(sid)
    box.show()
    yield box, cat, sid
    cat.close()


def type_score(qtbot, field: QLineEdit, text: str) -> None:
    """Click into the field, replace its text, and leave it with Tab (as a therapist does)."""
    qtbot.mouseClick(field, Qt.MouseButton.LeftButton)
    field.selectAll()
    qtbot.keyClick(field, Qt.Key.Key_Backspace)
    if text:
        qtbot.keyClicks(field, text)
    qtbot.keyClick(field, Qt.Key.Key_Tab)


def test_gad7_items_score_live_refuse_out_of_range_and_replace_the_old_total(qtbot, form) -> None:
    box, cat, sid = form
    gad = box.questionnaires.forms["gad7"]
    assert gad.totals["pre"].text() == "Total 14 — moderate (total only)"
    assert box.fields["pre"]["gad7"].text() == "14" and not box.fields["pre"]["gad7"].isReadOnly()
    for item, score in zip(range(1, 7), (2, 2, 1, 1, 1, 2), strict=True):
        type_score(qtbot, gad.fields["post"][item], str(score))
    assert gad.totals["post"].text() == "6 of 7 answered"
    # out of range: red, a message naming the item, nothing stored, no total yet
    type_score(qtbot, gad.fields["post"][7], "4")
    assert gad.fields["post"][7].styleSheet() == INVALID_STYLE
    assert "GAD-7 item 7 (Feeling afraid" in gad.error.text() and "4 is outside" in gad.error.text()
    assert "nothing is stored" in gad.error.text() and box.problems()
    assert 7 not in cat.questionnaire_items(sid)["post"]["gad7"]
    type_score(qtbot, gad.fields["post"][7], "1")  # 9 + 1 = 10: the moderate cut-off
    assert gad.error.text() == "" and not box.problems()
    assert gad.totals["post"].text() == "Total 10 — moderate"
    assert cat.self_reports(sid)["post"].gad7 == 10
    post_total = box.fields["post"]["gad7"]
    assert post_total.isReadOnly() and post_total.text() == "10"  # follows the items
    type_score(qtbot, gad.fields["post"][7], "0")  # 9: mild, live and stored
    assert gad.totals["post"].text() == "Total 9 — mild" and post_total.text() == "9"
    r = session_measures(cat, sid).result("post", "gad7")
    assert r is not None and (r.total, r.band, r.source) == (9, "mild", "items")


def test_phq9_item_9_above_0_is_highlighted_on_screen(qtbot, form) -> None:
    box, cat, sid = form
    box.questionnaires.setCurrentWidget(box.questionnaires.pages["phq9"])
    phq = box.questionnaires.forms["phq9"]
    assert not phq.flag.isVisible()
    for item in range(1, 9):
        type_score(qtbot, phq.fields["pre"][item], "2")  # 16 so far
    type_score(qtbot, phq.fields["pre"][9], "1")
    assert phq.totals["pre"].text() == "Total 17 — moderately severe"
    assert (
        phq.flag.isVisible() and "item 9" in phq.flag.text() and "before (pre)" in phq.flag.text()
    )
    assert phq.item_labels[9].styleSheet() == FLAG_ROW_STYLE
    assert box.questionnaires.tabText(2) == "PHQ-9 item by item ⚠"  # after Notes and GAD-7
    assert session_measures(cat, sid).flagged[0].instrument == "phq9"
    type_score(qtbot, phq.fields["pre"][9], "0")
    assert not phq.flag.isVisible() and phq.item_labels[9].styleSheet() == ""
    assert phq.totals["pre"].text() == "Total 16 — moderately severe"
    type_score(qtbot, phq.fields["pre"][4], "x")
    assert "whole number" in phq.error.text()
    assert cat.questionnaire_items(sid)["pre"]["phq9"][4] == 2  # the stored 2 stays


def test_suds_ratings_on_the_review_timeline(qtbot, form) -> None:
    _box, cat, sid = form
    cat.add_suds(sid, 12.0, 80)
    cat.add_suds(sid, 95.5, 30)
    view = TimelineView()
    qtbot.addWidget(view)
    view.set_suds(cat.list_suds(sid))
    xs, ys = view.suds_points.getData()
    assert list(xs) == [12.0, 95.5] and list(ys) == [suds_y(80), suds_y(30)]
    assert [t.toPlainText() for t in view.suds_labels] == ["SUDS 80", "SUDS 30"]
    assert (suds_y(0), suds_y(50), suds_y(100)) == (-1.0, 0.0, 1.0)


def test_suds_ratings_corrected_or_deleted_after_the_session(qtbot, form, monkeypatch) -> None:
    box, cat, sid = form
    cat.add_suds(sid, 12.0, 80)
    cat.add_suds(sid, 95.5, 30)
    box.load(sid)
    editor = box.suds
    box.questionnaires.setCurrentWidget(editor)
    assert [editor.table.item(i, 0).text() for i in range(2)] == ["0:12", "1:36"]
    editor.table.item(0, 1).setText("180")  # as typed into the cell
    assert (
        "from 0 to 100" in editor.error.text()
        and "the stored 80 at 0:12 stays" in editor.error.text()
    )
    assert editor.table.item(0, 1).text() == "80" and cat.list_suds(sid)[0].rating == 80
    editor.table.item(0, 1).setText("8")
    assert editor.error.text() == "" and cat.list_suds(sid)[0].rating == 8
    assert cat.list_suds(sid)[0].t_s == 12.0  # the moment stays
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Yes)
    assert not editor.delete_btn.isEnabled()
    editor.table.selectRow(1)
    qtbot.mouseClick(editor.delete_btn, Qt.MouseButton.LeftButton)
    assert [(r.t_s, r.rating) for r in cat.list_suds(sid)] == [(12.0, 8)]
    assert editor.table.rowCount() == 1


def test_an_old_gad7_total_stays_until_all_seven_items_are_typed(qtbot, form) -> None:
    box, cat, sid = form
    box.questionnaires.setCurrentWidget(box.questionnaires.pages["gad7"])
    gad = box.questionnaires.forms["gad7"]
    total_field = box.fields["pre"]["gad7"]
    type_score(qtbot, gad.fields["pre"][1], "3")
    # the old total stays, shown as 'total only' with a note; the field above keeps it
    assert gad.totals["pre"].text() == "Total 14 — moderate (total only)"
    assert gad.pending.isVisible() and gad.pending.text() == (
        "Before (pre): items being entered (1 of 7) — the total 14 entered alone stays until "
        "all 7 are answered, then the items' total replaces it."
    )
    assert cat.self_reports(sid)["pre"].gad7 == 14
    assert total_field.isReadOnly() and total_field.text() == "14"
    type_score(qtbot, box.fields["pre"]["sam_valence"], "5")  # other ratings still save
    assert cat.self_reports(sid)["pre"].sam_valence == 5 and not box.problems()
    for item in range(2, 7):
        type_score(qtbot, gad.fields["pre"][item], "1")
    assert "items being entered (6 of 7)" in gad.pending.text()
    assert cat.self_reports(sid)["pre"].gad7 == 14
    type_score(qtbot, gad.fields["pre"][7], "0")  # complete: the items' total replaces it
    assert gad.totals["pre"].text() == "Total 8 — mild" and not gad.pending.isVisible()
    assert cat.self_reports(sid)["pre"].gad7 == 8 and total_field.text() == "8"
    r = session_measures(cat, sid).result("pre", "gad7")
    assert r is not None and (r.total, r.source) == (8, "items")
    assert "replaced_total=14" in cat.audit_log(limit=5, entity="questionnaire")[0].detail
