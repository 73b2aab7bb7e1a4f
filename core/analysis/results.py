"""Per-frame estimates of a session, stored in the session folder next to the recording.

One analysis is one *generation*: its estimates and its details (which checkpoint, on what
device, with which options, what it cost and what it could not estimate) together in one folder,
published by one atomic step::

    <session>/analysis/
        current.json               {"format_version": 1, "generation": "gen-<id>"}: the published
        gen-<id>/estimates.npz     the arrays
        gen-<id>/analysis.json     the details, with "generation": "gen-<id>"

Writing (:func:`stage_estimates`, then :meth:`StagedAnalysis.publish`; :func:`save_estimates`
does both):

1. ``gen-<id>.lock`` is taken (:class:`core.recording.cleanup.WriteLock`, held to the end, so a
   cleanup in another process leaves the write alone);
2. both files are written and synced in ``gen-<id>.partial/``, which is then renamed
   ``gen-<id>/``: complete, not yet published;
3. ``current.json`` is replaced (``os.replace``): the one step that publishes;
4. the older generations (and the older layout's files) are removed, the lock released.

A kill before step 3 leaves the published generation as it was, a kill after it the new one; a
reader never pairs the estimates of one with the details of another. Between steps 2 and 3 a
caller may commit the generation elsewhere first: :func:`core.analysis.review.store_analysis`
records it in the catalog (``result_dir`` ``analysis/gen-<id>``), and readers prefer the
generation the catalog names (:func:`load_estimates`'s ``prefer``). What a kill leaves is removed
at the next start by :func:`clean_analysis_folder`.

TheraScope before generations wrote ``analysis/estimates.npz`` and ``analysis/analysis.json``
directly (no ``current.json``, catalog ``result_dir`` ``analysis``): still read until the
session's next analysis replaces them; such a pair left by a kill between its two renames (the
frame counts disagree) is refused as unreadable ("analyse again").
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import json
import logging
import os
import re
import secrets
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import IO, Any, TypedDict

import numpy as np

from core.recording.cleanup import WriteLock, remove_stale_lock, write_in_progress
from core.security import vault
from core.storage import fsync_folder

log = logging.getLogger(__name__)

RESULT_DIR = "analysis"
ESTIMATES_NAME = "estimates.npz"
INFO_NAME = "analysis.json"
CURRENT_NAME = "current.json"
GENERATION_PREFIX = "gen-"
PARTIAL_SUFFIX = ".partial"
LOCK_SUFFIX = ".lock"
FORMAT_VERSION = 1
#: a generation's name: no dot, no separator, so never a path of its own
_GENERATION = re.compile(r"gen-[0-9A-Za-z][0-9A-Za-z-]{0,63}")
#: temporaries of the layout before generations (left by a kill)
_LEGACY_PARTIALS = (ESTIMATES_NAME + PARTIAL_SUFFIX, INFO_NAME + PARTIAL_SUFFIX)


class CheckpointIdentity(TypedDict, total=False):
    """Who made the estimates (:func:`core.analysis.engine.checkpoint_identity`): stored with
    every analysis and printed in every report."""

    path: str
    file: str
    sha256: str
    label: str
    demo: bool
    variant: str
    backbone: str
    modalities: str
    signals: list[str]
    training_data: str
    created_at: str
    outputs_trained: list[str]
    outputs_basis: str


class AnalysisCounts(TypedDict, total=False):
    """How many frames the analysis saw, and why some got no estimate."""

    frames_stored: int
    frames_analysed: int
    estimated: int
    without_face: int
    bio_incomplete: int
    unreadable: int


class AnalysisTimings(TypedDict, total=False):
    """Seconds spent per stage (decode, faces, bio, model; the stages overlap) and in all."""

    decode: float
    faces: float
    bio: float
    model: float
    wall: float


class AnalysisInfo(TypedDict, total=False):
    """:attr:`SessionEstimates.info`, stored as ``analysis.json``: which checkpoint, on what
    device, with which options, what it cost and what it could not estimate.

    Written by :func:`core.analysis.engine.analyse_session`; every key may be absent from an
    older file (readers use ``.get``). ``spans``: the ``[start_s, end_s]`` parts analysed (None:
    the whole session); ``frames_per_s``: the analysis rate (None: every stored frame);
    ``options``: :class:`core.analysis.engine.AnalysisOptions` as a dict; ``generation``: the
    generation the file belongs to (``gen-<id>``; set when stored, absent in the older layout);
    ``runtime``: what ran the model and why (``engine``: ``"torch"`` or the optimised runtime,
    ``reason``, and there ``precision``, ``int8``, ``export``; ``fallback`` when it failed and
    torch ran instead).
    """

    format_version: int
    created_at: str
    code_version: str
    checkpoint: CheckpointIdentity
    inputs: str
    output_names: list[str]
    device: str
    precision: str
    options: dict[str, Any]
    frames_per_s: float | None
    face_detector: dict[str, Any] | None
    face_detector_trained: str | None
    spans: list[list[float]] | None
    duration_s: float
    counts: AnalysisCounts
    timings_s: AnalysisTimings
    generation: str
    runtime: dict[str, Any]


@dataclass
class SessionEstimates:
    """The model's estimates for the analysed frames of one session.

    Parameters
    ----------
    t_s : ndarray (N,) float64 — capture time of each analysed frame since session start (s)
    frame : ndarray (N,) int64 — camera frame index
    outputs : ndarray (N, 10) float32 — in the checkpoint's output order (valence, arousal,
        liking on the 1–9 scale, then the seven emotions); NaN where not estimated
    has_face : ndarray (N,) bool — a face was found (False also for unreadable frames)
    bio_complete : ndarray (N,) bool — the bio window had no lost sample
    info : AnalysisInfo — provenance and counts (see :func:`core.analysis.engine.analyse_session`)
    """

    t_s: np.ndarray
    frame: np.ndarray
    outputs: np.ndarray
    has_face: np.ndarray
    bio_complete: np.ndarray
    info: AnalysisInfo = field(default_factory=AnalysisInfo)

    def __len__(self) -> int:
        return len(self.t_s)

    @property
    def estimated(self) -> np.ndarray:
        """Frames with an estimate (bool, N)."""
        return np.all(np.isfinite(self.outputs[:, :2]), axis=1)

    @property
    def valence(self) -> np.ndarray:
        """Valence on the circumplex scale [-1, 1] ((rating − 5) / 4); NaN where not estimated."""
        return (self.outputs[:, 0].astype(np.float64) - 5.0) / 4.0

    @property
    def arousal(self) -> np.ndarray:
        """Arousal on the circumplex scale [-1, 1]; NaN where not estimated."""
        return (self.outputs[:, 1].astype(np.float64) - 5.0) / 4.0

    @property
    def demo_model(self) -> bool:
        """Whether the estimates come from the demo model (not clinically valid)."""
        return bool(self.info.get("checkpoint", {}).get("demo", False))

    @property
    def outputs_trained(self) -> tuple[list[str], str]:
        """The outputs the checkpoint learned, and how that is known (words): as recorded with
        the analysis (:func:`core.models.outputs.trained_outputs`). An analysis stored before
        this was recorded: valence and arousal only (conservatively; its other outputs are never
        shown as estimates; analyse again to show those the checkpoint records)."""
        ck = self.info.get("checkpoint", {})
        names = ck.get("outputs_trained")
        if isinstance(names, list) and all(isinstance(n, str) for n in names):
            return list(names), str(ck.get("outputs_basis", ""))
        # as core.models.outputs.CONSERVATIVE (not imported: core.models imports torch)
        return ["valence", "arousal"], (
            "this analysis was made before TheraScope recorded which outputs a model learned, so "
            "only valence and arousal are taken as learned; analyse again to show the others"
        )


def new_generation_id() -> str:
    """A new generation's name: ``gen-`` + UTC time + random hex (sortable, unique)."""
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
    return f"{GENERATION_PREFIX}{stamp}-{secrets.token_hex(4)}"


