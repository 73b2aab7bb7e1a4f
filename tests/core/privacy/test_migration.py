"""Encrypting a data folder written in the clear (issue 16, item 5): a full backup first, each
session sealed and verified before its plaintext goes, resumable after a kill at any step, and
the result reads exactly as the original did."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

from app.demo.simulation import record_simulated
from core.catalog import Catalog
from core.config import Settings
from core.privacy import migration
from core.privacy.backup import verify_backup
from core.privacy.migration import MigrationError, encrypt_folder, needs_encryption
from core.recording import open_session
from core.security import vault
from core.security.access import create_first_account
from tests.accounts import FAST_KDF, TEST_PASSWORD, TEST_USER

SMALL = Settings(camera_width=96, camera_height=72, camera_fps=5)


def _digests(folder: Path) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(vault.read_bytes(p)).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name not in vault.PLAIN_NAMES
    }


def test_a_plaintext_folder_is_encrypted_in_place_resumably_and_reads_the_same(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "data"
    unlocked, _ = create_first_account(root, TEST_USER, TEST_PASSWORD, kdf=FAST_KDF)
    cat = Catalog.open(root / "catalog.sqlite")  # written before encryption: all in the clear
    p = cat.add_patient("MIG-0001", name="Grace Example")
    recs = [record_simulated(cat, root, p.id, 2.0, settings=SMALL, seed=s) for s in (1, 2, 3)]
    folders = [root / r.folder for r in recs]
    assert not any(vault.is_sealed_session(f) for f in folders)
    before = {f.name: _digests(f) for f in folders}
    ecg_before = open_session(folders[0]).signal("ECG").values.copy()
    # the copy an older schema migration left beside the catalog: the patient list in the clear
    import sqlite3

    bak = root / "catalog.sqlite.v6-20261101T000000Z.bak"
    with sqlite3.connect(root / "catalog.sqlite") as src, sqlite3.connect(bak) as dst:
        src.backup(dst)
    assert b"MIG-0001" in bak.read_bytes()
    vault.register(root, unlocked)
    try:
        assert needs_encryption(cat, root)
        with pytest.raises(MigrationError, match="backup"):
            encrypt_folder(cat, root, unlocked, None)

        # run 1 stops after one session (as if the machine went down)
        first = encrypt_folder(cat, root, unlocked, tmp_path / "backup", stop_after=1)
        assert first.sessions == [recs[0].uid] and first.backup == tmp_path / "backup"
        assert not first.catalog and not cat.is_encrypted  # the catalog comes last
        assert verify_backup(tmp_path / "backup") == []

        # run 2 is killed between its two renames: the plaintext is swapped out, the sealed copy
        # not yet in place
        real_rename = migration.os.rename
        calls = []

        def dying_rename(a: object, b: object) -> None:
            calls.append(a)
            if len(calls) == 2:
                raise KeyboardInterrupt("killed")
            real_rename(a, b)  # type: ignore[arg-type]

        monkeypatch.setattr(migration.os, "rename", dying_rename)
        with pytest.raises(KeyboardInterrupt):
            encrypt_folder(cat, root, unlocked, None)
        monkeypatch.setattr(migration.os, "rename", real_rename)
        assert not folders[1].exists()  # only the swapped-out plaintext and the sealed copy
        # and a half-made copy of the third session, as a kill mid-copy leaves it
        (root / "sessions" / f"{migration.STAGING_PREFIX}{recs[2].uid}").mkdir()

        last = encrypt_folder(cat, root, unlocked, None)  # resumes with the first run's backup
        assert last.backup == tmp_path / "backup"
        assert len(last.resumed) == 3 and last.sessions == [recs[2].uid]
        assert last.patients == 1
        assert last.catalog and cat.is_encrypted  # the open catalog goes on, encrypted
        assert last.catalog_copies == 1 and b"MIG-0001" not in bak.read_bytes()
        assert not needs_encryption(cat, root)
        # the catalog's file and WAL hold no code or name in the clear; read with the key, it
        # holds what it held
        catalog_bytes = b"".join(f.read_bytes() for f in root.glob("catalog.sqlite*"))
        assert b"MIG-0001" not in catalog_bytes and b"Grace" not in catalog_bytes
        assert not catalog_bytes.startswith(b"SQLite format 3")
        assert cat.patient_by_code("MIG-0001") == p
        assert sorted(s.uid for s in cat.list_sessions()) == sorted(r.uid for r in recs)
        leftovers = [e.name for e in (root / "sessions").iterdir() if e.name.startswith(".")]
        assert leftovers == []
        for f in folders:
            assert vault.is_sealed_session(f)
            sealed = [x for x in f.rglob("*") if x.is_file() and x.name not in vault.PLAIN_NAMES]
            assert sealed and all(vault.is_sealed(x) for x in sealed)
            assert _digests(f) == before[f.name]  # every file decrypts to its original
        (record,) = (root / "patients").glob("*.json")
        assert vault.is_sealed(record) and b"Grace" not in record.read_bytes()
        np.testing.assert_array_equal(open_session(folders[0]).signal("ECG").values, ecg_before)
        assert encrypt_folder(cat, root, unlocked, None).sessions == []  # nothing left to do
    finally:
        vault.unregister(root)
        cat.close()
