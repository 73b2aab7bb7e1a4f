"""The command line on an encrypted catalog: each command unlocks the folder before it opens the
catalog (a new process knows no key), and the clinic's first account gets an encrypted one."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.cli.main import main
from core.catalog import Catalog
from core.catalog.cipher import is_encrypted
from core.security import vault


def test_backup_and_audit_unlock_before_they_open_the_catalog(
    app_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = app_env / "data"
    assert main(["patients", "add", "CLI-ENC-1"]) == 0
    assert is_encrypted(data / "catalog.sqlite")
    for argv in (["backup", str(app_env / "bk")], ["audit"]):
        vault.unregister(data)  # as in a new process: nothing unlocked yet
        assert main(argv) == 0, capsys.readouterr().err
    assert is_encrypted(app_env / "bk" / "catalog.sqlite")
    assert "CLI-ENC-1" in capsys.readouterr().out  # the audit trail, read through the key


def test_the_first_account_gets_an_encrypted_catalog(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = tmp_path / "fresh"
    password = tmp_path / "password.txt"
    password.write_text("a first fine password\n", encoding="utf-8")
    monkeypatch.setenv("THERASCOPE_PASSWORD_FILE", str(password))
    monkeypatch.setenv("THERASCOPE_CONFIG_DIR", str(tmp_path / "cfg"))
    try:
        assert main(["--data-dir", str(data), "users", "add", "boss", "--admin"]) == 0
        assert is_encrypted(data / "catalog.sqlite")
        with Catalog.open(data / "catalog.sqlite") as cat:
            assert cat.audit_log(limit=1)[0].detail == "account=boss"
    finally:
        vault.unregister(data)
