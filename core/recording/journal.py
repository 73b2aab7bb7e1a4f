"""Recording-quality figures beyond the stores' counts: stream timing, the sensor link, the camera.

Everything here is read back from a session folder: the bio index (packet arrival times against
the counter→host clock fit) and ``journal.jsonl`` (one JSON object a line, ``{"event": kind,
"t_s": seconds since the session start, …detail}``). :func:`core.recording.manifest.compute_quality`
stores these figures with the session; :mod:`core.quality.session` turns them into verdicts.

A session recorded before the devices journaled their link simply has none of these events: its
figures are ``None`` ("not recorded"), never a reassuring zero.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any, TypedDict

import numpy as np

from core.security import vault

log = logging.getLogger(__name__)

#: journal events that only a sensor watching its link writes; one of them means "monitored"
LINK_EVENTS = frozenset(
    {"sensor_connected", "disconnected", "reconnected", "battery", "sensor_stats"}
)
#: the driver's packet counts (``sensor_stats``) that are packets or samples thrown away
PACKET_COUNTS = (
    "notifications",
    "batches",
    "samples",
    "lost_samples",
    "malformed",
    "crc_errors",
    "duplicates",
    "out_of_order",
    "timebase_resets",
    "disconnects",
    "reconnects",
    "handler_errors",
)


class StreamTiming(TypedDict):
    """:func:`stream_timing`: a bio stream's packet timing (part of its stored quality figures)."""

    latency_median_ms: float | None
    latency_p95_ms: float | None
    segments: int
    segment_step_ms: float | None


class Outage(TypedDict):
    """One loss of the sensor link (s since the session start)."""

    start_s: float
    duration_s: float
    reconnected: bool


class LinkQuality(TypedDict):
    """:func:`link_quality`: the sensor link's history (the stored figures' ``link``)."""

    disconnects: int
    reconnects: int
    outages: list[Outage]
    battery_start_pct: int | None
    battery_end_pct: int | None
    address: str | None
    profile: str | None
    #: the driver's counts at stop (``sensor_stats``), those of :data:`PACKET_COUNTS` it reported
    packets: dict[str, int] | None
    outage_total_s: float


class CameraQuality(TypedDict):
    """:func:`camera_quality`: the camera's events (the stored figures' ``camera``)."""

    lost_at_s: float | None
    measured_fps: float | None


class DeviceErrors(TypedDict):
    """:func:`device_errors`: the errors the devices reported (stored as ``device_errors``)."""

    count: int
    last: str | None


class EventQuality(TypedDict):
    """:func:`event_quality`: the journal's part of the stored quality figures."""

    link: LinkQuality | None
    camera: CameraQuality | None
    device_errors: DeviceErrors | None


def read_journal(folder: Path) -> list[dict[str, Any]] | None:
    """The session's journal entries in order; ``None`` when the folder has no journal.

    A line torn by a crash (the last one) or damaged otherwise is skipped, not fatal.
    """
    path = folder / "journal.jsonl"
    if not path.exists():
        return None
    out = []
    text = vault.read_bytes(path).decode("utf-8", errors="replace")
    for line in text.splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if isinstance(entry, dict) and isinstance(entry.get("event"), str):
            out.append(entry)
    return out


def _t(entry: dict[str, Any]) -> float:
    try:
        return float(entry.get("t_s", 0.0))
    except (TypeError, ValueError):
        return 0.0


def _int_or_none(x: Any) -> int | None:
    try:
        return None if x is None else int(x)
    except (TypeError, ValueError):
        return None


def stream_timing(
    last_counters: np.ndarray,
    arrivals_ns: np.ndarray,
    rate_hz: float,
    fit: dict[str, float],
    split_s: float = 1.0,
) -> StreamTiming:
    """How late packets arrived against the counter→host clock fit, and how the fit is split.

    Parameters
    ----------
    last_counters : ndarray of int — counter of each packet's last sample
    arrivals_ns : ndarray of int — host arrival time of each packet (ns)
    rate_hz : float — nominal sampling rate (Hz)
    fit : dict — :func:`core.clock.fit_counter_clock`'s result for these packets
    split_s : float — a run of lost samples longer than this (s) starts a new segment (the link
        was down), as in :func:`~core.clock.fit_counter_clock`

    Returns
    -------
    StreamTiming — ``latency_median_ms``, ``latency_p95_ms``: packet arrival after the earliest
    possible one (ms; each segment measured from its own envelope, so this is the link's timing
    spread, not a clock step); ``segments``: runs of packets without a long gap;
    ``segment_step_ms``: the largest distance (ms) of a segment's envelope from the fitted line
    (how far a sensor that restarted its counting was placed back off the grid)
    """
    c = np.asarray(last_counters, dtype=np.int64)
    t = np.asarray(arrivals_ns, dtype=np.int64)
    if len(c) == 0:
        return {
            "latency_median_ms": None,
            "latency_p95_ms": None,
            "segments": 0,
            "segment_step_ms": None,
        }
    resid = (t - t[0]).astype(float) - (
        fit["offset_ns"] - float(t[0]) + fit["period_ns"] * c.astype(float)
    )
    step = np.diff(c, prepend=c[0])
    seg = np.cumsum(step > rate_hz * split_s + (np.median(step[1:]) if len(c) > 1 else 0))
    lows = np.array([resid[seg == k].min() for k in range(int(seg[-1]) + 1)])
    above = resid - lows[seg]
    return {
        "latency_median_ms": round(float(np.median(above)) / 1e6, 3),
        "latency_p95_ms": round(float(np.percentile(above, 95)) / 1e6, 3),
        "segments": int(seg[-1]) + 1,
        "segment_step_ms": round(float(np.abs(lows - lows.min()).max()) / 1e6, 3),
    }


