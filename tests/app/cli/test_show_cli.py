"""``therascope show UID [--json]``: what the review screen shows, headless and field by field
from the catalog, the report's physiology and the review; ``analyse --every-frame``."""

from __future__ import annotations

import json
import math
import re

import pytest

from app.cli.main import main
from core.analysis.results import load_estimates
from core.catalog import Catalog
from core.config import Settings, data_dir
from core.quality.session import quality_summary
from core.report.session import report_data_for
from tests.app.review_data import make_analysed, record_short


def _no_nan(text: str) -> object:
    raise AssertionError(f"not strict JSON: {text}")


def show_json(capsys, uid: str) -> dict:  # type: ignore[no-untyped-def]
    capsys.readouterr()
    assert main(["show", uid, "--json"]) == 0
    return json.loads(capsys.readouterr().out, parse_constant=_no_nan)


def show_text(capsys, uid: str) -> str:  # type: ignore[no-untyped-def]
    capsys.readouterr()
    assert main(["show", uid]) == 0
    return capsys.readouterr().out


@pytest.fixture
def cat(app_env):  # type: ignore[no-untyped-def]
    c = Catalog.open(data_dir() / "catalog.sqlite")
    yield c
    c.close()


def test_show_a_recorded_session(cat, capsys) -> None:  # type: ignore[no-untyped-def]
    root = data_dir()
    p = cat.add_patient("S-1")
    rec = record_short(cat, root, p.id, 36.0)
    cat.add_marker(rec.id, 12.0, "treatment_start")
    cat.add_marker(rec.id, 24.0, "treatment_end", "after exposure")
    cat.set_self_report(rec.id, "pre", sam_valence=3, sam_arousal=7, gad7=12)
    rec = cat.get_session(rec.id)
    d = show_json(capsys, rec.uid)

    s = d["session"]
    assert s["uid"] == rec.uid and s["patient_code"] == "S-1" and s["status"] == rec.status
    assert s["simulated"] is True and s["duration_s"] == pytest.approx(rec.duration_s)
    assert s["started_at"] == rec.started_at and s["started_at_utc"].endswith(" UTC")
    assert s["duration"] == "0:36"
    assert {x["name"] for x in s["devices"]} == {
        dev["name"] for dev in rec.devices.values() if isinstance(dev, dict)
    }
    q = quality_summary(root / rec.folder)
    assert d["quality"]["verdict"] == q["verdict"] and d["quality"]["reasons"] == q["reasons"]
    assert d["quality"]["frames_stored"] == q["video"]["frames_stored"] > 0

    phys = report_data_for(cat, root, rec.id, settings=Settings.load()).physiology
    assert [w["label"] for w in d["physiology"]["windows"]] == [
        "before treatment",
        "after treatment",
    ]
    for got, w, m in zip(d["physiology"]["windows"], phys.windows, phys.metrics, strict=True):
        assert (got["start_s"], got["end_s"]) == (w.start_s, w.end_s)
        for key in ("hr_bpm", "rmssd_ms", "eda_tonic_us", "scr_per_min"):
            assert got[key] == (None if getattr(m, key) is None else pytest.approx(getattr(m, key)))
        assert got["n_beats"] == m.n_beats > 0
        assert got["ecg_seconds_analysed"] == pytest.approx(m.ecg_seconds_analysed)
        assert got["eda_seconds_analysed"] == pytest.approx(m.eda_seconds_analysed)
        assert got["hr_bpm"] is not None and 40 < got["hr_bpm"] < 160
    assert d["physiology"]["change"] == {
        k: (None if v is None else pytest.approx(v)) for k, v in phys.change.items()
    }

    assert d["analysed"] is False and d["analysis"] is None
    assert [(m["time"], m["kind"], m["label"]) for m in d["markers"]] == [
        ("0:12", "treatment_start", ""),
        ("0:24", "treatment_end", "after exposure"),
    ]
    assert d["self_reports"] == {"pre": {"sam_valence": 3, "sam_arousal": 7, "gad7": 12}}

    text = show_text(capsys, rec.uid)
    assert "Analysis: not analysed" in text
    assert "Patient    S-1" in text and "Duration   0:36" in text
    assert f"({s['started_at_utc']})" in text
    assert "Before treatment (0:00–0:12)" in text and "After treatment (0:24–0:36)" in text
    assert "Heart rate (bpm)" in text and f"{phys.pre.hr_bpm:.1f}" in text
    assert "0:24  treatment end  after exposure" in text
    assert "pre   SAM valence 3, arousal 7 (1–9); GAD-7 12" in text
    assert not re.search(r"\d+\.\d+ min", text)  # no decimal minutes


