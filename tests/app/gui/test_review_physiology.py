"""The review screen's "Physiology" tab: the PDF's pre/post heart rate, RMSSD, EDA level and SCR
rate with the beats and seconds used; "–" with the reason when a window is too short."""

from __future__ import annotations

from app.gui.physiology_table import COMPUTING, ROWS
from core.config import Settings
from core.report.session import report_data_for
from tests.app.review_data import make_analysed, record_short


def _shown(win, qtbot, session_id: int):  # type: ignore[no-untyped-def]
    win.show_review(session_id)
    table = win.review.physiology
    qtbot.waitUntil(lambda: not table.busy, timeout=30000)
    assert win.review.tabs.tabText(win.review.tabs.indexOf(table)) == "Physiology"
    return table


def test_the_review_shows_the_physiology_table(win, qtbot) -> None:  # type: ignore[no-untyped-def]
    cat = win.catalog
    p = cat.add_patient("P-7")
    rec = record_short(cat, win.data_root, p.id, 36.0)  # not analysed: the tab is there too
    table = _shown(win, qtbot, rec.id)
    phys = report_data_for(cat, win.data_root, rec.id, settings=Settings()).physiology
    pre, post = phys.metrics
    assert pre.hr_bpm is not None and post.eda_tonic_us is not None
    assert table.cell_text("Heart rate (bpm)", "pre") == f"{pre.hr_bpm:.1f}"
    assert table.cell_text("RMSSD (ms)", "post") == (
        "–" if post.rmssd_ms is None else f"{post.rmssd_ms:.1f}"
    )
    assert table.cell_text("EDA tonic level (µS)", "post") == f"{post.eda_tonic_us:.2f}"
    assert table.cell_text("SCR rate (/min)", "pre") == (
        "–" if pre.scr_per_min is None else f"{pre.scr_per_min:.1f}"
    )
    assert table.cell_text("Beats found", "pre") == str(pre.n_beats) and pre.n_beats > 0
    assert table.cell_text("Usable ECG / EDA (m:ss)", "post") == "0:12 / 0:12"
    assert table.table.horizontalHeaderItem(0).text() == "First 0:12\n0:00 – 0:12"
    assert "first and last 0:12" in table.note.text()

    # markers move the windows: recomputed
    cat.add_marker(rec.id, 15.0, "treatment_start")
    cat.add_marker(rec.id, 21.0, "treatment_end")
    win.review.refresh()
    qtbot.waitUntil(lambda: not table.busy, timeout=30000)
    assert table.table.horizontalHeaderItem(0).text() == "Before treatment\n0:00 – 0:15"


def test_too_short_windows_say_why(win, qtbot) -> None:  # type: ignore[no-untyped-def]
    cat = win.catalog
    p = cat.add_patient("P-8")
    rec, _ = make_analysed(cat, win.data_root, p.id)  # 20 s: windows of 0:07
    table = _shown(win, qtbot, rec.id)
    for row in ROWS[:4]:
        assert table.cell_text(row, "pre") == "–" and table.cell_text(row, "change") == "–"
    item = table.table.item(0, 0)
    assert "less than" in item.toolTip()
    note = table.note.text()
    assert note != COMPUTING and "– First 0:07: Heart rate, RMSSD: less than" in note
    assert "– Last 0:07:" in note


def test_the_physiology_tab_fits_a_small_display(win, qtbot) -> None:  # type: ignore[no-untyped-def]
    from tests.app.gui.layout_check import clipped_texts
    from tests.app.gui.test_small_screens import TITLE_BAR, settle

    cat = win.catalog
    p = cat.add_patient("P-9")
    rec, _ = make_analysed(cat, win.data_root, p.id)  # every value missing: the longest note
    table = _shown(win, qtbot, rec.id)
    win.review.tabs.setCurrentWidget(table)
    win.resize(1024, 640 - TITLE_BAR)
    settle(qtbot)
    assert table.note.isVisible() and clipped_texts(win) == []
