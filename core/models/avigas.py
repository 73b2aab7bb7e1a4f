"""AViGaS-style gated fusion (paper 004, Aspandi et al., AViGaS-Net) adapted to face + bio.

Per step of a sequence (one face crop and the bio chunk of the same second): each modality's
encoder gives a latent Z, a quadrant estimator gives a first, coarse circumplex quadrant Q from it,
and the two are concatenated, ZQ = [Z; softmax(Q)] (the paper's quadrant conditioning). A gated
multimodal unit (GMU, Arevalo et al.; paper Eqs. 5–8) fuses the face and bio ZQ:

    h_v = tanh(W_v ZQ_face), h_s = tanh(W_s ZQ_bio), z = σ(W_z [ZQ_face; ZQ_bio]),
    ZQ_gate = z ⊙ h_v + (1 − z) ⊙ h_s.

An LSTM runs over the sequence of fused latents (up to n = 8 steps, Eq. 9); location-based attention
(Eq. 11) over the combined states S_n = [h_n; c_n] of the steps gives a context vector (Eq. 12),
and an FC layer on [S_t; CV] gives the final estimates at the last step: the 10 outputs, the
high/low logits and the refined quadrant. Training follows a curriculum over sequence length
(2, 4, 8 steps: :data:`CURRICULUM`). What we left out (the adversarial generator/discriminator
and the denoising inputs) and every size the paper leaves open are in ``core/models/cards/avigas.md``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import Tensor, nn

from core.models._init import he_uniform_
from core.models.heads import N_QUADRANTS, FamilyOutput, ModelInputs, check_sequence
from core.models.outputs import N_RATINGS, OUTPUT_NAMES
from core.models.spatial import BACKBONES, SpatialNetwork

#: sequence lengths of the curriculum (paper: "multi-stage transfer learning from 2, 4, and 8")
CURRICULUM = (2, 4, 8)


@dataclass(frozen=True)
class AViGaSConfig:
    """Everything needed to rebuild the model (stored in checkpoints).

    Attributes
    ----------
    steps : int — sequence length n (paper: up to 8)
    step_s : float — seconds between steps; each step's bio chunk is that long (open)
    face_size : int — side of the face crops, pixels
    bio_rate_hz : float — Hz
    signals : tuple of str — bio channels, stacked into one bio encoder
    face_backbone, face_weights : str — the face encoder (a Spatial Network)
    latent : int — size of Z per modality (open)
    bio_channels : tuple of int — the bio encoder's Conv1D channels (open)
    gmu : int — size of the fused ZQ_gate (open)
    lstm_hidden : int — LSTM hidden size (open)
    fusion : str — ``"gate"`` (AViGaS) or ``"concat"`` (the paper's AVi-CaS baseline)
    """

    steps: int = 8
    step_s: float = 1.0
    face_size: int = 112
    bio_rate_hz: float = 128.0
    signals: tuple[str, ...] = ("ECG", "EDA")
    face_backbone: str = "small"
    face_weights: str = "none"
    latent: int = 64
    bio_channels: tuple[int, ...] = (16, 32, 64)
    gmu: int = 64
    lstm_hidden: int = 64
    fusion: str = "gate"

    def __post_init__(self) -> None:
        if self.face_backbone not in BACKBONES:
            raise ValueError(f"face_backbone must be one of {BACKBONES}")
        if self.fusion not in ("gate", "concat"):
            raise ValueError(f"fusion must be 'gate' or 'concat', not {self.fusion!r}")
        if self.steps < 1 or self.chunk < 8:
            raise ValueError("need at least one step and 8 bio samples per step")

    @property
    def modalities(self) -> str:
        """Always ``"both"``: the gate fuses the face and the bio signals."""
        return "both"

    @property
    def chunk(self) -> int:
        """Bio samples per step."""
        return int(round(self.step_s * self.bio_rate_hz))

    @property
    def inputs(self) -> ModelInputs:
        return ModelInputs(
            "sequence",
            self.face_size,
            self.steps,
            1.0 / self.step_s,
            self.steps * self.chunk,
            self.bio_rate_hz,
            self.signals,
        )

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        return {k: list(v) if isinstance(v, tuple) else v for k, v in d.items()}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> AViGaSConfig:
        extra = sorted(set(d) - set(cls.__dataclass_fields__))
        if extra:
            raise ValueError(f"unknown AViGaS config keys: {extra}")
        kw: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v for k, v in d.items()}
        return cls(**kw)


class GatedMultimodalUnit(nn.Module):
    """GMU (paper 004 Eqs. 5–8): a learned, per-feature gate between two modalities."""

    def __init__(self, in_a: int, in_b: int, out: int) -> None:
        super().__init__()
        self.w_v = nn.Linear(in_a, out, bias=False)
        self.w_s = nn.Linear(in_b, out, bias=False)
        self.w_z = nn.Linear(in_a + in_b, out, bias=False)

    def forward(self, a: Tensor, b: Tensor) -> tuple[Tensor, Tensor]:
        """Fused (…, out) and the gate z (…, out): z near 1 trusts ``a`` (face), near 0 ``b``."""
        z = torch.sigmoid(self.w_z(torch.cat([a, b], dim=-1)))
        return z * torch.tanh(self.w_v(a)) + (1 - z) * torch.tanh(self.w_s(b)), z


class BioStepEncoder(nn.Module):
    """One step's bio chunk (N, n_signals, chunk) → latent (N, latent)."""

    def __init__(self, n_signals: int, channels: tuple[int, ...], latent: int) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        c_in = n_signals
        for c in channels:
            layers += [nn.Conv1d(c_in, c, 5, padding=2), nn.ReLU(), nn.MaxPool1d(2)]
            c_in = c
        self.net = nn.Sequential(*layers, nn.AdaptiveAvgPool1d(1), nn.Flatten(1))
        self.fc = nn.Linear(c_in, latent)
        he_uniform_(self)

    def forward(self, x: Tensor) -> Tensor:
        out: Tensor = torch.relu(self.fc(self.net(x)))
        return out


class AViGaS(nn.Module):
    """Gated face + bio fusion, LSTM with attention; build with :func:`build_avigas`.

    ``forward(face, bio, steps=None)`` takes face (N, steps, 3, S, S) and bio
    (N, n_signals, steps · chunk); ``steps`` (≤ the configured steps) uses only the last ones,
    which is how the curriculum trains on shorter sequences. Returns ``out``, ``logits``,
    ``quadrant`` (the refined estimate), ``parts`` (each modality's coarse quadrant as
    ``{"face": {"quadrant": …}, "bio": {…}}``) and ``gate`` (N, steps, gmu).
    """

    def __init__(self, config: AViGaSConfig) -> None:
        super().__init__()
        self.config = config
        self.spatial = SpatialNetwork(config.face_backbone, config.face_weights, config.face_size)
        self.face_latent = nn.Linear(self.spatial.out_features, config.latent)
        self.bio_encoder = BioStepEncoder(len(config.signals), config.bio_channels, config.latent)
        self.quadrant_face = nn.Linear(config.latent, N_QUADRANTS)
        self.quadrant_bio = nn.Linear(config.latent, N_QUADRANTS)
        zq = config.latent + N_QUADRANTS
        self.gmu: GatedMultimodalUnit | None = None
        if config.fusion == "gate":
            self.gmu = GatedMultimodalUnit(zq, zq, config.gmu)
            fused = config.gmu
        else:
            fused = 2 * zq
        self.lstm = nn.LSTMCell(fused, config.lstm_hidden)
        state = 2 * config.lstm_hidden  # S = [h; c]
        self.attention = nn.Linear(state, 1)  # location-based alignment, Eq. 11
        self.regress = nn.Linear(2 * state, len(OUTPUT_NAMES))
        self.logit = nn.Linear(2 * state, N_RATINGS)
        self.quadrant = nn.Linear(2 * state, N_QUADRANTS)
        he_uniform_(self.face_latent)
        for head in (self.quadrant_face, self.quadrant_bio, self.regress, self.logit):
            he_uniform_(head, linear_output=head)

    def forward(
        self, face: Tensor | None = None, bio: Tensor | None = None, steps: int | None = None
    ) -> FamilyOutput:
        cfg = self.config
        if face is None or bio is None:
            raise ValueError("AViGaS needs both a face sequence and a bio segment")
        n = check_sequence(face, bio, cfg.inputs)
        t = cfg.steps if steps is None else steps
        if not 1 <= t <= cfg.steps:
            raise ValueError(f"steps must be in 1..{cfg.steps}, not {t}")
        face = face[:, cfg.steps - t :]
        chunks = bio[:, :, (cfg.steps - t) * cfg.chunk :].reshape(n, -1, t, cfg.chunk)
        z_face = torch.relu(self.face_latent(self.spatial(face.flatten(0, 1)))).view(n, t, -1)
        z_bio = self.bio_encoder(chunks.permute(0, 2, 1, 3).flatten(0, 1)).view(n, t, -1)
        q_face, q_bio = self.quadrant_face(z_face), self.quadrant_bio(z_bio)
        zq_face = torch.cat([z_face, q_face.softmax(-1)], dim=-1)
        zq_bio = torch.cat([z_bio, q_bio.softmax(-1)], dim=-1)
        if self.gmu is not None:
            fused, gate = self.gmu(zq_face, zq_bio)
        else:
            fused, gate = torch.cat([zq_face, zq_bio], dim=-1), zq_face.new_zeros(n, t, 0)
        h = fused.new_zeros(n, cfg.lstm_hidden)
        c = fused.new_zeros(n, cfg.lstm_hidden)
        states = []
        for step in range(t):
            h, c = self.lstm(fused[:, step], (h, c))
            states.append(torch.cat([h, c], dim=-1))
        s = torch.stack(states, dim=1)  # (N, t, 2·hidden)
        a = torch.softmax(self.attention(s), dim=1)  # (N, t, 1)
        context = (a * s).sum(dim=1) / t  # Eq. 12 divides the weighted sum by n
        final = torch.cat([s[:, -1], context], dim=-1)
        return {
            "out": self.regress(final),
            "logits": self.logit(final),
            "quadrant": self.quadrant(final),
            "parts": {"face": {"quadrant": q_face[:, -1]}, "bio": {"quadrant": q_bio[:, -1]}},
            "gate": gate,
        }


def build_avigas(config: AViGaSConfig) -> AViGaS:
    """A freshly initialised AViGaS model."""
    return AViGaS(config)
