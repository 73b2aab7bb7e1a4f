"""Training DeepVANet, the MVP Transformer and AViGaS on sequence samples (BMMN: :mod:`.training`).

One loop for the three, with each paper's stages:

* **deepvanet** — end to end on the labels; with decision-level fusion both sub-classifiers train
  at once (they share nothing, so this equals training them apart), then their AdaBoost weights are
  fitted on the training samples (:func:`core.models.deepvanet.adaboost_weights`).
* **transformer** — each signal's encoder is first pre-trained by masked value prediction on
  unlabelled segments (the training samples' signal, plus any recorded sessions given), then the
  whole model is fine-tuned on the labels (fusion FCN and the per-modality FCNs together).
* **avigas** — a curriculum over sequence length: equal shares of the epochs on the last 2, 4 and
  then 8 steps of each sequence.

Losses: ℓ2 on the 10 outputs (training scale, unknown labels left out) for every family, binary
cross-entropy on the high/low logits (valence, arousal, liking; high = rating > 5) where a family has
them, cross-entropy on the circumplex quadrant for AViGaS; per-modality sub-outputs get the same.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from core.learning.sequences import SequenceSamples
from core.models.avigas import CURRICULUM, AViGaSConfig
from core.models.deepvanet import DeepVANet, adaboost_weights
from core.models.families import build
from core.models.mvp_transformer import MVPTransformer, mvp_loss, mvp_mask
from core.models.outputs import N_RATINGS, from_training_scale, labelled_outputs
from core.models.runtime import autocast, faces_to_input, pick_device

log = logging.getLogger(__name__)

Progress = Callable[[str, float, dict[str, float]], None]


@dataclass
class FamilyTrainConfig:
    """How to train a sequence family.

    Parameters
    ----------
    epochs : int — epochs on the labels (AViGaS: over all curriculum stages together)
    epochs_pretrain : int — MVP pre-training epochs per signal (Transformer only)
    batch_size : int — samples per step (paper 001: 64)
    lr : float — Adam learning rate on the labels (paper 001: 1e-3; 003 fine-tuning: 1e-4)
    lr_pretrain : float — Adam learning rate of MVP pre-training (paper 003: up to 5e-4)
    weight_decay : float — Adam's L2 weight decay on the labels
    bce_weight, quadrant_weight : float — weights of the BCE and quadrant losses beside ℓ2
    mask_ratio : float, mask_span : int — MVP masking (15 % in spans of 16 samples)
    seed : int; device : str; amp : str — as :class:`core.learning.training.TrainConfig`
    """

    epochs: int = 10
    epochs_pretrain: int = 5
    batch_size: int = 64
    lr: float = 1e-3
    lr_pretrain: float = 5e-4
    weight_decay: float = 0.0
    bce_weight: float = 1.0
    quadrant_weight: float = 0.5
    mask_ratio: float = 0.15
    mask_span: int = 16
    seed: int = 0
    device: str = "auto"
    amp: str = "auto"


class SequenceDataset(Dataset[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]):
    """(face (frames, S, S, 3) uint8, bio (n_signals, samples) float32, targets (10,)) per sample,
    targets on the training scale (:func:`core.models.outputs.to_training_scale`)."""

    def __init__(self, samples: SequenceSamples, targets: np.ndarray) -> None:
        if len(samples) != len(targets):
            raise ValueError("one target row per sample")
        self.samples, self.targets = samples, np.asarray(targets, np.float32)

    def __len__(self) -> int:
        return len(self.samples)

    @property
    def outputs_trained(self) -> list[str]:
        """The outputs a model trained on these samples learns (at least one label known): the
        checkpoint's ``outputs_trained``."""
        return labelled_outputs(self.targets)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        return (
            torch.from_numpy(self.samples.face(i)),
            torch.from_numpy(self.samples.bio(i)),
            torch.from_numpy(self.targets[i]),
        )


def face_sequence_input(face: torch.Tensor, device: torch.device) -> torch.Tensor:
    """uint8 BGR crops (B, T, S, S, 3) → normalised RGB (B, T, 3, S, S) on ``device``."""
    b, t = face.shape[:2]
    x = faces_to_input(face.flatten(0, 1), device, channels_last=False)
    return x.view(b, t, *x.shape[1:])


