"""Catalog schema v6: every audit row names the account that acted (the v5→v6 step)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from core.catalog import Catalog
from core.catalog import db as catalog_db
from tests.core.catalog.test_catalog_v2 import _load, _rows, _schema
from tests.core.catalog.test_catalog_v5 import FIXTURE_V5

FIXTURE_V6 = Path(__file__).parent / "fixtures" / "catalog_v6.sql"


def test_new_and_migrated_catalogs_have_exactly_the_frozen_v6_schema(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(catalog_db, "CURRENT_SCHEMA", 6)  # up to this step alone
    frozen = sqlite3.connect(tmp_path / "frozen.sqlite")
    frozen.executescript(FIXTURE_V6.read_text(encoding="utf-8"))
    assert frozen.execute("PRAGMA user_version").fetchone()[0] == 6
    expected = _schema(frozen)
    frozen.close()
    with Catalog.open(tmp_path / "new.sqlite") as c:
        assert _schema(c._conn) == expected
    _load(FIXTURE_V5, tmp_path / "old.sqlite")
    with Catalog.open(tmp_path / "old.sqlite") as c:
        assert _schema(c._conn) == expected


def test_old_rows_name_no_account_and_new_rows_name_the_one_acting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(catalog_db, "CURRENT_SCHEMA", 6)  # this step alone
    path = tmp_path / "catalog.sqlite"
    _load(FIXTURE_V5, path)
    raw = sqlite3.connect(path)
    before = _rows(raw, "audit")
    raw.close()
    with Catalog.open(path) as c:
        entries = list(reversed(c.audit_log(limit=1000)))
        assert [e.account for e in entries[: len(before)]] == [None] * len(before)
        assert entries[len(before)].account is None  # the migration: the program, not a person
        c.account = "dr.amsel"
        p = c.add_patient("V6-1")
        c.account = "admin"
        c.audit("export", "patient", p.id, "format=zip")
        latest = c.audit_log(limit=2)
        assert [(e.action, e.account) for e in latest] == [
            ("export", "admin"),
            ("create", "dr.amsel"),
        ]


def test_frozen_v6_fixture_opens_with_its_account(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(catalog_db, "CURRENT_SCHEMA", 6)
    path = tmp_path / "catalog.sqlite"
    _load(FIXTURE_V6, path)
    with Catalog.open(path) as c:
        assert [(e.action, e.account) for e in c.audit_log(limit=1)] == [("export", "dr.amsel")]
