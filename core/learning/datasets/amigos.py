"""The AMIGOS dataset as distributed: labels, signals, per-frame bio windows, folds and scores.

File format (see ``shared/reference/datasets.md``): one ``Data_Preprocessed_Pxx.mat`` per
participant holding (1, n_trials) cell arrays ``joined_data`` (n_samples × 17 at 128 Hz; column 14
ECG right, 15 ECG left, 16 GSR), ``labels_selfassessment`` ((1, 12) or (1, 0) when missing),
``labels_ext_annotation`` and ``VideoIDs``; one face video per participant and trial.

Units: ECG in mV, EDA in µS, from the file to the model
------------------------------------------------------
TheraScope records ECG in mV and EDA (skin conductance) in µS, and every model input is in those
units before scaling. :class:`Trial` therefore always holds ECG in **mV** and GSR as conductance in
**µS**, converted on load as the layout states (:class:`AmigosLayout`), and each participant's
converted signals are checked against physiological ranges (:data:`ECG_RANGE_MV`,
:data:`EDA_RANGE_US`); a participant outside them is refused with a message naming the setting.

* **ECG** (columns 14/15): the preprocessed files do not state their ECG unit in the material
  available here. ``AmigosLayout.ecg_unit`` says it: ``"uV"`` (÷ 1000), ``"mV"`` (× 1), ``"V"``
  (× 1000), or ``"auto"`` (the default), which picks, per participant, the one of these under
  which the ECG's robust amplitude (99.5th − 0.5th percentile of the first usable trial) lies in
  :data:`ECG_RANGE_MV` (0.2–10 mV: a surface ECG's QRS is about 0.5–3 mV) and refuses the
  participant when none does. The choice is logged and kept on each trial.
* **GSR** (column 16): what is certain is that it is the Shimmer GSR channel, downsampled to 128
  Hz and low-passed at 60 Hz by the dataset's authors. What is *assumed*: the column keeps skin
  **resistance** in kΩ (the Shimmer software's calibrated GSR unit). Evidence: the AMIGOS paper's
  GSR features are the DEAP list ("mean skin resistance", "number of local minima in the GSR
  signal", …), written for a resistance signal where a skin-conductance response is a *dip*.
  Conversion: µS = 1000 / kΩ (``10⁶ / (value · gsr_resistance_unit_ohm)``). The median converted
  level must lie in :data:`EDA_RANGE_US` (0.05–100 µS); ``AmigosLayout.gsr_polarity`` /
  ``gsr_resistance_unit_ohm`` override the assumption.

Short and long videos
---------------------
Every participant watched 16 short videos (51–150 s) and, most of them, 4 long ones. The paper
trained on the 16 short ones (640 instances = 16 × 40), so :func:`load_dataset` reads those by
default; ``include_long_videos=True`` adds the long ones (:func:`is_short_video`). Samples are
taken per video frame, so a trial weighs in training by its number of frames: a 150-s short video
about three times a 51-s one, and a long video (14–24 min) about as much as ten short ones.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from core.models.outputs import OUTPUT_NAMES
from core.models.units import SIGNAL_UNITS

log = logging.getLogger(__name__)

#: Columns of ``labels_selfassessment`` in stored order (arousal comes *before* valence).
LABEL_COLUMNS: tuple[str, ...] = (
    "arousal", "valence", "dominance", "liking", "familiarity",
    "neutral", "disgust", "happiness", "surprise", "anger", "fear", "sadness",
)  # fmt: skip
RATING_NAMES: tuple[str, ...] = OUTPUT_NAMES[:3]  # 1–9 self-assessment ratings
EMOTION_NAMES: tuple[str, ...] = OUTPUT_NAMES[3:]  # 0/1 basic-emotion choices
#: Output name → column of ``labels_selfassessment``; written out so a swap is visible in review.
LABEL_SOURCE_COLUMN: dict[str, int] = {
    "valence": 1, "arousal": 0, "liking": 3,
    "neutral": 5, "disgust": 6, "happiness": 7, "surprise": 8,
    "anger": 9, "fear": 10, "sadness": 11,
}  # fmt: skip
HIGH_RATING = 5.0  # a rating is "high" when strictly above this (the paper's split)
GsrPolarity = Literal["conductance", "resistance"]
EcgUnit = Literal["auto", "uV", "mV", "V"]
#: mV per stored unit of ECG, for each ``AmigosLayout.ecg_unit`` other than "auto"
ECG_UNIT_TO_MV: dict[str, float] = {"uV": 1e-3, "mV": 1.0, "V": 1e3}
#: plausible robust amplitude (99.5th − 0.5th percentile) of a surface ECG, in mV
ECG_RANGE_MV = (0.2, 10.0)
#: plausible median skin-conductance level, in µS
EDA_RANGE_US = (0.05, 100.0)
#: the 16 short stimulus videos of AMIGOS (trials 0–15 of every participant)
SHORT_VIDEO_IDS: frozenset[str] = frozenset(
    ("4", "5", "9", "10", "13", "18", "19", "20", "23", "30",
     "31", "34", "36", "58", "80", "138")
)  # fmt: skip
#: the 4 long videos (trials 16–19; participants 8, 24 and 28 have none)
LONG_VIDEO_IDS: frozenset[str] = frozenset(("N1", "P1", "B1", "U1"))
N_SHORT_TRIALS = 16


def labels_to_targets(row12: Sequence[float] | np.ndarray) -> np.ndarray:
    """Reorder one ``labels_selfassessment`` row into the model's output order.

    Parameters
    ----------
    row12 : array-like, 12 values — in :data:`LABEL_COLUMNS` order (ratings 1–9, emotions 0/1)

    Returns
    -------
    ndarray, shape (10,), float64 — in :data:`OUTPUT_NAMES` order
    """
    row = np.asarray(row12, dtype=float).ravel()
    if row.size != len(LABEL_COLUMNS):
        raise ValueError(f"expected {len(LABEL_COLUMNS)} label values, got {row.size}")
    return row[[LABEL_SOURCE_COLUMN[name] for name in OUTPUT_NAMES]]


@dataclass(frozen=True)
class AmigosLayout:
    """Where one copy of AMIGOS keeps its files, and how to read its signals.

    Parameters
    ----------
    root : Path — folder the patterns are relative to
    mat_pattern : str — per-participant file; ``{p}`` is the participant number (1–40)
    video_pattern : str — face video; ``{p}`` (no zero padding) and ``{video_id}``; may contain
        sub-folders (``"Face/P{p}/P{p}_{video_id}_face.mov"``), since copies differ
    ecg_column : int — 14 = ECG right arm, 15 = ECG left arm
    gsr_column : int — 16 = GSR
    rate_hz : float — signal sampling rate (Hz)
    gsr_polarity : {"resistance", "conductance"} — what the GSR column stores (module docstring)
    gsr_resistance_unit_ohm : float — ohms per stored unit when it is resistance (1000 = kΩ)
    ecg_unit : {"auto", "uV", "mV", "V"} — the ECG columns' unit; "auto" picks it per participant
        from the amplitude (module docstring)
    """

    root: Path
    mat_pattern: str = "Data_Preprocessed_P{p:02d}.mat"
    video_pattern: str = "P{p}_{video_id}_face.mov"
    ecg_column: int = 14
    gsr_column: int = 16
    rate_hz: float = 128.0
    gsr_polarity: GsrPolarity = "resistance"
    gsr_resistance_unit_ohm: float = 1e3
    ecg_unit: EcgUnit = "auto"

    def mat_path(self, p: int) -> Path:
        """Path of participant ``p``'s preprocessed MATLAB file."""
        return Path(self.root) / self.mat_pattern.format(p=p)

    def video_path(self, p: int, video_id: str) -> Path:
        """Path where participant ``p``'s face video for ``video_id`` would be."""
        return Path(self.root) / self.video_pattern.format(p=p, video_id=video_id)


