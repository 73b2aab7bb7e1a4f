"""Foreign recordings written by the tests: an OpenSignals text file from a BITalino (ECG + EDA
through PLUX's transfer functions, inverted) and a face video, both from the simulator's truth.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

#: BITalino's ECG and EDA sensors (PLUX datasheets): VCC 3.3 V, ECG gain 1100, EDA 0.132
VCC = 3.3
G_ECG = 1100.0
EDA_DIV = 0.132
BITS = 10


def simulated_signals(
    duration_s: float, rate_hz: float, scenario: str = "anxious_to_calm", seed: int = 5
) -> np.ndarray:
    """(n, 2): ECG (mV) and EDA (µS) of the simulator for ``scenario``."""
    from core.simulation.physiology import PhysiologyGenerator
    from core.simulation.scenario import preset

    gen = PhysiologyGenerator(preset(scenario, duration_s), rate_hz, seed)
    return gen.next_block(int(round(duration_s * rate_hz)))


def to_bitalino_adc(ecg_mv: np.ndarray, eda_us: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """10-bit ADC codes that PLUX's transfer functions turn back into these mV and µS."""
    full = 2**BITS
    ecg = np.round((ecg_mv / 1000.0 * G_ECG / VCC + 0.5) * full)
    eda = np.round(eda_us * EDA_DIV / VCC * full)
    return (
        np.clip(ecg, 0, full - 1).astype(np.int64),
        np.clip(eda, 0, full - 1).astype(np.int64),
    )


def write_bitalino_text(
    path: Path,
    signals: np.ndarray,
    rate_hz: int = 1000,
    drop: slice | None = None,
    start: tuple[str, str] = ("2024-3-7", "14:5:9.5"),
) -> Path:
    """An OpenSignals text file as OpenSignals writes it for a BITalino with ECG on A1 and EDA
    on A2; rows in ``drop`` are left out (lost samples: the nSeq column jumps)."""
    ecg, eda = to_bitalino_adc(signals[:, 0], signals[:, 1])
    n = len(ecg)
    seq = np.arange(n) % 16
    rows = np.column_stack([seq, np.zeros((n, 4), np.int64), ecg, eda])
    if drop is not None:
        keep = np.ones(n, bool)
        keep[drop] = False
        rows = rows[keep]
    header = {
        "00:07:80:4D:2E:76": {
            "position": 0,
            "device": "bitalino_rev",
            "device name": "00:07:80:4D:2E:76",
            "device connection": "BTH00:07:80:4D:2E:76",
            "sampling rate": rate_hz,
            "resolution": [4, 1, 1, 1, 1, BITS, BITS],
            "firmware version": 1281,
            "comments": "",
            "keywords": "",
            "mode": 0,
            "sync interval": 2,
            "date": start[0],
            "time": start[1],
            "channels": [1, 2],
            "sensor": ["ECG", "EDA"],
            "label": ["A1", "A2"],
            "column": ["nSeq", "I1", "I2", "O1", "O2", "A1", "A2"],
            "special": [{}, {}],
            "digital IO": [0, 0, 1, 1],
        }
    }
    with open(path, "w", encoding="utf-8", newline="\n") as fh:
        fh.write("# OpenSignals Text File Format. Version 1\n")
        fh.write("# " + json.dumps(header) + "\n")
        fh.write("# EndOfHeader\n")
        np.savetxt(fh, rows, fmt="%d", delimiter="\t")
    return path


def write_face_video(
    path: Path,
    duration_s: float,
    fps: float = 10.0,
    scenario: str = "anxious_to_calm",
    size: tuple[int, int] = (320, 240),
) -> Path:
    """A simulated face following ``scenario`` as an MP4 (MPEG-4 part 2) at ``fps``."""
    import cv2

    from core.simulation.face import render_face
    from core.simulation.scenario import preset

    sc = preset(scenario, duration_s)
    w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, size)
    try:
        for i in range(int(round(duration_s * fps))):
            t = i / fps
            v, a = sc.at(t)
            w.write(render_face(float(v), float(a), t, width=size[0], height=size[1], seed=3))
    finally:
        w.release()
    return path
