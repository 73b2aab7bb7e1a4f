"""The session report's questionnaires and SUDS section (see :mod:`core.report.document`).

GAD-7 and PHQ-9 item by item before and after the session (short item labels, the scores, the
total and its severity band by the published cut-offs, the reference), a GAD-7 total entered
alone marked "total only", PHQ-9 item 9 above 0 highlighted (its row in red, a warning line, and
a banner on every page: :data:`ITEM9_BANNER`), and the SUDS ratings with their session times.
reportlab is imported inside the functions, as in :mod:`core.report.document`.
"""

from __future__ import annotations

from typing import Any
from xml.sax.saxutils import escape

from core.clinical import (
    INSTRUMENTS,
    PHASES,
    RESPONSES,
    Instrument,
    QuestionnaireResult,
    SessionMeasures,
)
from core.report.blocks import para, table
from core.timefmt import format_clock

#: the banner across every page when PHQ-9 item 9 was answered above 0
ITEM9_BANNER = "PHQ-9 item 9 answered above 0 — see Questionnaires"
ITEM9_COLOUR = "#8b0000"
PHASE_HEADS = {"pre": "Before (pre)", "post": "After (post)"}
_FLAG_BG = "#fbe3e3"


def item9_flagged(measures: SessionMeasures | None) -> bool:
    """Whether any phase's PHQ-9 item 9 was answered above 0."""
    return measures is not None and bool(measures.flagged)


def _score_text(r: QuestionnaireResult | None, item: int) -> str:
    if r is None:
        return "–"
    v = r.answers.get(item)
    if v is None:
        return "–" if r.source == "total only" else "not answered"
    return str(v)


def _total_text(r: QuestionnaireResult | None, n_items: int) -> str:
    if r is None:
        return "not entered"
    if r.total is None:
        return f"incomplete, {r.n_answered} of {n_items}"
    if r.items_pending:
        return f"{r.total} (total only; items being entered, {r.n_answered} of {n_items})"
    return f"{r.total}" + (" (total only)" if r.source == "total only" else "")


def _instrument_block(
    inst: Instrument, results: dict[str, QuestionnaireResult], st: dict[str, Any], width: float
) -> list[Any]:
    from reportlab.lib import colors
    from reportlab.platypus import KeepTogether, Paragraph

    head = ["Item", *(PHASE_HEADS[p] for p in PHASES)]
    rows: list[list[Any]] = [head]
    flagged_rows = []
    for i, label in enumerate(inst.items, start=1):
        flag = inst.flagged_item == i and any(
            (r := results.get(p)) is not None and r.answers.get(i, 0) > 0 for p in PHASES
        )
        text = f"{i}. {escape(label)}"
        if flag:
            text = f"<font color='{ITEM9_COLOUR}'><b>{text} — answered above 0</b></font>"
            flagged_rows.append(len(rows))
        rows.append([para(text, st["cell"]), *(_score_text(results.get(p), i) for p in PHASES)])
    rows.append(["Total", *(_total_text(results.get(p), inst.n_items) for p in PHASES)])
    rows.append(
        [
            "Severity",
            *(
                (r.band or "–")
                if (r := results.get(p)) is not None and r.total is not None
                else "–"
                for p in PHASES
            ),
        ]
    )
    t = table(rows, [w * width for w in (0.56, 0.22, 0.22)])
    style: list[tuple[Any, ...]] = [("FONT", (0, len(rows) - 2), (-1, -1), "Helvetica-Bold", 9)]
    for row in flagged_rows:
        style += [
            ("BACKGROUND", (0, row), (-1, row), colors.HexColor(_FLAG_BG)),
            ("TEXTCOLOR", (1, row), (-1, row), colors.HexColor(ITEM9_COLOUR)),
            ("FONT", (1, row), (-1, row), "Helvetica-Bold", 9),
        ]
    t.setStyle(style)
    cuts = ", ".join(f"{lo}+ {name}" for lo, name in inst.bands)
    out: list[Any] = [Paragraph(f"{inst.name} — {escape(inst.title)}", st["h3"]), t]
    if flagged_rows:
        phases = [PHASE_HEADS[p].lower() for p in PHASES if (r := results.get(p)) and r.flagged]
        out.append(
            para(
                f"<font color='{ITEM9_COLOUR}'><b>{escape(inst.flag_text)} "
                f"({escape(', '.join(phases))}).</b></font>",
                st["body"],
            )
        )
    out.append(
        Paragraph(
            "Answers over the last two weeks: "
            + ", ".join(f"{k} {escape(r.lower())}" for k, r in enumerate(RESPONSES))
            + f". Severity by the published cut-offs ({cuts}). {escape(inst.reference)}",
            st["small"],
        )
    )
    return [KeepTogether(out)]


def _suds_block(measures: SessionMeasures, st: dict[str, Any], width: float) -> list[Any]:
    from reportlab.platypus import Paragraph

    out: list[Any] = [Paragraph("SUDS during the session", st["h3"])]
    if not measures.suds:
        return out + [Paragraph("No SUDS ratings were taken in this session.", st["body"])]
    rows: list[list[Any]] = [["Session time", "SUDS (0–100)"]]
    rows += [[format_clock(r.t_s), str(r.rating)] for r in measures.suds]
    out.append(table(rows, [0.25 * width, 0.2 * width]))
    out.append(
        Paragraph(
            "Subjective Units of Distress: the patient's own distress, 0 none – 100 the worst "
            "imaginable, at the moment the therapist asked (also in the data export, with the "
            "markers).",
            st["small"],
        )
    )
    return out


def clinical_section(
    measures: SessionMeasures | None, st: dict[str, Any], width: float
) -> list[Any]:
    """The section's flowables: a heading, each questionnaire entered, then the SUDS ratings.
    Nothing at all when neither was entered (and ``measures`` None: not gathered)."""
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.platypus import Paragraph

    if measures is None:
        return []
    entered = {
        key: {p: r for p in PHASES if (r := measures.result(p, key)) is not None}
        for key in INSTRUMENTS
    }
    entered = {k: v for k, v in entered.items() if v}
    if not entered and not measures.suds:
        return []
    st = {**st, "h3": ParagraphStyle("h3c", parent=st["h2"], fontSize=11, spaceBefore=8)}
    out: list[Any] = [Paragraph("Questionnaires and SUDS", st["h2"])]
    for key, results in entered.items():
        out += _instrument_block(INSTRUMENTS[key], results, st, width)
    out += _suds_block(measures, st, width)
    return out
