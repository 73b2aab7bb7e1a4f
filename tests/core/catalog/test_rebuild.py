"""A lost catalog is rebuilt from the data folder: each patient's record file and each session
folder's catalog.json bring back patients, sessions, markers, self-reports and analyses; what no
folder keeps (the audit trail, a missing patient record) is reported, never invented."""

from __future__ import annotations

import dataclasses
import json
import shutil
import sqlite3
from pathlib import Path

import pytest

from app.cli.main import main
from core.catalog import Catalog
from core.catalog.erasure import delete_session_data
from tests.accounts import make_account
from tests.app.review_data import make_analysed, record_short

FIXTURE_V3 = Path(__file__).parent / "fixtures" / "catalog_v3.sql"


def snapshot(cat: Catalog) -> dict:
    """Everything a rebuild must bring back, without catalog ids."""
    out: dict = {"patients": {}, "sessions": {}}
    for p in cat.list_patients():
        row = dataclasses.asdict(p)
        row.pop("id")
        out["patients"][p.uuid] = row
    for s in cat.list_sessions():
        row = dataclasses.asdict(s)
        patient = cat.get_patient(row.pop("patient_id"))
        row.pop("id")
        row["patient"] = patient.uuid if patient else None
        row["markers"] = [(m.t_s, m.kind, m.label, m.created_at) for m in cat.list_markers(s.id)]
        row["self_reports"] = {
            k: (r.sam_valence, r.sam_arousal, r.gad7) for k, r in cat.self_reports(s.id).items()
        }
        row["analyses"] = [
            (a.checkpoint_sha256, a.checkpoint_label, a.demo_model, a.result_dir, a.summary)
            for a in cat.list_analyses(s.id)
        ]
        row["reports"] = [(r.pages, r.include_name) for r in cat.list_reports(s.id)]
        out["sessions"][s.uid] = row
    return out


@pytest.fixture
def data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, dict]:
    """A data folder recorded for real (simulated devices): two patients, four sessions, one
    analysed, with markers, ratings, notes, an archived patient and a deleted session; its
    throwaway account unlocks the command line's rebuild."""
    root = tmp_path / "data"
    for key, value in make_account(root, tmp_path / "password.txt").items():
        monkeypatch.setenv(key, value)
    with Catalog.open(root / "catalog.sqlite") as cat:
        a = cat.add_patient("A-001", name="Zoë Müller", birth_year=1980, notes="first\nsecond")
        b = cat.add_patient("B-002", name="Ωμέγα 你好")
        analysed, _ = make_analysed(cat, root, a.id)
        plain = record_short(cat, root, a.id, 3.0)
        cat.add_marker(plain.id, 1.0, "treatment_start", "Beginn")
        m = cat.add_marker(plain.id, 2.0, "note", "to delete")
        cat.delete_marker(m.id)
        cat.update_session_notes(plain.id, "quiet session")
        cat.set_self_report(plain.id, "pre", sam_valence=3, sam_arousal=7, gad7=12)
        cat.record_report(analysed.id, pages=5, include_name=False)
        gone = record_short(cat, root, b.id, 2.0)
        record_short(cat, root, b.id, 2.0)
        delete_session_data(cat, root, gone.id)
        cat.archive_patient(b.id)
        before = snapshot(cat)
    assert len(before["sessions"]) == 3
    return root, before


def remove_catalog(root: Path) -> None:
    for f in root.glob("catalog.sqlite*"):
        f.unlink()


def test_rebuild_brings_back_everything_the_folders_keep(data, capsys):
    root, before = data
    remove_catalog(root)
    assert main(["--data-dir", str(root), "rebuild-catalog", "--replace"]) == 0
    out = capsys.readouterr().out
    assert (
        "2 patient(s), 3 session(s), 1 marker(s), 1 self-report(s), 0 questionnaire item(s), 0 SUDS rating(s), 1 analysis run(s)"
        in out
    )
    assert "audit trail" in out and "could not be recovered" in out
    with Catalog.open(root / "catalog.sqlite") as cat:
        assert snapshot(cat) == before
        entry, *schema_steps = cat.audit_log()  # newest first: the rebuild, then the new file's
        assert entry.entity == "catalog" and "rebuilt from the data folder" in entry.detail
        assert all(e.detail.startswith("schema v") for e in schema_steps)


def test_rebuild_beside_a_damaged_catalog_never_touches_it(data):
    root, before = data
    with Catalog.open(root / "catalog.sqlite") as cat:  # fold the journal into the file
        cat._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    old = (root / "catalog.sqlite").read_bytes()
    assert (
        main(["--data-dir", str(root), "rebuild-catalog", "--out", str(root / "new.sqlite")]) == 0
    )
    assert (root / "catalog.sqlite").read_bytes() == old
    with Catalog.open(root / "new.sqlite") as cat:
        assert snapshot(cat) == before


def test_what_is_missing_is_reported_not_invented(data):
    from core.catalog.rebuild import rebuild_catalog

    root, before = data
    remove_catalog(root)
    a_uuid = next(u for u, p in before["patients"].items() if p["code"] == "A-001")
    (root / "patients" / f"{a_uuid}.json").unlink()  # the patient's record file is lost
    plain = next(u for u, s in before["sessions"].items() if s["notes"] == "quiet session")
    (root / "sessions" / plain / "catalog.json").unlink()  # and one session's facts
    result = rebuild_catalog(root)
    text = "\n".join(result.problems)
    assert f"RECOVERED-{a_uuid[:8]}" in text and "A-001" in text
    assert f"Session {plain} has no catalog.json" in text
    with Catalog.open(result.path) as cat:
        s = cat.session_by_uid(plain)
        assert s is not None and s.status == "finalised" and cat.list_markers(s.id) == []
        placeholder = cat.get_patient(s.patient_id)
        assert placeholder.code == f"RECOVERED-{a_uuid[:8]}" and placeholder.uuid == a_uuid
        assert "A-001" in placeholder.notes and placeholder.name is None
        assert len(cat.list_sessions()) == 3


