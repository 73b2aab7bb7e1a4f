"""Building blocks shared by the report's sections: styles, paragraphs, tables, the page header.

reportlab is imported inside the functions, so ``import core.report`` stays light.
"""

from __future__ import annotations

from typing import Any
from xml.sax.saxutils import escape

from core.report.data import NOT_MEASURED, ReportData, quality_verdict_text
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


#: Characters of session notes printed on the one-page summary of an analysed session; longer
#: notes are cut at a word there and printed whole after the details (page 1 is shrunk to fit
#: one page, and long notes would shrink it past reading).
NOTES_ON_PAGE_ONE = 600


def page_one_notes(data: ReportData, compact: bool) -> tuple[str, bool]:
    """The session notes as page 1 prints them, and whether they continue after the details.

    Parameters
    ----------
    data : ReportData — ``notes`` are printed only when ``include_notes``
    compact : bool — the one-page summary of an analysed session (notes cut after
        :data:`NOTES_ON_PAGE_ONE` characters); otherwise the notes are printed whole

    Returns
    -------
    (text, continued) — ``("", False)`` when no notes are printed
    """
    notes = data.notes.strip() if data.include_notes else ""
    if not compact or len(notes) <= NOTES_ON_PAGE_ONE:
        return notes, False
    cut = notes[:NOTES_ON_PAGE_ONE].rsplit(maxsplit=1)[0].rstrip(" ,;:.")
    return cut + " … (continued under “Session notes” after the details)", True


def multiline(text: str) -> str:
    """Plain text as reportlab markup, its line breaks kept."""
    return "<br/>".join(escape(line) for line in text.strip().splitlines())


def header_facts(
    data: ReportData, compact: bool = False
) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """The session's key facts on page 1: (short facts, long ones printed across the page).

    Short: patient code (and name, when chosen), date and time, duration, session ID, data source,
    model, therapist, consent (when it was recorded, and how it was given). Long: the data-quality
    verdict with its reasons, and the session notes when the therapist chose to print them
    (:func:`page_one_notes`; ``compact``: the one-page summary).
    """
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
    if data.therapist_name.strip():
        pairs.append(("Therapist", data.therapist_name.strip()))
    if data.consent_at:
        note = data.consent_note.strip()
        pairs.append(("Consent", data.consent_at + (f" ({note})" if note else "")))
    wide: list[tuple[str, str]] = []
    summary = (data.quality or {}).get("summary")
    if summary:
        wide.append(("Data quality", quality_verdict_text(summary)))
    notes, _ = page_one_notes(data, compact)
    if notes:
        wide.append(("Session notes", notes))
    return pairs, wide


def header(data: ReportData, st: dict[str, Any], width: float, compact: bool) -> list[Any]:
    """Title, clinic (when set) and the session's key facts (:func:`header_facts`).

    ``compact``: the short facts in a four-column table, to leave page 1 room for the circumplex
    figure; the long ones follow across the page in both layouts.
    """
    from reportlab.platypus import Paragraph, TableStyle

    pairs, wide = header_facts(data, compact)
    out: list[Any] = [Paragraph("TheraScope session report", st["title"])]
    if data.clinic_name.strip():
        out.append(Paragraph(escape(data.clinic_name), st["clinic"]))
    else:
        out.append(Paragraph("", st["small"]))
    wide_rows = [[k, Paragraph(multiline(v), st["cell"])] for k, v in wide]
    if not compact:
        rows: list[list[Any]] = [[k, Paragraph(escape(v), st["cell"])] for k, v in pairs]
        rows += wide_rows
        out.append(table(rows, [0.3 * width, 0.7 * width], align_right_from=99, header=False))
        return out
    rows4: list[list[Any]] = []
    for i in range(0, len(pairs), 2):
        (k1, v1), (k2, v2) = pairs[i], pairs[i + 1] if i + 1 < len(pairs) else ("", "")
        rows4.append([k1, Paragraph(escape(v1), st["cell"]), k2, Paragraph(escape(v2), st["cell"])])
    t = table(rows4, [0.15 * width, 0.35 * width, 0.15 * width, 0.35 * width], 99, header=False)
    tight = [("TOPPADDING", (0, 0), (-1, -1), 2), ("BOTTOMPADDING", (0, 0), (-1, -1), 2)]
    t.setStyle(TableStyle([("FONT", (2, 0), (2, -1), "Helvetica-Bold", 9), *tight]))
    out.append(t)
    if wide_rows:
        w = table(wide_rows, [0.15 * width, 0.85 * width], align_right_from=99, header=False)
        w.setStyle(TableStyle(tight))
        out.append(w)
    return out
