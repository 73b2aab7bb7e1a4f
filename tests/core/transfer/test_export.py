"""Export of one session (core.transfer.export): a CSV folder and an EDF+ file, from a real
(simulated) recording with lost samples and markers, read back by pandas, our EDF reader,
pyedflib and MNE.

One 20-s simulated session (2 % of the sensor's packets dropped, treatment markers at 6.667 s and
13.333 s, a note) is recorded once and copied for each test.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from app.demo.simulation import record_simulated
from core.analysis.physiology import session_physiology as report_physiology
from core.analysis.results import SessionEstimates, save_estimates
from core.analysis.review import record_review, review_of
from core.catalog import Catalog, SessionRecord
from core.config import Settings
from core.recording import open_session
from core.transfer import export
from core.transfer.export import (
    DEFAULT_OUTPUT_NAMES as OUTPUT_NAMES,
)
from core.transfer.export import (
    ESTIMATES_NAME,
    MANIFEST_NAME,
    MARKERS_NAME,
    NOT_LEARNED,
    PHYSIOLOGY_NAME,
    channel_resolution,
    export_session,
    marker_text,
    signals_file_name,
)

SMALL = Settings(camera_width=160, camera_height=120, camera_fps=10)
NAME = "Erika Mustermann"
NOTE = 'felt "dizzy", then calm'


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("recorded")
    cat = Catalog.open(root / "catalog.sqlite")
    p = cat.add_patient("P-0042", name=NAME)
    rec = record_simulated(
        cat, root, p.id, 20.0, settings=SMALL, virtual=True, with_markers=True, drop_prob=0.003
    )
    cat.add_marker(rec.id, 10.5, "note", NOTE)
    cat.close()
    return root


@pytest.fixture
def session(recorded: Path, tmp_path: Path):  # type: ignore[no-untyped-def]
    """(catalog, data root, session record) on a fresh copy of the recorded session."""
    root = tmp_path / "data"
    shutil.copytree(recorded, root)
    cat = Catalog.open(root / "catalog.sqlite")
    rec = cat.list_sessions()[0]
    yield cat, root, rec
    cat.close()


def hand_estimates(duration_s: float) -> SessionEstimates:
    """Frames every 0.25 s; a few without a face (NaN)."""
    t = np.arange(0.0, duration_s, 0.25)
    n = len(t)
    out = np.full((n, 10), 5.0, np.float32)
    out[:, 0] = np.where(t < duration_s / 2, 2.5, 7.5)
    out[:, 1] = np.where(t < duration_s / 2, 8.0, 3.0)
    out[:, 3:] = np.linspace(0, 1, 7, dtype=np.float32)
    no_face = np.zeros(n, bool)
    no_face[[3, 4, 40]] = True
    out[no_face] = np.nan
    info = {
        "checkpoint": {"label": "Test model", "demo": True, "sha256": "a" * 64},
        "inputs": "face + ECG + EDA",
        "device": "cpu: test",
        "counts": {"frames_analysed": n, "estimated": n - 3, "without_face": 3},
    }
    return SessionEstimates(
        t_s=t,
        frame=np.arange(n, dtype=np.int64) * 2,
        outputs=out,
        has_face=~no_face,
        bio_complete=np.ones(n, bool),
        info=info,  # type: ignore[arg-type]
    )


def analyse(cat: Catalog, root: Path, rec: SessionRecord) -> SessionEstimates:
    est = hand_estimates(20.0)
    save_estimates(root / rec.folder, est)
    review = review_of(cat, root, rec.id, SMALL)
    assert review is not None
    record_review(cat, review)
    return est


def all_bytes(path: Path) -> bytes:
    if path.is_file():
        return path.read_bytes()
    return b"".join(p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file())


def name_pieces() -> list[bytes]:
    return [x.encode() for x in (NAME, "Erika", "Mustermann")]


# ---------------------------------------------------------------------------------------------
# CSV


def test_csv_signals_read_back_equal_the_session(session, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    cat, root, rec = session
    out = tmp_path / "export"
    res = export_session(cat, root, rec.uid, "csv", out, settings=SMALL)
    data = open_session(root / rec.folder)
    ecg, eda = data.signal("ECG"), data.signal("EDA")
    name = signals_file_name(800.0)
    assert name == "signals_800Hz.csv"
    assert res.path == out and (out / name).is_file()
    raw = (out / name).read_text(encoding="utf-8")
    assert raw.splitlines()[0] == "time_s,ECG_mV,EDA_uS"
    assert "nan" not in raw.lower()
    df = pd.read_csv(out / name)
    assert len(df) == len(ecg.t_s)
    assert np.abs(df["time_s"].to_numpy() - ecg.t_s).max() <= 5e-7
    assert all(len(line.split(",")[0].split(".")[1]) == 6 for line in raw.splitlines()[1:50])
    for col, sig in (("ECG_mV", ecg), ("EDA_uS", eda)):
        back = df[col].to_numpy()
        lost = np.isnan(sig.values)
        assert lost.sum() > 0, "the fixture must lose samples"
        np.testing.assert_array_equal(np.isnan(back), lost)  # empty cell ↔ lost sample
        np.testing.assert_array_equal(back[~lost].astype(np.float32), sig.values[~lost])
    ch = {c.name: c for c in res.channels}
    assert ch["ECG"].samples == int((~np.isnan(ecg.values)).sum())
    assert ch["ECG"].lost == int(np.isnan(ecg.values).sum())
    assert ch["ECG"].file == name and ch["EDA"].column == "EDA_uS"
    assert res.samples == ch["ECG"].samples + ch["EDA"].samples
    assert res.format == "csv" and res.seconds > 0
    assert sorted(p.name for p in res.files) == sorted(
        [name, MARKERS_NAME, PHYSIOLOGY_NAME, MANIFEST_NAME]
    )
    assert not list(tmp_path.glob(".*partial"))


def test_markers_round_trip(session, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    cat, root, rec = session
    out = tmp_path / "export"
    res = export_session(cat, root, rec.uid, "csv", out, settings=SMALL)
    df = pd.read_csv(out / MARKERS_NAME, keep_default_na=False)
    markers = cat.list_markers(rec.id)
    assert res.markers == len(markers) == 3
    assert list(df.columns) == ["time_s", "kind", "label"]
    assert list(df["kind"]) == [m.kind for m in markers]
    assert list(df["label"]) == [m.label for m in markers]
    np.testing.assert_allclose(df["time_s"], [m.t_s for m in markers], atol=5e-7)
    texts = [marker_text(m) for m in markers]
    assert texts == ["treatment_start", f"note: {NOTE}", "treatment_end"]


def test_not_analysed_then_analysed(session, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    cat, root, rec = session
    res = export_session(cat, root, rec.uid, "csv", tmp_path / "a", settings=SMALL)
    assert not res.analysed and res.estimates == 0
    assert not (tmp_path / "a" / ESTIMATES_NAME).exists()
    assert any("Not analysed" in n for n in res.notes)
    doc = json.loads((tmp_path / "a" / MANIFEST_NAME).read_text(encoding="utf-8"))
    assert doc["analysed"] is False and doc["analysis"] is None

    est = analyse(cat, root, rec)
    res = export_session(cat, root, rec.uid, "csv", tmp_path / "b", settings=SMALL)
    assert res.analysed and res.estimates == len(est)
    df = pd.read_csv(tmp_path / "b" / ESTIMATES_NAME)
    assert len(df) == len(est)
    assert list(df.columns[:7]) == [
        "time_s",
        "frame",
        "valence",
        "arousal",
        "estimated",
        "has_face",
        "bio_complete",
    ]
    assert "valence_1to9" in df.columns and "sadness" in df.columns
    np.testing.assert_allclose(df["time_s"], est.t_s, atol=5e-7)
    np.testing.assert_array_equal(df["frame"], est.frame)
    np.testing.assert_allclose(df["valence"], est.valence, rtol=1e-6, equal_nan=True)
    np.testing.assert_allclose(df["arousal"], est.arousal, rtol=1e-6, equal_nan=True)
    np.testing.assert_array_equal(df["has_face"].astype(bool), est.has_face)
    np.testing.assert_array_equal(df["estimated"].astype(bool), est.estimated)
    assert int(df["valence"].isna().sum()) == 3
    doc = json.loads((tmp_path / "b" / MANIFEST_NAME).read_text(encoding="utf-8"))
    assert doc["analysis"]["frames_analysed"] == len(est) and doc["analysis"]["demo_model"]


def test_physiology_is_the_review_screens(session, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    cat, root, rec = session
    # a 12-s window before treatment: long enough for heart rate and EDA level (10 s of clean
    # signal), and a short one after it: nothing measured there
    marks = {m.kind: m for m in cat.list_markers(rec.id)}
    cat.update_marker(marks["treatment_start"].id, t_s=12.0)
    cat.update_marker(marks["treatment_end"].id, t_s=13.0)
    out = tmp_path / "export"
    export_session(cat, root, rec.uid, "csv", out, settings=SMALL)
    df = pd.read_csv(out / PHYSIOLOGY_NAME, keep_default_na=False)
    markers = cat.list_markers(rec.id)
    summary, _ = report_physiology(
        open_session(root / rec.folder), [(m.t_s, m.kind) for m in markers], SMALL.phase_minutes
    )
    assert list(df["window"]) == ["pre", "post"]
    assert list(df["label"]) == ["before treatment", "after treatment"]
    for i, m in enumerate(summary.metrics):
        for key in ("hr_bpm", "rmssd_ms", "eda_tonic_us", "scr_per_min"):
            want = getattr(m, key)
            cell = df[key][i]
            assert (cell == "") if want is None else float(cell) == pytest.approx(want, rel=1e-12)
        assert int(df["n_beats"][i]) == m.n_beats
        assert float(df["ecg_seconds_analysed"][i]) == pytest.approx(m.ecg_seconds_analysed)
    assert summary.pre.hr_bpm is not None and summary.pre.eda_tonic_us is not None
    assert summary.post.hr_bpm is None and df["hr_bpm"][1] == ""
    assert "ECG" in df["reasons"][1]


def test_session_json_describes_everything(session, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    cat, root, rec = session
    analyse(cat, root, rec)
    out = tmp_path / "export"
    export_session(cat, root, rec.uid, "csv", out, settings=SMALL)
    doc = json.loads((out / MANIFEST_NAME).read_text(encoding="utf-8"))
    s = doc["session"]
    assert s["uid"] == rec.uid and s["patient_code"] == "P-0042" and "patient_name" not in s
    assert s["simulated"] is True and "SIMULATED" in s["warning"]
    assert s["started_at_utc"] == rec.started_at
    assert s["duration_s"] == pytest.approx(20.0, abs=0.1)
    assert doc["source"]["kind"] == "recorded" and doc["source"]["simulated"] is True
    assert doc["therascope_version"]
    assert [(c["name"], c["unit"], c["rate_hz"]) for c in doc["channels"]] == [
        ("ECG", "mV", 800.0),
        ("EDA", "uS", 800.0),
    ]
    # every column of every CSV file is explained
    for csv_file in out.glob("*.csv"):
        header = pd.read_csv(csv_file, nrows=0).columns
        explained = doc["files"][csv_file.name]["columns"]
        assert set(header) <= set(explained), csv_file.name


def test_the_name_appears_only_when_asked(session, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    cat, root, rec = session
    analyse(cat, root, rec)
    export_session(cat, root, rec.uid, "csv", tmp_path / "csv", settings=SMALL)
    export_session(cat, root, rec.uid, "edf", tmp_path / "s.edf", settings=SMALL)
    for what in (tmp_path / "csv", tmp_path / "s.edf"):
        blob = all_bytes(what).lower()
        assert not any(piece.lower() in blob for piece in name_pieces()), what
    export_session(cat, root, rec.uid, "csv", tmp_path / "named", include_name=True, settings=SMALL)
    doc = json.loads((tmp_path / "named" / MANIFEST_NAME).read_text(encoding="utf-8"))
    assert doc["session"]["patient_name"] == NAME
    export_session(
        cat, root, rec.uid, "edf", tmp_path / "named.edf", include_name=True, settings=SMALL
    )
    assert b"Erika_Mustermann" in (tmp_path / "named.edf").read_bytes()[:256]
    # the audit trail: one row per export, the format, never the name
    rows = [a for a in cat.audit_log(entity="session", entity_id=rec.id) if a.action == "export"]
    assert sorted(a.detail for a in rows) == ["format=csv"] * 2 + ["format=edf"] * 2
    assert not any("erika" in a.detail.lower() or "muster" in a.detail.lower() for a in rows)


def test_a_non_empty_folder_is_refused_and_left_alone(session, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    cat, root, rec = session
    out = tmp_path / "busy"
    out.mkdir()
    (out / "mine.txt").write_text("keep me")
    with pytest.raises(FileExistsError, match="not empty"):
        export_session(cat, root, rec.uid, "csv", out, settings=SMALL)
    assert [p.name for p in out.iterdir()] == ["mine.txt"]
    assert (out / "mine.txt").read_text() == "keep me"
    (tmp_path / "a-file").write_text("x")
    with pytest.raises(FileExistsError, match="not a folder"):
        export_session(cat, root, rec.uid, "csv", tmp_path / "a-file", settings=SMALL)
    assert not [a for a in cat.audit_log() if a.action == "export"]
    # an empty folder is fine
    (tmp_path / "empty").mkdir()
    res = export_session(cat, root, rec.uid, "csv", tmp_path / "empty", settings=SMALL)
    assert (tmp_path / "empty" / MANIFEST_NAME).is_file() and res.path == tmp_path / "empty"


def test_a_failure_midway_leaves_nothing(session, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    cat, root, rec = session
    out = tmp_path / "exports" / "s1"

    def broken(*_args: object, **_kw: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(export, "_write_physiology", broken)
    with pytest.raises(OSError, match="No space"):
        export_session(cat, root, rec.uid, "csv", out, settings=SMALL)
    assert list((tmp_path / "exports").iterdir()) == []
    assert not [a for a in cat.audit_log() if a.action == "export"]


def test_unknown_session_format_and_a_folder_for_edf(session, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    cat, root, rec = session
    with pytest.raises(KeyError):
        export_session(cat, root, "no-such-uid", "csv", tmp_path / "x", settings=SMALL)
    with pytest.raises(ValueError, match="format"):
        export_session(cat, root, rec.uid, "xlsx", tmp_path / "x", settings=SMALL)
    (tmp_path / "d").mkdir()
    with pytest.raises(IsADirectoryError):
        export_session(cat, root, rec.uid, "edf", tmp_path / "d", settings=SMALL)


def test_resolution_from_the_description() -> None:
    manifest = {
        "streams": [{"name": "bio", "channels": ["ECG", "EDA"], "resolutions": [0.002, 0.01]}],
        "devices": {"import": {"resolution": {"EDA": 0.005}}},
    }
    assert channel_resolution(manifest, "bio", "ECG") == 0.002
    assert channel_resolution(manifest, "bio", "EDA") == 0.005  # the import's first
    assert channel_resolution({"streams": [{"name": "bio", "resolution": 0.1}]}, "bio", "X") == 0.1
    assert (
        channel_resolution({"streams": [{"name": "bio", "channels": ["ECG"]}]}, "bio", "ECG")
        is None
    )


# ---------------------------------------------------------------------------------------------
# EDF


def test_edf_read_back_within_one_step(session, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from core.formats.edf import read_edf

    cat, root, rec = session
    out = tmp_path / "session.edf"
    res = export_session(cat, root, rec.uid, "edf", out, settings=SMALL)
    assert res.format.startswith(("EDF+", "BDF+")) and res.files == [out]
    data = open_session(root / rec.folder)
    back = read_edf(out)
    t_first = min(data.signal(c).t_s[0] for c in ("ECG", "EDA"))
    for exp in res.channels:
        sig = data.signal(exp.name)
        got = back.channel(exp.name)
        assert exp.step is not None and exp.step > 0
        assert exp.resolution is None and exp.step_ok is None  # the simulated sensor says none
        assert got.unit == sig.unit and got.rate_hz == sig.rate_hz
        ok = np.flatnonzero(~np.isnan(sig.values))
        shift = round((sig.t_s[0] - t_first) * sig.rate_hz)
        np.testing.assert_array_equal(got.sample_index - shift, ok)  # lost samples stay lost
        err = np.abs(got.values - sig.values[ok].astype(np.float64))
        assert err.max() <= exp.step * 0.5 + 1e-9
        assert exp.samples == len(ok)
    assert back.start is not None
    local = dt_local(rec.started_at) + dt.timedelta(seconds=t_first)
    assert abs((back.start - local).total_seconds()) < 1e-3
    markers = cat.list_markers(rec.id)
    texts = [(round(a.onset_s, 3), a.text) for a in back.annotations]
    assert texts == [(round(m.t_s - t_first, 3), marker_text(m)) for m in markers]
    assert res.markers == 3
    assert f"TheraScope {rec.uid} simulated".encode() in out.read_bytes()[:256]
    audit = cat.audit_log(entity="session", entity_id=rec.id)
    assert audit[0].action == "export" and audit[0].detail == "format=edf"


def test_edf_read_by_pyedflib_and_mne(session, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    pyedflib = pytest.importorskip("pyedflib")
    mne = pytest.importorskip("mne")
    cat, root, rec = session
    out = tmp_path / "session.edf"
    res = export_session(cat, root, rec.uid, "edf", out, settings=SMALL)
    data = open_session(root / rec.folder)
    steps = {c.name: float(c.step or 0.0) for c in res.channels}
    with pyedflib.EdfReader(str(out)) as f:
        labels = f.getSignalLabels()
        assert labels == ["ECG", "EDA"]
        for i, name in enumerate(labels):
            sig = data.signal(name)
            assert f.getPhysicalDimension(i) == sig.unit
            assert f.getSampleFrequency(i) == sig.rate_hz
            x = f.readSignal(i)
            ok = ~np.isnan(sig.values)
            n = min(len(x), len(sig.values))
            # lost samples hold a repeated value in the file; the rest are the session's
            good = ok[:n]
            err = np.abs(x[:n][good] - sig.values[:n][good])
            assert err.max() <= steps[name] * 0.5 + 1e-9
        onsets, _durations, texts = f.readAnnotations()
    markers = cat.list_markers(rec.id)
    ours = [t for t in texts if not t.startswith("TheraScope: lost samples")]
    assert ours == [marker_text(m) for m in markers]
    raw = mne.io.read_raw_edf(out, preload=True, verbose="error")
    assert raw.ch_names == ["ECG", "EDA"] and raw.info["sfreq"] == 800.0
    described = [d for d in raw.annotations.description if not d.startswith("TheraScope: lost")]
    assert described == [marker_text(m) for m in markers]


def dt_local(iso: str) -> dt.datetime:
    t = dt.datetime.fromisoformat(iso)
    return t.astimezone().replace(tzinfo=None)


def test_an_exported_edf_imported_again_exports_the_same(session, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """EDF out, import (core.transfer.importer), CSV out: the same samples, the source says
    imported, and the file's resolution is kept (the re-exported EDF's step is within it)."""
    from core.transfer.importer import import_session, plan_import

    cat, root, rec = session
    export_session(cat, root, rec.uid, "edf", tmp_path / "a.edf", settings=SMALL)
    again = import_session(cat, root, rec.patient_id, plan_import(tmp_path / "a.edf"), consent=True)
    res = export_session(cat, root, again.uid, "csv", tmp_path / "b", settings=SMALL)
    doc = json.loads((tmp_path / "b" / MANIFEST_NAME).read_text(encoding="utf-8"))
    assert doc["source"]["kind"] == "imported" and doc["session"]["simulated"] is False
    # the markers come back with their kinds and labels, at their times
    before = [(m.kind, m.label, m.t_s) for m in cat.list_markers(rec.id)]
    after = [(m.kind, m.label, m.t_s) for m in cat.list_markers(again.id)]
    assert [(k, lab) for k, lab, _ in after] == [(k, lab) for k, lab, _ in before]
    t_shift = after[0][2] - before[0][2]  # EDF time 0 is the first sample
    assert [t for *_, t in after] == pytest.approx([t + t_shift for *_, t in before], abs=1e-3)
    first = open_session(root / rec.folder).signal("ECG")
    df = pd.read_csv(tmp_path / "b" / signals_file_name(800.0))
    np.testing.assert_array_equal(np.isnan(df["ECG_mV"].to_numpy()), np.isnan(first.values))
    assert all(c.resolution is not None for c in res.channels)
    res = export_session(cat, root, again.uid, "edf", tmp_path / "c.edf", settings=SMALL)
    assert all(c.step_ok for c in res.channels)


@pytest.mark.parametrize(
    ("learned", "empty"),
    [
        (None, ["liking_1to9", *OUTPUT_NAMES[3:]]),  # an older analysis: valence and arousal
        (["valence", "arousal"], ["liking_1to9", *OUTPUT_NAMES[3:]]),  # the demo model
        (["valence", "arousal", "liking", "fear"], [n for n in OUTPUT_NAMES[3:] if n != "fear"]),
    ],
)
def test_outputs_the_model_did_not_learn_are_empty_columns(  # type: ignore[no-untyped-def]
    session, tmp_path: Path, learned: list[str] | None, empty: list[str]
) -> None:
    cat, root, rec = session
    est = hand_estimates(20.0)
    if learned is not None:
        est.info["checkpoint"]["outputs_trained"] = learned  # type: ignore[typeddict-item]
        est.info["checkpoint"]["outputs_basis"] = "as its checkpoint records"  # type: ignore[typeddict-item]
    save_estimates(root / rec.folder, est)
    out = tmp_path / "export"
    export_session(cat, root, rec.uid, "csv", out, settings=SMALL)
    df = pd.read_csv(out / ESTIMATES_NAME)
    columns = ["valence_1to9", "arousal_1to9", "liking_1to9", *OUTPUT_NAMES[3:]]
    assert list(df.columns[7:]) == columns  # the same columns whatever the model learned
    for col in columns:
        if col in empty:
            assert df[col].isna().all(), col  # NaN in pandas, never a number
        else:
            assert df[col].notna().sum() == len(est) - 3, col
    for col in ("valence", "arousal", "valence_1to9", "arousal_1to9"):
        assert df[col].dtype == np.float64 and df[col].notna().sum() == len(est) - 3
    doc = json.loads((out / MANIFEST_NAME).read_text(encoding="utf-8"))
    words = doc["files"][ESTIMATES_NAME]["columns"]
    for col in columns:
        assert (words[col] == NOT_LEARNED) == (col in empty), col
    assert doc["analysis"]["outputs_not_estimated"] == empty
    assert doc["analysis"]["outputs_learned"] == (learned or ["valence", "arousal"])
