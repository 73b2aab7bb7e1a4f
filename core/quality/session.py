"""A session's data quality for the clinician: the figures, a verdict per part, the plain reasons.

:func:`quality_summary` reads a finished session folder; :func:`assess_quality` does the same from
the stored quality figures alone (the catalog's copy, e.g. for a list of sessions). Three parts,
each with a verdict ``"good"``, ``"check"`` or ``"poor"`` (``None``: nothing recorded to judge):

* **signals** — per bio stream: samples lost and the longest gap, the sensor clock's drift, how
  late packets arrived, what could not be stored;
* **link** — the sensor's disconnections and outages, its battery, packets it had to reject;
* **video** — frames dropped, the frame rate delivered against the one negotiated, a lost camera;
* **files** — the session's files against the checksums written when it was finalised
  (:mod:`core.recording.integrity`): a damaged file is always poor, and what it held counts as
  lost in the signals and the video, with its reason ("damaged file", not radio loss); a session
  finalised before checksums existed is "not verified" (no verdict).

Thresholds (why): losing under 0.5 % of samples in short gaps leaves every analysis window usable;
up to 5 % or a gap over 2 s removes some windows (check); more, or a gap over 30 s, removes a
part of the session (poor). A sensor crystal is within about ±100 ppm: beyond ±500 ppm the sensor's
rate is suspect. Video: under 1 % dropped frames is invisible to the face analysis. Files: any
damage is poor, whatever it cost: the data are no longer what was recorded.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypedDict, cast

from core.timefmt import format_clock_tenths, format_seconds

if TYPE_CHECKING:
    from core.recording.journal import DeviceErrors, LinkQuality, Outage
    from core.recording.manifest import (
        FileFigures,
        IntegrityFigures,
        StreamFigures,
        VideoFigures,
    )

VERDICTS = ("good", "check", "poor")
NOT_RECORDED = "not recorded"
#: a figure of a session without checksums (finalised before TheraScope wrote them)
NOT_VERIFIED = "not verified"
#: the reason given for what a damaged file lost
DAMAGED_FILE = "damaged file"


def worst(levels: list[str | None]) -> str | None:
    """The worst of the verdicts given (``None`` entries ignored; ``None`` if there are none)."""
    known = [v for v in levels if v in VERDICTS]
    return max(known, key=VERDICTS.index) if known else None


def fmt_pct(x: float) -> str:
    """A percentage as printed: ``2.1 %``, ``0.35 %``, ``< 0.01 %``."""
    if x == 0:
        return "0 %"
    if x < 0.01:
        return "< 0.01 %"
    return f"{x:.1f} %" if x >= 1 else f"{x:.2f} %"


def times(n: int) -> str:
    return {1: "once", 2: "twice"}.get(n, f"{n} times")


def plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


class Finding(TypedDict):
    """One finding: its ``level`` (a verdict; ``None``: nothing there to judge) and its text."""

    level: str | None
    text: str


class Section(TypedDict):
    """What every part of the summary (and the summary itself) has: ``verdict`` (the worst
    finding's; ``None``: nothing recorded to judge), ``reasons`` (the texts of the findings worse
    than good) and every finding."""

    verdict: str | None
    reasons: list[str]
    findings: list[Finding]


class _StreamCounts(TypedDict, total=False):
    # the stored figures every session has (absent only from a hand-made summary)
    expected: int
    received: int
    lost: int
    lost_pct: float
    gaps: int
    duration_s: float


class StreamSummary(Section, _StreamCounts):
    """One bio stream (``summary["signals"]["streams"][i]``): its stored figures (those of
    :data:`NEWER_STREAM_KEYS` ``None`` where not recorded), what the recorder could not store
    (``None``: not recorded) and its verdict."""

    name: str
    label: str
    rate_hz: float | None
    achieved_rate_hz: float | None
    longest_gap_s: float | None
    drift_ppm: float | None
    latency_median_ms: float | None
    latency_p95_ms: float | None
    segments: int | None
    segment_step_ms: float | None
    rejected_batches: int | None
    samples_not_stored: int | None
    damaged: int | None
    damaged_s: list[list[float]]
    damaged_files: list[str]


class SignalsSummary(Section):
    """``summary["signals"]``: the verdict over every bio stream, and each stream's."""

    streams: list[StreamSummary]


