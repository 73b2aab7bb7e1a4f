"""The model's outputs beyond valence and arousal: liking and the seven basic emotions.

The review screen (:mod:`app.gui.outputs_view`), the session report
(:mod:`core.report.model_outputs`) and ``therascope show`` print what :func:`summarise_outputs`
gives: for each output the checkpoint learned, its per-frame values and their means in the pre
and post windows (the same windows, and the same frame rule ``start ≤ t < end``, as valence and
arousal); for each output it did not learn, :data:`NOT_ESTIMATED` and why, never a number.

Which outputs a checkpoint learned is recorded with every analysis
(:attr:`core.analysis.results.SessionEstimates.outputs_trained`, from
:func:`core.models.outputs.trained_outputs`); an analysis that does not record it counts as
valence and arousal only. The network computes all ten outputs whatever it was trained on, so
the stored values of an output it did not learn are meaningless and are never read here.
numpy only (``core.models`` imports torch).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from core.analysis.results import SessionEstimates
from core.physiology.summary import PhaseWindow

#: the model's output order when an analysis does not name it (as
#: ``core.models.outputs.OUTPUT_NAMES``; not imported: ``core.models`` imports torch)
DEFAULT_OUTPUT_NAMES = (
    "valence", "arousal", "liking",
    "neutral", "disgust", "happiness", "surprise", "anger", "fear", "sadness",
)  # fmt: skip
#: the outputs summarised here: all but valence and arousal (the circumplex shows those)
EXTRA_OUTPUTS = DEFAULT_OUTPUT_NAMES[2:]
EMOTIONS = DEFAULT_OUTPUT_NAMES[3:]
#: what is printed instead of a number for an output the model did not learn
NOT_ESTIMATED = "not estimated by this model"
LIKING_SCALE = "1–9 (dislike → like)"
EMOTION_SCALE = "0 (absent) – 1 (present)"


def title_of(name: str) -> str:
    """``"liking"`` → ``"Liking"``."""
    return name[:1].upper() + name[1:]


def scale_of(name: str) -> str:
    """The scale an output is trained on, in words: liking is a rating (SAM-like, 1–9), each
    emotion a one-hot label (0 absent, 1 present; the model's value is a score, not a
    probability)."""
    return LIKING_SCALE if name == "liking" else EMOTION_SCALE


@dataclass
class WindowMean:
    """One output's mean in one comparison window.

    Parameters
    ----------
    name : str — ``"pre"`` or ``"post"``
    label : str — the window in words (``"first 15:00"``)
    start_s, end_s : float — frames with ``start_s ≤ t < end_s`` count
    mean, sd : float or None — of the frames with a value (SD with ddof=1, from 2 frames);
        None when the output is not estimated, or no frame in the window has a value
    n_estimated : int or None — frames with a value (None: not estimated by this model)
    n_frames : int — analysed frames in the window
    """

    name: str
    label: str
    start_s: float
    end_s: float
    mean: float | None
    sd: float | None
    n_estimated: int | None
    n_frames: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "label": self.label,
            "start_s": self.start_s,
            "end_s": self.end_s,
            "mean": self.mean,
            "sd": self.sd,
            "n_estimated": self.n_estimated,
            "n_frames": self.n_frames,
        }


@dataclass
class OutputSummary:
    """One output of the model over one session.

    Parameters
    ----------
    name : str — the output (``"liking"``, ``"fear"``, …)
    title, scale : str — as printed
    estimated : bool — the model learned it (else every figure is None and ``reason`` says why)
    reason : str — empty when estimated; else :data:`NOT_ESTIMATED` with the grounds
    t_s, values : ndarray — per analysed frame, NaN where no estimate; empty when not estimated
    windows : list of WindowMean — pre, post
    """

    name: str
    title: str
    scale: str
    estimated: bool
    reason: str
    t_s: np.ndarray = field(repr=False)
    values: np.ndarray = field(repr=False)
    windows: list[WindowMean]

    @property
    def change(self) -> float | None:
        """Post mean − pre mean (None unless both exist)."""
        pre, post = (w.mean for w in self.windows[:2]) if len(self.windows) >= 2 else (None, None)
        return None if pre is None or post is None else post - pre

    def to_dict(self) -> dict[str, Any]:
        """Plain, JSON-ready; an output the model did not learn has ``windows`` and ``change``
        None and its ``reason`` (no figure at all)."""
        return {
            "name": self.name,
            "title": self.title,
            "scale": self.scale,
            "estimated": self.estimated,
            "reason": self.reason or None,
            "windows": [w.to_dict() for w in self.windows] if self.estimated else None,
            "change": self.change,
        }


@dataclass
class OutputsSummary:
    """Liking and the seven emotions of one analysis.

    Parameters
    ----------
    outputs : list of OutputSummary — in output order
    learned : list of str — every output the checkpoint learned (valence and arousal included)
    basis : str — how that is known, in words
    demo_model : bool — made by the demo model (not clinically valid)
    """

    outputs: list[OutputSummary]
    learned: list[str]
    basis: str
    demo_model: bool

    @property
    def estimated(self) -> list[OutputSummary]:
        return [o for o in self.outputs if o.estimated]

    @property
    def not_estimated(self) -> list[OutputSummary]:
        return [o for o in self.outputs if not o.estimated]

    def by_name(self, name: str) -> OutputSummary:
        return next(o for o in self.outputs if o.name == name)

    def to_dict(self) -> dict[str, Any]:
        return {
            "learned": list(self.learned),
            "basis": self.basis,
            "demo_model": self.demo_model,
            "outputs": [o.to_dict() for o in self.outputs],
        }


def _window_mean(
    t: np.ndarray, v: np.ndarray | None, w: PhaseWindow, n_frames: int | None = None
) -> WindowMean:
    inside = (t >= w.start_s) & (t < w.end_s)
    n = int(inside.sum()) if n_frames is None else n_frames
    if v is None:
        return WindowMean(w.name, w.label, float(w.start_s), float(w.end_s), None, None, None, n)
    x = v[inside & np.isfinite(v)]
    mean = float(x.mean()) if x.size else None
    sd = float(x.std(ddof=1)) if x.size >= 2 else None
    return WindowMean(w.name, w.label, float(w.start_s), float(w.end_s), mean, sd, int(x.size), n)


def words(names: Sequence[str]) -> str:
    """``["valence", "arousal", "liking"]`` → ``"valence, arousal and liking"``."""
    names = list(names)
    return " and ".join([", ".join(names[:-1]), names[-1]]) if len(names) > 1 else "".join(names)


def not_learned_reason(learned: Sequence[str], basis: str) -> str:
    """What is printed for an output the model did not learn: :data:`NOT_ESTIMATED` and why,
    e.g. "not estimated by this model: it learned valence and arousal only (as its checkpoint
    records)"."""
    what = f"it learned {words(learned)} only" if learned else "it records no learned output"
    return f"{NOT_ESTIMATED}: {what} ({basis})"


