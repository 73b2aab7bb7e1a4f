"""The data-quality summary (:mod:`core.quality.session`) as rows of text, one wording for the
review screen and the PDF. Figures are printed exactly (counts in full, rates and times with the
decimals they were measured to); a figure the session did not record reads "not recorded".
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from core.quality.session import (
    NOT_RECORDED,
    NOT_VERIFIED,
    FilesSummary,
    LinkSummary,
    QualitySummary,
    StreamSummary,
    VideoSummary,
    fmt_pct,
    plural,
    ranges_text,
)
from core.timefmt import format_clock_tenths, format_local_time, format_seconds

VERDICT_WORDS: dict[str | None, str] = {
    "good": "Good",
    "check": "Check",
    "poor": "Poor",
    None: "Not recorded",
}
Rows = list[tuple[str, str]]


def count(n: Any) -> str:
    """A count in full, thousands separated by a space: ``12 800``."""
    return NOT_RECORDED if n is None else f"{int(n):,}".replace(",", " ")


def _num(x: Any, fmt: str, unit: str = "") -> str:
    return NOT_RECORDED if x is None else f"{float(x):{fmt}}{unit}"


def _size(d: Mapping[str, Any] | None) -> str:
    """A :class:`~core.quality.session.VideoFormat` as printed."""
    if not d or not d.get("width"):
        return NOT_RECORDED
    fps = f" at {float(d['fps']):g} frames/s" if d.get("fps") else ""
    return f"{int(d['width'])} × {int(d['height'])} pixels{fps}"


def drift_text(s: StreamSummary) -> str:
    """The sensor clock against the computer's, e.g. ``+12.3 ppm (sensor fast)``."""
    d = s.get("drift_ppm")
    if d is None:
        return NOT_RECORDED
    if round(d, 1) == 0:
        return "0.0 ppm (matches the computer's clock)"
    return f"{d:+.1f} ppm (sensor {'fast' if d > 0 else 'slow'})"


def spread_text(s: StreamSummary) -> str:
    """How late packets arrived after the earliest possible moment."""
    med, p95 = s.get("latency_median_ms"), s.get("latency_p95_ms")
    if med is None or p95 is None:
        return NOT_RECORDED
    return f"median {med:.1f} ms, 95 % within {p95:.1f} ms"


def damaged_text(figures: Mapping[str, Any]) -> str:
    """What damaged files cost a stream or the video: ``7 960 (0:10.0–0:20.0)``; ``0``;
    "not verified" for a session without checksums."""
    n = figures.get("damaged")
    if n is None:
        return NOT_VERIFIED
    when = ranges_text(figures.get("damaged_s") or [])
    return count(n) + (f" ({when})" if n and when else "")


def stream_rows(s: StreamSummary) -> Rows:
    """One bio stream's figures (``summary["signals"]["streams"][i]``)."""
    lost = s.get("lost")
    lost_t = count(lost)
    if lost is not None and s.get("lost_pct") is not None:
        lost_t += f" ({fmt_pct(float(s['lost_pct']))})"
    gaps = s.get("gaps")
    gaps_t = count(gaps)
    longest = s.get("longest_gap_s")
    if gaps and longest is not None:
        gaps_t += f" (longest {format_seconds(float(longest))})"
    segs, step = s.get("segments"), s.get("segment_step_ms")
    across = NOT_RECORDED if segs is None else "no break" if segs <= 1 else NOT_RECORDED
    if segs and segs > 1 and step is not None:
        across = f"aligned to within {step:.1f} ms"
    return [
        ("Nominal rate", _num(s.get("rate_hz"), "g", " Hz")),
        ("Achieved rate (stored samples)", _num(s.get("achieved_rate_hz"), ".2f", " Hz")),
        ("Samples expected", count(s.get("expected"))),
        ("Samples stored", count(s.get("received"))),
        ("Samples lost", lost_t),
        ("Samples lost: damaged file", damaged_text(s)),
        ("Gaps", gaps_t),
        ("Clock drift (sensor vs computer)", drift_text(s)),
        ("Packet arrival spread", spread_text(s)),
        ("Continuous stretches", count(segs)),
        ("Timing across breaks", across),
        ("Overlapping packets discarded", count(s.get("rejected_batches"))),
        ("Samples not stored (disk)", count(s.get("samples_not_stored"))),
    ]


