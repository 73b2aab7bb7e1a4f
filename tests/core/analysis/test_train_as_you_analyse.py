"""Train as you analyse (issue 22): one face path and one set of units in training and analysis.

* An imported session keeps its original video file: fed through the analysis' crop path
  (:func:`core.analysis.inputs.iter_face_crops`, also training on sessions) and through AMIGOS
  training's (:func:`core.learning.datasets.frames.trial_crops`), it gives the same crops.
* A checkpoint trained on synthetic AMIGOS (written in the dataset's own units, µV and kΩ)
  analyses a recorded simulated session (mV, µS) with its scaled bio input inside its training
  distribution.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from app.cli.main import main
from app.demo.simulation import record_simulated
from core.analysis import engine
from core.analysis.engine import AnalysisOptions, analyse_session
from core.analysis.inputs import iter_face_crops, select_frames
from core.catalog import Catalog
from core.config import Settings
from core.faces.detect import make_detector
from core.faces.track import CropPolicy, tracker_for
from core.learning.datasets.frames import trial_crops
from core.models.checkpoint import load_checkpoint
from core.recording.reader import open_session
from core.transfer.importer import import_session, plan_import
from tests.core.transfer.recordings import (
    simulated_signals,
    write_bitalino_text,
    write_face_video,
)


def test_an_imported_video_gives_the_same_crops_in_analysis_and_in_amigos_training(
    tmp_path: Path,
) -> None:
    sig = simulated_signals(8.0, 1000.0)
    txt = write_bitalino_text(tmp_path / "bitalino.txt", sig)
    # 25 fps, so frame k's time k/25 s is the same number in the container and in the session
    mp4 = write_face_video(tmp_path / "face.mp4", 6.0, fps=25.0)
    # no face for 1.6 s (marked absent between the failed detections) and for 0.4 s (bridged)
    blank = _blank_frames(mp4, [*range(40, 80), *range(100, 110)])
    cat = Catalog.open(tmp_path / "data" / "catalog.sqlite")
    try:
        p = cat.add_patient("IMP-22")
        rec = import_session(
            cat, tmp_path / "data", p.id, plan_import(txt, blank, offset_s=0.0), consent=True
        )
    finally:
        cat.close()
    data = open_session(tmp_path / "data" / rec.folder)
    video = data.video()
    assert video is not None
    size = 48
    meta = {"face_stage": {"detector": "haar", "tracker": {"detect_every_s": 0.25}}}
    try:  # the analysis' path, every frame (as on CUDA), times as the engine takes them
        all_t = (video.timestamps_ns - data.t0_ns) / 1e9
        pos = select_frames(all_t)
        tracker = tracker_for(meta, make_detector("haar"))
        chunks = list(
            iter_face_crops(video, pos, all_t[pos], tracker, CropPolicy(size=size), chunk=16)
        )
    finally:
        video.close()
    has = np.concatenate([c.has_face for c in chunks])
    ana_crops = np.concatenate([c.crops for c in chunks])[has]
    ana_t = np.concatenate([c.times_s for c in chunks])[has]
    assert len(has) == 150 and 20 < (~has).sum() < 40  # the long gap's middle only
    assert has[100:110].all()

    # AMIGOS training's path on the file the session keeps, byte for byte the imported one
    source = tmp_path / "data" / rec.folder / "video" / "source.mp4"
    assert source.read_bytes() == blank.read_bytes()
    crops, times, n_without = trial_crops(
        source, tmp_path / "cache", 1, size, lambda: tracker_for(meta, make_detector("haar"))
    )
    assert n_without == int((~has).sum())
    np.testing.assert_array_equal(times, ana_t)
    np.testing.assert_array_equal(np.asarray(crops), ana_crops)


def _blank_frames(mp4: Path, frames: list[int]) -> Path:
    """The same video with ``frames`` grey (no face), re-encoded at the same rate."""
    import cv2

    cap = cv2.VideoCapture(str(mp4))
    fps = cap.get(cv2.CAP_PROP_FPS)
    out_path = mp4.with_name("blank.mp4")
    out = None
    k = 0
    while True:
        ok, img = cap.read()
        if not ok:
            break
        if out is None:
            h, w = img.shape[:2]
            out = cv2.VideoWriter(str(out_path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h))
        out.write(np.full_like(img, 128) if k in frames else img)
        k += 1
    cap.release()
    assert out is not None
    out.release()
    return out_path


#: a z-scored input inside its training distribution: its mean within 3 training SDs of the
#: training mean, and its spread between a quarter and four times the training spread. A unit
#: mistake (mV read as µV, kΩ read as µS) is off by a factor of about a thousand
MEAN_BOUND, SD_BOUNDS = 3.0, (0.25, 4.0)


def test_a_model_trained_on_amigos_sees_a_recorded_session_inside_its_training_range(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    amigos, model = tmp_path / "amigos", tmp_path / "model.pt"
    assert main(["synthetic-amigos", str(amigos), "--participants", "2", "--trials", "2",
                 "--seconds", "6"]) == 0  # fmt: skip
    assert main(["train", "--amigos", str(amigos), "--detector", "haar", "--backbone", "small",
                 "--weights", "none", "--face-size", "32", "--epochs", "1,0,0", "--batch", "16",
                 "--frame-step", "25", "--device", "cpu", "--out", str(model)]) == 0  # fmt: skip
    _, _, meta = load_checkpoint(model)
    assert meta["units"] == {"ECG": "mV", "EDA": "uS"}
    assert meta["face_stage"]["tracker"]["mode"] == "offline"

    cat = Catalog.open(tmp_path / "catalog.sqlite")
    try:
        p = cat.add_patient("P-22")
        settings = Settings(camera_width=160, camera_height=120, camera_fps=10)
        rec = record_simulated(cat, tmp_path, p.id, 20.0, settings=settings)
    finally:
        cat.close()
    seen: list[np.ndarray] = []
    windows = engine.bio_windows

    def spy(values, grid, times, window=1000):  # type: ignore[no-untyped-def]
        w, ok = windows(values, grid, times, window)
        seen.append(w[ok])  # what the model is given
        return w, ok

    monkeypatch.setattr(engine, "bio_windows", spy)
    est = analyse_session(tmp_path / rec.folder, model, AnalysisOptions(device="cpu"), save=False)
    assert est.info["counts"]["estimated"] > 40
    assert est.info["face_detector"]["max_hold_s"] == 1.0  # the checkpoint's tracker
    x = np.concatenate(seen)  # (frames, [ECG, EDA], 1000), scaled
    mean, sd = x.mean(axis=(0, 2)), x.std(axis=(0, 2))
    assert np.all(np.abs(mean) < MEAN_BOUND), mean
    assert np.all((sd > SD_BOUNDS[0]) & (sd < SD_BOUNDS[1])), sd