def summarise_outputs(est: SessionEstimates, windows: Sequence[PhaseWindow]) -> OutputsSummary:
    """Liking and the seven emotions of ``est`` in ``windows`` (:data:`EXTRA_OUTPUTS` order).

    Parameters
    ----------
    est : SessionEstimates — the stored analysis
    windows : [pre, post] — as for valence and arousal
        (:attr:`core.analysis.review.SessionReview.windows`)
    """
    learned, basis = est.outputs_trained
    names = list(est.info.get("output_names") or DEFAULT_OUTPUT_NAMES)
    t = np.asarray(est.t_s, dtype=np.float64)
    outs = np.asarray(est.outputs)
    empty = np.empty(0, dtype=np.float64)
    summaries = []
    for name in EXTRA_OUTPUTS:
        col = names.index(name) if name in names else -1
        if name in learned and 0 <= col < (outs.shape[1] if outs.ndim == 2 else 0):
            v = outs[:, col].astype(np.float64)
            wins = [_window_mean(t, v, w) for w in windows]
            summaries.append(
                OutputSummary(name, title_of(name), scale_of(name), True, "", t, v, wins)
            )
        else:
            why = (
                not_learned_reason(learned, basis)
                if name not in learned
                else f"{NOT_ESTIMATED}: this analysis holds no {name} values"
            )
            wins = [_window_mean(t, None, w) for w in windows]
            summaries.append(
                OutputSummary(name, title_of(name), scale_of(name), False, why, empty, empty, wins)
            )
    return OutputsSummary(summaries, list(learned), basis, est.demo_model)


def format_mean(o: OutputSummary, w: WindowMean) -> str:
    """A window's mean as printed: ``"6.12 ± 0.40"``; ``"–"`` when no frame of the window has a
    value; :data:`NOT_ESTIMATED` for an output the model did not learn."""
    if not o.estimated:
        return NOT_ESTIMATED
    if w.mean is None:
        return "–"
    return f"{w.mean:.2f}" + (f" ± {w.sd:.2f}" if w.sd is not None else "")


def format_change(o: OutputSummary) -> str:
    """Post − pre as printed (``"+0.12"``, ``"-0.30"``); ``"–"`` without both means;
    :data:`NOT_ESTIMATED` for an output the model did not learn."""
    if not o.estimated:
        return NOT_ESTIMATED
    c = o.change
    if c is None:
        return "–"
    return f"{round(c, 2) + 0.0:+.2f}"
