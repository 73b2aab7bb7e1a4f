"""Building blocks shared by the report's sections: styles, paragraphs, tables, the page header.

Text typed by the therapist (names, codes, notes, marker labels) goes through
:func:`core.report.fonts.markup` (any script, in the report's fonts) into :func:`para`
(right-to-left lines in display order), and is cut where a table cell must hold it
(:func:`shorten`, :data:`FIELD_CHARS`). reportlab is imported inside the functions, so
``import core.report`` stays light.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from core.catalog.models import MAX_LABEL_LEN, MAX_NAME_LEN
from core.report.data import DISCLAIMER, NOT_MEASURED, ReportData, quality_verdict_text
from core.report.fonts import PRIMARY, PRIMARY_BOLD, draw_string, markup, paragraph, runs
from core.timefmt import format_duration

#: Characters of a one-line field on page 1 (patient code and name, clinic, therapist, consent
#: note, model) and of a device or stream name that the report prints; a longer one is cut
#: with "(… N more characters, see the app)" (:func:`shorten`). The catalog keeps names up to
#: this length and the app's fields enforce it: one limit, ``core.catalog.MAX_NAME_LEN``.
FIELD_CHARS = MAX_NAME_LEN
#: Characters of a marker label that the markers table prints (cut likewise beyond). A table
#: row cannot run over a page: 1 000 characters take at most about 40 lines of its column (wide
#: CJK or emoji glyphs), well within a page. The catalog keeps labels up to this length and
#: the marker fields enforce it: one limit, ``core.catalog.MAX_LABEL_LEN``.
LABEL_CHARS = MAX_LABEL_LEN
#: Characters of the patient code in the footer of every page; longer codes end in "…".
FOOTER_CODE_CHARS = 40


#: the coloured bands at the top of every page (simulated data, demo model, PHQ-9 item 9): height
#: and the gap under each, in points (9 mm and 1.5 mm)
BANNER_BAND = 9 * 72 / 25.4
BANNER_GAP = 1.5 * 72 / 25.4


def top_margin(banners: Sequence[tuple[str, str]], margin: float) -> float:
    """The page's top margin: room for ``banners`` above the text, at least ``margin``."""
    mm = 72 / 25.4
    return max(margin, 4 * mm + len(banners) * (BANNER_BAND + BANNER_GAP) + 8 * mm)


def footer_code(code: str) -> str:
    """A patient code as the page footer shows it: cut to :data:`FOOTER_CODE_CHARS`."""
    if len(code) > FOOTER_CODE_CHARS:
        return code[: FOOTER_CODE_CHARS - 1].rstrip() + "…"
    return code


def draw_page_frame(
    canvas: Any, page_size: tuple[float, float], banners: Sequence[tuple[str, str]], margin: float
) -> None:
    """What every page of a report carries: the ``(text, colour)`` banners across its top, the
    rule above the footer and the disclaimer at its right (the page count comes later, from
    :func:`page_count_canvas`)."""
    from reportlab.lib import colors

    mm = 72 / 25.4
    page_w, page_h = page_size
    canvas.saveState()
    y = page_h - 4 * mm
    for text, colour in banners:
        y -= BANNER_BAND
        canvas.setFillColor(colors.HexColor(colour))
        canvas.rect(0, y, page_w, BANNER_BAND, stroke=0, fill=1)
        canvas.setFillColor(colors.white)
        canvas.setFont("Helvetica-Bold", 13)
        canvas.drawCentredString(page_w / 2, y + BANNER_BAND / 2 - 4.5, text)
        y -= BANNER_GAP
    canvas.setStrokeColor(colors.HexColor("#b0b8c0"))
    canvas.line(margin, 13 * mm, page_w - margin, 13 * mm)
    canvas.setFont("Helvetica-Bold", 7.5)
    canvas.setFillColor(colors.HexColor("#444444"))
    canvas.drawRightString(page_w - margin, 9 * mm, DISCLAIMER)
    canvas.restoreState()


def page_count_canvas(footer_line: Callable[[int, int], str], margin: float) -> Any:
    """A reportlab canvas class that holds every page back until the end, then writes
    ``footer_line(page, pages)`` at the foot of each: the page count is known only once all are
    laid out."""
    from reportlab.lib import colors
    from reportlab.pdfgen.canvas import Canvas

    mm = 72 / 25.4

    class PageCountCanvas(Canvas):  # type: ignore[misc]  # reportlab has no type hints
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._held: list[dict[str, Any]] = []

        def showPage(self) -> None:  # noqa: N802 — reportlab's name
            self._held.append(dict(self.__dict__))
            self._startPage()

        def save(self) -> None:
            total = len(self._held)
            for page, state in enumerate(self._held, start=1):
                self.__dict__.update(state)
                self.saveState()
                self.setFillColor(colors.HexColor("#444444"))
                draw_string(self, margin, 9 * mm, footer_line(page, total), "Helvetica", 7.5)
                self.restoreState()
                super().showPage()
            super().save()

    return PageCountCanvas


