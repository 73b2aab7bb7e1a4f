"""Import a recording made by another tool as a TheraScope session.

:func:`plan_import` reads the signal file (and indexes the video) and says what it found: the
channels, which ones will be the session's ECG and EDA, how video and signals line up, and what
will not work (an ECG too slow for the model, a video shorter than the signals). Nothing is
written until :func:`import_session`, which builds the session in a hidden staging folder
(``sessions/.importing-<uid>``, guarded by a write lock so a start-up cleanup removes it only
after a crash), moves it into place, registers it in the catalog, adds the file's annotations as
markers and finalises it like a recording (quality figures, seals). Any failure removes the
staging folder, the session folder and its catalog row: nothing half-imported remains.

The session is an ordinary one: its signals are in the recorder's bio store, each channel on its
own sample grid at its own rate (samples the file lacks are lost samples), with the file's
sample clock as the session clock (``t0_host_ns`` = 0, time 0 = the file's first sample); an
imported video is kept as its original file with a frame-time index
(:mod:`core.recording.video_file`). It is labelled imported (``devices["import"]``: source
files' names, formats, sizes and SHA-256, the channels chosen, the offset, the reader's notes).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from core.catalog import Catalog, SessionRecord
from core.catalog.models import MAX_LABEL_LEN
from core.config import Settings
from core.formats.model import Channel, FormatError, Recording, standard_unit
from core.formats.reading import read_recording
from core.recording.bio_store import BioStoreWriter
from core.recording.cleanup import IMPORT_STAGING_PREFIX, WriteLock
from core.recording.lock import IMPORT_LOCK_NAME
from core.recording.manifest import FORMAT, FORMAT_VERSION, write_json_atomic
from core.recording.session import finalise_folder, new_session_uid, utc_now
from core.recording.video_file import VideoFacts, VideoFileError, index_video, source_name
from core.recording.video_file import write_index as write_video_index
from core.security import vault
from core.storage import explain
from core.transfer.markers import marker_from_text, suds_from_text
from core.types import SampleBatch, StreamInfo

log = logging.getLogger(__name__)

#: the model's bio input is 128 Hz: an ECG sampled slower cannot feed it
MODEL_MIN_ECG_HZ = 128.0
#: EDA changes slowly: 4 Hz (Empatica E4's rate) is enough for its level and SCRs
MIN_EDA_HZ = 4.0
#: samples per stored batch (the bio store's index holds one record per batch)
_BATCH = 1024


class ImportRefused(ValueError):
    """The files cannot become a session; the message says why in plain words."""


@dataclass
class FileFacts:
    """A source file as the import records it."""

    name: str
    format: str
    size: int
    sha256: str

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "format": self.format, "size": self.size, "sha256": self.sha256}


@dataclass
class ImportPlan:
    """What an import will do, for a preview before anything is written.

    Attributes
    ----------
    signals_path, video_path : Path — the source files
    recording : Recording — the signal file as read
    ecg, eda : Channel or None — the channels that become the session's ECG and EDA (in mV, µS)
    video : VideoFacts or None — the indexed video
    offset_s : float — the video starts this many seconds after the signals (negative: before)
    warnings : list of str — what will not work or was found wrong, in plain words
    """

    signals_path: Path
    recording: Recording
    ecg: Channel | None
    eda: Channel | None
    video_path: Path | None = None
    video: VideoFacts | None = None
    offset_s: float = 0.0
    warnings: list[str] = field(default_factory=list)

    @property
    def signals_span_s(self) -> tuple[float, float]:
        chans = [c for c in (self.ecg, self.eda) if c is not None]
        return (
            min(c.t0_s for c in chans),
            max(c.t0_s + c.duration_s for c in chans),
        )

    @property
    def video_span_s(self) -> tuple[float, float] | None:
        if self.video is None:
            return None
        return (self.offset_s, self.offset_s + self.video.duration_s)

    @property
    def ecg_feeds_model(self) -> bool:
        return self.ecg is not None and self.ecg.rate_hz >= MODEL_MIN_ECG_HZ

    def channel_rows(self) -> list[dict[str, Any]]:
        """Every channel of the file: label, kind, unit, rate, duration, lost, and its role."""
        rows = []
        for c in self.recording.channels:
            role = "ECG" if c is self.ecg else "EDA" if c is self.eda else ""
            rows.append(
                {
                    "label": c.label,
                    "kind": c.kind,
                    "unit": c.unit,
                    "rate_hz": c.rate_hz,
                    "duration_s": round(c.duration_s, 3),
                    "samples": int(len(c.values)),
                    "lost": c.n_lost,
                    "role": role,
                }
            )
        return rows

    def summary_lines(self) -> list[str]:
        """The preview in words (the CLI prints it; the GUI shows the same)."""
        r = self.recording
        out = [
            f"Signals: {self.signals_path.name} — {r.format}"
            + (f", {r.device}" if r.device else "")
            + (f", started {r.start.isoformat(sep=' ', timespec='seconds')}" if r.start else ""),
            "Channels found:",
        ]
        for row in self.channel_rows():
            role = f"  → {row['role']}" if row["role"] else ""
            lost = f", {row['lost']:,} lost" if row["lost"] else ""
            out.append(
                f"  {row['label']:<16} {row['kind']:<5} {row['unit']:<6} "
                f"{row['rate_hz']:g} Hz, {row['duration_s']:.1f} s{lost}{role}"
            )
        a, b = self.signals_span_s
        out.append(f"Signals cover {a:.1f}–{b:.1f} s of the session.")
        if self.video is not None and self.video_path is not None:
            v = self.video
            va, vb = self.video_span_s or (0.0, 0.0)
            rate = "variable frame rate" if v.variable_rate else f"{v.nominal_fps:g} fps"
            out.append(
                f"Video: {self.video_path.name} — {v.width}×{v.height}, {v.frames:,} frames, "
                f"{rate}; covers {va:.1f}–{vb:.1f} s (offset {self.offset_s:+.2f} s)"
            )
        else:
            out.append("Video: none (the analysis needs one; physiology works without)")
        if r.annotations:
            out.append(f"Annotations: {len(r.annotations)} (become markers)")
        out += [f"Note: {n}" for n in r.notes]
        out += [f"Warning: {w}" for w in self.warnings]
        return out


def _choose(rec: Recording, label: str | None, kind: str) -> Channel | None:
    """The channel named ``label``, or the file's first channel of ``kind``."""
    if label:
        c = rec.channel(label)  # FormatError listing the channels when absent
    else:
        found = rec.of_kind(kind)
        if not found:
            return None
        c = found[0]
    word = kind.upper()
    std = standard_unit(kind, c.unit)
    if std is None:
        raise ImportRefused(
            f"Channel {c.label!r} is in {c.unit or 'no stated unit'!r}, which is not a unit "
            f"{word} is measured in ({'V, mV or µV' if kind == 'ecg' else 'S, µS or nS'}): "
            f"TheraScope cannot turn it into {word}. Choose another {word} channel."
        )
    if std[1] != 1.0 or std[0] != c.unit:
        c.values = c.values * std[1]
        c.unit = std[0]
        if c.resolution is not None:
            c.resolution *= std[1]
    if len(c.values) == 0:
        raise ImportRefused(f"Channel {c.label!r} holds no samples")
    return c


