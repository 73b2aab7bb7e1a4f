"""The analysis engine on real recorded sessions: inputs, gaps, face-less frames, modalities."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from app.demo.simulation import record_simulated
from core.analysis.engine import AnalysisError, AnalysisOptions, analyse_session
from core.analysis.inputs import BioGrid, bio_windows, resample_channel, select_frames
from core.analysis.results import load_estimates
from core.catalog import Catalog
from core.config import Settings
from core.models import BMMNConfig, build_model
from core.models.checkpoint import save_checkpoint

SMALL_VIDEO = Settings(camera_width=160, camera_height=120, camera_fps=10)
SCALING = {"mean": {"ecg": 0.0, "gsr": 5.0}, "std": {"ecg": 0.3, "gsr": 3.0}}


def checkpoint(path: Path, modalities: str = "both", signals: tuple[str, ...] = ("ECG", "EDA")):
    cfg = BMMNConfig(
        variant="bae2",
        backbone="small",
        backbone_weights="none",
        face_size=64,
        modalities=modalities,
        signals=signals,
    )
    return save_checkpoint(path, build_model(cfg), cfg, {"scaling": SCALING, "label": "test"})


def session(tmp: Path, seconds: float = 20.0, settings: Settings = SMALL_VIDEO, **kw):
    cat = Catalog.open(tmp / "catalog.sqlite")
    p = cat.add_patient("P1")
    rec = record_simulated(cat, tmp, p.id, seconds, settings=settings, **kw)
    cat.close()
    return tmp / rec.folder


# --- inputs ---------------------------------------------------------------------------------------


def test_resampling_keeps_a_slow_wave_and_marks_lost_samples() -> None:
    t = np.arange(8000) / 800.0  # 10 s at 800 Hz
    x = np.sin(2 * np.pi * 1.0 * t).astype(np.float32)
    x[4000:4010] = np.nan  # 12.5 ms lost at 5 s
    y = resample_channel(t, x, 128.0, 1280)
    grid = np.arange(1280) / 128.0
    lost = ~np.isfinite(y)
    # only grid samples next to the lost stretch (4.99875–5.01125 s) are invalid
    assert set(np.flatnonzero(lost)) == {640, 641}
    ok = ~lost & (grid > 0.1) & (grid < 9.9)  # away from the filter's ends
    assert np.max(np.abs(y[ok] - np.sin(2 * np.pi * grid[ok]))) < 1e-3


def test_windows_pad_the_ends_and_flag_lost_samples() -> None:
    values = np.arange(20, dtype=np.float32)[None, :]  # one channel, 20 samples at 10 Hz
    valid = np.ones(20, bool)
    valid[12] = False
    values[0, 12] = np.nan
    grid = BioGrid(10.0, values, valid, 0, 19)
    win, ok = bio_windows(values, grid, np.array([0.0, 0.5, 1.0, 1.9]), window=6)
    # centred on sample round(t·rate_hz): window [c−3, c+3), edge-padded outside the recording
    assert win[0, 0].tolist() == [0, 0, 0, 0, 1, 2]
    assert win[1, 0].tolist() == [2, 3, 4, 5, 6, 7]
    assert win[3, 0].tolist() == [16, 17, 18, 19, 19, 19]
    assert ok.tolist() == [True, True, False, True]  # the window around 1.0 s holds sample 12


def test_frame_selection_by_rate_and_span() -> None:
    t = np.arange(600) / 60.0  # 10 s at 60 fps
    assert len(select_frames(t)) == 600
    four = select_frames(t, 4.0)
    assert len(four) == 40 and np.allclose(np.diff(t[four]), 0.25)
    spans = select_frames(t, 4.0, [(0.0, 2.0), (8.0, 10.0)])
    assert len(spans) == 16 and t[spans].min() == 0 and t[spans].max() >= 9.75


# --- engine -----------------------------------------------------------------------------------------


def test_a_session_is_analysed_stored_and_read_back(tmp_path: Path) -> None:
    folder = session(tmp_path)
    ck = checkpoint(tmp_path / "m.pt")
    seen = []
    est = analyse_session(
        folder, ck, AnalysisOptions(device="cpu"), progress=lambda f, s: seen.append(f)
    )
    c = est.info["counts"]
    # frames at 0, 0.1 … 20.0 s; one per 0.25 s tick: 0, 0.3, 0.5, 0.8 … 20.0
    assert c["frames_stored"] == 201 and c["frames_analysed"] == 81
    assert c["estimated"] == c["frames_analysed"] - c["without_face"] - c["bio_incomplete"]
    assert c["without_face"] == 0 and c["estimated"] > 70
    assert est.info["checkpoint"]["sha256"] and est.info["inputs"] == "face + ECG + EDA"
    assert seen[-1] == pytest.approx(1.0)
    back = load_estimates(folder)
    assert back is not None
    np.testing.assert_array_equal(back.outputs, est.outputs)
    assert np.all((back.outputs[est.estimated, :3] > -20) & (back.outputs[est.estimated, :3] < 30))


def test_lost_packets_leave_frames_unestimated_never_guessed(tmp_path: Path) -> None:
    folder = session(tmp_path, 30.0, drop_prob=0.01)
    est = analyse_session(folder, checkpoint(tmp_path / "m.pt"), AnalysisOptions(device="cpu"))
    c = est.info["counts"]
    assert c["bio_incomplete"] > 0
    assert np.all(np.isnan(est.outputs[~est.bio_complete]))
    assert np.all(np.isfinite(est.outputs[est.bio_complete & est.has_face]))


def test_frames_without_a_face_are_marked(tmp_path: Path) -> None:
    import cv2

    from core.recording.manifest import read_manifest
    from core.recording.video_store import VideoStoreWriter
    from core.simulation.face import render_face

    folder = session(tmp_path, 20.0, settings=Settings(camera_fps=0))
    t0 = int(read_manifest(folder)["t0_host_ns"])
    face = cv2.imencode(".jpg", render_face(0.0, 0.0, 0.0, width=160, height=120))[1].tobytes()
    wall = cv2.imencode(".jpg", np.full((120, 160, 3), 128, np.uint8))[1].tobytes()
    with VideoStoreWriter(folder / "video") as w:
        for k in range(200):  # 10 fps: the face leaves the picture after 10 s
            w.append_encoded(k, t0 + k * 100_000_000, face if k < 100 else wall)
    est = analyse_session(folder, checkpoint(tmp_path / "m.pt"), AnalysisOptions(device="cpu"))
    late = est.t_s > 11.5  # the tracker holds a lost face for at most 1 s
    assert not est.has_face[late].any() and np.all(np.isnan(est.outputs[late]))
    assert est.has_face[est.t_s < 9.5].all()


def test_a_session_missing_a_modality_is_refused_or_analysed_with_a_fitting_model(
    tmp_path: Path,
) -> None:
    folder = session(tmp_path, 20.0, settings=Settings(camera_fps=0))  # no video
    with pytest.raises(AnalysisError, match="needs the face video"):
        analyse_session(folder, checkpoint(tmp_path / "both.pt"), AnalysisOptions(device="cpu"))
    with pytest.raises(AnalysisError, match="needs ECG and PPG"):
        analyse_session(
            folder,
            checkpoint(tmp_path / "ppg.pt", "bio", ("ECG", "PPG")),
            AnalysisOptions(device="cpu"),
        )
    est = analyse_session(
        folder, checkpoint(tmp_path / "bio.pt", "bio"), AnalysisOptions(device="cpu")
    )
    assert est.info["inputs"] == "ECG + EDA only"
    assert est.info["counts"]["estimated"] > 0


def test_cancel_stores_nothing(tmp_path: Path) -> None:
    from core.analysis.engine import AnalysisCancelled

    folder = session(tmp_path)
    with pytest.raises(AnalysisCancelled):
        analyse_session(
            folder,
            checkpoint(tmp_path / "m.pt"),
            AnalysisOptions(device="cpu", chunk=8),
            cancel=lambda: True,
        )
    assert load_estimates(folder) is None
