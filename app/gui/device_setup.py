"""Session set-up, devices: find, connect and test the bio-sensor; choose, preview and aim the camera.

Bio-sensor: the simulated ECG+EDA sensor (demo) or a Bluetooth sensor found by a scan (Polar H10,
PLUX BITalino, TheraScope open profile). "Connect and test" connects, reads the battery and shows a
few seconds of live signal with a quality light (:mod:`core.quality.signal_check`). Camera: the simulated
camera (demo), a camera OpenCV finds, or none; "Preview" shows it with the face box the analysis'
detector finds, so the camera can be aimed.

Nothing here blocks the GUI thread: scans, connections and camera opening run as jobs; test-signal
batches arrive on the BLE thread into ring buffers; face detection has its own thread; a 10 Hz
timer draws. :meth:`DeviceSetup.take_devices` hands the tested devices to the recording session.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QColor, QPainter, QPen, QPixmap
from PySide6.QtWidgets import (
    QComboBox,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)
from shiboken6 import isValid

from app.gui.live_view import LiveSignalsView
from app.gui.widgets import StatusLight, VideoView, unit_label
from app.gui.workers import run_job
from core.config import Settings
from core.quality.signal_check import check_stream, face_aim, worst
from core.recording.live import FrameSlot, SignalRing
from core.recording.sources import BioSensor, Camera, DeviceFactory, DeviceSet
from core.types import DeviceEvent, SampleBatch, StreamInfo

if TYPE_CHECKING:  # imported where used: bleak and pylsl load only when a sensor is chosen
    from devices.ble.sensor import BleSensor
    from devices.lsl.sensor import LslSensor

log = logging.getLogger(__name__)

PREVIEW_W = 320


class SignalPreview:
    """Test-signal sink (called on the sensor's thread): the last seconds per stream, and rates."""

    def __init__(self, streams: list[StreamInfo], seconds: float = 10.0) -> None:
        self.streams = {s.stream_id: s for s in streams}
        self.rings = {s.name: SignalRing(s.rate_hz, len(s.channels), seconds) for s in streams}
        self._lock = threading.Lock()
        self._arrivals: dict[int, list[tuple[float, int]]] = {s.stream_id: [] for s in streams}

    def __call__(self, batch: SampleBatch) -> None:
        info = self.streams.get(batch.stream_id)
        if info is None:
            return
        self.rings[info.name].write(batch.first_counter, batch.samples)
        with self._lock:
            arr = self._arrivals[batch.stream_id]
            arr.append((time.monotonic(), batch.n))
            cut = time.monotonic() - 5.0
            while len(arr) > 2 and arr[0][0] < cut:
                arr.pop(0)

    def achieved_rate_hz(self, stream_id: int) -> float | None:
        """Samples received per second over the last ≈ 5 s (None before two batches)."""
        with self._lock:
            arr = list(self._arrivals.get(stream_id, []))
        if len(arr) < 2:
            return None
        now = time.monotonic()
        if now - arr[-1][0] > 2.0:  # the data stopped
            return 0.0
        span = arr[-1][0] - arr[0][0]
        return sum(n for _, n in arr[1:]) / span if span > 0 else None


class FaceAim:
    """Face detection on the newest preview frame, 4 times a second, in its own thread."""

    def __init__(self, slot: FrameSlot, period_s: float = 0.25) -> None:
        self.slot = slot
        self.period_s = period_s
        self._lock = threading.Lock()
        self._result: tuple[tuple[float, float, float, float] | None, int, int] | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="face-aim", daemon=True)
        self.error: str | None = None

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(2.0)

    @property
    def result(self) -> tuple[tuple[float, float, float, float] | None, int, int] | None:
        """(box (x, y, w, h) or None, frame width, frame height) of the last frame checked."""
        with self._lock:
            return self._result

    def _run(self) -> None:
        from core.faces.detect import make_detector

        try:
            detector = make_detector()
        except (OSError, ValueError) as e:
            self.error = f"face detector unavailable: {e}"
            return
        last_index = -1
        while not self._stop.wait(self.period_s):
            f = self.slot.get()
            if f is None or f.index == last_index:
                continue
            last_index = f.index
            try:
                faces = detector.detect(f.image)
            except Exception as e:  # a bad frame must not end the preview
                log.warning("face detection failed on a preview frame: %r", e)
                continue
            best = max(faces, key=lambda b: b.w * b.h, default=None)
            box = None if best is None else (best.x, best.y, best.w, best.h)
            h, w = f.image.shape[:2]
            with self._lock:
                self._result = (box, int(w), int(h))