@dataclass(frozen=True, eq=False)  # ndarray fields: compare trials by identity
class Trial:
    """One usable trial: signals, labels and face video of one participant watching one video.

    Attributes
    ----------
    participant : int — 1-based participant number
    index : int — position of the trial in the participant's cell arrays (0-based)
    video_id : str — stimulus video id
    ecg : ndarray (n,) — ECG in mV, NaN gaps interpolated
    gsr : ndarray (n,) — skin conductance in µS (under the layout's GSR assumption)
    labels : ndarray (10,) — targets in :data:`OUTPUT_NAMES` order
    video_path : Path or None — face video, None when the file is absent
    ecg_file_unit : str — the unit the file's ECG was read in (converted to mV)
    """

    participant: int
    index: int
    video_id: str
    ecg: np.ndarray = field(repr=False)
    gsr: np.ndarray = field(repr=False)
    labels: np.ndarray = field(repr=False)
    video_path: Path | None = None
    ecg_file_unit: str = "mV"


def is_short_video(index: int, video_id: str) -> bool:
    """Whether a trial is one of the 16 short videos: by its video id when it is one of AMIGOS'
    (:data:`SHORT_VIDEO_IDS`, :data:`LONG_VIDEO_IDS`), else by position (trials 0–15)."""
    if video_id in SHORT_VIDEO_IDS:
        return True
    if video_id in LONG_VIDEO_IDS:
        return False
    return index < N_SHORT_TRIALS


