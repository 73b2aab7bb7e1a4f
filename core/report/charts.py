"""Vector charts of a session for the PDF report (reportlab.graphics; no matplotlib).

A chart shows one series over the whole session, with the pre/post comparison windows shaded
and the session markers as numbered vertical lines (numbers match the report's markers table).
The time axis is labelled m:ss. Every marker's number is printed: numbers of markers close in
time are stacked in rows above the frame (:func:`marker_label_places`), never dropped.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from core.physiology.summary import PhaseWindow
from core.report.fonts import graphics_string
from core.timefmt import format_clock

#: More points than this add nothing visible at report width and only bloat the PDF.
MAX_POINTS = 1200
#: Marker numbers: font size (pt), rows above the frame at most, row height and gap (pt).
MARKER_FONT = 6.5
MARKER_ROWS = 3
_ROW_H = 7.5
_LABEL_GAP = 1.5
_TICK_STEPS_MIN = (0.1, 0.25, 0.5, 1, 2, 5, 10, 15, 20, 30, 60, 120)


def _tick_step(span_min: float) -> float:
    """Smallest round step (min) that keeps the time axis at ≤ 8 ticks."""
    for step in _TICK_STEPS_MIN:
        if span_min / step <= 8:
            return float(step)
    return float(_TICK_STEPS_MIN[-1])


def marker_label_places(
    xs: list[float], widths: list[float], rows: int = MARKER_ROWS, gap: float = _LABEL_GAP
) -> list[tuple[float, int]]:
    """Where each marker's number goes, so that no two overlap: ``(x centre, row)`` per marker.

    Markers are taken left to right; each number goes in the lowest row where it fits centred
    over its line (at least ``gap`` after the number before it in that row). When no row has
    room, it goes in the row that ends first, moved right just as far as needed (a leader line
    then joins it to its marker).

    Parameters
    ----------
    xs : list of float — the markers' x positions (pt), any order
    widths : list of float — each number's printed width (pt)
    rows : int — rows available above the frame
    gap : float — least space between two numbers in a row (pt)

    Returns
    -------
    list of (float, int) — in the order of ``xs``: the number's centre (pt) and row (0 lowest)
    """
    ends = [-np.inf] * rows
    out: list[tuple[float, int]] = [(0.0, 0)] * len(xs)
    for i in sorted(range(len(xs)), key=lambda k: xs[k]):
        half = widths[i] / 2.0
        row = next((r for r in range(rows) if ends[r] + gap <= xs[i] - half), None)
        x = xs[i]
        if row is None:
            row = min(range(rows), key=lambda r: ends[r])
            x = ends[row] + gap + half
        ends[row] = x + half
        out[i] = (x, row)
    return out


def _reduce(t: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Block means down to ≤ MAX_POINTS; a block holding a NaN stays NaN and breaks the line."""
    if t.size <= MAX_POINTS:
        return t, y
    q = -(-t.size // MAX_POINTS)
    n = (t.size // q) * q
    return t[:n].reshape(-1, q).mean(axis=1), y[:n].reshape(-1, q).mean(axis=1)


def _gap_limit(t: np.ndarray) -> float:
    """A step longer than this is missing data: 3× the typical step and at least 2.5 s."""
    return max(3.0 * float(np.median(np.diff(t))), 2.5)


def _reduce_tolerant(t: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Down to ≤ MAX_POINTS for per-frame estimates with scattered NaN, gaps kept as gaps.

    The series is cut where frames are missing (a step over :func:`_gap_limit`, e.g. the part of
    a session that was not analysed); each stretch is reduced on its own to means of blocks of
    frames, a block being NaN when fewer than half of its frames have a value; the stretches are
    joined with a NaN between them. So a few frames without a face do not shred the line, while a
    minute without one is a visible gap and no block ever averages across a gap.
    """
    if t.size < 3:
        return t, y
    q = max(1, -(-t.size // MAX_POINTS))
    cuts = np.flatnonzero(np.diff(t) > _gap_limit(t)) + 1
    ts: list[np.ndarray] = []
    ys: list[np.ndarray] = []
    for i, (tp, yp) in enumerate(zip(np.split(t, cuts), np.split(y, cuts), strict=True)):
        if i:
            ts.append(np.array([(ts[-1][-1] + tp[0]) / 2]))
            ys.append(np.array([np.nan]))
        n_blocks = -(-tp.size // q)
        pad = n_blocks * q - tp.size
        tb = np.concatenate([tp, np.full(pad, np.nan)]).reshape(-1, q)
        yb = np.concatenate([yp, np.full(pad, np.nan)]).reshape(-1, q)
        ok = np.isfinite(yb)
        count = ok.sum(axis=1)
        real = np.isfinite(tb).sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = np.where(count * 2 >= real, np.where(ok, yb, 0.0).sum(axis=1) / count, np.nan)
        ts.append(np.nanmean(tb, axis=1))
        ys.append(mean)
    return np.concatenate(ts), np.concatenate(ys)


def _break_gaps(t: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Insert NaN where samples are missing, so a beat series is not bridged across lost data.

    A gap is a step longer than 3× the typical step and at least 2.5 s (longer than any
    plausible RR interval).
    """
    if t.size < 3:
        return t, y
    dt = np.diff(t)
    idx = np.flatnonzero(dt > _gap_limit(t)) + 1
    return np.insert(t, idx, t[idx - 1] + dt[idx - 1] / 2), np.insert(y, idx, np.nan)


def _runs(t_min: np.ndarray, y: np.ndarray) -> list[list[tuple[float, float]]]:
    """Point lists of the finite stretches, so gaps in the data are gaps in the line."""
    ok = np.isfinite(y) & np.isfinite(t_min)
    edges = np.diff(np.concatenate(([0], ok.astype(np.int8), [0])))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    out = []
    for a, b in zip(starts, ends, strict=True):
        pts = list(zip(t_min[a:b].tolist(), y[a:b].tolist(), strict=True))
        # A lone point would not be drawn as a line; doubling it draws a dot-sized segment.
        out.append(pts if len(pts) > 1 else pts * 2)
    return out


def session_chart(
    t_s: np.ndarray | None,
    values: np.ndarray | None,
    duration_s: float,
    windows: list[PhaseWindow],
    marker_times_s: list[float],
    y_label: str,
    width: float,
    height: float = 150.0,
    colour_hex: str = "#1f5fa8",
    y_range: tuple[float, float] | None = None,
    zero_line: bool = False,
    nan_tolerant: bool = False,
    y_ticks: tuple[str, str] | None = None,
) -> Any:
    """One series over the session as a reportlab ``Drawing``.

    Parameters
    ----------
    t_s : ndarray or None — sample times from the session start (s)
    values : ndarray or None — values in the unit named by ``y_label``; NaN breaks the line
    duration_s : float — session length (s); the time axis spans it, in minutes
    windows : list of PhaseWindow — shaded (pre and post)
    marker_times_s : list of float — vertical lines, numbered 1… in this order (s)
    y_label : str — axis title with unit, e.g. ``"Heart rate (bpm)"``
    width, height : float — drawing size (pt)
    colour_hex : str — line colour
    y_range : (lo, hi), optional — fixed value axis (e.g. -1…1); default: fitted to the data
    zero_line : bool — draw a grey line at 0
    nan_tolerant : bool — reduce with :func:`_reduce_tolerant` (per-frame estimates with
        scattered NaN) rather than :func:`_reduce`
    y_ticks : (low, high), optional — words printed right of the frame at the bottom and top
        of the value axis (e.g. ``("calm", "activated")``)

    The time axis is labelled in m:ss; marker numbers are placed by :func:`marker_label_places`
    (the frame gives up height for a second or third row when markers are close in time).

    Returns
    -------
    reportlab.graphics.shapes.Drawing
    """
    from reportlab.graphics.charts.lineplots import LinePlot
    from reportlab.graphics.shapes import Drawing, Group, Line, Rect, String
    from reportlab.lib import colors
    from reportlab.pdfbase.pdfmetrics import stringWidth

    d = Drawing(width, height)
    left, bottom = 46.0, 30.0
    right_pad = 44.0 if y_ticks is not None else 8.0
    pw = width - left - right_pad
    span_min = max(duration_s / 60.0, 1e-6)

    def x_of(minutes: float) -> float:
        return left + min(max(minutes / span_min, 0.0), 1.0) * pw

    marker_xs = [x_of(tm / 60.0) for tm in marker_times_s]
    numbers = [str(i) for i in range(1, len(marker_times_s) + 1)]
    places = marker_label_places(
        marker_xs, [stringWidth(n, "Helvetica", MARKER_FONT) for n in numbers]
    )
    n_rows = 1 + max((row for _, row in places), default=0)
    top_pad = 14.0 + _ROW_H * (n_rows - 1)
    ph = height - bottom - top_pad

    t = np.asarray(t_s if t_s is not None else [], dtype=np.float64).ravel()
    y = np.asarray(values if values is not None else [], dtype=np.float64).ravel()
    n = min(t.size, y.size)
    # nothing may be drawn outside the frame: a binned series can end a little past the session
    inside = (t[:n] >= 0.0) & (t[:n] <= span_min * 60.0)
    t, y = t[:n][inside], y[:n][inside]
    t, y = _reduce_tolerant(t, y) if nan_tolerant else _reduce(*_break_gaps(t, y))
    runs = _runs(t / 60.0, y)

    shade = colors.HexColor("#e6eef7")
    for w in windows:
        x0, x1 = x_of(w.start_s / 60.0), x_of(w.end_s / 60.0)
        d.add(Rect(x0, bottom, x1 - x0, ph, fillColor=shade, strokeColor=None))
        d.add(
            graphics_string(
                (x0 + x1) / 2,
                bottom + ph - 9,
                w.label,
                fontSize=6.5,
                textAnchor="middle",
                fillColor=colors.HexColor("#4a5a6a"),
            )
        )

    finite = y[np.isfinite(y)]
    if runs and finite.size:
        if y_range is not None:
            lo, hi, pad = float(y_range[0]), float(y_range[1]), 0.0
            runs = [[(x, min(max(v, lo), hi)) for x, v in run] for run in runs]
        else:
            lo, hi = float(finite.min()), float(finite.max())
            pad = max((hi - lo) * 0.1, abs(hi) * 0.02, 0.05)
        if zero_line and lo - pad < 0.0 < hi + pad:
            y0 = bottom + (0.0 - (lo - pad)) / ((hi + pad) - (lo - pad)) * ph
            d.add(
                Line(
                    left, y0, left + pw, y0, strokeColor=colors.HexColor("#8a8a8a"), strokeWidth=0.6
                )
            )
        if y_ticks is not None:  # right of the frame, level with its bottom and top
            for text, yy in ((y_ticks[0], bottom), (y_ticks[1], bottom + ph - 6.5)):
                d.add(
                    String(
                        left + pw + 4, yy, text, fontSize=7, fillColor=colors.HexColor("#444444")
                    )
                )
        lp = LinePlot()
        lp.x, lp.y, lp.width, lp.height = left, bottom, pw, ph
        lp.data = runs
        for i in range(len(runs)):
            lp.lines[i].strokeColor = colors.HexColor(colour_hex)
            lp.lines[i].strokeWidth = 0.9
        lp.xValueAxis.valueMin, lp.xValueAxis.valueMax = 0.0, span_min
        lp.xValueAxis.valueStep = _tick_step(span_min)
        lp.xValueAxis.labels.fontSize = 7
        lp.xValueAxis.labelTextFormat = lambda v: format_clock(60.0 * v)
        lp.yValueAxis.valueMin, lp.yValueAxis.valueMax = lo - pad, hi + pad
        lp.yValueAxis.labels.fontSize = 7
        lp.yValueAxis.labelTextFormat = "%.3g"
        lp.yValueAxis.visibleGrid = True
        lp.yValueAxis.gridStrokeColor = colors.HexColor("#d8d8d8")
        lp.yValueAxis.gridStrokeWidth = 0.4
        d.add(lp)
    else:
        d.add(Rect(left, bottom, pw, ph, fillColor=None, strokeColor=colors.grey))
        d.add(
            String(
                left + pw / 2,
                bottom + ph / 2,
                "No data recorded",
                fontSize=9,
                textAnchor="middle",
                fillColor=colors.grey,
            )
        )

    marker_colour = colors.HexColor("#b5651d")
    for x, number, (lx, row) in zip(marker_xs, numbers, places, strict=True):
        d.add(
            Line(
                x,
                bottom,
                x,
                bottom + ph,
                strokeColor=marker_colour,
                strokeWidth=0.7,
                strokeDashArray=[2, 2],
            )
        )
        base = bottom + ph + 3 + _ROW_H * row
        if abs(lx - x) > 0.01:  # moved aside: a leader from the top of the line to its number
            d.add(Line(x, bottom + ph, lx, base - 1, strokeColor=marker_colour, strokeWidth=0.4))
        d.add(
            String(
                lx,
                base,
                number,
                fontName="Helvetica",
                fontSize=MARKER_FONT,
                textAnchor="middle",
                fillColor=marker_colour,
            )
        )

    d.add(
        String(
            left + pw / 2, 4, "Time from session start (m:ss)", fontSize=7.5, textAnchor="middle"
        )
    )
    title = Group(String(0, 0, y_label, fontSize=7.5, textAnchor="middle"))
    title.translate(12, bottom + ph / 2)
    title.rotate(90)
    d.add(title)
    return d