def is_generation_id(name: str) -> bool:
    """Whether ``name`` is a generation's name (``gen-<id>``)."""
    return bool(_GENERATION.fullmatch(name))


def generation_of(result_dir: str | None) -> str | None:
    """The generation a catalog ``result_dir`` names (``analysis/gen-<id>``); None for the older
    layout (``analysis``) or anything else."""
    if not result_dir:
        return None
    parts = PurePosixPath(str(result_dir).replace("\\", "/")).parts
    if len(parts) == 2 and parts[0] == RESULT_DIR and is_generation_id(parts[1]):
        return parts[1]
    return None


def result_dir_of(est: SessionEstimates) -> str:
    """Where ``est`` is stored, relative to the session folder, as the catalog records it:
    ``analysis/gen-<id>``, or ``analysis`` for the older layout."""
    gen = str(est.info.get("generation") or "")
    return f"{RESULT_DIR}/{gen}" if is_generation_id(gen) else RESULT_DIR


def _unreadable(where: Path, why: object) -> ValueError:
    return ValueError(f"the stored analysis in {where} cannot be read ({why}); analyse again")


def _write_synced(path: Path, write: Callable[[IO[bytes]], object]) -> None:
    buf = io.BytesIO()
    write(buf)
    vault.write_new(path, buf.getvalue())  # sealed in a sealed session; fsynced