def _list_channels(rec: Recording) -> str:
    return ", ".join(f"{c.label} ({c.kind}, {c.unit or 'no unit'})" for c in rec.channels) or (
        "no signal channels"
    )


def plan_import(
    signals: Path | str,
    video: Path | str | None = None,
    offset_s: float = 0.0,
    ecg: str | None = None,
    eda: str | None = None,
    progress: Callable[[int, int | None], None] | None = None,
    video_facts: VideoFacts | None = None,
) -> ImportPlan:
    """Read ``signals`` (and index ``video``) and plan the import; writes nothing.

    Parameters
    ----------
    signals : path — OpenSignals .txt/.h5, EDF/EDF+/BDF/BDF+ or XDF
    video : path, optional — any video OpenCV's FFmpeg reads
    offset_s : float — the video starts this many seconds after the signals (negative: before)
    ecg, eda : str, optional — channel labels; by default the file's first ECG / EDA channel
    progress : callable, optional — ``progress(frames_done, frames_listed)`` while indexing
    video_facts : VideoFacts, optional — ``video`` as an earlier plan indexed it (a preview that
        changes only the channels or the offset does not decode the video again)

    Raises
    ------
    ImportRefused — nothing usable (no ECG or EDA channel: the message lists the channels; a unit
        that is not the signal's; a damaged file: the reader's message)
    """
    spath = Path(signals)
    try:
        rec = read_recording(spath)
    except FormatError as exc:
        raise ImportRefused(str(exc)) from exc
    except OSError as exc:
        raise ImportRefused(f"{spath.name} cannot be read: {exc.strerror or exc}") from exc
    if not np.isfinite(offset_s) or abs(offset_s) > 24 * 3600:
        raise ImportRefused(f"The video offset {offset_s!r} s is not a usable number of seconds")
    try:
        ecg_ch = _choose(rec, ecg, "ecg")
        eda_ch = _choose(rec, eda, "eda")
    except FormatError as exc:
        raise ImportRefused(str(exc)) from exc
    if ecg_ch is not None and ecg_ch is eda_ch:
        raise ImportRefused(f"Channel {ecg_ch.label!r} cannot be both the ECG and the EDA")
    if ecg_ch is None and eda_ch is None:
        raise ImportRefused(
            f"No ECG or EDA channel found in {spath.name}; it has: {_list_channels(rec)}. "
            "Choose the ECG and EDA channels (--ecg and --eda on the command line)."
        )
    warnings: list[str] = []
    if ecg_ch is None:
        warnings.append(
            f"no ECG channel found (channels: {_list_channels(rec)}); choose it if the file "
            "has it under another name. "
            "Without ECG there is no heart rate, and the model cannot run."
        )
    elif ecg_ch.rate_hz < MODEL_MIN_ECG_HZ:
        warnings.append(
            f"the ECG is sampled at {ecg_ch.rate_hz:g} Hz, below the {MODEL_MIN_ECG_HZ:g} Hz the "
            "model needs: the analysis will be refused; heart rate and RMSSD still work"
        )
    if eda_ch is None:
        warnings.append(
            f"no EDA channel found (channels: {_list_channels(rec)}); choose it if the file "
            "has it under another name. "
            "Without EDA there is no EDA level or SCR rate, and the model cannot run."
        )
    elif eda_ch.rate_hz < MIN_EDA_HZ:
        raise ImportRefused(
            f"The EDA channel {eda_ch.label!r} is sampled at {eda_ch.rate_hz:g} Hz; TheraScope "
            f"needs at least {MIN_EDA_HZ:g} Hz to find skin conductance responses"
        )
    for c in (ecg_ch, eda_ch):
        if c is not None and c.n_lost:
            share = c.n_lost / max(1, c.n_grid)
            warnings.append(f"{c.label}: {c.n_lost:,} samples lost in the file ({share:.1%})")
    early = sum(1 for a in rec.annotations if a.onset_s < 0)
    if early:
        warnings.append(
            f"{early} annotation(s) come before the first signal sample: they are marked at 0:00"
        )
    plan = ImportPlan(spath, rec, ecg_ch, eda_ch, offset_s=float(offset_s), warnings=warnings)
    if video is not None:
        vpath = Path(video)
        try:
            facts = video_facts if video_facts is not None else index_video(vpath, progress)
        except VideoFileError as exc:
            raise ImportRefused(str(exc)) from exc
        plan.video_path, plan.video = vpath, facts
        if facts.unreadable:
            warnings.append(
                f"{facts.unreadable:,} of the {facts.listed:,} frames the video lists could not "
                "be decoded; they count as dropped frames"
            )
        sa, sb = plan.signals_span_s
        va, vb = plan.video_span_s or (0.0, 0.0)
        overlap = min(sb, vb) - max(sa, va)
        if overlap <= 0:
            raise ImportRefused(
                f"With an offset of {offset_s:+.2f} s the video ({va:.1f}–{vb:.1f} s) and the "
                f"signals ({sa:.1f}–{sb:.1f} s) do not overlap: check --offset"
            )
        if overlap < (sb - sa) - 1.0:
            warnings.append(
                f"the video covers {overlap:.1f} s of the signals' {sb - sa:.1f} s: the analysis "
                "has faces only where both are present"
            )
    return plan


