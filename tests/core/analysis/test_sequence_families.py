"""The analysis engine feeds every model family: a recorded simulated session, tiny models."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from app.demo.simulation import record_simulated
from core.analysis.engine import AnalysisOptions, analyse_session
from core.analysis.sequences import MAX_CROP_DISTANCE_S, anchor_rate_cap, sequence_crop_index
from core.catalog import Catalog
from core.config import Settings
from core.learning.comparison import family_config
from core.models.checkpoint import save_checkpoint
from core.models.families import build, inputs_of

SMALL_VIDEO = Settings(camera_width=160, camera_height=120, camera_fps=10)
SCALING = {"mean": {"ecg": 0.0, "gsr": 5.0}, "std": {"ecg": 0.3, "gsr": 3.0}}


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():
    """One intra-op thread: tiny models gain nothing from more, and on a busy machine two threads
    that spin-wait for each other made them ten times slower."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("session")
    cat = Catalog.open(tmp / "catalog.sqlite")
    p = cat.add_patient("P1")
    rec = record_simulated(cat, tmp, p.id, 12.0, settings=SMALL_VIDEO)
    cat.close()
    return tmp / rec.folder


def test_nearest_crops_with_a_face() -> None:
    cfg = family_config("deepvanet", "small")  # 3 instants 0.2 s apart
    times = np.arange(0.0, 5.0, 0.25)
    has_face = np.ones(len(times), bool)
    has_face[8:12] = False  # 2.0–2.75 s without a face
    index, usable = sequence_crop_index(times, has_face, inputs_of(cfg))
    assert index.shape == (len(times), 3)
    assert np.array_equal(index[4], [3, 4, 5])  # 1.0 s: crops at 0.75, 1.0, 1.25 s
    assert usable[4] and not usable[10]  # 2.5 s: the nearest face is 0.75 s away
    assert MAX_CROP_DISTANCE_S == 0.5


@pytest.mark.parametrize("name", ["deepvanet", "transformer", "avigas"])
def test_a_session_is_analysed_with_each_family(folder: Path, tmp_path: Path, name: str) -> None:
    cfg = family_config(name, "small")
    ck = save_checkpoint(tmp_path / f"{name}.pt", build(cfg), cfg, {"scaling": SCALING})
    est = analyse_session(folder, ck, AnalysisOptions(device="cpu"), save=False)
    c = est.info["counts"]
    assert c["frames_analysed"] == 49  # 4 per second over 12 s
    assert c["estimated"] > 0.5 * c["frames_analysed"]
    ok = est.estimated
    assert np.all(np.isfinite(est.outputs[ok])) and np.all(np.isnan(est.outputs[~ok]))
    assert "nearest analysed crop" in est.info["inputs"]
    assert est.info["checkpoint"]["variant"] == name  # the family, for those without variants


def test_a_family_the_analysis_cannot_read_is_refused_in_words(
    folder: Path, tmp_path: Path
) -> None:
    import torch

    from core.models.checkpoint import CheckpointError

    cfg = family_config("avigas", "small")
    path = save_checkpoint(tmp_path / "x.pt", build(cfg), cfg, {"scaling": SCALING})
    raw = torch.load(path, weights_only=True)
    raw["family"] = "wav2vec"  # a family this version does not know
    torch.save(raw, path)
    with pytest.raises(CheckpointError, match="unknown model family 'wav2vec'"):
        analyse_session(folder, path, AnalysisOptions(device="cpu"), save=False)


def test_every_frame_means_a_bounded_anchor_rate_for_sequences(
    folder: Path, tmp_path: Path
) -> None:
    """Crops of a sequence family are held until its sequences are cut: "every frame" (CUDA's
    default) is capped at 10 anchors per second, so an hour at 60 frames/s stays in memory."""
    cfg = family_config("deepvanet", "small")
    ck = save_checkpoint(tmp_path / "dv.pt", build(cfg), cfg, {"scaling": SCALING})
    opts = AnalysisOptions(device="cpu", every_frame=True)
    est = analyse_session(folder, ck, opts, save=False)
    assert anchor_rate_cap(inputs_of(cfg)) == 10.0
    assert est.info["frames_per_s"] == 10.0
    assert 115 <= est.info["counts"]["frames_analysed"] <= 121  # 12 s at 10 per second
