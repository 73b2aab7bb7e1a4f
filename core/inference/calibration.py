"""Simulated inputs for int8 calibration and its accuracy check: never a patient's frames.

They are the demo model's training distribution, so its int8 is calibrated and checked on them.
Any other checkpoint's int8 is calibrated and checked only on frames of its own training data or
of the clinic's sessions (:class:`core.inference.cache.CalibrationData`); these simulated inputs
serve it only to time the int8 graph (benchmarks, labelled as such) and to measure speed.

Frames come from the synthetic face (:func:`core.simulation.face.render_face`) and windows from
the simulated physiology (:class:`core.simulation.physiology.PhysiologyGenerator`), along a
scenario's valence and arousal — the demo model's training data, cut the way the analysis cuts
them: the face found by the Haar detector and cropped with the crop policy's defaults; ECG (mV)
and EDA (µS) at the model's bio rate, converted into the checkpoint's units and scaled with its
stored scaling. A signal the simulation does not make is standard normal noise.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

#: the checkpoint scaling's key of each signal (as :data:`core.analysis.inputs.SCALING_KEYS`,
#: which sits in a layer above this one; a test checks they agree)
SCALING_KEYS = {"ECG": "ecg", "EDA": "gsr"}
#: what the simulated physiology's columns are, in its units
_SIMULATED = {"ECG": (0, "mV"), "EDA": (1, "uS")}


@dataclass(frozen=True)
class SimulatedInputs:
    """Model inputs along a scenario.

    Attributes
    ----------
    faces : ndarray (N, S, S, 3) uint8 — BGR face crops
    bio : ndarray (N, n_signals, window) float32 — scaled windows
    t_s : ndarray (N,) — scenario time of each sample (s)
    truth : ndarray (N, 2) — the scenario's valence and arousal there, in [-1, 1]
    """

    faces: np.ndarray
    bio: np.ndarray
    t_s: np.ndarray
    truth: np.ndarray


def simulated_inputs(
    scenario: str,
    n: int,
    *,
    face_size: int,
    signals: Sequence[str],
    window: int,
    rate_hz: float,
    scaling: Mapping[str, Any] | None,
    units: Mapping[str, str] | None,
    seed: int,
    duration_s: float = 120.0,
) -> SimulatedInputs:
    """``n`` samples spread evenly over a ``duration_s`` run of the named scenario.

    Parameters
    ----------
    scenario : str — a :func:`core.simulation.scenario.preset` name
    face_size, signals, window, rate_hz — the model's inputs
    scaling, units : the checkpoint's ``scaling`` and ``units`` metadata (None: unscaled)
    seed : int — face identity and physiology noise
    """
    from core.faces.detect import FaceBox, make_detector
    from core.faces.track import CropPolicy, crop_face
    from core.models.units import unit_factor
    from core.simulation.face import render_face
    from core.simulation.physiology import PhysiologyGenerator
    from core.simulation.scenario import preset

    sc = preset(scenario, duration_s)
    half = window // 2
    t = np.linspace(window / rate_hz, duration_s - window / rate_hz, n)
    v, a = sc.at(t)
    detector = make_detector("haar")
    policy = CropPolicy(size=face_size)
    faces = np.empty((n, face_size, face_size, 3), np.uint8)
    box: FaceBox | None = None
    for i, ts in enumerate(t):
        frame = render_face(float(v[i]), float(a[i]), float(ts), seed=seed, width=320, height=240)
        found = detector.detect(frame)
        if found:
            box = found[0]
        elif box is None:  # a box around the frame centre until the detector finds one
            box = FaceBox(100.0, 60.0, 120.0, 120.0, detected=False)
        faces[i] = crop_face(frame, box, policy)
    total = int(duration_s * rate_hz)
    raw = PhysiologyGenerator(sc, rate_hz, seed).next_block(total)
    rng = np.random.default_rng(seed)
    bio = np.empty((n, len(signals), window), np.float32)
    centre = np.clip(np.round(t * rate_hz).astype(int), half, total - (window - half))
    for j, name in enumerate(signals):
        if name in _SIMULATED:
            col, unit = _SIMULATED[name]
            x = raw[:, col]
            want = (units or {}).get(name, unit)
            factor = unit_factor(name, unit, want) if want != unit else 1.0
            x = x * (factor if factor is not None else 1.0)
            key = SCALING_KEYS.get(name, name.lower())
            if scaling and key in scaling.get("mean", {}):
                std = float(scaling["std"][key])
                x = (x - float(scaling["mean"][key])) / (std if std > 1e-12 else 1.0)
            for i, c in enumerate(centre):
                bio[i, j] = x[c - half : c - half + window]
        else:
            bio[:, j] = rng.standard_normal((n, window))
    return SimulatedInputs(faces, bio, t, np.column_stack([v, a]))