def _unreadable_source(path: Path, exc: OSError) -> ImportRefused:
    """A source file that can no longer be read (a drive pulled out, no permission): said of
    that file, not of the data folder."""
    return ImportRefused(f"{path.name} can no longer be read: {exc.strerror or exc}")


def _file_facts(path: Path, fmt: str) -> FileFacts:
    h = hashlib.sha256()
    try:
        with open(path, "rb") as fh:
            for block in iter(lambda: fh.read(8 << 20), b""):
                h.update(block)
        size = path.stat().st_size
    except OSError as exc:
        raise _unreadable_source(path, exc) from exc
    return FileFacts(path.name, fmt, size, h.hexdigest())


def _copy_hashed(src: Path, dst: Path, fmt: str) -> FileFacts:
    """Copy ``src`` to ``dst`` (fsynced), hashing it on the way."""
    h = hashlib.sha256()
    size = 0
    try:
        fi = open(src, "rb")  # noqa: SIM115 — closed below; its errors are the source's
    except OSError as exc:
        raise _unreadable_source(src, exc) from exc
    fo = vault.open_append(dst)  # sealed in a sealed session (core.security.vault)
    try:
        with fi:
            while True:
                try:
                    block = fi.read(8 << 20)
                except OSError as exc:
                    raise _unreadable_source(src, exc) from exc
                if not block:
                    break
                h.update(block)
                fo.write(block)
                size += len(block)
        fo.flush(fsync=True)
    finally:
        fo.close()
    return FileFacts(src.name, fmt, size, h.hexdigest())


