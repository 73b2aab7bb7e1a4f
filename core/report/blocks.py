"""Building blocks shared by the report's sections: styles, paragraphs, tables, the page header.

reportlab is imported inside the functions, so ``import core.report`` stays light.
"""

from __future__ import annotations

from typing import Any
from xml.sax.saxutils import escape

from core.report.data import NOT_MEASURED, ReportData
from core.timefmt import format_duration


def count(value: Any) -> str:
    return NOT_MEASURED if value is None else f"{int(value):,}".replace(",", " ")


def marker_kind(kind: str) -> str:
    return kind.replace("_", " ").capitalize()


def styles() -> dict[str, Any]:
    from reportlab.lib import colors
    from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet

    base = getSampleStyleSheet()
    return {
        "title": ParagraphStyle("t", parent=base["Title"], fontSize=20, spaceAfter=4),
        "clinic": ParagraphStyle(
            "c",
            parent=base["Normal"],
            fontSize=12,
            alignment=1,
            textColor=colors.HexColor("#333333"),
            spaceAfter=12,
        ),
        "h2": ParagraphStyle(
            "h2", parent=base["Heading2"], fontSize=13, spaceBefore=10, spaceAfter=6
        ),
        "body": ParagraphStyle("b", parent=base["Normal"], fontSize=9.5, leading=12.5),
        "small": ParagraphStyle(
            "s", parent=base["Normal"], fontSize=8, leading=10, textColor=colors.HexColor("#444444")
        ),
        "cell": ParagraphStyle("cell", parent=base["Normal"], fontSize=9, leading=11),
        "cell_r": ParagraphStyle(
            "cell_r", parent=base["Normal"], fontSize=9, leading=11, alignment=2
        ),
        "notice": ParagraphStyle(
            "notice",
            parent=base["Normal"],
            fontName="Helvetica-Bold",
            fontSize=10,
            leading=13,
            textColor=colors.HexColor("#7a4a00"),
            backColor=colors.HexColor("#fff4dc"),
            borderPadding=6,
            spaceBefore=10,
            spaceAfter=4,
        ),
        "sentence": ParagraphStyle(
            "plain",
            parent=base["Normal"],
            fontSize=11,
            leading=15,
            backColor=colors.HexColor("#eef4ea"),
            borderPadding=8,
            borderColor=colors.HexColor("#9bb98a"),
            borderWidth=0.6,
            spaceBefore=10,
            spaceAfter=12,
        ),
    }


def para(text: str, style: Any) -> Any:
    """A reportlab Paragraph (``text`` is reportlab markup: escape plain text first)."""
    from reportlab.platypus import Paragraph

    return Paragraph(text, style)


def table(
    rows: list[list[Any]], widths: list[float], align_right_from: int = 1, header: bool = True
) -> Any:
    from reportlab.lib import colors
    from reportlab.platypus import Table, TableStyle

    t = Table(rows, colWidths=widths, repeatRows=1 if header else 0, hAlign="LEFT")
    h = 1 if header else 0
    style: list[tuple[Any, ...]] = [
        ("FONT", (0, 0), (-1, -1), "Helvetica", 9),
        ("ROWBACKGROUNDS", (0, h), (-1, -1), [colors.white, colors.HexColor("#f5f7f9")]),
        ("GRID", (0, 0), (-1, -1), 0.4, colors.HexColor("#b0b8c0")),
        ("ALIGN", (align_right_from, h), (-1, -1), "RIGHT"),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
        ("TOPPADDING", (0, 0), (-1, -1), 3),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
    ]
    if header:
        style += [
            ("FONT", (0, 0), (-1, 0), "Helvetica-Bold", 9),
            ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#dfe6ee")),
        ]
    else:  # key/value table: bold keys instead of a header row
        style.append(("FONT", (0, 0), (0, -1), "Helvetica-Bold", 9))
    t.setStyle(TableStyle(style))
    return t


def header(data: ReportData, st: dict[str, Any], width: float, compact: bool) -> list[Any]:
    """Title, clinic (when set) and the session's key facts.

    ``compact``: a four-column table, to leave page 1 room for the circumplex figure.
    """
    from reportlab.platypus import Paragraph

    pairs: list[tuple[str, str]] = [("Patient code", data.patient_code)]
    if data.include_name and data.patient_name:
        pairs.append(("Patient name", data.patient_name))
    pairs += [
        ("Date and time", data.started_at),
        ("Duration", format_duration(data.duration_s)),
        ("Session ID", data.session_uid),
        ("Data", "Simulated devices (demo)" if data.simulated else "Recorded from sensors"),
    ]
    if data.analysis is not None:
        ck = data.analysis.info.get("checkpoint") or {}
        model = str(ck.get("label") or "unnamed checkpoint")
        pairs.append(("Model", model + (" (demo model)" if data.analysis.demo_model else "")))
    out: list[Any] = [Paragraph("TheraScope session report", st["title"])]
    if data.clinic_name.strip():
        out.append(Paragraph(escape(data.clinic_name), st["clinic"]))
    else:
        out.append(Paragraph("", st["small"]))
    if not compact:
        rows = [[k, v] for k, v in pairs]
        out.append(table(rows, [0.3 * width, 0.7 * width], align_right_from=99, header=False))
        return out
    rows4: list[list[Any]] = []
    for i in range(0, len(pairs), 2):
        (k1, v1), (k2, v2) = pairs[i], pairs[i + 1] if i + 1 < len(pairs) else ("", "")
        rows4.append([k1, Paragraph(escape(v1), st["cell"]), k2, Paragraph(escape(v2), st["cell"])])
    t = table(rows4, [0.15 * width, 0.35 * width, 0.15 * width, 0.35 * width], 99, header=False)
    from reportlab.platypus import TableStyle

    t.setStyle(
        TableStyle(
            [
                ("FONT", (2, 0), (2, -1), "Helvetica-Bold", 9),
                ("TOPPADDING", (0, 0), (-1, -1), 2),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
            ]
        )
    )
    out.append(t)
    return out
