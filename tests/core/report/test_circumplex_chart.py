"""The PDF's circumplex chart stays legible over a dense course (issue 12).

The drawing is walked in its painting order (later shapes cover earlier ones): the quadrant
captions must come after every segment of the course, on a light box; the ±1 SD crosses, the
pre → post arrow and the means after the course, the captions and the patient's own ratings,
each on a white halo; the legend ends with which stretches are pre and post, in m:ss.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from reportlab.graphics.shapes import Circle, Group, Line, Polygon, Rect, String

from app.demo.simulation import record_simulated
from core.analysis.circumplex import QUADRANTS, SessionCircumplex, session_circumplex
from core.analysis.circumplex import window_rule_sentence as rule
from core.analysis.results import save_estimates
from core.analysis.review import record_review, review_of
from core.catalog import Catalog
from core.palette import POST, PRE
from core.physiology.summary import phase_windows
from core.report.circumplex import circumplex_figure
from core.report.session import export_session_report
from tests.core.report.test_analysis import SMALL_VIDEO
from tests.core.report.test_document import read_pages

SIDE, WIDTH = 216.0, 480.0
DECIMAL_MINUTES = re.compile(r"\d+[.,]\d+\s*min\b")
CAPTION_TEXTS = {f"Q{q} {letters}" for q, (letters, _) in QUADRANTS.items()} | {
    words for _, words in QUADRANTS.values()
}


def wandering(duration_s: float = 40 * 60.0, step_s: float = 1.0) -> SessionCircumplex:
    """A session whose course runs through all four corners, under every caption, from the
    anxious corner (Q2) to the calm one (Q4) and back towards the middle."""
    t = np.arange(0.0, duration_s, step_s)
    rng = np.random.default_rng(5)
    corners = np.array([[-0.85, 0.85], [0.85, 0.85], [0.85, -0.85], [-0.85, -0.85], [0.3, -0.3]])
    f = t / duration_s * (len(corners) - 1)
    i = np.minimum(f.astype(int), len(corners) - 2)
    w = (f - i)[:, None]
    path = corners[i] * (1 - w) + corners[i + 1] * w + rng.normal(0, 0.15, (t.size, 2))
    v, a = np.clip(path[:, 0], -1, 1), np.clip(path[:, 1], -1, 1)
    return session_circumplex(t, v, a, phase_windows(duration_s))


def flat(node: Any, dy: float = 0.0) -> Iterator[tuple[Any, float]]:
    """Every shape of a drawing in painting order, with the vertical shift of its groups (only
    for groups that are a pure translation; rotated ones, the axis titles, give NaN)."""
    for child in node.contents:
        if isinstance(child, Group):
            a, b, c, d, _, ty = child.transform
            pure = (a, b, c, d) == (1, 0, 0, 1)
            yield from flat(child, dy + ty if pure else float("nan"))
        else:
            yield child, dy


def hexval(colour: Any) -> str | None:
    return None if colour is None else colour.hexval().lower()


def hex_of(s: str) -> str:
    return "0x" + s.lstrip("#").lower()


class Chart:
    """A circumplex_figure's shapes, found by what they draw (not by how the code groups them)."""

    def __init__(self, circ: SessionCircumplex, drawing: Any, sam: dict[str, tuple[float, float]]):
        self.circ = circ
        self.drawing = drawing
        self.shapes = [s for s, _ in flat(drawing)]
        frame = next(
            s
            for s in self.shapes
            if isinstance(s, Rect) and s.width == SIDE == s.height and s.fillColor is None
        )
        self.left, self.bottom = frame.x, frame.y
        tv, ta = circ.trajectory_valence, circ.trajectory_arousal
        pts = {self.key(self.px(v), self.py(a)) for v, a in zip(tv, ta, strict=True)}
        self.course = [
            i
            for i, s in enumerate(self.shapes)
            if isinstance(s, Line)
            and self.key(s.x1, s.y1) in pts
            and self.key(s.x2, s.y2) in pts
            and hexval(s.strokeColor) != "0xffffff"
        ]
        self.captions = [
            i
            for i, s in enumerate(self.shapes)
            if isinstance(s, String) and s.text in CAPTION_TEXTS
        ]
        self.sam = [
            i
            for i, s in enumerate(self.shapes)
            for v, a in sam.values()
            if isinstance(s, Rect)
            and s.width == 7
            and self.key(s.x + 3.5, s.y + 3.5) == self.key(self.px(v), self.py(a))
        ]
        self.means = [
            i
            for i, s in enumerate(self.shapes)
            for st, colour in ((circ.pre, PRE), (circ.post, POST))
            if isinstance(s, Circle)
            and hexval(s.fillColor) == hex_of(colour)
            and self.key(s.cx, s.cy) == self.key(self.px(st.mean_valence), self.py(st.mean_arousal))
        ]
        self.sd_lines = [
            i
            for i, s in enumerate(self.shapes)
            if isinstance(s, Line)
            and hexval(s.strokeColor) in (hex_of(PRE), hex_of(POST))
            and self.inside(s.x1, s.y1)
        ]
        self.arrow = [
            i
            for i, s in enumerate(self.shapes)
            if isinstance(s, Line | Polygon)
            and hexval(s.strokeColor) == "0x222222"
            and self.inside(*s.getBounds()[:2])
        ]

    @staticmethod
    def key(x: float, y: float) -> tuple[float, float]:
        return round(x, 3), round(y, 3)

    def px(self, v: float) -> float:
        return self.left + (min(max(v, -1.0), 1.0) + 1.0) / 2.0 * SIDE

    def py(self, a: float) -> float:
        return self.bottom + (min(max(a, -1.0), 1.0) + 1.0) / 2.0 * SIDE

    def inside(self, x: float, y: float) -> bool:
        return self.left <= x <= self.left + SIDE and self.bottom <= y <= self.bottom + SIDE

    def halo_of(self, i: int) -> int | None:
        """Index of the white shape under shape i (same geometry, wider), None when there is none."""
        s = self.shapes[i]
        for j in range(i - 1, -1, -1):
            h = self.shapes[j]
            if (
                type(h) is type(s)
                and hexval(h.strokeColor) == "0xffffff"
                and h.strokeWidth >= s.strokeWidth + 2
                and np.allclose(h.getBounds(), s.getBounds())
            ):
                return j
        return None


