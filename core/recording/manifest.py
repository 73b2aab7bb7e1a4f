"""The session folder's manifest (``session.json``), its seal and its quality figures.

``session.json`` is written when recording starts (status ``recording``) and rewritten atomically
(temp file, fsync, rename) when the session is finalised or recovered. Everything it says about
quality is computed from the stores on disk, so it is the same whether the recording stopped
cleanly or was recovered after a crash.

At finalisation :func:`seal_session` seals every file of the recording with checksums
(``integrity.json``, :mod:`core.recording.integrity`) and marks the manifest ``"integrity":
"integrity.json"``; the format stays v1, so an older TheraScope still opens the session. Readers
then check what they read (:func:`open_manifest`, :func:`read_streams`, :func:`compute_quality`)
and count what a damaged file cost as lost, for that reason; a session finalised before seals
existed reads as before and is "not verified".
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypedDict

import numpy as np

from core.recording.bio_store import IDX_DTYPE, BioStream, read_bio_stream, stream_paths
from core.recording.integrity import (
    INTEGRITY_NAME,
    MJPEG_CHUNK,
    OTHER_CHUNK,
    FileCheck,
    FileSeal,
    Seal,
    SessionDamageError,
    check_bytes,
    check_file,
    json_bytes,
    parse_seal,
    seal_bytes,
    seal_document,
    seal_file,
)
from core.security import vault
from core.types import StreamInfo

if TYPE_CHECKING:
    from core.recording.video_file import SessionVideo

FORMAT = "therascope-session"
FORMAT_VERSION = 1


class StreamFigures(TypedDict, total=False):
    """One bio stream's stored quality figures (:func:`compute_quality`'s ``streams[name]``).

    Every key is written today; a session finalised before a figure existed lacks it (see
    :data:`core.quality.session.NEWER_STREAM_KEYS`), and a figure that could not be measured
    is ``None``.
    """

    expected: int
    received: int
    lost: int
    lost_pct: float
    gaps: int
    duration_s: float
    rate_hz: float | None
    achieved_rate_hz: float | None
    longest_gap_s: float | None
    drift_ppm: float | None
    latency_median_ms: float | None
    latency_p95_ms: float | None
    segments: int | None
    segment_step_ms: float | None
    damaged: int | None
    damaged_s: list[list[float]]
    damaged_files: list[str]


class VideoFigures(TypedDict, total=False):
    """The video's stored quality figures (:func:`compute_quality`'s ``video``); ``damaged``:
    recorded frames lost to damaged files (None: the session is not sealed), ``damaged_s``
    their time ranges (s since the start), ``damaged_files`` the files."""

    frames: int
    dropped: int
    corrupt: int
    duration_s: float
    fps: float
    damaged: int | None
    damaged_s: list[list[float]]
    damaged_files: list[str]


class FileFigures(TypedDict, total=False):
    """One sealed file as checked (:class:`IntegrityFigures`' ``files``).

    ``status``: ``"intact"``, ``"damaged"``, ``"missing"``, or ``"size checked"`` (the video
    when only its size was compared: its frames are checked one by one as they are read);
    ``bad_bytes``: damaged or missing ``[start, end)`` byte ranges (the first 20);
    ``samples_lost`` / ``frames_lost``: what they cost (bio / video files); ``lost_s``: when.
    """

    file: str
    status: str
    size: int | None
    expected_size: int | None
    bad_bytes: list[list[int]]
    problem: str
    samples_lost: int
    frames_lost: int
    lost_s: list[list[float]]


class IntegrityFigures(TypedDict):
    """The files against their seal (:func:`compute_quality`'s ``integrity``).

    ``state``: ``"sealed"`` (the copy stored at finalisation), ``"verified"`` (checked, every
    file as sealed), ``"damaged"``, or ``"not verified"`` (no seal: ``note`` says why);
    ``checked``: ``"full"`` (every byte), ``"quick"`` (every byte but the video's frames, which
    are checked as they are read) or None; ``sealed_at``: when (UTC, ISO-8601).
    """

    state: str
    checked: str | None
    sealed_at: str | None
    note: str
    files: list[FileFigures]


def write_json_atomic(path: Path, data: dict[str, Any]) -> None:
    """Write JSON so that a crash leaves either the old or the new file, never a torn one."""
    write_bytes_atomic(path, json_bytes(data))


def write_bytes_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` so that a crash leaves either the old or the new file, never a torn one
    (temporary file ``NAME.tmp``, fsync, rename, fsync of the folder)."""
    vault.write_bytes_atomic(path, data)  # sealed in a sealed session (core.security.vault)


def read_manifest(folder: Path) -> dict[str, Any]:
    """Read ``session.json``; a clear error if the folder is not a TheraScope session."""
    return _parse_manifest(folder, _manifest_bytes(folder))


def _manifest_bytes(folder: Path) -> bytes:
    try:
        return vault.read_bytes(folder / "session.json")
    except FileNotFoundError:
        raise ValueError(f"{folder} is not a TheraScope session (no session.json)") from None


def _json_of(folder: Path, raw: bytes) -> dict[str, Any]:
    path = folder / "session.json"
    try:
        data = json.loads(raw.decode("utf-8"))
    except ValueError as e:  # UnicodeDecodeError is a ValueError
        raise SessionDamageError(f"{path} is damaged: {e}") from None
    if not isinstance(data, dict):
        raise SessionDamageError(f"{path} is damaged: not a JSON object")
    return data


def _parse_manifest(folder: Path, raw: bytes, data: dict[str, Any] | None = None) -> dict[str, Any]:
    path = folder / "session.json"
    if data is None:
        data = _json_of(folder, raw)
    if data.get("format") != FORMAT:
        raise ValueError(f"{path} is not a TheraScope session manifest")
    try:
        version = int(data.get("format_version", 0))
    except (TypeError, ValueError):
        raise ValueError(f"{path} has no valid format version") from None
    if version > FORMAT_VERSION:
        raise ValueError(
            f"{folder.name} was recorded by a newer TheraScope (session format "
            f"v{data.get('format_version')}); this version reads up to v{FORMAT_VERSION}."
        )
    return data


def stream_infos(manifest: dict[str, Any]) -> list[StreamInfo]:
    return [StreamInfo.from_dict(s) for s in manifest.get("streams", [])]


@dataclass
class SealState:
    """A session's seal as found (:func:`open_manifest`).

    Parameters
    ----------
    seal : Seal or None — the usable seal (None: unsealed, or ``integrity.json`` unusable)
    unusable : str — why ``integrity.json`` cannot be used ("" when it can or is not expected)
    note : str — why the session is not verified (no seal)
    checks : list of FileCheck — what was checked on opening (``session.json``; an unusable
        ``integrity.json``)
    """

    seal: Seal | None
    unusable: str = ""
    note: str = ""
    checks: list[FileCheck] = field(default_factory=list)

    def get(self, path: str) -> FileSeal | None:
        return self.seal.get(path) if self.seal is not None else None


def open_manifest(folder: Path) -> tuple[dict[str, Any], SealState]:
    """Read ``session.json`` and the seal, checking the manifest against it first.

    Raises
    ------
    SessionDamageError — ``session.json`` is damaged (not JSON, or not what was sealed): the
        session cannot be read, the message says why
    ValueError — not a TheraScope session, or one from a newer TheraScope
    """
    raw = _manifest_bytes(folder)
    data = _json_of(folder, raw)
    state = checked_seal(folder, data, raw)
    try:
        return _parse_manifest(folder, raw, data), state
    except SessionDamageError:
        raise
    except ValueError as e:
        if state.seal is not None:  # it matched its checksum: this is no damage
            raise
        raise SessionDamageError(str(e)) from None


def checked_seal(folder: Path, manifest: dict[str, Any], raw: bytes | None = None) -> SealState:
    """The session's seal, with ``session.json`` (``raw``: its bytes, default: read again)
    checked against it.

    Raises
    ------
    SessionDamageError — ``session.json`` no longer matches its seal
    """
    state = _load_seal(folder, manifest)
    own = state.get("session.json")
    if own is not None:
        raw = _manifest_bytes(folder) if raw is None else raw
        check = check_bytes(own, raw, len(raw))
        if not check.ok:
            raise SessionDamageError(
                f"{folder / 'session.json'} is damaged: it no longer matches its checksum "
                f"({check.problem()}); the session's settings and times cannot be trusted. "
                "`therascope verify` checks its other files."
            )
        state.checks.append(check)
    return state


def _load_seal(folder: Path, manifest: dict[str, Any]) -> SealState:
    path = folder / INTEGRITY_NAME
    status = manifest.get("status")
    expected = bool(manifest.get("integrity"))
    if status == "recording" and not expected:
        # a seal left by a finalisation that was cut short is redone by the recovery
        return SealState(None, note="the session was not finalised")
    try:
        raw = vault.read_bytes(path)
    except FileNotFoundError:
        if expected:
            why = "integrity.json is missing"
            return SealState(
                None, why, checks=[FileCheck(INTEGRITY_NAME, None, None, [], note=why)]
            )
        return SealState(
            None, note="this session has no checksums (finalised before TheraScope wrote them)"
        )
    try:
        return SealState(parse_seal(raw))
    except ValueError as e:
        why = f"integrity.json is damaged: {e}"
        check = FileCheck(INTEGRITY_NAME, None, len(raw), [(0, len(raw))], note=why)
        return SealState(None, why, checks=[check])


def check_files(folder: Path) -> tuple[list[FileCheck], str]:
    """Every sealed file checked byte by byte, without reading the session (for a session whose
    ``session.json`` is damaged); and why nothing could be checked ("" when it could)."""
    try:
        raw = vault.read_bytes(folder / INTEGRITY_NAME)
    except FileNotFoundError:
        return [], "integrity.json is missing"
    try:
        seal = parse_seal(raw)
    except ValueError as e:
        return [], f"integrity.json is damaged: {e}"
    return [check_file(folder / p, f) for p, f in sorted(seal.files.items())], ""


def bio_chunk_bytes(info: StreamInfo) -> int:
    """The seal's chunk size for a bio data file: about 2 s of samples, at least 4 KiB."""
    frame = 4 * len(info.channels)
    return frame * max(-(-4096 // frame), round(2 * info.rate_hz))


#: records per chunk of a sealed bio index and of the sealed frame index
BIO_INDEX_CHUNK_RECORDS = 32
FRAME_INDEX_CHUNK_RECORDS = 64


def seal_session(folder: Path, manifest: dict[str, Any]) -> dict[str, Any]:
    """Seal a session being finalised: the content of its ``integrity.json``.

    Every file the recording wrote is hashed (:mod:`core.recording.integrity`); ``manifest`` (the
    final ``session.json``, sealed as :func:`write_json_atomic` will write it) gets
    ``"integrity": "integrity.json"`` and, in its quality figures, the seal's own
    (:class:`IntegrityFigures`, state ``"sealed"``). The caller writes ``integrity.json`` first
    and ``session.json`` unchanged after it: a crash between the two leaves a session still
    marked recording, which recovery finalises (and seals) again.

    Returns
    -------
    dict — ``integrity.json``'s content
    """
    from core.recording.video_file import (
        SOURCE_FACTS_NAME,
        SOURCE_INDEX_NAME,
        VideoFileReader,
        find_source,
    )
    from core.recording.video_store import INDEX_NAME, MJPEG_NAME, RECORD_SIZE, VideoStoreReader

    files: list[FileSeal] = []
    for info in stream_infos(manifest):
        dpath, ipath = stream_paths(folder / "bio", info.name)
        if not (dpath.exists() and ipath.exists()):
            continue
        s = read_bio_stream(folder / "bio", info)
        holds = {
            "stream": info.name,
            "records": len(s.index),
            "samples": s.n_received,
            "first_counter": s.first_counter,
            "end_counter": s.end_counter,
        }
        chunk = BIO_INDEX_CHUNK_RECORDS * IDX_DTYPE.itemsize
        files.append(seal_file(folder, f"bio/{ipath.name}", chunk, holds))
        files.append(seal_file(folder, f"bio/{dpath.name}", bio_chunk_bytes(info), {}))
    vdir = folder / "video"
    imported = find_source(vdir)
    if imported is not None:
        with VideoFileReader(vdir) as vf:
            t = vf.timestamps_ns
            holds = {
                "frames": len(vf),
                "dropped": vf.dropped_frames(),
                "first_t_ns": int(t[0]) if len(t) else 0,
                "last_t_ns": int(t[-1]) if len(t) else 0,
            }
        chunk = FRAME_INDEX_CHUNK_RECORDS * RECORD_SIZE
        files.append(seal_file(folder, f"video/{SOURCE_INDEX_NAME}", chunk, holds))
        files.append(seal_file(folder, f"video/{imported.name}", MJPEG_CHUNK))
        if (vdir / SOURCE_FACTS_NAME).exists():
            files.append(seal_file(folder, f"video/{SOURCE_FACTS_NAME}", OTHER_CHUNK))
    elif (vdir / INDEX_NAME).exists() and (vdir / MJPEG_NAME).exists():
        with VideoStoreReader(vdir, verify=False) as v:
            rec = v.all_records
            holds = {
                "frames": len(rec),
                "dropped": v.dropped_frames(),
                "first_t_ns": int(rec["t_host_ns"][0]) if len(rec) else 0,
                "last_t_ns": int(rec["t_host_ns"][-1]) if len(rec) else 0,
            }
        chunk = FRAME_INDEX_CHUNK_RECORDS * RECORD_SIZE
        files.append(seal_file(folder, f"video/{INDEX_NAME}", chunk, holds))
        files.append(seal_file(folder, f"video/{MJPEG_NAME}", MJPEG_CHUNK))
    for name in ("journal.jsonl", "simulation.json"):
        if (folder / name).exists():
            files.append(seal_file(folder, name, OTHER_CHUNK))
    sealed_at = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    figures: IntegrityFigures = {
        "state": "sealed",
        "checked": None,
        "sealed_at": sealed_at,
        "note": "",
        "files": [{"file": f.path, "status": "intact", "size": f.size} for f in files],
    }
    manifest["integrity"] = INTEGRITY_NAME
    if isinstance(manifest.get("quality"), dict):
        manifest["quality"]["integrity"] = figures
    body = json_bytes(manifest)
    files.append(seal_bytes("session.json", body, OTHER_CHUNK))
    return seal_document(str(manifest.get("uid", folder.name)), sealed_at, files)


def read_streams(folder: Path, manifest: dict[str, Any], state: SealState) -> dict[str, BioStream]:
    """Every bio stream of the session, checked against its seal where it has one."""
    out = {}
    for info in stream_infos(manifest):
        d = state.get(f"bio/{info.name}.f32")
        i = state.get(f"bio/{info.name}.idx")
        out[info.name] = read_bio_stream(folder / "bio", info, d, i)
    return out


def open_video(folder: Path, state: SealState, verify: bool) -> SessionVideo | None:
    """The session's video (None when it has none), checked against its seal: the recorder's
    store, or an imported file with its frame index (:mod:`core.recording.video_file`)."""
    from core.recording.video_file import SOURCE_INDEX_NAME, VideoFileReader, find_source
    from core.recording.video_store import INDEX_NAME, MJPEG_NAME, VideoStoreReader

    vdir = folder / "video"
    source = find_source(vdir)
    if source is not None:
        return VideoFileReader(
            vdir,
            verify=verify,
            index_seal=state.get(f"video/{SOURCE_INDEX_NAME}"),
            source_seal=state.get(f"video/{source.name}"),
        )
    i, m = state.get(f"video/{INDEX_NAME}"), state.get(f"video/{MJPEG_NAME}")
    if i is None and not (vdir / INDEX_NAME).exists():
        return None
    return VideoStoreReader(vdir, verify=verify, index_seal=i, mjpeg_seal=m)


def _to_s(fit: Mapping[str, float] | None, counter: int, t0: int) -> float:
    if not fit:
        return 0.0
    return round((fit["offset_ns"] + fit["period_ns"] * counter - t0) / 1e9, 2)


def _cap(ranges: list[list[Any]], most: int = 20) -> list[list[Any]]:
    return ranges[:most]


def integrity_figures(
    folder: Path,
    manifest: dict[str, Any],
    state: SealState,
    streams: Mapping[str, BioStream],
    fits: Mapping[str, Mapping[str, float]],
    video: SessionVideo | None,
    full: bool,
) -> IntegrityFigures:
    """The files against their seal, from what the readers found (:class:`IntegrityFigures`).

    ``full``: the video's frames were checked too (``video`` opened with ``verify``).
    """
    checked = "full" if full else "quick"
    if state.seal is None:
        files: list[FileFigures] = [
            {"file": c.path, "status": "damaged", "size": c.size, "problem": c.problem()}
            for c in state.checks
        ]
        if state.unusable:
            return {
                "state": "damaged",
                "checked": checked,
                "sealed_at": None,
                "note": f"{state.unusable}: the files could not be checked",
                "files": files,
            }
        return {
            "state": "not verified",
            "checked": None,
            "sealed_at": None,
            "note": state.note,
            "files": [],
        }
    t0 = int(manifest.get("t0_host_ns") or 0)
    found: dict[str, FileFigures] = {}
    checks: list[FileCheck] = list(state.checks)
    for name, s in streams.items():
        checks += s.checks
        for d in s.damage:
            lost = found.setdefault(f"bio/{d.file}", {"samples_lost": 0, "lost_s": []})
            lost["samples_lost"] = lost.get("samples_lost", 0) + d.samples
            fit = fits.get(name)
            lost["lost_s"].append([_to_s(fit, d.first_counter, t0), _to_s(fit, d.end_counter, t0)])
    if video is not None:
        checks += video.checks
        for v in video.damage:
            lost = found.setdefault(f"video/{v.file}", {"frames_lost": 0, "lost_s": []})
            lost["frames_lost"] = lost.get("frames_lost", 0) + v.frames
            lost["lost_s"].append(
                [round((v.t_start_ns - t0) / 1e9, 2), round((v.t_end_ns - t0) / 1e9, 2)]
            )
    seen = {c.path for c in checks}
    for path, sealed in state.seal.files.items():
        if path not in seen and not path.startswith(("bio/", "video/")):
            checks.append(check_file(folder / path, sealed))
        elif path not in seen:  # a store no reader opened (e.g. a stream no longer listed)
            checks.append(check_file(folder / path, sealed, contents=full))
    out: list[FileFigures] = []
    for c in sorted(checks, key=lambda c: c.path):
        if c.ok:
            status = "intact" if c.contents else "size checked"
        else:
            status = "missing" if c.size is None else "damaged"
        f: FileFigures = {
            "file": c.path,
            "status": status,
            "size": c.size,
            "expected_size": c.expected_size,
        }
        if not c.ok:
            f["bad_bytes"] = _cap([[a, b] for a, b in c.bad])
            f["problem"] = c.problem()
        extra = found.get(c.path)
        if extra:
            f.update(extra)
            f["lost_s"] = _cap(f.get("lost_s", []))
        out.append(f)
    bad = any(f["status"] in ("damaged", "missing") for f in out)
    return {
        "state": "damaged" if bad else "verified",
        "checked": checked,
        "sealed_at": state.seal.sealed_at or None,
        "note": "",
        "files": out,
    }


def compute_quality(
    folder: Path, manifest: dict[str, Any], deep: bool = False, state: SealState | None = None
) -> dict[str, Any]:
    """Recording-quality figures from what is on disk, checked against the session's seal.

    Parameters
    ----------
    folder : Path — the session folder
    manifest : dict — its ``session.json``
    deep : bool — check every byte of the video too (about 0.6 s per GB); without it the video
        is checked by its size and its index (a frame's bytes are checked when it is read)
    state : SealState, optional — the seal as :func:`open_manifest` found it (default: read and
        check it here)

    Returns
    -------
    dict — ``streams``: per stream ``expected``, ``received``, ``lost``, ``lost_pct``, ``gaps``,
    ``duration_s``, and ``rate_hz`` (nominal), ``achieved_rate_hz`` (samples stored per second of
    the stream's span), ``longest_gap_s``, ``drift_ppm`` (sensor clock against the host's),
    ``latency_median_ms``, ``latency_p95_ms``, ``segments``, ``segment_step_ms`` (see
    :func:`core.recording.journal.stream_timing`), ``damaged`` (of the lost samples, those a
    damaged file held; None: not sealed), ``damaged_s``, ``damaged_files``; ``video``:
    ``frames``, ``dropped``, ``corrupt``, ``duration_s``, ``fps``, ``damaged``, ``damaged_s``,
    ``damaged_files``; ``duration_s`` (the longer of the bio and video spans, s); from the
    journal (:func:`core.recording.journal.event_quality`): ``link``, ``camera``,
    ``device_errors`` (None where not recorded); ``integrity`` (:class:`IntegrityFigures`).
    ``lost`` counts every missing sample, the radio's and a damaged file's; ``gaps`` and
    ``longest_gap_s`` are the radio's. Shapes: :class:`StreamFigures`, :class:`VideoFigures`,
    :class:`core.recording.journal.EventQuality`.

    Raises
    ------
    SessionDamageError — ``session.json`` no longer matches its seal
    """
    from core.clock import fit_counter_clock
    from core.recording.journal import event_quality, stream_timing

    if state is None:
        state = checked_seal(folder, manifest)
    sealed = state.seal is not None
    out: dict[str, Any] = {"streams": {}, "video": None}
    t0 = int(manifest["t0_host_ns"])
    stored_fits = manifest.get("clock_fits") or {}
    ends = [0.0]
    streams = read_streams(folder, manifest, state)
    fits: dict[str, Mapping[str, float]] = {}
    for name, s in streams.items():
        info = s.info
        expected = s.end_counter - s.first_counter
        gaps = s.gaps()
        lost = sum(g.n for g in gaps)
        hit = [(d.first_counter, d.end_counter) for d in s.damage]
        radio = [
            g
            for g in gaps
            if not any(a <= g.first_counter + g.n and g.first_counter <= b for a, b in hit)
        ]
        dur = 0.0
        timing = stream_timing(np.zeros(0), np.zeros(0), info.rate_hz, {})
        drift = achieved = None
        fit: Mapping[str, float] | None = stored_fits.get(name)
        if len(s.index):
            last = s.index["first_counter"] + s.index["n"] - 1
            own = fit_counter_clock(last, s.index["arrival_ns"], info.rate_hz)
            dur = (own["offset_ns"] + own["period_ns"] * s.end_counter - t0) / 1e9
            ends.append(dur)
            timing = stream_timing(last, s.index["arrival_ns"], info.rate_hz, own)
            drift = round(float(own["drift_ppm"]), 2)
            span_s = expected * own["period_ns"] / 1e9
            delivered = s.n_received + s.damaged_samples  # what a damaged file lost was received
            achieved = round(delivered / span_s, 3) if span_s > 0 else None
            fit = fit or own
            if manifest.get("origin") == "imported":
                # the file's sample clock is the session clock: no radio, no host clock to
                # compare with, so no drift and no arrival spread to report
                timing = stream_timing(np.zeros(0), np.zeros(0), info.rate_hz, {})
                drift = None
        if fit:
            fits[name] = fit
        figures: StreamFigures = {
            "expected": int(expected),
            "received": int(s.n_received),
            "lost": int(lost),
            "lost_pct": round(100.0 * lost / expected, 3) if expected else 0.0,
            "gaps": len(radio),
            "duration_s": round(dur, 3),
            "rate_hz": float(info.rate_hz),
            "achieved_rate_hz": achieved,
            "longest_gap_s": round(max((g.n for g in radio), default=0) / info.rate_hz, 4),
            "drift_ppm": drift,
            **timing,
            "damaged": s.damaged_samples if sealed else None,
            "damaged_s": _cap(
                [[_to_s(fit, d.first_counter, t0), _to_s(fit, d.end_counter, t0)] for d in s.damage]
            ),
            "damaged_files": sorted({f"bio/{d.file}" for d in s.damage}),
        }
        out["streams"][name] = figures
    v = open_video(folder, state, verify=deep)
    if v is not None:
        n = len(v)
        vdur = 0.0
        fps = 0.0
        # the rate and length as recorded: frames a damaged file lost were stored all the same
        n_rec, first_t, last_t = v.recorded or (n, 0, 0)
        if v.recorded is None and n:
            first_t, last_t = int(v.timestamps_ns[0]), int(v.timestamps_ns[-1])
        if n_rec:
            vdur = (last_t - t0) / 1e9
            if n_rec > 1 and last_t > first_t:
                fps = (n_rec - 1) / ((last_t - first_t) / 1e9)
            ends.append(vdur)
        v.close()
        video: VideoFigures = {
            "frames": n,
            "dropped": int(v.dropped_frames()),
            "corrupt": int(v.n_corrupt),
            "duration_s": round(vdur, 3),
            "fps": round(fps, 2),
            "damaged": v.n_damaged if sealed else None,
            "damaged_s": _cap(
                [
                    [round((d.t_start_ns - t0) / 1e9, 2), round((d.t_end_ns - t0) / 1e9, 2)]
                    for d in v.damage
                ]
            ),
            "damaged_files": sorted({f"video/{d.file}" for d in v.damage}),
        }
        out["video"] = video
    out["duration_s"] = round(max(ends), 3)
    out.update(event_quality(folder, out["duration_s"]))
    out["integrity"] = integrity_figures(folder, manifest, state, streams, fits, v, deep)
    return out


def simulated_devices(manifest: dict[str, Any]) -> str | None:
    """Which of a session's devices were simulated: ``"sensor and camera"``, ``"sensor"``,
    ``"camera"``, or None for a real recording (older manifests: from the ``simulated`` flag)."""
    devices = manifest.get("devices") or {}
    sim = [k for k in ("sensor", "camera") if (devices.get(k) or {}).get("simulated")]
    if not sim:
        return "sensor and camera" if manifest.get("simulated") else None
    return " and ".join(sim)
