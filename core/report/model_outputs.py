"""The session report's section on liking and the seven basic emotions (the model's outputs
beyond valence and arousal), from :func:`core.analysis.model_outputs.summarise_outputs`.

A table of every output's means in the pre and post windows and their change, then the course
of each output the model learned. An output it did not learn reads "not estimated by this
model" in the table, with no number and no chart. reportlab is imported inside the functions,
as in :mod:`core.report.document`.
"""

from __future__ import annotations

from typing import Any
from xml.sax.saxutils import escape

from core.analysis.model_outputs import (
    NOT_ESTIMATED,
    OutputsSummary,
    format_change,
    format_mean,
    words,
)
from core.physiology.summary import PhaseWindow
from core.report.blocks import para, table
from core.report.data import ReportData

#: line colour of each output's chart (as on the review screen)
COLOURS = {
    "liking": "#6a3d9a",
    "neutral": "#555555",
    "disgust": "#8c6d31",
    "happiness": "#b8860b",
    "surprise": "#138a96",
    "anger": "#c0392b",
    "fear": "#7b3294",
    "sadness": "#1f6fb2",
}
HEADING = "Liking and emotions (the model's other outputs)"
CHART_HEIGHT = 92.0


def _windows(s: OutputsSummary) -> list[PhaseWindow]:
    first = s.outputs[0].windows if s.outputs else []
    return [PhaseWindow(w.name, w.label, w.start_s, w.end_s, "") for w in first]


def _intro(s: OutputsSummary) -> str:
    learned = escape(words(s.learned))
    demo = " <b>Demo model — not clinically valid.</b>" if s.demo_model else ""
    if not s.estimated:
        return (
            f"This model learned {learned} only: liking and the seven emotions are "
            f"<b>{NOT_ESTIMATED}</b> ({escape(s.basis)}).{demo}"
        )
    return (
        f"Outputs of the model beyond valence and arousal: liking (1–9) and the seven basic "
        f"emotions (scores, 0 absent – 1 present). The model learned {learned} "
        f"({escape(s.basis)}); outputs it did not learn are not estimated.{demo}"
    )


def outputs_section(data: ReportData, st: dict[str, Any], width: float) -> list[Any]:
    """The section's flowables; none when the session is not analysed or the report data
    carry no output summary."""
    from reportlab.platypus import KeepTogether, Paragraph, Spacer, TableStyle

    from core.report.charts import session_chart

    a = data.analysis
    s = a.model_outputs if a is not None else None
    if s is None or not s.outputs:
        return []
    pre, post = s.outputs[0].windows[:2]
    rows: list[list[Any]] = [
        [
            "Output",
            "Scale",
            f"{pre.label[:1].upper()}{pre.label[1:]}",
            f"{post.label[:1].upper()}{post.label[1:]}",
            "Change",
        ]
    ]
    spans: list[tuple[Any, ...]] = []
    for i, o in enumerate(s.outputs, start=1):
        if o.estimated:
            w0, w1 = o.windows[:2]
            rows.append(
                [o.title, o.scale, format_mean(o, w0), format_mean(o, w1), format_change(o)]
            )
        else:
            rows.append([o.title, o.scale, NOT_ESTIMATED, "", ""])
            spans.append(("SPAN", (2, i), (4, i)))
            spans.append(("ALIGN", (2, i), (4, i), "LEFT"))
            spans.append(("TEXTCOLOR", (2, i), (4, i), "#666666"))
    fractions = (0.16, 0.24, 0.22, 0.22, 0.16)
    t = table(rows, [f * width for f in fractions], align_right_from=2)
    if spans:
        t.setStyle(TableStyle(spans))
    head = [
        Paragraph(HEADING, st["h2"]),
        para(_intro(s), st["body"]),
        Spacer(1, 4),
        t,
    ]
    if s.estimated:
        head.append(
            Paragraph(
                "Mean ± SD of the window's frames with an estimate; change = after minus before.",
                st["small"],
            )
        )
    out: list[Any] = [KeepTogether(head)]
    times = [float(m[0]) for m in data.markers]
    windows = _windows(s)
    for o in s.estimated:
        y_range = (1.0, 9.0) if o.name == "liking" else None
        chart = session_chart(
            o.t_s,
            o.values,
            data.duration_s,
            windows,
            times,
            f"{o.title} ({o.scale.split(' (')[0]})" if o.name == "liking" else f"{o.title} (score)",
            width,
            CHART_HEIGHT,
            COLOURS.get(o.name, "#333333"),
            y_range=y_range,
            nan_tolerant=True,
        )
        out.append(chart)
    if s.estimated:
        out.append(
            Paragraph(
                "Model estimates per analysed frame. Gaps: no estimate. Shaded: the two "
                "comparison windows. Dashed lines: markers, numbered as in the markers table.",
                st["small"],
            )
        )
    return out


def _figure(mean: Any, sd: Any) -> str:
    if mean is None:
        return "–"
    return f"{mean:.2f}" + (f" ± {sd:.2f}" if sd is not None else "")


def outputs_lines(d: dict[str, Any] | None) -> list[str]:
    """``therascope show``'s text lines for :meth:`OutputsSummary.to_dict` ``d`` (strict JSON:
    None for every figure of an output the model did not learn)."""
    if not d:
        return []
    demo = " — DEMO MODEL, not clinically valid" if d.get("demo_model") else ""
    out = [
        f"  Liking and emotions (the model learned {words(d.get('learned') or [])}; "
        f"{d.get('basis') or ''}){demo}"
    ]
    for o in d.get("outputs") or []:
        if not o.get("estimated"):
            out.append(f"    {o['name']:<10} {NOT_ESTIMATED}")
            continue
        parts = [f"{w['label']} {_figure(w['mean'], w['sd'])}" for w in o["windows"]]
        change = o.get("change")
        parts.append("change –" if change is None else f"change {change:+.2f}")
        out.append(f"    {o['name']:<10} " + "; ".join(parts))
    return out