def _streams(ecg: Channel | None, eda: Channel | None) -> list[tuple[StreamInfo, list[Channel]]]:
    """ECG and EDA in one stream when they share the grid (a multi-channel device), else one
    stream each."""
    chans = [(n, c) for n, c in (("ECG", ecg), ("EDA", eda)) if c is not None]
    same = (
        len(chans) == 2
        and ecg is not None
        and eda is not None
        and ecg.rate_hz == eda.rate_hz
        and ecg.t0_s == eda.t0_s
        and np.array_equal(ecg.sample_index, eda.sample_index)
    )
    if same:
        assert ecg is not None and eda is not None
        info = StreamInfo(0, "bio", ("ECG", "EDA"), ("mV", "uS"), ecg.rate_hz)
        return [(info, [ecg, eda])]
    out = []
    for i, (name, c) in enumerate(chans):
        unit = "mV" if name == "ECG" else "uS"
        out.append((StreamInfo(i, name.lower(), (name,), (unit,), c.rate_hz), [c]))
    return out


def _write_stream(bio: Path, info: StreamInfo, chans: list[Channel]) -> dict[str, float]:
    """Store the channels' samples as the recorder would; the stream's exact clock."""
    first = chans[0]
    idx = first.sample_index
    values = np.stack([c.values for c in chans], axis=1).astype(np.float32)
    period_ns = 1e9 / info.rate_hz
    offset_ns = first.t0_s * 1e9
    # runs of consecutive samples, cut into batches; a jump between runs is lost samples
    breaks = np.flatnonzero(np.diff(idx) != 1) + 1
    starts = np.r_[0, breaks]
    ends = np.r_[breaks, len(idx)]
    w = BioStoreWriter(bio, info)
    try:
        for a, b in zip(starts, ends, strict=True):
            for s in range(int(a), int(b), _BATCH):
                e = min(int(b), s + _BATCH)
                last = int(idx[e - 1])
                arrival = round(offset_ns + period_ns * last)
                w.append(SampleBatch(info.stream_id, int(idx[s]), values[s:e], arrival))
        w.flush(fsync=True)
    finally:
        w.close()
    return {
        "offset_ns": offset_ns,
        "period_ns": period_ns,
        "nominal_rate": info.rate_hz,
        "n_points": float(len(idx)),
        "drift_ppm": 0.0,
    }


