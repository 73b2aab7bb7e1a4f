"""The catalog file: opening (new, frozen v1, newer, not SQLite), migration, durability, threads.

Records (patients, sessions, markers, audit) are tested in ``test_catalog_records.py``; schema v2
(its migration, self-reports, analyses, reports, session state) in ``test_catalog_v2.py``.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import core.catalog.db as catalog_db
from core.catalog import (
    CURRENT_SCHEMA,
    Catalog,
    CatalogError,
    CatalogFormatError,
    CatalogVersionError,
    SessionRecord,
)

FIXTURE_V1 = Path(__file__).parent / "fixtures" / "catalog_v1.sql"
T0 = "2025-03-01T09:30:00+00:00"
CONSENT = "2025-03-01T09:25:00+00:00"


@pytest.fixture
def cat(tmp_path: Path) -> Iterator[Catalog]:
    c = Catalog.open(tmp_path / "catalog.sqlite")
    yield c
    c.close()


def _session(c: Catalog, patient_id: int, uid: str = "s-0001", **kw: Any) -> SessionRecord:
    args: dict[str, Any] = dict(
        patient_id=patient_id,
        uid=uid,
        started_at=T0,
        devices={"bio": {"name": "sim"}},
        settings={"bio_rate": 800.0},
        consent_at=CONSENT,
        consent_note="verbal",
        simulated=True,
        folder=f"sessions/{uid}",
    )
    args.update(kw)
    return c.create_session(**args)


def _load_fixture(path: Path) -> None:
    conn = sqlite3.connect(path)
    conn.executescript(FIXTURE_V1.read_text(encoding="utf-8"))
    conn.close()


# --- opening -------------------------------------------------------------------------------


def test_new_file_gets_current_schema_and_pragmas(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "catalog.sqlite"
    with Catalog.open(path) as c:
        assert c.schema_version == CURRENT_SCHEMA
        conn = c._conn
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        assert {"patients", "sessions", "markers", "audit"} <= tables
    assert not list(tmp_path.glob("sub/*.bak"))  # a fresh file needs no backup


def test_default_path_is_in_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("THERASCOPE_DATA_DIR", str(tmp_path / "data"))
    with Catalog.open() as c:
        assert c.path == tmp_path / "data" / "catalog.sqlite"
    assert (tmp_path / "data" / "catalog.sqlite").exists()


def test_frozen_v1_fixture_opens_and_reads_back(tmp_path: Path) -> None:
    path = tmp_path / "catalog.sqlite"
    _load_fixture(path)
    with Catalog.open(path) as c:
        assert c.schema_version == CURRENT_SCHEMA
        assert c._conn.execute("PRAGMA foreign_key_check").fetchall() == []
        pats = c.list_patients()
        assert [p.code for p in pats] == ["A-001", "B-002", "DEMO-01"]
        a = c.patient_by_code("a-001")
        assert a is not None and a.name == "Zoë Müller" and a.birth_year == 1987
        assert a.notes == "Fear of flying; prefers mornings." and not a.is_demo
        b = c.patient_by_code("B-002")
        assert b is not None and b.name is None and b.birth_year == 1990
        demo = c.patient_by_code("DEMO-01")
        assert demo is not None and demo.is_demo

        s1 = c.session_by_uid("20250301T093000Z-A-001")
        assert s1 is not None and s1.patient_id == a.id
        assert s1.status == "finalised" and s1.duration_s == 2100.5
        assert s1.started_at == "2025-03-01T09:30:00.000+00:00"
        assert s1.ended_at == "2025-03-01T10:05:00.500+00:00"
        assert s1.consent_at == "2025-03-01T09:28:10.000+00:00"
        assert s1.consent_note == "verbal, witnessed" and not s1.simulated
        assert s1.devices["bio"]["address"] == "SIM:00"
        assert s1.settings["camera_fps"] == 60.0
        assert s1.quality == {"dropped_frames": 3, "gaps": 1, "lost_samples": 12}
        assert s1.notes == "Good engagement."
        assert s1.folder == "sessions/A-001/20250301T093000Z-A-001"
        markers = c.list_markers(s1.id)
        assert [(m.t_s, m.kind) for m in markers] == [
            (300.0, "treatment_start"),
            (912.5, "note"),
            (1500.25, "treatment_end"),
        ]
        assert markers[1].label == "patient reports dizziness"
        assert [s.uid for s in c.unfinished_sessions()] == ["20250308T093000Z-A-001"]
        demo_s = c.list_sessions(patient_id=demo.id)
        assert len(demo_s) == 1 and demo_s[0].status == "recovered" and demo_s[0].simulated

        overview = {o["code"]: o for o in c.patient_overview()}
        assert overview["A-001"]["n_sessions"] == 2
        assert overview["A-001"]["last_session_at"] == "2025-03-08T09:30:00.000+00:00"
        assert overview["B-002"]["n_sessions"] == 0
        assert overview["B-002"]["last_session_at"] is None

        log = c.audit_log(limit=1000)
        assert len(log) >= 15
        assert any(e.action == "export" and e.entity_id == s1.id for e in log)
        # ids keep counting from the fixture's (AUTOINCREMENT), never reused
        new = c.add_patient("C-003")
        assert new.id == 4


def test_newer_schema_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / "catalog.sqlite"
    with Catalog.open(path):
        pass
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {CURRENT_SCHEMA + 1}")
    conn.commit()
    conn.close()
    before = path.read_bytes()
    with pytest.raises(CatalogVersionError) as info:
        Catalog.open(path)
    msg = str(info.value)
    assert f"v{CURRENT_SCHEMA + 1}" in msg and f"v{CURRENT_SCHEMA}" in msg
    assert "newer TheraScope" in msg
    assert isinstance(info.value, CatalogError)
    assert path.read_bytes() == before


@pytest.mark.parametrize(
    "content", [b"this is a text file, not a database\n" * 20, b"\x00\x01\x02" * 2000]
)
def test_not_sqlite_is_refused_clearly(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "catalog.sqlite"
    path.write_bytes(content)
    with pytest.raises(CatalogFormatError, match="not an SQLite database"):
        Catalog.open(path)
    assert path.read_bytes() == content


def test_damaged_sqlite_is_refused_clearly(tmp_path: Path) -> None:
    path = tmp_path / "catalog.sqlite"
    path.write_bytes(b"SQLite format 3\x00" + b"\xff" * 4000)
    with pytest.raises(CatalogError, match="cannot be read"):
        Catalog.open(path)


def test_foreign_sqlite_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.sqlite"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE something (x)")
    conn.commit()
    conn.close()
    with pytest.raises(CatalogFormatError, match="not a TheraScope catalog"):
        Catalog.open(path)


def test_migration_backs_up_then_steps(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A hypothetical next version: its step runs after the real ones, in order, from one backup.
    path = tmp_path / "catalog.sqlite"
    _load_fixture(path)
    nxt = CURRENT_SCHEMA + 1

    def to_next(conn: sqlite3.Connection) -> None:
        conn.execute("ALTER TABLE sessions ADD COLUMN analysed INTEGER NOT NULL DEFAULT 0")

    monkeypatch.setattr(catalog_db, "CURRENT_SCHEMA", nxt)
    monkeypatch.setitem(catalog_db.MIGRATIONS, nxt, to_next)
    with Catalog.open(path) as c:
        assert c.schema_version == nxt
        cols = {r[1] for r in c._conn.execute("PRAGMA table_info(sessions)")}
        assert "analysed" in cols
        assert len(c.list_sessions()) == 3
        steps = [e.detail for e in reversed(c.audit_log()) if e.entity == "catalog"]
        assert [d.split(";")[0] for d in steps] == [
            f"schema v{v - 1}->v{v}" for v in range(2, nxt + 1)
        ]
    backups = list(tmp_path.glob("catalog.sqlite.*.bak"))
    assert [b.name.startswith("catalog.sqlite.v1-") for b in backups] == [True]
    assert all(backups[0].name in d for d in steps)
    old = sqlite3.connect(backups[0])
    assert old.execute("PRAGMA user_version").fetchone()[0] == 1
    assert old.execute("SELECT count(*) FROM patients").fetchone()[0] == 3
    old.close()


def test_failed_migration_leaves_catalog_at_old_version(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "catalog.sqlite"
    _load_fixture(path)

    def broken(conn: sqlite3.Connection) -> None:
        conn.execute("ALTER TABLE patients ADD COLUMN extra TEXT")
        raise RuntimeError("boom")

    monkeypatch.setattr(catalog_db, "CURRENT_SCHEMA", 2)
    monkeypatch.setitem(catalog_db.MIGRATIONS, 2, broken)
    with pytest.raises(RuntimeError, match="boom"):
        Catalog.open(path)
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 1
    assert "extra" not in {r[1] for r in conn.execute("PRAGMA table_info(patients)")}
    conn.close()


# --- durability and threads ----------------------------------------------------------------


def test_data_survives_close_and_reopen(tmp_path: Path) -> None:
    path = tmp_path / "catalog.sqlite"
    with Catalog.open(path) as c:
        p = c.add_patient("P01", name="A")
        s = _session(c, p.id)
        c.add_marker(s.id, 1.0, "treatment_start")
        c.finalise_session(s.id, "2025-03-01T10:00:00+00:00", 1800.0, {"dropped_frames": 2})
        audit_n = len(c.audit_log())
    with Catalog.open(path) as c:
        assert c.get_patient(p.id) == p
        s2 = c.get_session(s.id)
        assert s2 is not None and s2.status == "finalised" and s2.quality == {"dropped_frames": 2}
        assert len(c.list_markers(s.id)) == 1
        assert len(c.audit_log()) == audit_n


def test_committed_write_visible_to_another_connection(cat: Catalog) -> None:
    cat.add_patient("P01")
    other = sqlite3.connect(cat.path)
    assert other.execute("SELECT code FROM patients").fetchall() == [("P01",)]
    other.close()


def test_concurrent_use_from_threads(cat: Catalog) -> None:
    p = cat.add_patient("P01")
    s = _session(cat, p.id)
    errors: list[BaseException] = []
    barrier = threading.Barrier(3)

    def marker_writer() -> None:
        try:
            barrier.wait()
            for i in range(100):
                cat.add_marker(s.id, float(i), "note")
        except BaseException as exc:  # reported to the test thread
            errors.append(exc)

    def patient_writer_reader() -> None:
        try:
            barrier.wait()
            for i in range(50):
                cat.add_patient(f"T{i:03d}")
                cat.list_patients("t")
                cat.list_markers(s.id)
                cat.patient_overview()
        except BaseException as exc:
            errors.append(exc)

    threads = [
        threading.Thread(target=marker_writer),
        threading.Thread(target=patient_writer_reader),
    ]
    for t in threads:
        t.start()
    barrier.wait()
    for _ in range(50):
        cat.audit_log(limit=10)
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    assert len(cat.list_markers(s.id)) == 100
    assert len(cat.list_patients()) == 51
