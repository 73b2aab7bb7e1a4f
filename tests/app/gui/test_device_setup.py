"""The session set-up's devices, through the real widgets: the simulated pair (test signal, face box
aiming), and a Bluetooth sensor found by a real scan through bleak's BlueZ backend on a fake BlueZ,
connected, tested, recorded from, dropped and reconnected on the record screen."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox

from app.demo.simulation import simulated_device_factory
from app.gui.device_setup import DeviceSetup, SignalPreview
from app.gui.main import create_window
from core.config import Settings
from core.quality.signal_check import check_stream, face_aim
from core.recording.reader import open_session
from core.security import vault
from core.simulation.face import FaceRenderer
from core.types import SampleBatch, StreamInfo
from tests.devices.ble.fake_bluez import DBUS_DAEMON, FakeBluez
from tests.devices.ble.fake_peripherals import LinkModel, PolarH10Sim


def _wait(qtbot, cond, timeout_ms=15000):  # type: ignore[no-untyped-def]
    qtbot.waitUntil(cond, timeout=timeout_ms)


def test_signal_check_names_what_to_fix() -> None:
    info = StreamInfo(0, "bio", ("ECG", "EDA"), ("mV", "uS"), 800.0)
    t = np.arange(4000) / 800.0
    ecg = np.where((t % 0.8) < 0.02, 1.2, 0.0) + 0.01 * np.sin(2 * np.pi * t)  # 75 bpm
    eda = np.full_like(t, 4.5)
    good = check_stream(info, np.arange(4000), np.stack([ecg, eda], 1), 800.0)
    assert good.level == "green" and "75 bpm" in good.text and "4.50 µS" in good.text
    flat = check_stream(info, np.arange(4000), np.stack([0 * ecg, eda], 1), 800.0)
    assert flat.level == "red" and "flat line" in flat.text
    dry = check_stream(info, np.arange(4000), np.stack([ecg, 0 * eda + 0.001], 1), 800.0)
    assert dry.level == "amber" and "outside skin's range" in dry.text
    lossy = np.stack([ecg, eda], 1)
    lossy[1000:1400] = np.nan  # 10 % lost
    far = check_stream(info, np.arange(4000), lossy, 700.0)
    assert far.level == "red" and "10.0 % lost" in far.text and "700 of 800 Hz" in far.text
    assert check_stream(info, np.zeros(0, np.int64), np.zeros((0, 2)), None).level == "red"
    assert face_aim(None, 640, 480)[0] == "amber"
    assert face_aim((10, 10, 40, 40), 640, 480)[1].startswith("face small")
    assert face_aim((10, 100, 200, 200), 640, 480)[1].startswith("face near the edge")
    assert face_aim((220, 140, 200, 200), 640, 480) == ("green", "face found and centred")


def test_signal_preview_rate_falls_to_zero_when_data_stop(monkeypatch) -> None:
    info = StreamInfo(3, "bio", ("ECG",), ("mV",), 100.0)
    pv = SignalPreview([info])
    now = [1000.0]
    monkeypatch.setattr("app.gui.device_setup.time.monotonic", lambda: now[0])
    for i in range(11):
        pv(SampleBatch(3, 10 * i, np.zeros((10, 1), np.float32), int(now[0] * 1e9)))
        now[0] += 0.1
    assert pv.achieved_rate_hz(3) == pytest.approx(100.0)
    now[0] += 3.0
    assert pv.achieved_rate_hz(3) == 0.0
    pv(SampleBatch(9, 0, np.zeros((10, 1), np.float32), 0))  # another stream's id: ignored


def test_simulated_sensor_test_signal_and_camera_aim(qtbot, app_env) -> None:
    settings = Settings(camera_width=320, camera_height=240)
    panel = DeviceSetup(settings, simulated_device_factory(settings))
    qtbot.addWidget(panel)
    panel.show()
    panel.reset(auto_find=False)
    assert panel.sensor_kind() == "sim" and panel.camera_choice() == ("sim",)
    panel.connect_sensor()
    _wait(
        qtbot,
        lambda: panel.sensor_light.state == "green" and "bpm" in panel.sensor_light.text.text(),
    )
    assert " of 800 Hz" in panel.sensor_light.text.text()  # and green: ≥ 95 % of it arrives
    assert "Simulated sensor running" in panel.sensor_state.text()
    panel.preview_btn.setChecked(True)
    _wait(qtbot, lambda: panel.face_level == "green")
    assert "face found and centred" in panel.face_light.text.text()
    assert not panel.preview.pixmap().isNull()
    assert panel.problems() == []
    sensor, camera, truth = panel.take_devices(7)
    assert sensor.simulated and camera.simulated and truth["seed"] == 7
    assert panel.camera is None and panel.sensor is None  # tests stopped, devices handed over
    panel.shutdown()


def test_a_video_file_camera_previews_with_the_face_box(qtbot, app_env, tmp_path: Path) -> None:
    """OpenCV reads a real video file as the camera; the detector finds the face in it."""
    path = tmp_path / "face.avi"
    w = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), 30.0, (320, 240))
    r = FaceRenderer(320, 240, seed=3)
    for i in range(90):
        w.write(r.render(0.0, 0.0, i / 30.0))
    w.release()
    settings = Settings(camera_width=320, camera_height=240, camera_fps=30.0)
    panel = DeviceSetup(
        settings, None, camera_lister=lambda: [{"source": str(path), "width": 320, "height": 240}]
    )
    qtbot.addWidget(panel)
    panel.show()
    panel.reset(auto_find=False)
    assert panel.camera_choice() == ("none",) and not panel.preview_btn.isEnabled()
    panel.find_cameras()
    _wait(qtbot, lambda: panel.camera_combo.count() == 2)
    panel.camera_combo.setCurrentIndex(1)
    assert panel.camera_choice() == ("cv", str(path))
    panel.preview_btn.setChecked(True)
    _wait(qtbot, lambda: panel.face_level == "green")
    assert "320×240" in panel.camera_info.text()
    assert panel.blocking_problem() == "Choose a bio-sensor."  # no simulated sensor offered
    panel.shutdown()


def test_a_computer_without_bluetooth_is_told_so_and_demo_still_works(
    qtbot, app_env, tmp_path: Path, monkeypatch, caplog
) -> None:
    """No system bus: bleak's BlueZ backend fails; the set-up says why in plain words, and the log
    has one line, not a traceback (it is not a fault)."""
    monkeypatch.setenv("DBUS_SYSTEM_BUS_ADDRESS", f"unix:path={tmp_path / 'absent'}")
    settings = Settings(camera_width=320, camera_height=240)
    panel = DeviceSetup(settings, simulated_device_factory(settings))
    qtbot.addWidget(panel)
    panel.show()
    panel.reset(auto_find=False)
    panel.scan()
    _wait(qtbot, lambda: "scan" not in panel.busy)
    text = panel.scan_status.text()
    assert text.startswith("The system message bus (D-Bus), through which the Bluetooth service")
    assert "Errno" not in text and text.endswith(". The simulated sensor records demo data.")
    assert panel.sensor_kind() == "sim" and panel.scan_btn.isEnabled()
    said = [r for r in caplog.records if r.name == "app.gui.workers"]
    assert [r.levelname for r in said] == ["WARNING"] and said[0].exc_info is None
    detail = [r for r in caplog.records if r.name == "devices.ble.transport"]
    assert [r.levelname for r in detail] == ["WARNING"] and not detail[0].exc_info
    assert "FileNotFoundError" in detail[0].getMessage()  # the technical detail: the log's only
    panel.shutdown()


#: what must never reach the screen: D-Bus and BlueZ error names, errno texts, bleak's class names
TECHNICAL = ("org.", "Error.", "Errno", "Bleak", "Traceback", "[")


def _assert_plain(text: str, says: str, raised: BaseException) -> None:
    """One sentence in words (a capital first, a full stop last) that says ``says``."""
    assert says in text, (raised, text)
    assert text[:1].isupper() and text.endswith(".") and ". " not in text, (raised, text)
    assert not any(t in text for t in TECHNICAL), (raised, text)


def _bleak_failures() -> tuple[list[tuple[BaseException, str]], list[tuple[BaseException, str]]]:
    """(scan, connection) failures as bleak raises them on Linux: its own classes and messages,
    BlueZ's D-Bus errors as bleak wraps them, the system's; each with what the screen must say."""
    import errno

    from bleak.exc import (
        BleakBluetoothNotAvailableError,
        BleakBluetoothNotAvailableReason,
        BleakDBusError,
        BleakDeviceNotFoundError,
        BleakError,
    )

    addr = "C4:7C:8D:6A:7B:8C"
    no_bus = FileNotFoundError(
        errno.ENOENT, "No such file or directory", "/var/run/dbus/system_bus_socket"
    )
    off = BleakBluetoothNotAvailableError(
        "No powered Bluetooth adapters found. Turn on Bluetooth and try again.",
        BleakBluetoothNotAvailableReason.POWERED_OFF,
    )
    scan: list[tuple[BaseException, str]] = [
        (BleakDBusError("org.bluez.Error.NotReady", ["Resource Not Ready"]), "not ready"),
        (BleakDBusError("org.bluez.Error.Failed", ["Not Powered"]), "not ready"),
        (
            BleakDBusError("org.bluez.Error.InProgress", ["Operation already in progress"]),
            "wait a few seconds, then scan again",
        ),
        (BleakDBusError("org.bluez.Error.Failed", ["Rejected"]), "The Bluetooth scan failed"),
        (
            BleakDBusError(
                "org.freedesktop.DBus.Error.ServiceUnknown",
                ["The name org.bluez was not provided by any .service files"],
            ),
            "Bluetooth service (BlueZ) is not running",
        ),
        (
            BleakDBusError("org.freedesktop.DBus.Error.NoReply", ["Did not receive a reply."]),
            "did not answer in time",
        ),
        (BleakError("Bluetooth adapter not found"), "no Bluetooth adapter"),
        (BleakError("No Bluetooth adapters found."), "no Bluetooth adapter"),
        (off, "Bluetooth is switched off — switch it on"),
        (no_bus, "The system message bus (D-Bus)"),
        (TimeoutError(), "did not answer in time"),
    ]
    connect: list[tuple[BaseException, str]] = [
        (
            BleakDBusError("org.bluez.Error.Failed", ["le-connection-abort-by-local"]),
            "broke off while it was being made",
        ),
        (
            BleakDBusError("org.bluez.Error.Failed", ["le-connection-timeout"]),
            "did not answer in time",
        ),
        (BleakDBusError("org.bluez.Error.NotReady", ["Resource Not Ready"]), "not ready"),
        (
            BleakDBusError("org.bluez.Error.InProgress", ["Operation already in progress"]),
            "busy with another connection",
        ),
        (
            BleakDeviceNotFoundError(addr, f"Device with address {addr} was not found."),
            "Polar H10 6A7B8C was not found",
        ),
        (
            BleakError("failed to discover services, device disconnected"),
            "Polar H10 6A7B8C disconnected while it was being set up",
        ),
        (BleakError("Bluetooth adapter not found"), "no Bluetooth adapter"),
        (TimeoutError(), "Polar H10 6A7B8C did not answer in time"),
        (no_bus, "The system message bus (D-Bus)"),
    ]
    return scan, connect


def test_a_failed_scan_says_plainly_what_happened_and_what_to_do(
    qtbot, app_env, monkeypatch, caplog
) -> None:
    """Issue 12: the scan's failures through the real transport and widget, the button clicked;
    the screen has one plain sentence, the log the D-Bus error (or the system's words)."""
    import bleak

    settings = Settings(camera_width=320, camera_height=240)
    panel = DeviceSetup(settings, None)
    qtbot.addWidget(panel)
    panel.show()
    panel.reset(auto_find=False)
    scan, _ = _bleak_failures()
    for raised, says in scan:

        async def discover(*args: object, _raised: BaseException = raised, **kw: object) -> None:
            raise _raised  # where bleak's BlueZ backend raises it: BleakScanner.discover

        monkeypatch.setattr(bleak.BleakScanner, "discover", discover)
        caplog.clear()
        qtbot.mouseClick(panel.scan_btn, Qt.MouseButton.LeftButton)
        assert "scan" in panel.busy
        _wait(qtbot, lambda: panel.scan_btn.isEnabled())
        _assert_plain(panel.scan_status.text(), says, raised)
        logged = " ".join(r.getMessage() for r in caplog.records)
        assert type(raised).__name__ in logged and str(raised) in logged  # the detail: logged
    panel.shutdown()


def test_a_failed_connection_says_plainly_what_happened_and_what_to_do(
    qtbot, app_env, monkeypatch, caplog
) -> None:
    """Issue 12: failures of the connection (BleakClient.connect), of finding the sensor, and of
    its set-up (start_notify), through the real sensor, link and widget, the button clicked."""
    import bleak
    from bleak.backends.device import BLEDevice
    from bleak.exc import BleakDBusError

    addr = "C4:7C:8D:6A:7B:8C"
    settings = Settings(
        camera_width=320,
        camera_height=240,
        sensor_address=addr,
        sensor_profile="polar_h10",
        sensor_name="Polar H10 6A7B8C",
    )
    panel = DeviceSetup(settings, None)
    qtbot.addWidget(panel)
    panel.show()
    panel.reset(auto_find=False)
    assert panel.sensor_kind() == "ble" and panel.connect_btn.isEnabled()
    found: list[BLEDevice | None] = [None]

    async def find_device_by_address(*args: object, **kw: object) -> BLEDevice | None:
        return found[0]

    monkeypatch.setattr(bleak.BleakScanner, "find_device_by_address", find_device_by_address)

    def connect_and_read(raised: BaseException, says: str) -> None:
        panel.transport.devices.clear()  # found afresh by every attempt
        caplog.clear()
        qtbot.mouseClick(panel.connect_btn, Qt.MouseButton.LeftButton)
        assert "connect" in panel.busy
        _wait(qtbot, lambda: "connect" not in panel.busy)
        assert panel.sensor is None and panel.sensor_light.state == "red"
        _assert_plain(panel.sensor_state.text(), says, raised)
        logged = " ".join(r.getMessage() for r in caplog.records)
        assert type(raised).__name__ in logged and str(raised) in logged  # the detail: logged

    # the sensor is not advertising: the link's own "not found"
    connect_and_read(
        bleak.exc.BleakDeviceNotFoundError(addr, f"{addr} is not advertising"),
        "Polar H10 6A7B8C was not found",
    )
    found[0] = BLEDevice(
        addr, "Polar H10 6A7B8C", {"path": "/org/bluez/hci0/dev_C4_7C_8D_6A_7B_8C"}
    )
    _, failures = _bleak_failures()
    for raised, says in failures:

        async def connect(self: object, *args: object, _raised: BaseException = raised) -> None:
            raise _raised

        monkeypatch.setattr(bleak.BleakClient, "connect", connect)
        connect_and_read(raised, says)

    # connected, then the set-up's first subscription fails: BlueZ lost the link meanwhile
    class Char:
        def __init__(self, uuid: str) -> None:
            self.uuid, self.properties = uuid, ["read", "write", "notify", "indicate"]

    class Services:
        def get_characteristic(self, uuid: str) -> Char:
            return Char(uuid)

    async def nothing(self: object, *args: object, **kw: object) -> None:
        return None

    lost = BleakDBusError("org.bluez.Error.Failed", ["Not connected"])

    async def start_notify(self: object, *args: object, **kw: object) -> None:
        raise lost

    monkeypatch.setattr(bleak.BleakClient, "connect", nothing)
    monkeypatch.setattr(bleak.BleakClient, "disconnect", nothing)
    monkeypatch.setattr(bleak.BleakClient, "is_connected", property(lambda self: True))
    monkeypatch.setattr(bleak.BleakClient, "services", property(lambda self: Services()))
    monkeypatch.setattr(bleak.BleakClient, "start_notify", start_notify)
    connect_and_read(lost, "Polar H10 6A7B8C disconnected while it was being set up")
    panel.shutdown()


needs_dbus = pytest.mark.skipif(
    DBUS_DAEMON is None,
    reason="dbus-daemon not installed (Debian package dbus-daemon): no private bus for the fake BlueZ",
)


@needs_dbus
def test_a_bluetooth_sensor_is_found_tested_recorded_and_reconnected(
    qtbot, app_env, tmp_path: Path, monkeypatch
) -> None:
    fake = FakeBluez(tmp_path / "bluez").start()
    try:
        strap = PolarH10Sim("C4:7C:8D:6A:7B:8C", LinkModel(seed=5))
        link = fake.add(strap)
        fake.advertise_soon()
        win, _ = create_window(demo=False)
        qtbot.addWidget(win)
        win.show()
        p = win.catalog.add_patient("BLE-1")
        win.show_record(p.id)
        page, panel = win.record, win.record.devices
        from devices.ble.transport import ReconnectPolicy

        monkeypatch.setattr(
            "devices.ble.sensor.ReconnectPolicy",
            lambda: ReconnectPolicy(first_delay_s=0.1, max_delay_s=0.4, scan_timeout_s=0.3),
        )
        panel.scan()
        _wait(qtbot, lambda: "1 supported sensor found" in panel.scan_status.text())
        labels = [panel.sensor_combo.itemText(i) for i in range(panel.sensor_combo.count())]
        assert any("Polar H10" in t and strap.address in t for t in labels)
        assert panel.sensor_kind() == "ble"  # the only sensor found is chosen
        panel.camera_combo.setCurrentIndex(panel.camera_combo.findData(("none",)))
        assert not page.scenario.isVisible() and not page.sim_banner.isVisible()
        panel.connect_sensor()
        _wait(qtbot, lambda: panel.sensor is not None)
        assert panel.sensor_state.text() == "Connected · ECG 130 Hz (mV) · battery 87 %"
        _wait(qtbot, lambda: "of 130 Hz" in panel.sensor_light.text.text())
        # the strap goes out of range during the set-up: recording is refused until tested again
        fake.call(link.drop, 0.3)
        _wait(qtbot, lambda: "not connected any more" in (panel.blocking_problem() or ""))
        qtbot.wait(400)
        panel.connect_sensor()
        _wait(qtbot, lambda: panel.sensor is not None and panel.blocking_problem() is None)
        _wait(qtbot, lambda: "of 130 Hz" in panel.sensor_light.text.text())
        page.consent.setChecked(True)
        monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Yes)
        page.start_recording()
        assert page.recording and page.session is not None
        qtbot.wait(2500)
        page._update_status()
        assert page.lights["link"].state == "green"
        fake.call(link.drop, 1.0)
        _wait(
            qtbot,
            lambda: (page._update_status(), "reconnecting" in page.lights["link"].text.text())[1],
        )
        assert page.lights["link"].state == "amber"
        _wait(
            qtbot,
            lambda: (page._update_status(), "reconnected after" in page.events_label.text())[1],
        )
        assert "sensor link lost" in page.events_label.text()
        assert "1 reconnect" in page.lights["link"].text.text()
        qtbot.wait(1500)
        sid = page.stop_recording()
        assert sid is not None
        rec = win.catalog.get_session(sid)
        data = open_session(win.data_root / rec.folder)
        assert not data.manifest["simulated"]
        ecg = data.streams["ecg"] if "ecg" in data.streams else next(iter(data.streams.values()))
        assert ecg.info.rate_hz == 130.0 and ecg.n_received > 130 * 3
        assert ecg.lost_samples > 0 and len(ecg.gaps()) >= 1  # the outage, recorded as a gap
        raw = vault.read_bytes(data.folder / "journal.jsonl")  # sealed: the account's folder
        journal = [json.loads(x) for x in raw.decode().splitlines()]
        kinds = [e["event"] for e in journal]
        assert "disconnected" in kinds and "reconnected" in kinds and "sensor_stats" in kinds
        notes = [m.label for m in win.catalog.list_markers(sid)]
        assert "sensor disconnected" in notes and "sensor reconnected" in notes
        assert Settings.load().sensor_address == strap.address
        # the next set-up offers the sensor used last
        win.show_record(p.id)
        assert "last used" in panel.sensor_combo.currentText()
        win.close()
    finally:
        fake.stop()