class _LinkFigures(TypedDict, total=False):
    # the journal's link figures (:class:`core.recording.journal.LinkQuality`), present when the
    # sensor reported its link (``recorded``), and the packets it rejected in all
    disconnects: int
    reconnects: int
    outages: list[Outage]
    battery_start_pct: int | None
    battery_end_pct: int | None
    address: str | None
    profile: str | None
    packets: dict[str, int] | None
    outage_total_s: float
    packets_rejected: int | None


class LinkSummary(Section, _LinkFigures):
    """``summary["link"]``: the sensor (``present``: the session had one) and, where it reported
    its link (``recorded``), the link's figures."""

    sensor: str | None
    simulated: bool
    recorded: bool
    present: bool


class VideoFormat(TypedDict, total=False):
    """A camera format: frame size (pixels) and rate (frames/s; ``None`` where not reported)."""

    width: int | None
    height: int | None
    fps: float | None


class _VideoFigures(TypedDict, total=False):
    # present when the session had a camera or video (``recorded``)
    camera: str | None
    simulated: bool
    requested: VideoFormat | None
    negotiated: VideoFormat | None
    measured_fps: float | None
    stored_fps: float | None
    frames_stored: int | None
    frames_dropped: int | None
    corrupt: int | None
    frames_rejected: int | None
    frames_not_stored: int | None
    lost_at_s: float | None
    events_recorded: bool
    dropped_pct: float | None
    damaged: int | None
    damaged_s: list[list[float]]
    damaged_files: list[str]


class VideoSummary(Section, _VideoFigures):
    """``summary["video"]``: the camera asked for, negotiated and measured, the frames stored and
    lost (``None`` where not recorded); ``recorded``: the session had a camera or video."""

    recorded: bool


class FilesSummary(Section):
    """``summary["files"]``: the files against their checksums. ``state``: ``"sealed"``
    (checksums written at finalisation: the stored figures), ``"verified"``, ``"damaged"`` or
    ``"not verified"``; ``checked``: ``"full"``, ``"quick"`` (all but the video's frames, which
    are checked as they are read) or None; ``files``: each file as checked."""

    state: str
    checked: str | None
    sealed_at: str | None
    files: list[FileFigures]


class _SessionOrigin(TypedDict, total=False):
    # only in :func:`quality_summary` (read from the session folder)
    uid: str | None
    status: str | None


class QualitySummary(Section, _SessionOrigin):
    """:func:`assess_quality` / :func:`quality_summary`: the verdict over every part, each part's,
    and the figures beneath (JSON-serialisable)."""

    simulated: bool
    duration_s: float | None
    recorder_recorded: bool
    signals: SignalsSummary
    link: LinkSummary
    video: VideoSummary
    files: FilesSummary
    errors: DeviceErrors | None
    other_reasons: list[str]


def _section(findings: Sequence[tuple[str | None, str]]) -> Section:
    """``verdict`` (the worst finding's level), ``reasons`` (texts of the findings at that level
    or worse than good) and ``findings`` (every ``{"level", "text"}``)."""
    verdict = worst([lv for lv, _ in findings]) or "good"
    return {
        "verdict": verdict,
        "reasons": [t for lv, t in findings if lv != "good"] if verdict != "good" else [],
        "findings": [{"level": lv, "text": t} for lv, t in findings],
    }


def _none(text: str) -> Finding:
    """A finding that is no verdict (nothing there to judge)."""
    return {"level": None, "text": text}


def _labels(devices: dict[str, Any]) -> dict[str, str]:
    """Stream name → its channels as people say them (``"ECG + EDA"``)."""
    sensor = devices.get("sensor") if isinstance(devices.get("sensor"), dict) else {}
    out = {}
    for s in (sensor or {}).get("streams") or []:
        if isinstance(s, dict) and s.get("name"):
            out[str(s["name"])] = " + ".join(str(c) for c in s.get("channels") or []) or s["name"]
    return out


#: per-stream figures that sessions finalised before they existed lack (None: not recorded)
NEWER_STREAM_KEYS = (
    "rate_hz",
    "achieved_rate_hz",
    "longest_gap_s",
    "drift_ppm",
    "latency_median_ms",
    "latency_p95_ms",
    "segments",
    "segment_step_ms",
    "damaged",
)


