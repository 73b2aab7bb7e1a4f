"""Live ECG/EDA plots of the last seconds, read from ring buffers (record and set-up screens)."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QGraphicsItem, QWidget

from app.gui.widgets import unit_label


class LiveSignalsView(pg.GraphicsLayoutWidget):
    """ECG and EDA of the last seconds, read from the recorder's ring buffers."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setBackground("w")
        self.plots: dict[str, pg.PlotItem] = {}
        self.curves: dict[str, pg.PlotDataItem] = {}
        self._yrange: dict[str, tuple[float, float]] = {}
        self._last_range = 0.0

    def configure(self, channels: list[tuple[str, str, str]]) -> None:
        """``channels``: (stream name, channel, unit) to show, one plot each."""
        self.clear()
        self.plots.clear()
        self.curves.clear()
        self._yrange.clear()
        colours = ["#c0392b", "#1f6fb2", "#2e8b57", "#8e44ad"]
        for i, (_stream, ch, unit) in enumerate(channels):
            p = self.addPlot(row=i, col=0)
            p.setLabel("left", ch, units=None)
            p.getAxis("left").setLabel(f"{ch} ({unit_label(unit)})")
            p.showGrid(x=True, y=True, alpha=0.2)
            p.setMouseEnabled(x=False, y=False)
            p.hideButtons()
            # fixed ranges: axes re-render their text only when the y range really changes
            # (auto-ranging every frame made axis painting the GUI's largest cost)
            p.disableAutoRange()
            p.setXRange(-10.0, 0.0, padding=0.01)
            for ax in ("left", "bottom"):
                # the view repaints whole each frame; a cached axis is a blit, not text drawing
                p.getAxis(ax).setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
            # auto: ~8000 samples onto a few hundred pixels; peak keeps every R wave visible
            p.setDownsampling(auto=True, mode="peak")
            p.setClipToView(True)
            if i == len(channels) - 1:
                p.setLabel("bottom", "time (s, 0 = now)")
            curve = p.plot(pen=pg.mkPen(colours[i % len(colours)], width=1))
            self.plots[ch] = p
            self.curves[ch] = curve

    def _fit_y(self, ch: str, y: np.ndarray) -> None:
        """Adjust the y range when the data leave it or fill less than half of it."""
        fin = y[np.isfinite(y)]
        if not len(fin):
            return
        lo, hi = float(fin.min()), float(fin.max())
        pad = 0.1 * (hi - lo) or 0.05 * (abs(hi) or 1.0)
        cur = self._yrange.get(ch)
        if (
            cur is not None
            and cur[0] <= lo
            and hi <= cur[1]
            and (hi - lo) > 0.5 * (cur[1] - cur[0])
        ):
            return
        self._yrange[ch] = (lo - pad, hi + pad)
        self.plots[ch].setYRange(lo - pad, hi + pad, padding=0)

    def update_from(self, rings: dict[str, Any], streams: dict[str, Any]) -> None:
        now = time.monotonic()
        refit = now - self._last_range >= 1.0
        if refit:
            self._last_range = now
        for name, ring in rings.items():
            counters, x = ring.snapshot()
            if not len(counters):
                continue
            info = streams[name]
            t = (counters - counters[-1]) / info.rate_hz
            for ci, ch in enumerate(info.channels):
                if ch in self.curves:
                    y = np.ascontiguousarray(x[:, ci])
                    if refit or ch not in self._yrange:
                        self._fit_y(ch, y)
                    if not np.isfinite(y).all():  # a gap: draw it as a break, never bridge it
                        self.curves[ch].setData(t, y, connect="finite")
                    else:
                        self.curves[ch].setData(t, y, connect="all", skipFiniteCheck=True)
