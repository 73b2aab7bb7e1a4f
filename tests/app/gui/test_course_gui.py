"""The course of therapy on the patient page, clicked as the therapist does: the "Progress trends"
tab plots the computed trends, "Course report…" writes the PDF in the background, "Compare two
sessions…" opens any two sessions side by side with the review's own widgets."""

from __future__ import annotations

from pypdf import PdfReader
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QFileDialog

from app.gui.session_compare import NOT_ANALYSED
from core.analysis.course import estimate_text, patient_course
from core.clinical import PHQ9
from core.config import Settings
from core.report.course import TITLE
from tests.app.course_data import build_course
from tests.app.gui.layout_check import clipped_texts
from tests.app.review_data import record_short


def _open_trends(win, qtbot, patient_id: int) -> None:  # type: ignore[no-untyped-def]
    win.show_patient(patient_id)
    bar = win.patient.tabs.tabBar()
    qtbot.mouseClick(bar, Qt.MouseButton.LeftButton, pos=bar.tabRect(1).center())
    assert win.patient.tabs.currentIndex() == 1
    qtbot.waitUntil(lambda: win.patient.trends.course is not None, timeout=60000)


def test_trends_course_report_and_compare(win, qtbot, monkeypatch, app_env):  # type: ignore[no-untyped-def]
    fx = build_course(win.catalog, win.data_root, "T-3")
    win.show_patients()
    _open_trends(win, qtbot, fx.patient_id)
    view = win.patient.trends
    course = patient_course(win.catalog, win.data_root, fx.patient_id, Settings())
    for key in ("valence", "arousal", "hr_bpm", "rmssd_ms", "eda_tonic_us", "gad7"):
        for phase in ("pre", "post"):
            want = [(s.number, v) for s, v in course.trend(key, phase)]
            assert len(want) == 3 and view.points(key, phase) == want, (key, phase)
    assert view.banner.isVisible() and "DEMO MODEL" in view.banner.text()
    assert "SIMULATED DATA" in view.banner.text()
    # every trend plotted (the area scrolls): SAM arousal too, the eleventh
    assert list(view.plots) == [
        *("valence", "arousal", "hr_bpm", "rmssd_ms", "eda_tonic_us", "scr_per_min", "gad7"),
        *("phq9", "suds", "sam_valence", "sam_arousal"),
    ]
    for phase in ("pre", "post"):
        want = [(s.number, v) for s, v in course.trend("sam_arousal", phase)]
        assert len(want) == 3 and view.points("sam_arousal", phase) == want
    for key in ("phq9", "suds"):  # entered item by item / during the sessions: plotted too
        assert view.points(key, "pre") == [(s.number, v) for s, v in course.trend(key, "pre")]
    assert f"{PHQ9.flag_text} (session 1)" in view.status.text()
    assert clipped_texts(win.patient) == []
    # no plot runs past the area's right edge (at 1280 px the second column was cut off)
    for key, plot in view.plots.items():
        assert plot.sceneBoundingRect().right() <= view.graphics.viewport().width() + 1, key

    out = app_env / "course.pdf"
    offered: list[str] = []

    def answer(parent, caption, default, filt):  # type: ignore[no-untyped-def]  # noqa: ANN001
        offered.append(default)
        return str(out), "PDF (*.pdf)"

    monkeypatch.setattr(QFileDialog, "getSaveFileName", answer)
    qtbot.mouseClick(win.patient.course_btn, Qt.MouseButton.LeftButton)
    assert offered and offered[0].endswith("TheraScope_T-3_course.pdf")
    qtbot.waitUntil(lambda: win.patient.last_course_report == out, timeout=60000)
    assert win.patient.course_btn.isEnabled()
    assert str(out) in win.patient.status.text()
    text = " ".join(" ".join((p.extract_text() or "").split()) for p in PdfReader(out).pages)
    assert TITLE in text and "Patient code T-3" in text
    for s in course.sessions:
        assert estimate_text(s.estimate("valence", "post"), True) in text

    # "Compare two sessions…" beside the sessions list (one patient built for both: fast)
    plain = record_short(win.catalog, win.data_root, fx.patient_id, 4.0)  # not analysed
    win.patient.refresh()
    page = win.patient
    page.select_session(fx.sessions[2].id)
    qtbot.mouseClick(page.compare_btn, Qt.MouseButton.LeftButton)
    dlg = page.compare_dialog
    assert dlg is not None and dlg.isVisible()
    # the selected session on the right, the one before it on the left
    assert (dlg.left.session_id, dlg.right.session_id) == (fx.sessions[1].id, fx.sessions[2].id)
    for side, s in ((dlg.left, course.sessions[1]), (dlg.right, course.sessions[2])):
        assert side.review is not None and side.circumplex.isVisible()
        for phase in ("pre", "post"):
            cell = side.table.cell_text("Valence, mean ± SD", phase)
            assert cell.replace("−", "-") == estimate_text(s.estimate("valence", phase), True)
        assert "DEMO MODEL" in side.info.text()
        qtbot.waitUntil(lambda side=side: side.physiology.summary is not None, timeout=60000)
        assert (
            side.physiology.cell_text("Heart rate (bpm)", "pre")
            == f"{s.value('hr_bpm', 'pre'):.1f}"
        )
    dlg.resize(1000, 600)  # as on a 1024×640 display: nothing cut off
    qtbot.waitUntil(lambda: dlg.width() == 1000)
    qtbot.wait(50)
    assert clipped_texts(dlg) == []
    # each table exactly as tall as its header and rows: no row (a three-line 'Time per
    # quadrant') half hidden under the table's edge, no empty block under the last row
    for side in (dlg.left, dlg.right):
        for table in (side.table, side.physiology.table):
            rows = table.horizontalHeader().height() + table.verticalHeader().length()
            assert table.height() == rows + 2 * table.frameWidth(), table
            assert not table.verticalScrollBar().isVisible()
            assert table.verticalScrollBar().value() == 0  # the first row at the top
    # the left side switched to the session not analysed: no estimate, its physiology still
    dlg.left.chooser.setCurrentIndex(dlg.left.chooser.findData(plain.id))
    assert dlg.left.review is None and dlg.left.not_analysed.isVisible()
    assert not dlg.left.circumplex.isVisible() and NOT_ANALYSED in dlg.left.not_analysed.text()
    qtbot.waitUntil(lambda: not dlg.left.physiology.busy, timeout=60000)
    qtbot.keyClick(dlg, Qt.Key.Key_Escape)
    assert not dlg.isVisible()

    # another patient: the first one's trends go at once, the new patient's come
    other = win.catalog.add_patient("O-1")
    win.show_patient(other.id)
    assert win.patient.tabs.currentIndex() == 1 and view.course is None and not view.plots
    qtbot.waitUntil(lambda: view.course is not None, timeout=60000)
    assert view.course.patient_id == other.id and "No sessions yet" in view.status.text()