def quadrant_index(y: torch.Tensor) -> torch.Tensor:
    """Circumplex quadrant of training-scale targets (valence, arousal first): Q1 HVHA → 0,
    Q2 LVHA → 1, Q3 LVLA → 2, Q4 HVLA → 3."""
    hv, ha = y[:, 0] > 0, y[:, 1] > 0
    return torch.where(ha, torch.where(hv, 0, 1), torch.where(hv, 3, 2))


def family_loss(out: dict[str, Any], y: torch.Tensor, cfg: FamilyTrainConfig) -> torch.Tensor:
    """ℓ2 + BCE + quadrant cross-entropy of one output dict and its ``parts`` (module docstring)."""
    known = torch.isfinite(y)
    loss = y.new_zeros(())
    if "out" in out:
        loss = loss + (out["out"].float() - torch.nan_to_num(y)).pow(2)[known].mean()
    rating_known = known[:, :N_RATINGS]
    if "logits" in out and cfg.bce_weight and bool(rating_known.any()):
        high = (torch.nan_to_num(y[:, :N_RATINGS]) > 0).float()
        bce = nn.functional.binary_cross_entropy_with_logits(
            out["logits"].float(), high, reduction="none"
        )
        loss = loss + cfg.bce_weight * bce[rating_known].mean()
    va_known = known[:, 0] & known[:, 1]
    if "quadrant" in out and cfg.quadrant_weight and bool(va_known.any()):
        ce = nn.functional.cross_entropy(
            out["quadrant"].float()[va_known], quadrant_index(y[va_known])
        )
        loss = loss + cfg.quadrant_weight * ce
    for part in (out.get("parts") or {}).values():
        loss = loss + family_loss(part, y, cfg)
    return loss


def seed_all(seed: int) -> None:
    np.random.seed(seed)
    torch.manual_seed(seed)


def _loader(ds: SequenceDataset, batch: int, seed: int, shuffle: bool) -> DataLoader[Any]:
    g = torch.Generator()
    g.manual_seed(seed)
    return DataLoader(ds, batch_size=batch, shuffle=shuffle, generator=g if shuffle else None)


def pretrain_mvp(
    model: MVPTransformer,
    segments: np.ndarray,
    cfg: FamilyTrainConfig,
    device: torch.device,
    progress: Progress | None = None,
) -> dict[str, list[float]]:
    """Masked-value-prediction pre-training of every signal encoder on unlabelled segments.

    Parameters
    ----------
    segments : ndarray (N, n_signals, bio_samples) float32 — scaled (and filtered) signal, in
        the order of the model's ``signals``; no labels

    Returns
    -------
    dict signal → mean MVP loss of each epoch
    """
    history: dict[str, list[float]] = {}
    g = torch.Generator().manual_seed(cfg.seed)
    x_all = torch.from_numpy(np.ascontiguousarray(segments, dtype=np.float32))
    for name, enc in model.signal_encoders().items():
        i = model.config.signals.index(name)
        params = [p for n, p in enc.named_parameters()]
        opt = torch.optim.Adam(params, lr=cfg.lr_pretrain, weight_decay=0.005)
        history[name] = []
        for epoch in range(cfg.epochs_pretrain):
            enc.train()
            order = torch.randperm(len(x_all), generator=g)
            total = 0.0
            for start in range(0, len(order), cfg.batch_size):
                x = x_all[order[start : start + cfg.batch_size], i : i + 1].to(device)
                mask = mvp_mask(len(x), x.shape[-1], cfg.mask_ratio, cfg.mask_span, g).to(device)
                with autocast(device, cfg.amp):
                    loss = mvp_loss(enc, x, mask)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                total += float(loss.detach()) * len(x)
            history[name].append(total / max(len(x_all), 1))
            log.info("MVP %s epoch %d: %.4f", name, epoch + 1, history[name][-1])
            if progress is not None:
                progress(f"pretrain {name}", (epoch + 1) / cfg.epochs_pretrain, {})
    return history


