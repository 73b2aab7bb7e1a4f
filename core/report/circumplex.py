"""Vector circumplex figures for the PDF report (reportlab.graphics; no matplotlib).

Conventions as everywhere (shared/reference, "Circumplex conventions"): x = valence −1…1
(unpleasant → pleasant), y = arousal −1…1 (calm → activated), Q1 HVHA top right, Q2 LVHA top
left, Q3 LVLA bottom left, Q4 HVLA bottom right, a dashed disc of the neutral radius around the
centre. Helvetica/WinAnsi has no arrow glyph, so the arrows in axis titles are drawn as shapes.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from core.analysis.circumplex import (
    NEUTRAL,
    QUADRANTS,
    PhaseStats,
    SessionCircumplex,
    window_rule_sentence,
)
from core.palette import COURSE_ON_PAPER, POST, PRE
from core.report.fonts import graphics_string
from core.timefmt import format_clock

DEMO_COLOUR = "#b45309"  # amber-brown: demo-model warnings
TRACK_LIGHT, TRACK_DARK = COURSE_ON_PAPER  # course over the session: start … end
#: Quadrant colours for the share bars (mid-light, black text stays readable on them) …
SHARE_COLOURS = {1: "#f2c14e", 2: "#e8846b", 3: "#9aa9c9", 4: "#6cc29a", NEUTRAL: "#d0d0d0"}
#: … and the same hues, very light, as the circumplex quadrant backgrounds.
QUADRANT_TINTS = {1: "#fdf5df", 2: "#fbe9e4", 3: "#eceff6", 4: "#e6f4ec"}
#: Order of the share columns and bar segments: Q1…Q4, then near neutral.
SHARE_ORDER = (1, 2, 3, 4, NEUTRAL)
#: How much wider (pt) the white halo under a line of the summary (SD crosses, arrow) is.
HALO_PT = 2.2


def _colour(hex_: str) -> Any:
    from reportlab.lib import colors

    return colors.HexColor(hex_)


def _mix(a: str, b: str, f: float) -> Any:
    """Colour between ``a`` (f = 0) and ``b`` (f = 1)."""
    from reportlab.lib import colors

    return colors.linearlyInterpolatedColor(_colour(a), _colour(b), 0.0, 1.0, min(max(f, 0.0), 1.0))


def _arrow(
    x0: float, y0: float, x1: float, y1: float, colour: Any, width: float = 1.2, head: float = 6.0
) -> list[Any]:
    """A line from (x0, y0) to (x1, y1) with a filled head at the end; nothing if too short."""
    from reportlab.graphics.shapes import Line, Polygon

    dx, dy = x1 - x0, y1 - y0
    length = float(np.hypot(dx, dy))
    if length < 1e-6:
        return []
    ux, uy = dx / length, dy / length
    head = min(head, 0.8 * length)
    bx, by = x1 - ux * head, y1 - uy * head
    half = head * 0.45
    poly = [x1, y1, bx - uy * half, by + ux * half, bx + uy * half, by - ux * half]
    return [
        Line(x0, y0, bx, by, strokeColor=colour, strokeWidth=width),
        Polygon(poly, fillColor=colour, strokeColor=colour, strokeWidth=0.3),
    ]


def axis_title(words: tuple[str, str, str], font_size: float = 7.5) -> Any:
    """``"Valence: unpleasant ⟶ pleasant"`` as a Group centred on (0, 0), the arrow drawn."""
    from reportlab.graphics.shapes import Group, String
    from reportlab.lib import colors
    from reportlab.pdfbase.pdfmetrics import stringWidth

    head, low, high = words
    left = f"{head}: {low}"
    w_left = stringWidth(left, "Helvetica", font_size)
    w_right = stringWidth(high, "Helvetica", font_size)
    gap, arrow_w = 3.0, 16.0
    total = w_left + gap + arrow_w + gap + w_right
    x = -total / 2
    g = Group()
    g.add(String(x, 0, left, fontSize=font_size, fillColor=colors.black))
    x += w_left + gap
    mid = font_size * 0.32
    for shape in _arrow(x, mid, x + arrow_w, mid, colors.black, width=0.7, head=4.0):
        g.add(shape)
    g.add(String(x + arrow_w + gap, 0, high, fontSize=font_size, fillColor=colors.black))
    return g


def _finite(*xs: float) -> bool:
    return all(x is not None and np.isfinite(x) for x in xs)


def circumplex_figure(
    circ: SessionCircumplex,
    self_pre: tuple[float, float] | None,
    self_post: tuple[float, float] | None,
    width: float,
    side: float = 250.0,
    demo_model: bool = False,
    phase_minutes: float | None = None,
) -> Any:
    """The session on the circumplex as a reportlab ``Drawing`` (plot left, legend right).

    Drawn bottom to top (later shapes cover earlier ones): quadrant backgrounds, frame and axes,
    the course over the session (group ``course``), the quadrant captions on a light box
    (``quadrant_labels``), the patient's own ratings (``self_ratings``), then the summary
    (``summary``): ±1 SD crosses, the pre → post arrow and the means, each with a white halo so
    it stays readable over the course. The legend ends with which stretches are pre and post
    (:func:`core.analysis.circumplex.window_rule_sentence`).

    Parameters
    ----------
    circ : SessionCircumplex — pre/post statistics and the smoothed course
    self_pre, self_post : (valence, arousal) or None — the patient's SAM ratings on the
        circumplex scale ((r − 5) / 4); drawn as hollow squares
    width : float — drawing width (pt); the plot is a square of ``side`` pt
    demo_model : bool — add "demo model — not clinically valid" under the legend
    phase_minutes : float, optional — the window length of the pre/post rule (min;
        Settings.phase_minutes); without it a short session's sentence does not name the length
        it fell short of

    Returns
    -------
    reportlab.graphics.shapes.Drawing
    """
    from reportlab.graphics.shapes import Circle, Drawing, Group, Line, Rect, String
    from reportlab.lib import colors
    from reportlab.lib.utils import simpleSplit
    from reportlab.pdfbase.pdfmetrics import stringWidth

    left, bottom, top = 40.0, 30.0, 6.0
    d = Drawing(width, side + bottom + top)
    grey = _colour("#8a8a8a")
    white = colors.white

    def px(v: float) -> float:
        return left + (min(max(v, -1.0), 1.0) + 1.0) / 2.0 * side

    def py(a: float) -> float:
        return bottom + (min(max(a, -1.0), 1.0) + 1.0) / 2.0 * side

    cx, cy, half = px(0.0), py(0.0), side / 2.0
    # quadrant backgrounds (their captions come after the course, above it)
    corners = {
        1: (cx, cy, 1, 1),
        2: (left, cy, -1, 1),
        3: (left, bottom, -1, -1),
        4: (cx, bottom, 1, -1),
    }
    for q, (x0, y0, _, _) in corners.items():
        d.add(Rect(x0, y0, half, half, fillColor=_colour(QUADRANT_TINTS[q]), strokeColor=None))
    # frame, centre axes, ticks
    d.add(Rect(left, bottom, side, side, fillColor=None, strokeColor=grey, strokeWidth=0.6))
    d.add(Line(cx, bottom, cx, bottom + side, strokeColor=grey, strokeWidth=0.5))
    d.add(Line(left, cy, left + side, cy, strokeColor=grey, strokeWidth=0.5))
    for v in (-1.0, -0.5, 0.0, 0.5, 1.0):
        label = f"{v:g}"
        d.add(Line(px(v), bottom, px(v), bottom - 3, strokeColor=grey, strokeWidth=0.5))
        d.add(String(px(v), bottom - 11, label, fontSize=6.5, textAnchor="middle"))
        d.add(Line(left, py(v), left - 3, py(v), strokeColor=grey, strokeWidth=0.5))
        d.add(String(left - 5, py(v) - 2.3, label, fontSize=6.5, textAnchor="end"))
    x_title = axis_title(("Valence", "unpleasant", "pleasant"))
    x_title.translate(cx, 3)
    d.add(x_title)
    y_title = axis_title(("Arousal", "calm", "activated"))
    y_title.translate(12, cy)
    y_title.rotate(90)
    d.add(y_title)
    # near-neutral disc
    r = float(circ.neutral_radius) / 2.0 * side
    if r > 0:
        d.add(
            Circle(
                cx,
                cy,
                r,
                fillColor=None,
                strokeColor=_colour("#555555"),
                strokeWidth=0.7,
                strokeDashArray=[2.5, 2],
            )
        )

    # smoothed course, coloured by time; a long step (a gap in the data) is not bridged
    course = Group()
    t = np.asarray(circ.trajectory_t, dtype=float)
    tv = np.asarray(circ.trajectory_valence, dtype=float)
    ta = np.asarray(circ.trajectory_arousal, dtype=float)
    ok = np.isfinite(t) & np.isfinite(tv) & np.isfinite(ta)
    t, tv, ta = t[ok], tv[ok], ta[ok]
    if t.size >= 2:
        step = float(np.median(np.diff(t)))
        span = max(float(t[-1] - t[0]), 1e-9)
        for i in range(t.size - 1):
            if t[i + 1] - t[i] > 1.5 * step + 1e-9:
                continue
            c = _mix(TRACK_LIGHT, TRACK_DARK, ((t[i] + t[i + 1]) / 2 - t[0]) / span)
            course.add(
                Line(
                    px(tv[i]),
                    py(ta[i]),
                    px(tv[i + 1]),
                    py(ta[i + 1]),
                    strokeColor=c,
                    strokeWidth=1.3,
                )
            )
    elif t.size == 1:
        course.add(
            Circle(px(tv[0]), py(ta[0]), 1.5, fillColor=_colour(TRACK_DARK), strokeColor=None)
        )
    d.add(course, name="course")

    # quadrant captions (number + letters, plain name below) on a box of their quadrant's tint,
    # nearly opaque: legible wherever the course runs
    labels = Group()
    for q, (x0, y0, sx, sy) in corners.items():
        letters, words = QUADRANTS[q]
        head = f"Q{q} {letters}"
        tx = x0 + 5 if sx < 0 else x0 + half - 5
        anchor = "start" if sx < 0 else "end"
        ty = y0 + half - 11 if sy > 0 else y0 + 14
        w = max(stringWidth(head, "Helvetica-Bold", 8), stringWidth(words, "Helvetica", 7)) + 4
        bx = tx - 2 if sx < 0 else tx - w + 2
        labels.add(
            Rect(
                bx,
                ty - 12,
                w,
                21,
                rx=2,
                ry=2,
                fillColor=_colour(QUADRANT_TINTS[q]),
                fillOpacity=0.85,
                strokeColor=None,
            )
        )
        labels.add(String(tx, ty, head, fontName="Helvetica-Bold", fontSize=8, textAnchor=anchor))
        labels.add(
            String(tx, ty - 9, words, fontSize=7, textAnchor=anchor, fillColor=_colour("#333333"))
        )
    d.add(labels, name="quadrant_labels")

    # the patient's own ratings: above the course, under the summary
    ratings = Group()
    for rating, hex_ in ((self_pre, PRE), (self_post, POST)):
        if rating is not None and _finite(*rating):
            x, y = px(rating[0]), py(rating[1])
            ratings.add(
                Rect(
                    x - 3.5,
                    y - 3.5,
                    7,
                    7,
                    fillColor=white,
                    strokeColor=_colour(hex_),
                    strokeWidth=1.4,
                )
            )
    d.add(ratings, name="self_ratings")

    # the summary on top: SD crosses, arrow pre → post, means; every line on a white halo
    summary = Group()

    def sd_cross(s: PhaseStats) -> list[tuple[float, float, float, float]]:
        """The cross's bars and their end caps, as (x0, y0, x1, y1) segments."""
        mv, ma = s.mean_valence, s.mean_arousal
        out = [
            (px(v0), py(a0), px(v1), py(a1))
            for (v0, a0), (v1, a1) in (
                ((mv - s.sd_valence, ma), (mv + s.sd_valence, ma)),
                ((mv, ma - s.sd_arousal), (mv, ma + s.sd_arousal)),
            )
            if _finite(v0, a0, v1, a1)
        ]
        cap = 2.5
        if _finite(s.sd_valence):
            out += [
                (px(v), py(ma) - cap, px(v), py(ma) + cap)
                for v in (mv - s.sd_valence, mv + s.sd_valence)
            ]
        if _finite(s.sd_arousal):
            out += [
                (px(mv) - cap, py(a), px(mv) + cap, py(a))
                for a in (ma - s.sd_arousal, ma + s.sd_arousal)
            ]
        return out

    phases = ((circ.pre, _colour(PRE)), (circ.post, _colour(POST)))
    for s, colour in phases:
        if _finite(s.mean_valence, s.mean_arousal):
            segments = sd_cross(s)
            # all of a cross's halos first, so that none cuts into its own bars
            for seg in segments:
                summary.add(Line(*seg, strokeColor=white, strokeWidth=1.0 + HALO_PT))
            for seg in segments:
                summary.add(Line(*seg, strokeColor=colour, strokeWidth=1.0))
    pre, post = circ.pre, circ.post
    if _finite(pre.mean_valence, pre.mean_arousal, post.mean_valence, post.mean_arousal):
        x0, y0 = px(pre.mean_valence), py(pre.mean_arousal)
        x1, y1 = px(post.mean_valence), py(post.mean_arousal)
        length = float(np.hypot(x1 - x0, y1 - y0))
        if length > 12:  # start and stop outside the two markers
            fx, fy = (x1 - x0) / length, (y1 - y0) / length
            ends = (x0 + 5 * fx, y0 + 5 * fy, x1 - 5.5 * fx, y1 - 5.5 * fy)
            halo = _arrow(*ends, white, 1.3 + HALO_PT, 7)
            for shape in halo:
                shape.strokeWidth = 1.3 + HALO_PT
                shape.strokeLineJoin = 1  # round
            for shape in halo + _arrow(*ends, _colour("#222222"), 1.3, 7):
                summary.add(shape)
    for s, colour in phases:
        if _finite(s.mean_valence, s.mean_arousal):
            summary.add(
                Circle(
                    px(s.mean_valence),
                    py(s.mean_arousal),
                    4.2,
                    fillColor=colour,
                    strokeColor=white,
                    strokeWidth=1.2,
                )
            )
    d.add(summary, name="summary")

    # legend, right of the plot
    lx, ly = left + side + 22, bottom + side - 8
    row = 15.0

    def text(
        x: float, y: float, s: str, size: float = 7.5, bold: bool = False, colour: str = "#000000"
    ) -> None:
        font = "Helvetica-Bold" if bold else "Helvetica"
        d.add(graphics_string(x, y, s, fontName=font, fontSize=size, fillColor=_colour(colour)))

    text(lx, ly, "Legend", 8, bold=True)
    ly -= row
    for s, hex_ in ((pre, PRE), (post, POST)):
        c = _colour(hex_)
        d.add(Line(lx, ly + 2.7, lx + 14, ly + 2.7, strokeColor=c, strokeWidth=1.0))
        d.add(Line(lx + 7, ly - 4.3, lx + 7, ly + 9.7, strokeColor=c, strokeWidth=1.0))
        d.add(Circle(lx + 7, ly + 2.7, 4.0, fillColor=c, strokeColor=colors.white, strokeWidth=0.8))
        text(lx + 22, ly, f"{s.label[:1].upper()}{s.label[1:]}: mean ± 1 SD")
        ly -= row + 2
    for s, hex_ in ((pre, PRE), (post, POST)):
        d.add(
            Rect(
                lx + 3.5,
                ly - 0.8,
                7,
                7,
                fillColor=colors.white,
                strokeColor=_colour(hex_),
                strokeWidth=1.4,
            )
        )
        text(lx + 22, ly, f"Patient's own rating (SAM), {s.label}")
        ly -= row
    for shape in _arrow(lx, ly + 2.7, lx + 15, ly + 2.7, _colour("#222222"), 1.3, 6):
        d.add(shape)
    text(lx + 22, ly, "Shift of the mean, before to after")
    ly -= row
    d.add(
        Circle(
            lx + 7,
            ly + 2.7,
            5.5,
            fillColor=None,
            strokeColor=_colour("#555555"),
            strokeWidth=0.7,
            strokeDashArray=[2.5, 2],
        )
    )
    text(lx + 22, ly, f"Near neutral (within {circ.neutral_radius:g} of the centre)")
    ly -= row + 4
    smooth = f" ({2 * float(np.median(np.diff(t))):.0f}-s means)" if t.size >= 2 else ""
    text(lx, ly, f"Course over the session{smooth}")
    ly -= 12
    n_bar, bar_w = 24, 120.0
    for i in range(n_bar):
        c = _mix(TRACK_LIGHT, TRACK_DARK, (i + 0.5) / n_bar)
        d.add(
            Rect(lx + i * bar_w / n_bar, ly, bar_w / n_bar + 0.3, 6, fillColor=c, strokeColor=None)
        )
    ly -= 9
    start = format_clock(float(t[0])) if t.size else "0:00"
    end = format_clock(float(t[-1])) if t.size else "—"
    text(lx, ly, f"start {start}", 6.5, colour="#333333")
    d.add(
        String(
            lx + bar_w,
            ly,
            f"end {end}",
            fontSize=6.5,
            textAnchor="end",
            fillColor=_colour("#333333"),
        )
    )
    if t.size == 0:
        ly -= 11
        text(lx, ly, "No estimates to draw a course.", 6.5, colour="#333333")
    ly -= 18
    # which stretches are pre and post, in m:ss (the chart's caption)
    rule = window_rule_sentence(pre, post, phase_minutes)
    for line in simpleSplit(rule, "Helvetica", 7, max(width - lx - 4, 60.0)):
        text(lx, ly, line, 7, colour="#333333")
        ly -= 9
    ly -= 6
    for s in (pre, post):
        if not _finite(s.mean_valence, s.mean_arousal):
            text(lx, ly, f"No estimate {s.label}.", 7, colour=PRE)
            ly -= 11
    if demo_model:
        text(lx, ly, "Estimates from the DEMO MODEL —", 7.5, bold=True, colour=DEMO_COLOUR)
        ly -= 10
        text(lx, ly, "not clinically valid.", 7.5, bold=True, colour=DEMO_COLOUR)
    if ly < 2:  # a long legend: grow the drawing downwards rather than cut it off
        body = Group(*d.contents)
        body.translate(0, 2 - ly)
        d.contents = [body]  # the named groups (d.course, d.summary, …) are inside, unchanged
        d.height += 2 - ly
    return d


