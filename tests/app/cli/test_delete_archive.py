"""The command line's archive, unarchive and delete (with --confirm repeating the code or uid)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from app.cli.main import main
from core.catalog import Catalog


@pytest.fixture
def env(app_env):
    return app_env


def _record(code: str, capsys) -> str:
    args = ["record", "--patient", code, "--simulate", "--virtual", "--consent", "--quiet"]
    assert main([*args, "--duration", "2", "--markers"]) == 0
    return capsys.readouterr().out.strip().splitlines()[-1]


def _open(env: Path) -> Catalog:
    return Catalog.open(env / "data" / "catalog.sqlite")


def test_archive_hides_from_the_list_and_unarchive_brings_back(env, capsys):
    assert main(["patients", "add", "K-1"]) == 0
    assert main(["patients", "add", "K-2"]) == 0
    capsys.readouterr()
    assert main(["patients", "archive", "K-1"]) == 0
    assert "archived patient K-1" in capsys.readouterr().out
    assert main(["patients"]) == 0
    listed = capsys.readouterr().out
    assert "K-2" in listed and "K-1" not in listed
    assert main(["patients", "list", "--archived"]) == 0
    line = next(x for x in capsys.readouterr().out.splitlines() if x.startswith("K-1"))
    assert line.endswith("[archived]")
    assert main(["patients", "unarchive", "K-1"]) == 0
    assert main(["patients"]) == 0
    assert "K-1" in capsys.readouterr().out
    with _open(env) as cat:
        details = [e.detail for e in cat.audit_log(entity="patient")[:2]]
    assert details == ["code=K-1; unarchived", "code=K-1; archived"]


def test_session_delete_needs_the_uid_repeated(env, capsys):
    assert main(["patients", "add", "K-3"]) == 0
    uid = _record("K-3", capsys)
    keep = _record("K-3", capsys)
    with _open(env) as cat:
        folder = env / "data" / cat.session_by_uid(uid).folder
    assert folder.is_dir()
    for confirm in ([], ["--confirm", keep], ["--confirm", uid[:-1]]):
        assert main(["sessions", "delete", uid, *confirm]) == 2
        err = capsys.readouterr().err
        assert f"--confirm {uid}" in err and "Nothing was deleted" in err
        assert folder.is_dir()
    assert main(["sessions", "delete", uid, "--confirm", uid]) == 0
    assert f"deleted session {uid}" in capsys.readouterr().out
    assert not folder.exists()
    with _open(env) as cat:
        assert cat.session_by_uid(uid) is None and cat.session_by_uid(keep) is not None
        assert cat.audit_log(entity="session_folder")[0].detail.startswith(f"uid={uid}")
    assert main(["sessions", "delete", uid, "--confirm", uid]) == 2  # gone already
    assert "No session" in capsys.readouterr().err


def test_patient_delete_needs_the_code_and_removes_every_session(env, capsys):
    assert main(["patients", "add", "K-4", "--name", "Kim Kay"]) == 0
    assert main(["patients", "add", "K-5"]) == 0
    uids = [_record("K-4", capsys), _record("K-4", capsys)]
    other = _record("K-5", capsys)
    for confirm in ([], ["--confirm", "K-5"], ["--confirm", "k-4"]):
        assert main(["patients", "delete", "K-4", *confirm]) == 2
        assert "--confirm K-4" in capsys.readouterr().err
    with _open(env) as cat:
        assert len(cat.list_sessions(patient_id=cat.patient_by_code("K-4").id)) == 2
    assert main(["patients", "delete", "K-4", "--confirm", "K-4"]) == 0
    assert "deleted patient K-4 and 2 session(s)" in capsys.readouterr().out
    with _open(env) as cat:
        assert cat.patient_by_code("K-4") is None
        assert all(cat.session_by_uid(u) is None for u in uids)
        assert cat.session_by_uid(other) is not None
        sessions_dir = env / "data" / "sessions"
        assert sorted(p.name for p in sessions_dir.iterdir()) == [other]
        for e in cat.audit_log(limit=1000):
            assert "Kim" not in e.detail


def test_a_recording_session_is_not_deleted(env, capsys):
    assert main(["patients", "add", "K-6"]) == 0
    with _open(env) as cat:
        p = cat.patient_by_code("K-6")
        rec = cat.create_session(
            p.id, "rec-0001", "2025-03-01T09:30:00+00:00", {}, {},
            "2025-03-01T09:29:00+00:00", "verbal", True, "sessions/rec-0001",
        )  # fmt: skip
    (env / "data" / rec.folder).mkdir(parents=True)
    assert main(["sessions", "delete", "rec-0001", "--confirm", "rec-0001"]) == 2
    assert "still recording" in capsys.readouterr().err
    assert main(["patients", "delete", "K-6", "--confirm", "K-6"]) == 2
    assert "still recording" in capsys.readouterr().err
    assert (env / "data" / rec.folder).is_dir()
    with _open(env) as cat:
        assert cat.session_by_uid("rec-0001") is not None and cat.patient_by_code("K-6")


def test_the_installed_command_refuses_with_exit_code_2(env):
    """As a shell sees it: a separate process, message on stderr, exit status 2."""
    assert main(["patients", "add", "K-7"]) == 0
    run = subprocess.run(
        [sys.executable, "-m", "app.cli.main", "patients", "delete", "K-7", "--confirm", "K-8"],
        capture_output=True,
        text=True,
        env={**os.environ},
        timeout=120,
    )
    assert run.returncode == 2, run.stderr
    assert "--confirm K-7" in run.stderr and "Nothing was deleted" in run.stderr
    with _open(env) as cat:
        assert cat.patient_by_code("K-7") is not None