def outages_text(link: LinkSummary) -> str:
    """Every outage: ``0:03 for 2.0 s; 0:41 for 1.2 s, not back``."""
    if not link.get("recorded"):
        return NOT_RECORDED
    outages = link.get("outages") or []
    if not outages:
        return "none"
    return "; ".join(
        f"{format_clock_tenths(o['start_s'])} for {format_seconds(o['duration_s'])}"
        + ("" if o.get("reconnected") else ", not back")
        for o in outages
    )


def link_text(link: LinkSummary) -> str:
    """One line for the sensor link: ``lost twice, 4.2 s in all (0:03 for 2.0 s; …); 2 reconnections``."""
    if not link.get("recorded"):
        return NOT_RECORDED
    outages = link.get("outages") or []
    if not outages:
        return "never lost"
    n = len(outages)
    lost = {1: "lost once", 2: "lost twice"}.get(n, f"lost {n} times")
    return (
        f"{lost}, {format_seconds(float(link.get('outage_total_s') or 0.0))} in all "
        f"({outages_text(link)}); {plural(int(link.get('reconnects') or 0), 'reconnection')}"
    )


def packets_text(link: LinkSummary) -> str:
    """Packets the sensor driver rejected, by reason: ``3 bad CRC, 2 malformed, …``."""
    p = link.get("packets")
    if not link.get("recorded") or not p:
        return NOT_RECORDED
    parts = [
        f"{count(p.get(k, 0))} {w}"
        for k, w in (
            ("crc_errors", "with a bad CRC"),
            ("malformed", "malformed"),
            ("duplicates", "duplicated"),
            ("out_of_order", "out of order"),
        )
    ]
    return ", ".join(parts) + f" (of {count(p.get('notifications'))} received)"


def battery_text(link: LinkSummary) -> str:
    a, b = link.get("battery_start_pct"), link.get("battery_end_pct")
    if not link.get("recorded") or (a is None and b is None):
        return NOT_RECORDED
    return f"{'?' if a is None else a} % at the start, {'?' if b is None else b} % at the end"


def link_rows(link: LinkSummary) -> Rows:
    """The sensor link's figures (``summary["link"]``)."""
    sensor = link.get("sensor") or NOT_RECORDED
    if link.get("address"):
        sensor += f" · {link['address']}"
    p = link.get("packets") or {}
    rec = bool(link.get("recorded"))
    return [
        ("Sensor", sensor),
        ("Disconnections", count(link.get("disconnects")) if rec else NOT_RECORDED),
        ("Reconnections", count(link.get("reconnects")) if rec else NOT_RECORDED),
        ("Outages (start, length)", outages_text(link)),
        (
            "Time without link",
            format_seconds(float(link["outage_total_s"])) if rec else NOT_RECORDED,
        ),
        ("Battery", battery_text(link)),
        ("Packets received", count(p.get("notifications")) if p else NOT_RECORDED),
        ("Packets with a bad CRC", count(p.get("crc_errors")) if p else NOT_RECORDED),
        ("Malformed packets", count(p.get("malformed")) if p else NOT_RECORDED),
        ("Duplicate packets", count(p.get("duplicates")) if p else NOT_RECORDED),
        ("Packets out of order", count(p.get("out_of_order")) if p else NOT_RECORDED),
        ("Sensor time-base restarts", count(p.get("timebase_resets")) if p else NOT_RECORDED),
    ]


def video_rows(v: VideoSummary) -> Rows:
    """The video's figures (``summary["video"]``)."""
    dropped = count(v.get("frames_dropped"))
    pct = v.get("dropped_pct")
    if pct is not None:
        dropped += f" ({fmt_pct(float(pct))})"
    lost = v.get("lost_at_s")
    lost_t = (
        f"at {format_clock_tenths(lost)}"
        if lost is not None
        else "no"
        if v.get("events_recorded")
        else NOT_RECORDED
    )
    return [
        ("Camera", str(v.get("camera") or NOT_RECORDED)),
        ("Asked for", _size(v.get("requested"))),
        ("Negotiated", _size(v.get("negotiated"))),
        ("Measured by the camera", _num(v.get("measured_fps"), ".1f", " frames/s")),
        ("Rate of the stored frames", _num(v.get("stored_fps"), ".2f", " frames/s")),
        ("Frames stored", count(v.get("frames_stored"))),
        ("Frames dropped", dropped),
        ("Repeated frames discarded", count(v.get("frames_rejected"))),
        ("Frames damaged on disk", count(v.get("corrupt"))),
        ("Frames lost: damaged file", damaged_text(v)),
        ("Camera lost", lost_t),
    ]


