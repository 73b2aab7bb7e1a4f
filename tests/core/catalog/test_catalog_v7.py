"""Catalog schema v7: reads are audited — the action ``open`` (the v6→v7 step)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from core.catalog import Catalog
from core.catalog import db as catalog_db
from tests.core.catalog.test_catalog_v2 import _load, _rows, _schema
from tests.core.catalog.test_catalog_v6 import FIXTURE_V6

FIXTURE_V7 = Path(__file__).parent / "fixtures" / "catalog_v7.sql"


def test_new_and_migrated_catalogs_have_exactly_the_frozen_v7_schema(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(catalog_db, "CURRENT_SCHEMA", 7)  # up to this step alone
    frozen = sqlite3.connect(tmp_path / "frozen.sqlite")
    frozen.executescript(FIXTURE_V7.read_text(encoding="utf-8"))
    assert frozen.execute("PRAGMA user_version").fetchone()[0] == 7
    expected = _schema(frozen)
    frozen.close()
    with Catalog.open(tmp_path / "new.sqlite") as c:
        assert _schema(c._conn) == expected
    _load(FIXTURE_V6, tmp_path / "old.sqlite")
    with Catalog.open(tmp_path / "old.sqlite") as c:
        assert _schema(c._conn) == expected


def test_v6_rows_ids_and_accounts_survive_and_opens_are_accepted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(catalog_db, "CURRENT_SCHEMA", 7)  # this step alone
    path = tmp_path / "catalog.sqlite"
    _load(FIXTURE_V6, path)
    raw = sqlite3.connect(path)
    before = _rows(raw, "audit")
    seq = raw.execute("SELECT seq FROM sqlite_sequence WHERE name = 'audit'").fetchone()[0]
    raw.close()
    with Catalog.open(path) as c:
        after = _rows(c._conn, "audit")
        assert after[: len(before)] == before  # every row, its id and its account
        c.account = "dr.x"
        entry = c.audit("open", "session", 3, "uid=s-0003")
        assert entry.id == seq + 2 and (entry.action, entry.account) == ("open", "dr.x")
        with pytest.raises(sqlite3.IntegrityError):
            c._conn.execute("INSERT INTO audit (at, action, entity) VALUES ('2026', 'peek', 'x')")


def test_frozen_v7_fixture_opens(tmp_path: Path) -> None:
    path = tmp_path / "catalog.sqlite"
    _load(FIXTURE_V7, path)
    with Catalog.open(path) as c:
        # newest first: the migration to the current schema (by the program), then the fixture's
        entries = [(e.action, e.account) for e in c.audit_log(limit=2)]
        assert ("open", "dr.amsel") in entries
