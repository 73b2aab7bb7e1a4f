"""The catalog encrypted at rest (issue 16, item 2): SQLCipher under the data folder's catalog key,
still WAL, still migrated and checked; a plaintext catalog still works and converts in place."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from sqlcipher3 import dbapi2 as sqlcipher

from core.catalog import CURRENT_SCHEMA, Catalog, CatalogFormatError, cipher
from core.catalog import db as catalog_db
from core.catalog.cipher import SQLITE_MAGIC, encrypt_catalog, is_encrypted, is_plaintext
from core.catalog.errors import CatalogEncryptionError, CatalogKeyError, CatalogLockedError
from core.catalog.rebuild import rebuild_catalog
from core.security import vault
from core.security.access import create_first_account
from core.storage import FULL, READ_ONLY, StorageError, explain, kind_of
from tests.accounts import FAST_KDF, TEST_PASSWORD, TEST_USER

CODE = "ENC-7731"
NAME = "Philippa Quorn"


@pytest.fixture
def root(tmp_path: Path):
    """A data folder with an account, unlocked in this process (as after a login)."""
    root = tmp_path / "data"
    unlocked, _ = create_first_account(root, TEST_USER, TEST_PASSWORD, kdf=FAST_KDF)
    vault.register(root, unlocked)
    yield root
    vault.unregister(root)


def _raw(path: Path) -> bytes:
    """The catalog's bytes on disk: the file, its WAL and its shared memory."""
    return b"".join(p.read_bytes() for p in sorted(path.parent.glob(path.name + "*")))


def _leaks(path: Path) -> list[bytes]:
    raw = _raw(path)
    return [s for s in (CODE.encode(), NAME.encode(), b"Quorn", SQLITE_MAGIC) if s in raw]


def _fill(cat: Catalog) -> int:
    p = cat.add_patient(CODE, name=NAME, notes="anxious before exams")
    s = cat.create_session(
        p.id,
        uid="20261205-101500-abcd",
        started_at="2026-12-05T10:15:00Z",
        devices={},
        settings={},
        consent_at="2026-12-05T10:14:00Z",
        consent_note=f"verbal consent of {NAME}",
        simulated=True,
        folder="sessions/20261205-101500-abcd",
    )
    cat.add_marker(s.id, 1.5, "note", f"{NAME} laughed")
    return p.id


def test_a_new_catalog_of_an_unlocked_folder_is_encrypted_in_wal_mode(root: Path) -> None:
    path = root / "catalog.sqlite"
    with Catalog.open(path) as cat:
        _fill(cat)
        assert cat.is_encrypted
        assert (root / "catalog.sqlite-wal").stat().st_size > 0  # the rows are in the WAL now
        assert _leaks(path) == []  # neither the file nor its WAL holds a code, a name, a header
        assert cat._conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert cat._conn.execute("PRAGMA secure_delete").fetchone()[0] == 1
        assert cat._conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        assert cat.schema_version == CURRENT_SCHEMA
    assert is_encrypted(path) and not is_plaintext(path)
    assert _leaks(path) == []
    with Catalog.open(path) as cat:  # opens again with the folder's key
        assert [p.code for p in cat.list_patients()] == [CODE]
        assert cat._conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_an_encrypted_catalog_refuses_to_open_without_the_key_in_words(root: Path) -> None:
    path = root / "catalog.sqlite"
    Catalog.open(path).close()
    before = path.read_bytes()
    vault.unregister(root)
    with pytest.raises(CatalogLockedError, match="encrypted.*sign in first"):
        Catalog.open(path)
    with pytest.raises(CatalogKeyError, match="another data folder.*or it is damaged"):
        Catalog.open(path, key=b"\x07" * 32)
    with pytest.raises(sqlite3.DatabaseError):  # any SQLite tool: not a database
        sqlite3.connect(path).execute("SELECT * FROM patients").fetchall()
    assert path.read_bytes() == before


