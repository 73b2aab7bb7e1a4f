"""The self-test's steps (app/demo/selftest.py) when it is stopped or interrupted: the steps after
are not run, the temporary folder is removed all the same; and what it says about a computer
without a camera or a Bluetooth service."""

from __future__ import annotations

import pytest

from app.demo import selftest
from app.demo.selftest import run_selftest


@pytest.fixture
def temp(tmp_path, monkeypatch):
    monkeypatch.setenv("THERASCOPE_DATA_DIR", str(tmp_path / "clinic-data"))
    t = tmp_path / "temp"
    t.mkdir()
    return t


def test_stopped_during_the_recording(temp):
    """Stop (the dialog's button) during the recording: the partial session is dropped, the
    steps after are "not run: stopped", the clean-up runs, no environment probe."""
    seen: list[tuple[str, str]] = []
    result = run_selftest(
        temp,
        seconds=5.0,
        on_step=lambda s: seen.append((s.name, s.state)),
        cancel=lambda: ("record", "running") in seen,
    )
    states = {s.name: (s.state, s.detail) for s in result.steps}
    assert states["data folder"][0] == "passed"
    for name in ("record", "analyse", "report", "catalog"):
        assert states[name] == ("not run", selftest.STOPPED)
    assert states["clean up"][0] == "passed"
    assert result.stopped and not result.passed and not result.failed
    assert result.environment == []
    assert list(temp.iterdir()) == []


def test_ctrl_c_still_removes_the_temporary_folder(temp, monkeypatch):
    def interrupted(*a, **k):  # noqa: ANN002, ANN003
        raise KeyboardInterrupt

    monkeypatch.setattr("app.demo.simulation.record_simulated", interrupted)
    with pytest.raises(KeyboardInterrupt):
        run_selftest(temp, check_environment=False)
    assert list(temp.iterdir()) == []


def test_plain_words_without_a_camera_or_bluetooth_service(monkeypatch, tmp_path):
    """No /dev/video* and no system D-Bus (a container, a server): said plainly, nothing fails."""
    monkeypatch.setattr(selftest.sys, "platform", "linux")
    real_glob = selftest.Path.glob

    def no_devices(self, pattern):  # noqa: ANN001
        if str(self) in ("/dev", "/sys/class/bluetooth"):
            return iter(())
        return real_glob(self, pattern)

    monkeypatch.setattr(selftest.Path, "glob", no_devices)
    monkeypatch.setenv("DBUS_SYSTEM_BUS_ADDRESS", f"unix:path={tmp_path / 'no-bus'}")
    assert selftest.camera_words().startswith("no camera: this computer has no video device")
    words = selftest.bluetooth_words()
    assert words.startswith("no Bluetooth adapter: the system sees none, and ")
    assert "system message bus (D-Bus)" in words and "Plug in a Bluetooth 4.0" in words