def test_show_an_analysed_session(cat, capsys) -> None:  # type: ignore[no-untyped-def]
    root = data_dir()
    p = cat.add_patient("A-1")
    rec, review = make_analysed(cat, root, p.id)
    d = show_json(capsys, rec.uid)
    a = d["analysis"]
    assert d["analysed"] is True
    info = review.estimates.info
    counts = info["counts"]
    assert a["frames"] == {
        "stored": counts["frames_stored"],
        "analysed": counts["frames_analysed"],
        "with_face": counts["frames_analysed"] - counts["without_face"],
        "estimated": counts["estimated"],
        "without_face": counts["without_face"],
        "bio_incomplete": 0,
        "unreadable": 0,
    }
    ck = review.checkpoint
    assert a["checkpoint"]["label"] == ck["label"] and a["checkpoint"]["sha256"] == ck["sha256"]
    assert a["checkpoint"]["demo"] is True and a["demo_model"] is True
    assert a["device"] == info["device"]
    for got, ph in zip(a["windows"], (review.circumplex.pre, review.circumplex.post), strict=True):
        assert got["label"] == ph.label and got["quadrant"] == ph.quadrant
        for key in ("mean_valence", "mean_arousal", "sd_valence", "sd_arousal"):
            assert got[key] == pytest.approx(getattr(ph, key))
        assert {int(k): v for k, v in got["shares"].items()} == pytest.approx(ph.shares)
        assert (got["n_frames"], got["n_estimated"]) == (ph.n_frames, ph.n_estimated)
    assert [w["quadrant_words"] for w in a["windows"]] == [
        "Q2 stressed/anxious",
        "Q4 calm/relaxed",
    ]
    # 20 s session: windows too short for physiology, said with the reason, as null in JSON
    pre = d["physiology"]["windows"][0]
    assert pre["hr_bpm"] is None and "less than" in pre["reasons"]["hr_bpm"]

    text = show_text(capsys, rec.uid)
    assert "not analysed" not in text
    assert "DEMO MODEL, not clinically valid" in text
    assert f"{counts['frames_analysed']} analysed" in text
    assert f"{counts['estimated']} estimated" in text
    assert "quadrant of the mean: Q2 LVHA (stressed/anxious)" in text
    assert "time per quadrant: Q2 stressed/anxious" in text
    assert "time per quadrant: Q4 calm/relaxed" in text
    pre_s = review.circumplex.pre
    assert f"valence {pre_s.mean_valence:+.2f} ± {pre_s.sd_valence:.2f}" in text
    assert "— Heart rate, " in text and "less than" in text
    assert not re.search(r"\d+\.\d+ min", text)
    assert "nan" not in text.lower().replace("nancy", "")


def test_show_an_unknown_session(app_env, capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["show", "no-such-uid", "--json"]) == 2
    out = capsys.readouterr()
    assert out.out == "" and len(out.err.strip().splitlines()) == 1 and "no-such-uid" in out.err