def train_family(
    config: Any,
    cfg: FamilyTrainConfig,
    data: SequenceDataset,
    unlabelled: np.ndarray | None = None,
    progress: Progress | None = None,
) -> tuple[nn.Module, dict[str, list[float]]]:
    """Train a DeepVANet, MVP Transformer or AViGaS model of ``config`` (module docstring).

    Parameters
    ----------
    unlabelled : ndarray (N, n_signals, bio_samples), optional — extra unlabelled segments for
        the Transformer's pre-training (e.g. recorded sessions), added to the training samples'

    Returns
    -------
    (model on the CPU in eval mode, loss history per stage)
    """
    seed_all(cfg.seed)
    device = pick_device(cfg.device)
    model = build(config).to(device)
    history: dict[str, list[float]] = {}
    if isinstance(model, MVPTransformer) and model.signal_encoders() and cfg.epochs_pretrain:
        own = np.stack([data.samples.bio(i) for i in range(len(data))])
        segs = (
            own if unlabelled is None or not len(unlabelled) else np.concatenate([own, unlabelled])
        )
        for name, h in pretrain_mvp(model, segs, cfg, device, progress).items():
            history[f"pretrain {name}"] = h
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.Adam(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    if isinstance(config, AViGaSConfig):
        lengths = [n for n in CURRICULUM if n < config.steps] + [config.steps]
    else:
        lengths = [0]
    per_stage = [
        cfg.epochs // len(lengths) + (k < cfg.epochs % len(lengths)) for k in range(len(lengths))
    ]
    history["train"] = []
    done, n_steps = 0, max(1, math.ceil(len(data) / cfg.batch_size))
    for steps, epochs in zip(lengths, per_stage, strict=True):
        for _ in range(epochs):
            model.train()
            total = 0.0
            for k, (face, bio, y) in enumerate(
                _loader(data, cfg.batch_size, cfg.seed + done, True)
            ):
                face = face_sequence_input(face, device)
                bio, y = bio.to(device), y.to(device)
                with autocast(device, cfg.amp):
                    out = model(face, bio, steps=steps) if steps else model(face, bio)
                    loss = family_loss(dict(out), y, cfg)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                total += float(loss.detach()) * len(y)
                if progress is not None:
                    frac = (done + (k + 1) / n_steps) / max(cfg.epochs, 1)
                    progress("train", frac, {"loss": float(loss.detach())})
            done += 1
            history["train"].append(total / max(len(data), 1))
            log.info("epoch %d/%d: loss %.4f", done, cfg.epochs, history["train"][-1])
    model = model.cpu().eval()
    if isinstance(model, DeepVANet) and model.sub_classifiers:
        fit_boosting(model, data)
    return model, history


@torch.no_grad()
def fit_boosting(model: DeepVANet, data: SequenceDataset, batch_size: int = 128) -> np.ndarray:
    """Fit a decision-level DeepVANet's AdaBoost weights on ``data``; returns them (2, 3)."""
    model.eval()
    probs: dict[str, list[np.ndarray]] = {"face": [], "bio": []}
    truth = []
    for face, bio, y in _loader(data, batch_size, 0, False):
        out = model(face_sequence_input(face, torch.device("cpu")), bio)
        for m in probs:
            probs[m].append(torch.sigmoid(out["parts"][m]["logits"]).numpy())
        truth.append(np.nan_to_num(y[:, :N_RATINGS].numpy()) > 0)
    scores = np.stack([np.concatenate(probs[m]) for m in ("face", "bio")])
    alpha = adaboost_weights(scores, np.concatenate(truth))
    boost = model.boost_alpha
    assert isinstance(boost, torch.Tensor)
    boost.copy_(torch.from_numpy(alpha).float())
    return alpha


@torch.no_grad()
def predict_family(
    model: nn.Module,
    data: SequenceDataset,
    batch_size: int = 64,
    device: str = "auto",
    amp: str = "auto",
) -> np.ndarray:
    """Model outputs for every sample on the rating scale (N, 10)."""
    dev = pick_device(device)
    model = model.to(dev).eval()
    outs = []
    for face, bio, _ in _loader(data, batch_size, 0, False):
        with autocast(dev, amp):
            out = model(face_sequence_input(face, dev), bio.to(dev))["out"]
        outs.append(out.float().cpu().numpy())
    model.cpu()
    return from_training_scale(np.concatenate(outs) if outs else np.zeros((0, 10), np.float32))
