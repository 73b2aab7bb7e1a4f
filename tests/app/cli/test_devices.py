"""``therascope devices`` and ``therascope record --sensor`` through bleak's BlueZ backend on a fake
BlueZ: the scan lists the sensor, a session is recorded from it, and a link loss is reported."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from app.cli.main import main
from core.catalog import Catalog
from core.config import data_dir
from core.recording.reader import open_session
from tests.devices.ble.fake_bluez import DBUS_DAEMON, FakeBluez
from tests.devices.ble.fake_peripherals import LinkModel, OpenProfileSim, PolarH10Sim

pytestmark = pytest.mark.skipif(
    DBUS_DAEMON is None,
    reason="dbus-daemon not installed (Debian package dbus-daemon): no private bus for the fake BlueZ",
)


def test_devices_lists_sensors_and_record_records_from_one(
    app_env: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fake = FakeBluez(tmp_path / "bluez").start()
    try:
        strap = PolarH10Sim("C4:7C:8D:6A:7B:8C", LinkModel(seed=8))
        link = fake.add(strap)
        fake.add(OpenProfileSim("E8:31:CD:00:00:03", LinkModel(seed=9)))
        fake.advertise_soon()
        assert main(["devices", "--seconds", "0.5"]) == 0
        out = capsys.readouterr().out
        assert "Bluetooth sensors (2 of 2 devices seen):" in out
        assert strap.address in out and "Polar H10" in out and "TheraScope open profile v1" in out
        assert main(["patients", "add", "CLI-BLE"]) == 0
        with pytest.raises(SystemExit, match="consent"):
            main(["record", "--patient", "CLI-BLE", "--sensor", strap.address])

        def drop_once_recording() -> None:
            end = time.monotonic() + 20
            while not link.device.connected and time.monotonic() < end:
                time.sleep(0.05)
            time.sleep(2.0)
            fake.call(link.drop, 0.5)

        threading.Thread(target=drop_once_recording, daemon=True).start()
        args = ["record", "--patient", "CLI-BLE", "--consent", "--sensor", strap.address]
        args += ["--profile", "polar_h10"]
        assert main([*args, "--camera", "none", "--duration", "6"]) == 0
        cap = capsys.readouterr()
        assert "connected to Polar H10" in cap.err and "battery 87 %" in cap.err
        assert "disconnected" in cap.err and "reconnected" in cap.err
        uid = cap.out.strip().splitlines()[-1]
        cat = Catalog.open(data_dir() / "catalog.sqlite")
        rec = next(r for r in cat.list_sessions() if r.uid == uid)
        data = open_session(data_dir() / rec.folder)
        ecg = next(iter(data.streams.values()))
        assert not data.simulated and ecg.info.rate_hz == 130.0 and ecg.n_received > 130 * 3
        assert len(ecg.gaps()) >= 1
        notes = [m.label for m in cat.list_markers(rec.id)]
        assert "sensor disconnected" in notes and "sensor reconnected" in notes
        cat.close()
    finally:
        fake.stop()


def test_devices_says_plainly_when_bluetooth_is_not_ready(
    app_env: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """BlueZ refuses the scan (adapter off): one plain sentence, no D-Bus error name (the
    technical detail is the log's own WARNING line, which the command line also shows)."""
    fake = FakeBluez(tmp_path / "bluez").start()
    try:
        fake.adapter.discovery_error = ("org.bluez.Error.NotReady", "Resource Not Ready")
        assert main(["devices", "--seconds", "0.5"]) == 0
        err = capsys.readouterr().err
        said = [line for line in err.splitlines() if line and not line.startswith("WARNING")]
        assert len(said) == 1 and "switched off or not ready" in said[0], err
        for raw in ("org.", "Error.", "Errno", "Bleak", "scan failed."):
            assert raw not in said[0], err
    finally:
        fake.stop()
