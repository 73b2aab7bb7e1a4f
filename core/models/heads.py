"""What the model families share: the inputs they need, their output heads and their output dict.

Every family estimates the same 10 outputs (:data:`core.models.outputs.OUTPUT_NAMES`, on the
training scale) so that it plugs into the circumplex; families trained with the papers' binary
cross-entropy also give three high/low logits (valence, arousal, liking), and AViGaS a quadrant
estimate. A family's :class:`ModelInputs` says what the data path must cut for one sample: one
face frame and one bio window (BMMN), or a sequence of face frames and one bio segment.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypedDict

import numpy as np
from torch import Tensor, nn

from core.models._init import he_uniform_
from core.models.outputs import N_RATINGS, OUTPUT_NAMES

INPUT_KINDS = ("frame", "sequence")
N_QUADRANTS = 4


@dataclass(frozen=True)
class ModelInputs:
    """What one sample of a model holds (recorded in its checkpoint).

    Attributes
    ----------
    kind
        ``"frame"``: one face crop (3, S, S) and a bio window (n_signals, bio_samples) centred on
        its frame (BMMN). ``"sequence"``: ``frames`` face crops (frames, 3, S, S) spread evenly over
        a bio segment (n_signals, bio_samples) and centred on the same instant as it.
    face_size
        Side of the square face crops, pixels.
    frames
        Face crops per sample (1 for ``"frame"``).
    frame_rate_hz
        Rate of the face crops within a sequence, frames per second (0 for ``"frame"``).
    bio_samples
        Length of the bio window or segment, samples.
    bio_rate_hz
        Sampling rate of the bio signals, Hz.
    signals
        Bio channel names, in the order of the bio tensor's channel axis.
    """

    kind: str
    face_size: int
    frames: int
    frame_rate_hz: float
    bio_samples: int
    bio_rate_hz: float
    signals: tuple[str, ...]

    def __post_init__(self) -> None:
        if self.kind not in INPUT_KINDS:
            raise ValueError(f"input kind must be one of {INPUT_KINDS}, not {self.kind!r}")
        if self.frames < 1 or self.bio_samples < 1 or self.face_size < 1:
            raise ValueError("frames, bio_samples and face_size must be positive")
        if self.kind == "sequence" and self.frame_rate_hz <= 0:
            raise ValueError("a sequence needs a positive frame rate")

    @property
    def span_s(self) -> float:
        """Seconds of signal (and video) one sample covers."""
        return self.bio_samples / self.bio_rate_hz

    def to_dict(self) -> dict[str, Any]:
        """Plain types (for checkpoints)."""
        return {
            "kind": self.kind,
            "face_size": self.face_size,
            "frames": self.frames,
            "frame_rate_hz": float(self.frame_rate_hz),
            "bio_samples": self.bio_samples,
            "bio_rate_hz": float(self.bio_rate_hz),
            "signals": list(self.signals),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ModelInputs:
        """Inverse of :meth:`to_dict`."""
        return cls(**{**d, "signals": tuple(d["signals"])})

    def describe(self) -> str:
        """One line for people, e.g. for the evaluation table and ``therascope train``."""
        if self.kind == "frame":
            return (
                f"one {self.face_size}x{self.face_size} face crop + a {self.bio_samples}-sample "
                f"window ({self.span_s:.1f} s at {self.bio_rate_hz:g} Hz) per frame"
            )
        return (
            f"{self.frames} face crops {self.face_size}x{self.face_size} at "
            f"{self.frame_rate_hz:g} frames/s + a {self.bio_samples}-sample segment "
            f"({self.span_s:.1f} s at {self.bio_rate_hz:g} Hz) per sample"
        )


def sequence_offsets(inputs: ModelInputs) -> np.ndarray:
    """Offsets (samples, relative to the anchor) of a sequence's face crops, evenly spread and
    centred: for 5 frames at 5 frames/s at 128 Hz, −51.2, −25.6, 0, 25.6, 51.2."""
    if inputs.kind != "sequence":
        return np.zeros(1)
    step = inputs.bio_rate_hz / inputs.frame_rate_hz
    return (np.arange(inputs.frames) - (inputs.frames - 1) / 2.0) * step


class FamilyOutput(TypedDict, total=False):
    """What every family's ``forward`` returns.

    ``out``: (N, 10) estimates in ``OUTPUT_NAMES`` order on the training scale (always there).
    ``logits``: (N, 3) high/low logits for valence, arousal, liking (BCE-trained families).
    ``quadrant``: (N, 4) circumplex quadrant logits, Q1..Q4 (AViGaS).
    ``parts``: per-modality sub-outputs (decision-level or late fusion), each a FamilyOutput,
    trained with the same losses so each modality's head learns on its own too.
    ``gate``: (N, steps, width) the GMU's gate values (AViGaS; near 1 trusts the face).
    """

    out: Tensor
    logits: Tensor
    quadrant: Tensor
    parts: dict[str, Any]
    gate: Tensor


class AffectHead(nn.Module):
    """A small classifier trunk and its two heads: 10 regression outputs and 3 high/low logits.

    Parameters
    ----------
    in_features : int — width of the feature vector it reads
    hidden : tuple of int — widths of the trunk's hidden layers (ReLU, then dropout)
    dropout : float — dropout after each hidden layer
    """

    def __init__(self, in_features: int, hidden: tuple[int, ...], dropout: float) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        width = in_features
        for h in hidden:
            layers += [nn.Linear(width, h), nn.ReLU(), nn.Dropout(dropout)]
            width = h
        self.trunk = nn.Sequential(*layers)
        self.out_features = width
        self.regress = nn.Linear(width, len(OUTPUT_NAMES))
        self.logit = nn.Linear(width, N_RATINGS)
        he_uniform_(self.trunk)
        he_uniform_(self.regress, linear_output=self.regress)
        he_uniform_(self.logit, linear_output=self.logit)

    def hidden(self, x: Tensor) -> Tensor:
        """The trunk's last hidden layer (what paper 003's late fusion concatenates)."""
        out: Tensor = self.trunk(x)
        return out

    def forward(self, x: Tensor) -> FamilyOutput:
        h = self.hidden(x)
        return {"out": self.regress(h), "logits": self.logit(h)}


def check_sequence(face: Tensor | None, bio: Tensor | None, inputs: ModelInputs) -> int:
    """Check a sequence batch against ``inputs``; return the batch size.

    face : (N, frames, 3, S, S) or None; bio : (N, n_signals, bio_samples) or None.
    """
    n: int | None = None
    if face is not None:
        want_f = (inputs.frames, 3, inputs.face_size, inputs.face_size)
        if face.dim() != 5 or tuple(face.shape[1:]) != want_f:
            raise ValueError(f"face must have shape (N, {want_f}), got {tuple(face.shape)}")
        n = face.shape[0]
    if bio is not None:
        want_b = (len(inputs.signals), inputs.bio_samples)
        if bio.dim() != 3 or tuple(bio.shape[1:]) != want_b:
            raise ValueError(f"bio must have shape (N, {want_b}), got {tuple(bio.shape)}")
        if n is not None and bio.shape[0] != n:
            raise ValueError(f"face batch has {n} items but bio has {bio.shape[0]}")
        n = bio.shape[0]
    if n is None:
        raise ValueError("a model needs at least a face or a bio tensor")
    return n
