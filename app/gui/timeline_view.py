"""Valence and arousal over the session, with the pre/post windows, the markers, the SUDS ratings
(read on the right axis, 0–100) and a cursor."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from core.palette import POST, POST_TINT, PRE, PRE_TINT, rgb
from core.timefmt import format_clock, format_clock_tenths

if TYPE_CHECKING:
    from core.analysis.review import SessionReview
    from core.catalog import Marker
    from core.clinical import SudsRating

VALENCE_COLOUR = "#1f6fb2"
AROUSAL_COLOUR = "#c0392b"
#: shading of the pre and post windows: their palette colours at alpha 40 of 255
WINDOW_BRUSHES = {"pre": (*rgb(PRE), 40), "post": (*rgb(POST), 40)}
MARKER_NAMES = {"treatment_start": "Treatment start", "treatment_end": "Treatment end"}
SUDS_COLOUR = "#7b3fa0"


def suds_y(rating: float) -> float:
    """A SUDS rating 0–100 on the plot's −1 … +1 scale (read off the right axis: 0, 50, 100)."""
    return float(rating) / 50.0 - 1.0


class TimeAxis(pg.AxisItem):
    """Session time in seconds, labelled as m:ss (or h:mm:ss); to the tenth (m:ss.s) where the
    ticks are less than a second apart (a zoomed-in ECG), and none before the session began."""

    def tickStrings(self, values, scale, spacing):  # type: ignore[no-untyped-def]  # noqa: N802
        fmt = format_clock_tenths if spacing < 1.0 else format_clock
        return [fmt(v) if v >= -1e-9 else "" for v in values]


