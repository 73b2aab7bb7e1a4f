"""The patient page as the therapist uses it: the report button and Ctrl+E, switching patients,
sorting and filtering the sessions."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QFileDialog

from tests.app.review_data import make_analysed, record_short


def _answer_save_dialog(monkeypatch, out: Path) -> list[str]:
    """Answer "Export report" with ``out``; returns the default paths it was offered."""
    offered: list[str] = []

    def fake(parent, caption, default, filt):  # noqa: ANN001 — QFileDialog's signature
        offered.append(default)
        return str(out), "PDF (*.pdf)"

    monkeypatch.setattr(QFileDialog, "getSaveFileName", fake)
    return offered


def _open_from_list(win, qtbot, code: str) -> None:
    """Go to the patients list and open ``code`` as the therapist does (select, Enter)."""
    if win.stack.currentWidget() is win.patient:
        qtbot.mouseClick(win.patient.back_btn, Qt.MouseButton.LeftButton)
    assert win.stack.currentWidget() is win.patients
    table = win.patients.table
    row = next(i for i in range(table.rowCount()) if table.item(i, 0).text().startswith(code))
    table.selectRow(row)
    table.setFocus()
    qtbot.keyClick(table, Qt.Key.Key_Return)
    assert win.stack.currentWidget() is win.patient


def _wait_report(win, qtbot, session_id: int) -> None:
    qtbot.waitUntil(lambda: bool(win.catalog.list_reports(session_id)), timeout=60000)
    qtbot.waitUntil(lambda: win.patient.report_btn.isEnabled(), timeout=10000)


def test_export_button_saves_the_pdf_and_lists_the_report(win, qtbot, monkeypatch, app_env):
    p = win.catalog.add_patient("R-1")
    rec, _ = make_analysed(win.catalog, win.data_root, p.id)
    out = app_env / "r1.pdf"
    offered = _answer_save_dialog(monkeypatch, out)
    win.show_patients()
    _open_from_list(win, qtbot, "R-1")
    qtbot.mouseClick(win.patient.report_btn, Qt.MouseButton.LeftButton)
    assert offered and offered[0].endswith(f"TheraScope_R-1_{rec.uid}.pdf")
    _wait_report(win, qtbot, rec.id)
    assert out.exists() and out.stat().st_size > 1000
    assert [r.session_id for r in win.catalog.list_reports(rec.id)] == [rec.id]
    assert win.patient.last_report == out
    assert str(out) in win.patient.status.text()
    row = next(
        i
        for i in range(win.patient.table.rowCount())
        if win.patient.table.item(i, 0).data(Qt.ItemDataRole.UserRole) == rec.id
    )
    assert win.patient.table.item(row, 3).text() == "reported"


def test_ctrl_e_exports_the_selected_session(win, qtbot, monkeypatch, app_env):
    p = win.catalog.add_patient("R-2")
    rec = record_short(win.catalog, win.data_root, p.id, 3.0)
    out = app_env / "r2.pdf"
    _answer_save_dialog(monkeypatch, out)
    win.show_patients()
    _open_from_list(win, qtbot, "R-2")
    qtbot.keyClick(win.patient.table, Qt.Key.Key_E, Qt.KeyboardModifier.ControlModifier)
    _wait_report(win, qtbot, rec.id)
    assert out.exists() and out.stat().st_size > 1000
    assert len(win.catalog.list_reports(rec.id)) == 1


def test_a_report_of_one_patient_is_not_shown_on_another(win, qtbot, monkeypatch, app_env):
    a = win.catalog.add_patient("S-1")
    rec = record_short(win.catalog, win.data_root, a.id, 3.0)
    win.catalog.add_patient("S-2")
    out = app_env / "s1.pdf"
    _answer_save_dialog(monkeypatch, out)
    win.show_patients()
    _open_from_list(win, qtbot, "S-1")
    qtbot.mouseClick(win.patient.report_btn, Qt.MouseButton.LeftButton)
    _wait_report(win, qtbot, rec.id)
    assert str(out) in win.patient.status.text()
    _open_from_list(win, qtbot, "S-2")
    assert win.patient.title.text() == "Patient S-2"
    assert str(out) not in win.patient.status.text() and win.patient.status.text() == ""
    assert win.patient.last_report is None
    assert win.patient.table.rowCount() == 0
    assert not win.patient.report_btn.isEnabled()


# --- sorting and filtering the sessions ----------------------------------------------------


def click_header(qtbot, table, column: int) -> None:
    """Click a column's header, as the therapist does to sort by it."""
    hh = table.horizontalHeader()
    x = hh.sectionViewportPosition(column) + hh.sectionSize(column) // 2
    qtbot.mouseClick(hh.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(x, hh.height() // 2))


def column(table, j: int) -> list[str]:
    return [table.item(i, j).text() for i in range(table.rowCount())]


def visible_ids(table) -> list[int]:
    return [
        int(table.item(i, 0).data(Qt.ItemDataRole.UserRole))
        for i in range(table.rowCount())
        if not table.isRowHidden(i)
    ]


def _sessions(cat, patient_id: int, n: int, prefix: str = "srt") -> list:
    """``n`` finished sessions a day apart, with lost samples 0, 7, 14… (rows only: the page
    lists the catalog)."""
    out = []
    for k in range(n):
        day, uid = f"2025-03-{k + 1:02d}", f"{prefix}-{k:04d}"
        s = cat.create_session(
            patient_id, uid, f"{day}T09:30:00+00:00", {}, {},
            f"{day}T09:29:00+00:00", "verbal", True, f"sessions/{uid}",
        )  # fmt: skip
        quality = {"streams": {"ecg": {"expected": 1000, "lost": 7 * ((k * 5) % n)}}}
        out.append(cat.finalise_session(s.id, f"{day}T10:00:00+00:00", 60.0 * (k + 1), quality))
    return out


def test_sessions_sort_by_a_header_click_numbers_as_numbers(win, qtbot):
    p = win.catalog.add_patient("T-1")
    recs = _sessions(win.catalog, p.id, 11)
    win.show_patients()
    _open_from_list(win, qtbot, "T-1")
    table = win.patient.table
    assert column(table, 0) == [str(n) for n in range(11, 0, -1)]  # newest first
    click_header(qtbot, table, 0)  # "No.": 1, 2 … 10, 11 (not 1, 10, 11, 2 …)
    order = column(table, 0)
    if order[0] != "1":
        click_header(qtbot, table, 0)
        order = column(table, 0)
    assert order == [str(n) for n in range(1, 12)]
    click_header(qtbot, table, 0)
    assert column(table, 0) == [str(n) for n in range(11, 0, -1)]
    lost_col = 5
    click_header(qtbot, table, lost_col)
    lost = [int(t.split()[0]) for t in column(table, lost_col)]  # "14 (1.40 %)" → 14
    assert lost in (sorted(lost), sorted(lost, reverse=True))
    as_text = [int(t.split()[0]) for t in sorted(column(table, lost_col))]
    assert as_text not in (sorted(lost), sorted(lost, reverse=True))  # text order would differ
    duration_col = 2
    click_header(qtbot, table, duration_col)
    ids = [int(table.item(i, 0).data(Qt.ItemDataRole.UserRole)) for i in range(11)]
    by_length = [r.id for r in recs]  # 1 min, 2 min … 11 min
    assert ids in (by_length, by_length[::-1])
    # a refresh (e.g. after an analysis) keeps the order and the selected session
    table.selectRow(3)
    chosen = win.patient.selected_session()
    win.patient.refresh()
    assert [int(table.item(i, 0).data(Qt.ItemDataRole.UserRole)) for i in range(11)] == ids
    assert win.patient.selected_session() == chosen


def test_sessions_filter_by_typing(win, qtbot):
    p = win.catalog.add_patient("T-2")
    recs = _sessions(win.catalog, p.id, 3)
    win.show_patients()
    _open_from_list(win, qtbot, "T-2")
    page = win.patient
    assert visible_ids(page.table) == [r.id for r in reversed(recs)]
    qtbot.keyClicks(page.filter, "2025-03-02")
    assert visible_ids(page.table) == [recs[1].id]
    assert page.selected_session() == recs[1]  # the buttons act on what is shown
    page.filter.clear()
    qtbot.keyClicks(page.filter, recs[2].uid)  # the uid, though not a column
    assert visible_ids(page.table) == [recs[2].id]
    page.filter.clear()
    qtbot.keyClicks(page.filter, "no such thing")
    assert visible_ids(page.table) == [] and page.selected_session() is None
    assert not page.no_match.isHidden()
    assert not page.delete_session_btn.isEnabled() and not page.report_btn.isEnabled()
    page.filter.clear()
    assert len(visible_ids(page.table)) == 3 and page.no_match.isHidden()
    # the filter belongs to this patient: another patient's page starts unfiltered
    qtbot.keyClicks(page.filter, "2025-03-01")
    win.catalog.add_patient("T-3")
    _open_from_list(win, qtbot, "T-3")
    assert page.filter.text() == ""