def ranges_text(ranges: Sequence[Sequence[float]], most: int = 3) -> str:
    """Time ranges as read on the session's clock: ``0:10.0–0:20.0, 0:31.2–0:33.0``."""
    parts = [
        format_clock_tenths(float(a))
        if round(float(a), 1) == round(float(b), 1)
        else f"{format_clock_tenths(float(a))}–{format_clock_tenths(float(b))}"
        for a, b in list(ranges)[:most]
    ]
    more = len(ranges) - most
    return ", ".join(parts) + (f" and {more} more" if more > 0 else "")


def damage_text(n: int, what: str, figures: Mapping[str, Any]) -> str:
    """``"7960 ECG + EDA samples lost: damaged file bio/bio.f32 (0:10.0–0:20.0)"`` (``what``:
    the singular, ``"ECG + EDA sample"``)."""
    files = ", ".join(figures.get("damaged_files") or []) or "?"
    when = ranges_text(figures.get("damaged_s") or [])
    return f"{plural(n, what)} lost: {DAMAGED_FILE} {files}" + (f" ({when})" if when else "")


def _stream(name: str, label: str, s: StreamFigures, rec: dict[str, Any]) -> StreamSummary:
    out: dict[str, Any] = {"name": name, "label": label, **dict.fromkeys(NEWER_STREAM_KEYS), **s}
    out["rejected_batches"] = (rec.get("rejected_batches") or {}).get(name)
    out["samples_not_stored"] = (rec.get("samples_not_stored") or {}).get(name)
    f: list[tuple[str, str]] = []
    expected, lost, gaps = int(s.get("expected", 0)), int(s.get("lost", 0)), int(s.get("gaps", 0))
    damaged = int(s.get("damaged") or 0)
    radio = max(0, lost - damaged)  # lost on the way (the radio, the sensor), not on the disk
    if not s.get("received"):
        f.append(("poor", f"no {label} samples {'are readable' if damaged else 'were stored'}"))
    elif radio:
        pct = (
            float(s.get("lost_pct", 100.0 * lost / max(expected, 1)))
            if not damaged
            else round(100.0 * radio / max(expected, 1), 3)
        )
        longest = s.get("longest_gap_s")
        level = "good" if pct <= 0.5 else "check" if pct <= 5 else "poor"
        if longest is not None:
            by_gap = "poor" if longest > 30 else "check" if longest > 2 else "good"
            level = worst([level, by_gap]) or level
        text = f"{fmt_pct(pct)} of {label} samples lost in {plural(gaps, 'gap')}"
        longest_t = f" (longest {format_seconds(longest)})" if longest is not None else ""
        f.append((level, text + longest_t))
    elif not damaged:
        f.append(("good", f"no {label} samples lost"))
    if damaged:
        f.append(("poor", damage_text(damaged, f"{label} sample", s)))
    drift = s.get("drift_ppm")
    if drift is not None and abs(drift) > 500:
        way = "fast" if drift > 0 else "slow"
        f.append(("check", f"{label} sensor clock runs {abs(drift):.0f} ppm {way}"))
    p95 = s.get("latency_p95_ms")
    if p95 is not None and p95 > 500:
        f.append(("check", f"{label} packets arrived up to {p95:.0f} ms late (95 % of them)"))
    step = s.get("segment_step_ms")
    if step is not None and step > 20:
        f.append(("check", f"after a break the {label} timing may be off by up to {step:.0f} ms"))
    if out["samples_not_stored"]:
        f.append(("poor", f"{out['samples_not_stored']} {label} samples could not be stored"))
    out.update(_section(f))
    return cast("StreamSummary", out)


def _signals(
    quality: dict[str, Any], labels: dict[str, str], rec: dict[str, Any]
) -> SignalsSummary:
    streams = [
        _stream(name, labels.get(name, name), s, rec)
        for name, s in (quality.get("streams") or {}).items()
    ]
    if not streams:
        text = "no bio-signal streams in this session"
        return {"verdict": None, "reasons": [], "findings": [_none(text)], "streams": []}
    findings = [(d["level"], d["text"]) for s in streams for d in s["findings"]]
    if quality.get("error"):
        findings.append(("poor", f"storage failed: {quality['error']}"))
    return {**_section(findings), "streams": streams}


