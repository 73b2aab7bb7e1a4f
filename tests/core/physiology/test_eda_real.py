"""SCR counting on a real recording: 25 minutes of a healthy participant's skin conductance
(1000 Hz, 16 bit) during an emotional picture task, from the systole package's source
distribution (tools/test_data.py fetches it with the other dependencies; Legrand et al. 2020).

There is no hand count to compare with, so the check is against neurokit2's own pipeline
(``eda_process``, responses of at least 0.05 µS): per 2-minute window our counts rise and fall
with its counts and stay within a factor of two of them. The noise threshold used to be measured
at one lag, which took the skin's own fast changes for noise: the windows with the most responses
then counted the fewest (0 where neurokit2 counts 20).
"""

from __future__ import annotations

import io
import tarfile
from functools import cache
from pathlib import Path

import numpy as np
import pytest

from core.physiology.signals import SCR_MIN_AMPLITUDE_US, eda_summary

SDIST = Path(__file__).resolve().parents[3] / ".cache" / "test-data" / "systole-0.3.1.tar.gz"
MEMBER = "systole-0.3.1/src/systole/datasets/Task1_EDA.npy"
RATE_HZ = 1000
WINDOW_S = 120


@cache
def real_eda() -> np.ndarray:
    if not SDIST.is_file():
        pytest.skip(f"{SDIST.name} not fetched (python tools/test_data.py)")
    with tarfile.open(SDIST) as tar:
        member = tar.extractfile(MEMBER)
        assert member is not None
        x = np.load(io.BytesIO(member.read()))
    x.setflags(write=False)
    return np.asarray(x, dtype=np.float64)


def test_scr_counts_follow_neurokit2_on_a_real_recording() -> None:
    import neurokit2 as nk
    from scipy.stats import spearmanr

    x = real_eda()
    assert x.size == 1_536_570  # 25.6 minutes
    w = WINDOW_S * RATE_HZ
    ours, theirs, tonic = [], [], []
    for k in range(x.size // w):
        seg = x[k * w : (k + 1) * w]
        r = eda_summary(seg, RATE_HZ)
        ours.append(r["scr_count"])
        tonic.append(r["tonic_us"])
        assert r["scr_threshold_us"] == pytest.approx(SCR_MIN_AMPLITUDE_US)  # quiet signal
        _, info = nk.eda_process(seg, sampling_rate=RATE_HZ)
        theirs.append(int(np.sum(np.asarray(info["SCR_Amplitude"]) >= SCR_MIN_AMPLITUDE_US)))
        assert float(np.min(seg)) <= tonic[-1] <= float(np.max(seg))
    ratio = np.asarray(ours) / np.asarray(theirs)
    assert spearmanr(ours, theirs).statistic >= 0.7, (ours, theirs)
    assert np.all((ratio >= 0.5) & (ratio <= 2.0)), (ours, theirs)
    # responses per minute as in the literature for an emotional task, not 0 and not noise
    per_min = np.asarray(ours) / (WINDOW_S / 60)
    assert 2.0 <= float(np.median(per_min)) <= 15.0, per_min
