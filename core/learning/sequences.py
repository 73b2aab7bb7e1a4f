"""Sequence samples for the families that read a run of face crops and a bio segment.

Built from the same per-frame samples as BMMN (:class:`core.learning.datasets.frames.FrameSamples`:
the same trials, crop cache, signal scaling and person-independent folds), so every family trains
and is scored on the same data. A sequence sample is anchored on an analysed frame at time t: its bio
segment is the ``bio_samples`` samples centred on t (edge-padded at a trial's ends, as BMMN's
windows), and its ``frames`` face crops are the analysed crops nearest to the instants spread evenly
over the same span at ``frame_rate_hz`` (so a crop cache at 5 frames/s serves 5, 1 and 2 frames/s
models alike; where the cache is sparser than the model's rate, neighbouring instants share a crop).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.learning.datasets.frames import FrameSamples
from core.models.heads import ModelInputs, sequence_offsets

__all__ = ["SequenceSamples", "sequence_offsets"]


@dataclass
class SequenceSamples:
    """Sequence samples cut on demand from frame samples.

    Parameters
    ----------
    frames : FrameSamples — the per-frame samples (crops and padded, scaled trial signals)
    inputs : ModelInputs — what one sample holds (a ``"sequence"``)
    anchors : ndarray (N,) int — indices into ``frames`` of each sample's anchor frame
    signals : list of ndarray — per trial (n_signals, padded length), possibly filtered;
        defaults to ``frames.bio.signals``
    """

    frames: FrameSamples
    inputs: ModelInputs
    anchors: np.ndarray
    signals: list[np.ndarray]

    def __post_init__(self) -> None:
        bio = self.frames.bio
        self._pad = bio.window // 2  # left padding of the trial signals (samples)
        trial = np.asarray(bio.trial)
        # per trial: the analysed crops' centre samples and their indices in the crop arrays
        self._crop_centres: dict[int, np.ndarray] = {}
        self._crop_local: dict[int, np.ndarray] = {}
        for k in np.unique(trial):
            rows = np.nonzero(trial == k)[0]
            order = np.argsort(np.asarray(bio.start)[rows], kind="stable")
            self._crop_centres[int(k)] = np.asarray(bio.start)[rows][order]
            self._crop_local[int(k)] = np.asarray(self.frames.faces.local)[rows][order]
        self._offsets = sequence_offsets(self.inputs)

    @classmethod
    def build(
        cls,
        frames: FrameSamples,
        inputs: ModelInputs,
        anchor_step: int = 1,
        signal_filter: object | None = None,
    ) -> SequenceSamples:
        """Sequence samples anchored on every ``anchor_step``-th frame of each trial.

        Parameters
        ----------
        signal_filter : callable (signal 1-D, name, rate_hz) → signal, optional — applied once to
            each trial's scaled signals (e.g. :func:`core.models.mvp_transformer.filter_segment`)
        """
        if inputs.kind != "sequence":
            raise ValueError("sequence samples need a model whose inputs are sequences")
        trial = np.asarray(frames.bio.trial)
        anchors = []
        for k in np.unique(trial):
            rows = np.nonzero(trial == k)[0]
            anchors.append(rows[:: max(1, anchor_step)])
        idx = np.sort(np.concatenate(anchors)) if anchors else np.zeros(0, np.int64)
        signals = frames.bio.signals
        if signal_filter is not None:
            assert callable(signal_filter)
            signals = [
                np.stack(
                    [
                        signal_filter(s[i], inputs.signals[i], inputs.bio_rate_hz)
                        for i in range(len(s))
                    ]
                ).astype(np.float32)
                for s in signals
            ]
        return cls(frames, inputs, idx, signals)

    def __len__(self) -> int:
        return len(self.anchors)

    @property
    def targets(self) -> np.ndarray:
        return self.frames.targets[self.anchors]

    @property
    def participants(self) -> np.ndarray:
        return self.frames.participants[self.anchors]

    @property
    def trials(self) -> np.ndarray:
        return np.asarray(self.frames.bio.trial)[self.anchors]

    @property
    def centres(self) -> np.ndarray:
        """Each sample's anchor time in its trial, samples from the trial's start."""
        return np.asarray(self.frames.bio.start)[self.anchors]

    def subset(self, mask: np.ndarray) -> SequenceSamples:
        """The samples where ``mask`` is True (same frames and signals)."""
        return SequenceSamples(self.frames, self.inputs, self.anchors[mask], self.signals)

    def face(self, i: int) -> np.ndarray:
        """(frames, S, S, 3) uint8 BGR crops of sample ``i``."""
        a = int(self.anchors[i])
        k = int(self.frames.bio.trial[a])
        centre = int(self.frames.bio.start[a])
        centres, local = self._crop_centres[k], self._crop_local[k]
        want = centre + self._offsets
        j = np.clip(np.searchsorted(centres, want), 1, len(centres) - 1) if len(centres) > 1 else 0
        if len(centres) > 1:
            left_closer = np.abs(want - centres[j - 1]) <= np.abs(centres[j] - want)
            j = np.where(left_closer, j - 1, j)
        crops = self.frames.faces.crops[k]
        picks = np.atleast_1d(local[j])
        return np.stack([np.asarray(crops[int(p)]) for p in picks])

    def bio(self, i: int) -> np.ndarray:
        """(n_signals, bio_samples) float32 segment of sample ``i``, centred on its anchor."""
        a = int(self.anchors[i])
        sig = self.signals[int(self.frames.bio.trial[a])]
        n = self.inputs.bio_samples
        first = int(self.frames.bio.start[a]) + self._pad - n // 2
        idx = np.clip(np.arange(first, first + n), 0, sig.shape[1] - 1)
        return np.ascontiguousarray(sig[:, idx], dtype=np.float32)