def test_session_manifest_says_whose_session_it_is(data):
    root, before = data
    for uid, s in before["sessions"].items():
        manifest = json.loads((root / "sessions" / uid / "session.json").read_text())
        assert manifest["patient_uuid"] == s["patient"]


def test_migrating_to_v4_gives_each_patient_a_uuid_and_a_record_file(tmp_path):
    root = tmp_path / "data"
    root.mkdir()
    conn = sqlite3.connect(root / "catalog.sqlite")
    conn.executescript(FIXTURE_V3.read_text(encoding="utf-8"))
    conn.close()
    with Catalog.open(root / "catalog.sqlite") as cat:
        patients = cat.list_patients()
        uuids = {p.uuid for p in patients}
        assert len(uuids) == len(patients) == 3 and None not in uuids
    files = sorted(p.stem for p in (root / "patients").glob("*.json"))
    assert files == sorted(uuids)
    record = json.loads((root / "patients" / f"{patients[0].uuid}.json").read_text())
    assert record["format"] == "therascope-patient"
    assert record["patient"]["code"] == patients[0].code


def test_bad_entries_are_reported_one_by_one_and_the_rest_of_the_session_kept(data):
    """A catalog.json with refused and damaged entries: each is named in the problems, the
    session's other entries (analyses, reports, good ratings) come back; GAD-7 items complete
    for a phase set its total; the summary counts questionnaire items and SUDS ratings."""
    from core.catalog.rebuild import rebuild_catalog
    from core.security import vault

    root, before = data
    plain = next(u for u, s in before["sessions"].items() if s["notes"] == "quiet session")
    analysed = next(u for u, s in before["sessions"].items() if s["analyses"])
    with Catalog.open(root / "catalog.sqlite") as cat:
        sid = cat.session_by_uid(plain).id
        cat.set_questionnaire(sid, "pre", "gad7", dict(enumerate((2, 2, 2, 2, 1, 1, 1), 1)))
        cat.set_questionnaire(sid, "post", "phq9", {1: 1, 9: 1})
        cat.add_suds(sid, 1.0, 60)
        cat.add_suds(sid, 2.0, 40)
    remove_catalog(root)
    path = root / "sessions" / plain / "catalog.json"
    facts = json.loads(vault.read_bytes(path))
    assert facts["self_reports"][0]["gad7"] == 11  # the items' sum
    facts["self_reports"][0]["gad7"] = 13  # a total that disagrees with the items
    facts["questionnaires"]["post"]["phq9"]["2"] = 7  # refused by the scale
    facts["suds"].append({"t_s": 3.0, "rating": 150, "created_at": facts["suds"][0]["created_at"]})
    facts["suds"].append({"rating": 20, "created_at": facts["suds"][0]["created_at"]})  # no time
    vault.write_bytes_atomic(path, json.dumps(facts).encode("utf-8"))
    path = root / "sessions" / analysed / "catalog.json"
    facts = json.loads(vault.read_bytes(path))
    good = facts["analyses"][0]
    facts["analyses"].insert(0, {k: v for k, v in good.items() if k != "checkpoint_sha256"})
    facts["analyses"][0]["created_at"] = "2000-01-01T00:00:00+00:00"  # restored first: fails
    vault.write_bytes_atomic(path, json.dumps(facts).encode("utf-8"))

    # a copy of a session folder: the same uid again; the whole copy is rolled back
    shutil.copytree(root / "sessions" / plain, root / "sessions" / "zz-copy")

    result = rebuild_catalog(root)
    text = "\n".join(result.problems)
    assert "Session zz-copy was not restored (UNIQUE constraint failed" in text
    assert result.sessions == 3 and result.self_reports == 1
    assert f"Session {plain}: phq9 item 2 (post) = 7 was left out" in text
    assert f"Session {plain}: a SUDS rating (150) was left out" in text
    assert f"Session {plain}: a SUDS rating (20) was left out" in text
    assert "the GAD-7 pre total 13 did not match its seven items; it is now their sum, 11" in text
    assert f"Session {analysed}: the analysis of 2000-01-01" in text
    assert (result.questionnaire_items, result.suds, result.analyses) == (9, 2, 1)
    assert "9 questionnaire item(s), 2 SUDS rating(s), 1 analysis run(s)" in result.summary()
    with Catalog.open(result.path) as cat:
        s = cat.session_by_uid(plain)
        assert cat.self_reports(s.id)["pre"].gad7 == 11
        assert cat.questionnaire_items(s.id)["post"]["phq9"] == {1: 1, 9: 1}
        assert [(r.t_s, r.rating) for r in cat.list_suds(s.id)] == [(1.0, 60), (2.0, 40)]
        a = cat.session_by_uid(analysed)
        assert len(cat.list_analyses(a.id)) == 1 and len(cat.list_reports(a.id)) == 1
        assert len(cat.list_sessions()) == 3
