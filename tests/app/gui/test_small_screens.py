"""Every screen and dialog fits a 1366×768 and a 1024×640 display without cutting text off.

Checked by geometry and font metrics (``layout_check.clipped_texts``): the window takes the size
asked for (its minimum is not larger), and no label, button, check box, combo box, tab, table
header or cell on any screen (each tab of the review screen included) or dialog needs more room
than it has. The walkthrough (tools/walkthrough.py --sizes) saves the same screens as PNGs to
look at.
"""

from __future__ import annotations

import pytest
from PySide6.QtCore import QEvent, Qt
from PySide6.QtWidgets import QApplication, QDialog, QPushButton, QWidget
from shiboken6 import isValid

from app.gui.circumplex_view import CircumplexView
from tests.app.gui.layout_check import clipped_texts
from tests.app.review_data import make_analysed, record_short

#: (width, height) of the display; a window's title bar and frame take about 30 px of its height
DISPLAYS = [(1366, 768), (1024, 640)]
TITLE_BAR = 30


def settle(qtbot) -> None:
    """Let every pending layout request and text change land before measuring."""
    for _ in range(3):
        QApplication.sendPostedEvents(None, QEvent.Type.LayoutRequest)
        QApplication.processEvents()
        qtbot.wait(20)


def figure_problems(root: QWidget) -> list[str]:
    """What a circumplex figure on screen cuts off or overlaps: quadrant captions running into
    each other, a demo label or legend wider than the figure."""
    out = []
    for view in root.findChildren(CircumplexView):
        if not view.isVisible():
            continue
        caps = {q: c.sceneBoundingRect() for q, c in view.captions.items()}
        for a, b in ((1, 2), (3, 4), (1, 4), (2, 3)):
            if caps[a].intersects(caps[b]):
                out.append(f"captions Q{a} and Q{b} overlap ({view.caption_style})")
        for name, item in (("demo label", view.demo_label), ("legend", view.legend)):
            if item.isVisible() and item.item.boundingRect().width() > view.width():
                out.append(f"{name} {item.item.boundingRect().width():.0f} px > {view.width()}")
    return out


def test_the_window_fits_both_displays(win):
    hint = win.minimumSizeHint()
    for w, h in DISPLAYS:
        assert hint.width() <= w and hint.height() <= h - TITLE_BAR, (hint, (w, h))


@pytest.mark.parametrize(("width", "height"), DISPLAYS)
def test_no_text_cut_off_on_any_screen(win, qtbot, width, height):
    cat = win.catalog
    p = cat.add_patient("P-0042", name="Alex Example", notes="first contact")
    analysed, _ = make_analysed(cat, win.data_root, p.id)
    recorded = record_short(cat, win.data_root, p.id, 3.0)
    screens = {
        "patients": lambda: win.show_patients(),
        "patient": lambda: win.show_patient(p.id),
        "review (analysed)": lambda: win.show_review(analysed.id),
        "review (recorded)": lambda: win.show_review(recorded.id),
        "playback": lambda: win.show_playback(analysed.id),
        "cohort": lambda: win.show_cohort(),
        "set-up": lambda: win.show_record(p.id),
    }
    found: dict[str, list[str]] = {}
    for name, show in screens.items():
        show()
        win.resize(width, height - TITLE_BAR)
        settle(qtbot)
        assert (win.width(), win.height()) == (width, height - TITLE_BAR), name
        tabs = win.review.tabs if name.startswith("review") else None
        for i in range(tabs.count() if tabs is not None else 1):
            if tabs is not None:
                tabs.setCurrentIndex(i)
                settle(qtbot)
            where = f"{name} / {tabs.tabText(i)}" if tabs is not None else name
            if problems := clipped_texts(win) + figure_problems(win):
                found[where] = problems
    win.review.shutdown()
    assert found == {}


def _open_dialogs() -> list[QDialog]:
    return [w for w in QApplication.topLevelWidgets() if isinstance(w, QDialog) and w.isVisible()]


def test_no_text_cut_off_in_any_dialog(win, qtbot, monkeypatch):
    shown: list[str] = []

    def exec_(self: QDialog) -> int:  # shown, not blocking, then measured and closed
        self.show()
        return int(QDialog.DialogCode.Rejected)

    monkeypatch.setattr(QDialog, "exec", exec_)
    cat = win.catalog
    p = cat.add_patient("P-0042", name="Alex Example")
    make_analysed(cat, win.data_root, p.id)
    width, height = DISPLAYS[-1]
    win.resize(width, height - TITLE_BAR)
    found: dict[str, list[str]] = {}

    def click_and_measure(screen: QWidget, text: str) -> None:
        button = next(b for b in screen.findChildren(QPushButton) if b.text() == text)
        qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
        settle(qtbot)
        dialogs = _open_dialogs()
        assert dialogs, f"{text} opened no dialog"
        for d in dialogs:
            shown.append(d.windowTitle())
            assert d.width() <= width and d.height() <= height - TITLE_BAR, d.windowTitle()
            if problems := clipped_texts(d):
                found[d.windowTitle()] = problems
            d.reject()
            if isValid(d):
                d.close()
        settle(qtbot)

    win.show_patients()
    settle(qtbot)
    win.patients.table.selectRow(0)
    for text in ("New patient", "Edit", "Settings"):
        click_and_measure(win.patients, text)
    win.show_patient(p.id)
    win.patient.table.selectRow(0)
    settle(qtbot)
    for text in ("Edit patient", "Data quality…", "Archive patient…", "Delete patient…"):
        click_and_measure(win.patient, text)
    assert len(shown) >= 7, shown
    assert found == {}