def ecg_amplitude(ecg: np.ndarray) -> float:
    """Robust amplitude of an ECG: 99.5th minus 0.5th percentile (in the signal's unit)."""
    x = np.asarray(ecg, dtype=float)
    x = x[np.isfinite(x)]
    if x.size == 0:
        return float("nan")
    hi, lo = np.percentile(x, [99.5, 0.5])
    return float(hi - lo)


def infer_ecg_unit(ecg: np.ndarray) -> str | None:
    """The unit ("uV", "mV" or "V") under which ``ecg``'s amplitude is plausible in mV.

    Returns
    -------
    str or None — None when no unit puts the amplitude inside :data:`ECG_RANGE_MV`
    """
    amp = ecg_amplitude(ecg)
    lo, hi = ECG_RANGE_MV
    for unit, to_mv in ECG_UNIT_TO_MV.items():
        if lo <= amp * to_mv <= hi:
            return unit
    return None


def ecg_to_mv(ecg: np.ndarray, unit: str) -> np.ndarray:
    """ECG samples in ``unit`` ("uV", "mV" or "V") converted to mV (float64, a copy)."""
    if unit not in ECG_UNIT_TO_MV:
        raise ValueError(f"unknown ECG unit {unit!r}; expected one of {sorted(ECG_UNIT_TO_MV)}")
    return np.asarray(ecg, dtype=float) * ECG_UNIT_TO_MV[unit]


def gsr_to_conductance(
    gsr: np.ndarray, polarity: GsrPolarity = "resistance", resistance_unit_ohm: float = 1e3
) -> np.ndarray:
    """Convert a GSR column to skin conductance (µS).

    Parameters
    ----------
    gsr : ndarray — the stored GSR samples
    polarity : {"resistance", "conductance"} — what ``gsr`` holds; conductance is taken as µS
    resistance_unit_ohm : float — ohms per stored unit of resistance (1000 for kΩ)

    Returns
    -------
    ndarray, float64 — conductance (µS)

    Raises
    ------
    ValueError — resistance that is not strictly positive (no conductance exists for it)
    """
    x = np.asarray(gsr, dtype=float)
    if polarity == "conductance":
        return x.copy()
    if polarity != "resistance":
        raise ValueError(f"unknown GSR polarity {polarity!r}")
    if np.any(x[np.isfinite(x)] <= 0):
        raise ValueError("GSR resistance has non-positive values; is it really resistance?")
    return 1e6 / (x * resistance_unit_ohm)


