"""Screens 3–4 — Session set-up and recording.

Set-up: consent, the devices (:class:`~app.gui.device_setup.DeviceSetup`: a Bluetooth or simulated
sensor with its test signal and quality light, a camera with the face box for aiming), the
simulated patient course when a simulated device is chosen, "Start recording" (a set-up that is not
sound needs a confirmation). Recording: big elapsed clock, treatment start/end buttons, a marker
field (Enter adds it; Space adds a quick marker elsewhere), live ECG and EDA of the last 10 s at
full rate, heart rate and EDA level, camera preview, achieved rates, losses, the sensor link's
state (reconnecting, reconnects, battery) and the latest device events, and status lights. The
GUI thread only draws: a 30 Hz timer reads the recorder's ring buffers.

Markers while recording: Enter adds the typed text and hands the keyboard back to the screen, so
the next Space is a quick marker; Space is a quick marker anywhere but inside typed text; Ctrl+Z
undoes the last marker added (or moved) in this session. Treatment start and end are marked once
each: a second press asks whether to move the marker to the time of the press. Text typed but not
added when the session stops becomes a marker of that session at the stop (the "Stop?" question
says so), and the field is empty for the next session.

SUDS while recording: S (outside a text field) opens a small entry (:mod:`app.gui.suds_entry`)
for the moment of the press; the rating is stored at that moment and shown beside heart rate and
EDA. A valid rating still open in the entry when the session stops is saved too.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QKeyEvent, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QApplication,
    QCheckBox,
    QComboBox,
    QFormLayout,
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

from app.gui.device_setup import DeviceSetup
from app.gui.live_view import LiveSignalsView
from app.gui.suds_entry import SudsDialog
from app.gui.widgets import StatusLight, VideoView, banner, heading
from app.gui.workers import Job, run_job
from core.catalog import MAX_LABEL_LEN, Catalog, Marker
from core.clinical import SudsRating
from core.config import Settings
from core.quality.live import LinkFigures, LiveFigures, StreamFigures, live_status, write_rate
from core.recording.disk import disk_time_text, expected_rate, minutes_available
from core.recording.session import RecordingSession
from core.recording.sources import DeviceFactory
from core.simulation.scenario import scenario_names
from core.timefmt import format_clock

if TYPE_CHECKING:  # pylsl loads only when an outlet is opened
    from devices.lsl.markers import MarkerOutlet

log = logging.getLogger(__name__)

SCENARIO_LABELS = {
    "anxious_to_calm": "Anxious → calm (the course therapy aims for)",
    "calm_to_anxious": "Calm → anxious (reversed)",
    "neutral": "Near neutral throughout",
}

#: the phase markers and their buttons' names
PHASE_NAMES = {"treatment_start": "Treatment start", "treatment_end": "Treatment end"}


def demo_banner_text(sim_sensor: bool, sim_camera: bool) -> str:
    """The demo banner for what is simulated in a session."""
    what = (
        "simulated sensor and camera"
        if sim_sensor and sim_camera
        else "simulated sensor"
        if sim_sensor
        else "simulated camera"
    )
    return f"DEMO MODE — {what}: these are not a real patient's data"


class RecordPage(QWidget):
    """Set up, record and stop one session."""

    finished = Signal(int)  # session id
    cancelled = Signal()
    #: scan for Bluetooth sensors and cameras when the set-up first opens (tests turn it off)
    auto_find_devices = True

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
        #: the storage rate the disk figures use until a session measures its own
        self.storage_rate = expected_rate(self.settings, "real", ())
        self._rate_for: str | None = None  # the camera kind storage_rate was found for
        self._last_preview = 0.0
        self._error_shown = False
        self.stopping_job: Job | None = None  # a stopped session being saved in the background
        self._closed = False
        #: what Ctrl+Z undoes, last first: (marker id, its time before a move; None: added)
        self.undo_stack: list[tuple[int, float | None]] = []
        self.suds_dialog: SudsDialog | None = None  # open while a SUDS rating is being typed
        #: the session's LSL marker outlet (only with Settings → lsl_markers on; None otherwise)
        self.marker_outlet: MarkerOutlet | None = None
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
        self.scenario.currentIndexChanged.connect(self._scenario_changed)
        self.start_btn = QPushButton("Start recording")
        self.start_btn.setStyleSheet("font-size:16px; font-weight:600; padding:8px 24px;")
        self.start_btn.clicked.connect(self.start_recording)
        self.cancel_btn = QPushButton("Cancel")
        self.cancel_btn.clicked.connect(self._cancel_setup)
        self.devices = DeviceSetup(self.settings, self.device_factory)
        self.devices.changed.connect(self._devices_changed)
        self.setup_box = QGroupBox("Set-up")
        v = QVBoxLayout(self.setup_box)
        f = QFormLayout()
        f.addRow(self.consent)
        self.scenario_label = QLabel("Simulated patient course")
        f.addRow(self.scenario_label, self.scenario)
        self.setup_disk = QLabel()
        f.addRow("Disk", self.setup_disk)
        v.addLayout(f)
        v.addWidget(self.devices, 1)
        self.setup_problems = QLabel()
        self.setup_problems.setWordWrap(True)
        self.setup_problems.setStyleSheet("color:#8a5a00;")
        v.addWidget(self.setup_problems)
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(self.cancel_btn)
        row.addWidget(self.start_btn)
        v.addLayout(row)
        # recording
        self.clock = QLabel("0:00")
        self.clock.setStyleSheet("font-size:48px; font-weight:700; font-family:monospace;")
        self.treat_start = QPushButton("Treatment start")
        self.treat_end = QPushButton("Treatment end")
        for b in (self.treat_start, self.treat_end):
            b.setStyleSheet("font-size:15px; padding:10px 18px;")
        self.treat_start.clicked.connect(lambda: self.mark_phase("treatment_start"))
        self.treat_end.clicked.connect(lambda: self.mark_phase("treatment_end"))
        self.marker_edit = QLineEdit()
        self.marker_edit.setMaxLength(MAX_LABEL_LEN)
        self.marker_edit.setPlaceholderText(
            "Marker text — Enter adds it (Space without typed text adds a quick marker)"
        )
        self.marker_edit.returnPressed.connect(self._typed_marker)
        self.marker_edit.installEventFilter(self)  # Space in the empty field: a quick marker
        self.markers_label = QLabel("No markers yet")
        self.stop_btn = QPushButton("Stop")
        self.stop_btn.setStyleSheet(
            "font-size:16px; font-weight:600; padding:8px 24px; color:#b00;"
        )
        self.stop_btn.clicked.connect(self.confirm_stop)
        self.signals = LiveSignalsView()
        self.preview = VideoView("camera", 320, 200, fast=True)
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
        # SUDS: S opens the entry (app/gui/suds_entry.py); the last rating and its moment
        self.suds = QLabel("–")
        self.suds.setStyleSheet("font-size:26px; font-weight:600; color:#7b3fa0;")
        self.suds.setToolTip("Subjective Units of Distress 0–100: press S to ask for a rating")
        nums.addRow("SUDS (S)", self.suds)
        right.addLayout(nums)
        for light in self.lights.values():
            right.addWidget(light)
        right.addWidget(self.rates)
        self.events_label = QLabel()
        self.events_label.setWordWrap(True)
        right.addWidget(self.events_label)
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
        # in the marker field Ctrl+Z undoes the typing (the field takes the key), elsewhere a marker
        self.undo = QShortcut(QKeySequence(QKeySequence.StandardKey.Undo), self)
        self.undo.activated.connect(self.undo_marker)
        self.undo.setEnabled(False)
        # S: a SUDS rating at this moment (never Space or Enter: those add markers). A text field
        # with focus takes the letter as typing, so S typed into the marker text stays an "s".
        self.suds_key = QShortcut(QKeySequence(Qt.Key.Key_S), self)
        self.suds_key.activated.connect(self.ask_suds)
        self.suds_key.setEnabled(False)

    # ---- set-up ------------------------------------------------------------------------------
    def prepare(self, patient_id: int) -> None:
        """Show the set-up for a new session of ``patient_id``."""
        self.patient_id = patient_id
        p = self.catalog.get_patient(patient_id)
        self.title.setText(f"New session — patient {p.code if p else patient_id}")
        self.consent.setChecked(False)
        self._reset_markers()
        self.setup_box.setVisible(True)
        self.rec_box.setVisible(False)
        self.filler.setVisible(True)
        self.devices.reset(str(self.scenario.currentData()), auto_find=self.auto_find_devices)
        self._show_disk(again=True)
        self._update_start()

    def _scenario_changed(self) -> None:
        self.devices.scenario = str(self.scenario.currentData())

    def _cancel_setup(self) -> None:
        self.devices.stop_tests()  # disconnects a tested sensor, closes the camera
        self.cancelled.emit()

    def _show_disk(self, again: bool = False) -> None:
        """The set-up's disk line, at the rate the recording screen will use until the session has
        measured its own (so the two screens agree). ``again``: look for the rate even when the
        camera kind is the same as last time (a new set-up)."""
        kind = self.devices.camera_choice()[0]
        camera = "none" if kind == "none" else "sim" if kind == "sim" else "real"
        if again or camera != self._rate_for:
            past = (
                (self.data_root / r.folder, r.duration_s or 0.0)
                for r in self.catalog.list_sessions()
                if r.status != "recording"
            )
            self.storage_rate = expected_rate(self.settings, camera, past)
            self._rate_for = camera
        mins = minutes_available(self.data_root, self.storage_rate.bytes_per_s)
        self.setup_disk.setText(
            f"{disk_time_text(mins)} of recording available ({self.storage_rate.basis})"
        )

    def _devices_changed(self) -> None:
        self._show_disk()
        sim_sensor = self.devices.sensor_kind() == "sim"
        sim_camera = self.devices.camera_choice()[0] == "sim"
        uses_sim = sim_sensor or sim_camera
        self.scenario.setVisible(uses_sim)
        self.scenario_label.setVisible(uses_sim)
        self.sim_banner.setVisible(uses_sim)
        self.sim_banner.setText(demo_banner_text(sim_sensor, sim_camera))
        problems = self.devices.problems()
        self.setup_problems.setText(
            "Before you start: " + "; ".join(problems) + "." if problems else ""
        )
        self._update_start()

    def _update_start(self) -> None:
        self.start_btn.setEnabled(self.consent.isChecked() and self.session is None)

    def start_recording(self) -> None:
        if self.patient_id is None or not self.consent.isChecked():
            return
        blocking = self.devices.blocking_problem()
        if blocking:
            QMessageBox.warning(self, "Recording not started", blocking)
            return
        problems = self.devices.problems()
        if problems:
            ans = QMessageBox.question(
                self,
                "Set-up not sound",
                "The set-up is not sound:\n\n"
                + "\n".join(f"• {p}" for p in problems)
                + "\n\nStart recording anyway?",
                QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
                QMessageBox.StandardButton.No,
            )
            if ans != QMessageBox.StandardButton.Yes:
                return
        self.devices.scenario = str(self.scenario.currentData())
        seed = int(time.time()) % 100_000
        try:
            sensor, camera, simulation = self.devices.take_devices(seed)
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
            self.devices.reset(str(self.scenario.currentData()), auto_find=False)
            return
        self.marker_outlet = None
        # LabRecorder can store the markers beside its streams; an LSL outlet is reachable from
        # the network (liblsl serves it on every interface), so only when Settings say so
        if self.settings.lsl_markers:
            from devices.lsl.markers import publish_session_markers

            self.marker_outlet = publish_session_markers(self.session, self.settings.lsl_network)
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
        self.sim_banner.setText(
            demo_banner_text(sensor.simulated, camera is not None and camera.simulated)
        )
        self._reset_markers()
        self.redraw_ns.clear()
        self._error_shown = False
        self.space.setEnabled(True)
        self.undo.setEnabled(True)
        self.suds_key.setEnabled(True)
        self.suds.setText("–")
        self.timer.start()
        self.setFocus()

    # ---- recording ---------------------------------------------------------------------------
    def add_marker(self, kind: str, label: str = "", t_s: float | None = None) -> Marker | None:
        """Add a marker to the session being recorded (Ctrl+Z undoes it).

        Parameters
        ----------
        kind : str
            ``treatment_start``, ``treatment_end`` or ``note``.
        label : str
            The marker's text.
        t_s : float, optional
            Session time (s); default now.

        Returns
        -------
        Marker or None
            The marker added; None when no session is being recorded.
        """
        if self.session is None:
            return None
        m = self.session.add_marker(kind, label, t_s)
        self.undo_stack.append((m.id, None))
        self._show_markers()
        return m

    def ask_suds(self) -> SudsDialog | None:
        """S: open the SUDS entry for this moment (the one already open is brought forward)."""
        if self.session is None:
            return None
        if self.suds_dialog is not None and self.suds_dialog.isVisible():
            self.suds_dialog.raise_()
            self.suds_dialog.activateWindow()
            return self.suds_dialog
        dialog = SudsDialog(self.session.elapsed_s(), self)
        dialog.rating_entered.connect(self.add_suds)
        dialog.finished.connect(lambda _r, d=dialog: self._suds_closed(d))
        self.suds_dialog = dialog
        dialog.show()
        dialog.raise_()
        dialog.activateWindow()
        return dialog

    def _suds_closed(self, dialog: SudsDialog) -> None:
        if self.suds_dialog is dialog:
            self.suds_dialog = None
        self.window().activateWindow()  # the keyboard back to the screen: Space, S work again
        self.setFocus()

    def add_suds(self, rating: int, t_s: float | None = None) -> SudsRating | None:
        """Store a SUDS rating of the session being recorded at ``t_s`` (default now)."""
        if self.session is None:
            return None
        try:
            r = self.session.add_suds(rating, t_s)
        except (ValueError, KeyError) as e:
            QMessageBox.warning(self, "SUDS rating not saved", str(e))
            return None
        self.suds.setText(
            f"{r.rating}  <span style='font-size:13px'>at {format_clock(r.t_s)}</span>"
        )
        self._show_markers(f"SUDS {r.rating} at {format_clock(r.t_s)}.")
        return r

    def _suds_at_stop(self) -> None:
        """A valid rating typed but not saved when the session stops is saved at its moment."""
        d, self.suds_dialog = self.suds_dialog, None
        if d is None or self.session is None:
            return
        rating = d.typed_rating() if d.isVisible() else None
        if rating is not None:
            try:
                self.session.add_suds(rating, d.t_s)
            except Exception:  # the stop goes on; the journal has the moment
                log.exception("the typed SUDS rating could not be saved at the stop")
        d.rating_entered.disconnect()
        d.reject()

    def mark_phase(self, kind: str) -> None:
        """A treatment button: mark the phase now, or — marked already — offer to move it.

        Parameters
        ----------
        kind : str
            ``treatment_start`` or ``treatment_end``.
        """
        if self.session is None:
            return
        t = self.session.elapsed_s()  # the moment of the press, not of the answer
        existing = self._phase_marker(kind)
        if existing is None:
            self.add_marker(kind, t_s=t)
            return
        name = PHASE_NAMES[kind]
        ans = QMessageBox.question(
            self,
            f"{name} already marked",
            f"{name} is already marked at {format_clock(existing.t_s)}.\n\n"
            f"Move it to {format_clock(t)}? (Ctrl+Z moves it back.)",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            QMessageBox.StandardButton.No,
        )
        if ans != QMessageBox.StandardButton.Yes or self.session is None:
            return
        moved = self.session.move_marker(existing.id, t)  # the LSL marker stream hears it too
        self.undo_stack.append((moved.id, existing.t_s))
        self._show_markers(f"{name} moved to {format_clock(moved.t_s)}.")

    def undo_marker(self) -> None:
        """Ctrl+Z: remove the last marker added in this session, or move a moved one back."""
        if self.session is None:
            return
        if not self.undo_stack:
            self._show_markers("Nothing to undo.")
            return
        marker_id, before = self.undo_stack.pop()
        m = next((x for x in self._markers() if x.id == marker_id), None)
        if m is None:  # removed by other means meanwhile
            self._show_markers("Nothing to undo: that marker is no longer in the session.")
            return
        what = f"{self._marker_name(m)} at {format_clock(m.t_s)}"
        if before is None:
            self.session.delete_marker(m.id)
            self._show_markers(f"Undone: {what} removed.")
        else:
            back = self.session.move_marker(m.id, before)
            self._show_markers(f"Undone: {what} moved back to {format_clock(back.t_s)}.")

    def _markers(self) -> list[Marker]:
        """The markers of the session being recorded (none without one)."""
        return self.catalog.list_markers(self.session.record.id) if self.session else []

    def _phase_marker(self, kind: str) -> Marker | None:
        return next((m for m in self._markers() if m.kind == kind), None)

    @staticmethod
    def _marker_name(m: Marker) -> str:
        return PHASE_NAMES.get(m.kind, f'"{m.label}"' if m.label else "marker")

    def _show_markers(self, note: str = "") -> None:
        """The latest markers, the treatment buttons' times and ``note`` (what just happened)."""
        ms = self._markers()
        if ms:
            recent = ", ".join(f"{format_clock(x.t_s)} {self._marker_name(x)}" for x in ms[-4:])
            undo = " (Ctrl+Z undoes the last)" if self.undo_stack else ""
            text = f"{len(ms)} markers — last: {recent}{undo}"
        else:
            text = "No markers yet"
        self.markers_label.setText(f"{note} {text}" if note else text)
        for kind, button in (
            ("treatment_start", self.treat_start),
            ("treatment_end", self.treat_end),
        ):
            m = next((x for x in ms if x.kind == kind), None)
            tick = f" ✓ {format_clock(m.t_s)}" if m is not None else ""
            button.setText(PHASE_NAMES[kind] + tick)

    def _reset_markers(self) -> None:
        """A new session: no typed text, nothing to undo, no phase marked."""
        self.marker_edit.clear()
        self.undo_stack.clear()
        self._show_markers()

    def _typed_marker(self) -> None:
        text = self.marker_edit.text().strip()
        try:
            self.add_marker("note", text or "marker")
        except ValueError as e:  # e.g. a control character pasted in: the text stays to fix
            QMessageBox.warning(self, "Marker not added", str(e))
            return
        self.marker_edit.clear()
        self.setFocus()  # the keyboard goes back to the screen: the next Space is a quick marker

    def _space_marker(self) -> None:
        if self.session is not None and not self.marker_edit.hasFocus():
            self.add_marker("note", "marker")

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 — Qt's name
        """Space in the marker field without typed text adds a quick marker instead of a space."""
        if (
            watched is self.marker_edit
            and event.type() == QEvent.Type.KeyPress
            and isinstance(event, QKeyEvent)
            and event.key() == Qt.Key.Key_Space
            and event.modifiers() == Qt.KeyboardModifier.NoModifier
            and self.session is not None
            and not self.marker_edit.text().strip()
        ):
            self.marker_edit.clear()
            self.add_marker("note", "marker")
            return True
        return super().eventFilter(watched, event)

    def _add_typed_at_stop(self) -> str:
        """Text typed but not added: a marker of this session at the stop; the field is emptied.

        Returns
        -------
        str
            What happened, for the screen ("" when nothing was typed).
        """
        text = self.marker_edit.text().strip()
        self.marker_edit.clear()
        if not text or self.session is None:
            return ""
        try:
            m = self.session.add_marker("note", text)
        except Exception as e:  # the recording must still stop and be saved
            log.exception("the typed marker could not be added at the stop")
            return f'The typed marker "{text}" could not be added: {e}'
        return f'The typed marker "{text}" was added at {format_clock(m.t_s)}.'

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
                self.preview.show_image(f.image)
            self._update_status()

    def _update_status(self) -> None:
        """Gather the session's live figures, let :func:`live_status` judge them, paint."""
        assert self.session is not None
        self.session.poll_device_notes()
        st = self.session.recorder.stats()
        infos = {i.name: i for i in self.session.recorder.streams.values()}
        cam = self.session.camera
        lost_ns = self.session.first_device_event_ns.get("camera_lost")
        bytes_per_s = write_rate(st.bytes_written, st.elapsed_s)
        mins = minutes_available(self.session.folder, bytes_per_s or self.storage_rate.bytes_per_s)
        status = live_status(
            LiveFigures(
                elapsed_s=st.elapsed_s,
                heart_rate_bpm=st.heart_rate_bpm,
                eda_level_us=st.eda_level_us,
                streams=tuple(
                    StreamFigures(name, ss.achieved_rate_hz, infos[name].rate_hz, ss.lost, ss.gaps)
                    for name, ss in st.streams.items()
                ),
                has_camera=cam is not None,
                camera_lost_at_s=(
                    (lost_ns - self.session.t0_ns) / 1e9 if lost_ns is not None else None
                ),
                nominal_fps=(float(cam.fps) if cam is not None else 0.0),
                achieved_fps=st.achieved_fps,
                frames_dropped=st.frames_dropped,
                frames_stored=st.frames_stored,
                disk_minutes=mins,
                storage_error=st.error,
                link=self._link_figures(),
            )
        )
        self.clock.setText(status.clock)
        self.hr.setText(status.heart_rate)
        self.eda.setText(status.eda_level)
        self.lights["link"].set(status.sensor.level, status.sensor.text)
        self.events_label.setText(self._events_text())
        for key, light in (
            ("signal", status.signal),
            ("camera", status.camera),
            ("disk", status.disk),
        ):
            self.lights[key].set(light.level, light.text)
        self.rates.setText("<br>".join(status.rates))
        if st.error and not self._error_shown:
            self._error_shown = True
            QMessageBox.critical(
                self,
                "Recording stopped storing data",
                f"{st.error}\n\nEverything up to this moment is saved. Stop the session and free "
                "disk space before recording again.",
            )

    def _link_figures(self) -> LinkFigures | None:
        """A Bluetooth sensor's link for the sensor light; None for a sensor without a link."""
        assert self.session is not None
        sensor = self.session.sensor
        state = sensor.link_state if sensor is not None else None
        if sensor is None or state is None:  # no link of its own: the data rate says it all
            return None
        since = [e for e in list(self.session.device_events) if e.kind == "disconnected"]
        down_s = (self.session.clock.now_ns() - since[-1].t_host_ns) / 1e9 if since else None
        return LinkFigures(state, sensor.reconnects, sensor.battery_percent, down_s)

    def _events_text(self) -> str:
        """The last device events the therapist should know about, with session times."""
        assert self.session is not None
        names = {
            "disconnected": "sensor link lost",
            "reconnected": "sensor reconnected",
            "camera_lost": "camera lost",
            "error": "device error",
            "timebase_reset": "sensor restarted",
        }
        shown = [e for e in list(self.session.device_events) if e.kind in names][-3:]
        out = []
        for e in shown:
            t = format_clock(max(0.0, (e.t_host_ns - self.session.t0_ns) / 1e9))
            extra = ""
            down_s = e.detail.get("down_s")  # None where the link never saw itself go down
            if e.kind == "reconnected" and isinstance(down_s, (int, float)):
                extra = f" after {down_s:.1f} s (gap recorded)"
            out.append(f"{t} {names[e.kind]}{extra}")
        return "<br>".join(out)

    def confirm_stop(self) -> None:
        if self.session is None:
            return
        typed = self.marker_edit.text().strip()
        extra = (
            f'\n\nThe marker text you typed, "{typed}", is added as a marker at the stop.'
            if typed
            else ""
        )
        ans = QMessageBox.question(
            self,
            "Stop recording?",
            "Stop the recording and save the session?" + extra,
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            QMessageBox.StandardButton.No,
        )
        if ans == QMessageBox.StandardButton.Yes:
            self.stop_recording(background=True)

    def stop_recording(self, background: bool = False) -> int | None:
        """Stop and save the session without asking; returns its id.

        ``background`` (the Stop button): the devices are closed and the files finalised in a worker
        thread, so a sensor that hangs on disconnecting never freezes the screen; :attr:`finished`
        (or, on failure, :attr:`cancelled`) follows and None is returned. Without it (the window
        closing, scripts) this waits and returns the id. Marker text typed but not added becomes a
        marker of this session at the stop.
        """
        if self.session is None:
            return None
        self.timer.stop()
        typed_note = self._add_typed_at_stop()
        self._suds_at_stop()
        self.space.setEnabled(False)
        self.undo.setEnabled(False)
        self.suds_key.setEnabled(False)
        s, self.session = self.session, None
        truth = None
        if s.sensor is not None and s.sensor.simulated:
            from app.demo.simulation import sensor_truth
            from devices.simulated.sensor import SimulatedSensor

            sensor = s.sensor
            if isinstance(sensor, SimulatedSensor):  # what only the simulator knows
                truth = lambda: sensor_truth(sensor)  # noqa: E731 — called after the devices stop
        self.undo_stack.clear()
        self._show_markers()  # no session: no phase marked
        self._update_start()
        if background:
            self._show_saving(True)
            if typed_note:
                self.markers_label.setText(f"{self.markers_label.text()} {typed_note}")

            def done(rec: Any) -> None:
                self.stopping_job = None
                self._show_saving(False)
                if not self._closed:
                    self.finished.emit(rec.id)

            def failed(msg: str) -> None:
                self.stopping_job = None
                self._show_saving(False)
                if not self._closed:
                    self._not_finalised(msg)

            self.stopping_job = run_job(lambda _p: s.stop(simulation_truth=truth), done, failed)
            return None
        if typed_note:
            log.info("%s", typed_note)  # the window is closing: the log says it
        try:
            rec = s.stop(simulation_truth=truth)
        except Exception as e:  # the data are on disk; the session is recovered at the next start
            log.exception("stopping the session failed")
            self._not_finalised(str(e))
            return None
        self.finished.emit(rec.id)
        return rec.id

    def _not_finalised(self, msg: str) -> None:
        QMessageBox.warning(self, "Session not finalised", msg)
        self.cancelled.emit()

    def _show_saving(self, on: bool) -> None:
        for w in (self.stop_btn, self.treat_start, self.treat_end, self.marker_edit):
            w.setEnabled(not on)
        self.stop_btn.setText("Saving…" if on else "Stop")
        if on:
            self.markers_label.setText("Saving the session: closing the devices and the files…")

    @property
    def saving(self) -> bool:
        """A stopped session is still being saved in the background."""
        return self.stopping_job is not None

    def wait_saved(self) -> None:
        """Before the window closes: let a background save finish (seconds at most)."""
        self._closed = True
        if self.stopping_job is not None and self.stopping_job.worker_thread.isRunning():
            self.markers_label.setText("Saving the session before closing…")
            self.markers_label.repaint()
            QApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
            try:
                self.stopping_job.worker_thread.wait()
            finally:
                QApplication.restoreOverrideCursor()

    @property
    def recording(self) -> bool:
        return self.session is not None

    def redraw_intervals_ms(self) -> np.ndarray:
        return np.diff(np.array(self.redraw_ns, dtype=np.int64)) / 1e6
