"""BMMN, BMMN-BAE-1 and BMMN-BAE-2 (paper Sec. III-B/C) built from one :class:`BMMNConfig`.

Fusion order (the concatenation fed to the bottleneck), for signals ("ECG", "EDA"):

* ``"bmmn"``: face, bio_ECG, bio_EDA
* ``"bae1"``: face, z_ECG, z_EDA (z *replaces* the Bio Network features)
* ``"bae2"``: face, bio_ECG, bio_EDA, z_ECG, z_EDA (z *beside* them; the product's model)

Modalities ``"face"`` and ``"bio"`` (the paper's ablation, Table III) leave the other branch out of
the model entirely; with ``"face"`` the variant makes no difference as there is no bio branch.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypedDict

import torch
from torch import Tensor, nn

from core.models._init import he_uniform_
from core.models.bio import BIO_WINDOW, LATENT_SIZE, BioAutoEncoder, BioNetwork
from core.models.outputs import OUTPUT_NAMES
from core.models.spatial import BACKBONES, SpatialNetwork

VARIANTS = ("bmmn", "bae1", "bae2")
MODALITIES = ("both", "face", "bio")


@dataclass(frozen=True)
class BMMNConfig:
    """Everything needed to rebuild a model; stored in checkpoints.

    Attributes
    ----------
    variant
        ``"bmmn"``, ``"bae1"`` or ``"bae2"`` (default, the product's model).
    backbone
        Spatial backbone: ``"resnet50"`` (paper), ``"resnet18"`` or ``"small"``.
    backbone_weights
        ``"imagenet"``, ``"none"`` or a path to a torchvision-format state dict; only used when a
        model is built fresh (a checkpoint brings its own weights).
    face_size
        Side of the square face crop, pixels (224 for the ResNets; 112 suits ``"small"``).
    modalities
        ``"both"``, ``"face"`` or ``"bio"``.
    bottleneck
        Width of the FC bottleneck between fusion and output. The paper does not give it; 512 is
        our choice (between the 10 outputs and the 7,000-odd fused features) and is open to tuning.
    dropout
        Dropout probability after the bottleneck's ReLU (0 disables it).
    bio_window
        Bio window length, samples (1000 in the paper).
    bio_rate_hz
        Sampling rate of the bio signals the model expects, Hz (128 in AMIGOS); ``"bio_rate"`` in
        a checkpoint's config.
    signals
        Names of the bio channels, in the order of ``bio``'s second axis.
    latent
        Length of each auto-encoder's z (128 in the paper).
    """

    variant: str = "bae2"
    backbone: str = "resnet50"
    backbone_weights: str = "imagenet"
    face_size: int = 224
    modalities: str = "both"
    bottleneck: int = 512
    dropout: float = 0.0
    bio_window: int = BIO_WINDOW
    bio_rate_hz: float = 128.0
    signals: tuple[str, ...] = ("ECG", "EDA")
    latent: int = LATENT_SIZE

    def __post_init__(self) -> None:
        if self.variant not in VARIANTS:
            raise ValueError(f"variant must be one of {VARIANTS}, not {self.variant!r}")
        if self.backbone not in BACKBONES:
            raise ValueError(f"backbone must be one of {BACKBONES}, not {self.backbone!r}")
        if self.modalities not in MODALITIES:
            raise ValueError(f"modalities must be one of {MODALITIES}, not {self.modalities!r}")
        if not self.signals or len(set(self.signals)) != len(self.signals):
            raise ValueError(f"signals must be distinct names, got {self.signals!r}")
        if self.bottleneck < 1 or self.latent < 1 or self.face_size < 1:
            raise ValueError("bottleneck, latent and face_size must be positive")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), not {self.dropout}")
        if self.bio_rate_hz <= 0:
            raise ValueError(f"bio_rate must be positive, not {self.bio_rate_hz}")

    @property
    def uses_face(self) -> bool:
        """True when the model has a Spatial Network."""
        return self.modalities in ("both", "face")

    @property
    def uses_bio(self) -> bool:
        """True when the model has bio branches."""
        return self.modalities in ("both", "bio")

    def to_dict(self) -> dict[str, Any]:
        """Plain-types dict (JSON- and ``weights_only``-safe)."""
        d = {_CONFIG_KEYS.get(k, k): v for k, v in dataclasses.asdict(self).items()}
        d["signals"] = list(self.signals)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> BMMNConfig:
        """Inverse of :meth:`to_dict`; unknown keys are an error (ValueError)."""
        names = {_CONFIG_KEYS.get(f.name, f.name): f.name for f in dataclasses.fields(cls)}
        extra = sorted(set(d) - set(names))
        if extra:
            raise ValueError(f"unknown model config keys: {extra}")
        kw = {names[k]: v for k, v in d.items()}
        if "signals" in kw:
            kw["signals"] = tuple(kw["signals"])
        return cls(**kw)


#: a config field's key in a checkpoint, where it keeps the name it was first written with
_CONFIG_KEYS = {"bio_rate_hz": "bio_rate"}


class BMMNOutput(TypedDict):
    """What :meth:`BMMN.forward` returns.

    ``out``: (N, 10) estimates in ``OUTPUT_NAMES`` order. ``recon``: (N, n_signals, window)
    reconstructions in the scaled signal units, or None without auto-encoders. ``z``:
    (N, n_signals, latent) latent vectors, or None.
    """

    out: Tensor
    recon: Tensor | None
    z: Tensor | None


class BMMN(nn.Module):
    """Bio Multi-Modal Network in its three variants; build it with :func:`build_model`.

    Attributes
    ----------
    spatial : SpatialNetwork or None
        Face branch (None for bio-only).
    bio_nets : nn.ModuleDict
        One :class:`BioNetwork` per signal name (empty for ``"bae1"`` or face-only).
    autoencoders : nn.ModuleDict
        One :class:`BioAutoEncoder` per signal name (empty for ``"bmmn"`` or face-only).
    fusion_width : int
        Number of fused features entering the bottleneck.
    """

    def __init__(self, config: BMMNConfig) -> None:
        super().__init__()
        self.config = config
        self.signals = config.signals
        self.spatial: SpatialNetwork | None = None
        width = 0
        if config.uses_face:
            weights: str | Path = config.backbone_weights
            self.spatial = SpatialNetwork(config.backbone, weights, config.face_size)
            width += self.spatial.out_features
        self.bio_nets = nn.ModuleDict()
        self.autoencoders = nn.ModuleDict()
        if config.uses_bio:
            for name in config.signals:
                if config.variant in ("bmmn", "bae2"):
                    net = BioNetwork(config.bio_window)
                    self.bio_nets[name] = net
                    width += net.out_features
                if config.variant in ("bae1", "bae2"):
                    self.autoencoders[name] = BioAutoEncoder(config.bio_window, config.latent)
                    width += config.latent
        self.fusion_width = width
        self.bottleneck = nn.Linear(width, config.bottleneck)
        self.dropout = nn.Dropout(config.dropout)
        self.head = nn.Linear(config.bottleneck, len(OUTPUT_NAMES))
        # Only the fusion layers here: the branches initialise themselves, and the backbone keeps
        # its pretrained (or torchvision) weights.
        he_uniform_(self.bottleneck)
        he_uniform_(self.head, linear_output=self.head)

    def _check_bio(self, bio: Tensor | None, n: int | None) -> Tensor:
        if bio is None:
            raise ValueError(f"this model ({self.config.modalities}) needs a bio tensor")
        want = (len(self.signals), self.config.bio_window)
        if bio.dim() != 3 or tuple(bio.shape[1:]) != want:
            raise ValueError(
                f"bio must have shape (N, {want[0]}, {want[1]}), got {tuple(bio.shape)}"
            )
        if n is not None and bio.shape[0] != n:
            raise ValueError(f"face batch has {n} items but bio has {bio.shape[0]}")
        return bio

    def autoencode(self, bio: Tensor) -> tuple[Tensor, Tensor]:
        """Run only the auto-encoders (stage-2 pre-training).

        Parameters
        ----------
        bio
            (N, n_signals, window) scaled signal windows.

        Returns
        -------
        z, recon
            (N, n_signals, latent) and (N, n_signals, window).
        """
        if not self.autoencoders:
            raise ValueError("this model has no auto-encoders (variant 'bmmn' or face-only)")
        bio = self._check_bio(bio, None)
        zs, recons = [], []
        for i, name in enumerate(self.signals):
            z, rec = self.autoencoders[name](bio[:, i : i + 1])
            zs.append(z)
            recons.append(rec)
        return torch.stack(zs, dim=1), torch.cat(recons, dim=1)

    def forward(self, face: Tensor | None = None, bio: Tensor | None = None) -> BMMNOutput:
        """Estimate the 10 outputs.

        Parameters
        ----------
        face
            (N, 3, H, W) normalised face crops (any memory format); ignored/optional for bio-only.
        bio
            (N, n_signals, window) scaled bio windows; optional for face-only.

        Returns
        -------
        BMMNOutput
            ``{"out": (N, 10), "recon": (N, n_signals, window) or None, "z": ... or None}``.
        """
        parts: list[Tensor] = []
        n: int | None = None
        if self.spatial is not None:
            if face is None:
                raise ValueError(f"this model ({self.config.modalities}) needs a face tensor")
            parts.append(self.spatial(face))
            n = face.shape[0]
        z = recon = None
        if self.config.uses_bio:
            bio = self._check_bio(bio, n)
            for i, name in enumerate(self.signals):
                if name in self.bio_nets:
                    parts.append(self.bio_nets[name](bio[:, i : i + 1]))
            if self.autoencoders:
                z, recon = self.autoencode(bio)
                parts.extend(z.unbind(dim=1))
        fused = torch.cat(parts, dim=1)
        hidden = self.dropout(torch.relu(self.bottleneck(fused)))
        return {"out": self.head(hidden), "recon": recon, "z": z}


def build_model(config: BMMNConfig) -> BMMN:
    """Build a freshly initialised model for ``config`` (ImageNet weights fetched if asked)."""
    return BMMN(config)