def _link(quality: dict[str, Any], devices: dict[str, Any]) -> LinkSummary:
    sensor = devices.get("sensor") if isinstance(devices.get("sensor"), dict) else None
    link: LinkQuality | None = quality.get("link")
    out: dict[str, Any] = {
        "sensor": (sensor or {}).get("name"),
        "simulated": bool((sensor or {}).get("simulated")),
        "recorded": link is not None,
        "present": sensor is not None,
    }
    if sensor is None:
        return cast(
            "LinkSummary",
            {
                **out,
                "verdict": None,
                "reasons": [],
                "findings": [_none("no sensor in this session")],
            },
        )
    if link is None:
        text = (
            "simulated sensor: it has no radio link to report"
            if out["simulated"]
            else "the sensor did not report its link in this session"
        )
        return cast(
            "LinkSummary", {**out, "verdict": None, "reasons": [], "findings": [_none(text)]}
        )
    out.update(link)
    f: list[tuple[str, str]] = []
    outages = link.get("outages") or []
    total = float(link.get("outage_total_s") or 0.0)
    if not outages:
        f.append(("good", "sensor link never lost"))
    else:
        level = "poor" if total > 60 else "check"
        f.append((level, f"sensor link lost {times(len(outages))}, {format_seconds(total)} in all"))
        for o in outages:
            if not o.get("reconnected"):
                f.append(
                    (
                        "poor",
                        f"sensor link lost at {format_clock_tenths(o['start_s'])} and not back "
                        f"before the end ({format_seconds(o['duration_s'])} without signal)",
                    )
                )
    end = link.get("battery_end_pct")
    if end is not None and end <= 10:
        f.append(("check", f"sensor battery at {end} % at the end"))
    p = link.get("packets") or {}
    out["packets_rejected"] = (
        sum(int(p.get(k, 0)) for k in ("malformed", "crc_errors", "duplicates", "out_of_order"))
        if p
        else None
    )
    bad = int(p.get("malformed", 0)) + int(p.get("crc_errors", 0))
    if bad:
        share = bad / max(int(p.get("notifications", 0)), 1)
        parts = [
            f"{p[k]} {w}"
            for k, w in (("crc_errors", "with a bad CRC"), ("malformed", "malformed"))
            if p.get(k)
        ]
        text = f"{plural(bad, 'packet')} rejected ({', '.join(parts)})"
        f.append(("check" if share > 0.01 else "good", text))
    if p.get("handler_errors"):
        f.append(("check", f"the sensor's data could not be decoded {times(p['handler_errors'])}"))
    out.update(_section(f))
    return cast("LinkSummary", out)


def _negotiated(cam: dict[str, Any]) -> VideoFormat | None:
    """The format the camera agreed to: what a real camera reported after negotiating; a
    simulated one gives exactly what it was set to. A real camera that had not negotiated yet
    when the session started only carries what was asked for: not recorded."""
    neg = cam.get("negotiated") or {}
    if neg:
        return {
            "width": neg.get("width"),
            "height": neg.get("height"),
            "fps": neg.get("fps_reported"),
        }
    if cam.get("fps") and "requested" not in cam:
        return {"width": cam.get("width"), "height": cam.get("height"), "fps": cam.get("fps")}
    return None


