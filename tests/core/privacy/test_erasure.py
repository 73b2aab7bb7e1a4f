"""Erasure on request: keys destroyed and in the ledger, files and rows gone, no byte of the
patient's code or name left anywhere in the data folder, the audit's history kept without them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.catalog import Catalog
from core.config import Settings
from core.privacy.erasure import DeletionRefused, erase_patient, erase_session
from core.security.keystore import KeyDestroyedError, KeyStore, Unlocked
from core.transfer.export import export_session
from tests.accounts import TEST_PASSWORD, TEST_USER, make_account
from tests.app.review_data import make_analysed, record_short

CODE = "ZQX-77810"
OLD_CODE = "ZQX-77809"  # the code it had first
NAME = "Wilhelmina Zapfenstreich"
TABLES = ("markers", "self_reports", "analyses", "reports")


@pytest.fixture
def root(tmp_path: Path) -> Path:
    data = tmp_path / "data"
    make_account(data, tmp_path / "password.txt")
    return data


@pytest.fixture
def cat(root: Path) -> Iterator[Catalog]:
    c = Catalog.open(root / "catalog.sqlite")
    yield c
    c.close()


@pytest.fixture
def unlocked(root: Path) -> Iterator[Unlocked]:
    u = KeyStore.open(root / "keys.json").unlock(TEST_USER, TEST_PASSWORD)
    yield u
    u.close()


def _patient_with_everything(cat: Catalog, root: Path, unlocked: Unlocked, tmp_path: Path):
    """A patient (renamed once) with an analysed session (with a key) and a plain one (no key),
    markers, self-reports, a report record and a CSV export; another patient beside it."""
    p = cat.add_patient(OLD_CODE, name=NAME, birth_year=1980, notes="likes tea")
    p = cat.update_patient(p.id, code=CODE)
    analysed, _ = make_analysed(cat, root, p.id)
    plain = record_short(cat, root, p.id, 3.0)
    cat.add_marker(analysed.id, 1.0, "note", "tension rises")
    cat.set_self_report(analysed.id, "pre", sam_valence=3)
    cat.record_report(analysed.id, pages=2, include_name=True)
    export_session(cat, root, plain.uid, "csv", tmp_path / "out", settings=Settings())
    assert p.uuid
    unlocked.session_key(analysed.uid, p.uuid)
    other = cat.add_patient("KEEP-01")
    theirs = record_short(cat, root, other.id, 3.0)
    assert other.uuid
    unlocked.session_key(theirs.uid, other.uuid)
    return p, analysed, plain, other, theirs


def _files_naming(root: Path, *needles: str) -> list[str]:
    """Every file under ``root`` (hidden ones, the catalog's -wal and -shm, keys.json, logs…)
    in whose bytes one of ``needles`` occurs (UTF-8, any case)."""
    found = []
    for path in root.rglob("*"):
        if path.is_file():
            data = path.read_bytes().lower()
            if any(n.lower().encode() in data for n in needles):
                found.append(str(path.relative_to(root)))
    return found


def test_erasing_a_patient_leaves_no_trace_of_it(cat, root, unlocked, tmp_path) -> None:
    p, analysed, plain, other, theirs = _patient_with_everything(cat, root, unlocked, tmp_path)
    assert _files_naming(root, CODE)  # the check finds the code before
    assert (root / "patients" / f"{p.uuid}.json").is_file()

    gone = erase_patient(cat, root, p.id, unlocked)

    assert gone.patient_code == CODE and gone.patient_uuid == p.uuid
    assert set(gone.session_uids) == {analysed.uid, plain.uid}
    assert gone.keys_destroyed and gone.catalog_rewritten
    # no file of the data folder holds the code, the old code, the name or a part of it
    assert _files_naming(root, CODE, OLD_CODE, NAME, "Zapfenstreich", "Wilhelmina") == []
    assert not (root / analysed.folder).exists() and not (root / plain.folder).exists()
    assert not (root / "patients" / f"{p.uuid}.json").exists()
    wal = root / "catalog.sqlite-wal"
    assert not wal.exists() or wal.stat().st_size == 0
    # the catalog has no row of the patient
    assert cat.get_patient(p.id) is None and cat.patient_by_code(CODE) is None
    for rec in (analysed, plain):
        assert cat.get_session(rec.id) is None
        for t in TABLES:
            n = cat._conn.execute(f"SELECT count(*) FROM {t} WHERE session_id = ?", (rec.id,))
            assert n.fetchone()[0] == 0
    # the key store: no wrapped key of the patient or its sessions; the ledger lists them all,
    # the session that never had a key too
    doc = json.loads((root / "keys.json").read_text())
    assert p.uuid not in doc["patients"]
    assert analysed.uid not in doc["sessions"] and plain.uid not in doc["sessions"]
    ledger = {(e.kind, e.id) for e in unlocked.ledger()}
    assert {("patient", p.uuid), ("session", analysed.uid), ("session", plain.uid)} <= ledger
    with pytest.raises(KeyDestroyedError):
        unlocked.session_key(analysed.uid, p.uuid, create=False)
    # the other patient is untouched, its key still opens
    assert other.uuid and unlocked.session_key(theirs.uid, other.uuid, create=False)
    assert (root / theirs.folder).is_dir() and cat.get_session(theirs.id) is not None
    assert cat.patient_by_code("KEEP-01") is not None
    # the audit: the history stays, the code is "[erased]", the tombstone names the uuid
    mine = cat.audit_log(entity="patient", entity_id=p.id)
    assert [e.action for e in mine] == ["delete", "update", "create"]
    assert mine[0].detail == f"uuid={p.uuid}; sessions=2"
    assert (
        mine[1].detail.startswith("code=[erased]; fields=code") and "was=[erased]" in mine[1].detail
    )
    assert mine[2].detail == "code=[erased]"
    created = cat.audit_log(entity="session", entity_id=plain.id)[-1]
    assert created.action == "create" and "patient=[erased]" in created.detail
    theirs_created = cat.audit_log(entity="session", entity_id=theirs.id)[-1]
    assert "patient=KEEP-01" in theirs_created.detail


def test_erasing_a_session_destroys_only_its_key(cat, root, unlocked) -> None:
    p = cat.add_patient("S-1")
    one = record_short(cat, root, p.id, 3.0)
    two = record_short(cat, root, p.id, 3.0)
    assert p.uuid
    key_two = unlocked.session_key(two.uid, p.uuid)
    unlocked.session_key(one.uid, p.uuid)

    gone = erase_session(cat, root, one.id, unlocked)

    assert gone.session_uids == (one.uid,) and gone.keys_destroyed and gone.patient_code is None
    assert not (root / one.folder).exists() and cat.get_session(one.id) is None
    assert [(e.kind, e.id) for e in unlocked.ledger()] == [("session", one.uid)]
    with pytest.raises(KeyDestroyedError):
        unlocked.session_key(one.uid, p.uuid, create=False)
    assert unlocked.session_key(two.uid, p.uuid, create=False) == key_two
    assert unlocked.patient_key(p.uuid, create=False)
    assert cat.get_patient(p.id) is not None and (root / two.folder).is_dir()


def test_a_session_without_a_key_is_still_in_the_ledger(cat, root, unlocked) -> None:
    p = cat.add_patient("S-2")
    rec = record_short(cat, root, p.id, 3.0)
    erase_session(cat, root, rec.id, unlocked)
    assert ("session", rec.uid) in {(e.kind, e.id) for e in unlocked.ledger()}
    assert json.loads((root / "keys.json").read_text())["sessions"] == {}


def test_a_folder_with_accounts_is_not_erased_without_its_key_store(
    cat, root, unlocked, tmp_path
) -> None:
    p = cat.add_patient("S-3")
    rec = record_short(cat, root, p.id, 3.0)
    with pytest.raises(DeletionRefused, match="unlock"):
        erase_patient(cat, root, p.id)
    with pytest.raises(DeletionRefused, match="unlock"):
        erase_session(cat, root, rec.id)
    elsewhere = tmp_path / "elsewhere"
    make_account(elsewhere, tmp_path / "pw2.txt")
    foreign = KeyStore.open(elsewhere / "keys.json").unlock(TEST_USER, TEST_PASSWORD)
    with pytest.raises(DeletionRefused, match="another data folder"):
        erase_patient(cat, root, p.id, foreign)
    assert cat.get_session(rec.id) is not None and (root / rec.folder).is_dir()
    assert unlocked.ledger() == []


def test_a_recording_session_refuses_before_any_key_goes(cat, root, unlocked) -> None:
    p = cat.add_patient("S-4")
    rec = cat.create_session(
        p.id, "rec-0001", "2025-03-01T09:30:00+00:00", {}, {},
        "2025-03-01T09:29:00+00:00", "verbal", True, "sessions/rec-0001",
    )  # fmt: skip
    with pytest.raises(DeletionRefused, match="still recording"):
        erase_patient(cat, root, p.id, unlocked)
    with pytest.raises(DeletionRefused, match="still recording"):
        erase_session(cat, root, rec.id, unlocked)
    assert unlocked.ledger() == [] and cat.get_patient(p.id) is not None


def test_a_folder_without_a_key_store_is_erased_without_keys(tmp_path) -> None:
    root = tmp_path / "demo"
    with Catalog.open(root / "catalog.sqlite") as cat:
        p = cat.add_patient("DEMO-9")
        record_short(cat, root, p.id, 3.0)
        gone = erase_patient(cat, root, p.id)
        assert not gone.keys_destroyed and cat.get_patient(p.id) is None
        assert _files_naming(root, "DEMO-9") == []


def test_every_catalog_connection_overwrites_deleted_rows(cat) -> None:
    assert cat._conn.execute("PRAGMA secure_delete").fetchone()[0] == 1