def checksums_text(files: FilesSummary) -> str:
    """The session's files against their checksums, in one line."""
    state, checked = files.get("state"), files.get("checked")
    when = files.get("sealed_at")
    sealed = f"written {format_local_time(when)}" if when else "written at the end"
    if state == "sealed":
        return f"sealed ({sealed})"
    if state == "verified":
        how = "every byte" if checked == "full" else "all but the video's frames (checked as read)"
        return f"all files match ({how} checked; checksums {sealed})"
    if state == "damaged":
        bad = [f["file"] for f in files.get("files") or [] if f.get("status") != "intact"]
        bad = [b for b in bad if b] or ["integrity.json"]
        return f"DAMAGED: {', '.join(bad)}"
    return NOT_VERIFIED


def file_text(f: Mapping[str, Any]) -> str:
    """One file as checked: ``intact``, ``DAMAGED: truncated: … ; 7 960 samples lost (…)``."""
    status = f.get("status")
    if status == "intact":
        return "intact" if f.get("size") is None else f"intact ({count(f['size'])} bytes)"
    if status == "size checked":
        return f"size as sealed ({count(f.get('size'))} bytes); frames checked as they are read"
    text = "MISSING" if status == "missing" else f"DAMAGED: {f.get('problem') or 'changed'}"
    lost = [
        f"{count(f[k])} {w}{'' if int(f[k]) == 1 else 's'}"
        for k, w in (("samples_lost", "sample"), ("frames_lost", "frame"))
        if f.get(k)
    ]
    if lost:
        when = ranges_text(f.get("lost_s") or [])
        text += f"; {', '.join(lost)} lost" + (f" ({when})" if when else "")
    return text


def files_rows(files: FilesSummary) -> Rows:
    """The files' check (``summary["files"]``): the checksums, then each file."""
    rows = [("Checksums", checksums_text(files))]
    rows += [(str(f.get("file")), file_text(f)) for f in files.get("files") or []]
    return rows


def verify_lines(summary: QualitySummary) -> list[str]:
    """``therascope verify``'s lines for one session (:func:`core.quality.session.quality_summary`
    with ``deep``): the verdict, each file (damaged first: which bytes, what it cost, when), and
    what is still good."""
    files = summary["files"]
    uid = summary.get("uid") or "?"
    state = files.get("state")
    head = {
        "damaged": "DAMAGED",
        "verified": "intact: every file matches its checksums",
        "sealed": "sealed",
    }.get(str(state), f"{NOT_VERIFIED}: " + "; ".join(f["text"] for f in files["findings"]))
    lines = [f"{uid}  {head}"]
    entries = sorted(
        files.get("files") or [], key=lambda f: (f.get("status") == "intact", str(f.get("file")))
    )
    width = max((len(str(f.get("file"))) for f in entries), default=0)
    for f in entries:
        lines.append(f"  {str(f.get('file')):<{width}}  {file_text(f)}")
    if state == "damaged" and not entries:
        lines += [f"  {r}" for r in files.get("reasons") or []]
    if state in ("damaged", "verified"):
        good = []
        for s in summary["signals"].get("streams") or []:
            exp, got = int(s.get("expected") or 0), int(s.get("received") or 0)
            pct = f" ({fmt_pct(100.0 * got / exp)})" if exp else ""
            good.append(f"{s.get('label') or s['name']}: {count(got)} of {count(exp)} samples{pct}")
        v = summary["video"]
        if v.get("recorded"):
            stored = int(v.get("frames_stored") or 0)
            total = stored + int(v.get("damaged") or 0)
            good.append(f"video: {count(stored)} of {count(total)} frames")
        if good:
            lines.append("  still good: " + "; ".join(good))
    return lines