def _video(quality: dict[str, Any], devices: dict[str, Any], rec: dict[str, Any]) -> VideoSummary:
    cam = devices.get("camera") if isinstance(devices.get("camera"), dict) else None
    v: VideoFigures | None = quality.get("video")
    if cam is None and v is None:
        text = "no camera in this session"
        return {"recorded": False, "verdict": None, "reasons": [], "findings": [_none(text)]}
    cam = cam or {}
    v = v or {}
    events = quality.get("camera") or {}
    req = cam.get("requested") or {}
    out: dict[str, Any] = {
        "recorded": True,
        "camera": cam.get("name"),
        "simulated": bool(cam.get("simulated")),
        "requested": ({k: req[k] for k in ("width", "height", "fps") if k in req} or None),
        "negotiated": _negotiated(cam),
        "measured_fps": events.get("measured_fps") or cam.get("measured_fps"),
        "stored_fps": v.get("fps"),
        "frames_stored": v.get("frames"),
        "frames_dropped": v.get("dropped"),
        "corrupt": v.get("corrupt"),
        "frames_rejected": rec.get("frames_rejected"),
        "frames_not_stored": rec.get("frames_not_stored"),
        "lost_at_s": events.get("lost_at_s"),
        "events_recorded": quality.get("camera") is not None,
        "damaged": v.get("damaged"),
        "damaged_s": v.get("damaged_s") or [],
        "damaged_files": v.get("damaged_files") or [],
    }
    stored, dropped = int(v.get("frames") or 0), int(v.get("dropped") or 0)
    out["dropped_pct"] = (
        round(100.0 * dropped / (stored + dropped), 3) if stored + dropped else None
    )
    f: list[tuple[str, str]] = []
    damaged = int(v.get("damaged") or 0)
    if not stored:
        f.append(("poor", f"no video frames {'are readable' if damaged else 'were stored'}"))
    elif dropped:
        pct = out["dropped_pct"]
        level = "good" if pct <= 1 else "check" if pct <= 5 else "poor"
        f.append((level, f"{dropped} of {stored + dropped} video frames dropped ({fmt_pct(pct)})"))
    else:
        f.append(("good", "no video frames dropped"))
    lost = out["lost_at_s"]
    duration = float(quality.get("duration_s") or 0.0)
    if lost is not None:
        missing = max(0.0, duration - lost)
        level = "poor" if missing > 0.1 * duration else "check"
        f.append(
            (
                level,
                f"camera lost at {format_clock_tenths(lost)}; "
                f"no video for the last {format_seconds(missing)}",
            )
        )
    target = (out["negotiated"] or {}).get("fps") or (out["requested"] or {}).get("fps")
    got = out["measured_fps"] or out["stored_fps"]
    if target and got and got < 0.9 * float(target):
        f.append(
            ("check", f"camera delivered {got:.1f} frames/s of the {float(target):g} expected")
        )
    if v.get("corrupt"):
        f.append(("check", f"{plural(int(v['corrupt']), 'video frame')} damaged on disk"))
    if out["frames_not_stored"]:
        f.append(("poor", f"{out['frames_not_stored']} video frames could not be stored"))
    if damaged:
        f.append(("poor", damage_text(damaged, "video frame", v)))
    out.update(_section(f))
    return cast("VideoSummary", out)


def _files(quality: dict[str, Any]) -> FilesSummary:
    """The files against their checksums (``quality["integrity"]``, absent before seals)."""
    integ: IntegrityFigures | None = quality.get("integrity")
    if not integ:
        integ = {
            "state": NOT_VERIFIED,
            "checked": None,
            "sealed_at": None,
            "note": "this session has no checksums (finalised before TheraScope wrote them)",
            "files": [],
        }
    state, checked = integ.get("state"), integ.get("checked")
    out: dict[str, Any] = {
        "state": state,
        "checked": checked,
        "sealed_at": integ.get("sealed_at"),
        "files": list(integ.get("files") or []),
    }
    f: list[tuple[str | None, str]] = []
    if state == "damaged":
        for x in out["files"]:
            if x.get("status") in ("damaged", "missing"):
                f.append(("poor", f"{DAMAGED_FILE} {x['file']}: {x.get('problem') or 'missing'}"))
        if not f or integ.get("note"):
            f.append(("poor", str(integ.get("note") or "a file is damaged")))
    elif state == "verified" and checked == "full":
        f.append(("good", "every file matches the checksums written at the end of recording"))
    elif state == "verified":
        f.append(
            (
                "good",
                "the files match the checksums written at the end of recording (the video's "
                "frames are checked as they are shown or analysed; `therascope verify` checks "
                "every byte)",
            )
        )
    elif state == "sealed":
        f.append(("good", "files sealed with checksums at the end of recording"))
    else:
        f.append((None, f"files {NOT_VERIFIED}: {integ.get('note') or 'no checksums'}"))
    if f[0][0] is None:
        return cast(
            "FilesSummary",
            {**out, "verdict": None, "reasons": [], "findings": [_none(f[0][1])]},
        )
    out.update(_section(f))
    return cast("FilesSummary", out)


