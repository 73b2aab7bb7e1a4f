"""An encrypted catalog through backup, restore and erasure (issue 16, item 2): the backup's copy
is encrypted and verified, a restore opens once its folder is unlocked, and an erased patient
leaves no row (read through the key) and no plaintext byte (read from the disk)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from core.catalog import Catalog
from core.catalog.cipher import SQLITE_MAGIC, is_encrypted
from core.catalog.errors import CatalogLockedError
from core.privacy.backup import backup, ledger_of_folder, restore, verify_backup
from core.privacy.erasure import erase_patient
from core.security import vault
from core.security.access import create_first_account
from core.security.keystore import KeyStore, Unlocked
from tests.accounts import FAST_KDF, TEST_PASSWORD, TEST_USER

CODE = "CIPHER-5521"
NAME = "Ottoline Brackwater"


def _admin(store: KeyStore) -> Unlocked:
    return store.unlock(TEST_USER, TEST_PASSWORD)


def _raw(path: Path) -> bytes:
    """The catalog's bytes on disk: the file, its WAL and its shared memory."""
    return b"".join(p.read_bytes() for p in sorted(path.parent.glob(path.name + "*")))


def _plain_bytes(path: Path) -> list[bytes]:
    raw = _raw(path)
    needles = (CODE.encode(), NAME.encode(), b"Brackwater", b"KEEP-9", SQLITE_MAGIC)
    return [n for n in needles if n in raw]


@pytest.fixture
def clinic(tmp_path: Path) -> Iterator[tuple[Path, Unlocked, Catalog]]:
    """A data folder unlocked in this process, its catalog encrypted, with two patients."""
    root = tmp_path / "data"
    unlocked, _ = create_first_account(root, TEST_USER, TEST_PASSWORD, kdf=FAST_KDF)
    vault.register(root, unlocked)
    cat = Catalog.open(root / "catalog.sqlite")
    cat.account = TEST_USER
    p = cat.add_patient(CODE, name=NAME, notes=f"{NAME} prefers mornings")
    cat.audit("open", "patient", p.id, f"code={CODE}")
    cat.add_patient("KEEP-9")
    assert cat.is_encrypted
    yield root, unlocked, cat
    cat.close()
    vault.unregister(root)


def test_backup_and_restore_keep_the_catalog_encrypted(clinic, tmp_path: Path) -> None:
    root, unlocked, cat = clinic
    dest = tmp_path / "backup"
    backup(root, dest, unlocked=unlocked, catalog=cat)
    assert verify_backup(dest) == []
    copy = dest / "catalog.sqlite"
    assert is_encrypted(copy) and _plain_bytes(copy) == []

    into = tmp_path / "restored"
    restore(dest, into, unlock=_admin)
    restored = into / "catalog.sqlite"
    assert is_encrypted(restored) and _plain_bytes(restored) == []
    with pytest.raises(CatalogLockedError, match="sign in first"):
        Catalog.open(restored)  # the restored folder is not unlocked yet
    vault.register(into, _admin(KeyStore.open(into / "keys.json")))
    try:
        with Catalog.open(restored) as again:
            assert sorted(p.code for p in again.list_patients()) == sorted([CODE, "KEEP-9"])
            assert again.audit_log(limit=1)[0].entity == "backup"  # the restore, audited
    finally:
        vault.unregister(into)


def test_erasure_leaves_no_row_and_no_plaintext_in_the_encrypted_catalog(
    clinic, tmp_path: Path
) -> None:
    root, unlocked, cat = clinic
    dest = tmp_path / "backup"
    backup(root, dest, unlocked=unlocked, catalog=cat)  # taken before the erasure
    p = cat.patient_by_code(CODE)
    assert p is not None

    gone = erase_patient(cat, root, p.id, unlocked)

    assert gone.catalog_rewritten
    path = root / "catalog.sqlite"
    assert _plain_bytes(path) == []  # nothing of either patient reads in the clear
    wal = root / "catalog.sqlite-wal"
    assert not wal.exists() or wal.stat().st_size == 0
    # through the key: no row names the patient, in any table
    tables = [r[0] for r in cat._conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
    for t in tables:
        for row in cat._conn.execute(f'SELECT * FROM "{t}"'):
            text = " ".join(str(v) for v in row)
            assert CODE not in text and "Brackwater" not in text, t
    assert cat.patient_by_code("KEEP-9") is not None

    # the backup from before the erasure, restored with the newer ledger: the patient stays out
    into = tmp_path / "restored"
    restore(dest, into, unlock=_admin, ledgers=[ledger_of_folder(root)])
    restored = into / "catalog.sqlite"
    assert is_encrypted(restored) and _plain_bytes(restored) == []
    key = _admin(KeyStore.open(into / "keys.json")).catalog_key()
    with Catalog.open(restored, key=key) as again:
        assert again.patient_by_code(CODE) is None
        assert again.patient_by_code("KEEP-9") is not None
        rows = again._conn.execute("SELECT code, name, notes FROM patients").fetchall()
        assert all(CODE not in str(tuple(r)) and "Brackwater" not in str(tuple(r)) for r in rows)