def _remove_tree(path: Path) -> None:
    """Remove a generation's folder: first renamed to its unfinished name (one step: from then on
    nobody reads it), then deleted (a kill meanwhile leaves what the cleanup removes)."""
    if path.name.endswith(PARTIAL_SUFFIX):
        doomed = path
    else:
        doomed = path.with_name(path.name + PARTIAL_SUFFIX)
        os.rename(path, doomed)
    shutil.rmtree(doomed)


def _publish_pointer(adir: Path, gen: str) -> None:
    """Replace ``current.json`` so that it names ``gen``: the one step that publishes."""
    tmp = adir / f"{CURRENT_NAME}.{gen}{PARTIAL_SUFFIX}"
    doc = {"format_version": FORMAT_VERSION, "generation": gen}
    try:
        _write_synced(tmp, lambda fh: fh.write(json.dumps(doc).encode()))
        os.replace(tmp, adir / CURRENT_NAME)
    except BaseException:
        with contextlib.suppress(OSError):  # else the start-up cleanup removes it
            tmp.unlink(missing_ok=True)
        raise
    fsync_folder(adir)


def _remove_superseded(adir: Path, keep: str) -> list[str]:
    """Remove every generation but ``keep`` (except those a live process is writing) and the
    older layout's files; return them relative to the session folder. What cannot be removed
    now is left to the start-up cleanup."""
    removed = []
    for entry in sorted(adir.iterdir()):
        name = entry.name
        try:
            if is_generation_id(name) and name != keep and entry.is_dir():
                if entry.is_symlink() or write_in_progress(adir / f"{name}{LOCK_SUFFIX}"):
                    continue
                _remove_tree(entry)
            elif name in (ESTIMATES_NAME, INFO_NAME, *_LEGACY_PARTIALS) and not entry.is_dir():
                entry.unlink()
            else:
                continue
        except OSError as e:
            log.warning("could not remove an older analysis (%s): %s", name, e.strerror or e)
            continue
        removed.append(f"{RESULT_DIR}/{name}")
    return removed


class StagedAnalysis:
    """A complete generation written by :func:`stage_estimates` but not published yet.

    Its writer holds the generation's lock until :meth:`publish`, :meth:`discard` or
    :meth:`release`, so no cleanup removes it meanwhile.
    """

    def __init__(self, folder: Path, generation: str, lock: WriteLock) -> None:
        self.folder = Path(folder)
        self.generation = generation
        self._lock = lock

    @property
    def path(self) -> Path:
        """The generation's folder."""
        return self.folder / RESULT_DIR / self.generation

    @property
    def result_dir(self) -> str:
        """The generation relative to the session folder, as the catalog records it."""
        return f"{RESULT_DIR}/{self.generation}"

    def publish(self) -> list[str]:
        """Publish the generation (one ``os.replace``), remove the older ones, release the lock.

        Returns
        -------
        list of str — what was removed, relative to the session folder
        """
        try:
            adir = self.folder / RESULT_DIR
            _publish_pointer(adir, self.generation)
            return _remove_superseded(adir, self.generation)
        finally:
            self.release()

    def discard(self) -> None:
        """Remove the generation unpublished and release the lock."""
        try:
            if self.path.is_dir():
                _remove_tree(self.path)
        finally:
            self.release()

    def release(self) -> None:
        """Release the lock and leave the generation as it is (the start-up cleanup decides)."""
        self._lock.release()


def stage_estimates(folder: Path, est: SessionEstimates) -> StagedAnalysis:
    """Write ``est`` as a new, complete, unpublished generation in ``<folder>/analysis/``.

    Returns
    -------
    StagedAnalysis — holding the generation's lock: publish it, or discard it
    """
    adir = Path(folder) / RESULT_DIR
    adir.mkdir(exist_ok=True)
    gen = new_generation_id()
    lock = WriteLock(adir / f"{gen}{LOCK_SUFFIX}")
    staging = adir / f"{gen}{PARTIAL_SUFFIX}"

    def arrays(fh: IO[bytes]) -> None:
        np.savez(
            fh,
            t_s=est.t_s,
            frame=est.frame,
            outputs=est.outputs,
            has_face=est.has_face,
            bio_complete=est.bio_complete,
        )

    info: AnalysisInfo = {"format_version": FORMAT_VERSION, **est.info, "generation": gen}
    try:
        staging.mkdir()
        _write_synced(staging / ESTIMATES_NAME, arrays)
        _write_synced(staging / INFO_NAME, lambda fh: fh.write(json.dumps(info, indent=2).encode()))
        fsync_folder(staging)
        os.rename(staging, adir / gen)
        fsync_folder(adir)
    except BaseException:
        for path in (staging, adir / gen):
            shutil.rmtree(path, ignore_errors=True)
        lock.release()
        raise
    return StagedAnalysis(Path(folder), gen, lock)