def _utc_start(rec: Recording) -> tuple[str, str | None]:
    """The recording's start in UTC (ISO-8601) and a note when it had to be assumed."""
    if rec.start is None:
        return utc_now(), "the file states no start time: the import's time is used"
    start = rec.start
    note = None
    if start.tzinfo is None:
        start = start.astimezone()  # the file's clock time, read as this machine's zone
        note = "the file's start time has no time zone: read as this computer's local time"
    return start.astimezone(dt.timezone.utc).isoformat(timespec="milliseconds"), note


def import_session(
    catalog: Catalog,
    data_root: Path,
    patient_id: int,
    plan: ImportPlan,
    *,
    consent: bool,
    consent_note: str = "",
    settings: Settings | None = None,
) -> SessionRecord:
    """Make the planned import a session of patient ``patient_id``; return its record.

    Raises
    ------
    PermissionError — no consent
    ImportRefused, StorageError, KeyError (no such patient) — nothing was left behind
    """
    if not consent:
        raise PermissionError(
            "Importing a recording needs the patient's consent to its use: confirm it first."
        )
    patient = catalog.get_patient(patient_id)
    if patient is None:
        raise KeyError(f"No patient with id {patient_id}")
    uid = new_session_uid()
    sessions = Path(data_root) / "sessions"
    staging = sessions / f"{IMPORT_STAGING_PREFIX}{uid}"
    folder = sessions / uid
    record: SessionRecord | None = None
    lock: WriteLock | None = None
    try:
        staging.mkdir(parents=True)
        lock = WriteLock(staging / IMPORT_LOCK_NAME)
        # an unlocked data folder: every file of the session is sealed with its own key
        if patient.uuid:
            vault.seal_new_session(staging, Path(data_root), uid, patient.uuid)
        manifest, fits = _build(staging, uid, plan, patient.uuid, settings or Settings())
        # Windows renames no folder with an open file in it: the lock is let go for the rename
        # and taken again at once; meanwhile the folder holds data, which no cleanup removes
        lock.release()
        lock = None
        staging.rename(folder)
        lock = WriteLock(folder / IMPORT_LOCK_NAME)
        started_at = manifest["started_at"]
        record = catalog.create_session(
            patient_id=patient_id,
            uid=uid,
            started_at=started_at,
            devices=manifest["devices"],
            settings=manifest["settings"],
            consent_at=utc_now(),
            consent_note=consent_note,
            simulated=False,
            folder=str(folder.relative_to(data_root)),
            imported=True,
        )
        src = manifest["devices"]["import"]["files"][0]
        catalog.audit("import", "session", record.id, f"uid={uid}; format={src['format']}")
        once: set[str] = set()  # treatment start and end are marked once each
        for a in sorted(plan.recording.annotations, key=lambda a: a.onset_s):
            rating = suds_from_text(a.text)  # a SUDS rating exported by TheraScope
            if rating is not None:
                catalog.add_suds(record.id, max(0.0, float(a.onset_s)), rating)
                continue
            kind, label = marker_from_text(a.text)
            if kind in ("treatment_start", "treatment_end"):
                if kind in once:
                    kind, label = "note", " ".join(a.text.split())[:MAX_LABEL_LEN]
                once.add(kind)
            # an annotation before the first sample (XDF markers often are) marks time 0
            catalog.add_marker(record.id, max(0.0, float(a.onset_s)), kind, label)
        # the lock is held until the session is final: a cleanup or a recovery in another
        # process leaves an import in progress alone
        done = finalise_folder(catalog, data_root, record, folder, "finalised", clock_fits=fits)
        lock.release()
        lock = None
        return done
    except BaseException as exc:
        if lock is not None:
            lock.release()
        for f in (staging, folder):
            shutil.rmtree(f, ignore_errors=True)
        if record is not None:
            try:
                catalog.delete_session(record.id)
            except Exception:  # the original error is the one to report
                log.exception("could not remove the catalog row of a failed import")
        if isinstance(exc, OSError):
            raise explain(exc, "import the recording", sessions) from exc
        raise


