"""SQLite errors leave the catalog as one clear, correct message, with nothing changed.

The tests run as root in CI, where file modes do not stop writes; the failures are injected where
the system reports them: SQLite opened read-only (what a read-only file or folder gives), a page
limit (what a full disk gives), garbage written over the file's pages (a damaged disk).
"""

from __future__ import annotations

import sqlite3

import pytest

import core.catalog.db as db
from core.catalog import Catalog, CatalogFormatError
from core.storage import DAMAGED, FULL, LOCKED, READ_ONLY, StorageError


@pytest.fixture
def path(tmp_path):
    p = tmp_path / "catalog.sqlite"
    with Catalog.open(p) as cat:
        for i in range(30):
            cat.add_patient(f"P-{i:03d}", name=f"Person {i}", notes="x" * 2000)
    return p


def read_only(monkeypatch):
    """SQLite opens every catalog read-only, as for a file on a read-only disk."""
    connect = sqlite3.connect

    def ro(database, *a, **k):  # type: ignore[no-untyped-def]
        k.pop("uri", None)
        return connect(f"file:{database}?mode=ro", *a, uri=True, **k)

    monkeypatch.setattr(db.sqlite3, "connect", ro)


def test_read_only_catalog_says_read_only_and_changes_nothing(path, monkeypatch):
    read_only(monkeypatch)
    with Catalog.open(path) as cat:
        assert len(cat.list_patients()) == 30  # reading works
        with pytest.raises(StorageError) as e:
            cat.add_patient("NEW-1")
        assert e.value.kind == READ_ONLY
        text = str(e.value)
        assert "Could not save the new patient" in text and "read-only" in text
        assert "Nothing was changed" in text
        assert "damaged" not in text and "backup" not in text  # never the wrong advice
    monkeypatch.undo()
    with Catalog.open(path) as cat:
        assert cat.patient_by_code("NEW-1") is None


def test_full_disk_says_full_and_changes_nothing(path):
    with Catalog.open(path) as cat:
        pages = cat._conn.execute("PRAGMA page_count").fetchone()[0]
        cat._conn.execute(f"PRAGMA max_page_count = {pages}")  # the disk holds no more pages
        with pytest.raises(StorageError) as e:
            for i in range(200):
                cat.add_patient(f"FULL-{i}", notes="y" * 4000)
        assert e.value.kind == FULL
        assert "is full" in str(e.value) and "damaged" not in str(e.value)
        assert e.value.__cause__ is not None  # the SQLite error, for the log
        n = len(cat.list_patients())
    with Catalog.open(path) as cat:  # what was committed is there; the failed one is not
        assert len(cat.list_patients()) == n


def test_damaged_page_says_damaged_and_how_to_rebuild(path):
    data = bytearray(path.read_bytes())
    page = 4096
    assert len(data) > 6 * page
    data[2 * page : len(data)] = b"\xa5" * (len(data) - 2 * page)  # every page after the 2nd
    path.write_bytes(bytes(data))
    for wal in path.parent.glob("catalog.sqlite-*"):
        wal.unlink()
    with pytest.raises((StorageError, CatalogFormatError)) as e, Catalog.open(path) as cat:
        cat.list_patients()
    text = str(e.value)
    assert "damaged" in text and "rebuild-catalog" in text
    assert "sqlite3" not in text.lower()
    if isinstance(e.value, StorageError):
        assert e.value.kind == DAMAGED


def test_busy_catalog_says_in_use(path, monkeypatch):
    monkeypatch.setattr(db, "_BUSY_TIMEOUT_MS", 50)
    with Catalog.open(path) as cat:
        other = sqlite3.connect(str(path))
        other.execute("BEGIN EXCLUSIVE")
        try:
            with pytest.raises(StorageError) as e:
                cat.add_patient("BUSY-1")
        finally:
            other.rollback()
            other.close()
        assert e.value.kind == LOCKED and "in use by another program" in str(e.value)
