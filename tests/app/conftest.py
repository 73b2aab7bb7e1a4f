import json

import pytest

from tests.accounts import make_account


@pytest.fixture
def app_env(tmp_path, monkeypatch):
    """A fresh data folder with a throwaway administrator account (unlocked through
    THERASCOPE_USER and THERASCOPE_PASSWORD_FILE, as scripts do: tests/accounts.py), a demo data
    folder, and a config folder; small camera frames keep real-time tests light.

    The set-up screen does not scan for Bluetooth sensors and cameras by itself here (the tests
    of the device set-up do, against a fake BlueZ).
    """
    monkeypatch.setattr("app.gui.record_page.RecordPage.auto_find_devices", False)
    monkeypatch.setenv("THERASCOPE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("THERASCOPE_DEMO_DIR", str(tmp_path / "demo"))
    monkeypatch.setenv("THERASCOPE_CONFIG_DIR", str(tmp_path / "cfg"))
    (tmp_path / "cfg").mkdir()
    (tmp_path / "cfg" / "settings.json").write_text(
        json.dumps({"camera_width": 160, "camera_height": 120})
    )
    for key, value in make_account(tmp_path / "data", tmp_path / "password.txt").items():
        monkeypatch.setenv(key, value)
    return tmp_path
