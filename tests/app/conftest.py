import json

import pytest


@pytest.fixture
def app_env(tmp_path, monkeypatch):
    """A fresh data and config folder; small camera frames keep real-time tests light.

    The set-up screen does not scan for Bluetooth sensors and cameras by itself here (the tests
    of the device set-up do, against a fake BlueZ).
    """
    monkeypatch.setattr("app.gui.record_page.RecordPage.auto_find_devices", False)
    monkeypatch.setenv("THERASCOPE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("THERASCOPE_CONFIG_DIR", str(tmp_path / "cfg"))
    (tmp_path / "cfg").mkdir()
    (tmp_path / "cfg" / "settings.json").write_text(
        json.dumps({"camera_width": 160, "camera_height": 120})
    )
    return tmp_path
