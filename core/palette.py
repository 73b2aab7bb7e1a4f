"""The colours that mean something, one set for the screens and the PDF report.

Hex strings (``"#rrggbb"``), so both sides can use them: reportlab as
``colors.HexColor(PRE)``, Qt as ``QColor(PRE)``, pyqtgraph as ``pg.mkPen(PRE)`` /
``pg.mkColor(PRE)``, HTML as ``style='color:{PRE}'``. No Qt, no reportlab here.

Pre and post read the same everywhere: orange before treatment, green after (the screen's
colours; the PDF used the darker ``#c2410c`` and ``#15803d`` before). On white paper they keep a
contrast of 3.7:1 (pre) and 4.4:1 (post), enough for markers, lines and bold captions.
"""

from __future__ import annotations

__all__ = [
    "COURSE_ON_PAPER",
    "COURSE_ON_SCREEN",
    "LIGHT_COLOURS",
    "POST",
    "POST_TINT",
    "PRE",
    "PRE_TINT",
    "rgb",
]

#: before treatment (the pre window, its mean, its ±1 SD, the patient's own pre rating): orange
PRE = "#e6550d"
#: after treatment (the post window, its mean, its ±1 SD, the patient's own post rating): green
POST = "#2b8a3e"
#: :data:`PRE` as a light tint on white (legend swatch of the pre window's shading)
PRE_TINT = "#fbd9c4"
#: :data:`POST` as a light tint on white (legend swatch of the post window's shading)
POST_TINT = "#cfe5d3"

#: traffic lights and verdicts, by level: live status, set-up check, data quality
LIGHT_COLOURS: dict[str, str] = {
    "green": "#2e9d4f",
    "amber": "#e6a118",
    "red": "#d23b3b",
    "grey": "#9aa0a6",
}

#: the course over a session on the screen, start → end: light blue, blue, dark violet
COURSE_ON_SCREEN = ("#9ecae1", "#4292c6", "#3f007d")
#: the course over a session in the PDF, start → end: light blue to dark navy
COURSE_ON_PAPER = ("#9db5de", "#0b2455")


def rgb(hex_: str) -> tuple[int, int, int]:
    """The red, green and blue parts of a palette colour.

    Parameters
    ----------
    hex_ : str — ``"#rrggbb"``

    Returns
    -------
    (int, int, int) — each 0…255, e.g. ``rgb(PRE)`` → ``(230, 85, 13)``
    """
    h = hex_.lstrip("#")
    return int(h[0:2], 16), int(h[2:4], 16), int(h[4:6], 16)