def test_analyse_every_frame(cat, capsys) -> None:  # type: ignore[no-untyped-def]
    root = data_dir()
    p = cat.add_patient("E-1")
    rec = record_short(cat, root, p.id, 4.0)
    assert main(["analyse", rec.uid, "--device", "cpu", "--fps", "1"]) == 0
    info = load_estimates(root / rec.folder).info
    stored = info["counts"]["frames_stored"]
    assert stored >= 30 and info["counts"]["frames_analysed"] <= 5 and info["frames_per_s"] == 1

    assert main(["analyse", rec.uid, "--device", "cpu", "--fps", "1", "--every-frame"]) == 0
    latest = cat.latest_analysis(rec.id)
    info = load_estimates(root / rec.folder, latest.result_dir).info
    assert info["counts"]["frames_analysed"] == info["counts"]["frames_stored"] == stored
    assert info["frames_per_s"] is None and info["spans"] is None
    d = show_json(capsys, rec.uid)
    assert d["analysis"]["frames"]["analysed"] == stored
    assert d["analysis"]["frames_per_s"] is None
    assert "(every stored frame)" in show_text(capsys, rec.uid)
    assert not math.isnan(d["session"]["duration_s"])


def test_analyse_with_the_mtcnn_detector_records_it(app_env, capsys) -> None:
    import json as _json

    from app.cli.main import main as cli

    assert cli(["patients", "add", "DET-1"]) == 0
    args = ["record", "--patient", "DET-1", "--simulate", "--virtual", "--consent", "--quiet"]
    assert cli([*args, "--duration", "3"]) == 0
    uid = capsys.readouterr().out.strip().splitlines()[-1]
    assert cli(["analyse", uid, "--detector", "mtcnn", "--fps", "2"]) == 0
    capsys.readouterr()
    assert cli(["show", uid, "--json"]) == 0
    shown = _json.loads(capsys.readouterr().out)
    assert shown["analysis"]["detector"]["detector"]["detector"] == "mtcnn"
    assert cli(["show", uid]) == 0
    assert "Detector   mtcnn" in capsys.readouterr().out


def test_analysis_uses_the_detector_the_model_was_trained_with(app_env, capsys) -> None:
    """Without a choice the analysis makes crops as the model's training did (MTCNN for the demo
    model, recorded in its checkpoint); a different choice is said beside the estimates."""
    import json as _json

    from app.cli.main import main as cli

    assert cli(["patients", "add", "DET-2"]) == 0
    args = ["record", "--patient", "DET-2", "--simulate", "--virtual", "--consent", "--quiet"]
    assert cli([*args, "--duration", "3"]) == 0
    uid = capsys.readouterr().out.strip().splitlines()[-1]
    assert cli(["analyse", uid, "--fps", "2"]) == 0
    capsys.readouterr()
    assert cli(["show", uid, "--json"]) == 0
    shown = _json.loads(capsys.readouterr().out)["analysis"]
    assert shown["detector"]["detector"]["detector"] == "mtcnn"
    assert shown["detector_note"] == "mtcnn (as the model was trained)"
    assert cli(["analyse", uid, "--fps", "2", "--detector", "haar"]) == 0
    capsys.readouterr()
    assert cli(["show", uid]) == 0
    assert "haar (the model was trained on mtcnn crops" in capsys.readouterr().out


def test_show_is_audited_as_an_open_by_the_account(cat, capsys) -> None:  # type: ignore[no-untyped-def]
    rec = record_short(cat, data_dir(), cat.add_patient("S-9").id, 2.0)
    show_text(capsys, rec.uid)
    opens = [
        (e.entity_id, e.detail, e.account) for e in cat.audit_log(limit=5) if e.action == "open"
    ]
    assert opens == [(rec.id, "show", "tester")]


