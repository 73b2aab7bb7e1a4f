"""The catalog's records: patients, sessions, markers and the audit trail."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from core.catalog import Catalog
from tests.core.catalog.test_catalog import T0, _session


@pytest.fixture
def cat(tmp_path: Path) -> Iterator[Catalog]:
    c = Catalog.open(tmp_path / "catalog.sqlite")
    yield c
    c.close()


# --- patients ------------------------------------------------------------------------------


def test_patient_crud_and_search(cat: Catalog) -> None:
    a = cat.add_patient("  A-001 ", name="Zoë Müller", birth_year=1987, notes="n")
    assert a.code == "A-001" and a.name == "Zoë Müller"
    cat.add_patient("B-002", name="Jan Novak")
    cat.add_patient("X-9")
    assert cat.get_patient(a.id) == a
    assert cat.get_patient(999) is None
    assert cat.patient_by_code("a-001") == a
    assert [p.code for p in cat.list_patients("müll")] == ["A-001"]
    assert [p.code for p in cat.list_patients("ZOË")] == ["A-001"]
    assert [p.code for p in cat.list_patients("b-0")] == ["B-002"]
    assert [p.code for p in cat.list_patients("x")] == ["X-9"]
    assert len(cat.list_patients("")) == 3
    assert cat.list_patients("nobody") == []

    upd = cat.update_patient(a.id, name="Zoe Mueller", notes="new", birth_year=None)
    assert upd.name == "Zoe Mueller" and upd.notes == "new" and upd.birth_year is None
    assert upd.updated_at >= a.updated_at
    assert cat.update_patient(a.id, code="A-100").code == "A-100"
    with pytest.raises(ValueError, match="already exists"):
        cat.update_patient(a.id, code="b-002")
    with pytest.raises(ValueError, match="Unknown"):
        cat.update_patient(a.id, colour="red")
    with pytest.raises(KeyError):
        cat.update_patient(12345, name="x")

    cat.delete_patient(a.id)
    assert cat.get_patient(a.id) is None


@pytest.mark.parametrize(
    "kwargs",
    [
        {"code": ""},
        {"code": "   "},
        {"code": "x" * 33},
        {"code": "a\tb"},
        {"code": "ok", "birth_year": 1800},
        {"code": "ok", "birth_year": datetime.now().year + 1},
    ],
)
def test_patient_validation(cat: Catalog, kwargs: dict) -> None:
    with pytest.raises(ValueError):
        cat.add_patient(**kwargs)
    assert cat.list_patients() == []


def test_duplicate_code_refused(cat: Catalog) -> None:
    cat.add_patient("P01")
    with pytest.raises(ValueError, match="A patient with code P01 already exists"):
        cat.add_patient("P01")
    with pytest.raises(ValueError, match="already exists"):
        cat.add_patient(" p01 ")
    assert len(cat.list_patients()) == 1


def test_delete_patient_only_with_sessions(cat: Catalog) -> None:
    p = cat.add_patient("P01")
    s = _session(cat, p.id)
    cat.add_marker(s.id, 1.0, "note")
    with pytest.raises(ValueError, match="session"):
        cat.delete_patient(p.id)
    assert cat.get_patient(p.id) is not None
    deleted = cat.delete_patient(p.id, with_sessions=True)
    assert [d.folder for d in deleted] == ["sessions/s-0001"]
    assert cat.get_patient(p.id) is None and cat.get_session(s.id) is None
    assert cat.list_markers(s.id) == []
    with pytest.raises(KeyError):
        cat.delete_patient(p.id)


# --- sessions and markers ------------------------------------------------------------------


def test_session_lifecycle(cat: Catalog) -> None:
    p = cat.add_patient("P01")
    s = _session(
        cat, p.id, started_at=datetime(2025, 3, 1, 10, 30, tzinfo=timezone(timedelta(hours=1)))
    )
    assert s.status == "recording" and s.started_at == "2025-03-01T09:30:00.000+00:00"
    assert s.simulated and s.quality == {} and s.ended_at is None
    assert cat.unfinished_sessions() == [s]
    assert cat.session_by_uid("s-0001") == s

    f = cat.finalise_session(s.id, "2025-03-01T10:00:00Z", 1800.0, {"lost_samples": 4})
    assert f.status == "finalised" and f.duration_s == 1800.0
    assert f.quality == {"lost_samples": 4} and f.ended_at == "2025-03-01T10:00:00.000+00:00"
    assert cat.unfinished_sessions() == []
    assert cat.update_session_notes(s.id, "calm at the end").notes == "calm at the end"
    assert cat.set_session_status(s.id, "failed").status == "failed"

    s2 = _session(
        cat,
        p.id,
        uid="s-0002",
        started_at="2025-03-08T09:30:00+00:00",
        consent_at="2025-03-08T09:00:00+00:00",
    )
    assert [x.uid for x in cat.list_sessions(patient_id=p.id)] == ["s-0002", "s-0001"]
    assert [x.uid for x in cat.list_sessions(status="recording")] == ["s-0002"]
    with pytest.raises(ValueError, match="already exists"):
        _session(cat, p.id, uid="s-0002")
    assert cat.delete_session(s2.id).uid == "s-0002"
    assert cat.get_session(s2.id) is None


@pytest.mark.parametrize("consent", ["", "   ", None])
def test_session_without_consent_refused(cat: Catalog, consent: object) -> None:
    p = cat.add_patient("P01")
    with pytest.raises(ValueError, match="[Cc]onsent"):
        _session(cat, p.id, consent_at=consent)
    assert cat.list_sessions() == []


def test_session_validation(cat: Catalog) -> None:
    p = cat.add_patient("P01")
    with pytest.raises(ValueError, match="before the recording"):
        _session(cat, p.id, consent_at="2025-03-01T09:31:00+00:00")
    with pytest.raises(ValueError, match="time zone"):
        _session(cat, p.id, started_at="2025-03-01T09:30:00")
    with pytest.raises(ValueError, match="folder-safe"):
        _session(cat, p.id, uid="../evil")
    with pytest.raises(ValueError, match="relative"):
        _session(cat, p.id, folder="/abs/path")
    with pytest.raises(ValueError, match="inside"):
        _session(cat, p.id, folder="sessions/../../x")
    with pytest.raises(ValueError, match="JSON"):
        _session(cat, p.id, devices={"x": object()})
    with pytest.raises(KeyError):
        _session(cat, 999)
    s = _session(cat, p.id)
    with pytest.raises(ValueError):
        cat.finalise_session(s.id, T0, -1.0, {})
    with pytest.raises(ValueError):
        cat.finalise_session(s.id, T0, 1.0, {}, status="recording")
    assert cat.list_sessions() == [s]


def test_markers(cat: Catalog) -> None:
    p = cat.add_patient("P01")
    s = _session(cat, p.id)
    m2 = cat.add_marker(s.id, 900.0, "treatment_end")
    m1 = cat.add_marker(s.id, 120.5, "treatment_start")
    n = cat.add_marker(s.id, 300.0, "note", "coughs")
    assert [m.id for m in cat.list_markers(s.id)] == [m1.id, n.id, m2.id]
    upd = cat.update_marker(n.id, t_s=310.0, label="coughs twice")
    assert (upd.t_s, upd.label, upd.kind) == (310.0, "coughs twice", "note")
    cat.delete_marker(m2.id)
    assert [m.id for m in cat.list_markers(s.id)] == [m1.id, n.id]
    for bad in [
        dict(t_s=-1.0, kind="note"),
        dict(t_s=float("nan"), kind="note"),
        dict(t_s=1.0, kind="x"),
    ]:
        with pytest.raises(ValueError):
            cat.add_marker(s.id, **bad)
    with pytest.raises(KeyError):
        cat.add_marker(999, 1.0, "note")
    with pytest.raises(KeyError):
        cat.delete_marker(m2.id)


def test_delete_session_cascades_markers(cat: Catalog) -> None:
    p = cat.add_patient("P01")
    s = _session(cat, p.id)
    other = _session(cat, p.id, uid="s-0002")
    for t in (1.0, 2.0, 3.0):
        cat.add_marker(s.id, t, "note")
    cat.add_marker(other.id, 1.0, "note")
    cat.delete_session(s.id)
    n = cat._conn.execute("SELECT count(*) FROM markers WHERE session_id = ?", (s.id,)).fetchone()[
        0
    ]
    assert n == 0
    assert len(cat.list_markers(other.id)) == 1


# --- audit ---------------------------------------------------------------------------------


def test_audit_for_each_action_without_names(cat: Catalog) -> None:
    name, notes = "Zoë Müller", "secret notes about the patient"
    p = cat.add_patient("P01", name=name, notes=notes)
    cat.update_patient(p.id, name="Zoë Maria Müller", notes=notes + " more")
    s = _session(cat, p.id)
    m = cat.add_marker(s.id, 5.0, "note", "Zoë cries")
    cat.update_marker(m.id, label="Zoë laughs")
    cat.delete_marker(m.id)
    cat.update_session_notes(s.id, notes)
    cat.audit("record", "session", s.id, f"uid={s.uid}; started")
    cat.finalise_session(s.id, "2025-03-01T10:00:00+00:00", 1800.0, {})
    cat.set_session_status(s.id, "recovered")
    exported = cat.audit("export", "session", s.id, f"uid={s.uid}; for Zoë Maria Müller; MÜLLER")
    assert "Müller" not in exported.detail and "MÜLLER" not in exported.detail
    assert "[name]" in exported.detail and f"uid={s.uid}" in exported.detail
    cat.delete_session(s.id)
    cat.delete_patient(p.id)

    log = cat.audit_log(limit=100)
    seen = {(e.action, e.entity) for e in log}
    for expected in [
        ("create", "patient"),
        ("update", "patient"),
        ("delete", "patient"),
        ("create", "session"),
        ("update", "session"),
        ("record", "session"),
        ("finalise", "session"),
        ("recover", "session"),
        ("export", "session"),
        ("delete", "session"),
        ("create", "marker"),
        ("update", "marker"),
        ("delete", "marker"),
    ]:
        assert expected in seen, expected
    for e in log:
        for secret in ("Zoë", "Müller", "MÜLLER", "secret", "cries", "laughs"):
            assert secret not in e.detail, (e, secret)
    assert log[0].action == "delete" and log[0].entity == "patient"  # newest first
    assert all(e.entity_id == p.id for e in cat.audit_log(entity="patient", entity_id=p.id))
    assert len(cat.audit_log(limit=3)) == 3
    with pytest.raises(ValueError):
        cat.audit("view", "session", 1)


def test_failed_change_writes_no_audit(cat: Catalog) -> None:
    cat.add_patient("P01")
    n = len(cat.audit_log())
    with pytest.raises(ValueError):
        cat.add_patient("P01")
    assert len(cat.audit_log()) == n
