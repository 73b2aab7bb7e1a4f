"""Pre-trained multimodal Transformer (paper 003, Vazquez-Rodriguez et al., ACII 2022), face + ECG + EDA.

One single-modality recognizer per signal: a 1D-CNN embeds the raw signal (kernels 65, 33, 17;
64, 128, 256 channels; stride 1; ReLU; receptive field 113 samples), a learned CLS token is put in
front, a Transformer encoder (2 layers, 2 heads, hidden size 256, dropout 0.1) contextualises the
sequence. Pre-training (masked value prediction, MVP): values of the input are masked and an FCN
(hidden 128, ReLU) predicts them from the Transformer's outputs (:func:`mvp_loss`), on unlabelled
signal. Fine-tuning: the CLS output goes through an FCN (hidden 64, ReLU, dropout 0.6). Late fusion:
the last hidden layers of the per-modality FCNs are concatenated into an FCN (hidden 64 and 32,
dropout 0.1). The face is one more modality: a face encoder per frame (a Spatial Network, frozen or
fine-tuned) gives one token per frame to its own Transformer.

Inputs: 10-second segments (1280 samples at 128 Hz) filtered as in the paper (ECG low-pass 60 Hz,
:func:`filter_segment`; EDA, which the paper does not use, low-pass 1 Hz). Everything the paper
leaves open is listed in ``core/models/cards/transformer.md``.
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
from core.models.spatial import BACKBONES, SpatialNetwork

MODALITIES = ("both", "face", "bio")

#: low-pass cut-off per signal (Hz): ECG as in the paper (60 Hz; at 128 Hz that is just below the
#: Nyquist frequency of 64 Hz), EDA our choice (its responses are slower than 1 Hz)
LOWPASS_HZ = {"ECG": 60.0, "EDA": 1.0}


@dataclass(frozen=True)
class MVPTransformerConfig:
    """Everything needed to rebuild the model (stored in checkpoints).

    Attributes
    ----------
    segment_s : float — segment length, seconds (paper: 10)
    bio_rate_hz : float — Hz (paper: AMIGOS' 128)
    signals : tuple of str — one recognizer per signal
    frames, face_size : int — face crops per segment and their side (pixels); the paper has no face
    cnn_kernels, cnn_channels : tuple of int — the embedding 1D-CNN (paper: 65/33/17, 64/128/256)
    token_pool : int — average-pool the CNN output over this many samples per token (paper: 1)
    layers, heads : int — Transformer depth and heads (paper: 2 and 2); width = cnn_channels[-1]
    feedforward : int — Transformer feed-forward width (open)
    dropout : float — in the Transformer (paper: 0.1)
    mvp_hidden : int — hidden width of the masked-value predictor (paper: 128)
    head_hidden, head_dropout — the fine-tuning FCN (paper: 64, 0.6)
    fusion_hidden, fusion_dropout — the late-fusion FCN (paper: 64 and 32, 0.1)
    face_backbone, face_weights : str — the face encoder (a Spatial Network backbone and weights)
    freeze_face : bool — keep the face encoder's weights fixed while fine-tuning
    modalities : str — ``"both"``, ``"face"`` or ``"bio"``
    """

    segment_s: float = 10.0
    bio_rate_hz: float = 128.0
    signals: tuple[str, ...] = ("ECG", "EDA")
    frames: int = 10
    face_size: int = 112
    cnn_kernels: tuple[int, ...] = (65, 33, 17)
    cnn_channels: tuple[int, ...] = (64, 128, 256)
    token_pool: int = 1
    layers: int = 2
    heads: int = 2
    feedforward: int = 1024
    dropout: float = 0.1
    mvp_hidden: int = 128
    head_hidden: int = 64
    head_dropout: float = 0.6
    fusion_hidden: tuple[int, ...] = (64, 32)
    fusion_dropout: float = 0.1
    face_backbone: str = "resnet18"
    face_weights: str = "imagenet"
    freeze_face: bool = True
    modalities: str = "both"

    def __post_init__(self) -> None:
        if self.modalities not in MODALITIES:
            raise ValueError(f"modalities must be one of {MODALITIES}, not {self.modalities!r}")
        if self.face_backbone not in BACKBONES:
            raise ValueError(f"face_backbone must be one of {BACKBONES}")
        if len(self.cnn_kernels) != len(self.cnn_channels) or not self.cnn_channels:
            raise ValueError("one channel count per CNN kernel")
        if self.cnn_channels[-1] % self.heads:
            raise ValueError("the Transformer width must be divisible by the number of heads")
        if self.bio_samples % self.token_pool:
            raise ValueError("the segment length must be a multiple of token_pool")

    @property
    def bio_samples(self) -> int:
        return int(round(self.segment_s * self.bio_rate_hz))

    @property
    def width(self) -> int:
        return self.cnn_channels[-1]

    @property
    def receptive_field(self) -> int:
        """Input samples one CNN output sees (paper: 113, 0.88 s at 128 Hz)."""
        return 1 + sum(k - 1 for k in self.cnn_kernels)

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
            self.frames / self.segment_s,
            self.bio_samples,
            self.bio_rate_hz,
            self.signals,
        )

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        return {k: list(v) if isinstance(v, tuple) else v for k, v in d.items()}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> MVPTransformerConfig:
        extra = sorted(set(d) - set(cls.__dataclass_fields__))
        if extra:
            raise ValueError(f"unknown Transformer config keys: {extra}")
        kw: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v for k, v in d.items()}
        return cls(**kw)


def positional_encoding(length: int, width: int) -> Tensor:
    """Sinusoidal positions (Vaswani et al. 2017), (length, width)."""
    pos = torch.arange(length, dtype=torch.float32)[:, None]
    div = torch.exp(torch.arange(0, width, 2, dtype=torch.float32) * (-math.log(10000.0) / width))
    pe = torch.zeros(length, width)
    pe[:, 0::2] = torch.sin(pos * div)
    pe[:, 1::2] = torch.cos(pos * div)
    return pe


class ContextEncoder(nn.Module):
    """CLS token + positions + Transformer encoder over a token sequence (N, L, width)."""

    def __init__(self, config: MVPTransformerConfig, max_tokens: int) -> None:
        super().__init__()
        w = config.width
        self.cls = nn.Parameter(torch.zeros(1, 1, w))
        nn.init.normal_(self.cls, std=0.02)
        self.register_buffer("pos", positional_encoding(max_tokens + 1, w), persistent=False)
        layer = nn.TransformerEncoderLayer(
            w, config.heads, config.feedforward, config.dropout, batch_first=True
        )
        self.transformer = nn.TransformerEncoder(layer, config.layers, enable_nested_tensor=False)

    def forward(self, tokens: Tensor) -> Tensor:
        """(N, L, width) → (N, L + 1, width); position 0 is the CLS token's output."""
        x = torch.cat([self.cls.expand(tokens.shape[0], -1, -1), tokens], dim=1)
        pos = self.pos
        assert isinstance(pos, Tensor)
        out: Tensor = self.transformer(x + pos[: x.shape[1]])
        return out


class SignalEncoder(nn.Module):
    """One signal's 1D-CNN + Transformer, with the MVP predictor used in pre-training."""

    def __init__(self, config: MVPTransformerConfig, in_channels: int = 1) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        c_in = in_channels
        for k, c in zip(config.cnn_kernels, config.cnn_channels, strict=True):
            layers += [nn.Conv1d(c_in, c, k, padding=k // 2), nn.ReLU()]  # stride 1, length kept
            c_in = c
        self.cnn = nn.Sequential(*layers)
        self.pool = nn.AvgPool1d(config.token_pool) if config.token_pool > 1 else nn.Identity()
        self.token_pool = config.token_pool
        self.in_channels = in_channels
        self.context = ContextEncoder(config, config.bio_samples // config.token_pool)
        # masked value prediction: per token, the token_pool values of each input channel
        self.mvp = nn.Sequential(
            nn.Linear(config.width, config.mvp_hidden),
            nn.ReLU(),
            nn.Linear(config.mvp_hidden, in_channels * config.token_pool),
        )
        he_uniform_(self.cnn)
        he_uniform_(self.mvp, linear_output=self.mvp[-1])

    def forward(self, x: Tensor) -> Tensor:
        """(N, C, L) signal → (N, L / token_pool + 1, width) contextual tokens (CLS first)."""
        tokens = self.pool(self.cnn(x)).transpose(1, 2)
        out: Tensor = self.context(tokens)
        return out

    def predict_masked(self, x: Tensor, mask: Tensor) -> Tensor:
        """Predict every value of ``x`` (N, C, L) with the values where ``mask`` (N, L) is True
        zeroed; returns (N, C, L)."""
        hidden = self.forward(x.masked_fill(mask[:, None, :], 0.0))[:, 1:]
        n, t, _ = hidden.shape
        pred = self.mvp(hidden).view(n, t, self.in_channels, self.token_pool)
        return pred.permute(0, 2, 1, 3).reshape(n, self.in_channels, t * self.token_pool)


def mvp_mask(
    n: int,
    length: int,
    ratio: float = 0.15,
    span: int = 16,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Which samples MVP masks: about ``ratio`` of each row, in spans of ``span`` samples.

    The same spans are masked in every channel of a sample (paper 003, Sec. 3.3).

    Returns
    -------
    Tensor (n, length) bool
    """
    n_spans = max(1, int(round(ratio * length / span)))
    starts = torch.randint(0, max(1, length - span + 1), (n, n_spans), generator=generator)
    idx = (starts[:, :, None] + torch.arange(span)[None, None, :]).clamp(max=length - 1)
    mask = torch.zeros(n, length, dtype=torch.bool)
    mask.scatter_(1, idx.flatten(1), True)
    return mask


def mvp_loss(encoder: SignalEncoder, x: Tensor, mask: Tensor) -> Tensor:
    """Mean squared error of the predicted values at the masked samples (paper 003's MVP loss)."""
    pred = encoder.predict_masked(x, mask)
    m = mask[:, None, :].expand_as(x)
    return nn.functional.mse_loss(pred[m].float(), x[m].float())


class FaceEncoder(nn.Module):
    """Face crops (N, T, 3, S, S) → one token per frame → Transformer (N, T + 1, width)."""

    def __init__(self, config: MVPTransformerConfig) -> None:
        super().__init__()
        self.spatial = SpatialNetwork(config.face_backbone, config.face_weights, config.face_size)
        self.project = nn.Linear(self.spatial.out_features, config.width)
        self.context = ContextEncoder(config, config.frames)
        self.frozen = config.freeze_face
        if self.frozen:
            self.spatial.requires_grad_(False)
        he_uniform_(self.project, linear_output=self.project)

    def forward(self, face: Tensor) -> Tensor:
        n, t = face.shape[:2]
        if self.frozen:
            self.spatial.eval()  # frozen: batch-norm statistics stay as loaded
            with torch.no_grad():
                feats = self.spatial(face.flatten(0, 1))
        else:
            feats = self.spatial(face.flatten(0, 1))
        out: Tensor = self.context(self.project(feats).view(n, t, -1))
        return out


class MVPTransformer(nn.Module):
    """Late fusion of per-modality pre-trainable Transformers; build with :func:`build_transformer`.

    Attributes
    ----------
    encoders : nn.ModuleDict — ``"face"`` (if used) and one :class:`SignalEncoder` per signal
    heads : nn.ModuleDict — each modality's fine-tuning FCN (:class:`AffectHead`, hidden 64)
    fusion : AffectHead — the late-fusion FCN over the heads' concatenated hidden layers
    """

    def __init__(self, config: MVPTransformerConfig) -> None:
        super().__init__()
        self.config = config
        self.encoders = nn.ModuleDict()
        if config.uses_face:
            self.encoders["face"] = FaceEncoder(config)
        if config.uses_bio:
            for name in config.signals:
                self.encoders[name] = SignalEncoder(config, 1)
        self.heads = nn.ModuleDict(
            {
                name: AffectHead(config.width, (config.head_hidden,), config.head_dropout)
                for name in self.encoders
            }
        )
        self.fusion = AffectHead(
            config.head_hidden * len(self.encoders), config.fusion_hidden, config.fusion_dropout
        )

    def signal_encoders(self) -> dict[str, SignalEncoder]:
        """The pre-trainable encoders, by signal name."""
        return {k: m for k, m in self.encoders.items() if isinstance(m, SignalEncoder)}

    def forward(self, face: Tensor | None = None, bio: Tensor | None = None) -> FamilyOutput:
        cfg = self.config
        check_sequence(face if cfg.uses_face else None, bio if cfg.uses_bio else None, cfg.inputs)
        parts: dict[str, Any] = {}
        hidden = []
        for name, enc in self.encoders.items():
            if name == "face":
                if face is None:
                    raise ValueError("this model needs a face sequence")
                cls = enc(face)[:, 0]
            else:
                if bio is None:
                    raise ValueError("this model needs a bio segment")
                i = cfg.signals.index(name)
                cls = enc(bio[:, i : i + 1])[:, 0]
            head = self.heads[name]
            assert isinstance(head, AffectHead)
            parts[name] = head(cls)
            hidden.append(head.hidden(cls))
        fused = self.fusion(torch.cat(hidden, dim=1))
        return {"out": fused["out"], "logits": fused["logits"], "parts": parts}


def filter_segment(signal: np.ndarray, name: str, rate_hz: float) -> np.ndarray:
    """The paper's filtering of one signal (1-D, samples at ``rate_hz``): a zero-phase 4th-order
    Butterworth low-pass at :data:`LOWPASS_HZ` (ECG 60 Hz as in paper 003); cut-offs at or above
    the Nyquist frequency leave the signal as it is. Unknown signal names are returned unchanged."""
    from scipy.signal import butter, sosfiltfilt

    cut = LOWPASS_HZ.get(name.upper())
    x = np.asarray(signal, dtype=np.float64)
    if cut is None or cut >= rate_hz / 2 or len(x) < 30:
        return x.astype(np.float32)
    sos = butter(4, cut, btype="low", fs=rate_hz, output="sos")
    return sosfiltfilt(sos, x).astype(np.float32)


def build_transformer(config: MVPTransformerConfig) -> MVPTransformer:
    """A freshly initialised model (the face backbone's weights fetched if asked)."""
    return MVPTransformer(config)
