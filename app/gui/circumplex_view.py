"""Views of the circumplex: one session's course, or pre→post arrows (history, cohort).

x = valence (−1 … +1, unpleasant → pleasant), y = arousal (−1 … +1, calm → activated); quadrants
numbered as in mathematics and named with their letters and plain words, as the therapist reads
them (see the architecture notes, "Circumplex conventions").
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QFont, QFontMetrics, QPolygonF, QResizeEvent
from PySide6.QtWidgets import QGraphicsPolygonItem, QVBoxLayout, QWidget

from app.gui.figure_export import export_layout
from app.gui.timeline_view import TimelineView
from core.analysis.circumplex import (
    DEFAULT_NEUTRAL_RADIUS,
    QUADRANTS,
    to_circumplex,
    window_rule_sentence,
)
from core.palette import COURSE_ON_SCREEN, POST, PRE

if TYPE_CHECKING:
    from core.analysis.review import SessionReview

__all__ = ["CircumplexView", "TimelineView"]

DEMO_TEXT = "DEMO MODEL — not clinically valid"
# Corners of the plot, per quadrant: (x, y, anchor of the text)
_CORNERS = {
    1: (1.0, 1.0, (1, 0)),
    2: (-1.0, 1.0, (0, 0)),
    3: (-1.0, -1.0, (0, 1)),
    4: (1.0, -1.0, (1, 1)),
}
MAX_POINTS = 4000  # more frame estimates than this are thinned evenly for drawing
# Stacking order (zValue) in the plot, bottom to top: the per-frame estimates and the smoothed
# course; the quadrant captions on a light box (legible over dense points); the patient's own
# ratings; the summary — ±1 SD rings, the pre→post arrow and the means, each with a white halo
# so it stands out over the points; the arrows' labels; the mark at the video's time.
Z_POINTS = 1.0
Z_COURSE = 2.0
Z_CAPTIONS = 10.0
Z_SELF_RATINGS = 15.0
Z_RINGS = 20.0
Z_ARROW = 22.0  # its halo just below, its head just above
Z_MEANS = 25.0
Z_ARROW_LABELS = 28.0
Z_CURSOR = 30.0
HALO = "w"  # colour of the halos
LABEL_FILL = (255, 255, 255, 215)  # the captions' and labels' box: white, nearly opaque


def time_colormap() -> pg.ColorMap:
    return pg.ColorMap(np.linspace(0.0, 1.0, len(COURSE_ON_SCREEN)), list(COURSE_ON_SCREEN))


class LegendPiece(NamedTuple):
    """One legend entry: its HTML and plain text (measured); ``prefix`` (HTML before the words,
    a coloured symbol) and ``text`` (the words) let a piece wider than the figure wrap itself."""

    html: str
    plain: str
    prefix: str = ""
    text: str = ""
    colour: str = "#333"


#: a legend line: its pieces, kept together when the legend wraps
LegendLine = list[LegendPiece]


def _legend_items(items: Sequence[tuple[str, str, str]]) -> LegendLine:
    """Legend pieces for (symbol, colour, text) items."""
    out: LegendLine = []
    for sym, colour, text in items:
        prefix = f"<span style='color:{colour}; font-size:12pt'>{sym}</span>&nbsp;" if sym else ""
        out.append(
            LegendPiece(
                prefix + f"<span style='color:#333'>{html.escape(text)}</span>",
                f"{sym}  {text}" if sym else text,
                prefix,
                text,
            )
        )
    return out


def _split_piece(piece: LegendPiece, width_px: int, fm: QFontMetrics) -> LegendLine:
    """``piece`` cut at spaces into pieces no wider than ``width_px`` (the symbol stays on the
    first); a piece without words to cut, or one word wider than the row, is left as it is."""
    if not piece.text:
        return [piece]
    lead = piece.plain[: len(piece.plain) - len(piece.text)]  # the symbol and its gap
    rows: list[str] = []
    for word in piece.text.split():
        room = width_px - 6 - (fm.horizontalAdvance(lead) if not rows else 0)
        if rows and fm.horizontalAdvance(f"{rows[-1]} {word}") <= room:
            rows[-1] = f"{rows[-1]} {word}"
        else:
            rows.append(word)
    return [
        LegendPiece(
            (piece.prefix if i == 0 else "")
            + f"<span style='color:{piece.colour}'>{html.escape(row)}</span>",
            (lead if i == 0 else "") + row,
            piece.prefix if i == 0 else "",
            row,
            piece.colour,
        )
        for i, row in enumerate(rows)
    ]


def _legend_html(lines: Sequence[LegendLine], width_px: int, font: QFont) -> str:
    """The legend as HTML, each line's pieces packed into rows no wider than ``width_px``
    (measured with ``font``), so nothing runs past the figure's edge on a small screen."""
    fm = QFontMetrics(font)
    gap = fm.horizontalAdvance("   ")
    rows: list[str] = []
    for line in lines:
        row: list[str] = []
        used = 0
        pieces: LegendLine = []
        for piece in line:
            if fm.horizontalAdvance(piece.plain) + 6 > width_px:
                pieces += _split_piece(piece, width_px, fm)  # wider than the figure: wrap it
            else:
                pieces.append(piece)
        for piece in pieces:
            w = fm.horizontalAdvance(piece.plain) + 6  # the symbols are drawn a little larger
            if row and used + gap + w > width_px:
                rows.append("&nbsp;&nbsp;&nbsp;".join(row))
                row, used = [], 0
            row.append(piece.html)
            used += (gap if used else 0) + w
        if row:
            rows.append("&nbsp;&nbsp;&nbsp;".join(row))
    return "<br>".join(rows)


