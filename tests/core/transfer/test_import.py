"""Importing other tools' recordings: what the plan finds, what the session holds, what is
refused, and that a refused or failed import leaves nothing behind."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from core.catalog import Catalog
from core.formats.edf import write_edf
from core.formats.model import Annotation, Channel
from core.formats.xdf import write_xdf
from core.recording.cleanup import IMPORT_LOCK_NAME, WriteLock, clean_session_folders
from core.recording.reader import open_session, verify_session
from core.transfer import importer
from core.transfer.importer import ImportRefused, import_session, plan_import
from tests.core.transfer.recordings import (
    simulated_signals,
    write_bitalino_text,
    write_face_video,
)


@pytest.fixture
def cat(tmp_path: Path) -> Iterator[Catalog]:
    c = Catalog.open(tmp_path / "data" / "catalog.sqlite")
    yield c
    c.close()


@pytest.fixture(scope="module")
def bitalino(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, np.ndarray]:
    """40 s of simulated ECG + EDA as a BITalino text file (10 rows lost: BITalino's 4-bit
    sequence number shows runs shorter than 16) and 30 s of face."""
    d = tmp_path_factory.mktemp("foreign")
    sig = simulated_signals(40.0, 1000.0)
    txt = write_bitalino_text(d / "bitalino.txt", sig, drop=slice(5000, 5010))
    mp4 = write_face_video(d / "face.mp4", 30.0, fps=10.0)
    return txt, mp4, sig


def _root(cat: Catalog) -> Path:
    return cat.path.parent


def _nothing_left(cat: Catalog) -> None:
    sessions = _root(cat) / "sessions"
    assert not sessions.exists() or list(sessions.iterdir()) == []
    assert cat.list_sessions() == []


def test_bitalino_text_with_video_becomes_a_session_like_a_recorded_one(
    cat: Catalog, bitalino: tuple[Path, Path, np.ndarray]
) -> None:
    txt, mp4, sig = bitalino
    plan = plan_import(txt, mp4, offset_s=4.0)
    roles = {r["role"]: r for r in plan.channel_rows() if r["role"]}
    assert roles["ECG"]["label"] == "A1" and roles["EDA"]["label"] == "A2"
    assert roles["ECG"]["lost"] == 10 and roles["ECG"]["rate_hz"] == 1000.0
    assert plan.video is not None and plan.video.frames == 300
    assert plan.video_span_s == pytest.approx((4.0, 34.0), abs=0.01)
    text = "\n".join(plan.summary_lines())
    assert "10 samples lost" in text and "offset +4.00 s" in text

    p = cat.add_patient("IMP-1", name="Ida Import")
    rec = import_session(cat, _root(cat), p.id, plan, consent=True, consent_note="signed")
    assert rec.status == "finalised" and rec.origin == "imported" and not rec.simulated
    assert rec.started_at.startswith("2024-03-07")  # the file's start, not the import's
    src = rec.devices["import"]
    assert [f["name"] for f in src["files"]] == ["bitalino.txt", "face.mp4"]
    assert src["files"][0]["format"] == "OpenSignals text"
    import hashlib

    assert src["files"][0]["sha256"] == hashlib.sha256(txt.read_bytes()).hexdigest()
    assert [e.action for e in cat.audit_log(entity="session", entity_id=rec.id)][-1] == "create"
    actions = {e.action for e in cat.audit_log(entity="session", entity_id=rec.id)}
    assert {"create", "import", "finalise"} <= actions

    folder = _root(cat) / rec.folder
    data = open_session(folder)
    assert data.channels() == ["ECG", "EDA"]
    ecg, eda = data.signal("ECG"), data.signal("EDA")
    assert ecg.rate_hz == 1000.0 and len(ecg.values) == 40_000
    lost = np.isnan(ecg.values)
    assert lost.sum() == 10 and lost[5000:5010].all()
    # values back within one ADC step of the truth (10-bit through the transfer functions)
    ok = ~lost
    step_ecg = 3.3 / 1100 / 1024 * 1000
    step_eda = 3.3 / 0.132 / 1024
    assert np.max(np.abs(ecg.values[ok] - sig[ok, 0])) <= step_ecg
    assert np.max(np.abs(eda.values[ok] - sig[ok, 1])) <= step_eda
    assert ecg.t_s[1] - ecg.t_s[0] == pytest.approx(0.001)
    frames = data.frame_times_s()
    assert len(frames) == 300 and frames[0] == pytest.approx(4.0)
    assert np.diff(frames) == pytest.approx(np.full(299, 0.1))
    assert rec.quality["streams"]["bio"]["lost"] == 10
    assert rec.quality["streams"]["bio"]["drift_ppm"] is None  # no radio, no host clock
    video = data.video()
    assert video is not None
    with video:
        assert video.read(17).shape == (240, 320, 3)
    checked = verify_session(folder)["integrity"]
    assert checked["state"] == "verified", checked
    assert {f["file"] for f in checked["files"]} >= {"video/source.mp4", "video/source.idx"}
    # the original video is kept byte for byte beside its frame index
    assert (folder / "video" / "source.mp4").read_bytes() == mp4.read_bytes()
    assert not (folder / IMPORT_LOCK_NAME).exists()


def test_xdf_streams_at_their_own_rates_with_markers(cat: Catalog, tmp_path: Path) -> None:
    sig = simulated_signals(45.0, 500.0)
    t = 1000.0 + np.arange(len(sig)) / 500.0
    eda_t = 1000.2 + np.arange(0, 44.0, 1 / 16.0)
    eda = np.interp(eda_t - 1000.0, t - 1000.0, sig[:, 1])
    path = tmp_path / "lab.xdf"
    write_xdf(
        path,
        [
            {
                "name": "BioAmp",
                "type": "ECG",
                "channel_format": "float32",
                "nominal_srate": 500.0,
                "labels": ["ECG"],
                "units": ["microvolts"],
                "timestamps": t,
                "values": sig[:, :1] * 1000.0,
                "clock_offsets": [(1000.0, 0.5), (1045.0, 0.5)],
            },
            {
                "name": "Shimmer",
                "type": "GSR",
                "channel_format": "double64",
                "nominal_srate": 16.0,
                "labels": ["GSR"],
                "units": ["microsiemens"],
                "timestamps": eda_t,
                "values": eda[:, None],
                "clock_offsets": [(1000.0, 0.5), (1045.0, 0.5)],
            },
            {
                "name": "Markers",
                "type": "Markers",
                "channel_format": "string",
                "nominal_srate": 0.0,
                "labels": ["Marker"],
                "units": [""],
                "timestamps": np.array([999.0, 1005.0, 1020.0]),
                "values": ["recording started", "exposure start", "exposure end"],
                "clock_offsets": [(1000.0, 0.5)],
            },
        ],
    )
    plan = plan_import(path)
    assert plan.ecg is not None and plan.eda is not None and plan.eda.rate_hz == 16.0
    p = cat.add_patient("IMP-2")
    rec = import_session(cat, _root(cat), p.id, plan, consent=True)
    data = open_session(_root(cat) / rec.folder)
    assert sorted(data.streams) == ["ecg", "eda"]  # two rates, two streams
    ecg, e = data.signal("ECG"), data.signal("EDA")
    assert ecg.rate_hz == 500.0 and e.rate_hz == 16.0
    assert np.nanmax(np.abs(ecg.values - sig[:, 0])) < 1e-4  # µV → mV
    assert e.t_s[0] - ecg.t_s[0] == pytest.approx(0.2, abs=1e-3)
    assert any("1 annotation(s) come before the first signal sample" in w for w in plan.warnings)
    marks = [(round(m.t_s, 3), m.kind, m.label) for m in cat.list_markers(rec.id)]
    assert marks == [
        (0.0, "note", "recording started"),
        (5.0, "note", "exposure start"),
        (20.0, "note", "exposure end"),
    ]
    # the physiology reads each signal at its own rate (EDA at 16 Hz beside ECG at 500 Hz)
    from core.analysis.physiology import session_physiology

    summary, series = session_physiology(data, [], 15.0)
    for w, m in zip(summary.windows, summary.metrics, strict=True):
        a, b = int(w.start_s * 500), int(w.end_s * 500)
        assert m.eda_tonic_us == pytest.approx(float(np.mean(sig[a:b, 1])), abs=0.5)
    assert series["eda_t"] is not None and series["eda_t"][-1] <= 45.0


def test_edf_plus_d_gaps_stay_lost_and_annotations_become_markers(
    cat: Catalog, tmp_path: Path
) -> None:
    sig = simulated_signals(20.0, 256.0)
    keep = np.ones(len(sig), bool)
    keep[256 * 5 : 256 * 8] = False  # three whole records never written (EDF+D)
    idx = np.flatnonzero(keep)
    chans = [
        Channel("ECG", "ecg", "mV", 256.0, sig[keep, 0], idx, resolution=1e-3),
        Channel("EDA", "eda", "uS", 256.0, sig[keep, 1], idx, resolution=1e-3),
    ]
    path = tmp_path / "hospital.edf"
    info = write_edf(
        path, chans, [Annotation(2.5, 0.0, "Stimulus")], start=dt.datetime(2025, 1, 2, 9, 30)
    )
    assert info["format"] == "EDF+D"
    plan = plan_import(path)
    p = cat.add_patient("IMP-3")
    rec = import_session(cat, _root(cat), p.id, plan, consent=True)
    assert rec.quality["streams"]["bio"]["lost"] == 256 * 3
    assert [(m.t_s, m.label) for m in cat.list_markers(rec.id)] == [(2.5, "Stimulus")]
    assert rec.devices["import"]["files"][0]["format"] == "EDF+D"


def test_slow_ecg_is_imported_with_a_warning_and_refused_by_the_model(
    cat: Catalog, tmp_path: Path
) -> None:
    from core.analysis.engine import AnalysisError, analyse_session
    from core.learning.demo_model import SHIPPED

    sig = simulated_signals(20.0, 100.0)
    n = len(sig)
    path = tmp_path / "holter.edf"
    chans = [
        Channel("ECG", "ecg", "mV", 100.0, sig[:, 0], np.arange(n)),
        Channel("EDA", "eda", "uS", 100.0, sig[:, 1], np.arange(n)),
    ]
    write_edf(path, chans, [], start=dt.datetime(2025, 1, 2, 9, 30))
    mp4 = write_face_video(tmp_path / "f.mp4", 5.0, fps=5.0)
    plan = plan_import(path, mp4)
    assert any("100 Hz, below the 128 Hz" in w for w in plan.warnings)
    p = cat.add_patient("IMP-4")
    rec = import_session(cat, _root(cat), p.id, plan, consent=True)
    with pytest.raises(AnalysisError, match="ECG is sampled at 100 Hz, below the 128 Hz"):
        analyse_session(_root(cat) / rec.folder, SHIPPED, save=False)


def test_refusals_say_why_and_leave_nothing(
    cat: Catalog, tmp_path: Path, bitalino: tuple[Path, Path, np.ndarray]
) -> None:
    txt, mp4, _ = bitalino
    raw = tmp_path / "raw.edf"
    n = 2560
    write_edf(
        raw,
        [
            Channel("Fp1", "other", "uV", 256.0, np.sin(np.arange(n) / 9.0), np.arange(n)),
            Channel("Temp", "other", "degC", 256.0, np.full(n, 33.0), np.arange(n)),
        ],
        [],
        start=dt.datetime(2025, 1, 2),
    )
    with pytest.raises(ImportRefused, match=r"No ECG or EDA channel found .*Fp1.*Temp"):
        plan_import(raw)
    with pytest.raises(ImportRefused, match="No channel 'X9'.*A1"):
        plan_import(txt, ecg="X9")
    with pytest.raises(ImportRefused, match="'degC', which is not a unit EDA is measured in"):
        plan_import(raw, ecg="Fp1", eda="Temp")
    cut = tmp_path / "cut.txt"
    lines = txt.read_text().splitlines(keepends=True)
    cut.write_text("".join(lines[:2]))  # the header's end is gone
    with pytest.raises(ImportRefused):
        plan_import(cut)
    trunc = tmp_path / "trunc.edf"
    trunc.write_bytes(raw.read_bytes()[:-700])
    with pytest.raises(ImportRefused, match="truncated"):
        plan_import(trunc)
    with pytest.raises(ImportRefused, match="do not overlap"):
        plan_import(txt, mp4, offset_s=100.0)
    not_video = tmp_path / "notes.mp4"
    not_video.write_bytes(b"not a video at all" * 100)
    with pytest.raises(ImportRefused, match="notes.mp4"):
        plan_import(txt, not_video)
    p = cat.add_patient("IMP-5")
    with pytest.raises(PermissionError, match="consent"):
        import_session(cat, _root(cat), p.id, plan_import(txt), consent=False)
    _nothing_left(cat)


def test_ecg_in_microvolts_is_accepted(cat: Catalog, tmp_path: Path) -> None:
    n = 2560
    path = tmp_path / "uv.edf"
    sig = simulated_signals(10.0, 256.0)
    write_edf(
        path,
        [Channel("EKG", "ecg", "uV", 256.0, sig[:, 0] * 1000.0, np.arange(n))],
        [],
        start=dt.datetime(2025, 1, 2),
    )
    plan = plan_import(path)
    assert plan.ecg is not None and plan.ecg.unit == "mV"
    assert np.max(np.abs(plan.ecg.values - sig[:, 0])) < 1e-3


def test_a_failure_midway_removes_folder_and_row(
    cat: Catalog, monkeypatch: pytest.MonkeyPatch, bitalino: tuple[Path, Path, np.ndarray]
) -> None:
    txt, mp4, _ = bitalino
    plan = plan_import(txt, mp4)
    p = cat.add_patient("IMP-6")

    def broken(*a: object, **k: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(importer, "write_video_index", broken)
    with pytest.raises(Exception, match="full|space"):
        import_session(cat, _root(cat), p.id, plan, consent=True)
    _nothing_left(cat)
    monkeypatch.undo()

    def late(*a: object, **k: object) -> None:  # after the row exists
        raise RuntimeError("power cut")

    monkeypatch.setattr(importer, "finalise_folder", late)
    with pytest.raises(RuntimeError, match="power cut"):
        import_session(cat, _root(cat), p.id, plan, consent=True)
    _nothing_left(cat)


def test_cleanup_removes_a_killed_import_but_not_a_live_one(cat: Catalog) -> None:
    sessions = _root(cat) / "sessions"
    dead = sessions / ".importing-20250101T000000Z-dead01"
    live = sessions / ".importing-20250101T000000Z-live01"
    for d in (dead, live):
        (d / "bio").mkdir(parents=True)
        (d / "session.json").write_text(json.dumps({"status": "recording"}))
    (dead / IMPORT_LOCK_NAME).touch()  # its writer is gone: nobody holds the lock
    lock = WriteLock(live / IMPORT_LOCK_NAME)
    # killed after the move into place, before the catalog row: data, an unheld import lock
    moved = sessions / "20250101T000000Z-moved1"
    (moved / "bio").mkdir(parents=True)
    (moved / "bio" / "ecg.f32").write_bytes(bytes(400))
    (moved / "session.json").write_text(json.dumps({"status": "recording", "origin": "imported"}))
    (moved / IMPORT_LOCK_NAME).touch()
    # a recorded folder without a row keeps its data (nothing says it is an unfinished import)
    kept = sessions / "20250101T000000Z-kept01"
    (kept / "bio").mkdir(parents=True)
    (kept / "bio" / "bio.f32").write_bytes(bytes(400))
    (kept / "session.json").write_text(json.dumps({"status": "recording"}))
    try:
        removed = clean_session_folders(cat, _root(cat))
        assert sorted(removed) == [
            "sessions/.importing-20250101T000000Z-dead01",
            "sessions/20250101T000000Z-moved1",
        ]
        assert live.exists() and kept.exists()
    finally:
        lock.release()
        shutil.rmtree(live)


def test_a_variable_frame_rate_video_keeps_each_frame_time(
    cat: Catalog, tmp_path: Path, bitalino: tuple[Path, Path, np.ndarray]
) -> None:
    av = pytest.importorskip("av")
    import fractions

    txt, _, _ = bitalino
    tb = fractions.Fraction(1, 1000)
    pts = np.cumsum(np.r_[0, np.random.default_rng(4).integers(20, 90, size=149)])  # ms
    path = tmp_path / "vfr.mp4"
    with av.open(str(path), "w") as out:
        s = out.add_stream("libx264" if "libx264" in av.codecs_available else "mpeg4", rate=30)
        s.width, s.height, s.pix_fmt = 160, 120, "yuv420p"
        s.codec_context.time_base = tb
        s.time_base = tb
        for i, p in enumerate(pts):
            frame = av.VideoFrame.from_ndarray(
                np.full((120, 160, 3), (7 * i) % 255, np.uint8), format="bgr24"
            )
            frame.pts, frame.time_base = int(p), tb
            for packet in s.encode(frame):
                out.mux(packet)
        for packet in s.encode():
            out.mux(packet)
    plan = plan_import(txt, path, offset_s=-0.5)
    assert plan.video is not None and plan.video.variable_rate
    assert "variable frame rate" in "\n".join(plan.summary_lines())
    p = cat.add_patient("IMP-VFR")
    rec = import_session(cat, _root(cat), p.id, plan, consent=True)
    data = open_session(_root(cat) / rec.folder)
    np.testing.assert_allclose(data.frame_times_s(), pts / 1000.0 - 0.5, atol=1e-6)
    video = data.video()
    assert video is not None
    with video:  # frame 100, read out of order, is the frame drawn 100th
        img = video.read(100)
        assert abs(int(img[60, 80, 0]) - (700 % 255)) <= 6
        assert abs(int(video.read(3)[60, 80, 0]) - 21) <= 6


def test_frames_that_will_not_decode_are_counted_not_fatal(
    cat: Catalog, tmp_path: Path, bitalino: tuple[Path, Path, np.ndarray]
) -> None:
    import re

    import cv2

    txt, _, _ = bitalino
    path = tmp_path / "damaged.avi"
    w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (160, 120))
    for i in range(60):
        w.write(np.full((120, 160, 3), 4 * i, np.uint8))
    w.release()
    data = bytearray(path.read_bytes())
    starts = [m.start() for m in re.finditer(b"\xff\xd8\xff", bytes(data))]
    assert len(starts) == 60
    for k in (0, 20, 21, 22):  # four frames' JPEG data wiped, as a bad sector would
        data[starts[k] : starts[k + 1] - 8] = bytes(starts[k + 1] - 8 - starts[k])
    path.write_bytes(bytes(data))
    plan = plan_import(txt, path)
    v = plan.video
    assert v is not None and v.listed == 60 and 0 < v.unreadable < 45
    assert v.frames + v.unreadable == 60
    assert any("could not be decoded" in w for w in plan.warnings)
    p = cat.add_patient("IMP-BAD-V")
    rec = import_session(cat, _root(cat), p.id, plan, consent=True)
    assert rec.quality["video"]["dropped"] == v.unreadable
    session = open_session(_root(cat) / rec.folder)
    times = session.frame_times_s()
    assert times[-1] - times[0] == pytest.approx(5.9 - 0.1 * v.frame_positions[0])
    video = session.video()
    assert video is not None
    with video:  # each frame read is the one its place says, before and after the damage
        for i in (len(video) - 1, 0, 5, len(video) // 2):
            want = 4 * int(v.frame_positions[i])
            assert abs(int(video.read(i)[60, 80, 0]) - want) <= 4, i


def test_into_an_unlocked_folder_everything_is_sealed_and_the_video_decodes_in_memory(
    tmp_path: Path, bitalino: tuple[Path, Path, np.ndarray]
) -> None:
    """Issue 16: an import into a clinic's (unlocked) data folder is encrypted like a recording,
    its original video too, which is decoded from a stream decrypted in memory."""
    import cv2

    from core.security import vault
    from core.security.access import create_first_account
    from tests.accounts import FAST_KDF, TEST_PASSWORD, TEST_USER

    txt, mp4, _ = bitalino
    root = tmp_path / "clinic"
    unlocked, _ = create_first_account(root, TEST_USER, TEST_PASSWORD, kdf=FAST_KDF)
    vault.register(root, unlocked)
    try:
        c = Catalog.open(root / "catalog.sqlite")
        p = c.add_patient("IMP-ENC")
        rec = import_session(c, root, p.id, plan_import(txt, mp4, offset_s=4.0), consent=True)
        c.close()
        folder = root / rec.folder
        files = [f for f in folder.rglob("*") if f.is_file()]
        assert all(vault.is_sealed(f) for f in files if f.name != vault.SESSION_MARK)
        source = folder / "video" / "source.mp4"
        assert b"ftyp" not in source.read_bytes()[:64]  # no container in the clear
        assert vault.read_bytes(source) == mp4.read_bytes()  # the original, byte for byte
        cap = cv2.VideoCapture(str(mp4))
        cap.set(cv2.CAP_PROP_POS_FRAMES, 17)
        ok, want = cap.read()
        cap.release()
        data = open_session(folder)
        video = data.video()
        assert ok and video is not None
        with video:  # out of order: the sealed file is decoded through a seekable stream
            assert np.array_equal(video.read(17), want)
            assert video.read(299).shape == want.shape and video.read(3).shape == want.shape
        assert verify_session(folder)["integrity"]["state"] == "verified"
    finally:
        vault.unregister(root)
