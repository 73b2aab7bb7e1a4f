"""A small synthetic dataset in exactly the AMIGOS layout, for tests and demos.

Each participant file ``Data_Preprocessed_Pxx.mat`` holds (1, n) cell arrays ``joined_data``
(n_samples × 17 at 128 Hz), ``labels_selfassessment`` ((1, 12) or (1, 0)),
``labels_ext_annotation`` and ``VideoIDs``; face videos are ``P{p}_{video_id}_face.mov`` (MPEG-4
Part 2, fourcc ``mp4v``, 25 fps), drawn by :func:`core.simulation.face.render_face`.

How labels relate to the inputs (learnable, but noisy):

* every stimulus video has a valence/arousal in one quadrant of the circumplex, shared by all
  participants; the *felt* state of a participant is that plus personal noise (σ = 0.3);
* the face, ECG (heart rate) and GSR (tonic level, response rate) all follow the felt state, with
  the formulas of :mod:`core.simulation.physiology`, scaled by a personal factor;
* the self-assessment ratings are 5 + 4·felt plus report noise (σ = 0.5 rating points), clipped
  to 1–9; the felt basic emotion follows the quadrant, replaced by a random one 15 % of the time.

Units as the file stores them, so loading exercises the conversions to TheraScope's units (see
:mod:`core.learning.datasets.amigos`): ECG is simulated in mV and written in **µV** (× 1000), GSR is
simulated as conductance in µS and written as skin **resistance in kΩ** (1000 / µS), the polarity
assumed for real AMIGOS copies.

Trials: ``trials`` usable trials per participant take the AMIGOS video ids in order, the 16 short
videos first, then the long ones (``N1``, ``P1``, ``B1``, ``U1``), so ``trials=20`` writes a copy
with the 16 short and the 4 long videos of every participant (every trial ``seconds`` long).

Deliberate defects so loaders are tested on them: participant 1 has a missing trial (signals shaped
(0, 0)) and a trial with empty labels ((1, 0)); participant 2 (when written) has a trial whose
signals are all NaN.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from core.learning.datasets.amigos import AmigosLayout

RATE_HZ = 128.0
N_COLUMNS = 17
# the AMIGOS short-video ids, then its long videos; enough for 20 cells per participant
_VIDEO_IDS = (
    "4", "5", "9", "10", "13", "18", "19", "20", "23", "30",
    "31", "34", "36", "58", "80", "138", "N1", "P1", "B1", "U1",
)  # fmt: skip
_QUADRANTS = ((1.0, 1.0), (1.0, -1.0), (-1.0, 1.0), (-1.0, -1.0))  # (valence, arousal) signs
# felt emotion per quadrant, as indices into the 7 emotions (neutral, disgust, happiness,
# surprise, anger, fear, sadness)
_QUADRANT_EMOTIONS = ((2, 3), (0,), (4, 5, 1), (6,))
_FELT_SD, _RATING_SD, _EMOTION_FLIP = 0.3, 0.5, 0.15
_SCR_RISE_S, _SCR_DECAY_S = 0.75, 3.0  # Bateman time constants of a skin-conductance response
_T_PEAK_S = (
    math.log(_SCR_DECAY_S / _SCR_RISE_S) * _SCR_DECAY_S * _SCR_RISE_S / (_SCR_DECAY_S - _SCR_RISE_S)
)
_SCR_PEAK = math.exp(-_T_PEAK_S / _SCR_DECAY_S) - math.exp(-_T_PEAK_S / _SCR_RISE_S)


def _video_id(cell: int) -> str:
    return _VIDEO_IDS[cell] if cell < len(_VIDEO_IDS) else str(1000 + cell)


def _cell_array(items: list[np.ndarray]) -> np.ndarray:
    """A MATLAB (1, n) cell array: savemat writes numpy object arrays as cells."""
    out = np.empty((1, len(items)), dtype=object)
    for i, item in enumerate(items):
        out[0, i] = item
    return out


def _ecg(rng: np.random.Generator, n: int, hr_bpm: float, amp: float) -> np.ndarray:
    """ECG (mV) as a sum of Gaussian P, Q, R, S, T waves at jittered beat times."""
    rr = 60.0 / hr_bpm
    n_beats = int(n / RATE_HZ / rr) + 3
    beats = np.cumsum(rr * (1.0 + 0.04 * rng.standard_normal(n_beats))) - rr * rng.uniform()
    # (offset from R (s), amplitude (mV), width σ (s)) of the P, Q, R, S, T waves
    waves = np.array(
        [[-0.2, 0.12, 0.025], [-0.03, -0.12, 0.008], [0.0, 1.0, 0.011],
         [0.03, -0.25, 0.009], [0.26, 0.3, 0.045]]
    )  # fmt: skip
    t = np.arange(n) / RATE_HZ
    span = np.arange(-int(0.4 * RATE_HZ), int(0.6 * RATE_HZ))
    idx = np.rint(beats * RATE_HZ).astype(int)[:, None] + span[None, :]  # (beats, span)
    dt = idx / RATE_HZ - beats[:, None]
    shape = np.zeros(dt.shape)
    for off, a, sd in waves:
        shape += a * np.exp(-0.5 * ((dt - off) / sd) ** 2)
    ok = (idx >= 0) & (idx < n)
    x = np.zeros(n)
    np.add.at(x, idx[ok], shape[ok])
    wander = 0.08 * np.sin(2 * math.pi * 0.25 * t + rng.uniform(0, 2 * math.pi))
    return amp * x + wander + 0.02 * rng.standard_normal(n)


def _conductance(
    rng: np.random.Generator, n: int, tonic_us: float, scr_per_min: float
) -> np.ndarray:
    """Skin conductance (µS): tonic level with slow drift plus Poisson-timed responses."""
    t = np.arange(n) / RATE_HZ
    x = tonic_us * (1.0 + 0.03 * np.sin(2 * math.pi * t / 40.0 + rng.uniform(0, 6.3)))
    n_scr = rng.poisson(scr_per_min * n / RATE_HZ / 60.0)
    for onset, amp in zip(rng.uniform(-2.0, t[-1], n_scr), rng.exponential(0.15, n_scr),
                          strict=True):  # fmt: skip
        s = np.maximum(t - onset, 0.0)
        x += amp * (np.exp(-s / _SCR_DECAY_S) - np.exp(-s / _SCR_RISE_S)) / _SCR_PEAK
    return x + 0.002 * rng.standard_normal(n)


def _write_video(
    path: Path,
    valence: float,
    arousal: float,
    seconds: float,
    fps: float,
    size: tuple[int, int],
    seed: int,
    render_step: int,
) -> None:
    import cv2

    from core.simulation.face import render_face

    path.parent.mkdir(parents=True, exist_ok=True)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"mp4v"), fps, size)
    if not writer.isOpened():
        raise OSError(f"cannot write video {path}")
    try:
        frame = None
        for i in range(int(round(seconds * fps))):
            if frame is None or i % render_step == 0:
                frame = render_face(valence, arousal, i / fps, width=size[0], height=size[1],
                                    seed=seed)  # fmt: skip
            writer.write(frame)
    finally:
        writer.release()


def write_synthetic_amigos(
    root: str | Path,
    participants: int = 4,
    trials: int = 4,
    seconds: float = 20.0,
    fps: float = 25.0,
    seed: int = 0,
    with_video: bool = True,
    video_size: tuple[int, int] = (160, 120),
    render_step: int = 2,
) -> AmigosLayout:
    """Write a synthetic AMIGOS copy: one MATLAB file per participant and the face videos.

    Parameters
    ----------
    root : str or Path — folder to write into (created)
    participants : int — participants P1…Pn
    trials : int — usable trials per participant (defect cells come on top, module docstring)
    seconds : float — duration of every trial's signals and video (s)
    fps : float — face video frame rate (frames/s)
    seed : int — everything random derives from it
    with_video : bool — False writes the MATLAB files only
    video_size : (width, height) — face video frame size (pixels)
    render_step : int — draw every ``render_step``-th frame and repeat it in between; the face
        changes slowly, and drawing is most of the writing time

    Returns
    -------
    AmigosLayout — reads the written copy (ECG in µV; GSR polarity "resistance", unit kΩ)
    """
    import scipy.io

    if participants < 1 or trials < 1 or seconds <= 0 or render_step < 1:
        raise ValueError("participants, trials, seconds and render_step must be positive")
    from core.simulation.physiology import eda_tonic_us, heart_rate_bpm, scr_rate_per_min

    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    layout = AmigosLayout(
        root=root, gsr_polarity="resistance", gsr_resistance_unit_ohm=1e3, ecg_unit="uV"
    )
    n = int(round(seconds * RATE_HZ))
    base = np.random.default_rng(seed)
    # stimulus k elicits, in everyone, a state in quadrant k mod 4 (magnitude 0.35–0.85)
    stimuli = [np.array(_QUADRANTS[k % 4]) * base.uniform(0.35, 0.85, 2) for k in range(trials)]
    for p in range(1, participants + 1):
        rng = np.random.default_rng([seed, p])
        gsr_factor, hr_offset = math.exp(0.3 * rng.standard_normal()), 4.0 * rng.standard_normal()
        defects = {1: ["missing", "no_labels"], 2: ["all_nan"]}.get(p, [])
        kinds = ["ok"] * trials
        for j, d in enumerate(defects):
            kinds.insert(1 + 2 * j, d)  # between good trials, so indices must be tracked
        cells: dict[str, list[np.ndarray]] = {name: [] for name in ("sig", "lab", "ext", "vid")}
        k = 0  # usable-trial counter
        for kind in kinds:
            stim = stimuli[k % trials]
            felt = np.clip(stim + _FELT_SD * rng.standard_normal(2), -1.0, 1.0)
            v, a = float(felt[0]), float(felt[1])
            ratings = np.clip(5.0 + 4.0 * felt + _RATING_SD * rng.standard_normal(2), 1.0, 9.0)
            liking = np.clip(5.0 + 3.0 * v + 0.8 * rng.standard_normal(), 1.0, 9.0)
            dominance = np.clip(5.0 + 2.0 * v - a + rng.standard_normal(), 1.0, 9.0)
            quadrant = (0 if a > 0 else 1) if v > 0 else (2 if a > 0 else 3)
            emotions = np.zeros(7)
            choice = rng.choice(_QUADRANT_EMOTIONS[quadrant])
            emotions[rng.integers(7) if rng.uniform() < _EMOTION_FLIP else choice] = 1.0
            # stored order: arousal, valence, dominance, liking, familiarity, 7 emotions
            row = np.concatenate([[ratings[1], ratings[0], dominance, liking,
                                   rng.uniform(1.0, 9.0)], emotions])  # fmt: skip
            data = 10.0 * rng.standard_normal((n, N_COLUMNS))  # EEG-like noise (µV)
            hr = heart_rate_bpm(a, v) + hr_offset
            data[:, 14] = 1e3 * _ecg(rng, n, hr, 1.0)  # µV
            data[:, 15] = 1e3 * _ecg(rng, n, hr, 0.7)
            us = _conductance(
                rng,
                n,
                float(eda_tonic_us(np.array(a), np.array(v))) * gsr_factor,
                scr_rate_per_min(a),
            )
            data[:, 16] = 1e3 / us  # kΩ
            if kind == "missing":
                data = np.zeros((0, 0))
            elif kind == "all_nan":
                data = np.full((n, N_COLUMNS), np.nan)
            n_seg = max(1, math.ceil(seconds / 20.0))
            ext = np.column_stack([np.arange(1, n_seg + 1), np.full(n_seg, v), np.full(n_seg, a)])
            # one id per stimulus, the same for everyone; defect cells take the ids after them
            vid = _video_id(k if kind == "ok" else trials + defects.index(kind))
            cells["sig"].append(data)
            cells["lab"].append(np.zeros((1, 0)) if kind == "no_labels" else row[None, :])
            cells["ext"].append(ext + 0.1 * rng.standard_normal(ext.shape) * [0, 1, 1])
            cells["vid"].append(np.array([vid]))
            if kind != "ok":
                continue
            k += 1
            if with_video:
                _write_video(layout.video_path(p, vid), v, a, seconds, fps, video_size, p,
                             render_step)  # fmt: skip
        scipy.io.savemat(
            str(layout.mat_path(p)),
            {
                "joined_data": _cell_array(cells["sig"]),
                "labels_selfassessment": _cell_array(cells["lab"]),
                "labels_ext_annotation": _cell_array(cells["ext"]),
                "VideoIDs": _cell_array(cells["vid"]),
            },
        )
    return layout