class DeviceSetup(QWidget):
    """The set-up screen's device part: bio-sensor and camera, each tested before recording.

    Parameters
    ----------
    settings : Settings — rates, frame size, and the devices used last (remembered here)
    sim_factory : DeviceFactory, optional — makes the simulated devices (demo); None hides them
    camera_lister : callable, optional — ``() -> [{"index"|"source", "width", "height", "fps"}]``
        (default :func:`devices.camera.list_cameras`)
    """

    changed = Signal()

    def __init__(
        self,
        settings: Settings,
        sim_factory: DeviceFactory | None = None,
        camera_lister: Callable[[], list[dict[str, Any]]] | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.settings = settings
        self.sim_factory = sim_factory
        self.camera_lister = camera_lister
        self.scenario = "anxious_to_calm"
        self._transport: Any = None
        self.sensor: BioSensor | None = None  # the sensor being tested (handed over at start)
        self.sensor_preview: SignalPreview | None = None
        self._preview_streams: dict[str, StreamInfo] = {}
        self.sensor_error: str | None = None
        self.camera: Camera | None = None
        self.camera_slot = FrameSlot()
        self.camera_events: list[DeviceEvent] = []
        self.aim: FaceAim | None = None
        self.busy: set[str] = set()  # jobs running: "scan", "connect", "cameras", "camera"
        self._gen = 0  # bumped by reset(): results of older jobs are discarded
        self._scanned = False
        self._last_check = 0.0
        self.signal_level = "grey"
        self.face_level = "grey"
        self._build()
        self.timer = QTimer(self)
        self.timer.setInterval(100)
        self.timer.timeout.connect(self._tick)

    # ---- layout ------------------------------------------------------------------------------
    def _build(self) -> None:
        # bio-sensor
        self.sensor_combo = QComboBox()
        # the whole name shows (a row of its own): it says which sensor, and when it is simulated
        self.sensor_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.sensor_combo.currentIndexChanged.connect(self._sensor_choice_changed)
        self.scan_btn = QPushButton("Scan for Bluetooth sensors")
        self.scan_btn.clicked.connect(self.scan)
        self.scan_status = QLabel()
        self.scan_status.setWordWrap(True)
        self.lsl_status = QLabel()  # Lab Streaming Layer streams, found along with the scan
        self.lsl_status.setWordWrap(True)
        self.connect_btn = QPushButton("Connect and test signal")
        self.connect_btn.clicked.connect(self.connect_sensor)
        self.sensor_state = QLabel("Not connected")
        self.sensor_state.setWordWrap(True)
        self.sensor_light = StatusLight("Signal")
        self.live = LiveSignalsView()
        self.live.setMinimumHeight(100)
        self.sensor_box = QGroupBox("Bio-sensor (ECG and EDA)")
        g = QGridLayout(self.sensor_box)
        g.addWidget(self.sensor_combo, 0, 0, 1, 2)
        found = QVBoxLayout()
        found.addWidget(self.scan_status)
        found.addWidget(self.lsl_status)
        g.addLayout(found, 1, 0)
        g.addWidget(self.scan_btn, 1, 1, Qt.AlignmentFlag.AlignTop)
        g.addWidget(self.connect_btn, 2, 1)
        g.addWidget(self.sensor_state, 2, 0)
        g.addWidget(self.live, 3, 0, 1, 2)
        g.addWidget(self.sensor_light, 4, 0, 1, 2)
        g.setColumnStretch(0, 1)
        # camera
        self.camera_combo = QComboBox()
        self.camera_combo.currentIndexChanged.connect(self._camera_choice_changed)
        self.find_btn = QPushButton("Find cameras")
        self.find_btn.clicked.connect(self.find_cameras)
        self.preview_btn = QPushButton("Preview")
        self.preview_btn.setCheckable(True)
        self.preview_btn.toggled.connect(self._preview_toggled)
        self.camera_info = QLabel()
        self.camera_info.setWordWrap(True)
        self.preview = VideoView("Press Preview to see the camera", PREVIEW_W, 160, fast=True)
        self.face_light = StatusLight("Face")
        self.camera_box = QGroupBox("Camera")
        c = QVBoxLayout(self.camera_box)
        self.camera_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        c.addWidget(self.camera_combo)
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(self.find_btn)
        row.addWidget(self.preview_btn)
        c.addLayout(row)
        c.addWidget(self.preview, 3, Qt.AlignmentFlag.AlignHCenter)
        c.addWidget(self.face_light)
        c.addWidget(self.camera_info)
        c.addStretch(1)
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.sensor_box, 3)
        lay.addWidget(self.camera_box, 2)

    # ---- choices -------------------------------------------------------------------------------
    def reset(self, scenario: str = "anxious_to_calm", auto_find: bool = True) -> None:
        """Fill the choices for a new session (the devices used last are preselected)."""
        self.stop_tests()
        self._gen += 1
        self.scenario = scenario
        s = self.settings
        self.sensor_combo.blockSignals(True)
        self.sensor_combo.clear()
        if self.sim_factory is not None:
            self.sensor_combo.addItem(
                f"Simulated ECG + EDA, {s.bio_rate_hz:g} Hz (demo — not a patient's data)", ("sim",)
            )
        if s.sensor_address and s.sensor_profile:
            self._add_ble_item(s.sensor_address, s.sensor_name, s.sensor_profile, None, "last used")
            self.sensor_combo.setCurrentIndex(self.sensor_combo.count() - 1)
        self.sensor_combo.blockSignals(False)
        self.camera_combo.blockSignals(True)
        self.camera_combo.clear()
        if self.sim_factory is not None:
            self.camera_combo.addItem("Simulated camera (demo)", ("sim",))
        self.camera_combo.addItem("No camera (signals only)", ("none",))
        if s.camera_source not in ("", "sim", "none"):
            self.camera_combo.addItem(
                f"Camera {s.camera_source} (last used)", ("cv", s.camera_source)
            )
        for i in range(self.camera_combo.count()):
            if self._camera_key(self.camera_combo.itemData(i)) == (s.camera_source or "sim"):
                self.camera_combo.setCurrentIndex(i)
        self.camera_combo.blockSignals(False)
        self.sensor_state.setText("Not connected")
        self.sensor_light.set("grey", "connect the sensor to test its signal")
        self.face_light.set("grey", "start the preview to aim the camera")
        self.camera_info.setText("")
        self.preview.clear_image("Press Preview to see the camera")
        self.scan_status.setText(
            "Press Scan to look for Bluetooth sensors nearby"
            + ("; the simulated sensor records demo data." if self.sim_factory else ".")
        )
        self.live.configure([])
        self.signal_level = self.face_level = "grey"
        if auto_find and not self._scanned:
            self._scanned = True
            self.scan()
            self.find_cameras()
        self._update_buttons()
        self.changed.emit()

    def _add_ble_item(
        self, address: str, name: str | None, profile: str, rssi: int | None, note: str = ""
    ) -> None:
        from devices.ble.profiles import PROFILES

        title = next((p.title for p in PROFILES if p.key == profile), profile)
        for i in range(self.sensor_combo.count()):
            d = self.sensor_combo.itemData(i)
            if d[0] == "ble" and d[1].upper() == address.upper():
                self.sensor_combo.removeItem(i)
                break
        extra = [x for x in (f"{rssi} dBm" if rssi is not None else "", note) if x]
        label = f"{name or title} — {title}, {address}" + (
            f" ({', '.join(extra)})" if extra else ""
        )
        self.sensor_combo.addItem(label, ("ble", address, profile, name or title))

    def sensor_kind(self) -> str:
        d = self.sensor_combo.currentData()
        return str(d[0]) if d else "none"

    def camera_choice(self) -> tuple[Any, ...]:
        d = self.camera_combo.currentData()
        return tuple(d) if d else ("none",)

    @staticmethod
    def _camera_key(d: tuple[Any, ...] | None) -> str:
        if not d:
            return "none"
        return str(d[1]) if d[0] == "cv" else str(d[0])

    def _update_buttons(self) -> None:
        self.scan_btn.setEnabled("scan" not in self.busy)
        self.scan_btn.setText("Scanning…" if "scan" in self.busy else "Scan for Bluetooth sensors")
        connecting = "connect" in self.busy
        self.connect_btn.setEnabled(not connecting and self.sensor_combo.count() > 0)
        self.connect_btn.setText(
            "Connecting…"
            if connecting
            else "Test again"
            if self.sensor is not None
            else "Connect and test signal"
        )
        self.find_btn.setEnabled("cameras" not in self.busy)
        self.preview_btn.setEnabled(self.camera_choice()[0] != "none" and "camera" not in self.busy)

    def _sensor_choice_changed(self) -> None:
        self.stop_sensor_test()
        self.sensor_state.setText("Not connected")
        self.sensor_light.set("grey", "connect the sensor to test its signal")
        self._update_buttons()
        self.changed.emit()

    def _camera_choice_changed(self) -> None:
        self.preview_btn.setChecked(False)
        self.stop_camera_test()
        self._update_buttons()
        self.changed.emit()

    # ---- Bluetooth -----------------------------------------------------------------------------
    @property
    def transport(self) -> Any:
        """The BLE thread, started on first use and kept for the app's life."""
        if self._transport is None:
            from devices.ble.transport import BleTransport

            self._transport = BleTransport()
        return self._transport

    def scan(self) -> None:
        """Scan for 4 s in the background and list the sensors TheraScope can record from."""
        if "scan" in self.busy:
            return
        self.busy.add("scan")
        self.scan_status.setText("Scanning for Bluetooth sensors (4 s)…")
        self._update_buttons()
        gen, transport = self._gen, self.transport

        def done(found: list[Any]) -> None:
            self.busy.discard("scan")
            if gen == self._gen:
                self._show_scan(found)
            self._update_buttons()

        def failed(msg: str) -> None:
            self.busy.discard("scan")
            self.scan_status.setText(
                ((msg.strip() or "The Bluetooth scan failed").rstrip(".") + ".")
                + (" The simulated sensor records demo data." if self.sim_factory else "")
            )
            self._update_buttons()

        run_job(lambda _p: transport.scan(4.0), done, failed)
        self.scan_lsl()

    # ---- Lab Streaming Layer -------------------------------------------------------------------
    def scan_lsl(self) -> None:
        """Look for LSL ECG/EDA streams (OpenSignals…) in the background and list them."""
        if "lsl" in self.busy:
            return
        self.busy.add("lsl")
        where = "the local network" if self.settings.lsl_network else "this computer"
        self.lsl_status.setText(f"Looking for Lab Streaming Layer streams on {where}…")
        gen, network = self._gen, self.settings.lsl_network

        def work(_p: Callable[[float], None]) -> list[Any]:
            from devices.lsl.sensor import find_streams

            return find_streams(1.0, network=network)

        def done(found: list[Any]) -> None:
            if not isValid(self.sensor_combo):
                return  # the screen was closed while the search ran
            self.busy.discard("lsl")
            if gen == self._gen:
                self._show_lsl(found, where)
            self._update_buttons()

        def failed(msg: str) -> None:
            if not isValid(self.lsl_status):
                return
            self.busy.discard("lsl")
            self.lsl_status.setText(msg.strip() or "Lab Streaming Layer could not be searched.")
            self._update_buttons()

        run_job(work, done, failed)

    def _show_lsl(self, found: list[Any], where: str) -> None:
        keep = self.sensor_combo.currentData()
        self.sensor_combo.blockSignals(True)
        for i in reversed(range(self.sensor_combo.count())):
            if self.sensor_combo.itemData(i)[0] == "lsl":
                self.sensor_combo.removeItem(i)
        for ref in found:
            self.sensor_combo.addItem(f"LSL stream: {ref.title}", ("lsl", ref.uid, ref))
        for i in range(self.sensor_combo.count()):
            if self.sensor_combo.itemData(i) == keep:
                self.sensor_combo.setCurrentIndex(i)
        self.sensor_combo.blockSignals(False)
        n = len(found)
        self.lsl_status.setText(
            f"{n} Lab Streaming Layer stream{'s' if n != 1 else ''} (ECG/EDA) on {where}."
            if n
            else f"No Lab Streaming Layer ECG/EDA stream on {where}."
        )
        if self.sensor_combo.currentData() != keep:
            self._sensor_choice_changed()

    def _show_scan(self, found: list[Any]) -> None:
        known = [r for r in found if r.profile]
        keep = self.sensor_combo.currentData()
        self.sensor_combo.blockSignals(True)
        for r in known:
            self._add_ble_item(r.address, r.name, r.profile, r.rssi)
        for i in range(self.sensor_combo.count()):
            if self.sensor_combo.itemData(i) == keep:
                self.sensor_combo.setCurrentIndex(i)
        if keep and keep[0] == "sim" and len(known) == 1:
            self.sensor_combo.setCurrentIndex(self.sensor_combo.count() - 1)
        self.sensor_combo.blockSignals(False)
        others = len(found) - len(known)
        text = (
            f"{len(known)} supported sensor{'s' if len(known) != 1 else ''} found"
            if known
            else "No supported sensor found: is it switched on, worn, and not connected to a phone?"
        )
        if others:
            text += f" ({others} other Bluetooth device{'s' if others != 1 else ''} ignored)"
        self.scan_status.setText(text + ".")
        if self.sensor_combo.currentData() != keep:
            self._sensor_choice_changed()

    # ---- the test signal -----------------------------------------------------------------------
    def connect_sensor(self) -> None:
        """Connect the chosen sensor (in the background) and start its test signal."""
        d = self.sensor_combo.currentData()
        if not d or "connect" in self.busy:
            return
        self.stop_sensor_test()
        self.sensor_error = None
        gen = self._gen
        if d[0] == "sim":
            assert self.sim_factory is not None
            sensor = self.sim_factory(self.scenario, int(time.time()) % 100_000).sensor
            preview = SignalPreview(list(sensor.streams))
            sensor.start(preview, lambda e: None)
            self._sensor_ready(sensor, preview)
            return
        if d[0] == "lsl":
            ref, network = d[2], self.settings.lsl_network

            def open_lsl() -> LslSensor:
                from devices.lsl.sensor import LslSensor

                return LslSensor(ref, network=network)

            self._connect_in_background(
                d, gen, f"the LSL stream {ref.name}", open_lsl, "Could not open the LSL stream."
            )
            return
        _, address, profile, name = d
        transport = self.transport

        def open_ble() -> BleSensor:
            from devices.ble.profiles import make_driver
            from devices.ble.sensor import BleSensor

            return BleSensor(address, make_driver(profile), transport=transport, name=name)

        self._connect_in_background(d, gen, name, open_ble, "Could not connect to the sensor.")

    def _connect_in_background(
        self,
        d: Any,
        gen: int,
        what: str,
        make_sensor: Callable[[], BleSensor | LslSensor],
        failure: str,
    ) -> None:
        """Connect the sensor ``make_sensor`` builds and start its test signal in the background
        (a Bluetooth sensor or an LSL stream): ``what`` names it while connecting, ``failure`` is
        said when the driver gave no reason."""
        self.busy.add("connect")
        self.sensor_state.setText(f"Connecting to {what}…")
        self.sensor_light.set("grey", "connecting…")
        self._update_buttons()

        def work(_p: Callable[[float], None]) -> tuple[BioSensor, SignalPreview]:
            sensor = make_sensor()
            try:
                sensor.connect()
                preview = SignalPreview(list(sensor.streams))
                sensor.preview(preview)
            except BaseException:
                sensor.stop()
                raise
            return sensor, preview

        def done(result: tuple[BioSensor, SignalPreview]) -> None:
            self.busy.discard("connect")
            sensor, preview = result
            if gen != self._gen or self.sensor_combo.currentData() != d:
                sensor.stop()  # the set-up moved on while it connected
            else:
                self._sensor_ready(sensor, preview)
            self._update_buttons()

        def failed(msg: str) -> None:
            self.busy.discard("connect")
            self.sensor_error = msg
            self.sensor_state.setText(msg.strip() or failure)
            self.sensor_light.set("red", "not connected")
            self.signal_level = "red"
            self._update_buttons()
            self.changed.emit()

        run_job(work, done, failed)

    def _sensor_ready(self, sensor: BioSensor, preview: SignalPreview) -> None:
        self.sensor, self.sensor_preview = sensor, preview
        streams = list(sensor.streams)
        self._preview_streams = {s.name: s for s in streams}
        self.live.configure(
            [(s.name, ch, s.units[i]) for s in streams for i, ch in enumerate(s.channels)]
        )
        desc = ", ".join(
            f"{'/'.join(s.channels)} {s.rate_hz:g} Hz ({', '.join(unit_label(u) for u in s.units)})"
            for s in streams
        )
        battery = sensor.battery_percent
        parts = ["Connected" if not sensor.simulated else "Simulated sensor running", desc]
        if battery is not None:
            parts.append(f"battery {battery} %")
        self.sensor_state.setText(" · ".join(parts))
        self._last_check = 0.0
        self.timer.start()
        self._update_buttons()
        self.changed.emit()

    def stop_sensor_test(self) -> None:
        """Stop the test signal and disconnect (nothing is recorded)."""
        s, self.sensor = self.sensor, None
        self.sensor_preview = None
        _stop_quietly(s, "the test sensor")
        self.signal_level = "grey"

    # ---- camera -------------------------------------------------------------------------------
    def find_cameras(self) -> None:
        """Probe the cameras OpenCV can open (in the background) and list them."""
        if "cameras" in self.busy:
            return
        from devices.camera import list_cameras

        lister = self.camera_lister or list_cameras
        self.busy.add("cameras")
        self._update_buttons()

        def done(found: list[dict[str, Any]]) -> None:
            self.busy.discard("cameras")
            keep = self.camera_combo.currentData()
            self.camera_combo.blockSignals(True)
            for cam in found:
                src = str(cam.get("source", cam.get("index")))
                for i in range(self.camera_combo.count() - 1, -1, -1):
                    if self._camera_key(self.camera_combo.itemData(i)) == src:
                        self.camera_combo.removeItem(i)
                size = f"{cam.get('width', 0)}×{cam.get('height', 0)}"
                self.camera_combo.addItem(f"Camera {src} ({size})", ("cv", src))
            for i in range(self.camera_combo.count()):
                if self.camera_combo.itemData(i) == keep:
                    self.camera_combo.setCurrentIndex(i)
            if keep and keep[0] != "cv" and found and self.sim_factory is None:
                self.camera_combo.setCurrentIndex(self.camera_combo.count() - 1)
            self.camera_combo.blockSignals(False)
            if not found:
                self.camera_info.setText("No camera found.")
            self._update_buttons()
            self.changed.emit()

        def failed(msg: str) -> None:
            self.busy.discard("cameras")
            self.camera_info.setText(f"Cameras could not be listed: {msg}")
            self._update_buttons()

        run_job(lambda _p: lister(), done, failed)

    def _make_camera(self, choice: tuple[Any, ...]) -> Camera:
        s = self.settings
        if choice[0] == "sim":
            assert self.sim_factory is not None
            cam = self.sim_factory(self.scenario, int(time.time()) % 100_000).camera
            if cam is None:
                raise OSError("the simulated camera is off (a camera frame rate of 0)")
            return cam
        from devices.camera import OpenCVCamera

        src: int | str = int(choice[1]) if str(choice[1]).isdigit() else str(choice[1])
        return OpenCVCamera(src, s.camera_fps, s.camera_width, s.camera_height)

    def _preview_toggled(self, on: bool) -> None:
        if not on:
            self.stop_camera_test()
            self.preview.clear_image("Press Preview to see the camera")
            self._update_buttons()
            return
        choice = self.camera_choice()
        if choice[0] == "none" or "camera" in self.busy:
            self.preview_btn.setChecked(False)
            return
        self.busy.add("camera")
        self.camera_info.setText("Opening the camera…")
        self._update_buttons()
        gen = self._gen

        def work(_p: Callable[[float], None]) -> Camera:
            cam = self._make_camera(choice)
            cam.open()  # negotiation can take a second
            return cam

        def done(cam: Camera) -> None:
            self.busy.discard("camera")
            if gen != self._gen or not self.preview_btn.isChecked():
                cam.stop()
                self._update_buttons()
                return
            self.camera = cam
            self.camera_events = []
            self.camera_slot = FrameSlot()
            cam.start(self.camera_slot.put, self.camera_events.append)
            self.aim = FaceAim(self.camera_slot)
            self.aim.start()
            self.timer.start()
            self._update_buttons()
            self.changed.emit()

        def failed(msg: str) -> None:
            self.busy.discard("camera")
            self.camera_info.setText(f"The camera could not be opened: {msg}")
            self.face_level = "red"
            self.face_light.set("red", "no camera picture")
            self.preview_btn.setChecked(False)
            self._update_buttons()
            self.changed.emit()

        run_job(work, done, failed)

    def stop_camera_test(self) -> None:
        aim, self.aim = self.aim, None
        if aim is not None:
            aim.stop()
        cam, self.camera = self.camera, None
        _stop_quietly(cam, "the camera preview")
        self.face_level = "grey"

    def stop_tests(self) -> None:
        self.timer.stop()
        self.preview_btn.blockSignals(True)
        self.preview_btn.setChecked(False)
        self.preview_btn.blockSignals(False)
        self.stop_camera_test()
        self.stop_sensor_test()

    # ---- drawing ------------------------------------------------------------------------------
    def _tick(self) -> None:
        pv = self.sensor_preview
        if pv is not None and self.sensor is not None:
            self.live.update_from(pv.rings, self._preview_streams)
            now = time.monotonic()
            if now - self._last_check >= 0.5:
                self._last_check = now
                self._check_signal(pv)
        if self.camera is not None:
            self._draw_camera()

    def _check_signal(self, pv: SignalPreview) -> None:
        sensor = self.sensor
        if sensor is None:
            return
        checks = []
        for info in pv.streams.values():
            counters, x = pv.rings[info.name].snapshot()
            checks.append(check_stream(info, counters, x, pv.achieved_rate_hz(info.stream_id)))
        level = worst([c.level for c in checks])
        state = sensor.link_state
        if state is not None and state not in ("connected", "idle"):
            level, text = "red", f"link {state}"
        else:
            text = " | ".join(c.text for c in checks)
        self.sensor_light.set(level, text)
        changed = level != self.signal_level
        self.signal_level = level
        battery = sensor.battery_percent
        if battery is not None and "battery" in self.sensor_state.text():
            head = self.sensor_state.text().rsplit(" · battery", 1)[0]
            self.sensor_state.setText(f"{head} · battery {battery} %")
        if changed:
            self.changed.emit()

    def _draw_camera(self) -> None:
        cam = self.camera
        if cam is None:
            return
        f = self.camera_slot.get()
        if f is None:
            if any(e.kind == "camera_lost" for e in self.camera_events):
                self.camera_info.setText("The camera stopped sending pictures (unplugged?).")
                self.face_light.set("red", "no camera picture")
                self.face_level = "red"
            return
        res = self.aim.result if self.aim is not None else None
        level, text = "grey", "looking for a face…"
        decorate = None
        if res is not None:
            box, w, h = res
            level, text = face_aim(box, w, h)
            if box is not None:
                colour = QColor("#2e9d4f" if level == "green" else "#e6a118")
                ratio = f.image.shape[1] / w  # the face was found in a frame of width w

                def decorate(pm: QPixmap, scale: float) -> None:
                    _draw_box(pm, box, scale * ratio, colour)

        if self.aim is not None and self.aim.error:
            level, text = "amber", self.aim.error
        self.preview.show_image(f.image, decorate)
        if level != self.face_level:
            self.face_level = level
            self.changed.emit()
        self.face_light.set(level, text)
        h, w = f.image.shape[:2]
        info = [f"{w}×{h}"]
        neg = cam.negotiated
        measured = cam.measured_fps
        if cam.simulated:
            info.append(f"{cam.fps:g} fps (simulated)")
        elif measured:
            asked = cam.requested["fps"]
            info.append(f"asked {asked:g} fps, delivers {measured:.1f} fps")
            if measured < 0.9 * asked:
                info.append("the camera cannot give the frame rate asked for")
        elif neg:
            info.append(f"asked {cam.requested['fps']:g} fps, measuring…")
        lost = sum(1 for e in self.camera_events if e.kind == "camera_lost")
        if lost:
            info.append("camera lost")
        self.camera_info.setText(" · ".join(info))

    # ---- hand-over -----------------------------------------------------------------------------
    def problems(self) -> list[str]:
        """What is not sound in the set-up (empty when ready to record)."""
        out = []
        kind = self.sensor_kind()
        if kind == "ble" and self.sensor is None:
            out.append("the Bluetooth sensor is not connected (press Connect and test signal)")
        elif kind == "lsl" and self.sensor is None:
            out.append("the LSL stream is not connected (press Connect and test signal)")
        elif self.sensor is not None and self.signal_level == "red":
            out.append("the sensor's signal is poor (see the Signal light)")
        elif self.sensor is not None and self.signal_level == "amber":
            out.append("the sensor's signal needs a check (see the Signal light)")
        cam = self.camera_choice()
        if cam[0] == "cv" and self.face_level != "green":
            out.append(
                "the camera has not shown the patient's face yet (press Preview and aim it)"
                if self.face_level == "grey"
                else "the camera is not aimed at the patient's face (see the Face light)"
            )
        return out

    def blocking_problem(self) -> str | None:
        """A set-up that cannot record at all (not just an unsound one)."""
        if self.sensor_kind() == "ble" and self.sensor is None:
            return "Connect the Bluetooth sensor first (Connect and test signal)."
        if self.sensor_kind() == "ble" and (
            self.sensor is None or self.sensor.link_state != "connected"
        ):
            return (
                "The Bluetooth sensor is not connected any more (switched off or out of range?). "
                "Check it and press Test again."
            )
        if self.sensor_kind() == "lsl" and self.sensor is None:
            return "Connect the LSL stream first (Connect and test signal)."
        lsl = self.sensor_kind() == "lsl"
        if lsl and self.sensor is not None and self.sensor.link_state != "connected":
            return "The LSL stream is gone (has its program stopped?). Press Test again."
        if self.sensor_kind() == "none":
            return "Choose a bio-sensor."
        return None

    def take_devices(self, seed: int) -> DeviceSet:
        """The devices to record with: the tested sensor, a fresh camera, the simulation truth.

        The chosen devices are remembered in the settings for the next session.
        """
        problem = self.blocking_problem()
        if problem:
            raise RuntimeError(problem)
        kind, cam_choice = self.sensor_kind(), self.camera_choice()
        self.timer.stop()
        self.preview_btn.blockSignals(True)
        self.preview_btn.setChecked(False)
        self.preview_btn.blockSignals(False)
        self.stop_camera_test()  # the session opens the camera afresh
        sim: DeviceSet | None = None
        if kind == "sim" or cam_choice[0] == "sim":
            assert self.sim_factory is not None
            sim = self.sim_factory(self.scenario, seed)
        if kind in ("ble", "lsl"):
            sensor, self.sensor = self.sensor, None
            assert sensor is not None  # blocking_problem() says so otherwise
            sensor.preview(None)
        else:
            self.stop_sensor_test()
            assert sim is not None  # the only other sensor is the simulated one
            sensor = sim.sensor
        self.sensor_preview = None
        camera: Camera | None
        if cam_choice[0] == "none":
            camera = None
        elif cam_choice[0] == "sim" and sim is not None:
            camera = sim.camera
        else:
            camera = self._make_camera(cam_choice)
        d = self.sensor_combo.currentData()
        s = self.settings
        if kind == "ble":
            s.sensor_address, s.sensor_profile, s.sensor_name = str(d[1]), str(d[2]), str(d[3])
        else:
            s.sensor_address = s.sensor_profile = s.sensor_name = ""
        s.camera_source = self._camera_key(cam_choice)
        try:
            s.save()
        except OSError as e:
            log.warning("settings not saved: %s", e)
        simulated = sensor.simulated or (camera is not None and camera.simulated)
        truth = sim.simulation if sim is not None else None
        return DeviceSet(sensor, camera, truth if simulated else None)

    def shutdown(self) -> None:
        """Stop tests and the BLE thread (the window is closing)."""
        self.stop_tests()
        if self._transport is not None:
            self._transport.stop()
            self._transport = None


def _stop_quietly(device: BioSensor | Camera | None, what: str) -> None:
    """Stop a tested device; a device that fails to stop is logged, never shown as a crash."""
    if device is None:
        return
    try:
        device.stop()
    except Exception as e:
        log.warning("stopping %s: %r", what, e)


def _draw_box(
    pm: QPixmap, box: tuple[float, float, float, float], scale: float, colour: QColor
) -> None:
    x, y, w, h = (v * scale for v in box)
    p = QPainter(pm)
    p.setPen(QPen(colour, 2))
    p.drawRect(int(x), int(y), int(w), int(h))
    p.end()


__all__ = ["DeviceSetup", "FaceAim", "SignalPreview"]
