"""Catalog schema v3: archived patients (the v2→v3 migration, the frozen v3 schema, archive and
unarchive) and the remembered deletion of the demo patient."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

import core.catalog.db as catalog_db
from core.catalog import Catalog, CatalogVersionError
from tests.core.catalog.test_catalog_v2 import FIXTURE_V2, _load, _rows, _schema

FIXTURE_V3 = Path(__file__).parent / "fixtures" / "catalog_v3.sql"
TABLES = ("patients", "sessions", "markers", "audit", "self_reports", "analyses", "reports")


@pytest.fixture
def cat(tmp_path: Path) -> Iterator[Catalog]:
    c = Catalog.open(tmp_path / "catalog.sqlite")
    yield c
    c.close()


def test_v2_fixture_migrates_every_patient_active(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(catalog_db, "CURRENT_SCHEMA", 3)  # this step alone
    path = tmp_path / "catalog.sqlite"
    _load(FIXTURE_V2, path)
    raw = sqlite3.connect(path)
    before = {t: _rows(raw, t) for t in TABLES}
    raw.close()
    with Catalog.open(path) as c:
        assert c.schema_version == 3
        conn = c._conn
        # each patient row gains archived_at = NULL, nothing else changes
        assert _rows(conn, "patients") == [(*r, None) for r in before["patients"]]
        for t in set(TABLES) - {"patients", "audit"}:
            assert _rows(conn, t) == before[t], t
        audit = _rows(conn, "audit")
        assert audit[: len(before["audit"])] == before["audit"]
        (step,) = audit[len(before["audit"]) :]
        assert step[2:5] == ("update", "catalog", None)
        assert step[5].startswith("schema v2->v3; backup=catalog.sqlite.v2-")
        assert [p.archived for p in c.list_patients()] == [False, False, False]
        assert all(not o["archived"] for o in c.patient_overview())
    assert len(list(tmp_path.glob("catalog.sqlite.v2-*.bak"))) == 1


def test_new_and_migrated_catalogs_have_exactly_the_frozen_v3_schema(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(catalog_db, "CURRENT_SCHEMA", 3)
    frozen = sqlite3.connect(tmp_path / "frozen.sqlite")
    frozen.executescript(FIXTURE_V3.read_text(encoding="utf-8"))
    assert frozen.execute("PRAGMA user_version").fetchone()[0] == 3
    expected = _schema(frozen)
    frozen.close()
    with Catalog.open(tmp_path / "new.sqlite") as c:
        assert _schema(c._conn) == expected
    _load(FIXTURE_V2, tmp_path / "old.sqlite")
    with Catalog.open(tmp_path / "old.sqlite") as c:
        assert _schema(c._conn) == expected


def test_frozen_v3_fixture_opens_with_its_archived_patient(tmp_path: Path) -> None:
    path = tmp_path / "catalog.sqlite"
    _load(FIXTURE_V3, path)
    with Catalog.open(path) as c:
        assert c.schema_version == catalog_db.CURRENT_SCHEMA
        b = c.patient_by_code("B-002")
        assert b is not None and b.archived and b.archived_at is not None
        assert [p.code for p in c.list_patients(include_archived=False)] == ["A-001", "DEMO-01"]
        assert [o["code"] for o in c.patient_overview(include_archived=False)] == [
            "A-001",
            "DEMO-01",
        ]
        assert c.unarchive_patient(b.id).archived_at is None


def test_v4_catalog_is_refused_by_a_v3_reader(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(catalog_db, "CURRENT_SCHEMA", 3)
    path = tmp_path / "catalog.sqlite"
    with Catalog.open(path):
        pass
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA user_version = 4")
    conn.commit()
    conn.close()
    with pytest.raises(CatalogVersionError, match="schema v4.*reads up to v3"):
        Catalog.open(path)


def test_archive_and_unarchive_keep_everything_and_are_audited(cat: Catalog) -> None:
    a = cat.add_patient("A-1", name="Zoë Müller")
    cat.add_patient("B-2")
    assert not a.archived
    archived = cat.archive_patient(a.id)
    assert archived.archived and archived.archived_at is not None
    assert archived.updated_at >= a.updated_at
    assert (archived.code, archived.name) == ("A-1", "Zoë Müller")
    assert [p.code for p in cat.list_patients()] == ["A-1", "B-2"]  # still there
    assert [p.code for p in cat.list_patients(include_archived=False)] == ["B-2"]
    overview = {o["code"]: o for o in cat.patient_overview()}
    assert overview["A-1"]["archived"] and not overview["B-2"]["archived"]
    n_audit = len(cat.audit_log())
    assert cat.archive_patient(a.id) == archived  # already archived: nothing written
    assert len(cat.audit_log()) == n_audit
    active = cat.unarchive_patient(a.id)
    assert not active.archived and cat.get_patient(a.id) == active
    assert [p.code for p in cat.list_patients(include_archived=False)] == ["A-1", "B-2"]
    log = [(e.action, e.entity_id, e.detail) for e in cat.audit_log(entity="patient")][:2]
    assert log == [
        ("update", a.id, "code=A-1; unarchived"),
        ("update", a.id, "code=A-1; archived"),
    ]
    for e in cat.audit_log(limit=1000):
        assert "Zoë" not in e.detail and "Müller" not in e.detail
    with pytest.raises(KeyError):
        cat.archive_patient(999)
    with pytest.raises(KeyError):
        cat.unarchive_patient(999)


def test_the_catalog_remembers_a_deleted_demo_patient(cat: Catalog) -> None:
    plain = cat.add_patient("P-1")
    cat.delete_patient(plain.id)
    assert not cat.demo_patient_deleted()  # any other patient: no
    odd = cat.add_patient("x; demo=1")  # a code cannot fake it
    cat.delete_patient(odd.id)
    assert not cat.demo_patient_deleted()
    demo = cat.add_patient("DEMO-01", is_demo=True)
    cat.archive_patient(demo.id)
    assert not cat.demo_patient_deleted()  # archived is not deleted
    cat.delete_patient(demo.id)
    assert cat.demo_patient_deleted()
    entry = cat.audit_log(entity="patient", entity_id=demo.id)[0]
    # the tombstone names the uuid, never the code
    assert (entry.action, entry.detail) == ("delete", f"uuid={demo.uuid}; sessions=0; demo=1")
