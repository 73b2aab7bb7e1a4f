"""Playback — signals and video of a recorded session in sync on one time slider, with markers.

The overview shows the whole session (EDA level and heart-rate course); the detail plots show
10 s of ECG and EDA at full rate around the cursor; the video shows the frame at the cursor.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from app.gui.timeline_view import TimeAxis
from app.gui.widgets import VideoView, banner, heading, unit_label
from core.catalog import Catalog
from core.recording import SessionData, open_session
from core.recording.manifest import simulated_devices
from core.recording.video_file import SessionVideo
from core.timefmt import format_clock, format_local_time

MARKER_NAMES = {"treatment_start": "Treatment start", "treatment_end": "Treatment end"}
DETAIL_S = 10.0


class PlaybackPage(QWidget):
    """Play back one session."""

    back = Signal(int)  # patient id

    def __init__(self, catalog: Catalog, data_root: Path, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.catalog = catalog
        self.data_root = data_root
        self.data: SessionData | None = None
        self.vreader: SessionVideo | None = None
        self.patient_id: int | None = None
        self.t = 0.0
        self.title = heading("Playback")
        self.sim_banner = banner("SIMULATED DATA — recorded from simulated devices")
        back = QPushButton("← Patient")
        back.clicked.connect(lambda: self.back.emit(self.patient_id or 0))
        self.video = VideoView("no video", 480, 280)
        self.info = QLabel()
        self.info.setWordWrap(True)
        self.info.setAlignment(Qt.AlignmentFlag.AlignTop)
        self.plots = pg.GraphicsLayoutWidget()
        self.plots.setBackground("w")
        # session time on a clock (m:ss), as everywhere else, not in seconds
        self.overview, self.ecg_plot, self.eda_plot = (
            self.plots.addPlot(row=r, col=0, axisItems={"bottom": TimeAxis(orientation="bottom")})
            for r in range(3)
        )
        self.overview.setLabel("bottom", "session time")
        self.overview.setMouseEnabled(x=False, y=False)
        self.overview.scene().sigMouseClicked.connect(self._overview_click)
        for p in (self.overview, self.ecg_plot, self.eda_plot):
            # values in the unit the label names: never "(x0.001)" beside a sub-millivolt ECG
            p.getAxis("left").enableAutoSIPrefix(False)
        for p in (self.ecg_plot, self.eda_plot):
            p.setDownsampling(mode="peak")
            p.setClipToView(True)
            p.showGrid(x=True, y=True, alpha=0.2)
            p.setMouseEnabled(x=False, y=True)
        self.eda_plot.setXLink(self.ecg_plot)
        self.eda_plot.setLabel("bottom", "session time")
        self.ecg_curve = self.ecg_plot.plot(pen=pg.mkPen("#c0392b"), connect="finite")
        self.eda_curve = self.eda_plot.plot(pen=pg.mkPen("#1f6fb2"), connect="finite")
        self.ov_curve = self.overview.plot(pen=pg.mkPen("#1f6fb2"), connect="finite")
        self.cursors = [pg.InfiniteLine(angle=90, pen=pg.mkPen("#333", width=2)) for _ in range(3)]
        for p, c in zip((self.overview, self.ecg_plot, self.eda_plot), self.cursors, strict=True):
            p.addItem(c)
        self.marker_items: list[pg.InfiniteLine] = []
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.valueChanged.connect(lambda v: self.seek(v / 1000.0, from_slider=True))
        self.play_btn = QPushButton("▶ Play")
        self.play_btn.clicked.connect(self.toggle_play)
        self.speed = QComboBox()
        for s in (1, 2, 5, 10):
            self.speed.addItem(f"{s}×", s)
        self.time_label = QLabel("0:00 / 0:00")
        self.time_label.setStyleSheet("font-family:monospace; font-size:14px;")
        self.timer = QTimer(self)
        self.timer.setInterval(40)
        self.timer.timeout.connect(self._advance)
        top = QHBoxLayout()
        top.addWidget(back)
        top.addWidget(self.title, 1)
        mid = QHBoxLayout()
        side = QVBoxLayout()
        side.addWidget(self.video)
        side.addWidget(self.info, 1)
        mid.addLayout(side)
        mid.addWidget(self.plots, 1)
        ctrl = QHBoxLayout()
        ctrl.addWidget(self.play_btn)
        ctrl.addWidget(self.speed)
        ctrl.addWidget(self.slider, 1)
        ctrl.addWidget(self.time_label)
        lay = QVBoxLayout(self)
        lay.addLayout(top)
        lay.addWidget(self.sim_banner)
        lay.addLayout(mid, 1)
        lay.addLayout(ctrl)

    def load(self, session_id: int) -> None:
        """Open a session for playback."""
        rec = self.catalog.get_session(session_id)
        if rec is None:
            raise KeyError(f"no session {session_id}")
        self.stop()
        self.patient_id = rec.patient_id
        p = self.catalog.get_patient(rec.patient_id)
        self.data = data = open_session(self.data_root / rec.folder)
        if self.vreader is not None:
            self.vreader.close()
        self.vreader = data.video()
        self.frame_t = (
            (np.asarray(self.vreader.timestamps_ns, dtype=np.int64) - data.t0_ns) / 1e9
            if self.vreader is not None
            else np.zeros(0)
        )
        self._shown_frame: int | None = None
        self.current_frame: int | None = None
        self.video.clear_image("no video in this session" if self.vreader is None else "")
        self.duration = max(data.duration_s, 0.001)
        self.title.setText(
            f"Playback — patient {p.code if p else '?'} — {format_local_time(rec.started_at)}"
        )
        self.sim_banner.setVisible(data.simulated)
        if data.simulated:
            what = simulated_devices(data.manifest) or "devices"
            self.sim_banner.setText(f"SIMULATED DATA — recorded from the simulated {what}")
        self.sig = {}
        for ch, plot, curve, unit_axis in (
            ("ECG", self.ecg_plot, self.ecg_curve, "ECG"),
            ("EDA", self.eda_plot, self.eda_curve, "EDA"),
        ):
            try:
                s = data.signal(ch)
            except KeyError:  # an imported session may hold only one of the two
                curve.setData([], [])
                plot.setLabel("left", f"{unit_axis}: not in this session")
                continue
            self.sig[ch] = s
            plot.setLabel("left", f"{unit_axis} ({unit_label(s.unit)})")
            curve.setData(s.t_s, s.values, connect="finite")
        if "EDA" in self.sig:
            s = self.sig["EDA"]
            step = max(1, int(s.rate_hz / 4))  # 4 Hz is plenty for the whole-session overview
            self.ov_curve.setData(s.t_s[::step], s.values[::step], connect="finite")
            self.overview.setLabel("left", f"EDA ({unit_label(s.unit)})")
        else:  # nothing of the last session may stay on screen
            self.ov_curve.setData([], [])
            self.overview.setLabel("left", "EDA: not in this session")
        self.overview.setXRange(0, self.duration, padding=0.01)
        for item in self.marker_items:
            for p in (self.overview, self.ecg_plot, self.eda_plot):
                if item in p.items:
                    p.removeItem(item)
        self.marker_items = []
        self.markers = self.catalog.list_markers(session_id)
        for i, m in enumerate(self.markers):
            text = MARKER_NAMES.get(m.kind, m.label or "marker")
            colour = "#2e9d4f" if m.kind != "note" else "#e6a118"
            for p in (self.overview, self.ecg_plot, self.eda_plot):
                line = pg.InfiniteLine(
                    pos=m.t_s,
                    angle=90,
                    pen=pg.mkPen(colour, width=2, style=Qt.PenStyle.DashLine),
                    label=text if p is self.overview else None,
                    # staggered heights keep labels of nearby markers apart
                    labelOpts={"position": 0.92 - 0.14 * (i % 4), "color": colour},
                )
                p.addItem(line)
                self.marker_items.append(line)
        q = rec.quality or {}
        lines = [f"<b>Duration</b> {format_clock(rec.duration_s)} · status {rec.status}"]
        for name, st in q.get("streams", {}).items():
            lines.append(
                f"<b>{name}</b>: {st['received']:,} samples, lost {st['lost']:,} "
                f"({st['lost_pct']:.2f} %) in {st['gaps']} gaps"
            )
        v = q.get("video")
        if v:
            lines.append(
                f"<b>Video</b>: {v['frames']:,} frames at {v['fps']:.1f} fps, {v['dropped']} dropped"
            )
        lines.append(f"<b>Markers</b>: {len(self.markers)}")
        self.info.setText("<br>".join(lines))
        self.slider.blockSignals(True)
        self.slider.setRange(0, int(self.duration * 1000))
        self.slider.blockSignals(False)
        self.seek(0.0)

    def seek(self, t: float, from_slider: bool = False) -> None:
        """Move every view to session time ``t`` (s)."""
        if self.data is None:
            return
        self.t = float(np.clip(t, 0.0, self.duration))
        if not from_slider:
            self.slider.blockSignals(True)
            self.slider.setValue(int(self.t * 1000))
            self.slider.blockSignals(False)
        for c in self.cursors:
            c.setPos(self.t)
        half = DETAIL_S / 2
        self.ecg_plot.setXRange(self.t - half, self.t + half, padding=0)
        for ch, plot in (("ECG", self.ecg_plot), ("EDA", self.eda_plot)):
            s = self.sig.get(ch)
            if s is None:
                continue
            i0, i1 = np.searchsorted(s.t_s, [self.t - half, self.t + half])
            seg = s.values[i0:i1]
            seg = seg[np.isfinite(seg)]
            if len(seg):
                lo, hi = float(seg.min()), float(seg.max())
                pad = 0.1 * (hi - lo) or 0.1
                plot.setYRange(lo - pad, hi + pad, padding=0)
        self.time_label.setText(f"{format_clock(self.t)} / {format_clock(self.duration)}")
        self._show_frame()

    def _show_frame(self) -> None:
        if self.vreader is None or not len(self.frame_t):
            return
        i = int(
            np.clip(
                np.searchsorted(self.frame_t, self.t, side="right") - 1, 0, len(self.frame_t) - 1
            )
        )
        if self._shown_frame == i:
            return
        self._shown_frame = i
        self.video.show_image(self.vreader.read(i))
        self.current_frame = i

    def _overview_click(self, ev) -> None:  # type: ignore[no-untyped-def]
        vb = self.overview.vb
        if self.overview.sceneBoundingRect().contains(ev.scenePos()):
            self.seek(vb.mapSceneToView(ev.scenePos()).x())

    def toggle_play(self) -> None:
        if self.timer.isActive():
            self.stop()
        else:
            if self.t >= self.duration:
                self.seek(0.0)
            self.timer.start()
            self.play_btn.setText("⏸ Pause")

    def stop(self) -> None:
        self.timer.stop()
        self.play_btn.setText("▶ Play")

    def _advance(self) -> None:
        self.seek(self.t + self.timer.interval() / 1000.0 * float(self.speed.currentData()))
        if self.t >= self.duration:
            self.stop()