def test_trends_follow_questionnaire_items_and_suds_entered_later(win, qtbot):  # type: ignore[no-untyped-def]
    """Trends shown; PHQ-9 item 9 = 1 typed into the session's ratings form; back on the patient
    page the trends are computed again and carry the item-9 flag (and the SUDS entered later)."""
    p = win.catalog.add_patient("F-1")
    rec = record_short(win.catalog, win.data_root, p.id, 4.0)
    win.show_patients()
    _open_trends(win, qtbot, p.id)
    view = win.patient.trends
    assert PHQ9.flag_text not in view.status.text() and "phq9" not in view.plots
    win.show_review(rec.id)
    box = win.review.self_report
    tabs = win.review.tabs
    tabs.setCurrentWidget(box)
    assert tabs.tabText(tabs.indexOf(box)) == "Ratings"
    box.questionnaires.setCurrentWidget(box.questionnaires.pages["phq9"])
    field = box.questionnaires.forms["phq9"].fields["pre"][9]
    qtbot.mouseClick(field, Qt.MouseButton.LeftButton)
    qtbot.keyClicks(field, "1")
    qtbot.keyClick(field, Qt.Key.Key_Tab)
    assert win.catalog.questionnaire_items(rec.id)["pre"]["phq9"] == {9: 1}
    # the review's Ratings tab carries the warning, in red, seen from any tab
    i = tabs.indexOf(box)
    assert tabs.tabText(i) == "Ratings ⚠" and PHQ9.flag_text in tabs.tabToolTip(i)
    assert tabs.tabBar().tabTextColor(i) == QColor(Qt.GlobalColor.red)
    win.catalog.add_suds(rec.id, 1.0, 70)  # a SUDS rating added meanwhile
    before = view.course
    qtbot.keyClick(win.review, Qt.Key.Key_Escape)  # back to the patient
    assert win.stack.currentWidget() is win.patient
    qtbot.waitUntil(lambda: view.course is not before and view.course is not None, timeout=60000)
    assert f"{PHQ9.flag_text} (session 1)" in view.status.text()
    assert view.points("phq9", "pre") == [] and view.points("suds", "pre") == [(1, 70.0)]
    assert view.points("suds", "post") == []  # one rating: one point, not before and after
    assert "first →" in view.plots["suds"].titleLabel.text
    assert "last rating" in view.plots["suds"].titleLabel.text
