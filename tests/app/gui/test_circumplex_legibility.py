"""Issue 12: on a short session's circumplex the summary and the captions stay legible.

A 20-s session with an estimate every 1/30 s scattered widely (600 points) is the worst case the
therapist met: the pre/post means, their ±1 SD rings and the pre → post arrow must be stacked
above every estimate with a white halo, the quadrant captions above the points on a light box,
and the figure says in m:ss which stretches are pre and post.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QGraphicsItem

from app.gui.circumplex_view import CircumplexView, _wrapped
from app.gui.review_tables import PhaseTable, analysis_details
from core.analysis.circumplex import describe_shift, window_rule_sentence
from core.analysis.results import save_estimates
from core.analysis.review import SessionReview, review_of
from core.catalog import Catalog
from core.config import Settings
from tests.app.review_data import hand_estimates, record_short

DECIMAL_MINUTES = re.compile(r"\d+[.,]\d+\s*min\b")


@pytest.fixture
def dense(tmp_path) -> SessionReview:
    """A 20-s session, 30 estimates a second scattered around an anxious → calm course."""
    cat = Catalog.open(tmp_path / "catalog.sqlite")
    p = cat.add_patient("D-1")
    rec = record_short(cat, tmp_path, p.id, 20.0)
    duration = float(rec.duration_s or 20.0)
    est = hand_estimates(duration, step_s=1 / 30)
    rng = np.random.default_rng(12)
    f = est.t_s / duration
    v = np.clip(-0.55 + f + rng.normal(0, 0.22, f.size), -1, 1)
    a = np.clip(0.55 - f + rng.normal(0, 0.22, f.size), -1, 1)
    est.outputs[:, 0] = np.where(np.isnan(est.outputs[:, 0]), np.nan, 5 + 4 * v)
    est.outputs[:, 1] = np.where(np.isnan(est.outputs[:, 1]), np.nan, 5 + 4 * a)
    save_estimates(tmp_path / rec.folder, est)
    cat.set_self_report(rec.id, "post", sam_valence=6, sam_arousal=4)
    review = review_of(cat, tmp_path, rec.id, Settings())
    assert review is not None
    cat.close()
    return review


def _view(qtbot, review: SessionReview, phase_minutes: float | None = None) -> CircumplexView:
    view = CircumplexView()
    qtbot.addWidget(view)
    view.resize(520, 600)
    view.show()
    qtbot.waitExposed(view)
    if phase_minutes is None:
        view.show_session(review)  # as the review page calls it
    else:
        view.show_session(review, phase_minutes=phase_minutes)
    return view


def _summary_items(view: CircumplexView) -> list:
    items = [view.pre_item, view.post_item, *view.rings, *view.arrow_halos]
    for line, head in view.arrows:
        items += [line, head]
    return items


def _stacking(view: CircumplexView, item: QGraphicsItem) -> int:
    """Place of ``item`` (or what paints it: a child) among all the figure's items, topmost
    first: the order in which Qt really stacks them (0 is drawn last, on top of everything)."""
    everything = view.layout_widget.scene().items()  # descending stacking order
    return min(everything.index(i) for i in (item, *item.childItems()))


def test_means_rings_and_arrow_lie_above_every_estimate(qtbot, dense):
    view = _view(qtbot, dense)
    assert len(view.trajectory.getData()[0]) > 500  # dense
    assert len(view.rings) == 2 and len(view.arrows) == 1 and len(view.arrow_halos) == 1
    estimates = max(view.trajectory.zValue(), view.course.zValue())
    for item in _summary_items(view):
        assert item.zValue() > estimates, item
    # as Qt stacks them: the means, rings and arrow on top, every estimate below them
    for item in _summary_items(view):
        assert _stacking(view, item) < _stacking(view, view.trajectory)
        assert _stacking(view, item) < _stacking(view, view.course)
    # the patient's own rating: above the estimates, below the summary
    assert estimates < view.sam_item.zValue() < min(i.zValue() for i in _summary_items(view))


def test_the_summary_has_a_white_halo(qtbot, dense):
    view = _view(qtbot, dense)
    white = QColor("white")
    for ring in view.rings:
        shadow, pen = ring.opts["shadowPen"], ring.opts["pen"]
        assert shadow is not None and shadow.color() == white
        assert shadow.widthF() >= pen.widthF() + 2
    (line, head), halo = view.arrows[0], view.arrow_halos[0]
    shadow = line.opts["shadowPen"]
    assert shadow is not None and shadow.color() == white
    assert shadow.widthF() >= line.opts["pen"].widthF() + 2
    assert halo.polygon() == head.polygon() and halo.brush().color() == white
    assert halo.pen().color() == white and halo.pen().widthF() >= 3
    assert line.zValue() > halo.zValue() and head.zValue() > line.zValue()
    for item in (view.pre_item, view.post_item):
        pen = item.opts["pen"]
        assert pen.color() == white and pen.widthF() >= 2


def test_captions_lie_above_the_points_on_a_light_box(qtbot, dense):
    view = _view(qtbot, dense)
    top_estimate = max(view.trajectory.zValue(), view.course.zValue())
    for q, caption in view.captions.items():
        assert caption.zValue() > top_estimate, q
        fill = caption.fill.color()
        assert fill.alpha() >= 200 and fill.lightness() >= 240, q
        assert _stacking(view, caption) < _stacking(view, view.trajectory), q
        assert _stacking(view, caption) < _stacking(view, view.course), q
    # the summary is not hidden by a caption either
    assert all(
        item.zValue() > max(c.zValue() for c in view.captions.values())
        for item in _summary_items(view)
    )


def test_arrow_labels_lie_above_the_arrows_on_a_light_box(qtbot):
    view = CircumplexView()
    qtbot.addWidget(view)
    view.show_arrows(
        [
            ("2025-03-04", (-0.5, 0.5), (0.3, -0.2), False),
            ("2025-04-01", (-0.4, 0.4), (0.2, -0.3), True),
        ],
        ordered=True,
    )
    assert len(view.arrow_labels) == 2
    arrows = max(max(line.zValue(), head.zValue()) for line, head in view.arrows)
    for label in view.arrow_labels:
        assert label.zValue() > arrows
        assert label.fill.color().alpha() >= 200 and label.fill.color().lightness() >= 240


def test_the_window_rule_is_said_under_the_figure_in_m_ss(qtbot, dense):
    view = _view(qtbot, dense, phase_minutes=15.0)
    c = dense.circumplex
    assert view.window_rule == (
        "This 0:20 session is shorter than 45:00, so pre = its first third (0:00–0:07) and "
        "post = its last third (0:13–0:20)."
    )
    legend = " ".join(view.legend.item.toPlainText().split())
    assert view.window_rule in legend
    # without the window length it still says which stretches, without the threshold
    view.show_session(dense)
    assert view.window_rule == window_rule_sentence(c.pre, c.post)
    assert "first third (0:00–0:07)" in view.window_rule
    assert view.window_rule in " ".join(view.legend.item.toPlainText().split())
    view.clear()
    assert view.window_rule == "" and view.legend.text == ""


def test_no_window_in_decimal_minutes_on_screen(qtbot, dense):
    view = _view(qtbot, dense)
    table = PhaseTable()
    qtbot.addWidget(table)
    table.show_review(dense)
    cells = [
        table.item(r, col).text()
        for r in range(table.rowCount())
        for col in range(table.columnCount())
        if table.item(r, col) is not None
    ]
    headers = [
        table.horizontalHeaderItem(col).text()
        for col in range(table.columnCount())
        if table.horizontalHeaderItem(col) is not None
    ]
    texts = [
        view.legend.item.toPlainText(),
        *(cap.textItem.toPlainText() for cap in view.captions.values()),
        analysis_details(dense),
        describe_shift(dense.circumplex),
        *cells,
        *headers,
    ]
    for text in texts:
        assert not DECIMAL_MINUTES.search(text), text
    assert "first 0:07" in " ".join(texts)  # the windows in m:ss


def test_a_legend_piece_wider_than_the_figure_wraps_itself(qtbot, dense):
    """At 1024 px the review's figure is narrow: "◇ patient's own rating (SAM)" alone was wider
    than it and ran past its right edge; the piece now wraps at its spaces, every word kept."""
    view = _view(qtbot, dense)
    view.resize(150, 600)
    qtbot.wait(20)
    view.show_session(dense)
    legend = view.legend.item
    assert legend.boundingRect().width() <= view.width()
    words = " ".join(legend.toPlainText().split())
    for text in ("patient's own rating (SAM)", "post (mean, ring ±1 SD)", "at the video's time"):
        for word in text.split():
            assert word in words
    assert "estimates over time" in words


def test_the_window_rule_wraps_once(qtbot, dense):
    """The rule sentence's rows, already fitted to the figure, are not cut again by the legend
    (a row within a few pixels of the width broke into a one-word row of its own)."""
    view = _view(qtbot, dense)
    for width in range(260, 540, 3):
        view.resize(width, 600)
        view.show_session(dense)
        lines = [" ".join(line.split()) for line in view.legend.item.toPlainText().splitlines()]
        want = _wrapped(view.window_rule, max(view.width() - 16, 120), view.legend_font, "#555")
        assert lines[-len(want) :] == [" ".join(p.plain.split()) for p in want], width
