"""The patients list: first steps on an empty catalog, sorting by a header click, search, and
archived patients behind "Show archived"."""

from __future__ import annotations

from PySide6.QtCore import Qt

from tests.app.gui.test_patient_page import _sessions, click_header, column


def test_an_empty_list_says_the_three_first_steps(win, qtbot):
    page = win.patients
    assert page.table.rowCount() == 0
    assert page.empty.isVisible() and not page.table.isVisible()
    text = page.empty.text()
    steps = ["New patient", "Record a session", "Analyse and review"]
    assert all(step in text for step in steps)
    assert [text.index(step) for step in steps] == sorted(text.index(step) for step in steps)
    win.catalog.add_patient("F-1")
    page.refresh()
    assert not page.empty.isVisible() and page.table.isVisible()
    qtbot.keyClicks(page.search, "zzz")
    assert page.table.rowCount() == 0 and "No patient matches" in page.empty.text()
    assert "New patient" not in page.empty.text()


def test_patients_sort_by_a_header_click(win, qtbot):
    cat = win.catalog
    many = cat.add_patient("B-many")
    _sessions(cat, many.id, 10)
    _sessions(cat, cat.add_patient("a-two").id, 2, prefix="two")
    cat.add_patient("C-none")
    win.show_patients()
    table = win.patients.table
    assert column(table, 0) == ["a-two", "B-many", "C-none"]  # by code, case-insensitive
    click_header(qtbot, table, 0)
    assert column(table, 0) == ["C-none", "B-many", "a-two"]
    click_header(qtbot, table, 2)  # "Sessions": 0, 2, 10 as numbers, not text
    counts = column(table, 2)
    assert counts in (["0", "2", "10"], ["10", "2", "0"])
    click_header(qtbot, table, 2)
    assert column(table, 2) == counts[::-1]
    # the order survives a refresh, and Enter opens the selected patient
    row = column(table, 0).index("B-many")
    table.selectRow(row)
    win.patients.refresh()
    assert column(table, 2) == counts[::-1]
    table.setFocus()
    qtbot.keyClick(table, Qt.Key.Key_Return)
    assert win.stack.currentWidget() is win.patient and win.patient.patient_id == many.id


def test_archived_patients_show_only_when_asked(win, qtbot):
    cat = win.catalog
    cat.add_patient("G-1", name="Gale Active")
    gone = cat.add_patient("G-2", name="Gil Archived")
    cat.archive_patient(gone.id)
    win.show_patients()
    page = win.patients
    assert column(page.table, 0) == ["G-1"]
    qtbot.mouseClick(page.show_archived, Qt.MouseButton.LeftButton)
    assert page.show_archived.isChecked()
    assert column(page.table, 0) == ["G-1", "G-2  (archived)"]
    qtbot.keyClicks(page.search, "gil")  # the search covers archived patients too
    assert column(page.table, 0) == ["G-2  (archived)"]
    page.search.clear()
    qtbot.mouseClick(page.show_archived, Qt.MouseButton.LeftButton)
    assert column(page.table, 0) == ["G-1"]
    cat.archive_patient(cat.patient_by_code("G-1").id)
    page.refresh()
    assert page.table.rowCount() == 0 and "Show archived" in page.empty.text()
