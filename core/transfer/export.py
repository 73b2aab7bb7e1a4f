"""One session out of TheraScope, as files other tools read: a CSV folder or one EDF+/BDF+ file.

:func:`export_session` is a plain function of the catalog, the data folder and a session's uid,
with no assumption about who calls it (the CLI, the GUI, the per-patient export that calls it once
per session). Every export is audited (``export``, ``session``, the session's id,
``format=csv|edf``): codes and ids only, never a name or a path.

The CSV folder (built in a hidden sibling folder and renamed at the end, so an error leaves
nothing behind)::

    <out>/signals_800Hz.csv   time_s, then one column per channel: <channel>_<unit> (ECG_mV,
                              EDA_uS); one file per sampling rate (a rate shared by two streams
                              with their own clocks: signals_<rate>Hz_<stream>.csv); a lost
                              sample is an empty cell
    <out>/markers.csv         time_s, kind, label: the session's markers and SUDS ratings
                              (kind suds, the rating 0-100 as the label)
    <out>/estimates.csv       per analysed frame: time_s, frame, valence, arousal (circumplex
                              scale), estimated, has_face, bio_complete, then every model output
                              (only when the session is analysed); the column of an output the
                              model did not learn (the demo model: liking and the emotions) is
                              there but empty, "not estimated by this model" in session.json
    <out>/physiology.csv      per comparison window: heart rate, RMSSD, EDA level, SCR rate, the
                              beats, SCRs and seconds used (the review screen's figures)
    <out>/session.json        the session (uid, patient code, times, sources, simulated or not),
                              the channels, the TheraScope version and a dictionary of every
                              file's columns

The EDF+ file holds the signals and the markers with the SUDS ratings (as annotations,
``suds: 65``); it is written by
:func:`core.formats.edf.write_edf`, which picks BDF+ when 16 bits would be coarser than a
channel's known resolution.

Cost, measured on a 2-core cloud VM for a 60-minute simulated session (800 Hz ECG and EDA, 2.88 M
rows, 84 MB of CSV): the CSV folder in 5.4 s (the signal file 3.2 s, the physiology figures 2.0 s),
the EDF+ file (12 MB) in 0.9 s. Values are written as the shortest text that reads back as the
same stored (float32) number.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import logging
import math
import os
import secrets
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from core import __version__
from core.analysis.physiology import session_physiology as shared_physiology
from core.analysis.results import SessionEstimates, load_estimates
from core.catalog import Catalog, Marker, Patient, SessionRecord
from core.clinical import SudsRating
from core.config import Settings
from core.filenames import safe_name_part
from core.formats.model import Annotation, Channel, guess_kind
from core.physiology.summary import PhysiologySummary
from core.recording import SessionData, Signal, open_session
from core.transfer.markers import marker_text, with_suds

__all__ = [
    "ESTIMATES_NAME",
    "EXPORT_FORMAT_VERSION",
    "FORMATS",
    "MANIFEST_NAME",
    "MARKERS_NAME",
    "NOT_LEARNED",
    "PHYSIOLOGY_NAME",
    "ChannelExport",
    "ExportResult",
    "channel_resolution",
    "export_session",
    "marker_text",
    "session_physiology",
    "signals_file_name",
    "write_columns_csv",
]

log = logging.getLogger(__name__)

#: what :func:`export_session` writes
FORMATS = ("csv", "edf")
#: the version of the CSV folder's layout (``session.json``'s ``format_version``)
EXPORT_FORMAT_VERSION = 1
MANIFEST_NAME = "session.json"
MARKERS_NAME = "markers.csv"
ESTIMATES_NAME = "estimates.csv"
PHYSIOLOGY_NAME = "physiology.csv"
#: rows formatted at once when writing a signal file (bounds the memory, not the speed)
CSV_CHUNK_ROWS = 1 << 18
#: the model's output order when an analysis does not name it (as in
#: ``core.models.outputs.OUTPUT_NAMES``; not imported: ``core.models`` imports torch)
DEFAULT_OUTPUT_NAMES = (
    "valence", "arousal", "liking",
    "neutral", "disgust", "happiness", "surprise", "anger", "fear", "sadness",
)  # fmt: skip
#: the first outputs are ratings on the Self-Assessment Manikin's 1–9 scale
N_RATINGS = 3
#: the clock fit and the nominal rate may disagree by this much over a session before EDF's
#: sample-count time is noted as off (s)
DRIFT_NOTE_S = 0.001
SIMULATED_WARNING = "SIMULATED DATA: not a real recording"

Progress = Callable[[float], None]


@dataclass
class ChannelExport:
    """One channel as exported.

    Parameters
    ----------
    name : str — the channel (``"ECG"``)
    unit : str — its unit (``"mV"``)
    rate_hz : float — nominal sampling rate
    samples : int — values written
    lost : int — samples lost between the first and the last (empty cells, or EDF's lost samples)
    first_s : float — session time of the channel's first sample (s)
    file : str — the file it is in (name inside the CSV folder, or the EDF file's name)
    column : str — its column (CSV) or label (EDF)
    resolution : float or None — one quantisation step of the source, in ``unit``, when the
        session's stream or device description says it; None when unknown
    step : float or None — EDF only: one quantisation step of the file, in ``unit``
    step_ok : bool or None — EDF only: ``step`` ≤ ``resolution`` (None without a resolution)
    """

    name: str
    unit: str
    rate_hz: float
    samples: int
    lost: int
    first_s: float
    file: str
    column: str
    resolution: float | None = None
    step: float | None = None
    step_ok: bool | None = None


@dataclass
class ExportResult:
    """What :func:`export_session` wrote.

    Parameters
    ----------
    uid : str — the session
    format : str — ``"csv"``, or the EDF writer's ``"EDF+C"``, ``"EDF+D"``, ``"BDF+C"``,
        ``"BDF+D"``
    path : Path — the CSV folder or the EDF file
    files : list of Path — every file written
    formats : dict — file name → its format in words
    channels : list of ChannelExport
    markers : int — markers written (CSV rows or EDF annotations)
    analysed : bool — the session has an analysis (CSV: ``estimates.csv`` written)
    estimates : int — analysed frames written (0 when not analysed, and always for EDF)
    simulated : bool — the session was recorded from simulated devices (and says so)
    notes : list of str — what the reader of the files should know (not analysed, EDF's time
        kept by the nominal rate, a start moved onto the sample grid, a damaged file …)
    seconds : float — how long the export took
    """

    uid: str
    format: str
    path: Path
    files: list[Path] = field(default_factory=list)
    formats: dict[str, str] = field(default_factory=dict)
    channels: list[ChannelExport] = field(default_factory=list)
    markers: int = 0
    analysed: bool = False
    estimates: int = 0
    simulated: bool = False
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def samples(self) -> int:
        """Values written, all channels together."""
        return sum(c.samples for c in self.channels)


# ---------------------------------------------------------------------------------------------
# what every format needs


def channel_resolution(manifest: dict[str, Any], stream: str, channel: str) -> float | None:
    """One quantisation step of ``channel`` (in its unit), when the session's description says it.

    Looked for in the manifest: an imported session's ``devices.import.resolution`` (channel →
    step, from the source file), then the stream's description (``streams`` and the sensor's own
    ``devices.sensor.streams``): ``resolutions`` (one per channel, in the stream's channel order)
    or ``resolution`` (a number for every channel, or channel → number). TheraScope's own sensors
    do not describe it: None (unknown).

    Returns
    -------
    float or None — a positive, finite step; None when nothing says it
    """
    devices = manifest.get("devices") or {}
    candidates: list[Any] = []
    imported = devices.get("import")
    if isinstance(imported, dict) and isinstance(imported.get("resolution"), dict):
        candidates.append(imported["resolution"].get(channel))
    sensor = devices.get("sensor") or {}
    for s in [*(manifest.get("streams") or []), *(sensor.get("streams") or [])]:
        if not isinstance(s, dict) or s.get("name") != stream:
            continue
        channels = list(s.get("channels") or [])
        many = s.get("resolutions")
        if isinstance(many, list | tuple) and channel in channels and len(many) == len(channels):
            candidates.append(many[channels.index(channel)])
        one = s.get("resolution")
        candidates.append(one.get(channel) if isinstance(one, dict) else one)
    for value in candidates:
        if isinstance(value, bool) or not isinstance(value, int | float):
            continue
        step = float(value)
        if math.isfinite(step) and step > 0:
            return step
    return None


def _stream_signals(data: SessionData) -> list[tuple[str, list[Signal]]]:
    """Every stream's channels (name, signals), in the session's order; a channel name met in
    an earlier stream is not read twice."""
    seen: set[str] = set()
    out: list[tuple[str, list[Signal]]] = []
    for name, s in data.streams.items():
        signals = []
        for ch in s.info.channels:
            if ch in seen:
                continue
            seen.add(ch)
            signals.append(data.signal(ch))
        if signals:
            out.append((name, signals))
    return out


def session_physiology(
    data: SessionData, markers: list[Marker], phase_minutes: float
) -> PhysiologySummary | None:
    """The session's pre/post physiology, as the review screen and the report compute it
    (:func:`core.analysis.physiology.session_physiology`); None when the session has neither
    ECG nor EDA, or no length."""
    if not data.duration_s > 0 or not {"ECG", "EDA"} & set(data.channels()):
        return None
    pairs = [(m.t_s, m.kind) for m in markers]
    return shared_physiology(data, pairs, phase_minutes, with_series=False)[0]


def _local_start(started_at: str) -> dt.datetime:
    """The catalog's UTC start as this computer's local wall-clock time, without a zone."""
    t = dt.datetime.fromisoformat(started_at.strip())
    if t.tzinfo is None:
        t = t.replace(tzinfo=dt.timezone.utc)
    return t.astimezone().replace(tzinfo=None)


def _clock_drift_s(sig: Signal) -> float:
    """How far the session's clock fit puts the last sample from where the nominal rate puts it
    (s; positive: later)."""
    if len(sig.t_s) < 2:
        return 0.0
    return float(sig.t_s[-1] - sig.t_s[0] - (len(sig.t_s) - 1) / sig.rate_hz)


def _lost_between(values: np.ndarray) -> int:
    """Lost (NaN) samples between the first and the last sample present."""
    ok = np.flatnonzero(~np.isnan(values))
    return int(ok[-1] - ok[0] + 1 - len(ok)) if len(ok) else 0


def _source(rec: SessionRecord) -> dict[str, Any]:
    """Where the session's data came from: ``recorded`` here or ``imported`` from another tool's
    files, simulated or not, the devices by name (no addresses, no file names: an imported
    file's name may hold the patient's name)."""
    imported = (rec.devices or {}).get("import")
    devices = [
        {"role": role, "name": d.get("name", "?"), "simulated": bool(d.get("simulated"))}
        for role, d in (rec.devices or {}).items()
        if isinstance(d, dict) and role != "import"
    ]
    out: dict[str, Any] = {
        "kind": "imported" if isinstance(imported, dict) else "recorded",
        "simulated": bool(rec.simulated),
        "devices": devices,
    }
    if isinstance(imported, dict):
        out["import"] = {k: imported[k] for k in ("format", "device", "offset_s") if k in imported}
    return out


def _refuse(reason: str) -> FileExistsError:
    return FileExistsError(f"Export refused: {reason}")


# ---------------------------------------------------------------------------------------------
# CSV

#: numpy's variable-width strings (numpy 2) format ~2x faster than fixed-width ones
_TEXT: Any = getattr(np.dtypes, "StringDType", None)
_TEXT = _TEXT() if _TEXT is not None else str


def signals_file_name(rate_hz: float, stream: str | None = None) -> str:
    """``signals_800Hz.csv``; with ``stream`` (a rate shared by two streams):
    ``signals_800Hz_<stream>.csv``."""
    tail = f"_{safe_name_part(stream)}" if stream else ""
    return f"signals_{rate_hz:g}Hz{tail}.csv"


def _fixed6(t: np.ndarray) -> np.ndarray:
    """Seconds as text with 6 decimals (``"12.000125"``), vectorised."""
    us = np.round(np.asarray(t, dtype=np.float64) * 1e6).astype(np.int64)
    a = np.abs(us)
    whole = (a // 1_000_000).astype(_TEXT)
    frac = np.char.zfill((a % 1_000_000).astype(_TEXT), 6)
    text = np.char.add(np.char.add(whole, "."), frac)
    neg = us < 0
    return np.where(neg, np.char.add("-", text), text) if neg.any() else text


def _cells(v: np.ndarray) -> np.ndarray:
    """Values as text: floats as the shortest text that reads back as the same number (NaN:
    empty), booleans as 0/1, integers as they are."""
    v = np.asarray(v)
    if v.dtype.kind == "b":
        return v.astype(np.int8).astype(_TEXT)
    if v.dtype.kind in "iu":
        return v.astype(_TEXT)
    text = v.astype(_TEXT)
    text[np.isnan(v)] = ""
    return text


def _header(names: Sequence[str]) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerow(names)
    return buf.getvalue()


def write_columns_csv(
    path: Path, time_s: np.ndarray, columns: Sequence[tuple[str, np.ndarray]]
) -> int:
    """Write ``time_s`` (6 decimals) and ``columns`` as a CSV file, fast (numpy-vectorised text,
    :data:`CSV_CHUNK_ROWS` rows at a time); NaN is an empty cell. Returns the rows written."""
    n = len(time_s)
    with open(path, "w", encoding="utf-8", newline="") as fh:
        fh.write(_header(["time_s", *(name for name, _ in columns)]))
        for i in range(0, n, CSV_CHUNK_ROWS):
            part = slice(i, i + CSV_CHUNK_ROWS)
            rows = _fixed6(time_s[part])
            for _, values in columns:
                rows = np.char.add(np.char.add(rows, ","), _cells(values[part]))
            fh.write("\n".join(rows.tolist()))
            fh.write("\n")
    return n


def _write_rows_csv(path: Path, header: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    with open(path, "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(header)
        w.writerows(rows)


def _number(x: Any) -> str:
    """A figure as a cell: empty for None or NaN, floats in full (``repr``), the rest as text."""
    if x is None:
        return ""
    if isinstance(x, bool):
        return "1" if x else "0"
    if isinstance(x, float | np.floating):
        return repr(float(x)) if math.isfinite(float(x)) else ""
    return str(x)


def _unique(name: str, taken: set[str]) -> str:
    out, k = name, 2
    while out in taken:
        out, k = f"{name}_{k}", k + 1
    taken.add(out)
    return out


def _write_signals(
    folder: Path, streams: list[tuple[str, list[Signal]]], resolutions: dict[str, float | None]
) -> tuple[list[ChannelExport], dict[str, dict[str, str]]]:
    """One file per rate (per stream when a rate has several); the channels and the columns'
    dictionary."""
    by_rate: dict[float, int] = {}
    for _, signals in streams:
        by_rate[signals[0].rate_hz] = by_rate.get(signals[0].rate_hz, 0) + 1
    exported: list[ChannelExport] = []
    dictionary: dict[str, dict[str, str]] = {}
    for stream, signals in streams:
        rate = signals[0].rate_hz
        name = signals_file_name(rate, stream if by_rate[rate] > 1 else None)
        taken = {"time_s"}
        columns = [(_unique(f"{s.name}_{s.unit}", taken), s.values) for s in signals]
        write_columns_csv(folder / name, signals[0].t_s, columns)
        words = {
            "time_s": "session time of the row's samples: seconds since the session's start on "
            "the recording computer's clock (6 decimals)"
        }
        for (col, _), s in zip(columns, signals, strict=True):
            words[col] = f"{s.name} in {s.unit}, {s.rate_hz:g} Hz; empty where the sample was lost"
            ok = int(np.count_nonzero(~np.isnan(s.values)))
            exported.append(
                ChannelExport(
                    name=s.name,
                    unit=s.unit,
                    rate_hz=float(s.rate_hz),
                    samples=ok,
                    lost=_lost_between(s.values),
                    first_s=float(s.t_s[0]) if len(s.t_s) else 0.0,
                    file=name,
                    column=col,
                    resolution=resolutions.get(s.name),
                )
            )
        dictionary[name] = words
    return exported, dictionary


def _output_names(est: SessionEstimates) -> list[str]:
    n = est.outputs.shape[1]
    names = list(est.info.get("output_names") or [])
    if len(names) != n:
        names = list(DEFAULT_OUTPUT_NAMES[:n]) + [
            f"output_{i + 1}" for i in range(len(DEFAULT_OUTPUT_NAMES), n)
        ]
    return [f"{x}_1to9" if i < N_RATINGS else str(x) for i, x in enumerate(names)]


#: the words of an output's column when the model did not learn that output
NOT_LEARNED = "not estimated by this model (it did not learn this output): always empty"


def _learned_columns(est: SessionEstimates) -> list[bool]:
    """For each model output (in column order): whether the checkpoint learned it
    (:attr:`SessionEstimates.outputs_trained`). The network computes every output, but one it
    did not learn is not an estimate, so its column is written empty."""
    learned = set(est.outputs_trained[0])
    names = list(est.info.get("output_names") or [])
    n = est.outputs.shape[1]
    if len(names) != n:
        names = list(DEFAULT_OUTPUT_NAMES[:n]) + [
            f"output_{i + 1}" for i in range(len(DEFAULT_OUTPUT_NAMES), n)
        ]
    return [str(x) in learned for x in names]


def _write_estimates(path: Path, est: SessionEstimates) -> dict[str, str]:
    outputs = np.asarray(est.outputs, dtype=np.float32).copy()
    names = _output_names(est)
    learned = _learned_columns(est)
    outputs[:, [not ok for ok in learned]] = np.nan  # never a number for an unlearned output
    columns: list[tuple[str, np.ndarray]] = [
        ("frame", np.asarray(est.frame, dtype=np.int64)),
        ("valence", np.where(learned[0], est.valence, np.nan).astype(np.float32)),
        ("arousal", np.where(learned[1], est.arousal, np.nan).astype(np.float32)),
        ("estimated", est.estimated),
        ("has_face", np.asarray(est.has_face, dtype=bool)),
        ("bio_complete", np.asarray(est.bio_complete, dtype=bool)),
        *((name, outputs[:, i]) for i, name in enumerate(names)),
    ]
    write_columns_csv(path, np.asarray(est.t_s, dtype=np.float64), columns)
    words = {
        "time_s": "capture time of the analysed video frame, seconds since the session's start",
        "frame": "the camera frame's index in the session's video",
        "valence": "valence on the circumplex scale, -1 (unpleasant) to +1 (pleasant), as the "
        "review screen shows it; empty where not estimated",
        "arousal": "arousal on the circumplex scale, -1 (calm) to +1 (activated); empty where not "
        "estimated",
        "estimated": "1 when the model gave an estimate for the frame",
        "has_face": "1 when a face was found in the frame",
        "bio_complete": "1 when the frame's ECG/EDA window had no lost sample",
    }
    for i, name in enumerate(names):
        if not learned[i]:
            words[name] = NOT_LEARNED
        elif i < N_RATINGS:
            words[name] = f"the model's {name[:-5]} rating on the 1-9 scale (SAM); empty where "
            words[name] += "not estimated"
        else:
            words[name] = f"the model's output for the emotion '{name}'; empty where not estimated"
    return words


_PHYSIOLOGY_COLUMNS = (
    ("window", "pre or post"),
    ("label", "the window in words (before treatment, first 15:00 …)"),
    ("start_s", "window start, seconds since the session's start"),
    ("end_s", "window end, seconds since the session's start"),
    ("hr_bpm", "mean heart rate (beats per minute)"),
    ("rmssd_ms", "RMSSD of successive RR intervals (ms)"),
    ("eda_tonic_us", "mean tonic skin conductance, the EDA level (µS)"),
    ("scr_per_min", "skin-conductance responses per minute"),
    ("n_beats", "R-peaks found"),
    ("n_scr", "SCRs counted"),
    ("ecg_seconds_analysed", "seconds of usable ECG in the window"),
    ("eda_seconds_analysed", "seconds of usable EDA in the window"),
    ("scr_threshold_us", "smallest SCR counted in the window (µS)"),
    ("scr_method", "how the SCRs were found"),
    ("reasons", "why a figure is empty (metric: reason; …)"),
)


def _write_physiology(path: Path, summary: PhysiologySummary) -> dict[str, str]:
    rows = []
    for w, m in zip(summary.windows, summary.metrics, strict=True):
        reasons = "; ".join(f"{k}: {v}" for k, v in m.reasons.items())
        rows.append(
            [
                w.name,
                w.label,
                *(
                    _number(x)
                    for x in (
                        w.start_s,
                        w.end_s,
                        m.hr_bpm,
                        m.rmssd_ms,
                        m.eda_tonic_us,
                        m.scr_per_min,
                        m.n_beats,
                        m.n_scr,
                        m.ecg_seconds_analysed,
                        m.eda_seconds_analysed,
                        m.scr_threshold_us,
                    )
                ),
                m.scr_method,
                reasons,
            ]
        )
    _write_rows_csv(path, [c for c, _ in _PHYSIOLOGY_COLUMNS], rows)
    words = dict(_PHYSIOLOGY_COLUMNS)
    words["_note"] = "figures unrounded; empty where not measured (see reasons)"
    return words


def _write_csv_folder(
    tmp: Path,
    rec: SessionRecord,
    patient: Patient,
    data: SessionData,
    markers: list[Marker],
    settings: Settings,
    include_name: bool,
    prefer: str | None,
    result: ExportResult,
    progress: Progress,
    suds: list[SudsRating] | None = None,
) -> None:
    """Write every file of the CSV folder into ``tmp``; ``prefer``: the catalog's ``result_dir``
    of the session's latest analysis (:func:`core.analysis.results.load_estimates`)."""
    manifest = data.manifest
    streams = _stream_signals(data)
    resolutions = {
        ch: channel_resolution(manifest, name, ch)
        for name, s in data.streams.items()
        for ch in s.info.channels
    }
    dictionary: dict[str, dict[str, str]] = {}
    result.channels, sig_words = _write_signals(tmp, streams, resolutions)
    dictionary.update(sig_words)
    for name in sig_words:
        result.formats[name] = "CSV (UTF-8, comma-separated, one header row)"
    progress(0.6)

    shown = with_suds(markers, suds or [])
    _write_rows_csv(
        tmp / MARKERS_NAME,
        ["time_s", "kind", "label"],
        [[f"{m.t_s:.6f}", m.kind, m.label] for m in shown],
    )
    result.markers = len(shown)
    result.formats[MARKERS_NAME] = "CSV (UTF-8, comma-separated, one header row)"
    dictionary[MARKERS_NAME] = {
        "time_s": "seconds since the session's start",
        "kind": "treatment_start, treatment_end, note or suds (a SUDS rating)",
        "label": "the therapist's text, as written; for suds the rating, 0-100",
    }

    est = load_estimates(data.folder, prefer)
    if est is not None:
        dictionary[ESTIMATES_NAME] = _write_estimates(tmp / ESTIMATES_NAME, est)
        result.formats[ESTIMATES_NAME] = "CSV (UTF-8, comma-separated, one header row)"
        result.analysed, result.estimates = True, len(est)
    else:
        result.notes.append(f"Not analysed: no {ESTIMATES_NAME} was written.")
    progress(0.7)

    summary = session_physiology(data, markers, settings.phase_minutes)
    if summary is not None:
        dictionary[PHYSIOLOGY_NAME] = _write_physiology(tmp / PHYSIOLOGY_NAME, summary)
        result.formats[PHYSIOLOGY_NAME] = "CSV (UTF-8, comma-separated, one header row)"
    else:
        result.notes.append(f"No ECG or EDA: no {PHYSIOLOGY_NAME} was written.")
    progress(0.9)

    doc = _session_document(
        rec, patient, data, result, summary, est, settings, include_name, dictionary
    )
    with open(tmp / MANIFEST_NAME, "w", encoding="utf-8") as fh:
        json.dump(doc, fh, indent=2, ensure_ascii=False, allow_nan=False)
        fh.write("\n")
    result.formats[MANIFEST_NAME] = "JSON (UTF-8)"


def _strict(value: Any) -> Any:
    """``value`` JSON-ready: numpy numbers as Python ones, NaN and infinity as None."""
    if isinstance(value, dict):
        return {str(k): _strict(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_strict(v) for v in value]
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        f = float(value)
        return f if math.isfinite(f) else None
    return value


def _session_document(
    rec: SessionRecord,
    patient: Patient,
    data: SessionData,
    result: ExportResult,
    summary: PhysiologySummary | None,
    est: SessionEstimates | None,
    settings: Settings,
    include_name: bool,
    dictionary: dict[str, dict[str, str]],
) -> dict[str, Any]:
    session: dict[str, Any] = {"uid": rec.uid, "patient_code": patient.code}
    if include_name and patient.name:
        session["patient_name"] = patient.name
    local = _local_start(rec.started_at)
    session.update(
        started_at_utc=rec.started_at,
        started_at_local=local.isoformat(timespec="milliseconds"),
        ended_at_utc=rec.ended_at,
        duration_s=float(rec.duration_s or data.duration_s),
        status=rec.status,
        simulated=bool(rec.simulated),
    )
    if rec.simulated:
        session["warning"] = SIMULATED_WARNING
    analysis: dict[str, Any] | None = None
    if est is not None:
        ck = dict(est.info.get("checkpoint") or {})
        analysis = {
            "created_at": est.info.get("created_at"),
            "model": ck.get("label"),
            "model_sha256": ck.get("sha256"),
            "demo_model": est.demo_model,
            "inputs": est.info.get("inputs"),
            "frames_analysed": len(est),
            "frames_estimated": int(np.count_nonzero(est.estimated)),
            "counts": dict(est.info.get("counts") or {}),
            "outputs_learned": est.outputs_trained[0],
            "outputs_learned_basis": est.outputs_trained[1],
            "outputs_not_estimated": [
                n for n, ok in zip(_output_names(est), _learned_columns(est), strict=True) if not ok
            ],
        }
        if est.demo_model:
            analysis["warning"] = "DEMO MODEL: the estimates are not clinically valid"
    physiology: dict[str, Any] | None = None
    if summary is not None:
        physiology = {
            "phase_minutes": settings.phase_minutes,
            "from_markers": summary.from_markers,
            "note": summary.windows[0].note,
            "change_post_minus_pre": dict(summary.change),
        }
    return dict(
        _strict(
            {
                "format": "TheraScope session export",
                "format_version": EXPORT_FORMAT_VERSION,
                "therascope_version": __version__,
                "exported_at_utc": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
                "session": session,
                "source": _source(rec),
                "channels": [
                    {
                        "name": c.name,
                        "unit": c.unit,
                        "rate_hz": c.rate_hz,
                        "file": c.file,
                        "column": c.column,
                        "samples": c.samples,
                        "lost_samples": c.lost,
                        "first_sample_s": c.first_s,
                        "resolution": c.resolution,
                    }
                    for c in result.channels
                ],
                "markers": result.markers,
                "analysed": est is not None,
                "analysis": analysis,
                "physiology": physiology,
                "notes": list(result.notes),
                "files": {
                    name: {"format": result.formats.get(name, ""), "columns": cols}
                    for name, cols in dictionary.items()
                },
            }
        )
    )


# ---------------------------------------------------------------------------------------------
# EDF


def _write_edf_file(
    out: Path,
    rec: SessionRecord,
    patient: Patient,
    data: SessionData,
    markers: list[Marker],
    include_name: bool,
    result: ExportResult,
    suds: list[SudsRating] | None = None,
) -> None:
    from core.formats.edf import write_edf

    streams = _stream_signals(data)
    signals = [(name, s) for name, group in streams for s in group]
    present = [(name, s, np.flatnonzero(~np.isnan(s.values))) for name, s in signals if len(s.t_s)]
    if not present:
        raise ValueError("This session has no signal to write as EDF.")
    t_first = min(float(s.t_s[0]) for _, s, _ in present)
    channels: list[Channel] = []
    for name, s, ok in present:
        channels.append(
            Channel(
                label=s.name,
                kind=guess_kind(s.name),
                unit=s.unit,
                rate_hz=float(s.rate_hz),
                values=s.values[ok].astype(np.float64),
                sample_index=ok.astype(np.int64),
                t0_s=float(s.t_s[0]) - t_first,
                resolution=channel_resolution(data.manifest, name, s.name),
            )
        )
        drift = _clock_drift_s(s)
        if abs(drift) > DRIFT_NOTE_S:
            result.notes.append(
                f"{s.name}: EDF times samples by the nominal {s.rate_hz:g} Hz; the session's "
                f"clock puts its last sample {drift * 1000:+.1f} ms from there."
            )
    annotations = [
        Annotation(m.t_s - t_first, 0.0, marker_text(m)) for m in with_suds(markers, suds or [])
    ]
    start = _local_start(rec.started_at) + dt.timedelta(seconds=t_first)
    recording = f"TheraScope {rec.uid}" + (" simulated" if rec.simulated else "")
    info = write_edf(
        out,
        channels,
        annotations,
        start=start,
        patient_code=patient.code,
        patient_name=patient.name if include_name else None,
        recording=recording,
    )
    result.format = str(info.get("format", "EDF+"))
    result.formats[out.name] = result.format
    result.markers = len(annotations)
    result.notes.extend(str(n) for n in info.get("notes") or [])
    written = list(info.get("channels") or [])
    for i, (c, (_, s, ok)) in enumerate(zip(channels, present, strict=True)):
        w = written[i] if i < len(written) else {}
        result.channels.append(
            ChannelExport(
                name=s.name,
                unit=s.unit,
                rate_hz=c.rate_hz,
                samples=len(ok),
                lost=_lost_between(s.values),
                first_s=float(s.t_s[0]),
                file=out.name,
                column=str(w.get("label", c.label)),
                resolution=c.resolution,
                step=None if w.get("step") is None else float(w["step"]),
                step_ok=w.get("step_ok"),
            )
        )
    result.notes.append(
        "EDF holds the signals and the markers; the estimates and the physiology figures are "
        "in the CSV export."
    )


# ---------------------------------------------------------------------------------------------
# the export


def export_session(
    catalog: Catalog,
    data_root: Path,
    uid: str,
    fmt: str,
    out: Path,
    *,
    include_name: bool = False,
    settings: Settings | None = None,
    progress: Progress | None = None,
) -> ExportResult:
    """Export one session as a CSV folder or an EDF+ (BDF+) file, and audit the export.

    Parameters
    ----------
    catalog : Catalog
    data_root : Path — the data folder (the session's folder is relative to it)
    uid : str — the session's uid
    fmt : str — ``"csv"`` or ``"edf"``
    out : Path — csv: the folder to create (an existing one must be empty); edf: the file
        (replaced when it exists; written to a temporary file first, so a failure leaves the
        old one)
    include_name : bool — write the patient's name too (``session.json``, EDF's patient field);
        by default only the patient's code
    settings : Settings, optional — the physiology windows' length (default: the saved settings)
    progress : callable, optional — called with the share done (0–1)

    Returns
    -------
    ExportResult

    Notes
    -----
    EDF's start date and time have no zone: the catalog's UTC start is written as this
    computer's local time, plus the first sample's session time (the file's time zero is its
    first sample); marker onsets are counted from there. EDF keeps time by sample count at the
    nominal rate; where the session's clock fit differs by more than a millisecond over the
    session, the result's notes say by how much.

    A kill during a CSV export leaves the hidden ``.<name>.<token>.partial`` folder beside
    ``out`` (with the session's data in it).

    Raises
    ------
    KeyError — no session with this uid
    ValueError — an unknown format, a session still recording, no signal (EDF), or a stored
        analysis that cannot be read
    FileExistsError — csv: ``out`` exists and is not an empty folder
    OSError — the files cannot be written
    """
    t_start = time.perf_counter()
    say: Progress = progress or (lambda _share: None)
    fmt = str(fmt).lower()
    if fmt not in FORMATS:
        raise ValueError(f"Export format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    rec = catalog.session_by_uid(uid)
    if rec is None:
        raise KeyError(f"No session {uid!r}")
    if rec.status == "recording":
        raise ValueError("This session is still recording; stop it before exporting it.")
    patient = catalog.get_patient(rec.patient_id)
    if patient is None:
        raise KeyError(f"Session {uid!r} has no patient in the catalog")
    out = Path(out)
    if fmt == "csv" and (out.exists() or out.is_symlink()):
        if out.is_symlink() or not out.is_dir():
            raise _refuse(f"{out.name} exists and is not a folder.")
        if any(out.iterdir()):
            raise _refuse(f"the folder {out.name} is not empty; choose an empty or a new folder.")
    if fmt == "edf" and out.is_dir():
        raise IsADirectoryError(f"Export refused: {out.name} is a folder, not a file name")
    settings = settings or Settings.load()

    data = open_session(data_root / rec.folder)
    markers = catalog.list_markers(rec.id)
    suds = catalog.list_suds(rec.id)  # exported with the markers, kind "suds"
    say(0.1)
    result = ExportResult(uid=rec.uid, format=fmt, path=out, simulated=bool(rec.simulated))
    if rec.simulated:
        result.notes.append(f"{SIMULATED_WARNING}.")
    if data.damaged:
        result.notes.append(
            "A file of the session is damaged: what it cost is exported as lost samples."
        )
    out.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "csv":
        latest = catalog.latest_analysis(rec.id)
        tmp = out.parent / f".{out.name}.{secrets.token_hex(8)}.partial"
        tmp.mkdir()
        try:
            _write_csv_folder(
                tmp,
                rec,
                patient,
                data,
                markers,
                settings,
                include_name,
                latest.result_dir if latest else None,
                result,
                say,
                suds,
            )
            catalog.audit("export", "session", rec.id, f"format={fmt}")
            if out.is_dir():
                out.rmdir()  # the empty folder chosen for it
            os.rename(tmp, out)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        result.files = [out / name for name in result.formats]
    else:
        _write_edf_file(out, rec, patient, data, markers, include_name, result, suds)
        try:
            catalog.audit("export", "session", rec.id, f"format={fmt}")
        except BaseException:
            out.unlink(missing_ok=True)  # no export without its audit entry
            raise
        result.files = [out]
    say(1.0)
    result.seconds = time.perf_counter() - t_start
    log.info(
        "session %s exported as %s: %d files, %d samples, %d markers, %.1f s",
        rec.uid,
        result.format,
        len(result.files),
        result.samples,
        result.markers,
        result.seconds,
    )
    return result