def link_quality(events: list[dict[str, Any]], end_s: float) -> LinkQuality | None:
    """The sensor link's history from the journal; ``None`` when the sensor did not report it.

    Parameters
    ----------
    events : list of dict — journal entries, in order
    end_s : float — end of the session (s since start): an outage without a reconnection lasts
        until then

    Returns
    -------
    LinkQuality — ``disconnects``, ``reconnects`` (counts); ``outages``: list of ``{"start_s",
    "duration_s", "reconnected"}`` (s); ``outage_total_s``; ``battery_start_pct``,
    ``battery_end_pct`` (None where not reported); ``address``, ``profile``; ``packets``: the
    driver's counts at stop (``sensor_stats``; None where absent)
    """
    if not any(e["event"] in LINK_EVENTS for e in events):
        return None
    disconnects = reconnects = 0
    outages: list[Outage] = []
    battery_start: int | None = None
    battery_end: int | None = None
    address: str | None = None
    profile: str | None = None
    packets: dict[str, int] | None = None
    down_since: float | None = None
    for e in events:
        kind, t = e["event"], _t(e)
        if kind == "sensor_connected":
            address = e.get("address", address)
            profile = e.get("profile", profile)
            pct = _int_or_none(e.get("battery_percent"))
            if pct is not None:
                if battery_start is None:
                    battery_start = pct
                battery_end = pct
        elif kind == "battery":
            pct = _int_or_none(e.get("percent"))
            if pct is not None:
                if battery_start is None:
                    battery_start = pct
                battery_end = pct
        elif kind == "disconnected":
            disconnects += 1
            if down_since is None:
                down_since = t
        elif kind == "reconnected":
            reconnects += 1
            if down_since is not None:
                outages.append(
                    {
                        "start_s": down_since,
                        "duration_s": round(t - down_since, 4),
                        "reconnected": True,
                    }
                )
                down_since = None
        elif kind == "sensor_stats":
            packets = {k: int(e[k]) for k in PACKET_COUNTS if _int_or_none(e.get(k)) is not None}
    if down_since is not None:
        outages.append(
            {
                "start_s": down_since,
                "duration_s": round(max(0.0, end_s - down_since), 4),
                "reconnected": False,
            }
        )
    return {
        "disconnects": disconnects,
        "reconnects": reconnects,
        "outages": outages,
        "battery_start_pct": battery_start,
        "battery_end_pct": battery_end,
        "address": address,
        "profile": profile,
        "packets": packets,
        "outage_total_s": round(sum(o["duration_s"] for o in outages), 4),
    }


def camera_quality(events: list[dict[str, Any]]) -> CameraQuality:
    """The camera's events: ``lost_at_s`` (s since start; None: never lost) and ``measured_fps``
    (the rate the camera really delivered, where a camera event reports it; else None)."""
    lost = [_t(e) for e in events if e["event"] == "camera_lost"]
    measured = [
        e["measured_fps"]
        for e in events
        if e["event"].startswith("camera") and isinstance(e.get("measured_fps"), int | float)
    ]
    return {
        "lost_at_s": lost[0] if lost else None,
        "measured_fps": float(measured[-1]) if measured else None,
    }


def device_errors(events: list[dict[str, Any]]) -> DeviceErrors:
    """Errors the devices reported: ``count`` and the ``last`` message (None when there were none)."""
    errs = [e for e in events if e["event"] == "error"]
    last = None
    if errs:
        last = str(errs[-1].get("error") or errs[-1].get("message") or "unknown error")
    return {"count": len(errs), "last": last}


def end_of_session_s(events: list[dict[str, Any]], duration_s: float) -> float:
    """When the recording stopped (s since start): the ``stop`` entry, else the data's end."""
    stops = [_t(e) for e in events if e["event"] == "stop"]
    return stops[-1] if stops else duration_s


def event_quality(folder: Path, duration_s: float) -> EventQuality:
    """The journal's part of the quality figures: ``link``, ``camera``, ``device_errors``.

    All three are ``None`` for a folder without a journal.
    """
    events = read_journal(folder)
    if events is None:
        return {"link": None, "camera": None, "device_errors": None}
    end_s = end_of_session_s(events, duration_s)
    return {
        "link": link_quality(events, end_s),
        "camera": camera_quality(events),
        "device_errors": device_errors(events),
    }
