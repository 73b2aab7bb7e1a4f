"""Incremental ECG + EDA synthesis driven by a scenario's arousal (and a little valence).

Used by :class:`devices.simulated.sensor.SimulatedSensor`. Signals are produced block by block with
all filter and process state carried over, so a 60-minute session never exists in memory at once
and the result does not depend on how the session is cut into blocks.

Physiology (a = arousal, v = valence, both in [-1, 1]):

* heart rate 81 + 19·a − 2·v bpm (≈ 62 bpm calm → 100 bpm anxious);
* RMSSD 60 ms · 0.25^((a+1)/2) · (1 + 0.1·v) (60 ms calm → 15 ms anxious), split between
  respiratory sinus arrhythmia and an AR(1) beat-to-beat process;
* tonic EDA 2 µS · 5^((a+1)/2) · (1 − 0.05·v) (2 µS → 10 µS), low-passed (τ = 15 s) and slowly
  wandering;
* SCRs as a Poisson process of 8^((a+1)/2) per minute (1/min → 8/min), Bateman-shaped.
"""

from __future__ import annotations

import functools
import math

import numpy as np

from core.simulation.scenario import Scenario

_TEMPLATE_RR_S = 1.0  # the template beat is taken at 60 bpm
_QRS_HALF_S = 0.06  # ± this around the R peak is never time-warped (QRS width barely varies)
_PRE_S, _POST_S = 0.40, 0.60  # template span around the R peak at 60 bpm
_R_AMPLITUDE_MV = 1.1
_SCR_TAU_RISE_S, _SCR_TAU_DECAY_S = 0.75, 3.0
_SCR_SPAN_S = 30.0  # exp(−30/3) ≈ 5e-5: the truncated tail is far below one quantisation step
_EDA_TONIC_TAU_S = 15.0


def heart_rate_bpm(arousal: float, valence: float) -> float:
    """Mean heart rate (bpm) for a valence/arousal state."""
    return 81.0 + 19.0 * arousal - 2.0 * valence


def rmssd_s(arousal: float, valence: float) -> float:
    """Target RMSSD (s) for a valence/arousal state."""
    return 0.060 * 0.25 ** ((arousal + 1.0) / 2.0) * (1.0 + 0.1 * valence)


def eda_tonic_us(arousal: np.ndarray, valence: np.ndarray) -> np.ndarray:
    """Target tonic skin conductance level (µS)."""
    return 2.0 * 5.0 ** ((arousal + 1.0) / 2.0) * (1.0 - 0.05 * valence)


def scr_rate_per_min(arousal: float) -> float:
    """Mean rate of skin conductance responses (1/min)."""
    return 8.0 ** ((arousal + 1.0) / 2.0)