class TimelineView(QWidget):
    """Valence and arousal (circumplex units) against session time.

    Gaps where nothing was estimated stay gaps. Clicking the plot, or dragging the cursor,
    emits ``seek`` with the session time (s).
    """

    seek = Signal(float)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.plot_widget = pg.PlotWidget(axisItems={"bottom": TimeAxis("bottom")})
        self.plot_widget.setBackground("w")
        p = self.plot = self.plot_widget.getPlotItem()
        p.setMouseEnabled(x=False, y=False)
        p.hideButtons()
        p.setMenuEnabled(False)
        p.showGrid(x=True, y=True, alpha=0.15)
        # headroom above +1 for the marker labels, below −1 for the window labels
        p.setYRange(-1.3, 1.45, padding=0)
        p.getAxis("left").setTicks([[(v, f"{v:g}") for v in (-1, -0.5, 0, 0.5, 1)]])
        p.setLabel("left", "estimate (−1 … +1)", **{"color": "#333", "font-size": "9pt"})
        p.setLabel("bottom", "session time", **{"color": "#333", "font-size": "9pt"})
        for side in ("left", "bottom"):
            p.getAxis(side).setTextPen(pg.mkPen("#333"))
            p.getAxis(side).setPen(pg.mkPen("#666"))
        p.addItem(pg.InfiniteLine(pos=0, angle=0, pen=pg.mkPen("#999")))
        # SUDS ratings (0–100) share the plot: the right axis reads them
        p.showAxis("right")
        right = p.getAxis("right")
        right.setTicks([[(suds_y(v), f"{v}") for v in (0, 50, 100)]])
        right.setLabel("SUDS (0–100)", **{"color": SUDS_COLOUR, "font-size": "9pt"})
        right.setTextPen(pg.mkPen(SUDS_COLOUR))
        right.setPen(pg.mkPen("#666"))
        self.suds_points = pg.ScatterPlotItem(
            size=11, symbol="d", brush=pg.mkBrush(SUDS_COLOUR), pen=pg.mkPen("w", width=1)
        )
        self.suds_points.setZValue(5)
        p.addItem(self.suds_points)
        self.suds_labels: list[pg.TextItem] = []
        self.legend = QLabel(
            f"<span style='color:{VALENCE_COLOUR}'>━━</span> valence (unpleasant → pleasant)"
            f"&nbsp;&nbsp;&nbsp;<span style='color:{AROUSAL_COLOUR}'>━━</span> arousal (calm → "
            f"activated)&nbsp;&nbsp;&nbsp;<span style='background:{PRE_TINT}'>&nbsp;&nbsp;&nbsp;</span>"
            f" pre window&nbsp;&nbsp;&nbsp;<span style='background:{POST_TINT}'>&nbsp;&nbsp;&nbsp;</span>"
            " post window&nbsp;&nbsp;&nbsp;gaps: not estimated (no face, lost samples)"
            f"&nbsp;&nbsp;&nbsp;<span style='color:{SUDS_COLOUR}'>◆</span> SUDS (patient's "
            "distress 0–100, right scale)"
        )
        self.legend.setStyleSheet("color:#333;")
        self.legend.setWordWrap(True)
        self.valence_curve = p.plot(pen=pg.mkPen(VALENCE_COLOUR, width=1.5), connect="finite")
        self.arousal_curve = p.plot(pen=pg.mkPen(AROUSAL_COLOUR, width=1.5), connect="finite")
        for c in (self.valence_curve, self.arousal_curve):
            c.setDownsampling(auto=True, method="peak")
            c.setClipToView(True)
        self.cursor_line = pg.InfiniteLine(
            pos=0, angle=90, movable=True, pen=pg.mkPen("#222", width=2)
        )
        self.cursor_line.sigDragged.connect(lambda line: self.seek.emit(float(line.value())))
        p.addItem(self.cursor_line)
        self.window_items: list[pg.LinearRegionItem] = []
        self.marker_items: list[pg.InfiniteLine] = []
        self.duration = 1.0
        p.scene().sigMouseClicked.connect(self._clicked)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(2)
        lay.addWidget(self.legend)
        lay.addWidget(self.plot_widget, 1)

    def show_session(
        self,
        review: SessionReview,
        markers: Sequence[Marker] = (),
        suds: Sequence[SudsRating] = (),
    ) -> None:
        """Draw the session's estimates, its pre/post windows, its markers and SUDS ratings."""
        est = review.estimates
        self.duration = max(float(review.record.duration_s or 0.0), 1e-3)
        if len(est.t_s):
            self.duration = max(self.duration, float(np.nanmax(est.t_s)))
        self.valence_curve.setData(est.t_s, est.valence, connect="finite")
        self.arousal_curve.setData(est.t_s, est.arousal, connect="finite")
        for item in self.window_items:
            self.plot.removeItem(item)
        self.window_items = []
        for w in review.windows:
            region = pg.LinearRegionItem(
                values=(w.start_s, w.end_s),
                movable=False,
                brush=pg.mkBrush(WINDOW_BRUSHES.get(w.name, (128, 128, 128, 40))),
                pen=pg.mkPen(None),
            )
            region.setZValue(-10)
            label = pg.InfLineLabel(
                region.lines[0],
                text=f"{w.name}: {w.label}",
                position=0.06,
                anchors=[(0, 1), (0, 1)],
            )
            label.setColor("#555")
            self.plot.addItem(region)
            self.window_items.append(region)
        self.set_markers(markers)
        self.set_suds(suds)
        self.plot.setXRange(0, self.duration, padding=0.01)

    def set_markers(self, markers: Sequence[Marker]) -> None:
        """Draw the markers as labelled vertical lines."""
        for item in self.marker_items:
            self.plot.removeItem(item)
        self.marker_items = []
        # labels of markers close in time hang at staggered heights so they do not overlap
        levels = (0.985, 0.9, 0.815)
        last = [-np.inf] * len(levels)
        gap = 0.15 * max(self.duration, 1e-6)
        for m in sorted(markers, key=lambda m: m.t_s):
            level = next((i for i, t in enumerate(last) if m.t_s - t > gap), len(levels) - 1)
            last[level] = m.t_s
            colour = "#2e7d32" if m.kind != "note" else "#b7791f"
            line = pg.InfiniteLine(
                pos=m.t_s,
                angle=90,
                pen=pg.mkPen(colour, width=1.5, style=Qt.PenStyle.DashLine),
                label=MARKER_NAMES.get(m.kind, m.label or "note"),
                # hanging from the top, right of the line: above the data (which stay within ±1)
                labelOpts={
                    "position": levels[level],
                    "anchors": [(0, 0), (0, 0)],
                    "color": colour,
                },
            )
            self.plot.addItem(line)
            self.marker_items.append(line)

    def set_suds(self, ratings: Sequence[SudsRating]) -> None:
        """Draw the SUDS ratings as diamonds at their moments, each labelled with its number."""
        for item in self.suds_labels:
            self.plot.removeItem(item)
        self.suds_labels = []
        rs = sorted(ratings, key=lambda r: r.t_s)
        self.suds_points.setData(
            x=[r.t_s for r in rs], y=[suds_y(r.rating) for r in rs], data=[r.rating for r in rs]
        )
        for r in rs:
            # left of its diamond, at its height: the markers' labels hang right of their lines
            # from the top, and a rating is often asked just after a marker (treatment start)
            label = pg.TextItem(f"SUDS {r.rating}", color=SUDS_COLOUR, anchor=(1.08, 0.5))
            label.setPos(r.t_s, suds_y(r.rating))
            self.plot.addItem(label)
            self.suds_labels.append(label)

    def set_cursor(self, t_s: float) -> None:
        """Move the cursor to session time ``t_s`` (s) without emitting ``seek``."""
        self.cursor_line.blockSignals(True)
        self.cursor_line.setValue(float(t_s))
        self.cursor_line.blockSignals(False)

    def _clicked(self, ev) -> None:  # type: ignore[no-untyped-def]
        vb = self.plot.vb
        if vb.sceneBoundingRect().contains(ev.scenePos()):
            t = float(np.clip(vb.mapSceneToView(ev.scenePos()).x(), 0.0, self.duration))
            self.set_cursor(t)
            self.seek.emit(t)