def test_a_plaintext_catalog_still_opens_as_it_is(tmp_path: Path, root: Path) -> None:
    plain = tmp_path / "demo" / "catalog.sqlite"  # no account: the demo folder
    with Catalog.open(plain) as cat:
        _fill(cat)
        assert not cat.is_encrypted
    assert is_plaintext(plain)
    # a folder written before encryption, now unlocked: it stays plaintext until converted
    old = root / "catalog.sqlite"
    _plain(old).close()
    with Catalog.open(old) as cat:
        assert not cat.is_encrypted
        assert cat.list_patients() == []


def test_a_plaintext_catalog_is_encrypted_in_place(root: Path) -> None:
    path = root / "catalog.sqlite"
    key = vault.unlocked_for(root).catalog_key()  # type: ignore[union-attr]
    with _plain(path) as cat:
        pid = _fill(cat)
        seq = cat._conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'audit'").fetchone()
        assert CODE.encode() in _raw(path)
        audit = [(e.id, e.action, e.detail) for e in cat.audit_log()]
        assert cat.encrypt(key) is True  # the open catalog goes on, encrypted
        assert cat.is_encrypted and cat.encrypt(key) is False
        assert cat.get_patient(pid).name == NAME  # type: ignore[union-attr]
        cat.add_patient("ENC-0002")  # and writes on, in WAL mode
        assert cat._conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert _leaks(path) == []
    assert not path.with_name(path.name + ".encrypting").exists()
    with Catalog.open(path) as cat:
        assert cat.schema_version == CURRENT_SCHEMA
        assert sorted(p.code for p in cat.list_patients()) == ["ENC-0002", CODE]
        # ids, actions and the id sequence came over as they were
        assert [(e.id, e.action, e.detail) for e in cat.audit_log()][-len(audit) :] == audit
        new_seq = cat._conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'audit'")
        assert new_seq.fetchone()[0] > seq[0]
    with pytest.raises(CatalogEncryptionError, match="not a plaintext catalog"):
        encrypt_catalog(path, key)


def _plain(path: Path) -> Catalog:
    """A catalog written before encryption (its folder not unlocked then)."""
    unlocked = vault.unlocked_for(path.parent)
    vault.unregister(path.parent)
    try:
        return Catalog.open(path)
    finally:
        vault.register(path.parent, unlocked)  # type: ignore[arg-type]


def test_encrypting_leaves_the_plaintext_when_another_program_holds_it_open(root: Path) -> None:
    path = root / "catalog.sqlite"
    _plain(path).close()
    key = vault.unlocked_for(root).catalog_key()  # type: ignore[union-attr]
    # another process (locks between two SQLite libraries inside one process do not see
    # each other): it read the catalog and keeps it open
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); "
            "c.execute('SELECT count(*) FROM patients').fetchone(); print('open', flush=True); "
            "sys.stdin.read()",
            str(path),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "open"
        with pytest.raises(CatalogEncryptionError, match="in use by another program"):
            encrypt_catalog(path, key)
    finally:
        holder.communicate("", timeout=30)
    assert is_plaintext(path)
    assert not path.with_name(path.name + ".encrypting").exists()
    with Catalog.open(path) as cat:  # the plaintext is whole
        assert cat.list_patients() == []
    encrypt_catalog(path, key)  # once it is closed
    assert is_encrypted(path)


