"""Trend charts of a course of therapy for the PDF (reportlab.graphics, vector; no matplotlib).

One chart per measure: the sessions side by side in date order (evenly spaced, numbered, dated
under the axis), each with its "before" value (open circle, left) joined to its "after" value
(filled circle, right); the model's valence and arousal carry ±1 SD bars. The "after" values of
consecutive sessions are joined by a line (the course), the "before" values by a dashed one.
A session without a value says why under its slot ("not analysed", "—").
"""

from __future__ import annotations

import math
from typing import Any

from core.analysis.course import PatientCourse, SessionCourse, TrendMeasure
from core.report.times import local_time

PRE_COLOUR = "#7a8fa6"
POST_COLOUR = "#1f5fa8"
#: words at the bottom and top of the value axis
ENDS: dict[str, tuple[str, str]] = {
    "valence": ("unpleasant", "pleasant"),
    "arousal": ("calm", "activated"),
    "sam_valence": ("unpleasant", "pleasant"),
    "sam_arousal": ("calm", "activated"),
}
#: the labelled levels of the fixed ranges
TICKS: dict[str, tuple[float, ...]] = {
    "valence": (-1.0, -0.5, 0.0, 0.5, 1.0),
    "arousal": (-1.0, -0.5, 0.0, 0.5, 1.0),
    "gad7": (0, 5, 10, 15, 21),
    "phq9": (0, 5, 10, 15, 20, 27),
    "sam_valence": (1, 3, 5, 7, 9),
    "sam_arousal": (1, 3, 5, 7, 9),
    "suds": (0, 25, 50, 75, 100),
}
#: published severity cut-offs drawn as faint lines (GAD-7: 5/10/15; PHQ-9: 5/10/15/20)
CUTOFFS: dict[str, tuple[float, ...]] = {"gad7": (5, 10, 15), "phq9": (5, 10, 15, 20)}


def nice_ticks(values: list[float], most: int = 6) -> tuple[float, ...]:
    """Round levels (1, 2, 2.5 or 5 × 10^k apart) spanning ``values`` with a margin."""
    lo, hi = min(values), max(values)
    pad = max((hi - lo) * 0.1, abs(hi) * 0.03, 0.05)
    lo, hi = lo - pad, hi + pad
    raw = (hi - lo) / (most - 1)
    mag = 10.0 ** math.floor(math.log10(raw))
    step = next(f * mag for f in (1, 2, 2.5, 5, 10) if f * mag >= raw)
    first = math.floor(lo / step) * step
    n = math.ceil((hi - first) / step - 1e-9)
    return tuple(round(first + i * step, 10) for i in range(n + 1))


def _sd(s: SessionCourse, key: str, phase: str) -> float | None:
    if key not in ("valence", "arousal"):
        return None
    e = s.estimate(key, phase)
    return None if e is None else e.sd


def _missing_word(s: SessionCourse, m: TrendMeasure) -> str:
    if m.group == "model" and not s.analysed:
        return "not analysed"
    if m.group == "physiology":
        return "not computed" if s.physiology is None else "not measured"
    return "not entered"


