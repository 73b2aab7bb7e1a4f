"""How the report writes times: dates in the computer's local zone, session times as m:ss.

* Wall-clock times (session start, consent, analysis, generation) are stored in UTC and printed
  in the machine's local time zone, naming the zone: ``"2026-12-05 13:42 CET"``
  (:func:`local_time`).
* Times within the session and window lengths are printed on a clock, ``m:ss``
  (:func:`core.timefmt.format_clock`), never as decimal minutes; the windows' labels and the
  physiology sentence come so from :mod:`core.physiology.summary`.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone

from core.report.data import NOT_MEASURED

#: a number of minutes in words: "15 min", "4.3 min", "1.5 minutes"
_MINUTES = re.compile(r"(?<![\d.])(\d+(?:\.\d+)?) min(?:utes?)?\b")


def local_time(iso: str | None) -> str:
    """A stored time as printed: local date and time to the minute, with the zone's name.

    Parameters
    ----------
    iso : str or None — ISO-8601 time as the catalog stores it (UTC, with its offset); a time
        without an offset is taken as UTC

    Returns
    -------
    str — e.g. ``"2026-12-05 13:42 CET"`` on a computer set to Central European time for
    ``"2026-12-05T12:42:00+00:00"``; "—" when there is no time; the text itself when it is not a
    time
    """
    if not iso or not iso.strip():
        return NOT_MEASURED
    try:
        t = datetime.fromisoformat(iso.strip())
    except ValueError:
        return iso
    if t.tzinfo is None:
        t = t.replace(tzinfo=timezone.utc)
    here = t.astimezone()  # the machine's zone (TZ, or the system's setting)
    return f"{here:%Y-%m-%d %H:%M} {here.tzname() or here.strftime('UTC%z')}"


def now_local() -> str:
    """The current time as :func:`local_time` prints it (the report's generation time)."""
    return local_time(datetime.now(timezone.utc).isoformat())