def save_estimates(folder: Path, est: SessionEstimates) -> Path:
    """Store ``est`` in ``<folder>/analysis/`` as a new generation and publish it (replacing an
    earlier analysis); return the generation's folder."""
    staged = stage_estimates(folder, est)
    staged.publish()
    return staged.path


def published_generation(folder: Path) -> str | None:
    """The session's published generation (``current.json``), or None when there is none.

    Raises
    ------
    ValueError — ``current.json`` is damaged or from a newer TheraScope
    """
    path = Path(folder) / RESULT_DIR / CURRENT_NAME
    try:
        doc = json.loads(vault.read_bytes(path).decode("utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise _unreadable(path.parent, exc) from exc
    if not isinstance(doc, dict):
        raise _unreadable(path.parent, f"{CURRENT_NAME} is not an object")
    if int(doc.get("format_version", 0)) > FORMAT_VERSION:
        raise ValueError(f"the stored analysis in {path.parent} was written by a newer TheraScope")
    gen = doc.get("generation")
    if not isinstance(gen, str) or not is_generation_id(gen):
        raise _unreadable(path.parent, f"{CURRENT_NAME} names no generation")
    return gen


def _read_info(where: Path, gen: str | None) -> AnalysisInfo:
    try:
        info = json.loads(vault.read_bytes(where / INFO_NAME).decode("utf-8"))
    except FileNotFoundError:
        raise
    except (OSError, ValueError) as exc:
        raise _unreadable(where, exc) from exc
    if not isinstance(info, dict):
        raise _unreadable(where, f"{INFO_NAME} is not an object")
    if int(info.get("format_version", 0)) > FORMAT_VERSION:
        raise ValueError(f"the stored analysis in {where} was written by a newer TheraScope")
    if gen is not None and info.get("generation") != gen:
        raise _unreadable(where, f"{INFO_NAME} belongs to another generation")
    return info  # type: ignore[return-value]


def _read(where: Path, gen: str | None) -> SessionEstimates:
    info = _read_info(where, gen)
    try:
        raw = io.BytesIO(vault.read_bytes(where / ESTIMATES_NAME))
        with np.load(raw, allow_pickle=False) as z:
            arrays = {k: z[k] for k in ("t_s", "frame", "outputs", "has_face", "bio_complete")}
    except FileNotFoundError:
        raise
    except (OSError, ValueError, KeyError) as exc:
        raise _unreadable(where, exc) from exc
    counted = info.get("counts", {}).get("frames_analysed")
    if counted is not None and int(counted) != len(arrays["t_s"]):
        # the older layout's two renames, split by a kill: estimates and details of two analyses
        raise _unreadable(where, "its estimates and its details come from two different analyses")
    return SessionEstimates(info=info, **arrays)


def _chosen(folder: Path, prefer: str | None) -> str | None:
    """The generation to read: ``prefer``'s when it is on disk, else the published one; None:
    the older layout."""
    want = generation_of(prefer)
    if want is not None and (Path(folder) / RESULT_DIR / want).is_dir():
        return want
    return published_generation(folder)


def load_estimates(folder: Path, prefer: str | None = None) -> SessionEstimates | None:
    """The session's stored analysis, or None when it has not been analysed.

    Parameters
    ----------
    folder : Path — the session folder
    prefer : str, optional — a generation to read instead of the published one when it is on
        disk: the catalog's ``result_dir`` of the session's latest analysis (see
        :func:`core.analysis.review.store_analysis`); ``analysis`` (the older layout) or None:
        the published one

    Returns
    -------
    SessionEstimates or None — one complete generation; its ``info["generation"]`` says which
    (absent for the older layout)

    Raises
    ------
    ValueError — the stored analysis is unreadable or from a newer TheraScope
    """
    d = Path(folder) / RESULT_DIR
    for _ in range(3):  # a generation replaced (and removed) while it was read: read again
        gen = _chosen(folder, prefer)
        try:
            if gen is not None:
                return _read(d / gen, gen)
            if not (d / ESTIMATES_NAME).exists() or not (d / INFO_NAME).exists():
                return None
            return _read(d, None)
        except FileNotFoundError:
            continue
    raise _unreadable(d, "it was replaced while being read")


def load_analysis_info(folder: Path, prefer: str | None = None) -> AnalysisInfo | None:
    """The details (``analysis.json``) of the analysis :func:`load_estimates` would read, without
    its arrays; None when the session has not been analysed.

    Raises
    ------
    ValueError — unreadable or from a newer TheraScope
    """
    d = Path(folder) / RESULT_DIR
    for _ in range(3):
        gen = _chosen(folder, prefer)
        try:
            if gen is not None:
                return _read_info(d / gen, gen)
            if not (d / ESTIMATES_NAME).exists() or not (d / INFO_NAME).exists():
                return None
            return _read_info(d, None)
        except FileNotFoundError:
            continue
    raise _unreadable(d, "it was replaced while being read")


def _owner(name: str) -> str | None:
    """The generation whose unfinished write left ``name`` (``""``: the older layout's, no
    owner); None when ``name`` is no temporary of an analysis."""
    if name in _LEGACY_PARTIALS:
        return ""
    if not name.endswith(PARTIAL_SUFFIX):
        return None
    stem = name[: -len(PARTIAL_SUFFIX)]
    if stem.startswith(CURRENT_NAME + "."):
        stem = stem[len(CURRENT_NAME) + 1 :]
    return stem if is_generation_id(stem) else None


def clean_analysis_folder(folder: Path, keep: str | None = None) -> list[str]:
    """Remove what interrupted analyses left in ``<folder>/analysis/`` (at start-up).

    Generations a live process is writing (their lock held) are left alone. Of the rest:

    - unfinished generations (``gen-<id>.partial/``), the publishing step's temporary files and
      the older layout's temporaries are removed;
    - when ``keep`` (the catalog's ``result_dir`` of the session's latest analysis) names a
      complete generation that is not the published one (a kill between the catalog write and
      publishing), it is published now;
    - every complete generation but the published one is removed (with the older layout's files,
      once a generation is published); with none published, the older layout stays;
    - lock files nobody holds are removed.

    Parameters
    ----------
    folder : Path — the session folder
    keep : str, optional — the catalog's ``result_dir`` of the session's latest analysis

    Returns
    -------
    list of str — what was removed, relative to the session folder
    """
    adir = Path(folder) / RESULT_DIR
    if adir.is_symlink() or not adir.is_dir():
        return []

    def live(gen: str) -> bool:
        return bool(gen) and write_in_progress(adir / f"{gen}{LOCK_SUFFIX}")

    removed = []
    for entry in sorted(adir.iterdir()):
        owner = _owner(entry.name)
        if owner is None or entry.is_symlink() or live(owner):
            continue
        try:
            if entry.is_dir():
                shutil.rmtree(entry)
            else:
                entry.unlink()
        except OSError as e:
            log.warning("could not remove %s: %s", entry.name, e.strerror or e)
            continue
        removed.append(f"{RESULT_DIR}/{entry.name}")
    try:
        published = published_generation(folder)
    except ValueError as e:
        log.warning("analysis folder left as it is: %s", e)
        return removed
    want = generation_of(keep)
    if want is not None and want != published and (adir / want).is_dir():
        try:
            lock = WriteLock(adir / f"{want}{LOCK_SUFFIX}")
        except RuntimeError:  # a live process still writes it: it publishes it itself
            log.info("analysis %s is still being written; left to its writer", want)
        else:
            removed += StagedAnalysis(Path(folder), want, lock).publish()
            published = want
            log.info("published the analysis the catalog names (it was interrupted)")
    if published is not None:
        removed += _remove_superseded(adir, published)
    else:
        for entry in sorted(adir.iterdir()):
            name = entry.name
            if not is_generation_id(name) or not entry.is_dir() or entry.is_symlink():
                continue
            if not live(name):
                try:
                    _remove_tree(entry)
                except OSError as e:
                    log.warning("could not remove %s: %s", name, e.strerror or e)
                    continue
                removed.append(f"{RESULT_DIR}/{name}")
    for entry in sorted(adir.glob(f"*{LOCK_SUFFIX}")):
        gen = entry.name[: -len(LOCK_SUFFIX)]
        if is_generation_id(gen) and remove_stale_lock(entry):
            removed.append(f"{RESULT_DIR}/{entry.name}")
    return removed