class UnitCheckError(ValueError):
    """A participant's signals, converted as the layout says, are not physiological."""


def check_units(ecg_mv: np.ndarray, eda_us: np.ndarray, where: str) -> None:
    """Refuse converted signals outside the physiological ranges.

    Raises
    ------
    UnitCheckError — the ECG amplitude is outside :data:`ECG_RANGE_MV` or the median conductance
    outside :data:`EDA_RANGE_US`; the message names the setting to check
    """
    amp = ecg_amplitude(ecg_mv)
    lo, hi = ECG_RANGE_MV
    if not lo <= amp <= hi:
        raise UnitCheckError(
            f"{where}: the ECG's amplitude converts to {amp:.3g} mV, outside the {lo:g}–{hi:g} mV "
            "of a surface ECG; check AmigosLayout.ecg_unit (--ecg-unit)"
        )
    level = float(np.nanmedian(eda_us))
    lo, hi = EDA_RANGE_US
    if not lo <= level <= hi:
        raise UnitCheckError(
            f"{where}: median GSR converts to {level:.3g} µS, implausible for skin conductance "
            f"({lo:g}–{hi:g} µS); check AmigosLayout.gsr_polarity and gsr_resistance_unit_ohm"
        )


def _fill_nan(x: np.ndarray) -> np.ndarray:
    bad = np.isnan(x)
    if not bad.any():
        return x
    idx = np.arange(x.size)
    out = x.copy()
    out[bad] = np.interp(idx[bad], idx[~bad], x[~bad])
    return out


def _video_id(cell: Any, index: int) -> str:
    a = np.asarray(cell).ravel()
    if a.size == 0:
        return str(index)
    v = a[0]
    if isinstance(v, (float, np.floating)) and float(v).is_integer():
        return str(int(v))
    return str(v).strip()


def _cells(mat: dict[str, Any], name: str) -> list[Any]:
    if name not in mat:
        raise ValueError(f"variable {name!r} missing")
    arr = mat[name]
    return list(arr.ravel()) if arr.dtype == object else [arr]


