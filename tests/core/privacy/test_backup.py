"""Backups taken while the app writes, checked by hashes, restored equal, and never bringing back
an erased patient (core/privacy/backup.py, app/cli/backup.py)."""

from __future__ import annotations

import argparse
import json
import shutil
import sqlite3
import threading
import time
from pathlib import Path

import pytest

from app.cli.backup import add_backup_commands
from core.catalog import Catalog
from core.privacy.backup import (
    LAST_BACKUP_NAME,
    MANIFEST_NAME,
    BackupDamaged,
    BackupError,
    backup,
    last_backup,
    last_backup_words,
    read_manifest,
    restore,
    verify_backup,
)
from core.recording.lock import RecordingLock
from core.security.keystore import KeyDestroyedError, KeyStore, Unlocked
from tests.accounts import FAST_KDF, TEST_PASSWORD, TEST_USER, make_account
from tests.app.review_data import make_analysed, record_short

#: a name that must not survive in a restored catalog once its patient is erased
SECRET_NAME = "Zephyrine Quaxleworth"


def _unlock(root: Path) -> Unlocked:
    return KeyStore.open(root / "keys.json", kdf=FAST_KDF).unlock(TEST_USER, TEST_PASSWORD)


def _admin(store: KeyStore) -> Unlocked:
    return store.unlock(TEST_USER, TEST_PASSWORD)


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data folder with an account and two patients with short recorded sessions (and their
    keys), made once and copied for each test."""
    base = tmp_path_factory.mktemp("clinic")
    root = base / "data"
    make_account(root, base / "password")
    with Catalog.open(root / "catalog.sqlite") as cat, _unlock(root) as keys:
        cat.account = TEST_USER
        erase = cat.add_patient("ERASE1", name=SECRET_NAME, birth_year=1980)
        keep = cat.add_patient("KEEP2", birth_year=1975)
        a, _ = make_analysed(cat, root, erase.id)
        b = record_short(cat, root, keep.id)
        cat.add_marker(b.id, 1.0, "note", "a marker")
        for rec, p in ((a, erase), (b, keep)):
            keys.session_key(rec.uid, str(p.uuid))
    return root


@pytest.fixture()
def clinic(template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "data"
    shutil.copytree(template, root)
    password = tmp_path / "password"
    password.write_text(TEST_PASSWORD + "\n", encoding="utf-8")
    monkeypatch.setenv("THERASCOPE_USER", TEST_USER)
    monkeypatch.setenv("THERASCOPE_PASSWORD_FILE", str(password))
    return root


def _cli(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="therascope")
    ap.add_argument("--data-dir")
    ap.add_argument("--user")
    add_backup_commands(ap.add_subparsers(dest="cmd"))
    args = ap.parse_args(argv)
    return int(args.func(args))


def _files(root: Path, tops: tuple[str, ...] = ("patients", "sessions")) -> dict[str, bytes]:
    out: dict[str, bytes] = {}
    for top in tops:
        for p in sorted((root / top).rglob("*")):
            if p.is_file():
                out[p.relative_to(root).as_posix()] = p.read_bytes()
    return out


def _tables(path: Path) -> dict[str, list[tuple[object, ...]]]:
    conn = sqlite3.connect(str(path))
    try:
        names = [
            r[0]
            for r in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            )
        ]
        return {n: conn.execute(f"SELECT * FROM {n} ORDER BY rowid").fetchall() for n in names}
    finally:
        conn.close()


def test_round_trip_equal(clinic: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = _tables(clinic / "catalog.sqlite")
    dest = tmp_path / "backup"
    assert _cli(["--data-dir", str(clinic), "backup", str(dest)]) == 0
    assert "Backup written" in capsys.readouterr().out
    assert not dest.with_name("backup.partial").exists()
    assert verify_backup(dest) == []
    assert _cli(["backup", "--verify", str(dest)]) == 0

    manifest = read_manifest(dest)
    assert manifest["account"] == TEST_USER
    assert manifest["left_out_sessions"] == []
    paths = {e["path"] for e in manifest["files"]}
    assert {"catalog.sqlite", "keys.json"} <= paths
    assert not any(p.endswith((".tmp", ".lock")) for p in paths)

    # the backup is noted in the data folder and audited with the account
    note = last_backup(clinic)
    assert note is not None and note["files"] == len(manifest["files"])
    assert note["bytes"] == sum(e["size"] for e in manifest["files"])
    assert last_backup_words(clinic).startswith("Last backup: ")
    assert f"{note['files']:,} files" in last_backup_words(clinic)
    with Catalog.open(clinic / "catalog.sqlite") as cat:
        row = cat.audit_log(entity="backup")[0]
    assert (row.action, row.account) == ("export", TEST_USER)
    assert row.detail == f"files={note['files']}; bytes={note['bytes']}"

    into = tmp_path / "restored"
    result = restore(dest, into, unlock=_admin)
    assert result.erased_patients == () and result.erased_sessions == ()
    assert result.account == TEST_USER
    assert _files(into) == _files(clinic)
    assert (into / "keys.json").read_bytes() == (clinic / "keys.json").read_bytes()
    after = _tables(into / "catalog.sqlite")
    assert after.keys() == before.keys()
    for name in before:
        if name == "audit":  # the restored one adds its own entry of the restore
            assert after[name][: len(before[name])] == before[name]
            assert len(after[name]) == len(before[name]) + 1
        else:
            assert after[name] == before[name], name
    with Catalog.open(into / "catalog.sqlite") as cat:
        assert cat.audit_log(entity="backup")[0].action == "import"
    assert not list(tmp_path.glob(".restored.restoring*"))


def test_snapshot_consistent_while_another_connection_writes(clinic: Path, tmp_path: Path) -> None:
    """A write transaction open elsewhere is not in the snapshot; writes committed in pairs
    meanwhile are never half in it; the copy opens as a catalog."""
    dest = tmp_path / "backup"
    writer = sqlite3.connect(str(clinic / "catalog.sqlite"), check_same_thread=False, timeout=10)
    writer.execute("BEGIN IMMEDIATE")
    writer.execute("UPDATE patients SET notes = 'not committed' WHERE code = 'KEEP2'")

    def commit_once_copied() -> None:
        # the catalog's snapshot is taken before the key store is copied
        deadline = time.monotonic() + 20
        while not (dest.with_name("backup.partial") / "keys.json").exists() and not dest.exists():
            if time.monotonic() > deadline:
                break
            time.sleep(0.005)
        writer.commit()

    pairs_stop = threading.Event()

    def write_pairs() -> None:
        conn = sqlite3.connect(str(clinic / "catalog.sqlite"), timeout=10)
        try:
            while not pairs_stop.is_set():
                with conn:
                    for _ in range(2):
                        conn.execute(
                            "INSERT INTO audit (at, action, entity, entity_id, detail)"
                            " VALUES ('2026-01-01T00:00:00+00:00', 'update', 'pair', NULL, '')"
                        )
                time.sleep(0.001)
        finally:
            conn.close()

    committer = threading.Thread(target=commit_once_copied)
    committer.start()
    with _unlock(clinic) as keys:
        result = backup(clinic, dest, unlocked=keys)
    committer.join()
    pairs = threading.Thread(target=write_pairs)
    pairs.start()
    try:
        with _unlock(clinic) as keys:
            second = backup(clinic, tmp_path / "second", unlocked=keys)
    finally:
        pairs_stop.set()
        pairs.join()
        writer.close()
    assert result.files > 2 and verify_backup(dest) == [] and verify_backup(second.dest) == []

    snap = sqlite3.connect(str(dest / "catalog.sqlite"))
    try:
        notes = snap.execute("SELECT notes FROM patients WHERE code = 'KEEP2'").fetchone()[0]
        assert notes != "not committed"
        assert snap.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        snap.close()
    live = sqlite3.connect(str(clinic / "catalog.sqlite"))
    try:
        committed = live.execute("SELECT notes FROM patients WHERE code = 'KEEP2'").fetchone()[0]
    finally:
        live.close()
    assert committed == "not committed"  # it was committed after the snapshot
    snap = sqlite3.connect(str(second.dest / "catalog.sqlite"))
    try:
        n = snap.execute("SELECT count(*) FROM audit WHERE entity = 'pair'").fetchone()[0]
        assert n % 2 == 0
    finally:
        snap.close()
    with Catalog.open(second.dest / "catalog.sqlite") as cat:
        assert {p.code for p in cat.list_patients()} == {"ERASE1", "KEEP2"}


def test_tampered_backup_is_refused_and_nothing_written(clinic: Path, tmp_path: Path) -> None:
    dest = tmp_path / "backup"
    with _unlock(clinic) as keys:
        backup(clinic, dest, unlocked=keys)
    victim = next(p for p in sorted((dest / "sessions").rglob("*")) if p.is_file())
    data = bytearray(victim.read_bytes())
    data[len(data) // 2] ^= 0x01
    victim.write_bytes(bytes(data))
    problems = verify_backup(dest)
    assert len(problems) == 1 and victim.relative_to(dest).as_posix() in problems[0]
    assert _cli(["backup", "--verify", str(dest)]) == 1

    into = tmp_path / "restored"
    with pytest.raises(BackupDamaged) as caught:
        restore(dest, into, unlock=_admin)
    assert caught.value.problems == problems
    assert not into.exists() and not list(tmp_path.glob(".restored*"))
    assert _cli(["--data-dir", str(clinic), "restore", str(dest), "--into", str(into)]) == 2
    assert not into.exists()

    # a manifest edited by hand is refused too
    victim.write_bytes(bytes(data[: len(data) // 2]))
    doc = json.loads((dest / MANIFEST_NAME).read_bytes())
    entry = next(e for e in doc["files"] if e["path"] == victim.relative_to(dest).as_posix())
    entry["size"] = len(data) // 2
    (dest / MANIFEST_NAME).write_text(json.dumps(doc), encoding="utf-8")
    assert any("altered" in p for p in verify_backup(dest))
    with pytest.raises(BackupDamaged):
        restore(dest, into, unlock=_admin)
    assert not into.exists()


def test_restoring_a_backup_from_before_an_erasure_does_not_bring_the_patient_back(
    clinic: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from core.privacy.erasure import erase_patient

    old = tmp_path / "old-backup"
    assert _cli(["--data-dir", str(clinic), "backup", str(old)]) == 0
    with Catalog.open(clinic / "catalog.sqlite") as cat, _unlock(clinic) as keys:
        cat.account = TEST_USER
        erased = cat.patient_by_code("ERASE1")
        kept = cat.patient_by_code("KEEP2")
        assert erased is not None and kept is not None
        erased_uids = {s.uid for s in cat.list_sessions(patient_id=erased.id)}
        kept_uids = {s.uid for s in cat.list_sessions(patient_id=kept.id)}
        kept_key = keys.patient_key(str(kept.uuid), create=False)
        erase_patient(cat, clinic, erased.id, keys)
    assert read_manifest(old)["ledger"] == []  # taken before the erasure

    into = tmp_path / "restored"
    argv = ["--data-dir", str(tmp_path / "elsewhere"), "restore", str(old), "--into", str(into)]
    assert _cli([*argv, "--ledger-from", str(clinic)]) == 0
    out = capsys.readouterr().out
    assert "1 patient(s)" in out

    with Catalog.open(into / "catalog.sqlite") as cat:
        assert cat.patient_by_code("ERASE1") is None
        back = cat.patient_by_code("KEEP2")
        assert back is not None and back.uuid == kept.uuid
        assert {s.uid for s in cat.list_sessions()} == kept_uids
        assert len(cat.list_markers(cat.list_sessions()[0].id)) == 1
    for uid in erased_uids:
        assert not (into / "sessions" / uid).exists()
    for uid in kept_uids:
        assert (into / "sessions" / uid / "session.json").is_file()
    assert not (into / "patients" / f"{erased.uuid}.json").exists()
    assert (into / "patients" / f"{kept.uuid}.json").is_file()
    raw = (into / "catalog.sqlite").read_bytes()
    assert SECRET_NAME.encode() not in raw and b"Zephyrine" not in raw
    wal = into / "catalog.sqlite-wal"
    assert not wal.exists() or wal.stat().st_size == 0

    with _unlock(into) as keys:
        with pytest.raises(KeyDestroyedError):
            keys.patient_key(str(erased.uuid), create=False)
        for uid in erased_uids:
            with pytest.raises(KeyDestroyedError):
                keys.session_key(uid, str(erased.uuid), create=False)
        assert keys.patient_key(str(kept.uuid), create=False) == kept_key
        ledger = {(e.kind, e.id) for e in keys.ledger()}
    assert ("patient", str(erased.uuid)) in ledger
    wrapped = json.loads((into / "keys.json").read_text(encoding="utf-8"))
    assert str(erased.uuid) not in wrapped["patients"]
    assert not set(wrapped["sessions"]) & erased_uids

    # without the newer ledger the old backup would have brought the patient back
    plain = restore(old, tmp_path / "plain", unlock=_admin)
    assert plain.erased_patients == ()
    # a backup taken after the erasure carries the ledger itself
    new = tmp_path / "new-backup"
    with _unlock(clinic) as keys:
        assert backup(clinic, new, unlocked=keys).ledger_entries >= 1
    assert ("patient", str(erased.uuid)) in {
        (e["kind"], e["id"]) for e in read_manifest(new)["ledger"]
    }


def test_restore_needs_an_administrator(clinic: Path, tmp_path: Path) -> None:
    with KeyStore.open(clinic / "keys.json", kdf=FAST_KDF).unlock(TEST_USER, TEST_PASSWORD) as k:
        k.add_account("helper", "another throwaway pw", role="therapist")
    dest = tmp_path / "backup"
    with KeyStore.open(clinic / "keys.json").unlock("helper", "another throwaway pw") as k:
        backup(clinic, dest, unlocked=k)  # any account may back up
    into = tmp_path / "restored"
    with pytest.raises(PermissionError):
        restore(dest, into, unlock=lambda s: s.unlock("helper", "another throwaway pw"))
    assert not into.exists() and not list(tmp_path.glob(".restored*"))
    assert verify_backup(dest) == []  # a refused restore leaves the backup as it was


def test_live_sessions_and_temporary_files_are_left_out(clinic: Path, tmp_path: Path) -> None:
    live = clinic / "sessions" / "20260101-live"
    live.mkdir()
    (live / "session.json").write_text("{}", encoding="utf-8")
    lock = RecordingLock(live)
    some = next(p for p in (clinic / "sessions").iterdir() if p.is_dir() and p != live)
    (some / ".catalog.json.tmp").write_text("half", encoding="utf-8")
    (clinic / "sessions" / ".deleting-old").mkdir()
    (clinic / "sessions" / ".deleting-old" / "x.bin").write_bytes(b"x")
    try:
        with _unlock(clinic) as keys:
            result = backup(clinic, tmp_path / "backup", unlocked=keys)
    finally:
        lock.release()
    assert result.left_out == ("20260101-live",)
    paths = {e["path"] for e in read_manifest(result.dest)["files"]}
    assert not any("20260101-live" in p or ".tmp" in p or ".deleting-" in p for p in paths)
    assert read_manifest(result.dest)["left_out_sessions"] == ["20260101-live"]


def test_refusals(clinic: Path, tmp_path: Path) -> None:
    assert last_backup_words(clinic) == "No backup yet"
    full = tmp_path / "full"
    full.mkdir()
    (full / "something").write_text("x", encoding="utf-8")
    with _unlock(clinic) as keys:
        with pytest.raises(BackupError, match="not empty"):
            backup(clinic, full, unlocked=keys)
        with pytest.raises(BackupError, match="inside the data folder"):
            backup(clinic, clinic / "backups" / "b1", unlocked=keys)
        empty = tmp_path / "empty"
        empty.mkdir()
        result = backup(clinic, empty, unlocked=keys)  # an empty folder is fine
    assert verify_backup(result.dest) == []
    assert (clinic / LAST_BACKUP_NAME).is_file()
    with pytest.raises(BackupError, match="not empty"):
        restore(result.dest, full, unlock=_admin)
    assert verify_backup(tmp_path / "nothing-here") != []
