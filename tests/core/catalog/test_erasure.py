"""Deleting sessions and patients for good: folders and rows together, crash-safe, audited."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.catalog import Catalog, SessionRecord
from core.catalog.erasure import (
    TOMBSTONE_PREFIX,
    DeletionError,
    DeletionRefused,
    confirmation_matches,
    delete_patient_data,
    delete_session_data,
)
from tests.app.review_data import make_analysed, record_short
from tests.core.catalog.test_catalog import _session

ROW_TABLES = ("markers", "self_reports", "analyses", "reports")


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def cat(root: Path) -> Iterator[Catalog]:
    c = Catalog.open(root / "catalog.sqlite")
    yield c
    c.close()


def _with_everything(cat: Catalog, root: Path, patient_id: int) -> SessionRecord:
    """A recorded and analysed session with a marker, self-reports and a report record."""
    rec, _ = make_analysed(cat, root, patient_id)
    cat.add_marker(rec.id, 1.0, "note", "patient reports tension")
    cat.set_self_report(rec.id, "pre", sam_valence=3)
    cat.set_self_report(rec.id, "post", sam_valence=7)
    cat.record_report(rec.id, pages=2, include_name=False)
    return rec


def _rows_of(cat: Catalog, session_id: int) -> dict[str, int]:
    return {
        t: int(
            cat._conn.execute(
                f"SELECT count(*) FROM {t} WHERE session_id = ?", (session_id,)
            ).fetchone()[0]
        )
        for t in ROW_TABLES
    }


def test_confirmation_is_the_exact_text() -> None:
    assert confirmation_matches("P-01", "P-01")
    assert confirmation_matches("P-01", "  P-01 ")
    assert not confirmation_matches("P-01", "p-01")
    assert not confirmation_matches("P-01", "P-0")
    assert not confirmation_matches("P-01", "")
    assert not confirmation_matches("P-01", None)
    assert not confirmation_matches("", "")


def test_deleting_a_session_removes_its_folder_rows_and_audits(cat: Catalog, root: Path) -> None:
    p = cat.add_patient("E-1", name="Zoë Müller")
    rec = _with_everything(cat, root, p.id)
    keep = _with_everything(cat, root, p.id)
    folder = root / rec.folder
    assert (folder / "session.json").exists() and any((folder / "analysis").iterdir())
    assert all(n > 0 for n in _rows_of(cat, rec.id).values())

    gone = delete_session_data(cat, root, rec.id)

    assert (gone.patient_code, gone.session_uids, gone.folders) == (None, (rec.uid,), (rec.folder,))
    assert not folder.exists() and not list(folder.parent.glob(TOMBSTONE_PREFIX + "*"))
    assert cat.get_session(rec.id) is None
    assert _rows_of(cat, rec.id) == dict.fromkeys(ROW_TABLES, 0)
    # the other session and the patient are untouched
    assert (root / keep.folder / "session.json").exists()
    assert all(n > 0 for n in _rows_of(cat, keep.id).values())
    assert cat.get_patient(p.id) is not None
    log = [(e.action, e.entity, e.detail) for e in cat.audit_log(entity_id=rec.id)[:2]]
    assert log == [
        ("delete", "session", f"uid={rec.uid}"),
        ("delete", "session_folder", f"uid={rec.uid}; folder={rec.folder}"),
    ]
    for e in cat.audit_log(limit=1000):
        assert "Zoë" not in e.detail and "tension" not in e.detail


def test_deleting_a_patient_removes_every_session(cat: Catalog, root: Path) -> None:
    p = cat.add_patient("E-2")
    other = cat.add_patient("E-3")
    recs = [_with_everything(cat, root, p.id), record_short(cat, root, p.id, 3.0)]
    theirs = record_short(cat, root, other.id, 3.0)

    gone = delete_patient_data(cat, root, p.id)

    assert gone.patient_code == "E-2" and set(gone.session_uids) == {r.uid for r in recs}
    assert cat.get_patient(p.id) is None
    for r in recs:
        assert not (root / r.folder).exists() and cat.get_session(r.id) is None
        assert _rows_of(cat, r.id) == dict.fromkeys(ROW_TABLES, 0)
    assert (root / theirs.folder / "session.json").exists()
    assert cat.list_sessions(patient_id=other.id) == [cat.get_session(theirs.id)]
    assert (root / "sessions").is_dir()  # the sessions folder itself stays
    entries = {(e.action, e.entity, e.entity_id) for e in cat.audit_log(limit=1000)}
    assert ("delete", "patient", p.id) in entries
    for r in recs:
        assert {("delete", "session", r.id), ("delete", "session_folder", r.id)} <= entries
    assert cat._conn.execute("PRAGMA foreign_key_check").fetchall() == []


def test_a_session_still_recording_is_not_deleted(cat: Catalog, root: Path) -> None:
    p = cat.add_patient("E-4")
    done = record_short(cat, root, p.id, 3.0)
    live = _session(cat, p.id, uid="live-0001")  # status "recording"
    (root / live.folder).mkdir(parents=True)
    (root / live.folder / "bio.bin").write_bytes(b"\0" * 64)
    n_audit = len(cat.audit_log(limit=1000))
    with pytest.raises(DeletionRefused, match="live-0001 is still recording"):
        delete_session_data(cat, root, live.id)
    with pytest.raises(DeletionRefused, match="still recording"):
        delete_patient_data(cat, root, p.id)
    # nothing at all was deleted, not even the finished session
    assert (root / live.folder / "bio.bin").exists() and (root / done.folder).exists()
    assert cat.get_session(done.id) is not None and cat.get_patient(p.id) is not None
    assert len(cat.audit_log(limit=1000)) == n_audit
    with pytest.raises(KeyError):
        delete_session_data(cat, root, 999)
    with pytest.raises(KeyError):
        delete_patient_data(cat, root, 999)


def test_a_folder_that_cannot_be_removed_keeps_the_rows_and_a_retry_finishes(
    cat: Catalog, root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    p = cat.add_patient("E-5")
    rec = _with_everything(cat, root, p.id)
    folder = root / rec.folder
    real_rmtree = shutil.rmtree

    def locked(path: object, *a: object, **k: object) -> None:
        raise PermissionError(13, "Permission denied", str(path))  # a file still open (Windows)

    monkeypatch.setattr(shutil, "rmtree", locked)
    with pytest.raises(DeletionError, match="could not be removed") as info:
        delete_session_data(cat, root, rec.id)
    assert TOMBSTONE_PREFIX + folder.name in str(info.value)
    # the rows stay: the session still shows, and says what remains
    assert cat.get_session(rec.id) is not None
    assert all(n > 0 for n in _rows_of(cat, rec.id).values())
    assert not cat.audit_log(entity="session_folder")
    assert (folder.parent / (TOMBSTONE_PREFIX + folder.name) / "session.json").exists()

    monkeypatch.setattr(shutil, "rmtree", real_rmtree)
    delete_session_data(cat, root, rec.id)  # again: the left-over folder goes, then the rows
    assert not folder.parent.joinpath(TOMBSTONE_PREFIX + folder.name).exists()
    assert cat.get_session(rec.id) is None
    assert len(cat.audit_log(entity="session_folder")) == 1


def test_a_crash_after_the_folder_went_is_finished_by_deleting_again(
    cat: Catalog, root: Path
) -> None:
    p = cat.add_patient("E-6")
    rec = record_short(cat, root, p.id, 3.0)
    other = record_short(cat, root, p.id, 3.0)
    shutil.rmtree(root / rec.folder)  # the state a crash between folder and rows leaves
    gone = delete_patient_data(cat, root, p.id)
    assert set(gone.session_uids) == {rec.uid, other.uid}
    assert cat.get_patient(p.id) is None and not (root / other.folder).exists()


def test_a_session_started_meanwhile_stops_a_patient_deletion(
    cat: Catalog, root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    p = cat.add_patient("E-7")
    rec = record_short(cat, root, p.id, 3.0)
    before = cat.list_sessions(patient_id=p.id)
    late = _session(cat, p.id, uid="late-0001")  # starts recording while the folders go
    monkeypatch.setattr(cat, "list_sessions", lambda **k: before)
    with pytest.raises(DeletionRefused, match="changed meanwhile"):
        delete_patient_data(cat, root, p.id)
    assert cat.get_patient(p.id) is not None and cat.get_session(late.id) is not None
    assert cat.get_session(rec.id) is not None  # its folder went; its row stays until a retry
    monkeypatch.undo()
    with pytest.raises(DeletionRefused, match="late-0001 is still recording"):
        delete_patient_data(cat, root, p.id)
    cat.finalise_session(late.id, "2025-03-01T10:00:00+00:00", 1.0, {})
    delete_patient_data(cat, root, p.id)
    assert cat.get_patient(p.id) is None and cat.get_session(rec.id) is None


def test_old_nested_folders_are_pruned_but_never_outside_the_data_folder(
    cat: Catalog, root: Path
) -> None:
    p = cat.add_patient("A-001")
    s = _session(cat, p.id, uid="old-0001", folder="sessions/A-001/old-0001")
    cat.finalise_session(s.id, "2025-03-01T10:00:00+00:00", 1.0, {})
    (root / s.folder).mkdir(parents=True)
    (root / s.folder / "session.json").write_text("{}")
    delete_patient_data(cat, root, p.id)
    assert not (root / "sessions" / "A-001").exists() and (root / "sessions").is_dir()

    q = cat.add_patient("B-002")
    (root / "sessions" / "keep-me").mkdir(parents=True)
    for k, damaged in enumerate((".", "sessions", "catalog.sqlite", "./sessions")):
        bad = _session(cat, q.id, uid=f"bad-{k:04d}", folder=damaged)
        cat.finalise_session(bad.id, "2025-03-01T10:00:00+00:00", 1.0, {})
        with pytest.raises(DeletionRefused, match="not a session folder inside the data directory"):
            delete_session_data(cat, root, bad.id)
        assert cat.get_session(bad.id) is not None
    assert (root / "catalog.sqlite").exists() and (root / "sessions" / "keep-me").is_dir()
