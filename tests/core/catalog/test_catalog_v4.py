"""Catalog schema v4: each patient's lasting UUID (the v3→v4 step, the frozen v4 schema)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from core.catalog import Catalog
from core.catalog import db as catalog_db
from tests.core.catalog.test_catalog_v2 import _load, _schema
from tests.core.catalog.test_catalog_v3 import FIXTURE_V3

FIXTURE_V4 = Path(__file__).parent / "fixtures" / "catalog_v4.sql"


def test_new_and_migrated_catalogs_have_exactly_the_frozen_v4_schema(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(catalog_db, "CURRENT_SCHEMA", 4)  # up to this step alone
    frozen = sqlite3.connect(tmp_path / "frozen.sqlite")
    frozen.executescript(FIXTURE_V4.read_text(encoding="utf-8"))
    assert frozen.execute("PRAGMA user_version").fetchone()[0] == 4
    expected = _schema(frozen)
    frozen.close()
    with Catalog.open(tmp_path / "new.sqlite") as c:
        assert _schema(c._conn) == expected
    _load(FIXTURE_V3, tmp_path / "old.sqlite")
    with Catalog.open(tmp_path / "old.sqlite") as c:
        assert _schema(c._conn) == expected


def test_v3_patients_get_distinct_uuids_and_new_ones_too(tmp_path: Path) -> None:
    path = tmp_path / "catalog.sqlite"
    _load(FIXTURE_V3, path)
    with Catalog.open(path) as c:
        old = [p.uuid for p in c.list_patients()]
        new = c.add_patient("N-1").uuid
        assert len({*old, new}) == 4 and all(u and len(u) == 36 for u in [*old, new])
        with pytest.raises(sqlite3.IntegrityError):  # unique, as the index says
            c._conn.execute("UPDATE patients SET uuid = ? WHERE code = 'N-1'", (old[0],))


def test_frozen_v4_fixture_opens_with_its_uuids(tmp_path: Path) -> None:
    path = tmp_path / "catalog.sqlite"
    _load(FIXTURE_V4, path)
    with Catalog.open(path) as c:
        assert [p.uuid[-8:] for p in c.list_patients()] == ["5eed0001", "5eed0002", "5eed0003"]