def count(value: Any) -> str:
    return NOT_MEASURED if value is None else f"{int(value):,}".replace(",", " ")


def shorten(text: str, limit: int = FIELD_CHARS) -> str:
    """``text`` as a table cell prints it: whole up to ``limit`` characters, else cut.

    A cut text ends at a space when one falls in its last fifth, followed on a line of its own
    (so that it reads left to right after right-to-left text too) by
    ``"(… N more characters, see the app)"``, N the characters left out. Print it with
    :func:`multiline`.

    Parameters
    ----------
    text : str — as typed
    limit : int — characters printed at most (:data:`FIELD_CHARS`)

    Returns
    -------
    str
    """
    if len(text) <= limit:
        return text
    cut = text[:limit]
    space = cut.rfind(" ", limit - limit // 5)
    if space > 0:
        cut = cut[:space]
    return f"{cut.rstrip()}\n(… {count(len(text) - len(cut))} more characters, see the app)"


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


def data_origin(data: ReportData) -> str:
    """Where the session's data came from, in a few words."""
    if data.simulated:
        return "Simulated devices (demo)"
    if data.source:
        names = ", ".join(str(f.get("name", "?")) for f in data.source.get("files") or [])
        return shorten(f"Imported from {names or 'files'} ({data.source.get('format', '?')})")
    return "Recorded from sensors"


def para(text: str, style: Any) -> Any:
    """A reportlab Paragraph of markup ``text``: plain text goes through
    :func:`core.report.fonts.markup` first; lines holding right-to-left letters are drawn in
    display order (:func:`core.report.fonts.paragraph`)."""
    return paragraph(text, style)


def _text_cell(text: str, bold: bool, right: bool) -> Any:
    """A plain-text table cell: as it is when Helvetica draws it whole, else a Paragraph in the
    report's fonts (Greek, Arabic, CJK, emoji… in a device or stream name)."""
    from reportlab.lib.styles import ParagraphStyle

    lines = text.split("\n")
    if all(runs(line) == [(PRIMARY, line)] for line in lines if line):
        return text
    font = PRIMARY_BOLD if bold else PRIMARY
    style = ParagraphStyle("text_cell", fontName=font, fontSize=9, leading=11, alignment=2 * right)
    return para("<br/>".join(markup(line, bold) for line in lines), style)


def table(
    rows: list[list[Any]], widths: list[float], align_right_from: int = 1, header: bool = True
) -> Any:
    """A table in the report's style.

    Parameters
    ----------
    rows : list of list — cells: plain text (str) or flowables (Paragraph, …); a text cell
        that Helvetica cannot draw whole becomes a Paragraph in the report's fonts
        (:func:`core.report.fonts.markup`)
    widths : list of float — column widths (pt)
    align_right_from : int — the first column aligned right (below the header row)
    header : bool — the first row is a header (bold, shaded, repeated on each page); else the
        first column is bold (a key/value table)

    Returns
    -------
    reportlab Table
    """
    from reportlab.lib import colors
    from reportlab.platypus import Table, TableStyle

    h = 1 if header else 0
    rows = [
        [
            _text_cell(c, i < h or (not header and j == 0), i >= h and j >= align_right_from)
            if isinstance(c, str)
            else c
            for j, c in enumerate(row)
        ]
        for i, row in enumerate(rows)
    ]
    t = Table(rows, colWidths=widths, repeatRows=1 if header else 0, hAlign="LEFT")
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
#: … and lines of them, likewise.
NOTES_LINES_ON_PAGE_ONE = 10
#: Characters and lines of session notes in the page-1 table of a session without analysis;
#: longer notes continue after the details there too. A table row cannot run over a page:
#: 1 200 characters in 20 lines take at most about 53 lines of the column (wide CJK glyphs).
NOTES_IN_TABLE, NOTES_LINES_IN_TABLE = 1200, 20
#: Notes printed whole after the details are set in paragraphs of at most this many
#: characters (cut at a space): a paragraph is laid out again for each page it runs over, so
#: one paragraph of 100 000 characters would take minutes.
NOTES_CHUNK = 2000


def page_one_notes(data: ReportData, compact: bool) -> tuple[str, bool]:
    """The session notes as page 1 prints them, and whether they continue after the details.

    Parameters
    ----------
    data : ReportData — ``notes`` are printed only when ``include_notes``
    compact : bool — the one-page summary of an analysed session: notes cut after
        :data:`NOTES_ON_PAGE_ONE` characters or :data:`NOTES_LINES_ON_PAGE_ONE` lines;
        otherwise after :data:`NOTES_IN_TABLE` characters or :data:`NOTES_LINES_IN_TABLE`
        lines

    Returns
    -------
    (text, continued) — ``("", False)`` when no notes are printed
    """
    notes = data.notes.strip() if data.include_notes else ""
    chars, n_lines = (
        (NOTES_ON_PAGE_ONE, NOTES_LINES_ON_PAGE_ONE)
        if compact
        else (NOTES_IN_TABLE, NOTES_LINES_IN_TABLE)
    )
    lines = notes.splitlines()
    if len(notes) <= chars and len(lines) <= n_lines:
        return notes, False
    cut = "\n".join(lines[:n_lines]).rstrip()
    if len(cut) > chars:
        cut = cut[:chars].rsplit(maxsplit=1)[0]
    cut = cut.rstrip(" ,;:.")
    # on a line of its own, so that it reads left to right after right-to-left notes too
    return cut + "\n… (continued under “Session notes” after the details)", True


def multiline(text: str) -> str:
    """Plain text as reportlab markup in the report's fonts, its line breaks kept."""
    return "<br/>".join(markup(line) for line in text.strip().splitlines())


def notes_section(data: ReportData, st: dict[str, Any]) -> list[Any]:
    """The heading "Session notes" and the whole notes, for after the details: a paragraph per
    line of the notes (blank lines kept as space), a long line in paragraphs of at most
    :data:`NOTES_CHUNK` characters."""
    from reportlab.platypus import Paragraph, Spacer

    out: list[Any] = [Paragraph("Session notes", st["h2"])]
    for line in data.notes.strip().splitlines():
        if not line.strip():
            out.append(Spacer(1, st["body"].leading))
        while line:
            chunk = line
            if len(line) > NOTES_CHUNK:
                space = line.rfind(" ", NOTES_CHUNK // 2, NOTES_CHUNK)
                chunk = line[: space + 1 if space > 0 else NOTES_CHUNK]
            out.append(para(markup(chunk), st["body"]))
            line = line[len(chunk) :]
    return out


def header_facts(
    data: ReportData, compact: bool = False
) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """The session's key facts on page 1: (short facts, long ones printed across the page).

    Short: patient code (and name, when chosen), date and time, duration, session ID, data source,
    model, therapist, consent (when it was recorded, and how it was given). Long: the data-quality
    verdict with its reasons, and the session notes when the therapist chose to print them
    (:func:`page_one_notes`; ``compact``: the one-page summary).

    Typed fields (code, name, model, therapist, consent note) are cut after
    :data:`FIELD_CHARS` characters (:func:`shorten`).
    """
    pairs: list[tuple[str, str]] = [("Patient code", shorten(data.patient_code))]
    if data.include_name and data.patient_name:
        pairs.append(("Patient name", shorten(data.patient_name)))
    pairs += [
        ("Date and time", data.started_at),
        ("Duration", format_duration(data.duration_s)),
        ("Session ID", data.session_uid),
        ("Data", data_origin(data)),
    ]
    if data.analysis is not None:
        ck = data.analysis.info.get("checkpoint") or {}
        model = shorten(str(ck.get("label") or "unnamed checkpoint"))
        pairs.append(("Model", model + (" (demo model)" if data.analysis.demo_model else "")))
    if data.therapist_name.strip():
        pairs.append(("Therapist", shorten(data.therapist_name.strip())))
    if data.consent_at:
        note = shorten(data.consent_note.strip())
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
        out.append(para(multiline(shorten(data.clinic_name.strip())), st["clinic"]))
    else:
        out.append(Paragraph("", st["small"]))
    wide_rows = [[k, para(multiline(v), st["cell"])] for k, v in wide]
    if not compact:
        rows: list[list[Any]] = [[k, para(multiline(v), st["cell"])] for k, v in pairs]
        rows += wide_rows
        out.append(table(rows, [0.3 * width, 0.7 * width], align_right_from=99, header=False))
        return out
    rows4: list[list[Any]] = []
    for i in range(0, len(pairs), 2):
        (k1, v1), (k2, v2) = pairs[i], pairs[i + 1] if i + 1 < len(pairs) else ("", "")
        rows4.append([k1, para(multiline(v1), st["cell"]), k2, para(multiline(v2), st["cell"])])
    t = table(rows4, [0.15 * width, 0.35 * width, 0.15 * width, 0.35 * width], 99, header=False)
    tight = [("TOPPADDING", (0, 0), (-1, -1), 2), ("BOTTOMPADDING", (0, 0), (-1, -1), 2)]
    t.setStyle(TableStyle([("FONT", (2, 0), (2, -1), "Helvetica-Bold", 9), *tight]))
    out.append(t)
    if wide_rows:
        w = table(wide_rows, [0.15 * width, 0.85 * width], align_right_from=99, header=False)
        w.setStyle(TableStyle(tight))
        out.append(w)
    return out
