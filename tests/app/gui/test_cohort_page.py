"""The cohort screen: real sessions only by default, the switch for simulated ones, and no test
below six patients (the shifts still shown)."""

from __future__ import annotations

from PySide6.QtCore import Qt

from app.gui.cohort_page import TEST_COLUMNS, fmt_dz, fmt_p
from core.analysis.circumplex import cohort_shift
from tests.core.analysis.cohort_data import POST, PRE, add_cohort, add_session


def open_cohort(win, qtbot):
    win.show_patients()
    qtbot.mouseClick(win.patients.cohort_btn, Qt.MouseButton.LeftButton)
    assert win.stack.currentWidget() is win.cohort
    return win.cohort


def cell(table, row, col):
    return table.item(row, col).text()


def test_five_real_patients_no_test_then_the_simulated_one_makes_six(win, qtbot):
    cat, root = win.catalog, win.data_root
    add_cohort(cat, root, 5)
    sim = cat.add_patient("S-01")
    add_session(cat, root, sim.id, tuple(PRE[5]), tuple(POST[5]), simulated=True)
    demo = cat.add_patient("DEMO", is_demo=True)
    add_session(cat, root, demo.id, (-0.9, 0.9), (0.9, -0.9))

    page = open_cohort(win, qtbot)
    assert not page.include_simulated.isChecked()
    codes = sorted(cell(page.patients, i, 0) for i in range(page.patients.rowCount()))
    assert codes == ["R-01", "R-02", "R-03", "R-04", "R-05"]
    assert page.stats.n == 5 and not page.stats.tested
    assert "too few patients for a test (n = 5; at least 6)" in page.test_note.text()
    assert page.test_note.isVisible() and not page.sim_banner.isVisible()
    assert all(page.stats_table.isColumnHidden(j) for j in TEST_COLUMNS)
    # the shifts are still there: n and mean ± SD
    ref = cohort_shift(PRE[:5], POST[:5])
    assert cell(page.stats_table, 0, 0) == "5"
    assert cell(page.stats_table, 0, 1) == (
        f"+{ref.valence.mean_shift:.2f} ± {ref.valence.sd_shift:.2f}"
    )
    assert len(page.view.arrows) == 5

    qtbot.mouseClick(page.include_simulated, Qt.MouseButton.LeftButton)
    assert page.include_simulated.isChecked()
    rows = {
        cell(page.patients, i, 0): cell(page.patients, i, 2)
        for i in range(page.patients.rowCount())
    }
    assert rows == {
        "R-01": "real sensors",
        "R-02": "real sensors",
        "R-03": "real sensors",
        "R-04": "real sensors",
        "R-05": "real sensors",
        "S-01": "simulated",
    }
    assert page.sim_banner.isVisible() and "SIMULATED" in page.sim_banner.text()
    assert page.stats.n == 6 and page.stats.tested
    assert not page.test_note.isVisible()
    assert not any(page.stats_table.isColumnHidden(j) for j in TEST_COLUMNS)
    ref = cohort_shift(PRE[:6], POST[:6])
    assert cell(page.stats_table, 0, 3) == fmt_p(ref.valence.p)
    assert cell(page.stats_table, 1, 4) == fmt_p(ref.arousal.wilcoxon_p)
    assert cell(page.stats_table, 0, 5) == fmt_dz(ref.valence)
    assert "[" in cell(page.stats_table, 0, 5)
    assert len(page.view.arrows) == 6

    qtbot.mouseClick(page.include_simulated, Qt.MouseButton.LeftButton)  # and back
    assert page.stats.n == 5 and not page.sim_banner.isVisible()


def test_with_only_simulated_sessions_the_empty_cohort_says_where_they_are(win, qtbot):
    sim = win.catalog.add_patient("S-02")
    add_session(win.catalog, win.data_root, sim.id, tuple(PRE[0]), tuple(POST[0]), simulated=True)
    page = open_cohort(win, qtbot)
    assert "Include simulated sessions" in page.view.legend.text
    pos = page.include_simulated.rect().center()
    pos.setX(8)  # on the box
    qtbot.mouseClick(page.include_simulated, Qt.MouseButton.LeftButton, pos=pos)
    assert page.include_simulated.isChecked()
    assert "S-02" in page.view.legend.text or "pre" in page.view.legend.text