def _wrapped(text: str, width_px: int, font: QFont, colour: str) -> LegendLine:
    """A sentence as legend pieces, one per row that fits ``width_px``."""
    fm = QFontMetrics(font)
    rows: list[str] = []
    for word in text.split():
        # 6 px short of the width, as _legend_html measures a piece, so no row is cut again
        if rows and fm.horizontalAdvance(f"{rows[-1]} {word}") + 6 <= width_px:
            rows[-1] = f"{rows[-1]} {word}"
        else:
            rows.append(word)
    return [
        LegendPiece(f"<span style='color:{colour}'>{html.escape(r)}</span>", r, "", r, colour)
        for r in rows
    ]


class CircumplexView(QWidget):
    """A square circumplex −1…1 with axes, the near-neutral circle and captioned quadrants.

    ``show_session`` draws one analysed session; ``show_arrows`` one pre→post arrow per entry.
    """

    def __init__(
        self,
        neutral_radius: float = DEFAULT_NEUTRAL_RADIUS,
        compact: bool = False,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.compact = compact
        self.layout_widget = pg.GraphicsLayoutWidget()
        self.layout_widget.setBackground("w")
        self.layout_widget.ci.setContentsMargins(4, 4, 4, 4)
        self.demo_label = pg.LabelItem("", justify="center")
        self.layout_widget.addItem(self.demo_label, row=0, col=0)
        self.plot: pg.PlotItem = self.layout_widget.addPlot(row=1, col=0)
        self.legend = pg.LabelItem("", justify="center", size="8pt")
        self.layout_widget.addItem(self.legend, row=2, col=0)
        p = self.plot
        p.setAspectLocked(True)
        p.setMouseEnabled(x=False, y=False)
        p.hideButtons()
        p.setMenuEnabled(False)
        p.setRange(xRange=(-1.02, 1.02), yRange=(-1.02, 1.02), padding=0)
        axis_font = 8 if compact else 10
        for side, text in (
            ("bottom", "valence (unpleasant → pleasant)"),
            ("left", "arousal (calm → activated)"),
        ):
            ax = p.getAxis(side)
            ax.setPen(pg.mkPen("#666"))
            ax.setTextPen(pg.mkPen("#333"))
            ax.setTicks([[(v, f"{v:g}") for v in (-1, -0.5, 0, 0.5, 1)]])
            p.setLabel(side, text, **{"color": "#333", "font-size": f"{axis_font}pt"})
        for angle in (0, 90):
            p.addItem(pg.InfiniteLine(pos=0, angle=angle, pen=pg.mkPen("#999", width=1)))
        border = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1], [-1, -1]], float)
        p.addItem(pg.PlotDataItem(border[:, 0], border[:, 1], pen=pg.mkPen("#ccc")))
        self.neutral_item = pg.PlotDataItem(
            pen=pg.mkPen("#777", width=1, style=Qt.PenStyle.DashLine)
        )
        p.addItem(self.neutral_item)
        self.set_neutral_radius(neutral_radius)
        self.captions: dict[int, pg.TextItem] = {}
        for q, (x, y, anchor) in _CORNERS.items():
            item = pg.TextItem(anchor=anchor, fill=pg.mkBrush(*LABEL_FILL))
            item.setZValue(Z_CAPTIONS)
            item.setPos(x, y)
            p.addItem(item)
            self.captions[q] = item
        self.caption_style = ""  # "words" or "codes", at a point size: set by _fit_captions
        self._legend_lines: list[LegendLine] = []
        self._legend_rule = ""  # the window rule, wrapped to the figure's width
        self.legend_font = QFont(self.font())
        self.legend_font.setPointSize(8)
        self._set_captions("words", 7 if compact else 9)
        p.getViewBox().sigResized.connect(self._fit_captions)
        self._dynamic: list[object] = []
        self.trajectory = pg.ScatterPlotItem()  # per-frame estimates, coloured by time
        self.course = pg.PlotDataItem()  # smoothed course
        self.pre_item = pg.ScatterPlotItem()
        self.post_item = pg.ScatterPlotItem()
        self.sam_item = pg.ScatterPlotItem()  # the patient's own ratings (hollow)
        self.cursor_item = pg.ScatterPlotItem()
        for item, z in (
            (self.trajectory, Z_POINTS),
            (self.course, Z_COURSE),
            (self.pre_item, Z_MEANS),
            (self.post_item, Z_MEANS),
            (self.sam_item, Z_SELF_RATINGS),
            (self.cursor_item, Z_CURSOR),
        ):
            item.setZValue(z)
        self.rings: list[pg.PlotDataItem] = []  # ±1 SD of the pre and post windows
        self.arrows: list[tuple[pg.PlotDataItem, QGraphicsPolygonItem]] = []
        self.arrow_halos: list[QGraphicsPolygonItem] = []  # white, under each arrow's head
        self.arrow_labels: list[pg.TextItem] = []
        self.window_rule = ""  # the sentence under the figure: which stretches are pre and post
        self.demo = False
        self._set_demo(False)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.layout_widget)

    # --- building blocks ---------------------------------------------------------------------

    def set_neutral_radius(self, radius: float) -> None:
        theta = np.linspace(0.0, 2 * np.pi, 121)
        self.neutral_radius = float(radius)
        self.neutral_item.setData(radius * np.cos(theta), radius * np.sin(theta))

    def _set_demo(self, demo: bool) -> None:
        self.demo = demo
        # the largest size at which the label fits the figure's width
        size = 10 if self.compact else 12
        font = QFont(self.font())
        font.setBold(True)
        while size > 7:
            font.setPointSize(size)
            if QFontMetrics(font).horizontalAdvance(DEMO_TEXT) + 16 <= self.width():
                break
            size -= 1
        self.demo_label.setText(
            DEMO_TEXT if demo else "", color="#c0392b", size=f"{size}pt", bold=True
        )
        self.demo_label.setVisible(demo)
        self.demo_label.setMinimumWidth(0)  # never widen the figure beyond its view

    def _set_legend(self, lines: Sequence[LegendLine], rule: str = "") -> None:
        """The legend under the figure: ``lines`` of pieces and a closing sentence, both wrapped
        to the figure's width (again whenever it is resized)."""
        self._legend_lines = list(lines)
        self._legend_rule = rule
        self._render_legend()

    def _render_legend(self) -> None:
        width = max(self.width() - 16, 120)
        lines = list(self._legend_lines)
        if self._legend_rule:
            lines += [
                [piece] for piece in _wrapped(self._legend_rule, width, self.legend_font, "#555")
            ]
        self.legend.setText(_legend_html(lines, width, self.legend_font))
        self.legend.setMinimumWidth(0)

    def _fit_captions(self) -> None:
        """Quadrant captions as large as the plot allows: words at 9 pt (7 pt compact), smaller,
        then the codes alone, so two captions side by side never run into each other."""
        vb = self.plot.getViewBox()
        side = min(vb.width(), vb.height())  # the square the aspect-locked plot shows
        letters_font = QFont(self.font())
        for size in (7,) if self.compact else (9, 8, 7):
            letters_font.setPointSize(size)
            letters_font.setBold(True)
            fm_bold = QFontMetrics(letters_font)
            letters_font.setBold(False)
            fm = QFontMetrics(letters_font)

            def need(q: int, fm: QFontMetrics = fm, fm_bold: QFontMetrics = fm_bold) -> int:
                letters, words = QUADRANTS[q]
                return max(
                    fm_bold.horizontalAdvance(f"Q{q} {letters} —"), fm.horizontalAdvance(words)
                )

            if max(need(2) + need(1), need(3) + need(4)) + 24 <= side:
                self._set_captions("words", size)
                return
        self._set_captions("codes", 7)

    def _set_captions(self, style: str, size: int) -> None:
        key = f"{style} {size}pt"
        if key == self.caption_style:
            return
        self.caption_style = key
        for q, item in self.captions.items():
            letters, words = QUADRANTS[q]
            text = f"<b>Q{q} {letters}</b> —<br>{words}" if style == "words" else f"<b>Q{q}</b>"
            item.setHtml(f"<span style='color:#555; font-size:{size}pt'>{text}</span>")
            item.setToolTip(f"Q{q} {letters} — {words}")

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 — Qt's name
        super().resizeEvent(event)
        self._set_demo(self.demo)
        self._render_legend()

    def _add(self, item: object) -> None:
        self.plot.addItem(item)
        self._dynamic.append(item)

    def clear(self) -> None:
        """Remove everything but the axes, the neutral circle and the captions."""
        for item in self._dynamic:
            self.plot.removeItem(item)
        self._dynamic = []
        self.rings = []
        self.arrows = []
        self.arrow_halos = []
        self.arrow_labels = []
        self.window_rule = ""
        for sc in (self.trajectory, self.pre_item, self.post_item, self.sam_item, self.cursor_item):
            sc.setData([], [])
        self.course.setData([], [])
        self._set_legend([])
        self._set_demo(False)

    def _arrow(
        self,
        pre: tuple[float, float],
        post: tuple[float, float],
        colour: str,
        dashed: bool,
        gap: float = 0.0,
    ) -> tuple[pg.PlotDataItem, QGraphicsPolygonItem]:
        """A line from ``pre`` to ``post`` with a filled head drawn in data units (so it scales
        with the figure when exported); ``gap`` stops the tip short of ``post`` (circumplex
        units), e.g. at the edge of a marker drawn there. A white halo around line and head keeps
        the arrow readable over dense points; it is drawn above the estimates (``Z_ARROW``)."""
        dx, dy = post[0] - pre[0], post[1] - pre[1]
        length = math.hypot(dx, dy)
        ux, uy = (dx / length, dy / length) if length > 1e-9 else (1.0, 0.0)
        head_len = min(0.09, max(0.5 * length, 0.03))
        tip = (post[0] - gap * ux, post[1] - gap * uy)
        base = (tip[0] - head_len * ux, tip[1] - head_len * uy)
        half = 0.35 * head_len
        style = Qt.PenStyle.DashLine if dashed else Qt.PenStyle.SolidLine
        line = pg.PlotDataItem(
            [pre[0], base[0]],
            [pre[1], base[1]],
            pen=pg.mkPen(colour, width=2.5, style=style),
            shadowPen=pg.mkPen(HALO, width=6),
        )
        polygon = QPolygonF(
            [
                QPointF(*tip),
                QPointF(base[0] - half * uy, base[1] + half * ux),
                QPointF(base[0] + half * uy, base[1] - half * ux),
            ]
        )
        halo = QGraphicsPolygonItem(polygon)
        halo_pen = pg.mkPen(HALO, width=4)
        halo_pen.setCosmetic(True)
        halo_pen.setJoinStyle(Qt.PenJoinStyle.RoundJoin)
        halo.setPen(halo_pen)
        halo.setBrush(pg.mkBrush(HALO))
        head = QGraphicsPolygonItem(polygon)
        pen = pg.mkPen(colour, width=1)
        pen.setCosmetic(True)
        head.setPen(pen)
        head.setBrush(pg.mkBrush(colour))
        halo.setZValue(Z_ARROW - 0.5)
        line.setZValue(Z_ARROW)
        head.setZValue(Z_ARROW + 0.5)
        self._add(halo)
        self._add(line)
        self._add(head)
        self.arrow_halos.append(halo)
        self.arrows.append((line, head))
        return line, head

    # --- what the screens show ---------------------------------------------------------------

    def show_session(self, review: SessionReview, phase_minutes: float | None = None) -> None:
        """One analysed session: the per-frame estimates coloured by time, the smoothed course,
        pre and post means with ±1 SD ellipses, the pre→post arrow and the patient's own
        (SAM) ratings as hollow markers; means, ellipses and arrow above every estimate.

        Under the figure, the legend ends with which stretches are pre and post
        (:func:`core.analysis.circumplex.window_rule_sentence`); ``phase_minutes`` is the
        window length of the rule (Settings.phase_minutes), without it a short session's
        sentence does not name the length it fell short of."""
        self.clear()
        c = review.circumplex
        self.set_neutral_radius(c.neutral_radius)
        est = review.estimates
        t, v, a = est.t_s, est.valence, est.arousal
        ok = np.isfinite(v) & np.isfinite(a)
        t, v, a = t[ok], v[ok], a[ok]
        if len(t) > MAX_POINTS:
            keep = np.linspace(0, len(t) - 1, MAX_POINTS).round().astype(int)
            t, v, a = t[keep], v[keep], a[keep]
        if len(t):
            span = float(t[-1] - t[0]) or 1.0
            colours = time_colormap().map((t - t[0]) / span, mode="qcolor")
            for col in colours:
                col.setAlpha(150)
            self.trajectory.setData(
                v, a, size=5, pen=None, brush=[pg.mkBrush(col) for col in colours]
            )
        self._add(self.trajectory)
        self.course.setData(
            c.trajectory_valence,
            c.trajectory_arousal,
            pen=pg.mkPen("#444", width=1.5),
            connect="finite",
        )
        self._add(self.course)
        for stats, colour, item in (
            (c.pre, PRE, self.pre_item),
            (c.post, POST, self.post_item),
        ):
            mv, ma = stats.mean_valence, stats.mean_arousal
            if not (np.isfinite(mv) and np.isfinite(ma)):
                continue
            if np.isfinite(stats.sd_valence) and np.isfinite(stats.sd_arousal):
                theta = np.linspace(0, 2 * np.pi, 73)
                ell = pg.PlotDataItem(
                    mv + stats.sd_valence * np.cos(theta),
                    ma + stats.sd_arousal * np.sin(theta),
                    pen=pg.mkPen(colour, width=2),
                    shadowPen=pg.mkPen(HALO, width=5),
                )
                ell.setZValue(Z_RINGS)
                self._add(ell)
                self.rings.append(ell)
            item.setData(
                [mv], [ma], size=16, symbol="o", pen=pg.mkPen(HALO, width=2.5), brush=colour
            )
            self._add(item)
        pre, post = c.pre, c.post
        if np.all(np.isfinite([pre.mean_valence, pre.mean_arousal])) and np.all(
            np.isfinite([post.mean_valence, post.mean_arousal])
        ):
            self._arrow(
                (pre.mean_valence, pre.mean_arousal),
                (post.mean_valence, post.mean_arousal),
                "#222",
                dashed=False,
                gap=0.04,  # the tip touches the post marker instead of hiding under it
            )
        sam_x, sam_y, sam_pens = [], [], []
        for phase, colour in (("pre", PRE), ("post", POST)):
            sr = review.self_reports.get(phase)
            if sr is None or sr.sam_valence is None or sr.sam_arousal is None:
                continue
            sam_x.append(float(to_circumplex(sr.sam_valence)))
            sam_y.append(float(to_circumplex(sr.sam_arousal)))
            sam_pens.append(pg.mkPen(colour, width=2.5))
        self.sam_item.setData(sam_x, sam_y, size=16, symbol="d", pen=sam_pens or None, brush=None)
        self._add(self.sam_item)
        self.cursor_item.setData([], [])
        self._add(self.cursor_item)
        self._set_demo(review.demo_model)
        stops = time_colormap().getLookupTable(nPts=8, mode="qcolor")
        ramp = "".join(f"<span style='color:{q.name()}'>■</span>" for q in stops)
        self.window_rule = window_rule_sentence(c.pre, c.post, phase_minutes)
        self._set_legend(
            [
                [
                    *_legend_items([("", "", "estimates over time:")]),
                    LegendPiece(
                        f"<span style='color:#333'>start&nbsp;</span>{ramp}"
                        "<span style='color:#333'>&nbsp;end</span>",
                        "start ■■■■■■■■ end",
                    ),
                ],
                _legend_items(
                    [
                        ("●", PRE, "pre"),
                        ("●", POST, "post (mean, ring ±1 SD)"),
                        ("◇", "#555", "patient's own rating (SAM)"),
                        ("○", "#111", "at the video's time"),
                    ]
                ),
            ],
            rule=self.window_rule,
        )

    def set_cursor(self, valence: float, arousal: float) -> None:
        """Mark the estimate at the timeline's cursor (NaN hides the mark)."""
        if np.isfinite(valence) and np.isfinite(arousal):
            self.cursor_item.setData(
                [valence], [arousal], size=13, symbol="o", pen=pg.mkPen("#000", width=2), brush=None
            )
        else:
            self.cursor_item.setData([], [])

    def show_arrows(
        self,
        entries: Sequence[tuple[str, tuple[float, float], tuple[float, float], bool]],
        ordered: bool = False,
        empty_text: str = "nothing analysed yet",
    ) -> None:
        """One pre→post arrow per entry ``(label, (v, a) pre, (v, a) post, demo model)``.

        ``empty_text``: the legend when there is no arrow to draw.

        ``ordered``: entries are in time order (a patient's history), coloured old → new; else
        every arrow is the same colour (a cohort). Demo-model arrows are dashed, and the demo
        label shows when any arrow comes from the demo model. Entries with a missing value are
        left out.
        """
        self.clear()
        drawn = [e for e in entries if np.all(np.isfinite(e[1])) and np.all(np.isfinite(e[2]))]
        cmap = time_colormap()
        starts_x, starts_y = [], []
        for i, (label, pre, post, demo) in enumerate(drawn):
            colour = (
                cmap.map(0.3 + 0.7 * i / max(len(drawn) - 1, 1), mode="qcolor").name()
                if ordered
                else "#3f4f8f"
            )
            self._arrow(pre, post, colour, dashed=demo)
            starts_x.append(pre[0])
            starts_y.append(pre[1])
            text = pg.TextItem(anchor=(0, 1), fill=pg.mkBrush(*LABEL_FILL))
            text.setZValue(Z_ARROW_LABELS)
            text.setHtml(f"<span style='color:{colour}; font-size:8pt'>{label}</span>")
            text.setPos(*post)
            self._add(text)
            self.arrow_labels.append(text)
        self.pre_item.setData(starts_x, starts_y, size=8, symbol="o", pen=None, brush=PRE)
        self._add(self.pre_item)
        any_demo = any(e[3] for e in drawn)
        self._set_demo(any_demo)
        bits = [("●", PRE, "pre"), ("➤", "#3f4f8f", "post")]
        if ordered:
            bits.append(("", "", "lighter = older"))
        if any_demo:
            bits.append(("", "", "dashed = demo model"))
        if drawn:
            self._set_legend([_legend_items(bits)])
        else:
            self._set_legend([], rule=empty_text)

    def export(self, path: str | Path, width: int = 1200) -> Path:
        """Write the figure (with its demo label and legend) as PNG or SVG, by suffix."""
        return export_layout(self.layout_widget.ci, path, width)