def trend_chart(course: PatientCourse, m: TrendMeasure, width: float, height: float = 130) -> Any:
    """The chart of one measure over the course, as a reportlab ``Drawing``."""
    from reportlab.graphics.shapes import Circle, Drawing, Line, PolyLine, Rect, String
    from reportlab.lib import colors

    d = Drawing(width, height)
    sessions = course.sessions
    ends = ENDS.get(m.key)
    left, bottom, top_pad = 30.0, 30.0, 8.0
    right_pad = 48.0 if ends else 10.0
    pw, ph = width - left - right_pad, height - bottom - top_pad
    values: list[float] = []
    for s in sessions:
        for p in ("pre", "post"):
            got = s.value(m.key, p)
            if got is not None:
                spread = _sd(s, m.key, p) or 0.0
                values += [got - spread, got + spread]
    ticks = TICKS.get(m.key) or (nice_ticks(values) if values else (0.0, 1.0))
    if values and (min(values) < ticks[0] or max(values) > ticks[-1]):
        # a mean or SD bar beyond the fixed range: the axis widens to show it, never clipped
        ticks = nice_ticks([*values, ticks[0], ticks[-1]])
    lo, hi = ticks[0], ticks[-1]
    grey = colors.HexColor("#8a8a8a")
    d.add(Rect(left, bottom, pw, ph, fillColor=None, strokeColor=colors.HexColor("#b0b8c0")))

    def y_of(v: float) -> float:
        return bottom + (v - lo) / (hi - lo) * ph

    # value axis: round labelled levels, faint grid
    for v in ticks:
        y = y_of(v)
        d.add(Line(left, y, left + pw, y, strokeColor=colors.HexColor("#e2e2e2"), strokeWidth=0.4))
        text = f"{v:+.1f}" if m.group == "model" else f"{v:g}"
        d.add(String(left - 3, y - 2.5, text, fontSize=6.5, textAnchor="end"))
    for c in CUTOFFS.get(m.key, ()):
        d.add(
            Line(left, y_of(c), left + pw, y_of(c), strokeColor=grey, strokeWidth=0.4,
                 strokeDashArray=[1, 2])
        )  # fmt: skip
    if m.group == "model" and lo < 0 < hi:
        d.add(Line(left, y_of(0), left + pw, y_of(0), strokeColor=grey, strokeWidth=0.6))
    if ends:
        d.add(String(left + pw + 4, bottom, ends[0], fontSize=6.5))
        d.add(String(left + pw + 4, bottom + ph - 6.5, ends[1], fontSize=6.5))

    n = max(len(sessions), 1)
    slot = pw / n
    dx = min(slot * 0.18, 10.0)
    pre_c, post_c = colors.HexColor(PRE_COLOUR), colors.HexColor(POST_COLOUR)
    lines: dict[str, list[float]] = {"pre": [], "post": []}
    for i, s in enumerate(sessions):
        xc = left + slot * (i + 0.5)
        d.add(String(xc, bottom - 9, str(s.number), fontSize=6.5, textAnchor="middle"))
        date = local_time(s.started_at)[:10]
        if n <= 12 or i % max(1, n // 12) == 0:
            d.add(String(xc, bottom - 17, date[5:], fontSize=5.5, textAnchor="middle"))
        pts = {}
        for phase, x in (("pre", xc - dx), ("post", xc + dx)):
            val = s.value(m.key, phase)
            if val is None:
                continue
            v = val
            pts[phase] = (x, y_of(v))
            lines[phase] += [x, y_of(v)]
            sd = _sd(s, m.key, phase)
            if sd:
                c = pre_c if phase == "pre" else post_c
                d.add(Line(x, y_of(v - sd), x, y_of(v + sd), strokeColor=c, strokeWidth=0.6))
        if "pre" in pts and "post" in pts:
            (x0, y0), (x1, y1) = pts["pre"], pts["post"]
            d.add(Line(x0, y0, x1, y1, strokeColor=colors.HexColor("#555555"), strokeWidth=0.7))
        for phase, (x, y) in pts.items():
            filled = phase == "post"
            d.add(
                Circle(x, y, 2.6, strokeColor=post_c if filled else pre_c,
                       fillColor=post_c if filled else colors.white, strokeWidth=0.9)
            )  # fmt: skip
        if not pts:
            d.add(
                String(xc, bottom + ph / 2, _missing_word(s, m), fontSize=5.5,
                       textAnchor="middle", fillColor=grey)
            )  # fmt: skip
    for phase, pts_flat in lines.items():
        if len(pts_flat) >= 4:
            d.add(
                PolyLine(pts_flat, strokeColor=post_c if phase == "post" else pre_c,
                         strokeWidth=0.5, strokeDashArray=None if phase == "post" else [2, 2])
            )  # fmt: skip
    d.add(
        String(left + pw / 2, 2, "Session (number, date MM-DD), oldest first", fontSize=6.5,
               textAnchor="middle")
    )  # fmt: skip
    return d


def legend(width: float) -> Any:
    """One line: open circle = before, filled = after, bars = ±1 SD."""
    from reportlab.graphics.shapes import Circle, Drawing, Line, String
    from reportlab.lib import colors

    d = Drawing(width, 12)
    pre_c, post_c = colors.HexColor(PRE_COLOUR), colors.HexColor(POST_COLOUR)
    d.add(Circle(6, 5, 2.6, strokeColor=pre_c, fillColor=colors.white, strokeWidth=0.9))
    d.add(String(12, 2.5, "before (pre window)", fontSize=7.5))
    d.add(Circle(100, 5, 2.6, strokeColor=post_c, fillColor=post_c))
    d.add(String(106, 2.5, "after (post window)", fontSize=7.5))
    d.add(Line(192, 1, 192, 9, strokeColor=post_c, strokeWidth=0.6))
    d.add(String(197, 2.5, "±1 SD of the window's estimates (model only)", fontSize=7.5))
    return d
