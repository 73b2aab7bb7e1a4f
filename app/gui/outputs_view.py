"""The review screen's "Emotions" tab: liking and the emotions, the model's other outputs.

One row per output (liking, then the seven basic emotions): its name and scale, its mean in the
pre and post windows and its course over the session (the windows shaded, the cursor shared
with the main timeline). An output the checkpoint did not learn reads "not estimated by this
model" with the reason, and has neither a number nor a line (:mod:`core.analysis.model_outputs`).
"""

from __future__ import annotations

import html
import re
from typing import TYPE_CHECKING

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QFrame,
    QGridLayout,
    QLabel,
    QScrollArea,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from app.gui.timeline_view import WINDOW_BRUSHES, TimeAxis
from core.analysis.model_outputs import (
    NOT_ESTIMATED,
    OutputsSummary,
    OutputSummary,
    format_change,
    format_mean,
    summarise_outputs,
    words,
)
from core.palette import POST, PRE

if TYPE_CHECKING:
    from core.analysis.review import SessionReview

#: line colour of each output's course
COLOURS = {
    "liking": "#6a3d9a",
    "neutral": "#555555",
    "disgust": "#8c6d31",
    "happiness": "#d4a017",
    "surprise": "#17becf",
    "anger": "#c0392b",
    "fear": "#7b3294",
    "sadness": "#1f6fb2",
}
PLOT_HEIGHT = 64
DEMO_TEXT = "DEMO MODEL — these estimates are not clinically valid"


def on_screen(number: str) -> str:
    """A figure as the screen writes it: a true minus sign (as the review's other tables)."""
    return number.replace("-", "−")


class OutputPlot(pg.PlotWidget):
    """One output's course over the session: a line with gaps where nothing was estimated."""

    def __init__(self, colour: str) -> None:
        super().__init__(axisItems={"bottom": TimeAxis("bottom")})
        self.setBackground("w")
        self.setFixedHeight(PLOT_HEIGHT)
        self.setMinimumWidth(150)  # the tab beside the figure on a 1024 px display
        p = self.getPlotItem()
        p.setMouseEnabled(x=False, y=False)
        p.hideButtons()
        p.setMenuEnabled(False)
        p.showGrid(x=True, y=True, alpha=0.15)
        for side in ("left", "bottom"):
            ax = p.getAxis(side)
            ax.setTextPen(pg.mkPen("#333"))
            ax.setPen(pg.mkPen("#888"))
            ax.setStyle(tickFont=self.font(), tickTextOffset=2)
        p.getAxis("left").setWidth(34)
        p.getAxis("bottom").setHeight(18)
        self.curve = p.plot(pen=pg.mkPen(colour, width=1.5), connect="finite")
        self.curve.setDownsampling(auto=True, method="peak")
        self.curve.setClipToView(True)
        self.cursor = pg.InfiniteLine(pos=0, angle=90, movable=False, pen=pg.mkPen("#222"))
        p.addItem(self.cursor)
        self.regions: list[pg.LinearRegionItem] = []

    def show_output(self, o: OutputSummary, duration_s: float) -> None:
        p = self.getPlotItem()
        self.curve.setData(o.t_s, o.values, connect="finite")
        for r in self.regions:
            p.removeItem(r)
        self.regions = []
        for w in o.windows:
            region = pg.LinearRegionItem(
                values=(w.start_s, w.end_s),
                movable=False,
                brush=pg.mkBrush(WINDOW_BRUSHES.get(w.name, (128, 128, 128, 40))),
                pen=pg.mkPen(None),
            )
            region.setZValue(-10)
            p.addItem(region)
            self.regions.append(region)
        lo, hi = (1.0, 9.0) if o.name == "liking" else (0.0, 1.0)
        finite = o.values[np.isfinite(o.values)]
        if finite.size:  # the scale, widened to any value outside it (never clipped)
            lo, hi = min(lo, float(finite.min())), max(hi, float(finite.max()))
        p.setYRange(lo, hi, padding=0.08)
        ticks = (1, 5, 9) if o.name == "liking" else (0, 1)
        p.getAxis("left").setTicks([[(v, f"{v:g}") for v in ticks]])
        p.setXRange(0, duration_s, padding=0.01)


