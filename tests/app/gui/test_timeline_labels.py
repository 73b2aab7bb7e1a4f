"""The review's timeline on a 1024×640 display: a plot tall enough to read, marker labels that
do not run into each other (staggered, or elided with the full text on hover) and axis titles
that fit."""

from __future__ import annotations

import pytest

from app.gui.timeline_view import PLOT_MIN_HEIGHT
from tests.app.gui.layout_check import clipped_texts
from tests.app.gui.test_small_screens import DISPLAYS, TITLE_BAR, settle
from tests.app.review_data import make_analysed


@pytest.mark.parametrize(("width", "height"), [*DISPLAYS, (1280, 1024)])
def test_marker_labels_do_not_overlap(win, qtbot, width, height):
    cat = win.catalog
    p = cat.add_patient("P-0042", name="Alex Example")
    s, _ = make_analysed(cat, win.data_root, p.id)
    # three markers within a second of each other, and a fourth further on
    cat.add_marker(s.id, 5.0, "treatment_start")
    cat.add_marker(s.id, 5.4, "note", "patient describes a panic episode {calm}")
    cat.add_marker(s.id, 5.8, "note", "asks for a break")
    cat.add_marker(s.id, 10.4, "treatment_end")
    win.show_review(s.id)
    win.resize(width, height - TITLE_BAR)
    settle(qtbot)
    tl = win.review.timeline
    assert tl.plot_widget.height() >= PLOT_MIN_HEIGHT
    for side in ("left", "right"):  # the axis titles fit along their axes
        axis = tl.plot.getAxis(side)
        assert axis.label.boundingRect().width() <= axis.height(), side
    shown = tl.marker_label_rects()
    assert "Treatment start" in [text for text, _ in shown]
    for i, (a, ra) in enumerate(shown):
        for b, rb in shown[i + 1 :]:
            assert not ra.intersects(rb), (a, b)
    # the full text, braces included, on hover, shown or elided
    tips = [label.toolTip() for _, _, label in tl.marker_labels]
    assert "patient describes a panic episode {calm} at 0:05" in tips
    texts = [label.textItem.toPlainText() for _, _, label in tl.marker_labels]
    assert all(t.rstrip("…") for t in texts)
    assert clipped_texts(win.review) == []
    win.review.shutdown()