def load_participant(
    layout: AmigosLayout, p: int, include_long_videos: bool = False
) -> list[Trial]:
    """Read one participant's usable trials, skipping missing ones with a log line.

    Parameters
    ----------
    layout : AmigosLayout
    p : int — participant number (1-based)
    include_long_videos : bool — also the long-video trials (default: the 16 short ones only,
        as the paper; :func:`is_short_video`)

    Returns
    -------
    list of Trial — in stored order, ECG in mV and GSR in µS; trials without signals (shape
    (0, 0), all-NaN ECG or GSR, too few columns) or without labels (shape (1, 0), NaN) are left out

    Raises
    ------
    FileNotFoundError — no file for ``p``; ValueError — a file without the AMIGOS variables;
    UnitCheckError — the first usable trial's converted signals are not physiological (a
    ValueError too)
    """
    import scipy.io

    path = layout.mat_path(p)
    if not path.is_file():
        raise FileNotFoundError(path)
    mat = scipy.io.loadmat(str(path))
    signals, labels = _cells(mat, "joined_data"), _cells(mat, "labels_selfassessment")
    video_ids = _cells(mat, "VideoIDs")
    if not len(signals) == len(labels) == len(video_ids):
        log.warning("P%02d: cell counts differ %d/%d/%d; reading the common part", p,
                    len(signals), len(labels), len(video_ids))  # fmt: skip
    trials: list[Trial] = []
    ecg_unit: str | None = None if layout.ecg_unit == "auto" else layout.ecg_unit
    for t, (sig, lab, vid) in enumerate(zip(signals, labels, video_ids, strict=False)):
        where = f"P{p:02d} trial {t}"
        video_id = _video_id(vid, t)
        if not include_long_videos and not is_short_video(t, video_id):
            log.info("%s left out: long video %s (include_long_videos to read it)", where,
                     video_id)  # fmt: skip
            continue
        data = np.asarray(sig, dtype=float)
        if data.size == 0 or data.ndim != 2:
            log.info("%s skipped: no signals (shape %s)", where, data.shape)
            continue
        if data.shape[1] <= max(layout.ecg_column, layout.gsr_column):
            log.info("%s skipped: %d columns, too few", where, data.shape[1])
            continue
        ecg, gsr = data[:, layout.ecg_column], data[:, layout.gsr_column]
        if np.isnan(ecg).all() or np.isnan(gsr).all():
            log.info("%s skipped: ECG or GSR is all NaN", where)
            continue
        row = np.asarray(lab, dtype=float).ravel()
        if row.size != len(LABEL_COLUMNS) or np.isnan(row).any():
            log.info("%s skipped: labels missing (shape %s)", where, np.shape(lab))
            continue
        n_gaps = int(np.isnan(ecg).sum() + np.isnan(gsr).sum())
        if n_gaps:
            log.info("%s: %d NaN samples interpolated", where, n_gaps)
        try:
            us = gsr_to_conductance(
                _fill_nan(gsr), layout.gsr_polarity, layout.gsr_resistance_unit_ohm
            )
        except ValueError as exc:
            log.info("%s skipped: %s", where, exc)
            continue
        ecg_raw = _fill_nan(ecg)
        if ecg_unit is None:  # "auto": decided once per participant, on its first usable trial
            ecg_unit = infer_ecg_unit(ecg_raw)
            if ecg_unit is None:
                raise UnitCheckError(
                    f"{where}: the ECG's amplitude ({ecg_amplitude(ecg_raw):.3g} file units) is "
                    f"a surface ECG's ({ECG_RANGE_MV[0]:g}–{ECG_RANGE_MV[1]:g} mV) in none of "
                    f"µV, mV or V; set AmigosLayout.ecg_unit (--ecg-unit)"
                )
            log.info("P%02d: ECG read as %s (amplitude), converted to mV", p, ecg_unit)
        ecg_mv = ecg_to_mv(ecg_raw, ecg_unit)
        if not trials:
            check_units(ecg_mv, us, where)
        video = layout.video_path(p, video_id)
        if not video.is_file():
            log.info("%s: no face video at %s", where, video)
        trials.append(
            Trial(
                p,
                t,
                video_id,
                ecg_mv,
                us,
                labels_to_targets(row),
                video if video.is_file() else None,
                ecg_unit,
            )
        )
    return trials


def load_dataset(
    layout: AmigosLayout,
    participants: Iterable[int] | None = None,
    include_long_videos: bool = False,
) -> list[Trial]:
    """Read the usable trials of several participants; absent or unreadable files are logged.

    Parameters
    ----------
    layout : AmigosLayout
    participants : iterable of int, optional — participant numbers; default 1–40
    include_long_videos : bool — also the long-video trials (default: the 16 short ones)

    Returns
    -------
    list of Trial — participant by participant, in stored trial order
    """
    trials: list[Trial] = []
    for p in range(1, 41) if participants is None else participants:
        try:
            trials.extend(load_participant(layout, p, include_long_videos))
        except FileNotFoundError as exc:
            log.info("P%02d skipped: no file %s", p, exc)
        except UnitCheckError as exc:
            log.warning("P%02d refused: %s", p, exc)
        except (OSError, ValueError) as exc:
            log.warning("P%02d skipped: unreadable file (%s)", p, exc)
    return trials