def share_bars(circ: SessionCircumplex, width: float, height: float = 74.0) -> Any:
    """Stacked bars of the quadrant shares per window (Q1…Q4, near neutral) as a ``Drawing``."""
    from reportlab.graphics.shapes import Drawing, Rect, String
    from reportlab.lib import colors
    from reportlab.pdfbase.pdfmetrics import stringWidth

    d = Drawing(width, height)
    label_w = 96.0
    bar_w, bar_h = width - label_w - 8, 16.0
    y = height - bar_h - 2
    for s in (circ.pre, circ.post):
        d.add(String(0, y + 5, f"{s.label[:1].upper()}{s.label[1:]}", fontSize=8))
        x = label_w
        if s.n_estimated == 0:
            d.add(
                Rect(x, y, bar_w, bar_h, fillColor=None, strokeColor=colors.grey, strokeWidth=0.5)
            )
            d.add(
                String(
                    x + bar_w / 2,
                    y + 5,
                    "not estimated",
                    fontSize=7.5,
                    textAnchor="middle",
                    fillColor=colors.grey,
                )
            )
        for q in SHARE_ORDER:
            share = float(s.shares.get(q, 0.0)) if s.n_estimated else 0.0
            w = share * bar_w
            if w <= 0:
                continue
            d.add(
                Rect(
                    x,
                    y,
                    w,
                    bar_h,
                    fillColor=_colour(SHARE_COLOURS[q]),
                    strokeColor=colors.white,
                    strokeWidth=0.6,
                )
            )
            pct = f"{share:.0%}"
            if stringWidth(pct, "Helvetica", 7) + 4 < w:
                d.add(String(x + w / 2, y + 5, pct, fontSize=7, textAnchor="middle"))
            x += w
        y -= bar_h + 8
    # legend row
    x, y = label_w, 2.0
    for q in SHARE_ORDER:
        name = "near neutral" if q == NEUTRAL else f"Q{q} {QUADRANTS[q][0]}"
        d.add(Rect(x, y, 8, 8, fillColor=_colour(SHARE_COLOURS[q]), strokeColor=None))
        d.add(String(x + 11, y + 1, name, fontSize=7))
        x += 11 + stringWidth(name, "Helvetica", 7) + 14
    return d
