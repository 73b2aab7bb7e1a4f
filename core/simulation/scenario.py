"""Scenarios: the known valence/arousal course of a simulated session.

A scenario is a list of key points ``(fraction of the session, valence, arousal)`` with values in
[-1, 1], interpolated smoothly (cosine) and stretched to the session's length. It is saved with
every simulated session: it is the truth against which later analysis is measured.

AMIGOS-scale ratings (1–9) relate to the scenario's values by ``rating = 5 + 4·v``.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class Scenario:
    """Valence and arousal over a session.

    Parameters
    ----------
    name : str — short identifier, e.g. ``"anxious_to_calm"``
    duration_s : float — session length (s) the key points are stretched to
    keys : tuple of (fraction, valence, arousal) — fraction in [0, 1], values in [-1, 1]
    description : str — one plain sentence for people
    """

    name: str
    duration_s: float
    keys: tuple[tuple[float, float, float], ...]
    description: str = ""
    _fr: np.ndarray = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.duration_s <= 0:
            raise ValueError("Scenario duration must be positive")
        if len(self.keys) < 1:
            raise ValueError("Scenario needs at least one key point")
        fr = np.array([k[0] for k in self.keys], dtype=float)
        if len(self.keys) > 1 and (fr[0] != 0.0 or fr[-1] != 1.0 or np.any(np.diff(fr) <= 0)):
            raise ValueError("Scenario key fractions must rise strictly from 0 to 1")
        for _, v, a in self.keys:
            if not (-1.0 <= v <= 1.0 and -1.0 <= a <= 1.0):
                raise ValueError("Scenario values must lie in [-1, 1]")
        object.__setattr__(self, "_fr", fr)

    def at(self, t_s: np.ndarray | float) -> tuple[np.ndarray, np.ndarray]:
        """Valence and arousal at session time(s) ``t_s`` (s); clipped to the session."""
        t = np.clip(np.asarray(t_s, dtype=float) / self.duration_s, 0.0, 1.0)
        if len(self.keys) == 1:
            return np.full_like(t, self.keys[0][1]), np.full_like(t, self.keys[0][2])
        vals = np.array([k[1] for k in self.keys])
        aros = np.array([k[2] for k in self.keys])
        i = np.clip(np.searchsorted(self._fr, t, side="right") - 1, 0, len(self._fr) - 2)
        f0, f1 = self._fr[i], self._fr[i + 1]
        u = (t - f0) / (f1 - f0)
        w = 0.5 - 0.5 * np.cos(math.pi * u)  # smooth (zero slope) at every key point
        return vals[i] + (vals[i + 1] - vals[i]) * w, aros[i] + (aros[i + 1] - aros[i]) * w

    def stretched(self, duration_s: float) -> Scenario:
        """The same course over another session length."""
        return Scenario(self.name, duration_s, self.keys, self.description)

    def to_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "duration_s": self.duration_s,
            "keys": [list(k) for k in self.keys],
            "description": self.description,
            "scale": "valence/arousal in [-1, 1]; AMIGOS rating = 5 + 4*v",
        }

    @classmethod
    def from_dict(cls, d: dict[str, object]) -> Scenario:
        keys = tuple(tuple(float(x) for x in k) for k in d["keys"])  # type: ignore[attr-defined]
        return cls(
            name=str(d["name"]),
            duration_s=float(d["duration_s"]),  # type: ignore[arg-type]
            keys=keys,  # type: ignore[arg-type]
            description=str(d.get("description", "")),
        )

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(self.to_dict(), indent=2))

    @classmethod
    def load(cls, path: Path) -> Scenario:
        return cls.from_dict(json.loads(path.read_text()))


def to_amigos_scale(x: np.ndarray | float) -> np.ndarray:
    """Map a value in [-1, 1] to the AMIGOS 1–9 self-assessment scale (5 + 4·x)."""
    return 5.0 + 4.0 * np.asarray(x, dtype=float)


def from_amigos_scale(rating: np.ndarray | float) -> np.ndarray:
    """Map a 1–9 rating to [-1, 1] ((r − 5) / 4)."""
    return (np.asarray(rating, dtype=float) - 5.0) / 4.0


_PRESETS: dict[str, tuple[str, tuple[tuple[float, float, float], ...]]] = {
    "anxious_to_calm": (
        "Anxious at first (low valence, high arousal), easing into calm (high valence, low arousal).",
        ((0.0, -0.6, 0.7), (0.3, -0.5, 0.6), (0.7, 0.4, -0.4), (1.0, 0.6, -0.6)),
    ),
    "calm_to_anxious": (
        "Calm at first (high valence, low arousal), becoming anxious (low valence, high arousal).",
        ((0.0, 0.6, -0.6), (0.3, 0.5, -0.5), (0.7, -0.4, 0.5), (1.0, -0.6, 0.7)),
    ),
    "neutral": ("Near neutral throughout.", ((0.0, 0.0, 0.0),)),
    # Tours through all four quadrants move valence and arousal independently, so a model trained
    # on them cannot read one off the other (the demo model's training data).
    "quadrant_tour": (
        "Visits every quadrant: anxious, excited, calm, sad, then neutral.",
        ((0.0, -0.6, 0.7), (0.25, 0.6, 0.6), (0.5, 0.6, -0.6), (0.75, -0.6, -0.6), (1.0, 0.0, 0.0)),
    ),
    "quadrant_tour_reverse": (
        "Visits every quadrant: calm, sad, anxious, excited, then mildly calm.",
        (
            (0.0, 0.6, -0.6),
            (0.25, -0.6, -0.5),
            (0.5, -0.5, 0.7),
            (0.75, 0.7, 0.6),
            (1.0, 0.2, -0.2),
        ),
    ),
}


def scenario_names() -> list[str]:
    """Names of the built-in scenarios."""
    return list(_PRESETS)


def preset(name: str = "anxious_to_calm", duration_s: float = 600.0) -> Scenario:
    """A built-in scenario stretched to ``duration_s`` (s)."""
    try:
        desc, keys = _PRESETS[name]
    except KeyError:
        raise ValueError(f"Unknown scenario {name!r}; choose one of {scenario_names()}") from None
    return Scenario(name, duration_s, keys, desc)
