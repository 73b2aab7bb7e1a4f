"""A recorded session as model input: bio signals at the model's rate, windows, frames, face crops.

Shared by the analysis engine and by training on TheraScope's own sessions
(:mod:`core.learning.datasets.sessions`), so a model sees exactly the same kind of input in both.

* **Bio**: each channel is low-passed (zero phase, below the target Nyquist frequency) and read
  off on the model's grid (128 Hz from session time 0). Lost samples are never bridged: a grid
  sample within one source period of a lost one is marked invalid, and a window holding an
  invalid sample is *incomplete* — its frame gets no estimate.
* **Units**: a checkpoint records the units its scaling is in (ECG mV, EDA µS:
  :mod:`core.models.units`); each session channel is converted into them before scaling
  (:func:`unit_factors`), and a checkpoint without recorded units, or with units a session's
  signal cannot be converted to, is refused.
* **Windows**: the 1000-sample window of a frame at time t is centred on sample
  round(t·rate_hz), as in :func:`core.learning.datasets.amigos.frame_windows`; before the first
  and after the last recorded sample the signal is edge-padded (the same padding as in
  training), which is not a loss.
* **Frames**: every stored frame, or one per 1/frames_per_s seconds, optionally within time spans.
* **Faces**: frames decoded in parallel (OpenCV releases the GIL), the tracker run in frame order,
  crops cut by the crop policy; frames without a face are marked.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from core.faces.track import CropPolicy, FaceTracker
    from core.recording.reader import SessionData
    from core.recording.video_file import SessionVideo

#: names the checkpoints' signal scaling uses for each channel (AMIGOS calls EDA "GSR")
SCALING_KEYS = {"ECG": "ecg", "EDA": "gsr"}


@dataclass
class BioGrid:
    """Bio channels on the model's sample grid.

    Parameters
    ----------
    rate_hz : float — grid sampling rate (Hz); sample k lies at session time k / rate_hz (s)
    values : ndarray (n_channels, M) float32 — NaN where invalid
    valid : ndarray (M,) bool — every channel valid at this sample
    first, last : int — grid samples inside the recording (edge padding outside)
    """

    rate_hz: float
    values: np.ndarray
    valid: np.ndarray
    first: int
    last: int


def resample_channel(
    t_s: np.ndarray, x: np.ndarray, target_rate_hz: float, n_out: int
) -> np.ndarray:
    """One channel from its own grid onto ``k / target_rate_hz`` s, k = 0…n_out−1 (NaN: lost).

    Parameters
    ----------
    t_s : ndarray — sample times (s), increasing, evenly spaced by the clock fit
    x : ndarray — samples, NaN where lost
    target_rate_hz : float — sampling rate of the target grid (Hz)
    n_out : int — number of target samples

    Returns
    -------
    ndarray (n_out,) float32 — NaN outside the recording and within one source period of a lost
    sample; otherwise the anti-aliased signal interpolated linearly
    """
    from scipy.signal import butter, sosfiltfilt

    out = np.full(n_out, np.nan, np.float32)
    if len(x) < 2:
        return out
    src_rate_hz = (len(t_s) - 1) / (t_s[-1] - t_s[0])
    lost = ~np.isfinite(x)
    y = np.asarray(x, np.float64)
    if lost.any():
        good = np.flatnonzero(~lost)
        if len(good) < 2:
            return out
        # filled only so the filter has something to run over; these samples stay invalid below
        y = np.interp(np.arange(len(y)), good, y[good])
    if src_rate_hz > 1.25 * target_rate_hz and len(y) > 30:
        sos = butter(8, 0.4 * target_rate_hz, fs=src_rate_hz, output="sos")
        y = sosfiltfilt(sos, y)
    grid = np.arange(n_out) / target_rate_hz
    inside = (grid >= t_s[0]) & (grid <= t_s[-1])
    out[inside] = np.interp(grid[inside], t_s, y).astype(np.float32)
    if lost.any():
        # a grid sample is invalid when either neighbouring source sample was lost
        pos = np.searchsorted(t_s, grid[inside])
        lo = np.clip(pos - 1, 0, len(x) - 1)
        hi = np.clip(pos, 0, len(x) - 1)
        bad = lost[lo] | lost[hi]
        idx = np.flatnonzero(inside)
        out[idx[bad]] = np.nan
    return out


def session_bio_grid(data: SessionData, channels: Sequence[str], rate_hz: float = 128.0) -> BioGrid:
    """The session's ``channels`` (e.g. ``("ECG", "EDA")``) on a ``rate_hz`` grid.

    Raises
    ------
    KeyError — the session has no such channel
    """
    sigs = [data.signal(c) for c in channels]
    end_s = max(float(s.t_s[-1]) for s in sigs if len(s.t_s)) if sigs else 0.0
    n_out = int(math.floor(max(end_s, data.duration_s) * rate_hz)) + 1
    values = np.stack([resample_channel(s.t_s, s.values, rate_hz, n_out) for s in sigs])
    valid = np.all(np.isfinite(values), axis=0)
    starts = [math.ceil(float(s.t_s[0]) * rate_hz) for s in sigs if len(s.t_s)]
    ends = [math.floor(float(s.t_s[-1]) * rate_hz) for s in sigs if len(s.t_s)]
    first = max(starts) if starts else 0
    last = min(ends) if ends else -1
    return BioGrid(rate_hz, values, valid, first, last)


def scale_channels(
    grid: BioGrid,
    channels: Sequence[str],
    scaling: dict[str, Any],
    factors: dict[str, float] | None = None,
) -> np.ndarray:
    """Standardise each channel with a checkpoint's stored scaling (``mean``/``std`` per key).

    Parameters
    ----------
    factors : dict, optional — per channel, the factor into the scaling's units
        (:func:`unit_factors`); a channel without one is taken as already in them
    """
    out = np.empty_like(grid.values)
    for i, c in enumerate(channels):
        key = SCALING_KEYS.get(c, c.lower())
        mean, std = float(scaling["mean"][key]), float(scaling["std"][key])
        x = grid.values[i] * (factors or {}).get(c, 1.0)
        out[i] = (x - mean) / (std if std > 1e-12 else 1.0)
    return out


class UnitMismatchError(ValueError):
    """The checkpoint's recorded units cannot be matched to the session's (message in words)."""


def unit_factors(
    channels: Sequence[str], metadata: dict[str, Any], session_units: dict[str, str]
) -> dict[str, float]:
    """Per channel, the factor that turns the session's samples into the checkpoint's units.

    Parameters
    ----------
    channels : the model's bio signals (e.g. ``("ECG", "EDA")``)
    metadata : the checkpoint's metadata (:func:`core.models.units.checkpoint_units`)
    session_units : channel → the unit the session stores it in (``"mV"``, ``"uS"``…)

    Returns
    -------
    dict — channel → factor (1.0 when the units are the same)

    Raises
    ------
    UnitMismatchError — the checkpoint records no units, or a channel's units cannot be matched
    """
    from core.models.units import checkpoint_units, display_unit, unit_factor

    units = checkpoint_units(metadata)
    if units is None:
        raise UnitMismatchError(
            "the checkpoint does not record the units its ECG and EDA were scaled in (it was "
            "written by an older TheraScope or by other software), so its inputs cannot be "
            "matched to this session's; train it again with this version"
        )
    factors: dict[str, float] = {}
    problems = []
    for c in channels:
        want, have = units.get(c), session_units.get(c)
        f = unit_factor(c, have, want) if want is not None and have is not None else None
        if f is None:
            problems.append(
                f"the model reads {c} in {display_unit(want) if want else 'an unrecorded unit'}, "
                f"this session stores it in {display_unit(have) if have else 'no stated unit'}"
            )
        else:
            factors[c] = f
    if problems:
        raise UnitMismatchError("; ".join(problems) + ", and the two cannot be converted")
    return factors


def bio_windows(
    values: np.ndarray, grid: BioGrid, times_s: np.ndarray, window: int = 1000
) -> tuple[np.ndarray, np.ndarray]:
    """The window centred on each time, and whether it is complete.

    Parameters
    ----------
    values : ndarray (n_channels, M) — channels on ``grid`` (scaled or not)
    times_s : ndarray (n,) — window centres, session time (s)
    window : int — samples per window

    Returns
    -------
    windows : ndarray (n, n_channels, window) float32 — edge-padded beyond the recording;
        0 where a sample inside the recording is lost (such windows are not complete)
    complete : ndarray (n,) bool — no lost sample inside the window, and the recording has data
    """
    n_ch = values.shape[0]
    half = window // 2
    out = np.zeros((len(times_s), n_ch, window), np.float32)
    complete = np.zeros(len(times_s), bool)
    if grid.last < grid.first:
        return out, complete
    inside = values[:, grid.first : grid.last + 1]
    ok = grid.valid[grid.first : grid.last + 1]
    # edge padding from the first/last *valid* value of each end, as training pads trial ends
    head = np.where(ok)[0]
    if len(head) == 0:
        return out, complete
    lo_val, hi_val = inside[:, head[0]], inside[:, head[-1]]
    bad_cum = np.concatenate([[0], np.cumsum(~ok)])
    centres = np.round(np.asarray(times_s) * grid.rate_hz).astype(np.int64) - grid.first
    n = inside.shape[1]
    for j, c in enumerate(centres):
        a, b = c - half, c - half + window
        ia, ib = max(a, 0), min(b, n)
        if ib <= ia:
            continue
        seg = np.nan_to_num(inside[:, ia:ib])
        out[j, :, ia - a : ia - a + (ib - ia)] = seg
        out[j, :, : ia - a] = lo_val[:, None]
        out[j, :, ia - a + (ib - ia) :] = hi_val[:, None]
        complete[j] = bad_cum[ib] - bad_cum[ia] == 0
    return out, complete


def select_frames(
    frame_times_s: np.ndarray,
    frames_per_s: float | None = None,
    spans: Sequence[tuple[float, float]] | None = None,
) -> np.ndarray:
    """Positions of the stored frames to analyse.

    Parameters
    ----------
    frame_times_s : ndarray — capture time of every stored frame (s), non-decreasing
    frames_per_s : float, optional — at most this many frames per second (the first frame at or
        after each 1/frames_per_s tick); None takes every frame
    spans : list of (start_s, end_s), optional — only frames inside one of these spans

    Returns
    -------
    ndarray of int — positions, increasing
    """
    t = np.asarray(frame_times_s, dtype=float)
    keep = np.ones(len(t), bool)
    if spans is not None:
        keep[:] = False
        for a, b in spans:
            keep |= (t >= a) & (t < b)
    pos = np.flatnonzero(keep)
    if frames_per_s is None or len(pos) == 0:
        return pos
    if frames_per_s <= 0:
        raise ValueError("frames_per_s must be positive")
    tick = np.floor(t[pos] * frames_per_s + 1e-9).astype(np.int64)
    first_of_tick = np.concatenate([[True], tick[1:] != tick[:-1]])
    return pos[first_of_tick]


@dataclass
class CropChunk:
    """Face crops of consecutive selected frames.

    Parameters
    ----------
    positions : ndarray (n,) int — stored-frame positions
    times_s : ndarray (n,) — capture times (s)
    crops : ndarray (n, S, S, 3) uint8 BGR — zeros where there is no face
    has_face : ndarray (n,) bool
    decode_s, faces_s : float — seconds spent decoding, and tracking + cropping
    n_unreadable : int — frames whose JPEG failed its check (treated as without a face)
    """

    positions: np.ndarray
    times_s: np.ndarray
    crops: np.ndarray
    has_face: np.ndarray
    decode_s: float = 0.0
    faces_s: float = 0.0
    n_unreadable: int = 0


def _decode(video: SessionVideo, i: int) -> np.ndarray | None:
    from core.recording.video_store import CorruptFrameError

    try:
        return video.read(i)
    except CorruptFrameError:
        return None


def iter_face_crops(
    video: SessionVideo,
    positions: np.ndarray,
    times_s: np.ndarray,
    tracker: FaceTracker,
    policy: CropPolicy,
    chunk: int = 64,
    workers: int = 4,
    cancel: Callable[[], bool] | None = None,
) -> Iterator[CropChunk]:
    """Crops of the frames at ``positions``, ``chunk`` frames at a time, in order.

    Frames are decoded ``chunk`` at a time on ``workers`` threads; the tracker sees every selected
    frame in time order in its offline mode (:meth:`~core.faces.track.FaceTracker.track_stream`:
    it detects on its own time grid and interpolates between detections), the mode AMIGOS
    training crops with too (:func:`core.learning.datasets.frames.trial_crops`). Memory stays
    bounded: besides the chunk being decoded, the tracker holds at most ``tracker.max_hold_s`` of
    selected frames.
    """
    import time

    from core.faces.track import crop_face

    n = len(positions)
    spent = {"decode": 0.0}
    stopped = False

    def decoded() -> Iterator[tuple[float, np.ndarray | None]]:
        nonlocal stopped
        with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
            for a in range(0, n, chunk):
                if cancel is not None and cancel():
                    stopped = True
                    return
                pos = positions[a : a + chunk]
                t0 = time.perf_counter()
                if video.parallel_reads:
                    images = list(pool.map(lambda i: _decode(video, int(i)), pos))
                else:  # one container decoded in order: threads would only make it seek
                    images = [_decode(video, int(i)) for i in pos]
                spent["decode"] += time.perf_counter() - t0
                for j, img in enumerate(images):
                    yield float(times_s[a + j]), img

    def empty(m: int) -> tuple[np.ndarray, np.ndarray]:
        return np.zeros((m, policy.size, policy.size, 3), np.uint8), np.zeros(m, bool)

    a = 0  # first frame of the chunk being filled
    crops, has = empty(min(chunk, n))
    bad = 0
    mark, decode_mark = time.perf_counter(), 0.0
    for k, (_, img, box) in enumerate(tracker.track_stream(decoded())):
        if img is None:
            bad += 1
        elif box is not None:
            crops[k - a] = crop_face(img, box, policy)
            has[k - a] = True
        if k + 1 - a == len(has):
            if stopped:
                return
            elapsed, dec = time.perf_counter() - mark, spent["decode"] - decode_mark
            yield CropChunk(
                positions[a : k + 1], times_s[a : k + 1], crops, has, dec, elapsed - dec, bad
            )
            a, bad = k + 1, 0
            crops, has = empty(min(chunk, n - a))
            mark, decode_mark = time.perf_counter(), spent["decode"]