@pytest.fixture
def chart() -> Chart:
    circ = wandering()
    sam = {"pre": (-0.75, 0.8), "post": (circ.post.mean_valence + 0.02, circ.post.mean_arousal)}
    d = circumplex_figure(circ, sam["pre"], sam["post"], WIDTH, side=SIDE, demo_model=True)
    return Chart(circ, d, sam)


def test_the_shapes_are_found(chart: Chart) -> None:
    assert len(chart.course) >= 100
    assert len(chart.captions) == 8
    assert len(chart.sam) == 2 and len(chart.means) == 2
    assert len(chart.sd_lines) == 12  # per window: 2 bars and 2 × 2 caps
    assert len(chart.arrow) == 2  # line and head


def test_captions_are_drawn_above_the_course_on_a_light_box(chart: Chart) -> None:
    last_course = max(chart.course)
    assert min(chart.captions) > last_course
    for i in chart.captions:
        s = chart.shapes[i]
        boxes = [
            b
            for b in chart.shapes[last_course + 1 : i]
            if isinstance(b, Rect)
            and b.x - 1 <= s.x <= b.x + b.width + 1
            and b.y <= s.y <= b.y + b.height
            and b.fillColor is not None
        ]
        assert boxes, s.text
        box = boxes[-1]
        assert (box.fillOpacity is None or box.fillOpacity >= 0.8) and box.strokeColor is None
        r, g, b = box.fillColor.rgb()
        assert min(r, g, b) >= 0.85, s.text  # light: the black text reads on it


def test_the_summary_is_drawn_above_everything_else_in_the_plot(chart: Chart) -> None:
    below = chart.course + chart.captions + chart.sam
    summary = chart.means + chart.sd_lines + chart.arrow
    assert min(summary) > max(below)
    # the means last: neither an SD bar nor the arrow covers them
    assert min(chart.means) > max(chart.sd_lines + chart.arrow)


def test_the_summary_has_a_white_halo(chart: Chart) -> None:
    last_below = max(chart.course + chart.captions + chart.sam)
    for i in chart.sd_lines + chart.arrow:
        halo = chart.halo_of(i)
        assert halo is not None and halo > last_below, chart.shapes[i]
    for i in chart.means:
        mean = chart.shapes[i]
        assert hexval(mean.strokeColor) == "0xffffff" and mean.strokeWidth >= 1.0


def test_the_caption_says_which_stretches_are_pre_and_post() -> None:
    for duration_s, phase_minutes in ((20.0, 15.0), (52 * 60 + 10.0, 15.0), (20.0, None)):
        circ = wandering(duration_s, step_s=1 / 30 if duration_s < 60 else 1.0)
        d = circumplex_figure(circ, None, None, WIDTH, side=SIDE, phase_minutes=phase_minutes)
        chart = Chart(circ, d, {})
        legend_x = chart.left + SIDE + 10
        legend = " ".join(s.text for s in chart.shapes if isinstance(s, String) and s.x > legend_x)
        sentence = rule(circ.pre, circ.post, phase_minutes)
        assert sentence in legend
        assert not DECIMAL_MINUTES.search(legend)
    pre, post = phase_windows(20.0)
    assert "so pre = its first third (0:00–0:07)" in rule(pre, post, 15.0)  # the 20-s chart


def test_a_long_legend_grows_the_drawing_instead_of_being_cut() -> None:
    circ = session_circumplex([], [], [], phase_windows(20.0))  # nothing estimated
    d = circumplex_figure(circ, None, None, 340.0, side=SIDE, demo_model=True, phase_minutes=15)
    lowest = min(s.y + dy for s, dy in flat(d) if isinstance(s, String) and not np.isnan(dy))
    assert lowest >= 0.0
    assert d.height > SIDE + 36.0  # taller than the plot with its axes


@pytest.fixture
def short_report(tmp_path_factory: pytest.TempPathFactory, tmp_path: Path) -> list[str]:
    """The full PDF of a 20-s session without phase markers (thirds), analysed by hand."""
    from tests.core.report.test_analysis import hand_made_estimates

    root = tmp_path / "data"
    root.mkdir()
    cat = Catalog.open(root / "catalog.sqlite")
    try:
        p = cat.add_patient("P-0012")
        record_simulated(cat, root, p.id, 20.0, settings=SMALL_VIDEO, virtual=True)
        rec = cat.list_sessions()[0]
        save_estimates(root / rec.folder, hand_made_estimates(True))
        review = review_of(cat, root, rec.id, SMALL_VIDEO)
        assert review is not None
        record_review(cat, review)
        out = export_session_report(cat, root, rec.id, tmp_path / "r.pdf", settings=SMALL_VIDEO)
        return read_pages(out)
    finally:
        cat.close()
        shutil.rmtree(root, ignore_errors=True)


def test_no_window_in_decimal_minutes_in_the_report(short_report: list[str]) -> None:
    text = " ".join(short_report)
    assert not DECIMAL_MINUTES.search(text), DECIMAL_MINUTES.search(text)
    assert "First 0:07" in text and "Last 0:07" in text  # the windows in m:ss
    assert "first third (0:00–0:07)" in text  # the chart's caption
