"""Catalog schema v2: the v1→v2 migration, the frozen v2 schema, self-reports, analyses, reports
and the session state shown in the sessions table."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import core.catalog.db as catalog_db
from core.catalog import Catalog, CatalogVersionError, SessionRecord
from tests.core.catalog.test_catalog import FIXTURE_V1, _session

FIXTURE_V2 = Path(__file__).parent / "fixtures" / "catalog_v2.sql"
V1_TABLES = ("patients", "sessions", "markers", "audit")
V2_TABLES = ("self_reports", "analyses", "reports")
SHA = "ab" * 32
END = "2025-03-01T10:00:00+00:00"


@pytest.fixture
def cat(tmp_path: Path) -> Iterator[Catalog]:
    c = Catalog.open(tmp_path / "catalog.sqlite")
    yield c
    c.close()


def _load(sql: Path, path: Path) -> None:
    conn = sqlite3.connect(path)
    conn.executescript(sql.read_text(encoding="utf-8"))
    conn.close()


def _rows(conn: sqlite3.Connection, table: str) -> list[tuple[Any, ...]]:
    return [tuple(r) for r in conn.execute(f"SELECT * FROM {table} ORDER BY id")]


def _schema(conn: sqlite3.Connection) -> list[tuple[str, str, str, str]]:
    """Tables and indexes with their SQL (auto-indexes have none), in a fixed order."""
    return sorted(
        (r[0], r[1], r[2], r[3] or "")
        for r in conn.execute("SELECT type, name, tbl_name, sql FROM sqlite_master")
    )


def _finished(c: Catalog, uid: str = "s-0001", status: str = "finalised") -> SessionRecord:
    p = c.patient_by_code("P01") or c.add_patient("P01", name="Zoë Müller")
    s = _session(c, p.id, uid=uid)
    return c.finalise_session(s.id, END, 1800.0, {}, status=status)


def _analysis(c: Catalog, session_id: int, **kw: Any) -> Any:
    args: dict[str, Any] = dict(
        checkpoint_sha256=SHA,
        checkpoint_label="demo BMMN",
        demo_model=True,
        device="cpu",
        result_dir="analysis",
        summary={"pre": {"valence": -0.2, "arousal": 0.5}, "post": None},
    )
    args.update(kw)
    return c.record_analysis(session_id, **args)


# --- migration and the frozen schema -------------------------------------------------------


def test_v1_fixture_migrates_with_data_intact_backup_and_audit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Only up to v2, so this keeps guarding the v1->v2 step once later versions exist.
    monkeypatch.setattr(catalog_db, "CURRENT_SCHEMA", 2)
    path = tmp_path / "catalog.sqlite"
    _load(FIXTURE_V1, path)
    raw = sqlite3.connect(path)
    before = {t: _rows(raw, t) for t in V1_TABLES}
    raw.close()

    with Catalog.open(path) as c:
        assert c.schema_version == 2
        conn = c._conn
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        for t in ("patients", "sessions", "markers"):
            assert _rows(conn, t) == before[t], t
        audit = _rows(conn, "audit")
        assert audit[: len(before["audit"])] == before["audit"]
        (step,) = audit[len(before["audit"]) :]
        for t in V2_TABLES:
            assert _rows(conn, t) == []
        indexes = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='index'")}
        assert {"analyses_session", "reports_session"} <= indexes
        # the existing rows work with the new tables at once
        assert c.session_states() == {1: "recorded", 2: "recording", 3: "recorded"}

    backups = list(tmp_path.glob("catalog.sqlite.v1-*.bak"))
    assert len(backups) == 1
    assert step[2:5] == ("update", "catalog", None)
    assert step[5] == f"schema v1->v2; backup={backups[0].name}"
    old = sqlite3.connect(backups[0])
    assert old.execute("PRAGMA user_version").fetchone()[0] == 1
    assert {t: _rows(old, t) for t in V1_TABLES} == before
    old.close()

    # opening again: nothing left to migrate, so no second backup or audit row
    with Catalog.open(path) as c:
        assert c.schema_version == 2
        assert len(c.audit_log(entity="catalog")) == 1
    assert len(list(tmp_path.glob("*.bak"))) == 1


def test_new_catalog_has_exactly_the_frozen_v2_schema(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Only up to v2, so this keeps guarding v2 once later versions exist.
    monkeypatch.setattr(catalog_db, "CURRENT_SCHEMA", 2)
    frozen = sqlite3.connect(tmp_path / "frozen.sqlite")
    frozen.executescript(FIXTURE_V2.read_text(encoding="utf-8"))
    assert frozen.execute("PRAGMA user_version").fetchone()[0] == 2
    expected = _schema(frozen)
    frozen.close()
    assert {n for k, n, _, _ in expected if k == "table"} >= set(V1_TABLES + V2_TABLES)

    with Catalog.open(tmp_path / "new.sqlite") as c:
        assert c.schema_version == 2
        assert _schema(c._conn) == expected
    _load(FIXTURE_V1, tmp_path / "old.sqlite")
    with Catalog.open(tmp_path / "old.sqlite") as c:
        assert _schema(c._conn) == expected
    assert not list(tmp_path.glob("new.sqlite*.bak"))  # a new file needs no backup


def test_frozen_v2_fixture_opens_and_reads_back(tmp_path: Path) -> None:
    path = tmp_path / "catalog.sqlite"
    _load(FIXTURE_V2, path)
    with Catalog.open(path) as c:
        assert c.schema_version == catalog_db.CURRENT_SCHEMA
        s1 = c.session_by_uid("20250301T093000Z-A-001")
        demo = c.session_by_uid("demo-0001")
        assert s1 is not None and demo is not None
        reports = c.self_reports(s1.id)
        assert sorted(reports) == ["post", "pre"]
        pre, post = reports["pre"], reports["post"]
        assert (pre.sam_valence, pre.sam_arousal, pre.gad7) == (3, 7, 14)
        assert (post.sam_valence, post.sam_arousal, post.gad7) == (6, 4, None)
        assert c.self_reports(demo.id)["pre"].sam_valence == 4

        a = c.latest_analysis(s1.id)
        assert a is not None and a.demo_model and a.device == "cpu"
        assert a.summary["post"]["quadrant"] == "HVLA" and a.summary["shift"]["dv"] == 0.45
        assert a.updated_at > a.created_at  # its summary was recomputed once
        assert [x.device for x in c.list_analyses(demo.id)] == ["cuda: NVIDIA H100"]
        assert [(r.pages, r.include_name) for r in c.list_reports(s1.id)] == [(3, False)]
        assert c.session_states() == {s1.id: "reported", 2: "recording", demo.id: "analysed"}
        # ids keep counting from the fixture's
        assert _analysis(c, s1.id).id == 3
        assert c.set_self_report(demo.id, "post", gad7=3).id == 4


def test_v3_catalog_is_refused_with_the_existing_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # As a v2 TheraScope sees it (v3 exists now: test_catalog_v3.py checks the same for v4).
    monkeypatch.setattr(catalog_db, "CURRENT_SCHEMA", 2)
    path = tmp_path / "catalog.sqlite"
    with Catalog.open(path):
        pass
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA user_version = 3")
    conn.commit()
    conn.close()
    before = path.read_bytes()
    with pytest.raises(CatalogVersionError) as info:
        Catalog.open(path)
    assert str(info.value) == (
        "This catalog was written by a newer TheraScope (schema v3); this version reads up to "
        "v2. Update TheraScope, or choose another data folder."
    )
    assert path.read_bytes() == before


# --- self-reports --------------------------------------------------------------------------


def test_self_report_upsert(cat: Catalog) -> None:
    s = _finished(cat)
    assert cat.self_reports(s.id) == {}
    first = cat.set_self_report(s.id, "pre", sam_valence=3)
    assert (first.phase, first.sam_valence, first.sam_arousal, first.gad7) == ("pre", 3, None, None)
    assert first.created_at == first.updated_at
    n_audit = len(cat.audit_log())

    # the same values again (saving as the therapist types): nothing written
    assert cat.set_self_report(s.id, "pre", sam_valence=3) == first
    assert len(cat.audit_log()) == n_audit

    second = cat.set_self_report(s.id, "pre", sam_valence=3, sam_arousal=8, gad7=np.int64(12))
    assert second.id == first.id and second.created_at == first.created_at
    assert second.updated_at >= first.updated_at
    assert (second.sam_valence, second.sam_arousal, second.gad7) == (3, 8, 12)
    assert type(second.gad7) is int

    post = cat.set_self_report(s.id, "post", sam_valence=7, sam_arousal=2)
    assert post.id != first.id
    got = cat.self_reports(s.id)
    assert got == {"pre": second, "post": post}

    # every call stores all three fields: None clears
    cleared = cat.set_self_report(s.id, "pre", gad7=12)
    assert (cleared.sam_valence, cleared.sam_arousal, cleared.gad7) == (None, None, 12)
    assert cat.self_reports(s.id)["post"] == post
    n = cat._conn.execute("SELECT count(*) FROM self_reports").fetchone()[0]
    assert n == 2

    details = [(e.action, e.detail) for e in reversed(cat.audit_log(entity="self_report"))]
    assert details == [
        ("create", f"session_id={s.id}; phase=pre; fields=sam_valence"),
        ("update", f"session_id={s.id}; phase=pre; fields=sam_arousal,gad7"),
        ("create", f"session_id={s.id}; phase=post; fields=sam_valence,sam_arousal"),
        ("update", f"session_id={s.id}; phase=pre; fields=sam_valence,sam_arousal"),
    ]
    # a report may also be saved while recording
    rec = _session(cat, s.patient_id, uid="s-0002")
    assert cat.set_self_report(rec.id, "pre").sam_valence is None


@pytest.mark.parametrize(
    ("phase", "kwargs", "message"),
    [
        ("pre", {"sam_valence": 12}, "SAM valence must be 1–9, got 12"),
        ("pre", {"sam_valence": 0}, "SAM valence must be 1–9, got 0"),
        ("post", {"sam_arousal": 10}, "SAM arousal must be 1–9, got 10"),
        ("pre", {"gad7": 22}, "GAD-7 must be 0–21, got 22"),
        ("pre", {"gad7": -1}, "GAD-7 must be 0–21, got -1"),
        ("pre", {"sam_valence": 5.0}, "SAM valence must be a whole number 1–9, got 5.0"),
        ("pre", {"sam_arousal": "5"}, "SAM arousal must be a whole number 1–9, got '5'"),
        ("pre", {"gad7": True}, "GAD-7 must be a whole number 0–21, got True"),
        ("during", {"sam_valence": 5}, "Self-report phase must be 'pre' or 'post', got 'during'"),
    ],
)
def test_self_report_validation(
    cat: Catalog, phase: str, kwargs: dict[str, Any], message: str
) -> None:
    s = _finished(cat)
    cat.set_self_report(s.id, "pre", sam_valence=5, sam_arousal=5, gad7=5)
    n_audit = len(cat.audit_log())
    with pytest.raises(ValueError) as info:
        cat.set_self_report(s.id, phase, **kwargs)
    assert str(info.value) == message
    pre = cat.self_reports(s.id)["pre"]
    assert (pre.sam_valence, pre.sam_arousal, pre.gad7) == (5, 5, 5)
    assert len(cat.audit_log()) == n_audit


def test_self_report_bounds_and_unknown_session(cat: Catalog) -> None:
    s = _finished(cat)
    low = cat.set_self_report(s.id, "pre", sam_valence=1, sam_arousal=1, gad7=0)
    high = cat.set_self_report(s.id, "post", sam_valence=9, sam_arousal=9, gad7=21)
    assert (low.gad7, high.gad7) == (0, 21)
    with pytest.raises(KeyError):
        cat.set_self_report(999, "pre", sam_valence=5)
    # the database refuses what the method would: out of range, fractional, unknown phase
    for column, value in [("sam_valence", 10), ("sam_arousal", 4.5), ("gad7", 22)]:
        with pytest.raises(sqlite3.IntegrityError):
            cat._conn.execute(f"UPDATE self_reports SET {column} = ? WHERE id = ?", (value, low.id))
    with pytest.raises(sqlite3.IntegrityError):
        cat._conn.execute("UPDATE self_reports SET phase = 'mid' WHERE id = ?", (low.id,))
    with pytest.raises(sqlite3.IntegrityError):  # one row per phase
        cat._conn.execute("UPDATE self_reports SET phase = 'pre' WHERE id = ?", (high.id,))
    cat._conn.rollback()


# --- analyses ------------------------------------------------------------------------------


def test_analyses_record_update_and_latest(cat: Catalog) -> None:
    s = _finished(cat)
    other = _finished(cat, uid="s-0002")
    assert cat.latest_analysis(s.id) is None and cat.list_analyses(s.id) == []

    a1 = _analysis(cat, s.id, checkpoint_sha256=SHA.upper(), result_dir="analysis\\run1")
    assert a1.checkpoint_sha256 == SHA and a1.result_dir == "analysis/run1"
    assert a1.demo_model is True and a1.device == "cpu" and a1.checkpoint_label == "demo BMMN"
    assert a1.summary == {"pre": {"valence": -0.2, "arousal": 0.5}, "post": None}
    assert a1.created_at == a1.updated_at
    a2 = _analysis(
        cat, s.id, demo_model=False, device="cuda: NVIDIA H100", summary={"n": 1}, result_dir="a2"
    )
    _analysis(cat, other.id)
    assert cat.latest_analysis(s.id) == a2
    assert [a.id for a in cat.list_analyses(s.id)] == [a2.id, a1.id]
    assert cat.get_analysis(a1.id) == a1 and cat.get_analysis(9999) is None

    # markers edited, results recomputed: the older run's summary changes, the latest stays latest
    new_summary = {"pre": {"valence": -0.1, "arousal": 0.4}, "post": {"valence": 0.3}}
    u1 = cat.update_analysis_summary(a1.id, new_summary)
    assert u1.summary == new_summary and u1.created_at == a1.created_at
    assert u1.updated_at >= a1.updated_at and u1.checkpoint_sha256 == a1.checkpoint_sha256
    assert cat.latest_analysis(s.id) == a2
    assert cat.list_analyses(s.id)[1] == u1
    n_audit = len(cat.audit_log())
    assert cat.update_analysis_summary(a1.id, dict(new_summary)) == u1  # unchanged: no write
    assert len(cat.audit_log()) == n_audit
    u2 = cat.update_analysis_summary(a2.id, {"n": 2})
    assert cat.latest_analysis(s.id) == u2

    log = [(e.action, e.entity_id, e.detail) for e in reversed(cat.audit_log(entity="analysis"))]
    assert log[0] == ("create", a1.id, f"session_id={s.id}; checkpoint={SHA[:12]}; demo_model=1")
    assert log[3] == ("update", a1.id, f"session_id={s.id}; fields=summary")
    assert log[4] == ("update", a2.id, f"session_id={s.id}; fields=summary")


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"checkpoint_sha256": "abc"}, "64 hexadecimal"),
        ({"checkpoint_sha256": "g" * 64}, "64 hexadecimal"),
        ({"checkpoint_label": "  "}, "checkpoint_label is required"),
        ({"device": ""}, "device is required"),
        ({"result_dir": "/abs/analysis"}, "relative to the session folder"),
        ({"result_dir": "../elsewhere"}, "inside the session folder"),
        ({"result_dir": ""}, "relative"),
        ({"summary": {"valence": float("nan")}}, "JSON"),
        ({"summary": {"x": object()}}, "JSON"),
        ({"summary": [1, 2]}, "must be a dict"),
    ],
)
def test_analysis_validation(cat: Catalog, kwargs: dict[str, Any], match: str) -> None:
    s = _finished(cat)
    with pytest.raises(ValueError, match=match):
        _analysis(cat, s.id, **kwargs)
    assert cat.list_analyses(s.id) == []


def test_analysis_unknown_ids(cat: Catalog) -> None:
    s = _finished(cat)
    a = _analysis(cat, s.id)
    with pytest.raises(KeyError):
        _analysis(cat, 999)
    with pytest.raises(KeyError):
        cat.update_analysis_summary(999, {})
    with pytest.raises(ValueError, match="JSON"):
        cat.update_analysis_summary(a.id, {"v": float("inf")})
    assert cat.get_analysis(a.id) == a


# --- reports -------------------------------------------------------------------------------


def test_reports(cat: Catalog) -> None:
    s = _finished(cat)
    assert cat.list_reports(s.id) == []
    r1 = cat.record_report(s.id, pages=3, include_name=False)
    r2 = cat.record_report(s.id, pages=np.int32(4), include_name=True)  # type: ignore[arg-type]
    assert (r1.pages, r1.include_name, r1.session_id) == (3, False, s.id)
    assert (r2.pages, r2.include_name) == (4, True)
    assert cat.list_reports(s.id) == [r2, r1]
    for bad in (0, -1, 2.5, True, "3"):
        with pytest.raises(ValueError, match="pages must be a whole number"):
            cat.record_report(s.id, pages=bad, include_name=False)  # type: ignore[arg-type]
    with pytest.raises(KeyError):
        cat.record_report(999, pages=1, include_name=False)
    assert len(cat.list_reports(s.id)) == 2
    log = [(e.action, e.entity_id, e.detail) for e in reversed(cat.audit_log(entity="report"))]
    assert log == [
        ("export", r1.id, f"session_id={s.id}; pages=3; include_name=0"),
        ("export", r2.id, f"session_id={s.id}; pages=4; include_name=1"),
    ]


# --- deleting, session state, audit --------------------------------------------------------


def _count(c: Catalog, table: str, session_id: int) -> int:
    sql = f"SELECT count(*) FROM {table} WHERE session_id = ?"
    return int(c._conn.execute(sql, (session_id,)).fetchone()[0])


def test_deleting_a_session_or_patient_cascades(cat: Catalog) -> None:
    s = _finished(cat)
    other = _finished(cat, uid="s-0002")
    for sid in (s.id, other.id):
        cat.set_self_report(sid, "pre", sam_valence=2)
        cat.set_self_report(sid, "post", sam_valence=8)
        _analysis(cat, sid)
        cat.record_report(sid, pages=2, include_name=False)
    cat.delete_session(s.id)
    for table in V2_TABLES:
        assert _count(cat, table, s.id) == 0, table
        assert _count(cat, table, other.id) > 0, table
    assert cat.self_reports(s.id) == {} and cat.latest_analysis(s.id) is None
    cat.delete_patient(other.patient_id, with_sessions=True)
    for table in V2_TABLES:
        assert cat._conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0] == 0
    assert cat._conn.execute("PRAGMA foreign_key_check").fetchall() == []


def test_session_state_transitions(cat: Catalog) -> None:
    p = cat.add_patient("P01")
    s = _session(cat, p.id)
    assert cat.session_state(s.id) == "recording"
    cat.set_self_report(s.id, "pre", sam_valence=4)  # self-reports do not move the state
    assert cat.session_state(s.id) == "recording"
    cat.finalise_session(s.id, END, 1800.0, {})
    assert cat.session_state(s.id) == "recorded"
    a = _analysis(cat, s.id)
    assert cat.session_state(s.id) == "analysed"
    cat.update_analysis_summary(a.id, {"recomputed": True})
    assert cat.session_state(s.id) == "analysed"
    cat.record_report(s.id, pages=2, include_name=False)
    assert cat.session_state(s.id) == "reported"
    _analysis(cat, s.id)  # re-analysed after the report: the furthest step reached counts
    assert cat.session_state(s.id) == "reported"

    recovered = _finished(cat, uid="s-0002", status="recovered")
    assert cat.session_state(recovered.id) == "recorded"
    cat.record_report(recovered.id, pages=1, include_name=False)  # a report without analysis
    assert cat.session_state(recovered.id) == "reported"
    failed = _finished(cat, uid="s-0003", status="failed")
    _analysis(cat, failed.id)
    assert cat.session_state(failed.id) == "failed"
    crashed = _session(cat, p.id, uid="s-0004")  # left 'recording' until recovery
    q = cat.add_patient("Q02")
    fresh = _finished(cat, uid="s-0005")
    cat._conn.execute("UPDATE sessions SET patient_id = ? WHERE id = ?", (q.id, fresh.id))
    cat._conn.commit()

    expected = {
        s.id: "reported",
        recovered.id: "reported",
        failed.id: "failed",
        crashed.id: "recording",
    }
    assert cat.session_states(p.id) == expected
    assert cat.session_states(q.id) == {fresh.id: "recorded"}
    assert cat.session_states() == {**expected, fresh.id: "recorded"}
    assert cat.session_states(9999) == {}
    with pytest.raises(KeyError):
        cat.session_state(9999)


def test_v2_audit_entries_carry_no_names(cat: Catalog) -> None:
    s = _finished(cat)  # patient "Zoë Müller"
    cat.set_self_report(s.id, "pre", sam_valence=3, sam_arousal=7, gad7=15)
    cat.set_self_report(s.id, "pre", sam_valence=4, sam_arousal=7, gad7=15)
    a = _analysis(cat, s.id, checkpoint_label="Zoë Müller clinic model", device="cpu")
    cat.update_analysis_summary(a.id, {"note": "Zoë"})
    cat.record_report(s.id, pages=2, include_name=True)
    cat.delete_session(s.id)
    entities = {e.entity for e in cat.audit_log(limit=1000)}
    assert {"self_report", "analysis", "report"} <= entities
    for e in cat.audit_log(limit=1000):
        for secret in ("Zoë", "Müller", "clinic model"):
            assert secret not in e.detail, (e, secret)
