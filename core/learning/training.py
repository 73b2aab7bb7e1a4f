"""Training the BMMN family the paper's way (Sec. III-D), on CPU, one GPU or several (DDP).

Stages, for a BMMN-BAE-1/2 model:

1. **BMMN** — a plain BMMN (same backbone and modalities) trained on the labels (ℓ2);
2. **BAE** — each signal's Bio Auto-Encoder pre-trained on reconstruction (ℓ2);
3. **joint** — the BAE model, initialised from stages 1 and 2 (every tensor whose name and shape
   match), trained with L = λ_BMMN · L_BMMN + λ_BAE · L_BAE.

A plain BMMN stops after stage 1. Adam, learning rate 1e-4, batch 115 by default, as in the paper;
the paper gives no values for λ_BMMN and λ_BAE nor epochs per stage, so these are settings
(``therascope train --lambda-bmmn --lambda-bae --epochs``; defaults 1, 1 and 10/5/10). Every
deviation from the paper is listed in the model card (``core/models/MODEL_CARD.md``).
Targets are trained on a common scale: ratings (valence, arousal, liking; 1–9) as (r − 5) / 4 in
[-1, 1], emotions as given (0/1); see :func:`to_training_scale`.

Long work reports progress through a callback and can be resumed: after every epoch a resume file
(weights, optimiser, stage, epoch, RNG states; tensors and plain types only, loaded with
``weights_only=True``) is written next to the output.
"""

from __future__ import annotations

import logging
import math
import os
import random
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from core.models import BMMNConfig, build_model
from core.models.bio import BioAutoEncoder
from core.models.outputs import from_training_scale, labelled_outputs
from core.models.runtime import autocast, faces_to_input, pick_device

log = logging.getLogger(__name__)

Progress = Callable[[str, float, dict[str, float]], None]


@dataclass
class TrainConfig:
    """How to train.

    Parameters
    ----------
    epochs_bmmn, epochs_bae, epochs_joint : int — epochs per stage
    batch_size : int — samples per step, per process (paper: 115)
    lr : float — Adam learning rate (paper: 1e-4)
    lambda_bmmn, lambda_bae : float — weights of the label and reconstruction losses (stage 3)
    seed : int — seeds Python, NumPy and torch (deterministic algorithms where possible)
    device : str — ``"auto"`` (CUDA when available), ``"cpu"``, ``"cuda"``, ``"cuda:1"``…
    amp : str — ``"auto"`` (bf16 autocast on CUDA), ``"bf16"`` or ``"off"``
    channels_last : bool — face batches in channels-last memory format on CUDA (faster convs)
    num_workers : int — DataLoader workers
    """

    epochs_bmmn: int = 10
    epochs_bae: int = 5
    epochs_joint: int = 10
    batch_size: int = 115
    lr: float = 1e-4
    lambda_bmmn: float = 1.0
    lambda_bae: float = 1.0
    seed: int = 0
    device: str = "auto"
    amp: str = "auto"
    channels_last: bool = True
    num_workers: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


class FrameDataset(Dataset[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]):
    """Per-frame training samples held as arrays (a crop cache may be a ``np.memmap``).

    Faces stay uint8 BGR (S, S, 3) per sample: batches travel to the device as bytes (a quarter of
    float32's size) and :func:`faces_to_input` normalises whole batches there, so the loader does
    no per-pixel arithmetic.

    Parameters
    ----------
    faces : ndarray (N, S, S, 3) uint8 BGR — face crops (from the crop cache; never video)
    bio : ndarray (N, n_signals, window) float32 — scaled bio windows
    targets : ndarray (N, 10) float32 — labels on the training scale; NaN where a label is
        unknown (e.g. a session's liking), left out of the loss
    """

    def __init__(self, faces: np.ndarray, bio: np.ndarray, targets: np.ndarray) -> None:
        if not len(faces) == len(bio) == len(targets):
            raise ValueError("faces, bio and targets must have one row per sample")
        self.faces, self.bio, self.targets = faces, bio, targets

    def __len__(self) -> int:
        return len(self.targets)

    @property
    def outputs_trained(self) -> list[str]:
        """The outputs a model trained on these samples learns (at least one label known): the
        checkpoint's ``outputs_trained``."""
        return labelled_outputs(self.targets)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        face = torch.from_numpy(np.array(self.faces[i], dtype=np.uint8, copy=True))
        return face, torch.from_numpy(np.asarray(self.bio[i])), torch.from_numpy(self.targets[i])


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True, warn_only=True)


