"""Screenshots of the session set-up and record screens with Bluetooth sensors, on a fake BlueZ.

    python tools/device_walkthrough.py OUT_DIR

Starts the tests' fake BlueZ on a private D-Bus (needs ``dbus-daemon``) with a Polar H10 and a
TheraScope open-profile sensor advertising, opens the real GUI on a fresh data folder, scans,
connects the Polar H10 and shows its test signal, previews the simulated camera with the face box,
records, breaks the Bluetooth link for a few seconds (the record screen shows the reconnection),
stops, and saves a screenshot at each step. Use it under Xvfb to look at what a therapist sees.
The fake sensors send test patterns, not ECG: the signal light says so ("no heart beats found").
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("out", type=Path)
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="therascope-devices-"))
    os.environ["THERASCOPE_DATA_DIR"] = str(tmp / "data")
    os.environ["THERASCOPE_CONFIG_DIR"] = str(tmp / "cfg")
    from core.security.access import throwaway_account

    os.environ.update(throwaway_account(tmp / "data", tmp / "password.txt"))

    from PySide6.QtWidgets import QApplication, QMessageBox

    from app.gui.main import create_window
    from app.gui.record_page import RecordPage
    from tests.devices.ble.fake_bluez import FakeBluez
    from tests.devices.ble.fake_peripherals import LinkModel, OpenProfileSim, PolarH10Sim

    fake = FakeBluez(tmp / "bluez").start()
    strap = PolarH10Sim("C4:7C:8D:6A:7B:8C", LinkModel(seed=5, loss_prob=0.01))
    link = fake.add(strap)
    fake.add(OpenProfileSim("E8:31:CD:00:00:03", LinkModel(seed=6)))
    fake.advertise_soon()
    RecordPage.auto_find_devices = False  # scan below, once the window shows
    app = QApplication(sys.argv)
    QMessageBox.question = lambda *a, **k: QMessageBox.StandardButton.Yes  # type: ignore[method-assign]
    win, _ = create_window(demo=False)
    win.resize(1280, 860)
    win.show()

    def pump(seconds: float) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            app.processEvents()
            time.sleep(0.01)

    def until(cond, timeout_s: float = 20.0) -> None:  # type: ignore[no-untyped-def]
        end = time.monotonic() + timeout_s
        while not cond():
            if time.monotonic() > end:
                raise SystemExit("timed out")
            pump(0.05)

    def shot(name: str) -> None:
        pump(0.3)
        win.grab().save(str(args.out / f"{name}.png"))
        print("saved", args.out / f"{name}.png")

    try:
        p = win.catalog.add_patient("P-204")
        win.show_record(p.id)
        page, panel = win.record, win.record.devices
        panel.scan()
        pump(0.5)
        shot("setup-1-scanning")
        until(lambda: "supported sensor" in panel.scan_status.text())
        for i in range(panel.sensor_combo.count()):
            if "Polar" in panel.sensor_combo.itemText(i):
                panel.sensor_combo.setCurrentIndex(i)
        panel.connect_sensor()
        until(lambda: panel.sensor is not None)
        panel.preview_btn.setChecked(True)
        until(lambda: panel.face_level == "green")
        pump(4.5)
        page.consent.setChecked(True)
        shot("setup-2-connected")
        page.start_recording()
        pump(6.0)
        shot("record-1-running")
        fake.call(link.drop, 4.0)
        pump(2.0)
        shot("record-2-link-lost")
        until(lambda: "reconnected after" in page.events_label.text())
        pump(3.0)
        shot("record-3-reconnected")
        page.stop_recording()
        pump(1.0)
        shot("after-stop")
    finally:
        win.close()
        fake.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