class OutputsView(QWidget):
    """Liking and the seven emotions of one analysed session (module docstring)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.summary: OutputsSummary | None = None
        self.intro = QLabel()
        self.intro.setWordWrap(True)
        self.intro.setTextFormat(Qt.TextFormat.RichText)
        self.intro.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.demo = QLabel(DEMO_TEXT)
        self.demo.setStyleSheet(
            "background:#fdecea; color:#8a1c12; border:1px solid #c0392b; padding:3px;"
            " font-weight:600;"
        )
        self.rows_widget = QWidget()
        self.grid = QGridLayout(self.rows_widget)
        self.grid.setContentsMargins(2, 2, 2, 2)
        self.grid.setHorizontalSpacing(10)
        self.grid.setVerticalSpacing(4)
        self.grid.setColumnStretch(3, 1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setWidget(self.rows_widget)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addWidget(self.demo)
        lay.addWidget(self.intro)
        lay.addWidget(scroll, 1)
        #: per output: its labels (name, pre, post, change) and its plot (None: not estimated)
        self.labels: dict[str, dict[str, QLabel]] = {}
        self.plots: dict[str, OutputPlot] = {}
        self.clear()

    # --- content ----------------------------------------------------------------------------

    def clear(
        self,
        text: str = "Not analysed yet: liking and the emotions appear here after the analysis.",
    ) -> None:
        """Show ``text`` and nothing else."""
        self.summary = None
        self._empty_grid()
        self.demo.setVisible(False)
        self.intro.setText(html.escape(text))

    def _empty_grid(self) -> None:
        while self.grid.count():
            item = self.grid.takeAt(0)
            w = item.widget() if item is not None else None
            if w is not None:
                w.setParent(None)
                w.deleteLater()
        self.labels, self.plots = {}, {}

    def show_review(self, review: SessionReview) -> None:
        """Show the outputs of ``review``'s analysis in its windows."""
        s = summarise_outputs(review.estimates, review.windows)
        self.summary = s
        self._empty_grid()
        self.demo.setVisible(s.demo_model)
        learned, basis = html.escape(words(s.learned)), html.escape(s.basis)
        if s.estimated:
            self.intro.setText(
                "The model's outputs beyond valence and arousal, per analysed frame, with their "
                "means in the pre and post windows (shaded). Gaps: no estimate.<br>"
                f"<span style='color:#555'>The model learned {learned} ({basis}).</span>"
            )
        else:
            self.intro.setText(
                f"This model learned {learned} only ({basis}): liking and the seven emotions are "
                f"<b>{NOT_ESTIMATED}</b>."
            )
        if not s.estimated:  # no figures at all: no column headings either
            for i, o in enumerate(s.outputs):
                self._add_row(i, o, 1.0)
            return
        pre, post = (review.windows[0], review.windows[1])
        head = ("Output", f"Pre: {pre.label}", f"Post: {post.label}", "Over the session", "Change")
        for j, text in enumerate(head):
            lab = QLabel(f"<b>{html.escape(text)}</b>")
            colour = {1: PRE, 2: POST}.get(j)
            if colour:
                lab.setStyleSheet(f"color:{colour};")
            self.grid.addWidget(lab, 0, j)
        duration = max(float(review.record.duration_s or 0.0), 1e-3)
        if len(review.estimates.t_s):
            duration = max(duration, float(np.nanmax(review.estimates.t_s)))
        for i, o in enumerate(s.outputs, start=1):
            self._add_row(i, o, duration)

    def _add_row(self, i: int, o: OutputSummary, duration_s: float) -> None:
        # the name, and under it its scale in a smaller font: two labels, so that each is laid
        # out (and measured) in its own font
        name = QLabel(f"<b>{html.escape(o.title)}</b>")
        scale = QLabel(o.scale)
        scale.setTextFormat(Qt.TextFormat.PlainText)
        scale.setStyleSheet("color:#666; font-size:11px;")
        scale.setWordWrap(True)  # on two lines where the column is narrow
        cell = QWidget()
        cell_lay = QVBoxLayout(cell)
        cell_lay.setContentsMargins(0, 0, 0, 0)
        cell_lay.setSpacing(0)
        cell_lay.addWidget(name)
        cell_lay.addWidget(scale)
        cell.setMinimumWidth(110)
        cells = {"name": name, "scale": scale}
        self.grid.addWidget(cell, i, 0, Qt.AlignmentFlag.AlignVCenter)
        if o.estimated:
            for j, w in enumerate(o.windows[:2], start=1):
                lab = QLabel(on_screen(format_mean(o, w)))
                lab.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
                lab.setStyleSheet("font-family:monospace;")
                cells[w.name] = lab
                self.grid.addWidget(lab, i, j)
            plot = OutputPlot(COLOURS.get(o.name, "#333"))
            plot.show_output(o, duration_s)
            self.plots[o.name] = plot
            self.grid.addWidget(plot, i, 3)
            change = QLabel(on_screen(format_change(o)))
            change.setStyleSheet("font-family:monospace;")
            cells["change"] = change
            self.grid.addWidget(change, i, 4)
        else:
            lab = QLabel(f"<i>{NOT_ESTIMATED}</i>")
            lab.setToolTip(o.reason)
            lab.setWordWrap(True)
            lab.setStyleSheet("color:#666; background:#f3f3f3; padding:4px;")
            lab.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
            cells["reason"] = lab
            self.grid.addWidget(lab, i, 1, 1, 4)
        self.labels[o.name] = cells

    def set_cursor(self, t_s: float) -> None:
        """Move every plot's cursor to session time ``t_s`` (s)."""
        for plot in self.plots.values():
            plot.cursor.setValue(float(t_s))

    def visible_text(self) -> str:
        """Every text this tab shows, as plain text, one label per line (for tests and the
        walkthrough)."""
        texts = [self.demo.text()] if self.demo.isVisibleTo(self) else []
        texts.append(self.intro.text())
        for cells in self.labels.values():
            texts += [lab.text() for lab in cells.values()]
        return "\n".join(
            html.unescape(re.sub(r"<br\s*/?>", " ", re.sub(r"<(?!br)[^>]*>", "", t))) for t in texts
        )