def _build(
    folder: Path, uid: str, plan: ImportPlan, patient_uuid: str | None, settings: Settings
) -> tuple[dict[str, Any], dict[str, dict[str, float]]]:
    """Write the session's files into ``folder``; the manifest and the streams' clocks."""
    rec = plan.recording
    started_at, start_note = _utc_start(rec)
    notes = list(rec.notes) + ([start_note] if start_note else [])
    files = [_file_facts(plan.signals_path, rec.format)]
    bio = folder / "bio"
    bio.mkdir()
    fits: dict[str, dict[str, float]] = {}
    stream_infos = []
    for info, chans in _streams(plan.ecg, plan.eda):
        fits[info.name] = _write_stream(bio, info, chans)
        stream_infos.append(info)
    camera: dict[str, Any] | None = None
    video_import: dict[str, Any] | None = None
    if plan.video is not None and plan.video_path is not None:
        vdir = folder / "video"
        vdir.mkdir()
        v = plan.video
        ext = plan.video_path.suffix.lstrip(".").upper() or "video"
        vfacts = _copy_hashed(
            plan.video_path, vdir / source_name(plan.video_path), f"{ext} video ({v.codec})"
        )
        files.append(vfacts)
        times_ns = np.round((plan.offset_s + v.times_s) * 1e9).astype(np.int64)
        write_video_index(vdir, times_ns, v.frame_positions, v.unreadable, v.first_ms)
        fps = (v.frames - 1) / float(v.times_s[-1]) if v.frames > 1 and v.times_s[-1] > 0 else 0
        camera = {
            "name": f"imported video ({plan.video_path.suffix.lstrip('.').upper() or 'file'})",
            "simulated": False,
            "imported": True,
            "fps": round(fps, 3),
            "width": v.width,
            "height": v.height,
        }
        video_import = {
            "codec": v.codec,
            "frames": v.frames,
            "listed": v.listed,
            "unreadable": v.unreadable,
            "variable_rate": v.variable_rate,
            "nominal_fps": v.nominal_fps,
            "offset_s": plan.offset_s,
        }
    source = {
        "files": [f.to_dict() for f in files],
        "format": rec.format,
        "device": rec.device,
        "channels": {
            role: {"label": c.label, "unit": c.unit, "rate_hz": c.rate_hz, "lost": c.n_lost}
            for role, c in (("ECG", plan.ecg), ("EDA", plan.eda))
            if c is not None
        },
        "resolution": {
            role: c.resolution
            for role, c in (("ECG", plan.ecg), ("EDA", plan.eda))
            if c is not None and c.resolution is not None
        },
        "offset_s": plan.offset_s,
        "notes": notes,
        "imported_at": utc_now(),
    }
    sensor_name = rec.device or "sensor"
    devices: dict[str, Any] = {
        "sensor": {
            "name": f"{sensor_name} (imported from {rec.format})",
            "simulated": False,
            "imported": True,
            "streams": [s.to_dict() for s in stream_infos],
        },
        "camera": camera,
        "import": source,
    }
    manifest: dict[str, Any] = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "uid": uid,
        "status": "recording",
        "started_at": started_at,
        "t0_host_ns": 0,
        "clock": "imported: the signal file's sample clock (s from its first sample)",
        "streams": [s.to_dict() for s in stream_infos],
        "camera": camera,
        "devices": devices,
        "settings": settings.to_dict(),
        "simulated": False,
        "patient_uuid": patient_uuid,
        "origin": "imported",
    }
    if video_import is not None:
        manifest["video_import"] = video_import
    write_json_atomic(folder / "session.json", manifest)
    return manifest, fits