def assess_quality(
    quality: dict[str, Any], devices: dict[str, Any] | None = None, simulated: bool = False
) -> QualitySummary:
    """Verdicts and reasons from stored quality figures (:func:`~core.recording.manifest.compute_quality`).

    Parameters
    ----------
    quality : dict — the session's quality figures (the manifest's or the catalog's copy)
    devices : dict — ``{"sensor": describe(), "camera": describe()}`` as stored with the session
    simulated : bool — recorded from simulated devices

    Returns
    -------
    QualitySummary — ``verdict`` (overall, the worst part), ``reasons`` (every part's),
    ``findings`` (``{"level", "text"}`` of everything to check or poor), ``simulated``,
    ``duration_s``; ``signals`` (with ``streams``), ``link``, ``video``, ``files``: each with
    ``verdict``, ``reasons``, ``findings`` and its figures (``None`` where not recorded);
    ``errors``: device errors reported (``count``, ``last``; None where not recorded). What a
    damaged file held is lost in ``signals`` / ``video`` (poor, "damaged file") and the file is
    named in ``files`` (poor): a damaged session is never good.
    """
    devices = devices or {}
    rec = quality.get("recorder") or {}
    signals = _signals(quality, _labels(devices), rec)
    link = _link(quality, devices)
    video = _video(quality, devices, rec)
    files = _files(quality)
    errors: DeviceErrors | None = quality.get("device_errors")
    parts: list[Section] = [signals, link, video, files]
    extra: list[str] = []
    if errors and errors.get("count"):
        extra.append(f"{plural(int(errors['count']), 'device error')} (last: {errors['last']})")
    if rec.get("item_errors"):
        extra.append(f"the recorder could not handle {plural(int(rec['item_errors']), 'item')}")
    return {
        "simulated": bool(simulated),
        "duration_s": quality.get("duration_s"),
        "recorder_recorded": bool(rec),
        "signals": signals,
        "link": link,
        "video": video,
        "files": files,
        "errors": errors,
        "other_reasons": extra,
        "verdict": worst([p["verdict"] for p in parts] + (["check"] if extra else [])),
        "reasons": [r for p in parts for r in p["reasons"]] + extra,
        "findings": [f for p in parts for f in p["findings"] if f["level"] in ("check", "poor")]
        + [{"level": "check", "text": t} for t in extra],
    }


def fresh_quality(folder: Path, deep: bool = True) -> tuple[dict[str, Any], QualitySummary]:
    """The quality figures of a session folder computed afresh (its files checked against their
    checksums, what a damaged file lost counted), and their summary (:func:`quality_summary`).

    Raises
    ------
    core.recording.integrity.SessionDamageError — ``session.json`` is damaged (a ValueError)
    """
    from core.recording.manifest import compute_quality, open_manifest

    manifest, state = open_manifest(folder)
    quality = compute_quality(folder, manifest, deep=deep, state=state)
    stored = manifest.get("quality") or {}
    for key in ("recorder", "error"):
        if key in stored:
            quality[key] = stored[key]
    devices = manifest.get("devices") or {"camera": manifest.get("camera")}
    if not isinstance(devices.get("sensor"), dict) and manifest.get("streams"):
        devices = {**devices, "sensor": {"name": None, "streams": manifest["streams"]}}
    out = assess_quality(quality, devices, bool(manifest.get("simulated")))
    out["uid"] = manifest.get("uid")
    out["status"] = manifest.get("status")
    return quality, out


def quality_summary(folder: Path, deep: bool = True) -> QualitySummary:
    """The data-quality summary of a session folder (finalised, recovered or an old one).

    Figures are computed afresh from the folder, every file checked against its checksums
    (``deep=False``: all but the video's frames, which are checked as they are read — for a
    screen that must not wait for gigabytes to be read); what only the recorder knew at stop (and
    a storage error) comes from the manifest's stored quality. JSON-serialisable; see
    :func:`assess_quality` for its keys.

    Raises
    ------
    core.recording.integrity.SessionDamageError — ``session.json`` is damaged (a ValueError)
    """
    return fresh_quality(folder, deep)[1]
