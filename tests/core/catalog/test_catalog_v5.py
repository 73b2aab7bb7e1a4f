"""Catalog schema v5: the audit trail accepts imports (the v4→v5 step, the frozen v5 schema)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from core.catalog import Catalog
from core.catalog import db as catalog_db
from tests.core.catalog.test_catalog_v2 import _load, _rows, _schema
from tests.core.catalog.test_catalog_v4 import FIXTURE_V4

FIXTURE_V5 = Path(__file__).parent / "fixtures" / "catalog_v5.sql"


def test_new_and_migrated_catalogs_have_exactly_the_frozen_v5_schema(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(catalog_db, "CURRENT_SCHEMA", 5)  # up to this step alone
    frozen = sqlite3.connect(tmp_path / "frozen.sqlite")
    frozen.executescript(FIXTURE_V5.read_text(encoding="utf-8"))
    assert frozen.execute("PRAGMA user_version").fetchone()[0] == 5
    expected = _schema(frozen)
    frozen.close()
    with Catalog.open(tmp_path / "new.sqlite") as c:
        assert _schema(c._conn) == expected
    _load(FIXTURE_V4, tmp_path / "old.sqlite")
    with Catalog.open(tmp_path / "old.sqlite") as c:
        assert _schema(c._conn) == expected


def test_v4_audit_rows_and_ids_survive_and_imports_are_accepted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "catalog.sqlite"
    _load(FIXTURE_V4, path)
    raw = sqlite3.connect(path)
    before = _rows(raw, "audit")
    seq = raw.execute("SELECT seq FROM sqlite_sequence WHERE name = 'audit'").fetchone()[0]
    raw.close()
    monkeypatch.setattr(catalog_db, "CURRENT_SCHEMA", 5)  # this step alone
    with Catalog.open(path) as c:
        assert c.schema_version == 5
        after = _rows(c._conn, "audit")
        assert after[: len(before)] == before  # every row, with its id
        (step,) = after[len(before) :]
        assert step[0] == seq + 1 and "schema v4->v5" in step[5]
        entry = c.audit("import", "session", 3, "uid=x; format=EDF+C")
        assert entry.id == seq + 2 and entry.action == "import"
        with pytest.raises(sqlite3.IntegrityError):  # the CHECK still refuses unknown actions
            c._conn.execute(
                "INSERT INTO audit (at, action, entity) VALUES ('2026-01-01', 'steal', 'x')"
            )


def test_frozen_v5_fixture_opens_with_its_import_row(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(catalog_db, "CURRENT_SCHEMA", 5)
    path = tmp_path / "catalog.sqlite"
    _load(FIXTURE_V5, path)
    with Catalog.open(path) as c:
        assert [e.action for e in c.audit_log(limit=1)] == ["import"]