def test_show_lists_questionnaires_item_by_item_and_suds(cat, capsys) -> None:  # type: ignore[no-untyped-def]
    """Issue 19: GAD-7 and PHQ-9 item by item (total, band, 'total only', incomplete, PHQ-9
    item 9 flagged) and the SUDS ratings with their times, in the JSON and the text."""
    p = cat.add_patient("S-Q")
    rec = record_short(cat, data_dir(), p.id, 20.0)
    cat.set_questionnaire(rec.id, "pre", "gad7", {i: 2 for i in range(1, 8)})  # 14: moderate
    cat.set_questionnaire(rec.id, "pre", "phq9", {**{i: 1 for i in range(1, 9)}, 9: 2})  # 10
    cat.set_questionnaire(rec.id, "post", "phq9", {1: 0, 2: 1})  # incomplete
    cat.set_self_report(rec.id, "post", gad7=4)  # a total alone
    cat.add_suds(rec.id, 75.25, 40)
    cat.add_suds(rec.id, 5.0, 80)

    m = show_json(capsys, rec.uid)["measures"]
    gad = m["questionnaires"]["pre"]["gad7"]
    assert (gad["total"], gad["max_total"], gad["band"], gad["source"]) == (
        14,
        21,
        "moderate",
        "items",
    )
    assert [it["score"] for it in gad["items"]] == [2] * 7
    assert gad["items"][0]["label"] == "Feeling nervous, anxious, or on edge"
    assert gad["items"][0]["answer"] == "More than half the days"
    assert gad["flagged"] is False and gad["flag"] is None
    phq = m["questionnaires"]["pre"]["phq9"]
    assert (phq["total"], phq["band"], phq["flagged"]) == (10, "moderate", True)
    assert phq["items"][8]["score"] == 2 and phq["items"][8]["flagged_item"] is True
    assert phq["flag"].startswith("PHQ-9 item 9 answered above 0")
    assert m["flagged"] == [{"phase": "pre", "instrument": "phq9", "warning": phq["flag"]}]
    post = m["questionnaires"]["post"]
    assert post["gad7"]["source"] == "total only" and post["gad7"]["total"] == 4
    assert post["gad7"]["band"] == "minimal" and post["gad7"]["items"] == []
    inc = post["phq9"]
    assert (inc["source"], inc["total"], inc["answered"], inc["n_items"]) == (
        "incomplete",
        None,
        2,
        9,
    )
    assert [it["score"] for it in inc["items"]] == [0, 1, *[None] * 7]
    assert m["suds"] == [
        {"t_s": 5.0, "time": "0:05", "rating": 80},
        {"t_s": 75.25, "time": "1:15", "rating": 40},
    ]

    text = show_text(capsys, rec.uid)
    lines = text.splitlines()
    assert "  GAD-7 before (pre): total 14 of 21 (moderate)" in lines
    assert "  PHQ-9 before (pre): total 10 of 27 (moderate)" in lines
    assert "  GAD-7 after (post): total 4 of 21 (minimal) — total only, no items entered" in lines
    assert "  PHQ-9 after (post): incomplete, 2 of 9 items answered, no total" in lines
    assert any(
        ln.startswith("     9. ") and ln.endswith("2 (More than half the days)  !!") for ln in lines
    )
    assert any(ln.strip().startswith("!! PHQ-9 item 9 answered above 0") for ln in lines)
    assert sum("not answered" in ln for ln in lines) == 7
    i = lines.index("SUDS ratings (0–100)")
    assert lines[i + 1 : i + 3] == ["     0:05  80", "     1:15  40"]
    # GAD-7 items begun after the total alone: the total stays, the items so far are listed
    cat.set_questionnaire(rec.id, "post", "gad7", {1: 1})
    lines = show_text(capsys, rec.uid).splitlines()
    assert (
        "  GAD-7 after (post): total 4 of 21 (minimal) — total only, items being entered "
        "(1 of 7)" in lines
    )
    assert any(
        ln.startswith("     1. Feeling nervous") and ln.endswith("1 (Several days)") for ln in lines
    )

    bare = cat.add_patient("S-R")
    rec2 = record_short(cat, data_dir(), bare.id, 20.0)
    assert show_json(capsys, rec2.uid)["measures"] == {
        "questionnaires": {},
        "flagged": [],
        "suds": [],
    }
    lines = show_text(capsys, rec2.uid).splitlines()
    assert "Questionnaires: none entered" in lines and "SUDS ratings (0–100): none" in lines
