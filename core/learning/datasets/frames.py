"""From trials (face video + ECG + GSR) to per-frame training samples, with a face-crop cache.

Every analysed video frame becomes one sample: the face crop at that frame, the 1000-sample bio
window of each signal centred on it (:func:`core.learning.datasets.amigos.frame_windows`), and the trial's
labels. Frames in which the tracker finds no face are left out (and counted), never guessed.

Decoding video and finding faces is by far the slowest step, so the crops of each trial are
cached once (``<cache>/<key>.npy`` plus ``<key>.json`` with the frame times and the detector's
description); later epochs, folds and variants read the cache through a memory map and never
decode video again. The key covers the video file (path, size, modification time), the frame
step, the crop policy and the detector, so a changed input makes a new entry.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from core.learning.datasets.amigos import SignalScaling, Trial

log = logging.getLogger(__name__)


class TrialFaces:
    """Face crops of many trials seen as one (N, S, S, 3) sequence, read from the cache maps."""

    def __init__(self, crops: list[np.ndarray], trial: np.ndarray, local: np.ndarray) -> None:
        self.crops, self.trial, self.local = crops, trial, local

    def __len__(self) -> int:
        return len(self.trial)

    def __getitem__(self, i: int) -> np.ndarray:
        return np.asarray(self.crops[self.trial[i]][self.local[i]])

    def take(self, idx: np.ndarray) -> TrialFaces:
        return TrialFaces(self.crops, self.trial[idx], self.local[idx])


class TrialWindows:
    """Bio windows cut on demand from each trial's scaled, edge-padded signals.

    Materialising every window would cost 8 kB per frame (16 GB for AMIGOS at 25 fps); slicing
    the padded trial signals costs nothing.
    """

    def __init__(
        self, signals: list[np.ndarray], trial: np.ndarray, start: np.ndarray, window: int
    ) -> None:
        self.signals, self.trial, self.start, self.window = signals, trial, start, window

    def __len__(self) -> int:
        return len(self.trial)

    def __getitem__(self, i: int) -> np.ndarray:
        s = int(self.start[i])
        return self.signals[self.trial[i]][:, s : s + self.window]

    def take(self, idx: np.ndarray) -> TrialWindows:
        return TrialWindows(self.signals, self.trial[idx], self.start[idx], self.window)


@dataclass
class FrameSamples:
    """Per-frame samples of several trials, ready for :class:`core.learning.training.FrameDataset`.

    Parameters
    ----------
    faces : TrialFaces — (N, S, S, 3) uint8 BGR face crops, read lazily
    bio : TrialWindows — (N, 2, window) float32 scaled ECG and GSR windows, cut lazily
    targets : ndarray (N, 10) float32 — labels (ratings 1–9, emotions 0/1)
    participants : ndarray (N,) int — whose sample (for person-independent folds)
    n_without_face : int — frames left out because no face was found
    """

    faces: TrialFaces
    bio: TrialWindows
    targets: np.ndarray
    participants: np.ndarray
    n_without_face: int = 0

    def __len__(self) -> int:
        return len(self.targets)

    def frames_per_trial(self) -> np.ndarray:
        """Samples of each trial that has any, in trial order: a trial's weight in training
        (every frame weighs the same)."""
        trial = np.asarray(self.bio.trial)
        return np.bincount(trial) if len(trial) else np.zeros(0, np.int64)

    def subset(self, mask: np.ndarray) -> FrameSamples:
        idx = np.nonzero(mask)[0]
        return FrameSamples(
            self.faces.take(idx),
            self.bio.take(idx),
            self.targets[idx],
            self.participants[idx],
            0,
        )


def _cache_key(
    video: Path, frame_step: int, size: int, policy: dict[str, Any], det: dict[str, Any]
) -> str:
    st = video.stat()
    blob = json.dumps(
        [str(video.resolve()), st.st_size, st.st_mtime_ns, frame_step, size, policy, det],
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:24]


def trial_crops(
    video: Path,
    cache_dir: Path,
    frame_step: int = 1,
    crop_size: int = 224,
    tracker_factory: Callable[[], Any] | None = None,
) -> tuple[np.ndarray, np.ndarray, int]:
    """Face crops of one video (cached) and the time of each (s).

    The same face path as the analysis (:func:`core.analysis.inputs.iter_face_crops`): the
    tracker in its offline mode (:meth:`core.faces.track.FaceTracker.track_stream`, which holds at
    most ``max_hold_s`` of frames) and :func:`core.faces.track.crop_face` with the default crop
    policy at ``crop_size``. Frame k is at k / fps seconds (the container's frame rate).

    Parameters
    ----------
    frame_step : int — analyse every ``frame_step``-th frame (1: every frame)
    crop_size : int — side of the crops (pixels)
    tracker_factory : callable, optional — makes a :class:`core.faces.track.FaceTracker`
        (default: Haar detector, 4 detections/s)

    Returns
    -------
    crops : ndarray (n, S, S, 3) uint8 (memory-mapped from the cache)
    times_s : ndarray (n,) — frame times from the video start (s)
    n_without_face : int — analysed frames left out for want of a face
    """
    import cv2

    from core.faces.track import CropPolicy, FaceTracker, crop_face

    tracker = tracker_factory() if tracker_factory is not None else FaceTracker()
    policy = CropPolicy(size=crop_size)
    key = _cache_key(video, frame_step, crop_size, asdict(policy), tracker.describe())
    cache_dir.mkdir(parents=True, exist_ok=True)
    npy, meta = cache_dir / f"{key}.npy", cache_dir / f"{key}.json"
    if npy.exists() and meta.exists():
        m = json.loads(meta.read_text())
        return np.load(npy, mmap_mode="r"), np.asarray(m["times_s"]), int(m["n_without_face"])
    cap = cv2.VideoCapture(str(video))
    if not cap.isOpened():
        raise ValueError(f"cannot open the face video {video}")
    fps = cap.get(cv2.CAP_PROP_FPS) or 25.0
    n_frames = 0

    def read() -> Iterator[tuple[float, np.ndarray]]:
        nonlocal n_frames
        i = 0
        while True:
            ok, img = cap.read()
            if not ok:
                return
            if i % frame_step == 0:
                n_frames += 1
                yield i / fps, img
            i += 1

    # the analysis' tracker mode, streamed: at most max_hold_s of frames are held, never the video
    kept: list[np.ndarray] = []
    times: list[float] = []
    try:
        for t, img, box in tracker.track_stream(read()):
            if box is not None and img is not None:
                kept.append(crop_face(img, box, policy))
                times.append(t)
    finally:
        cap.release()
    crops = np.stack(kept) if kept else np.zeros((0, crop_size, crop_size, 3), np.uint8)
    # one temporary name per process: torchrun's ranks may fill the same cache at once
    tmp = npy.with_suffix(f".{os.getpid()}.partial.npy")
    np.save(tmp, crops)
    tmp.replace(npy)
    meta_tmp = meta.with_suffix(f".{os.getpid()}.partial.json")
    meta_tmp.write_text(
        json.dumps(
            {
                "video": str(video),
                "times_s": times,
                "n_without_face": n_frames - len(kept),
                "fps": fps,
                "detector": tracker.describe(),
            }
        )
    )
    meta_tmp.replace(meta)
    return np.load(npy, mmap_mode="r"), np.asarray(times), n_frames - len(kept)


def build_frame_samples(
    trials: Sequence[Trial],
    scaling: SignalScaling,
    cache_dir: Path,
    frame_step: int = 1,
    crop_size: int = 224,
    rate_hz: float = 128.0,
    window: int = 1000,
    progress: Callable[[float], None] | None = None,
    tracker_factory: Callable[[], Any] | None = None,
) -> FrameSamples:
    """Per-frame samples of ``trials`` (those without a video are skipped with a log line).

    The window of a frame at time t is centred on sample round(t·rate_hz), as in
    :func:`core.learning.datasets.amigos.frame_windows`, with the same edge padding at both ends.
    """
    crops_l: list[np.ndarray] = []
    signals: list[np.ndarray] = []
    trial_i, local_i, start_i, targets, parts = [], [], [], [], []
    missing = 0
    half = window // 2
    for k, tr in enumerate(trials):
        if tr.video_path is None or not tr.video_path.exists():
            log.info("P%02d trial %d: no face video, skipped", tr.participant, tr.index)
            continue
        crops, t, n_no = trial_crops(
            tr.video_path, cache_dir, frame_step, crop_size, tracker_factory
        )
        missing += n_no
        if len(t):
            n = len(tr.ecg)
            sig = np.stack([scaling.apply(tr.ecg, "ecg"), scaling.apply(tr.gsr, "gsr")])
            padded = np.pad(sig, ((0, 0), (half, window - half)), mode="edge").astype(np.float32)
            centre = np.clip(np.round(np.asarray(t) * rate_hz).astype(np.int64), 0, n - 1)
            j = len(crops_l)
            crops_l.append(crops)
            signals.append(padded)
            trial_i.append(np.full(len(t), j))
            local_i.append(np.arange(len(t)))
            start_i.append(centre)  # padded index of centre − half
            targets.append(np.repeat(tr.labels[None, :].astype(np.float32), len(t), axis=0))
            parts.append(np.full(len(t), tr.participant))
        if progress is not None:
            progress((k + 1) / len(trials))
    if not crops_l:
        raise ValueError("no usable frames: no trial had a face video with a detectable face")
    trial_a = np.concatenate(trial_i)
    return FrameSamples(
        TrialFaces(crops_l, trial_a, np.concatenate(local_i)),
        TrialWindows(signals, trial_a, np.concatenate(start_i), window),
        np.concatenate(targets),
        np.concatenate(parts),
        missing,
    )
