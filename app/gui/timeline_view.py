"""Valence and arousal over the session, with the pre/post windows, the markers, the SUDS ratings
(read on the right axis, 0–100) and a cursor."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt, Signal
from PySide6.QtGui import QFontMetrics
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
#: the plot's own minimum height (px): below it the marker labels, the window captions and the
#: axis titles no longer fit
PLOT_MIN_HEIGHT = 120
#: marker labels hang from the plot's top at up to this many heights, so that close ones do not
#: overlap; one that still would is elided (its full text in its tooltip)
MARKER_LEVELS = 3
_LABEL_GAP = 6  # px between two marker labels on one level


def suds_y(rating: float) -> float:
    """A SUDS rating 0–100 on the plot's −1 … +1 scale (read off the right axis: 0, 50, 100)."""
    return float(rating) / 50.0 - 1.0


def _literal(text: str) -> str:
    """``text`` as an InfLineLabel format string that shows it as it is (braces included)."""
    return text.replace("{", "{{").replace("}", "}}")


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
        # short axis titles (a 150 px high plot has room for no more); the scales in tooltips
        p.setLabel("left", "estimate", **{"color": "#333", "font-size": "9pt"})
        p.getAxis("left").setToolTip("Valence and arousal estimates, on the circumplex's −1 … +1")
        p.getAxis("bottom").setToolTip("Session time (m:ss)")  # no title: the ticks say it
        for side in ("left", "bottom"):
            p.getAxis(side).setTextPen(pg.mkPen("#333"))
            p.getAxis(side).setPen(pg.mkPen("#666"))
        p.addItem(pg.InfiniteLine(pos=0, angle=0, pen=pg.mkPen("#999")))
        # SUDS ratings (0–100) share the plot: the right axis reads them
        p.showAxis("right")
        right = p.getAxis("right")
        right.setTicks([[(suds_y(v), f"{v}") for v in (0, 50, 100)]])
        right.setLabel("SUDS", **{"color": SUDS_COLOUR, "font-size": "9pt"})
        right.setToolTip("SUDS: the patient's rating of distress, 0–100")
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
            f" post window&nbsp;&nbsp;&nbsp;<span style='color:{SUDS_COLOUR}'>◆</span> SUDS"
        )
        # one line on a 1024 px display; the rest of the explanation on hover
        self.legend.setToolTip(
            "Gaps in the curves: not estimated (no face, lost samples).\n"
            "◆ SUDS: the patient's rating of distress, 0–100, read on the right scale."
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
        #: each marker's time (s), full label text and label item, in time order
        self.marker_labels: list[tuple[float, str, pg.InfLineLabel]] = []
        self.duration = 1.0
        p.scene().sigMouseClicked.connect(self._clicked)
        p.vb.sigResized.connect(self._place_marker_labels)
        p.vb.sigXRangeChanged.connect(self._place_marker_labels)
        self.plot_widget.setMinimumHeight(PLOT_MIN_HEIGHT)
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
        """Draw the markers as labelled vertical lines (the full label in each one's tooltip)."""
        self.marker_labels = []  # first: each label is its line's child, deleted with it
        for item in self.marker_items:
            self.plot.removeItem(item)
        self.marker_items = []
        for m in sorted(markers, key=lambda m: m.t_s):
            colour = "#2e7d32" if m.kind != "note" else "#b7791f"
            text = MARKER_NAMES.get(m.kind, m.label or "note")
            line = pg.InfiniteLine(
                pos=m.t_s, angle=90, pen=pg.mkPen(colour, width=1.5, style=Qt.PenStyle.DashLine)
            )
            line.setToolTip(f"{text} at {format_clock(m.t_s)}")
            # hanging from the top, right of the line: above the data (which stay within ±1)
            label = pg.InfLineLabel(
                line, text=_literal(text), position=0.985, anchors=[(0, 0), (0, 0)], color=colour
            )
            label.setToolTip(f"{text} at {format_clock(m.t_s)}")
            self.plot.addItem(line)
            self.marker_items.append(line)
            self.marker_labels.append((float(m.t_s), text, label))
        self._place_marker_labels()

    def _place_marker_labels(self) -> None:
        """Hang each marker's label at the highest level where it does not run into the label
        before it; where all levels are taken, the earlier label is elided (or hidden) to end
        before this one begins. Redone whenever the plot's size or time range changes."""
        vb = self.plot.vb
        width, height = vb.width(), vb.height()
        if not self.marker_labels or width <= 0 or height <= 0:
            return
        (x0, x1), _ = vb.viewRange()
        scale = width / max(x1 - x0, 1e-9)
        fm = QFontMetrics(self.marker_labels[0][2].textItem.font())
        step = fm.height() + 1
        ends = [-np.inf] * MARKER_LEVELS
        owners: list[tuple[pg.InfLineLabel, float, str] | None] = [None] * MARKER_LEVELS
        for t, text, label in self.marker_labels:
            start = (t - x0) * scale
            free = [i for i in range(MARKER_LEVELS) if ends[i] + _LABEL_GAP <= start]
            level = free[0] if free else int(np.argmin(ends))
            owner = owners[level]
            if not free and owner is not None:  # the earlier label gives way
                before, before_start, before_text = owner
                room = int(start - before_start - _LABEL_GAP - 4)
                short = fm.elidedText(before_text, Qt.TextElideMode.ElideRight, room)
                before.setVisible(room > fm.horizontalAdvance("…") * 3 and short != "…")
                before.setFormat(_literal(short))
            label.setVisible(True)
            label.setFormat(_literal(text))
            label.setPosition(1.0 - (2 + level * step) / height)
            ends[level] = start + label.boundingRect().width()
            owners[level] = (label, start, text)

    def marker_label_rects(self) -> list[tuple[str, QRectF]]:
        """Each visible marker label's shown text and the scene rectangle of its glyphs (without
        the text item's margins), for checks of overlap."""
        out = []
        for _, _, label in self.marker_labels:
            if label.isVisible():
                m = label.textItem.document().documentMargin()
                rect = label.textItem.sceneBoundingRect().adjusted(m, m, -m, -m)
                out.append((label.textItem.toPlainText(), rect))
        return out

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
