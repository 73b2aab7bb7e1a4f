"""DeepVANet (paper 001, Zhang, Hossain, Rahman, INTERACT 2021) adapted to face + ECG + EDA.

Face branch: a 3-layer CNN (32, 64, 128 kernels of 3 x 3, each with ReLU and a 3 x 3 max-pool) on
every 64 x 64 crop of a sequence, a ConvLSTM over the sequence of 128 x 6 x 6 feature maps, and an
FC layer on its last hidden state giving the face features (lambda_1 = 16, the paper's grid-search
result). Bio branch: three Conv1D layers (kernels 5, 3, 3; 24, 16, 8 channels; each with batch norm
and ReLU) over the bio channels stacked, output 8 x (m - 8), and an FC layer giving the bio features
(lambda_2 = 64). Fusion: feature level (concatenation into a two-layer FC classifier) or decision
level (a sub-classifier per modality, combined with AdaBoost weights, :func:`adaboost_weights`).

Sizes the paper leaves open (the ConvLSTM width and kernel, the pooling stride, the classifier's
hidden width and dropout) are listed in ``core/models/cards/deepvanet.md``.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from core.models._init import he_uniform_
from core.models.heads import AffectHead, FamilyOutput, ModelInputs, check_sequence
from core.models.outputs import N_RATINGS

FUSIONS = ("feature", "decision")
MODALITIES = ("both", "face", "bio")


@dataclass(frozen=True)
class DeepVANetConfig:
    """Everything needed to rebuild a DeepVANet (stored in checkpoints).

    Attributes
    ----------
    face_size : int — side of the face crops, pixels (paper: 64)
    frames : int — crops per sample (paper: 1-s segments at 5 Hz, so 5)
    frame_rate_hz : float — rate of those crops, frames/s (paper: 5)
    bio_samples : int — bio segment length, samples (paper: 1 s at 128 Hz, so 128)
    bio_rate_hz : float — Hz (paper: 128)
    signals : tuple of str — bio channels (ours: ECG and EDA; paper: 32 EEG + peripheral)
    face_channels : tuple of int — CNN kernels per layer (paper: 32, 64, 128)
    convlstm_hidden, convlstm_kernel : int — ConvLSTM state channels and kernel (open)
    face_features, bio_features : int — lambda_1 and lambda_2 (paper: 16 and 64)
    bio_channels, bio_kernels : tuple of int — Conv1D layers (paper: 24/16/8, kernels 5/3/3)
    classifier_hidden : int — hidden width of the two-layer FC classifier (open)
    dropout : float — dropout in the classifier (open)
    fusion : str — ``"feature"`` or ``"decision"``
    modalities : str — ``"both"``, ``"face"`` or ``"bio"`` (the paper's ablation)
    """

    face_size: int = 64
    frames: int = 5
    frame_rate_hz: float = 5.0
    bio_samples: int = 128
    bio_rate_hz: float = 128.0
    signals: tuple[str, ...] = ("ECG", "EDA")
    face_channels: tuple[int, ...] = (32, 64, 128)
    convlstm_hidden: int = 128
    convlstm_kernel: int = 3
    face_features: int = 16
    bio_features: int = 64
    bio_channels: tuple[int, ...] = (24, 16, 8)
    bio_kernels: tuple[int, ...] = (5, 3, 3)
    classifier_hidden: int = 20
    dropout: float = 0.5
    fusion: str = "feature"
    modalities: str = "both"

    def __post_init__(self) -> None:
        if self.fusion not in FUSIONS:
            raise ValueError(f"fusion must be one of {FUSIONS}, not {self.fusion!r}")
        if self.modalities not in MODALITIES:
            raise ValueError(f"modalities must be one of {MODALITIES}, not {self.modalities!r}")
        if self.fusion == "decision" and self.modalities != "both":
            raise ValueError("decision-level fusion needs both modalities")
        if len(self.face_channels) != 3 or len(self.bio_channels) != len(self.bio_kernels):
            raise ValueError("three face conv layers; one bio kernel per bio conv layer")
        if face_map_size(self.face_size, len(self.face_channels)) < 1:
            raise ValueError(f"face_size {self.face_size} is too small for the face CNN")
        if self.bio_samples - sum(k - 1 for k in self.bio_kernels) < 1:
            raise ValueError(f"bio_samples {self.bio_samples} is too short for the bio CNN")

    @property
    def uses_face(self) -> bool:
        return self.modalities in ("both", "face")

    @property
    def uses_bio(self) -> bool:
        return self.modalities in ("both", "bio")

    @property
    def inputs(self) -> ModelInputs:
        return ModelInputs(
            "sequence",
            self.face_size,
            self.frames,
            self.frame_rate_hz,
            self.bio_samples,
            self.bio_rate_hz,
            self.signals,
        )

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        return {k: list(v) if isinstance(v, tuple) else v for k, v in d.items()}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> DeepVANetConfig:
        names = {f for f in cls.__dataclass_fields__}
        extra = sorted(set(d) - names)
        if extra:
            raise ValueError(f"unknown DeepVANet config keys: {extra}")
        kw: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v for k, v in d.items()}
        return cls(**kw)


def face_map_size(face_size: int, layers: int = 3) -> int:
    """Side of the face CNN's last feature map for ``face_size`` crops (64 → 6, as in the paper).

    Each layer: 3 x 3 conv (no padding for the first two, padding 1 for the third), then a 3 x 3
    max-pool with stride 2.
    """
    s = face_size
    for i in range(layers):
        s = s - 2 if i < 2 else s
        s = (s - 3) // 2 + 1
    return s


def bio_conv_length(samples: int, kernels: tuple[int, ...] = (5, 3, 3)) -> int:
    """Length after the bio Conv1D layers (no padding): m - 8 for the paper's kernels."""
    return samples - sum(k - 1 for k in kernels)


class ConvLSTM(nn.Module):
    """A single-layer ConvLSTM (Shi et al. 2015; the paper's gate equations); returns the last h.

    Input (N, T, C, H, W); output (N, hidden, H, W).
    """

    def __init__(self, in_channels: int, hidden: int, kernel: int = 3) -> None:
        super().__init__()
        self.hidden = hidden
        # one convolution computes the input, forget, output and cell gates from [x_t; h_{t-1}]
        self.gates = nn.Conv2d(in_channels + hidden, 4 * hidden, kernel, padding=kernel // 2)

    def forward(self, x: Tensor) -> Tensor:
        n, t, _, h, w = x.shape
        hs = x.new_zeros(n, self.hidden, h, w)
        cs = x.new_zeros(n, self.hidden, h, w)
        for step in range(t):
            i, f, o, g = self.gates(torch.cat([x[:, step], hs], dim=1)).chunk(4, dim=1)
            cs = torch.sigmoid(f) * cs + torch.sigmoid(i) * torch.tanh(g)
            hs = torch.sigmoid(o) * torch.tanh(cs)
        return hs


class FaceBranch(nn.Module):
    """CNN per crop → ConvLSTM over the sequence → FC: (N, T, 3, S, S) → (N, face_features)."""

    def __init__(self, config: DeepVANetConfig) -> None:
        super().__init__()
        c1, c2, c3 = config.face_channels
        self.cnn = nn.Sequential(
            nn.Conv2d(3, c1, 3),
            nn.ReLU(),
            nn.MaxPool2d(3, stride=2),
            nn.Conv2d(c1, c2, 3),
            nn.ReLU(),
            nn.MaxPool2d(3, stride=2),
            nn.Conv2d(c2, c3, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(3, stride=2),
        )
        self.map_size = face_map_size(config.face_size)
        self.rnn = ConvLSTM(c3, config.convlstm_hidden, config.convlstm_kernel)
        self.fc = nn.Linear(config.convlstm_hidden * self.map_size**2, config.face_features)
        he_uniform_(self)

    def forward(self, face: Tensor) -> Tensor:
        n, t = face.shape[:2]
        maps = self.cnn(face.flatten(0, 1))
        maps = maps.view(n, t, *maps.shape[1:])
        out: Tensor = self.fc(self.rnn(maps).flatten(1))
        return out


class BioBranch(nn.Module):
    """Conv1D x 3 (batch norm, ReLU) → FC: (N, n_signals, m) → (N, bio_features)."""

    def __init__(self, config: DeepVANetConfig) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        c_in = len(config.signals)
        for c_out, k in zip(config.bio_channels, config.bio_kernels, strict=True):
            layers += [nn.Conv1d(c_in, c_out, k), nn.BatchNorm1d(c_out), nn.ReLU()]
            c_in = c_out
        self.cnn = nn.Sequential(*layers)
        self.conv_length = bio_conv_length(config.bio_samples, config.bio_kernels)
        self.fc = nn.Linear(c_in * self.conv_length, config.bio_features)
        he_uniform_(self)

    def forward(self, bio: Tensor) -> Tensor:
        out: Tensor = self.fc(self.cnn(bio).flatten(1))
        return out


class DeepVANet(nn.Module):
    """DeepVANet with feature- or decision-level fusion; build it with :func:`build_deepvanet`.

    ``forward(face, bio)`` takes face (N, frames, 3, S, S) normalised crops and bio
    (N, n_signals, bio_samples) scaled segments; returns :class:`FamilyOutput` with ``out`` and
    ``logits`` (for decision-level fusion also ``parts``: each sub-classifier's own outputs).
    """

    def __init__(self, config: DeepVANetConfig) -> None:
        super().__init__()
        self.config = config
        self.face = FaceBranch(config) if config.uses_face else None
        self.bio = BioBranch(config) if config.uses_bio else None
        hidden = (config.classifier_hidden,)
        self.classifier: AffectHead | None = None
        self.sub_classifiers = nn.ModuleDict()
        if config.fusion == "feature":
            width = config.face_features * config.uses_face + config.bio_features * config.uses_bio
            self.classifier = AffectHead(width, hidden, config.dropout)
        else:
            self.sub_classifiers["face"] = AffectHead(config.face_features, hidden, config.dropout)
            self.sub_classifiers["bio"] = AffectHead(config.bio_features, hidden, config.dropout)
        # AdaBoost weights of the sub-classifiers per high/low label, (n_modalities, 3); equal
        # until :func:`adaboost_weights` has been fitted on training data
        self.register_buffer("boost_alpha", torch.ones(2, N_RATINGS))

    def features(self, face: Tensor | None, bio: Tensor | None) -> dict[str, Tensor]:
        """Each modality's feature vector: ``{"face": (N, 16), "bio": (N, 64)}``."""
        check_sequence(face if self.face else None, bio if self.bio else None, self.config.inputs)
        feats = {}
        if self.face is not None:
            if face is None:
                raise ValueError("this DeepVANet needs a face sequence")
            feats["face"] = self.face(face)
        if self.bio is not None:
            if bio is None:
                raise ValueError("this DeepVANet needs a bio segment")
            feats["bio"] = self.bio(bio)
        return feats

    def forward(self, face: Tensor | None = None, bio: Tensor | None = None) -> FamilyOutput:
        feats = self.features(face, bio)
        if self.classifier is not None:
            return self.classifier(torch.cat(list(feats.values()), dim=1))
        parts = {name: self.sub_classifiers[name](feats[name]) for name in ("face", "bio")}
        boost = self.boost_alpha
        assert isinstance(boost, Tensor)
        alpha = boost.clamp(min=0.0)
        w = alpha / alpha.sum(dim=0, keepdim=True).clamp(min=1e-6)  # (2, 3)
        # fused score: the weighted mean of the sub-classifiers' probabilities (as a logit)
        prob = sum(w[i] * torch.sigmoid(parts[m]["logits"]) for i, m in enumerate(parts))
        assert isinstance(prob, Tensor)
        prob = prob.clamp(1e-6, 1 - 1e-6)
        wo = w.mean(dim=1)  # the regression outputs: each sub-classifier's mean label weight
        out = sum(wo[i] * parts[m]["out"] for i, m in enumerate(parts))
        assert isinstance(out, Tensor)
        return {"out": out, "logits": torch.log(prob / (1 - prob)), "parts": parts}


def adaboost_weights(scores: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """AdaBoost weights of the sub-classifiers (paper 001, decision-level fusion).

    Sample weights start uniform; each sub-classifier in turn gets alpha = ½ ln((1 − e) / e) from
    its weighted error e, and the weights of the samples it got wrong grow by e^alpha, those it got
    right shrink by e^-alpha (Freund and Schapire 1996).

    Parameters
    ----------
    scores : ndarray (n_modalities, N, L) — each sub-classifier's probability of "high", per label
    truth : ndarray (N, L) bool — the true high/low labels

    Returns
    -------
    ndarray (n_modalities, L) — alpha per sub-classifier and label (≥ 0)
    """
    m, n, n_labels = scores.shape
    alphas = np.zeros((m, n_labels))
    for j in range(n_labels):
        w = np.full(n, 1.0 / max(n, 1))
        for i in range(m):
            wrong = (scores[i, :, j] > 0.5) != truth[:, j]
            err = float(np.clip(np.sum(w[wrong]) / max(np.sum(w), 1e-12), 1e-6, 1 - 1e-6))
            alphas[i, j] = max(0.0, 0.5 * math.log((1 - err) / err))
            w = w * np.exp(np.where(wrong, alphas[i, j], -alphas[i, j]))
            w /= max(np.sum(w), 1e-12)
    # a label where no sub-classifier beats chance keeps equal weights
    alphas[:, alphas.sum(axis=0) == 0] = 1.0
    return alphas


def build_deepvanet(config: DeepVANetConfig) -> DeepVANet:
    """A freshly initialised DeepVANet for ``config``."""
    return DeepVANet(config)
