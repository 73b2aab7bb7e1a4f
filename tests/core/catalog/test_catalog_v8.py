"""Catalog schema v8: GAD-7 and PHQ-9 item by item, SUDS ratings (issue 19, items 3 and 4).

The v7→v8 step, the frozen v8 schema, old GAD-7 totals read as "total only", every score checked
before anything is stored, the GAD-7 total following its items, the record files (sealed when
the folder is encrypted) and a rebuilt catalog bringing both back.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from core.catalog import Catalog, CatalogVersionError
from core.catalog.rebuild import rebuild_catalog
from core.clinical import session_measures
from core.security import vault
from tests.core.catalog.test_catalog import _session
from tests.core.catalog.test_catalog_encrypted import root  # noqa: F401  (fixture)
from tests.core.catalog.test_catalog_v2 import _load, _schema
from tests.core.catalog.test_catalog_v7 import FIXTURE_V7

FIXTURE_V8 = Path(__file__).parent / "fixtures" / "catalog_v8.sql"
GAD_12 = {1: 2, 2: 2, 3: 2, 4: 2, 5: 2, 6: 1, 7: 1}  # 12: moderate
PHQ_ITEM9 = {1: 1, 2: 1, 3: 1, 4: 1, 5: 0, 6: 0, 7: 0, 8: 0, 9: 1}  # 5: mild, item 9 = 1


def test_new_and_migrated_catalogs_have_exactly_the_frozen_v8_schema(tmp_path: Path) -> None:
    frozen = sqlite3.connect(tmp_path / "frozen.sqlite")
    frozen.executescript(FIXTURE_V8.read_text(encoding="utf-8"))
    assert frozen.execute("PRAGMA user_version").fetchone()[0] == 8
    expected = _schema(frozen)
    frozen.close()
    with Catalog.open(tmp_path / "new.sqlite") as c:
        assert _schema(c._conn) == expected
    _load(FIXTURE_V7, tmp_path / "old.sqlite")
    with Catalog.open(tmp_path / "old.sqlite") as c:
        assert _schema(c._conn) == expected


def test_a_v7_gad7_total_reads_as_total_only_after_migration(tmp_path: Path) -> None:
    path = tmp_path / "catalog.sqlite"
    _load(FIXTURE_V7, path)
    with Catalog.open(path) as c:
        assert c.schema_version == 8
        m = session_measures(c, 1)
        gad = m.result("pre", "gad7")
        assert gad is not None
        assert (gad.total, gad.band, gad.source, gad.answers) == (14, "moderate", "total only", {})
        assert m.result("post", "gad7") is None and m.suds == []
        # items being entered: the old total stays ('total only') until all seven are answered
        c.set_questionnaire(1, "pre", "gad7", {1: 3})
        assert c.self_reports(1)["pre"].gad7 == 14
        gad = session_measures(c, 1).result("pre", "gad7")
        assert gad is not None and (gad.total, gad.source, gad.answers) == (
            14,
            "total only",
            {1: 3},
        )
        assert gad.items_pending and gad.summary() == (
            "GAD-7 14 (moderate; total only, items being entered: 1 of 7)"
        )
        c.set_self_report(1, "pre", sam_valence=4, gad7=14)  # the kept total may be saved again
        with pytest.raises(ValueError, match="item by item"):
            c.set_self_report(1, "pre", sam_valence=4, gad7=9)  # but not a new one
        c.set_questionnaire(1, "pre", "gad7", {i: 1 for i in range(2, 7)})
        assert c.self_reports(1)["pre"].gad7 == 14  # six of seven: still the old total
        # the seventh item: the complete set replaces it, the audit names the total replaced
        c.set_questionnaire(1, "pre", "gad7", {7: 2})
        assert c.self_reports(1)["pre"].gad7 == 3 + 5 + 2
        gad = session_measures(c, 1).result("pre", "gad7")
        assert gad is not None and (gad.total, gad.source) == (10, "items")
        detail = next(e.detail for e in c.audit_log(limit=50) if e.entity == "questionnaire")
        assert "items=7" in detail and "replaced_total=14" in detail
        # from now on the total follows the items: a cleared item empties it
        c.set_questionnaire(1, "pre", "gad7", {7: None})
        assert c.self_reports(1)["pre"].gad7 is None
        assert session_measures(c, 1).result("pre", "gad7").source == "incomplete"  # type: ignore[union-attr]


def test_frozen_v8_fixture_reads_items_flag_and_suds(tmp_path: Path) -> None:
    path = tmp_path / "catalog.sqlite"
    _load(FIXTURE_V8, path)
    with Catalog.open(path) as c:
        m = session_measures(c, 1)
        gad, phq = m.result("post", "gad7"), m.result("post", "phq9")
        assert gad is not None and phq is not None
        assert (gad.total, gad.band, gad.source) == (6, "mild", "items")
        assert (phq.total, phq.band, phq.flagged) == (7, "mild", True)
        assert m.flagged == [phq]
        assert [(r.t_s, r.rating) for r in m.suds] == [(125.5, 70), (900.0, 35)]


def test_v9_catalog_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "catalog.sqlite"
    with Catalog.open(path):
        pass
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA user_version = 9")
    conn.commit()
    conn.close()
    with pytest.raises(CatalogVersionError, match="schema v9.*reads up to v8"):
        Catalog.open(path)


def _one_session(c: Catalog) -> int:
    p = c.add_patient("P-19")
    return _session(c, p.id).id


def test_items_scores_and_the_gad7_total_that_follows_them(tmp_path: Path) -> None:
    with Catalog.open(tmp_path / "catalog.sqlite") as c:
        sid = _one_session(c)
        c.set_self_report(sid, "post", sam_valence=6)
        entry = c.set_questionnaire(sid, "post", "gad7", GAD_12)
        assert entry.answers == GAD_12
        assert c.self_reports(sid)["post"].gad7 == 12  # the old views see the items' total
        assert c.self_reports(sid)["post"].sam_valence == 6  # untouched
        c.set_questionnaire(sid, "pre", "phq9", PHQ_ITEM9)
        m = session_measures(c, sid)
        assert m.result("post", "gad7").band == "moderate"  # type: ignore[union-attr]
        phq = m.result("pre", "phq9")
        assert phq is not None and (phq.total, phq.band, phq.flagged) == (5, "mild", True)
        # a total that disagrees with the items is refused; the agreeing one is fine
        with pytest.raises(ValueError, match="entered item by item.*12.*got 13"):
            c.set_self_report(sid, "post", sam_valence=6, gad7=13)
        c.set_self_report(sid, "post", sam_valence=7, gad7=12)
        # clearing an item: incomplete, no total
        c.set_questionnaire(sid, "post", "gad7", {7: None})
        assert c.self_reports(sid)["post"].gad7 is None
        assert session_measures(c, sid).result("post", "gad7").total is None  # type: ignore[union-attr]
        assert c.questionnaire_items(sid)["pre"]["phq9"] == PHQ_ITEM9


@pytest.mark.parametrize(
    ("answers", "message"),
    [
        ({1: 1, 2: 4}, r"GAD-7 item 2 \(Not being able to stop.*0 to 3; 4"),
        ({1: 1, 2: -1}, r"GAD-7 item 2 .*0 to 3; -1"),
        ({1: 1, 8: 0}, r"GAD-7 item number must be from 1 to 7; 8"),
        ({1: 1, 2: 1.5}, r"GAD-7 item 2 .*whole number"),
    ],
)
def test_one_bad_score_stores_nothing_of_the_call(
    tmp_path: Path, answers: dict[int, object], message: str
) -> None:
    with Catalog.open(tmp_path / "catalog.sqlite") as c:
        sid = _one_session(c)
        c.set_questionnaire(sid, "post", "gad7", {1: 2, 2: 2})
        n_audit = len(c.audit_log(limit=1000))
        with pytest.raises(ValueError, match=message):
            c.set_questionnaire(sid, "post", "gad7", answers)  # type: ignore[arg-type]
        assert c.questionnaire_items(sid) == {"post": {"gad7": {1: 2, 2: 2}}}
        assert len(c.audit_log(limit=1000)) == n_audit
        with pytest.raises(ValueError, match="phase must be 'pre' or 'post'"):
            c.set_questionnaire(sid, "during", "gad7", {1: 0})
        with pytest.raises(KeyError):
            c.set_questionnaire(sid + 99, "pre", "gad7", {1: 0})


def test_suds_ratings_stored_in_time_order_and_refused_out_of_range(tmp_path: Path) -> None:
    with Catalog.open(tmp_path / "catalog.sqlite") as c:
        sid = _one_session(c)
        late = c.add_suds(sid, 600.25, 40)
        early = c.add_suds(sid, 30.0, 85)
        assert [(r.t_s, r.rating) for r in c.list_suds(sid)] == [(30.0, 85), (600.25, 40)]
        for bad in (101, -5, 50.5):
            with pytest.raises(ValueError, match="SUDS must be"):
                c.add_suds(sid, 10.0, bad)  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="0 s or later"):
            c.add_suds(sid, -1.0, 10)
        with pytest.raises(ValueError, match="SUDS must be from 0 to 100; 101"):
            c.update_suds(early.id, 101)
        assert c.update_suds(early.id, 80).rating == 80 and c.list_suds(sid)[0].t_s == 30.0
        early = c.list_suds(sid)[0]
        assert c.delete_suds(early.id) == early
        assert c.list_suds(sid) == [late]
        with pytest.raises(sqlite3.IntegrityError):  # the schema refuses too
            c._conn.execute(
                "INSERT INTO suds_ratings (session_id, t_s, rating, created_at)"
                " VALUES (?, 1, 101, 'x')",
                (sid,),
            )
        detail = " ".join(e.detail for e in c.audit_log(limit=50) if e.entity == "suds")
        assert "85" not in detail  # ids and times only in the audit trail


def test_encrypted_catalog_record_files_sealed_and_rebuilt(root: Path) -> None:  # noqa: F811
    with Catalog.open(root / "catalog.sqlite") as c:
        assert c.is_encrypted
        sid = _one_session(c)
        rec = c.get_session(sid)
        patient = c.get_patient(rec.patient_id)  # type: ignore[union-attr]
        folder = root / rec.folder  # type: ignore[union-attr]
        folder.mkdir(parents=True)
        assert vault.seal_new_session(folder, root, rec.uid, patient.uuid)  # type: ignore[union-attr, arg-type]
        c.set_questionnaire(sid, "pre", "phq9", PHQ_ITEM9)
        c.set_questionnaire(sid, "post", "gad7", GAD_12)
        c.add_suds(sid, 42.5, 65)
        before = session_measures(c, sid)
    raw = (folder / "catalog.json").read_bytes()
    assert b"suds" not in raw and b"phq9" not in raw  # sealed by the vault
    facts = json.loads(vault.read_bytes(folder / "catalog.json"))
    assert facts["suds"][0]["rating"] == 65 and facts["questionnaires"]["pre"]["phq9"]["9"] == 1
    # the manifest a rebuild needs is written by a recording; this one has only its facts
    (root / "catalog.sqlite").rename(root / "old.sqlite")
    for p in root.glob("catalog.sqlite-*"):
        p.unlink()
    result = rebuild_catalog(root)
    assert (result.questionnaire_items, result.suds) == (16, 1)
    with Catalog.open(result.path) as c:
        s = c.list_sessions()[0]
        after = session_measures(c, s.id)
    assert after.questionnaires == before.questionnaires
    assert [(r.t_s, r.rating) for r in after.suds] == [(42.5, 65)]
