"""Accounts on the command line: the first account on a fresh data folder, every command that
touches patient data unlocked by an account, wrong passwords and the lockout, administrators and
therapists, and the audit trail naming who acted."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.cli.main import main
from core.catalog import Catalog


@pytest.fixture
def fresh(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A data folder with no account yet; passwords given in files, as scripts do."""
    root = tmp_path / "clinic"
    monkeypatch.setenv("THERASCOPE_DATA_DIR", str(root))
    monkeypatch.setenv("THERASCOPE_CONFIG_DIR", str(tmp_path / "cfg"))
    monkeypatch.setenv("THERASCOPE_DEMO_DIR", str(tmp_path / "demo"))
    monkeypatch.delenv("THERASCOPE_USER", raising=False)
    monkeypatch.delenv("THERASCOPE_PASSWORD_FILE", raising=False)
    return root


def _password(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, env: str, text: str) -> None:
    path = tmp_path / f"{env}.txt"
    path.write_text(text + "\n")
    monkeypatch.setenv(env, str(path))


def _run(capsys, *argv: str) -> tuple[int, str, str]:  # type: ignore[no-untyped-def]
    capsys.readouterr()
    rc = main(list(argv))
    out = capsys.readouterr()
    return rc, out.out, out.err


def test_first_account_then_every_command_needs_one(fresh, tmp_path, monkeypatch, capsys):  # type: ignore[no-untyped-def]
    rc, _, err = _run(capsys, "patients", "add", "A-1")
    assert rc == 2 and "no account yet" in err and "users add NAME --admin" in err
    assert (
        not (fresh / "catalog.sqlite").exists()
        or Catalog.open(fresh / "catalog.sqlite").list_patients() == []
    )

    _password(monkeypatch, tmp_path, "THERASCOPE_PASSWORD_FILE", "the clinic's own secret")
    rc, out, err = _run(capsys, "users", "add", "dr.amsel", "--admin")
    assert rc == 0 and "RECOVERY KEY" in err and "only this once" in err
    recovery = out.strip()
    assert len(recovery.replace("-", "").replace(" ", "")) == 56
    assert (fresh / "keys.json").exists()

    # the folder's only account unlocks with the password file; the audit names it
    rc, _, err = _run(capsys, "patients", "add", "A-1", "--name", "Anna Beispiel")
    assert rc == 0, err
    with Catalog.open(fresh / "catalog.sqlite") as cat:
        rows = [(e.action, e.entity, e.account) for e in cat.audit_log(limit=5)]
    assert ("create", "patient", "dr.amsel") in rows
    assert ("create", "account", "dr.amsel") in rows


def test_wrong_password_then_locked_and_therapists_are_not_administrators(  # type: ignore[no-untyped-def]
    fresh, tmp_path, monkeypatch, capsys
):
    _password(monkeypatch, tmp_path, "THERASCOPE_PASSWORD_FILE", "administrator secret")
    assert _run(capsys, "users", "add", "boss", "--admin")[0] == 0
    _password(monkeypatch, tmp_path, "THERASCOPE_NEW_PASSWORD_FILE", "therapist secret")
    rc, out, err = _run(capsys, "users", "add", "theo")
    assert rc == 0 and "theo added (therapist)" in out, err
    rc, out, _ = _run(capsys, "users", "list")
    assert out.splitlines() == ["boss\tadministrator", "theo\ttherapist"]

    # two accounts: a command names its account
    rc, _, err = _run(capsys, "patients", "list")
    assert rc == 2 and "--user NAME" in err
    monkeypatch.setenv("THERASCOPE_USER", "theo")
    _password(monkeypatch, tmp_path, "THERASCOPE_PASSWORD_FILE", "not theo's password")
    for _ in range(4):
        rc, _, err = _run(capsys, "patients", "list")
        assert rc == 2 and "Wrong name or password." in err and "Traceback" not in err
    rc, _, err = _run(capsys, "patients", "list")
    assert rc == 2 and "Wrong name or password." in err
    _password(monkeypatch, tmp_path, "THERASCOPE_PASSWORD_FILE", "therapist secret")
    rc, _, err = _run(capsys, "patients", "list")
    assert rc == 2 and "locked until" in err  # even the right password, for a while

    # the administrator reads the audit trail; it names who did what, failures are not patients
    monkeypatch.setenv("THERASCOPE_USER", "boss")
    _password(monkeypatch, tmp_path, "THERASCOPE_PASSWORD_FILE", "administrator secret")
    rc, out, err = _run(capsys, "audit", "--json")
    assert rc == 0, err
    rows = json.loads(out)
    assert any(
        r["account"] == "boss" and r["detail"] == "account=theo; role=therapist" for r in rows
    )
    assert all(r["account"] in ("boss", None) for r in rows)  # theo never got in

    # a therapist may not read it, nor add accounts
    monkeypatch.setenv("THERASCOPE_USER", "theo")
    monkeypatch.setattr("core.security.keystore._utc_now", lambda: _later())
    _password(monkeypatch, tmp_path, "THERASCOPE_PASSWORD_FILE", "therapist secret")
    rc, _, err = _run(capsys, "audit")
    assert rc == 2 and "Only administrators" in err
    rc, _, err = _run(capsys, "users", "add", "eve")
    assert rc == 2 and "admin" in err.lower()


def _later():  # type: ignore[no-untyped-def]
    """An hour from now: theo's lock has run out."""
    import datetime as dt

    return dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=1)


def test_the_demo_data_folder_needs_no_account(fresh, tmp_path, capsys):  # type: ignore[no-untyped-def]
    rc, out, err = _run(capsys, "demo", "--no-analysis")
    assert rc == 0, err
    assert str(tmp_path / "demo") in out
    with Catalog.open(tmp_path / "demo" / "catalog.sqlite") as cat:
        assert [p.is_demo for p in cat.list_patients()] == [True]
    assert not (fresh / "catalog.sqlite").exists()  # nothing in the clinic's folder
