"""Screens 3–4 — Session set-up and recording.

Set-up: consent, the simulated patient course (demo), "Start recording". Recording: big elapsed
clock, treatment start/end buttons, a marker field (Enter adds it; Space adds a quick marker
elsewhere), live ECG and EDA of the last 10 s at full rate, heart rate and EDA level, camera
preview, achieved rates, losses and status lights. The GUI thread only draws: a 30 Hz timer reads
the recorder's ring buffers.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QGraphicsItem,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.widgets import StatusLight, banner, bgr_to_pixmap, fmt_duration, heading, unit_label
from core.catalog import Catalog
from core.config import Settings
from core.recording.disk import minutes_available
from core.recording.session import RecordingSession
from core.scenario import scenario_names

DeviceFactory = Callable[[str, int], tuple[Any, Any, dict[str, Any] | None]]

SCENARIO_LABELS = {
    "anxious_to_calm": "Anxious → calm (the course therapy aims for)",
    "calm_to_anxious": "Calm → anxious (reversed)",
    "neutral": "Near neutral throughout",
}


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
            t = (counters - counters[-1]) / info.rate
            for ci, ch in enumerate(info.channels):
                if ch in self.curves:
                    y = np.ascontiguousarray(x[:, ci])
                    if refit or ch not in self._yrange:
                        self._fit_y(ch, y)
                    if not np.isfinite(y).all():  # a gap: draw it as a break, never bridge it
                        self.curves[ch].setData(t, y, connect="finite")
                    else:
                        self.curves[ch].setData(t, y, connect="all", skipFiniteCheck=True)


class RecordPage(QWidget):
    """Set up, record and stop one session."""

    finished = Signal(int)  # session id
    cancelled = Signal()

    def __init__(
        self,
        catalog: Catalog,
        data_root: Path,
        device_factory: DeviceFactory,
        settings: Settings | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.catalog = catalog
        self.data_root = data_root
        self.device_factory = device_factory
        self.settings = settings or Settings()
        self.patient_id: int | None = None
        self.session: RecordingSession | None = None
        self.redraw_ns: list[int] = []  # timer tick times, for the redraw benchmark
        self._last_preview = 0.0
        self._error_shown = False
        self._build()
        self.timer = QTimer(self)
        # a precise 30 ms timer keeps redraws at ≥ 30 Hz; a coarse one may fire up to 5 % late
        self.timer.setTimerType(Qt.TimerType.PreciseTimer)
        self.timer.setInterval(30)
        self.timer.timeout.connect(self._tick)

    # ---- layout ------------------------------------------------------------------------------
    def _build(self) -> None:
        self.title = heading("New session")
        self.sim_banner = banner(
            "DEMO MODE — simulated sensor and camera: these are not a real patient's data"
        )
        # set-up
        self.consent = QCheckBox("The patient has given informed consent to this recording")
        self.consent.toggled.connect(self._update_start)
        self.scenario = QComboBox()
        for n in scenario_names():
            self.scenario.addItem(SCENARIO_LABELS.get(n, n), n)
        self.start_btn = QPushButton("Start recording")
        self.start_btn.setStyleSheet("font-size:16px; font-weight:600; padding:8px 24px;")
        self.start_btn.clicked.connect(self.start_recording)
        self.cancel_btn = QPushButton("Cancel")
        self.cancel_btn.clicked.connect(self.cancelled.emit)
        self.setup_box = QGroupBox("Set-up")
        f = QFormLayout(self.setup_box)
        f.addRow(self.consent)
        f.addRow("Simulated patient course", self.scenario)
        self.setup_disk = QLabel()
        f.addRow("Disk", self.setup_disk)
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(self.cancel_btn)
        row.addWidget(self.start_btn)
        f.addRow(row)
        # recording
        self.clock = QLabel("0:00")
        self.clock.setStyleSheet("font-size:48px; font-weight:700; font-family:monospace;")
        self.treat_start = QPushButton("Treatment start")
        self.treat_end = QPushButton("Treatment end")
        for b in (self.treat_start, self.treat_end):
            b.setStyleSheet("font-size:15px; padding:10px 18px;")
        self.treat_start.clicked.connect(lambda: self.add_marker("treatment_start"))
        self.treat_end.clicked.connect(lambda: self.add_marker("treatment_end"))
        self.marker_edit = QLineEdit()
        self.marker_edit.setPlaceholderText(
            "Marker text — Enter adds it (Space elsewhere adds a quick marker)"
        )
        self.marker_edit.returnPressed.connect(self._typed_marker)
        self.markers_label = QLabel("No markers yet")
        self.stop_btn = QPushButton("Stop")
        self.stop_btn.setStyleSheet(
            "font-size:16px; font-weight:600; padding:8px 24px; color:#b00;"
        )
        self.stop_btn.clicked.connect(self.confirm_stop)
        self.signals = LiveSignalsView()
        self.preview = QLabel("camera")
        self.preview.setFixedSize(320, 240)
        self.preview.setStyleSheet("background:#222; color:#aaa;")
        self.preview.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.hr = QLabel("– bpm")
        self.eda = QLabel("– µS")
        for lab in (self.hr, self.eda):
            lab.setStyleSheet("font-size:26px; font-weight:600;")
        self.rates = QLabel()
        self.lights = {
            k: StatusLight(c)
            for k, c in (
                ("link", "Sensor"),
                ("signal", "Signal"),
                ("camera", "Camera"),
                ("disk", "Disk"),
            )
        }
        self.rec_box = QWidget()
        g = QGridLayout(self.rec_box)
        left = QVBoxLayout()
        top = QHBoxLayout()
        top.addWidget(self.clock)
        top.addStretch(1)
        top.addWidget(self.treat_start)
        top.addWidget(self.treat_end)
        top.addWidget(self.stop_btn)
        left.addLayout(top)
        left.addWidget(self.marker_edit)
        left.addWidget(self.markers_label)
        left.addWidget(self.signals, 1)
        right = QVBoxLayout()
        right.addWidget(self.preview)
        nums = QFormLayout()
        nums.addRow("Heart rate", self.hr)
        nums.addRow("EDA level", self.eda)
        right.addLayout(nums)
        for light in self.lights.values():
            right.addWidget(light)
        right.addWidget(self.rates)
        right.addStretch(1)
        g.addLayout(left, 0, 0)
        g.addLayout(right, 0, 1)
        g.setColumnStretch(0, 1)
        self.rec_box.setVisible(False)
        lay = QVBoxLayout(self)
        lay.addWidget(self.title)
        lay.addWidget(self.sim_banner)
        lay.addWidget(self.setup_box)
        lay.addWidget(self.rec_box, 1)
        # takes the free space while only the set-up is shown
        self.filler = QWidget()
        lay.addWidget(self.filler, 1)
        self.space = QShortcut(QKeySequence(Qt.Key.Key_Space), self)
        self.space.activated.connect(self._space_marker)
        self.space.setEnabled(False)  # only while recording: in set-up Space ticks boxes

    # ---- set-up ------------------------------------------------------------------------------
    def prepare(self, patient_id: int) -> None:
        """Show the set-up for a new session of ``patient_id``."""
        self.patient_id = patient_id
        p = self.catalog.get_patient(patient_id)
        self.title.setText(f"New session — patient {p.code if p else patient_id}")
        self.consent.setChecked(False)
        self.setup_box.setVisible(True)
        self.rec_box.setVisible(False)
        self.filler.setVisible(True)
        mins = minutes_available(self.data_root, self.settings)
        self.setup_disk.setText(f"{mins:,.0f} minutes of recording available")
        self._update_start()

    def _update_start(self) -> None:
        self.start_btn.setEnabled(self.consent.isChecked() and self.session is None)

    def start_recording(self) -> None:
        if self.patient_id is None or not self.consent.isChecked():
            return
        scenario = str(self.scenario.currentData())
        seed = int(time.time()) % 100_000
        try:
            sensor, camera, simulation = self.device_factory(scenario, seed)
            self.session = RecordingSession.start(
                self.catalog,
                self.data_root,
                self.patient_id,
                sensor,
                camera,
                consent=True,
                consent_note="consent confirmed in the app",
                settings=self.settings,
                simulation=simulation,
            )
        except Exception as e:
            QMessageBox.critical(self, "Recording not started", str(e))
            self.session = None
            return
        rec = self.session.recorder
        chans = [
            (s.name, ch, s.units[i])
            for s in rec.streams.values()
            for i, ch in enumerate(s.channels)
        ]
        self.signals.configure(chans)
        self.setup_box.setVisible(False)
        self.filler.setVisible(False)
        self.rec_box.setVisible(True)
        self.sim_banner.setVisible(bool(self.session.manifest.get("simulated")))
        self.markers_label.setText("No markers yet")
        self.redraw_ns.clear()
        self._error_shown = False
        self.space.setEnabled(True)
        self.timer.start()
        self.setFocus()

    # ---- recording ---------------------------------------------------------------------------
    def add_marker(self, kind: str, label: str = "") -> None:
        if self.session is None:
            return
        m = self.session.add_marker(kind, label)
        names = {"treatment_start": "Treatment start", "treatment_end": "Treatment end"}
        text = names.get(kind, label or "marker")
        ms = self.catalog.list_markers(self.session.record.id)
        recent = ", ".join(
            f"{fmt_duration(x.t_s)} {names.get(x.kind, x.label or 'marker')}" for x in ms[-4:]
        )
        self.markers_label.setText(f"{len(ms)} markers — last: {recent}")
        if kind == "treatment_start":
            self.treat_start.setText(f"Treatment start ✓ {fmt_duration(m.t_s)}")
        elif kind == "treatment_end":
            self.treat_end.setText(f"Treatment end ✓ {fmt_duration(m.t_s)}")
        del text

    def _typed_marker(self) -> None:
        text = self.marker_edit.text().strip()
        self.add_marker("note", text or "marker")
        self.marker_edit.clear()

    def _space_marker(self) -> None:
        if self.session is not None and not self.marker_edit.hasFocus():
            self.add_marker("note", "marker")

    def _tick(self) -> None:
        s = self.session
        if s is None:
            return
        self.redraw_ns.append(time.perf_counter_ns())
        rec = s.recorder
        self.signals.update_from(rec.rings, {i.name: i for i in rec.streams.values()})
        now = time.monotonic()
        if now - self._last_preview >= 1 / 15:  # the preview needs no more than 15 fps
            self._last_preview = now
            f = rec.frame_slot.get()
            if f is not None:
                self.preview.setPixmap(bgr_to_pixmap(f.image, 320, fast=True))
            self._update_status()

    def _update_status(self) -> None:
        assert self.session is not None
        st = self.session.recorder.stats()
        self.clock.setText(fmt_duration(st.elapsed_s))
        self.hr.setText(f"{st.heart_rate_bpm:.0f} bpm" if st.heart_rate_bpm else "– bpm")
        self.eda.setText(f"{st.eda_level_us:.2f} µS" if st.eda_level_us else "– µS")
        infos = {i.name: i for i in self.session.recorder.streams.values()}
        parts = []
        link, sig = ("green", ""), ("green", "")
        for name, ss in st.streams.items():
            nominal = infos[name].rate
            parts.append(
                f"{name}: {ss.achieved_rate:,.0f} of {nominal:,.0f} Hz · lost {ss.lost} samples "
                f"in {ss.gaps} gaps"
            )
            if st.elapsed_s > 3 and ss.achieved_rate < 0.5 * nominal:
                link = ("red", "no data")
            elif st.elapsed_s > 3 and ss.achieved_rate < 0.95 * nominal:
                link = ("amber", f"{ss.achieved_rate:,.0f} Hz")
            else:
                link = (link[0], f"{ss.achieved_rate:,.0f} Hz")
            if ss.lost:
                sig = ("amber", f"{ss.lost} samples lost")
        self.lights["link"].set(*link)
        self.lights["signal"].set(*(sig if sig[1] else ("green", "no loss")))
        fps_nom = self.settings.camera_fps
        cam_state = "green" if st.achieved_fps >= 0.9 * fps_nom or st.elapsed_s < 3 else "amber"
        self.lights["camera"].set(
            cam_state, f"{st.achieved_fps:.1f} fps · {st.frames_dropped} dropped"
        )
        rate = st.bytes_written / st.elapsed_s if st.elapsed_s > 5 else None
        mins = minutes_available(self.session.folder, self.settings, bytes_per_s=rate)
        disk = "green" if mins > 30 else "amber" if mins > 10 else "red"
        if st.error:
            self.lights["disk"].set("red", st.error)
        else:
            self.lights["disk"].set(disk, f"{mins:,.0f} min available")
        parts.append(f"video: {st.frames_stored} frames stored")
        self.rates.setText("<br>".join(parts))
        if st.error and not self._error_shown:
            self._error_shown = True
            QMessageBox.critical(
                self,
                "Recording stopped storing data",
                f"{st.error}\n\nEverything up to this moment is saved. Stop the session and free "
                "disk space before recording again.",
            )

    def confirm_stop(self) -> None:
        if self.session is None:
            return
        ans = QMessageBox.question(
            self,
            "Stop recording?",
            "Stop the recording and save the session?",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            QMessageBox.StandardButton.No,
        )
        if ans == QMessageBox.StandardButton.Yes:
            self.stop_recording()

    def stop_recording(self) -> int | None:
        """Stop without asking (also used when the window closes); returns the session id."""
        if self.session is None:
            return None
        self.timer.stop()
        self.space.setEnabled(False)
        s, self.session = self.session, None
        truth = None
        if s.sensor is not None and s.sensor.simulated:
            from devices.simulation import sensor_truth

            sensor = s.sensor
            truth = lambda: sensor_truth(sensor)  # noqa: E731 — called after the devices stop
        self.treat_start.setText("Treatment start")
        self.treat_end.setText("Treatment end")
        self._update_start()
        try:
            rec = s.stop(simulation_truth=truth)
        except RuntimeError as e:
            QMessageBox.warning(self, "Session not finalised", str(e))
            self.cancelled.emit()
            return None
        self.finished.emit(rec.id)
        return rec.id

    @property
    def recording(self) -> bool:
        return self.session is not None

    def redraw_intervals_ms(self) -> np.ndarray:
        return np.diff(np.array(self.redraw_ns, dtype=np.int64)) / 1e6
