"""The paper's three training stages, resuming, and a 2-process DDP run (gloo, CPU)."""

from __future__ import annotations

import os
import socket
import sys

import numpy as np
import pytest
import torch

from core.learning.training import (
    FrameDataset,
    TrainConfig,
    predict,
    train,
    transfer_matching,
)
from core.models import BMMNConfig, build_model
from core.models.outputs import to_training_scale

SMALL = {"backbone": "small", "backbone_weights": "none", "face_size": 64}


def toy_data(n: int = 96, seed: int = 0) -> tuple[FrameDataset, np.ndarray]:
    """Faces and bio windows whose colour and level carry a hidden valence."""
    rng = np.random.default_rng(seed)
    a = rng.uniform(-1, 1, n).astype(np.float32)
    faces = rng.integers(0, 255, (n, 64, 64, 3)).astype(np.uint8)
    faces[..., 2] = ((a[:, None, None] + 1) * 120).astype(np.uint8)
    bio = (rng.standard_normal((n, 2, 1000)) * 0.1 + a[:, None, None]).astype(np.float32)
    y = np.zeros((n, 10), np.float32)
    y[:, 0], y[:, 1], y[:, 2], y[:, 3] = 5 + 4 * a, 5 - 4 * a, 5, 1
    return FrameDataset(faces, bio, to_training_scale(y)), y


FAST = TrainConfig(epochs_bmmn=4, epochs_bae=2, epochs_joint=3, batch_size=16)


def test_three_stages_learn_and_predict_on_the_rating_scale():
    ds, y = toy_data()
    model, hist = train(BMMNConfig(variant="bae2", **SMALL), FAST, ds)
    assert list(hist) == ["bmmn", "bae", "joint"]
    assert hist["bmmn"][-1] < 0.5 * hist["bmmn"][0]
    assert hist["bae"][-1] < hist["bae"][0]
    pred = predict(model, ds)
    assert pred.shape == (96, 10)
    assert np.corrcoef(pred[:, 0], y[:, 0])[0, 1] > 0.8  # valence, on the 1–9 scale
    assert np.corrcoef(pred[:, 1], y[:, 1])[0, 1] > 0.8


def test_plain_bmmn_stops_after_stage_one():
    ds, _ = toy_data(32)
    _, hist = train(BMMNConfig(variant="bmmn", **SMALL), TrainConfig(epochs_bmmn=1), ds)
    assert list(hist) == ["bmmn"]


def test_transfer_keeps_the_branches_not_the_head():
    a = build_model(BMMNConfig(variant="bmmn", **SMALL))
    b = build_model(BMMNConfig(variant="bae2", **SMALL))
    copied = transfer_matching(a, b)
    assert any(k.startswith("spatial.") for k in copied)
    assert any(k.startswith("bio_nets.") for k in copied)
    for k in copied:
        assert torch.equal(a.state_dict()[k], b.state_dict()[k])
    assert len(copied) < len(b.state_dict())  # the wider fusion head is trained anew


def test_resume_continues_after_the_last_finished_epoch(tmp_path):
    ds, _ = toy_data(32)
    cfg = BMMNConfig(variant="bmmn", **SMALL)
    train(cfg, TrainConfig(epochs_bmmn=2, batch_size=16), ds, work_dir=tmp_path)
    state = torch.load(tmp_path / "resume-bmmn.pt", weights_only=True)
    assert state["epoch"] == 2
    _, hist = train(cfg, TrainConfig(epochs_bmmn=3, batch_size=16), ds, work_dir=tmp_path)
    assert len(hist["bmmn"]) == 1  # only epoch 3 was run


def _ddp_worker(rank: int, port: int, out: str) -> None:
    os.environ.update(
        MASTER_ADDR="127.0.0.1",
        MASTER_PORT=str(port),
        RANK=str(rank),
        WORLD_SIZE="2",
        LOCAL_RANK=str(rank),
    )
    torch.set_num_threads(1)
    ds, _ = toy_data(64)
    model, hist = train(
        BMMNConfig(variant="bmmn", **SMALL),
        TrainConfig(epochs_bmmn=2, batch_size=8, device="cpu"),
        ds,
    )
    torch.save({"state": model.state_dict(), "hist": hist}, f"{out}/rank{rank}.pt")
    import torch.distributed as dist

    dist.destroy_process_group()


@pytest.mark.skipif(sys.platform == "win32", reason="gloo process group on POSIX in CI")
def test_ddp_two_cpu_processes_stay_in_step(tmp_path):
    import torch.multiprocessing as mp

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    mp.spawn(_ddp_worker, args=(port, str(tmp_path)), nprocs=2, join=True)
    r0 = torch.load(tmp_path / "rank0.pt", weights_only=True)
    r1 = torch.load(tmp_path / "rank1.pt", weights_only=True)
    # DDP averages gradients and the stage ends by sharing rank 0's BatchNorm statistics:
    # both replicas end as the same model
    differ = [
        k
        for k, v in r0["state"].items()
        if not torch.allclose(v.float(), r1["state"][k].float(), atol=1e-5)
    ]
    assert differ == []
    assert len(r0["hist"]["bmmn"]) == 2


def test_face_only_bae_model_trains_as_its_bmmn() -> None:
    ds, _ = toy_data(32)
    model, hist = train(
        BMMNConfig(variant="bae2", modalities="face", **SMALL), TrainConfig(epochs_bmmn=1), ds
    )
    assert list(hist) == ["bmmn"]
    assert model.config.variant == "bae2"