def frame_windows(
    signal: np.ndarray, rate_hz: float, frame_times_s: np.ndarray, window: int = 1000
) -> np.ndarray:
    """The window of samples centred on each video frame's time.

    Frame ``i`` at time ``t`` gets samples ``c - window//2 … c + window - window//2 - 1`` with
    ``c = round(t·rate_hz)`` (clipped to the recording). The recording is extended at both ends by
    repeating its first and last sample (edge padding): a constant level adds no step or false
    beat, which zero padding would for GSR.

    Parameters
    ----------
    signal : ndarray (n,) — one signal, n ≥ 1
    rate_hz : float — sampling rate (Hz)
    frame_times_s : ndarray (m,) — frame times (s) from the start of the recording
    window : int — samples per window (the paper: 1000 ≈ 7.8 s at 128 Hz)

    Returns
    -------
    ndarray (m, window) — float, a copy (not a view of ``signal``)
    """
    x = np.asarray(signal)
    if not np.issubdtype(x.dtype, np.floating):
        x = x.astype(float)
    if x.ndim != 1 or x.size == 0 or window < 1:
        raise ValueError("need a non-empty 1-D signal and window ≥ 1")
    half = window // 2
    padded = np.pad(x, (half, window - half), mode="edge")
    centres = np.clip(np.rint(np.asarray(frame_times_s, float) * rate_hz), 0, x.size - 1)
    views = np.lib.stride_tricks.sliding_window_view(padded, window)
    # window k of ``views`` starts at padded index k, i.e. at original sample k − half
    return views[centres.astype(np.intp)]


@dataclass
class SignalScaling:
    """Per-signal mean and standard deviation, fitted on training participants only.

    Stored with the checkpoint (:meth:`to_dict`) so inference scales exactly as training did;
    ``units`` says what the statistics are in (ECG mV, EDA µS: :class:`Trial`'s units), which the
    analysis matches against a session's units.
    """

    mean: dict[str, float] = field(default_factory=dict)
    std: dict[str, float] = field(default_factory=dict)
    fitted_on: tuple[int, ...] = ()  # participant numbers, kept to audit for test leakage
    units: dict[str, str] = field(default_factory=lambda: dict(SIGNAL_UNITS))

    @classmethod
    def fit(
        cls, trials: Iterable[Trial], participants: Collection[int] | None = None
    ) -> SignalScaling:
        """Fit on ``trials`` (restricted to ``participants`` when given).

        Parameters
        ----------
        trials : iterable of Trial
        participants : collection of int, optional — training participants; other trials ignored

        Returns
        -------
        SignalScaling — statistics over all samples of the chosen trials (ECG mV, GSR µS)
        """
        chosen = [t for t in trials if participants is None or t.participant in participants]
        if not chosen:
            raise ValueError("no training trials to fit the signal scaling on")
        scaling = cls(fitted_on=tuple(sorted({t.participant for t in chosen})))
        for name in ("ecg", "gsr"):
            x = np.concatenate([getattr(t, name) for t in chosen])
            std = float(np.std(x))
            scaling.mean[name] = float(np.mean(x))
            scaling.std[name] = std if std > 1e-12 else 1.0  # a flat signal stays flat, not inf
        return scaling

    def apply(self, x: np.ndarray, signal: str) -> np.ndarray:
        """Scale samples of ``signal`` ("ecg" or "gsr") to zero mean and unit variance."""
        return (np.asarray(x, dtype=float) - self.mean[signal]) / self.std[signal]

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able form for checkpoint metadata."""
        return {
            "mean": dict(self.mean),
            "std": dict(self.std),
            "fitted_on": list(self.fitted_on),
            "units": dict(self.units),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SignalScaling:
        """Inverse of :meth:`to_dict`."""
        return cls(
            {k: float(v) for k, v in d["mean"].items()},
            {k: float(v) for k, v in d["std"].items()},
            tuple(int(p) for p in d.get("fitted_on", ())),
            {str(k): str(v) for k, v in d.get("units", SIGNAL_UNITS).items()},
        )
