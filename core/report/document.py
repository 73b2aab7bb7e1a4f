"""PDF session report for the patient file (reportlab, imported inside the functions).

Page 1 is the summary, the details always start on page 2.

- Analysed session (``ReportData.analysis`` set): page 1 = header, the circumplex figure (pre/post
  means with ±1 SD, arrow, smoothed course, the patient's SAM ratings), the pre/post table and
  the plain-language sentences; then the valence/arousal timeline, quadrant shares, self-ratings
  beside the estimates, physiology, "Model and data quality" with the intended use, recording
  quality, devices and markers.
- Not analysed: page 1 = header, "Not analysed yet", pre/post physiology table and sentence;
  then recording quality, devices, markers and the heart-rate/EDA charts.

Every page carries a footer with "Page n of N", app version, generation time and "Decision
support only — not a diagnosis"; simulated sessions carry a red banner and estimates of the demo
model an amber one on every page.

Times: dates in the computer's local zone, named ("2026-12-05 13:42 CET"); times within the
session and window lengths as m:ss (:mod:`core.report.times`, applied to the data before anything
is drawn).

Fonts: the standard Helvetica with WinAnsi encoding, which has µ, en/em dash and middle dot, for
everything the report writes itself (characters outside WinAnsi, such as arrows and ≥, are
avoided there). What was typed (names, codes, notes, marker labels, device names) may be in any
script: each character Helvetica lacks is drawn in the first shipped TrueType font that has it,
right-to-left text shaped and in display order (:mod:`core.report.fonts`,
:mod:`core.report.rtl`). Typed fields are cut after :data:`core.report.blocks.FIELD_CHARS`
characters (marker labels after :data:`core.report.blocks.LABEL_CHARS`), so that no table cell is
taller than a page; notes too long for page 1 are printed whole after the details.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from core.physiology.summary import METRICS, SCR_RULE, describe_change
from core.report.blocks import (
    FIELD_CHARS,
    LABEL_CHARS,
    count,
    draw_page_frame,
    footer_code,
    header,
    marker_kind,
    multiline,
    notes_section,
    page_count_canvas,
    page_one_notes,
    para,
    shorten,
    styles,
    table,
    top_margin,
)
from core.report.clinical import ITEM9_BANNER, ITEM9_COLOUR, clinical_section, item9_flagged
from core.report.data import (
    DEMO_BANNER,
    NOT_ANALYSED,
    NOT_MEASURED,
    SIMULATED_BANNER,
    ReportData,
    format_value,
)
from core.timefmt import format_clock, format_duration, now_local


def _physiology(data: ReportData, st: dict[str, Any], width: float) -> list[Any]:
    """Heading, pre/post physiology table, window note and reasons for missing values."""
    from reportlab.platypus import Paragraph, Spacer

    phys = data.physiology
    out: list[Any] = [Paragraph("Physiology before and after", st["h2"])]
    pre_w, post_w = phys.windows
    head = [
        "Measure",
        Paragraph(
            f"<b>{escape(pre_w.label.capitalize())}</b><br/>"
            f"{format_clock(pre_w.start_s)}–{format_clock(pre_w.end_s)}",
            st["cell"],
        ),
        Paragraph(
            f"<b>{escape(post_w.label.capitalize())}</b><br/>"
            f"{format_clock(post_w.start_s)}–{format_clock(post_w.end_s)}",
            st["cell"],
        ),
        "Change",
    ]
    rows: list[list[Any]] = [head]
    for m in METRICS:
        rows.append(
            [
                f"{m.label} ({m.unit})",
                format_value(phys.pre.value(m.key), m.decimals),
                format_value(phys.post.value(m.key), m.decimals),
                format_value(phys.change.get(m.key), m.decimals, signed=True),
            ]
        )
    rows.append(
        [
            "Usable signal, ECG / EDA (m:ss)",
            *(
                f"{format_clock(w.ecg_seconds_analysed)} / {format_clock(w.eda_seconds_analysed)}"
                for w in (phys.pre, phys.post)
            ),
            "",
        ]
    )
    out.append(table(rows, [0.37 * width, 0.23 * width, 0.23 * width, 0.17 * width]))
    out.append(Spacer(1, 4))
    out.append(
        Paragraph(
            escape(pre_w.note) + f" Change = after minus before; {NOT_MEASURED} = not measured.",
            st["small"],
        )
    )
    reasons = sorted(
        {
            f"{m.label}, {w.label}: {wm.reasons[m.key]}"
            for w, wm in zip(phys.windows, phys.metrics, strict=True)
            for m in METRICS
            if wm.value(m.key) is None and m.key in wm.reasons
        }
    )
    if reasons:
        out.append(Paragraph("Not measured — " + escape("; ".join(reasons)) + ".", st["small"]))
    return out


_PHYSIOLOGY_NOTE = (
    "These numbers describe the recorded signals only; they are not a clinical assessment. "
    "Heart rate: mean over the window; RMSSD: beat-to-beat variability; EDA tonic level: "
    "slow skin-conductance level; SCR rate: skin-conductance responses per minute, counted as "
    f"{SCR_RULE}."
)


def _summary_page(data: ReportData, st: dict[str, Any], width: float) -> list[Any]:
    """Page 1 of a session without analysis: physiology only."""
    from reportlab.platypus import Paragraph

    out = header(data, st, width, compact=False)
    out.append(Paragraph(escape(NOT_ANALYSED) + ".", st["notice"]))
    out += _physiology(data, st, width)
    out.append(Paragraph("In plain words", st["h2"]))
    out.append(Paragraph(escape(describe_change(data.physiology)), st["sentence"]))
    out.append(Paragraph(_PHYSIOLOGY_NOTE, st["small"]))
    return out


def _one_page(content: list[Any], width: float, height: float) -> list[Any]:
    """``content`` kept on one page: scaled down a little when long texts would push it over."""
    from reportlab.platypus import KeepInFrame

    # the frame's own padding (6 pt each side) is not available to the content
    return [KeepInFrame(width - 12, height - 12, content, mode="shrink")]


def _quality_devices_markers(data: ReportData, st: dict[str, Any], width: float) -> list[Any]:
    from reportlab.platypus import CondPageBreak, KeepTogether, Paragraph, Spacer

    q = data.quality
    out: list[Any] = [Paragraph("Recording quality", st["h2"])]
    rows: list[list[Any]] = [["Stream", "Expected (samples)", "Received", "Lost", "Lost (%)"]]
    for s in q.get("streams", []):
        lost_pct = s.get("lost_pct")
        if lost_pct is None and s.get("expected") and s.get("lost") is not None:
            lost_pct = 100.0 * float(s["lost"]) / float(s["expected"])
        rows.append(
            [
                shorten(str(s.get("name", ""))),
                count(s.get("expected")),
                count(s.get("received")),
                count(s.get("lost")),
                format_value(lost_pct, 2),
            ]
        )
    if len(rows) == 1:
        rows.append(["No stream statistics recorded", "", "", "", ""])
    out.append(table(rows, [0.32 * width, 0.2 * width, 0.18 * width, 0.15 * width, 0.15 * width]))
    out.append(Spacer(1, 6))
    other = [
        ["Item", "Value"],
        ["Session duration", format_duration(data.duration_s)],
        ["Video frames stored", count(q.get("frames_stored"))],
        ["Dropped video frames", count(q.get("frames_dropped"))],
        ["Gaps in the signal stream", count(q.get("gaps"))],
    ]
    out.append(table(other, [0.32 * width, 0.3 * width]))
    from core.report.quality import data_quality_table

    out += data_quality_table(data, st, width)

    dev_rows: list[list[Any]] = [["Device", "Type"]]
    for dev in data.devices:
        name = para(multiline(shorten(str(dev.get("name", "")))), st["cell"])
        kind = (
            "Simulated"
            if dev.get("simulated")
            else "Imported"
            if dev.get("imported")
            else "Real sensor"
        )
        dev_rows.append([name, kind])
    if len(dev_rows) == 1:
        dev_rows.append(["No device recorded", ""])
    devices = table(dev_rows, [0.62 * width, 0.38 * width], align_right_from=99)
    out.append(KeepTogether([Paragraph("Devices", st["h2"]), devices]))
    if data.source:
        src_rows: list[list[Any]] = [["Imported file", "Format", "SHA-256"]]
        for f in data.source.get("files") or []:
            src_rows.append(
                [
                    para(multiline(shorten(str(f.get("name", "?")))), st["cell"]),
                    para(shorten(str(f.get("format", "?"))), st["cell"]),
                    para(str(f.get("sha256", "?")), st["small"]),
                ]
            )
        offset = float(data.source.get("offset_s") or 0.0)
        src_note = f"Video offset {offset:+.2f} s (the video starts that long after the signals)."
        out.append(
            KeepTogether(
                [
                    Paragraph("Source of the data", st["h2"]),
                    table(src_rows, [0.3 * width, 0.18 * width, 0.52 * width], align_right_from=99),
                    para(src_note, st["cell"]),
                ]
            )
        )

    mk_rows: list[list[Any]] = [["#", "Time (m:ss)", "Kind", "Label"]]
    for i, (t_s, kind, label) in enumerate(data.markers, start=1):
        mk_rows.append(
            [
                str(i),
                format_clock(t_s),
                marker_kind(kind),
                para(multiline(shorten(label, LABEL_CHARS)), st["cell"]),
            ]
        )
    if len(mk_rows) == 1:
        mk_rows.append(["", "", "No markers set", ""])
    widths = [0.07 * width, 0.15 * width, 0.25 * width, 0.53 * width]
    markers = table(mk_rows, widths, align_right_from=99)
    # the heading stays with the first rows; a long table still splits across pages
    out += [CondPageBreak(90), Paragraph("Markers", st["h2"]), markers]
    return out


def _physiology_charts(data: ReportData, st: dict[str, Any], width: float) -> list[Any]:
    from reportlab.platypus import KeepTogether, Paragraph

    from core.report.charts import session_chart

    times = [float(m[0]) for m in data.markers]
    windows = data.physiology.windows
    charts = [
        ("Heart rate over the session", data.hr_t_s, data.hr_bpm, "Heart rate (bpm)", "#b0283c"),
        ("EDA level over the session", data.eda_t_s, data.eda_us, "EDA level (µS)", "#1f5fa8"),
    ]
    out: list[Any] = []
    for title, t, v, ylab, colour in charts:
        out.append(
            KeepTogether(
                [
                    Paragraph(title, st["h2"]),
                    session_chart(t, v, data.duration_s, windows, times, ylab, width, 140, colour),
                ]
            )
        )
    out.append(
        Paragraph(
            "Shaded: the two comparison windows. Dashed lines: markers, numbered "
            "as in the markers table.",
            st["small"],
        )
    )
    return out


def _details(data: ReportData, st: dict[str, Any], width: float) -> list[Any]:
    """Pages 2…: the details after the summary page."""
    from reportlab.platypus import CondPageBreak, Paragraph

    from core.report.analysis import model_quality, quadrant_shares, self_vs_model, timeline
    from core.report.model_outputs import outputs_section

    compact = data.analysis is not None
    # notes too long for page 1: whole here
    notes = notes_section(data, st) if page_one_notes(data, compact)[1] else []
    if data.analysis is None:
        return (
            clinical_section(data.measures, st, width)
            + _quality_devices_markers(data, st, width)
            + _physiology_charts(data, st, width)
            + notes
        )
    physiology = _physiology(data, st, width) + [Paragraph(_PHYSIOLOGY_NOTE, st["small"])]
    return (
        timeline(data, st, width)
        + outputs_section(data, st, width)
        + quadrant_shares(data, st, width)
        + self_vs_model(data, st, width)
        + clinical_section(data.measures, st, width)
        + [CondPageBreak(220)]
        + physiology
        + _physiology_charts(data, st, width)
        + model_quality(data, st, width)
        + _quality_devices_markers(data, st, width)
        + notes
    )


def _banners(data: ReportData) -> list[tuple[str, str]]:
    """(text, colour) of the banners across the top of every page."""
    out = []
    if data.simulated:
        out.append((SIMULATED_BANNER, "#c62828"))
    if data.analysis is not None and data.analysis.demo_model:
        out.append((DEMO_BANNER, "#b45309"))
    if item9_flagged(data.measures):  # core/report/clinical.py
        out.append((ITEM9_BANNER, ITEM9_COLOUR))
    return out


def render_session_report(data: ReportData, out_path: Path) -> int:
    """Write the session report as PDF at ``out_path`` (directly); return its page count."""
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.units import mm
    from reportlab.platypus import PageBreak, SimpleDocTemplate

    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    generated = data.generated_at or now_local()
    margin = 18 * mm
    banners = _banners(data)
    top = top_margin(banners, margin)
    pages = [0]
    code = footer_code(data.patient_code)

    def decorate(canvas: Any, doc: Any) -> None:
        pages[0] = max(pages[0], doc.page)
        draw_page_frame(canvas, A4, banners, margin)

    def footer_line(page: int, total: int) -> str:
        return (
            f"Page {page} of {total} · TheraScope {data.app_version} · "
            f"generated {generated} · {code}"
        )

    doc = SimpleDocTemplate(
        str(out_path),
        pagesize=A4,
        leftMargin=margin,
        rightMargin=margin,
        topMargin=top,
        bottomMargin=margin,
        title=f"TheraScope session report {data.patient_code[:FIELD_CHARS]}",
        author=data.clinic_name[:FIELD_CHARS],
        creator=f"TheraScope {data.app_version}",
    )
    st = styles()
    if data.analysis is None:
        first = _summary_page(data, st, doc.width)
    else:
        from core.report.analysis import summary_page

        first = _one_page(summary_page(data, st, doc.width), doc.width, doc.height)
    story = first + [PageBreak()] + _details(data, st, doc.width)
    doc.build(
        story,
        onFirstPage=decorate,
        onLaterPages=decorate,
        canvasmaker=page_count_canvas(footer_line, margin),
    )
    return pages[0]


def build_session_report(data: ReportData, out_path: Path) -> Path:
    """Write the session report as PDF.

    Parameters
    ----------
    data : ReportData — what to print
    out_path : Path — PDF file to write (parent folders are created)

    Returns
    -------
    Path — ``out_path``
    """
    render_session_report(data, out_path)
    return Path(out_path)