@dataclass
class DistInfo:
    """This process's place in a torchrun job (rank 0 of 1 when not distributed)."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        return self.rank == 0


def init_distributed(device_spec: str) -> DistInfo:
    """Join the process group torchrun set up (``RANK``/``WORLD_SIZE`` in the environment).

    Backend: NCCL on CUDA, gloo on the CPU (used by the tests with two CPU processes).
    """
    if "WORLD_SIZE" not in os.environ or int(os.environ["WORLD_SIZE"]) < 2:
        return DistInfo()
    import torch.distributed as dist

    info = DistInfo(
        int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"]), int(os.environ.get("LOCAL_RANK", 0))
    )
    use_cuda = device_spec != "cpu" and torch.cuda.is_available()
    if not dist.is_initialized():
        dist.init_process_group("nccl" if use_cuda else "gloo")
    if use_cuda:
        torch.cuda.set_device(info.local_rank)
    return info


def transfer_matching(src: nn.Module, dst: nn.Module) -> list[str]:
    """Copy every tensor of ``src`` into ``dst`` whose name and shape match; return the names.

    How stage 3 starts from stages 1 and 2: the face and bio branches carry over, the fusion head
    (whose input width differs between variants) does not.
    """
    dst_state = dst.state_dict()
    copied = [
        k for k, v in src.state_dict().items() if k in dst_state and dst_state[k].shape == v.shape
    ]
    dst.load_state_dict({k: src.state_dict()[k] for k in copied}, strict=False)
    return copied


def _batches(
    ds: FrameDataset, cfg: TrainConfig, dist: DistInfo, epoch: int
) -> Iterator[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    sampler: Any = None  # a DistributedSampler when several processes train
    if dist.world > 1:
        from torch.utils.data.distributed import DistributedSampler

        sampler = DistributedSampler(ds, dist.world, dist.rank, shuffle=True, seed=cfg.seed)
        sampler.set_epoch(epoch)
    g = torch.Generator()
    g.manual_seed(cfg.seed * 1000 + epoch)
    loader = DataLoader(
        ds,
        batch_size=cfg.batch_size,
        shuffle=sampler is None,
        sampler=sampler,
        generator=g if sampler is None else None,
        num_workers=cfg.num_workers,
        pin_memory=torch.cuda.is_available() and cfg.device != "cpu",
        drop_last=False,
    )
    yield from loader


def _run_stage(
    stage: str,
    model: nn.Module,
    params: list[nn.Parameter],
    loss_fn: Callable[[dict[str, torch.Tensor | None], torch.Tensor, torch.Tensor], torch.Tensor],
    ds: FrameDataset,
    cfg: TrainConfig,
    epochs: int,
    device: torch.device,
    dist: DistInfo,
    progress: Progress | None,
    resume_path: Path | None,
    start_epoch: int = 0,
) -> list[float]:
    """Train ``params`` of ``model`` for ``epochs``; return the mean loss of each epoch."""
    trainable = model
    if dist.world > 1:
        from torch.nn.parallel import DistributedDataParallel

        ids = [device.index] if device.type == "cuda" else None
        # in the BAE stage only the auto-encoders take part in the loss
        unused = stage == "bae"
        trainable = DistributedDataParallel(model, device_ids=ids, find_unused_parameters=unused)
    opt = torch.optim.Adam(params, lr=cfg.lr)
    if resume_path is not None and start_epoch > 0:
        state = torch.load(resume_path, map_location=device, weights_only=True)
        opt.load_state_dict(state["optimizer"])
    history: list[float] = []
    n_steps = max(1, math.ceil(len(ds) / (cfg.batch_size * dist.world)))
    for epoch in range(start_epoch, epochs):
        model.train()
        total, count = 0.0, 0
        for step, (face, bio, y) in enumerate(_batches(ds, cfg, dist, epoch)):
            face = faces_to_input(face, device, cfg.channels_last)
            bio, y = bio.to(device, non_blocking=True), y.to(device, non_blocking=True)
            with autocast(device, cfg.amp):
                out = trainable(face, bio)
                loss = loss_fn(out, y, bio)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(y)
            count += len(y)
            if progress is not None and dist.main:
                done = (epoch + (step + 1) / n_steps) / epochs
                progress(stage, done, {"loss": float(loss.detach()), "epoch": float(epoch + 1)})
        history.append(total / max(count, 1))
        if dist.main:
            log.info("%s epoch %d/%d: loss %.4f", stage, epoch + 1, epochs, history[-1])
            if resume_path is not None:
                torch.save(
                    {
                        "stage": stage,
                        "epoch": epoch + 1,
                        "model": model.state_dict(),
                        "optimizer": opt.state_dict(),
                        "torch_rng": torch.get_rng_state(),
                    },
                    resume_path,
                )
    if dist.world > 1:
        import torch.distributed as tdist

        # gradients are averaged, but BatchNorm running statistics are each replica's own after
        # its last batch: take rank 0's, so every replica (and the checkpoint) is one model
        for buf in model.buffers():
            tdist.broadcast(buf, src=0)
    return history


def _label_loss(
    out: dict[str, torch.Tensor | None], y: torch.Tensor, bio: torch.Tensor
) -> torch.Tensor:
    pred = out["out"]
    assert pred is not None
    known = torch.isfinite(y)  # unknown labels (NaN) take no part
    if bool(known.all()):
        return nn.functional.mse_loss(pred.float(), y)
    return (pred.float() - torch.nan_to_num(y)).pow(2)[known].mean()


def _recon_loss(
    out: dict[str, torch.Tensor | None], y: torch.Tensor, bio: torch.Tensor
) -> torch.Tensor:
    rec = out["recon"]
    assert rec is not None
    return nn.functional.mse_loss(rec.float(), bio)


def train(
    model_cfg: BMMNConfig,
    train_cfg: TrainConfig,
    data: FrameDataset,
    progress: Progress | None = None,
    work_dir: Path | None = None,
) -> tuple[nn.Module, dict[str, list[float]]]:
    """Train a model of ``model_cfg`` through the paper's stages.

    Parameters
    ----------
    work_dir : Path, optional — where resume files go (``resume-<stage>.pt``); an existing file
        for a stage continues that stage from its last finished epoch

    Returns
    -------
    (model on the CPU in eval mode, loss history per stage)
    """
    seed_everything(train_cfg.seed)
    dist = init_distributed(train_cfg.device)
    device = pick_device(train_cfg.device)
    if device.type == "cuda" and dist.world > 1:
        device = torch.device("cuda", dist.local_rank)
    history: dict[str, list[float]] = {}

    def resume(stage: str, model: nn.Module) -> tuple[Path | None, int]:
        if work_dir is None:
            return None, 0
        work_dir.mkdir(parents=True, exist_ok=True)
        path = work_dir / f"resume-{stage}.pt"
        if path.exists():
            state = torch.load(path, map_location="cpu", weights_only=True)
            model.load_state_dict(state["model"])
            torch.set_rng_state(state["torch_rng"])
            log.info("resuming %s after epoch %d", stage, state["epoch"])
            return path, int(state["epoch"])
        return path, 0

    base_cfg = BMMNConfig(**{**asdict(model_cfg), "variant": "bmmn"})
    base = build_model(base_cfg).to(device)
    path, start = resume("bmmn", base)
    history["bmmn"] = _run_stage(
        "bmmn",
        base,
        list(base.parameters()),
        _label_loss,
        data,
        train_cfg,
        train_cfg.epochs_bmmn,
        device,
        dist,
        progress,
        path,
        start,
    )
    if model_cfg.variant == "bmmn":
        return base.cpu().eval(), history

    model = build_model(model_cfg).to(device)
    transfer_matching(base, model)
    aes = [m for m in model.modules() if isinstance(m, BioAutoEncoder)]
    if not aes:  # face only: no auto-encoder, so the BAE variants are the BMMN itself
        return model.cpu().eval(), history
    ae_params = [p for m in aes for p in m.parameters()]
    path, start = resume("bae", model)
    history["bae"] = _run_stage(
        "bae",
        model,
        ae_params,
        _recon_loss,
        data,
        train_cfg,
        train_cfg.epochs_bae,
        device,
        dist,
        progress,
        path,
        start,
    )

    lam_b, lam_a = train_cfg.lambda_bmmn, train_cfg.lambda_bae

    def joint_loss(
        out: dict[str, torch.Tensor | None], y: torch.Tensor, bio: torch.Tensor
    ) -> torch.Tensor:
        return lam_b * _label_loss(out, y, bio) + lam_a * _recon_loss(out, y, bio)

    path, start = resume("joint", model)
    history["joint"] = _run_stage(
        "joint",
        model,
        list(model.parameters()),
        joint_loss,
        data,
        train_cfg,
        train_cfg.epochs_joint,
        device,
        dist,
        progress,
        path,
        start,
    )
    return model.cpu().eval(), history


@torch.no_grad()
def predict(
    model: nn.Module,
    data: FrameDataset,
    batch_size: int = 256,
    device: str = "auto",
    amp: str = "auto",
) -> np.ndarray:
    """Model outputs for every sample, back on the rating scale (N, 10)."""
    dev = pick_device(device)
    model = model.to(dev).eval()
    outs = []
    loader = DataLoader(data, batch_size=batch_size, shuffle=False)
    for face, bio, _ in loader:
        face, bio = faces_to_input(face, dev), bio.to(dev)
        with autocast(dev, amp):
            out = model(face, bio)["out"]
        outs.append(out.float().cpu().numpy())
    return from_training_scale(np.concatenate(outs) if outs else np.zeros((0, 10), np.float32))
