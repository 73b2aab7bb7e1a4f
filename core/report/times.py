"""How the report writes times: dates in the computer's local zone, session times as m:ss.

* Wall-clock times (session start, consent, analysis, generation) are stored in UTC and printed
  in the machine's local time zone, naming the zone: ``"2026-12-05 13:42 CET"``
  (:func:`local_time`, as on the screens).
* Times within the session and window lengths are printed on a clock, ``m:ss``
  (:func:`core.timefmt.format_clock`), never as decimal minutes; the windows' labels and the
  physiology sentence come so from :mod:`core.physiology.summary`.
"""

from __future__ import annotations

from core.report.data import NOT_MEASURED
from core.timefmt import format_local_time


def local_time(iso: str | None) -> str:
    """:func:`core.timefmt.format_local_time`, with the report's "—" for a missing time."""
    return format_local_time(iso, missing=NOT_MEASURED)