@functools.lru_cache(maxsize=1)
def beat_template() -> tuple[np.ndarray, np.ndarray]:
    """One PQRST beat at 60 bpm from neurokit2's ECGSYN: (offsets from the R peak (s), mV).

    Several beats are averaged, the TP baseline is removed and both ends are tapered to zero so
    overlapping beats sum without steps. The R peak is scaled to 1 mV.
    """
    import neurokit2 as nk
    from scipy.signal import find_peaks

    rate_hz = 1000
    x = np.asarray(
        nk.ecg_simulate(
            duration=10,
            sampling_rate=rate_hz,
            heart_rate=60,
            heart_rate_std=0.01,
            method="ecgsyn",
            noise=0.0,
            random_state=7,
        ),
        dtype=float,
    )
    peaks, _ = find_peaks(x, height=0.6 * x.max(), distance=rate_hz // 2)
    pre, post = int(_PRE_S * rate_hz), int(_POST_S * rate_hz)
    beats = [x[p - pre : p + post] for p in peaks[1:-1] if p - pre >= 0 and p + post <= len(x)]
    y = np.mean(beats, axis=0)
    edge = int(0.05 * rate_hz)
    y = y - np.median(np.concatenate([y[:edge], y[-edge:]]))
    ramp = 0.5 - 0.5 * np.cos(np.linspace(0.0, math.pi, edge))
    y[:edge] *= ramp
    y[-edge:] *= ramp[::-1]
    y /= y[pre]
    return (np.arange(-pre, post) / rate_hz), y


def _bateman(t: np.ndarray) -> np.ndarray:
    """SCR shape with unit peak, t in s since onset (0 before onset)."""
    tr, td = _SCR_TAU_RISE_S, _SCR_TAU_DECAY_S
    t_peak = math.log(td / tr) * td * tr / (td - tr)
    peak = math.exp(-t_peak / td) - math.exp(-t_peak / tr)
    t = np.maximum(t, 0.0)
    return (np.exp(-t / td) - np.exp(-t / tr)) / peak


class PhysiologyGenerator:
    """Stateful ECG (mV) + EDA (µS) generator; call :meth:`next_block` repeatedly.

    Parameters
    ----------
    scenario : Scenario — valence/arousal over session time (s)
    rate_hz : float — the true sampling rate (Hz): sample k is taken at k / rate_hz seconds of
        session time
    seed : int or SeedSequence — everything random derives from it
    """

    def __init__(
        self, scenario: Scenario, rate_hz: float, seed: int | np.random.SeedSequence
    ) -> None:
        from scipy.signal import lfilter  # here, not at the top: scipy.signal takes ~0.7 s

        self._lfilter = lfilter
        self.scenario = scenario
        self.rate_hz = float(rate_hz)
        ss = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
        # one generator per process, so no process's draws depend on the block size
        rngs = [np.random.default_rng(s) for s in ss.spawn(6)]
        self._rng_beat, self._rng_scr, rng_ou_ecg, rng_ou_eda = rngs[:4]
        self._rng_ecg_noise, self._rng_eda_noise = rngs[4:]
        self._tmpl_t, self._tmpl_y = beat_template()
        self.k = 0  # index of the next sample to generate
        # ECG beat process: pending beats (R time s, warp factor, amplitude mV)
        self._beats: list[tuple[float, float, float]] = []
        self._rpeaks: list[float] = []
        self._next_r = 0.3 + 0.5 * float(self._rng_beat.random())
        self._resp_phase_beat = 0.0
        self._ar = 0.0
        # per-sample processes
        self._resp_phase = 0.0
        a_ecg = math.exp(-1.0 / (5.0 * self.rate_hz))  # baseline-wander OU, τ = 5 s
        a_eda = math.exp(-1.0 / (30.0 * self.rate_hz))  # EDA level fluctuation OU, τ = 30 s
        self._ou = [
            (a_ecg, 0.05 * math.sqrt(1 - a_ecg**2), np.zeros(1), rng_ou_ecg),
            (a_eda, 0.06 * math.sqrt(1 - a_eda**2), np.zeros(1), rng_ou_eda),
        ]
        # The OU wander alone is rough at the sample scale (≈ 0.1 µS within a second at 8 µS),
        # which an SCR detector rightly reads as responses; a second one-pole stage (τ = 5 s)
        # leaves only slow drift, as in real tonic EDA.
        self._wander_alpha = math.exp(-1.0 / (5.0 * self.rate_hz))
        self._wander_zi = np.zeros(1)
        self._tonic_alpha = math.exp(-1.0 / (_EDA_TONIC_TAU_S * self.rate_hz))
        v0, a0 = scenario.at(0.0)
        self._tonic_zi = np.array([self._tonic_alpha * float(eda_tonic_us(a0, v0))])
        # SCRs: active (onset s, amplitude µS) and the next onset
        self._scrs: list[tuple[float, float]] = []
        self._next_scr = self._scr_gap(0.0)

    def rpeaks_s(self) -> np.ndarray:
        """True R-peak times (s) of the samples generated so far."""
        t_end = self.k / self.rate_hz
        return np.array([r for r in self._rpeaks if r < t_end])

    def _state(self, t: float) -> tuple[float, float]:
        v, a = self.scenario.at(t)
        return float(v), float(a)

    def _scr_gap(self, t: float) -> float:
        _, a = self._state(t)
        return t + float(self._rng_scr.exponential(60.0 / scr_rate_per_min(a)))

    def _new_beat(self) -> None:
        r = self._next_r
        v, a = self._state(r)
        rr_mean = 60.0 / heart_rate_bpm(a, v)
        target = rmssd_s(a, v)
        f_resp = 0.22 + 0.05 * (a + 1.0)  # breathing quickens with arousal (Hz)
        # successive differences of a sinusoid sampled once a beat have rms √2·A·sin(π·f·RR)
        rsa_amp = 0.7 * target / (math.sqrt(2) * max(math.sin(math.pi * f_resp * rr_mean), 0.2))
        # AR(1) with φ = 0.5 has RMSSD equal to its standard deviation
        self._ar = 0.5 * self._ar + math.sqrt(0.75) * 0.714 * target * self._rng_beat.normal()
        rr = max(0.3, rr_mean + rsa_amp * math.sin(self._resp_phase_beat) + self._ar)
        self._resp_phase_beat = (self._resp_phase_beat + 2 * math.pi * f_resp * rr) % (2 * math.pi)
        amp = _R_AMPLITUDE_MV * (1.0 + 0.05 * math.sin(self._resp_phase_beat))
        amp *= 1.0 + 0.02 * float(self._rng_beat.normal())
        self._beats.append((r, math.sqrt(rr / _TEMPLATE_RR_S), amp))
        self._rpeaks.append(r)
        self._next_r = r + rr

    def _ecg(self, k0: int, n: int, t: np.ndarray) -> np.ndarray:
        t_end = (k0 + n) / self.rate_hz
        while self._next_r - _PRE_S * 1.5 < t_end:
            self._new_beat()
        y = np.zeros(n)
        q = _QRS_HALF_S
        keep = []
        for r, w, amp in self._beats:
            lo = r - (q + (_PRE_S - q) * w)
            hi = r + (q + (_POST_S - q) * w)
            i0 = max(0, math.ceil(lo * self.rate_hz) - k0)
            i1 = min(n, math.floor(hi * self.rate_hz) + 1 - k0)
            if i0 < i1:
                d = t[i0:i1] - r
                ad = np.abs(d)
                tau = np.where(ad <= q, d, np.sign(d) * (q + (ad - q) / w))
                y[i0:i1] += amp * np.interp(tau, self._tmpl_t, self._tmpl_y, left=0.0, right=0.0)
            if hi >= t_end:
                keep.append((r, w, amp))
        self._beats = keep
        return y

    def _ou_step(self, i: int, n: int) -> np.ndarray:
        a, s, zi, rng = self._ou[i]
        y, zf = self._lfilter([s], [1.0, -a], rng.standard_normal(n), zi=zi)
        self._ou[i] = (a, s, zf, rng)
        return np.asarray(y)

    def _eda(self, t: np.ndarray, v: np.ndarray, a: np.ndarray) -> np.ndarray:
        alpha = self._tonic_alpha
        tonic, self._tonic_zi = self._lfilter(
            [1.0 - alpha], [1.0, -alpha], eda_tonic_us(a, v), zi=self._tonic_zi
        )
        wa = self._wander_alpha
        wander, self._wander_zi = self._lfilter(
            [1.0 - wa], [1.0, -wa], self._ou_step(1, len(t)), zi=self._wander_zi
        )
        y = np.asarray(tonic) * np.exp(np.asarray(wander))
        t_end = float(t[-1])
        while self._next_scr <= t_end:
            _, a_on = self._state(self._next_scr)
            amp = float(self._rng_scr.lognormal(math.log(0.15 + 0.2 * (a_on + 1.0)), 0.4))
            self._scrs.append((self._next_scr, amp))
            self._next_scr = self._scr_gap(self._next_scr)
        for onset, amp in self._scrs:
            i0 = int(np.searchsorted(t, onset))
            y[i0:] += amp * _bateman(t[i0:] - onset)
        self._scrs = [(o, amp) for o, amp in self._scrs if o + _SCR_SPAN_S > t_end]
        return y

    def next_block(self, n: int) -> np.ndarray:
        """The next ``n`` samples, shape (n, 2): ECG (mV), EDA (µS), float64."""
        k0 = self.k
        t = (k0 + np.arange(n)) / self.rate_hz
        v, a = self.scenario.at(t)
        f_resp = 0.22 + 0.05 * (a + 1.0)
        phase = self._resp_phase + np.cumsum(2 * math.pi * f_resp / self.rate_hz)
        self._resp_phase = float(phase[-1] % (2 * math.pi))
        ecg = self._ecg(k0, n, t)
        ecg += 0.08 * np.sin(phase) + self._ou_step(0, n)  # breathing and electrode drift
        ecg += 0.005 * np.sin(2 * math.pi * 50.0 * t)  # mains hum
        ecg += 0.01 * self._rng_ecg_noise.standard_normal(n)
        eda = self._eda(t, v, a) + 0.003 * self._rng_eda_noise.standard_normal(n)
        self.k += n
        return np.column_stack([ecg, eda])
