"""Times and durations as people read them, the same on every screen and in every report.

One function per printed format; standard library only, no numpy, no Qt.

* :func:`format_clock` — a session time or length on a clock: ``"12:05"``, ``"1:02:05"``;
* :func:`format_clock_tenths` — the same to a tenth of a second: ``"12:05.0"``;
* :func:`format_duration` — a length in words: ``"12 min 05 s"``, ``"1 h 02 min 05 s"``;
* :func:`format_seconds` — a short length in seconds: ``"4.2 s"``, ``"0.35 s"``;
"""

from __future__ import annotations

from datetime import datetime, timezone

__all__ = [
    "NO_TIME",
    "format_clock",
    "format_clock_tenths",
    "format_duration",
    "format_local_time",
    "format_seconds",
    "now_local",
]

#: what :func:`format_clock` prints for a time that is not known
NO_TIME = "–"


def _hms(seconds: float) -> tuple[int, int, int]:
    """Hours, minutes and seconds of a time (s), rounded to the second; negative counts as 0."""
    h, rem = divmod(int(round(max(seconds, 0.0))), 3600)
    m, s = divmod(rem, 60)
    return h, m, s


def format_clock(seconds: float | None) -> str:
    """A session time (or length) on a clock, to the second: ``m:ss``, from one hour ``h:mm:ss``.

    Parameters
    ----------
    seconds : float or None — time (s); rounded to the nearest second, negative prints as 0

    Returns
    -------
    str — e.g. ``format_clock(7.4)`` → ``"0:07"``, ``format_clock(725)`` → ``"12:05"``,
        ``format_clock(3725)`` → ``"1:02:05"``; ``None`` → ``"–"`` (an en dash)
    """
    if seconds is None:
        return NO_TIME
    h, m, s = _hms(seconds)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def format_clock_tenths(seconds: float) -> str:
    """A session time on a clock to a tenth of a second (e.g. when a device was lost).

    Parameters
    ----------
    seconds : float — time (s); rounded to the nearest 0.1 s, negative prints as 0

    Returns
    -------
    str — e.g. ``format_clock_tenths(7.46)`` → ``"0:07.5"``, ``format_clock_tenths(725)`` →
        ``"12:05.0"``, ``format_clock_tenths(3723.4)`` → ``"1:02:03.4"``
    """
    tenths = int(round(max(seconds, 0.0) * 10))
    h, rem = divmod(tenths, 36000)
    m, s = divmod(rem, 600)
    sec = f"{s // 10:02d}.{s % 10}"
    return f"{h}:{m:02d}:{sec}" if h else f"{m}:{sec}"


def format_duration(seconds: float) -> str:
    """A length in words, to the second (the report's "Session duration").

    Parameters
    ----------
    seconds : float — length (s); rounded to the nearest second, negative prints as 0

    Returns
    -------
    str — e.g. ``format_duration(725)`` → ``"12 min 05 s"``, ``format_duration(3725)`` →
        ``"1 h 02 min 05 s"``
    """
    h, m, s = _hms(seconds)
    return f"{h} h {m:02d} min {s:02d} s" if h else f"{m} min {s:02d} s"


def format_seconds(seconds: float) -> str:
    """A short length in seconds with its unit: one decimal from 1 s, two below.

    Parameters
    ----------
    seconds : float — length (s)

    Returns
    -------
    str — e.g. ``format_seconds(4.24)`` → ``"4.2 s"``, ``format_seconds(0.352)`` → ``"0.35 s"``
    """
    return f"{seconds:.1f} s" if seconds >= 1 else f"{seconds:.2f} s"


def format_local_time(iso: str | None, missing: str = NO_TIME, seconds: bool = False) -> str:
    """A stored time as people read it: local date and time to the minute (``seconds``: to the
    second, as the audit trail shows it), with the zone's name.

    The catalog stores UTC; screens and reports print the computer's local time.

    Parameters
    ----------
    iso : str or None — ISO-8601 time as the catalog stores it (UTC, with its offset); a time
        without an offset is taken as UTC
    missing : str — printed when there is no time

    Returns
    -------
    str — e.g. ``"2026-12-05 13:42 CET"`` on a computer set to Central European time for
    ``"2026-12-05T12:42:00+00:00"``; the text itself when it is not a time
    """
    if not iso or not iso.strip():
        return missing
    try:
        t = datetime.fromisoformat(iso.strip())
    except ValueError:
        return iso
    if t.tzinfo is None:
        t = t.replace(tzinfo=timezone.utc)
    here = t.astimezone()  # the machine's zone (TZ, or the system's setting)
    clock = f"{here:%H:%M:%S}" if seconds else f"{here:%H:%M}"
    return f"{here:%Y-%m-%d} {clock} {here.tzname() or here.strftime('UTC%z')}"


def now_local() -> str:
    """The current time as :func:`format_local_time` prints it."""
    return format_local_time(datetime.now(timezone.utc).isoformat())