def test_an_encrypted_catalog_migrates_with_an_encrypted_backup(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = root / "catalog.sqlite"
    with Catalog.open(path) as cat:
        _fill(cat)

    def to_next(conn) -> None:  # type: ignore[no-untyped-def]
        conn.execute("CREATE TABLE extra (x INTEGER)")

    monkeypatch.setattr(catalog_db, "CURRENT_SCHEMA", CURRENT_SCHEMA + 1)
    monkeypatch.setitem(catalog_db.MIGRATIONS, CURRENT_SCHEMA + 1, to_next)
    with Catalog.open(path) as cat:
        assert cat.schema_version == CURRENT_SCHEMA + 1
    (bak,) = root.glob("catalog.sqlite.v*.bak")
    assert is_encrypted(bak) and CODE.encode() not in bak.read_bytes()
    key = vault.unlocked_for(root).catalog_key()  # type: ignore[union-attr]
    old = sqlcipher.connect(str(bak))
    old.execute(f"PRAGMA key = \"x'{key.hex()}'\"")
    assert old.execute("PRAGMA user_version").fetchone()[0] == CURRENT_SCHEMA
    assert old.execute("SELECT code FROM patients").fetchall() == [(CODE,)]
    old.close()


def test_a_file_that_is_no_database_is_still_called_so(root: Path) -> None:
    path = root / "catalog.sqlite"
    path.write_bytes(b"not a database at all\n" * 10)
    with pytest.raises(CatalogFormatError, match="not an SQLite database"):
        Catalog.open(path)


def test_sqlcipher_errors_are_recognised_as_full_and_read_only(root: Path) -> None:
    path = root / "catalog.sqlite"
    with Catalog.open(path) as cat:
        _fill(cat)
        conn = cat._conn
        conn.execute("PRAGMA query_only = ON")
        with pytest.raises(StorageError) as e:
            cat.add_patient("RO-1")
        assert e.value.kind == READ_ONLY and "read-only" in str(e.value)
        conn.execute("PRAGMA query_only = OFF")
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
        conn.execute(f"PRAGMA max_page_count = {pages}")
        with pytest.raises(StorageError) as e:
            for i in range(200):
                cat.add_patient(f"FULL-{i}", notes="y" * 4000)
        assert e.value.kind == FULL and "damaged" not in str(e.value)
        assert isinstance(e.value.__cause__, sqlcipher.Error)
    bad = sqlcipher.DatabaseError("file is not a database")
    assert kind_of(bad) == "damaged"
    assert explain(sqlcipher.OperationalError("database or disk is full"), "x", path).kind == FULL


def test_a_rebuilt_catalog_of_an_unlocked_folder_is_encrypted(root: Path, tmp_path: Path) -> None:
    with Catalog.open(root / "catalog.sqlite") as cat:
        _fill(cat)
    for target in (None, tmp_path / "elsewhere" / "rebuilt.sqlite"):  # beside it, or --out
        if target is not None:
            target.parent.mkdir()
        result = rebuild_catalog(root, target)
        assert is_encrypted(result.path) and _leaks(result.path) == []
        key = vault.unlocked_for(root).catalog_key()  # type: ignore[union-attr]
        with Catalog.open(result.path, key=key) as cat:
            assert [p.code for p in cat.list_patients()] == [CODE]


def test_a_kill_while_encrypting_leaves_the_plaintext_and_the_next_run_finishes(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = root / "catalog.sqlite"
    with _plain(path) as cat:
        _fill(cat)
    before = path.read_bytes()
    key = vault.unlocked_for(root).catalog_key()  # type: ignore[union-attr]

    def killed(*_a: object) -> None:
        raise KeyboardInterrupt("killed before the rename")

    monkeypatch.setattr(cipher.os, "replace", killed)
    with pytest.raises(KeyboardInterrupt):
        encrypt_catalog(path, key)
    monkeypatch.undo()
    assert path.read_bytes() == before and is_plaintext(path)
    # what a SIGKILL (no clean-up) leaves: a half-written copy beside it
    leftover = path.with_name(path.name + cipher.ENCRYPTING_SUFFIX)
    leftover.write_bytes(b"\x00" * 4096)
    with Catalog.open(path) as cat:  # the plaintext still opens as it was
        assert cat.patient_by_code(CODE) is not None
    encrypt_catalog(path, key)
    assert is_encrypted(path) and not leftover.exists() and _leaks(path) == []
    with Catalog.open(path) as cat:
        assert cat.patient_by_code(CODE) is not None
