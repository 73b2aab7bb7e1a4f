"""The analysed session's sections of the PDF report (see :mod:`core.report.document`).

Page 1 (:func:`summary_page`): header, circumplex figure, pre/post table, plain-language summary.
Details: :func:`timeline` (valence and arousal over the session), :func:`quadrant_shares`,
:func:`self_vs_model` (the patient's SAM/GAD-7 beside the model's means on the 1–9 scale) and
:func:`model_quality` (checkpoint, inputs, device, frame counts, intended use). reportlab is
imported inside the functions, as in :mod:`core.report.document`.
"""

from __future__ import annotations

from typing import Any
from xml.sax.saxutils import escape

import numpy as np

from core.analysis.circumplex import NEUTRAL, QUADRANTS, PhaseStats, describe_shift, quadrant_label
from core.physiology.summary import describe_change
from core.report.blocks import count, header, multiline, para, shorten, table
from core.report.data import DEMO_BANNER, INTENDED_USE, NOT_MEASURED, ReportData
from core.report.quality import model_quality_rows
from core.report.times import local_time
from core.timefmt import format_clock

_SELF_FIELDS = (
    ("sam_valence", "Valence, SAM 1–9 (unpleasant–pleasant)", "mean_valence"),
    ("sam_arousal", "Arousal, SAM 1–9 (calm–activated)", "mean_arousal"),
    ("gad7", "GAD-7 total (0–21)", None),
)


def _signed(x: float) -> str:
    return NOT_MEASURED if not np.isfinite(x) else f"{round(x, 2) + 0.0:+.2f}"


def _mean_sd(mean: float, sd: float) -> str:
    if not np.isfinite(mean):
        return NOT_MEASURED
    return _signed(mean) + (f" ± {sd:.2f}" if np.isfinite(sd) else "")


def _phase_title(s: PhaseStats) -> str:
    return f"{s.label[:1].upper()}{s.label[1:]}"


def _self_point(data: ReportData, phase: str) -> tuple[float, float] | None:
    """The patient's SAM rating of one phase on the circumplex scale, when both were entered."""
    rep = data.self_reports.get(phase) or {}
    v, a = rep.get("sam_valence"), rep.get("sam_arousal")
    if v is None or a is None:
        return None
    return ((v - 5.0) / 4.0, (a - 5.0) / 4.0)


def _self_sentence(data: ReportData) -> str:
    """``"Self-ratings (SAM, 1–9): valence 3 before and 7 after; arousal 8 before and 3 after."``"""
    parts = []
    for key, name in (("sam_valence", "valence"), ("sam_arousal", "arousal")):
        pre = (data.self_reports.get("pre") or {}).get(key)
        post = (data.self_reports.get("post") or {}).get(key)
        if pre is not None and post is not None:
            parts.append(f"{name} {pre} before and {post} after")
        elif pre is not None:
            parts.append(f"{name} {pre} before (none after)")
        elif post is not None:
            parts.append(f"{name} {post} after (none before)")
    return f"The patient's own ratings (SAM, 1–9): {'; '.join(parts)}." if parts else ""


def plain_summary(data: ReportData) -> str:
    """The plain-language summary on page 1 (a fixed template).

    "<circumplex sentence> <physiology sentences> [<self-ratings sentence>]", the first from
    :func:`core.analysis.circumplex.describe_shift`, the second from
    :func:`core.physiology.summary.describe_change` (lengths as m:ss).
    """
    assert data.analysis is not None
    parts = [
        "Model estimates: " + describe_shift(data.analysis.circumplex),
        "Physiology: " + describe_change(data.physiology),
        _self_sentence(data),
    ]
    return " ".join(p for p in parts if p)


def _prepost_table(data: ReportData, st: dict[str, Any], width: float) -> Any:
    assert data.analysis is not None
    c = data.analysis.circumplex
    head = [
        para(f"<b>{h}</b>", st["cell"])
        for h in (
            "Window",
            "Valence<br/>mean ± SD",
            "Arousal<br/>mean ± SD",
            "Quadrant of the mean",
            "Coverage",
        )
    ]
    rows: list[list[Any]] = [head]
    for s in (c.pre, c.post):
        rows.append(
            [
                para(
                    f"<b>{escape(_phase_title(s))}</b><br/>"
                    f"{format_clock(s.start_s)}–{format_clock(s.end_s)}",
                    st["cell"],
                ),
                _mean_sd(s.mean_valence, s.sd_valence),
                _mean_sd(s.mean_arousal, s.sd_arousal),
                para(escape(quadrant_label(s.quadrant)), st["cell"]),
                para(
                    f"{s.coverage:.0%} <font size=7>({s.n_estimated} of {s.n_frames})</font>",
                    st["cell_r"],
                ),
            ]
        )
    widths = [0.22, 0.17, 0.17, 0.27, 0.17]
    return table(rows, [w * width for w in widths], align_right_from=1)


def summary_page(data: ReportData, st: dict[str, Any], width: float) -> list[Any]:
    from reportlab.platypus import Paragraph, Spacer

    from core.report.circumplex import circumplex_figure

    a = data.analysis
    assert a is not None
    c = a.circumplex
    out = header(data, st, width, compact=True)
    title = "Valence and arousal before and after (model estimates)"
    out.append(Paragraph(title, st["h2"]))
    out.append(
        circumplex_figure(
            c,
            _self_point(data, "pre"),
            _self_point(data, "post"),
            width,
            side=min(225.0, 0.45 * width),
            demo_model=a.demo_model,
            phase_minutes=data.physiology.phase_minutes,
        )
    )
    out.append(Spacer(1, 6))
    out.append(_prepost_table(data, st, width))
    out.append(Spacer(1, 3))
    note = (
        f"{escape(c.note)} Scale −1…+1 (a 1–9 rating r is (r − 5) / 4); SD = spread over the "
        f"window's frames; coverage = frames with an estimate. Points within "
        f"{c.neutral_radius:g} of the centre count as near neutral."
    )
    if a.demo_model:
        note = f"<b>{escape(DEMO_BANNER)}.</b> " + note
    out.append(Paragraph(note, st["small"]))
    out.append(Paragraph("In plain words", st["h2"]))
    out.append(Paragraph(escape(plain_summary(data)), st["sentence"]))
    out.append(
        Paragraph(
            "Decision support for the treating clinician; not a diagnosis. Timeline, quadrant "
            "shares, self-ratings, physiology and the model's data quality follow on the next "
            "pages.",
            st["small"],
        )
    )
    return out


def timeline(data: ReportData, st: dict[str, Any], width: float) -> list[Any]:
    from reportlab.platypus import KeepTogether, Paragraph

    from core.report.charts import session_chart

    a = data.analysis
    assert a is not None
    times = [float(m[0]) for m in data.markers]
    windows = data.physiology.windows
    charts = []
    for values, label, words, colour in (
        (a.valence, "Valence (-1 to +1)", ("unpleasant", "pleasant"), "#6a3d9a"),
        (a.arousal, "Arousal (-1 to +1)", ("calm", "activated"), "#b35806"),
    ):
        charts.append(
            session_chart(
                a.t_s,
                values,
                data.duration_s,
                windows,
                times,
                label,
                width,
                128,
                colour,
                y_range=(-1.0, 1.0),
                zero_line=True,
                nan_tolerant=True,
                y_ticks=words,
            )
        )
    return [
        KeepTogether(
            [
                Paragraph("Valence and arousal over the session", st["h2"]),
                *charts,
                Paragraph(
                    "Model estimates per analysed frame. Gaps: no estimate (no face found, "
                    "incomplete bio-signal window, or a part of the session that was not "
                    "analysed). Shaded: the two comparison windows. Dashed lines: markers, "
                    "numbered as in the markers table.",
                    st["small"],
                ),
            ]
        )
    ]


def quadrant_shares(data: ReportData, st: dict[str, Any], width: float) -> list[Any]:
    from reportlab.platypus import KeepTogether, Paragraph, Spacer

    from core.report.circumplex import SHARE_ORDER, share_bars

    a = data.analysis
    assert a is not None
    c = a.circumplex
    names = [
        "<b>Near neutral</b>"
        if q == NEUTRAL
        else f"<b>Q{q} {QUADRANTS[q][0]}</b><br/><font size=7.5>{QUADRANTS[q][1]}</font>"
        for q in SHARE_ORDER
    ]
    rows: list[list[Any]] = [
        [
            para("<b>Window</b>", st["cell"]),
            *[para(n, st["cell"]) for n in names],
            para("<b>Frames estimated</b>", st["cell"]),
        ]
    ]
    for s in (c.pre, c.post):
        cells = [
            f"{s.shares.get(q, 0.0):.0%}" if s.n_estimated else NOT_MEASURED for q in SHARE_ORDER
        ]
        rows.append([_phase_title(s), *cells, str(s.n_estimated)])
    widths = [0.16] + [0.14] * 5 + [0.14]
    return [
        KeepTogether(
            [
                Paragraph("Time in each quadrant", st["h2"]),
                table(rows, [w * width for w in widths]),
                Spacer(1, 6),
                share_bars(c, width),
                Paragraph(
                    "Share of the window's estimated frames in each quadrant; near neutral = "
                    f"within {c.neutral_radius:g} of the centre.",
                    st["small"],
                ),
            ]
        )
    ]


def self_vs_model(data: ReportData, st: dict[str, Any], width: float) -> list[Any]:
    from reportlab.platypus import KeepTogether, Paragraph

    a = data.analysis
    assert a is not None
    c = a.circumplex

    def model(s: PhaseStats, attr: str | None) -> str:
        if attr is None:
            return NOT_MEASURED
        x = float(getattr(s, attr))
        return NOT_MEASURED if not np.isfinite(x) else f"{5.0 + 4.0 * x:.1f}"

    def own(phase: str, key: str) -> str:
        v = (data.self_reports.get(phase) or {}).get(key)
        return "not entered" if v is None else str(v)

    head = [
        "Measure",
        para(f"<b>Patient</b><br/>{escape(c.pre.label)}", st["cell"]),
        para(f"<b>Model</b><br/>{escape(c.pre.label)}", st["cell"]),
        para(f"<b>Patient</b><br/>{escape(c.post.label)}", st["cell"]),
        para(f"<b>Model</b><br/>{escape(c.post.label)}", st["cell"]),
    ]
    rows: list[list[Any]] = [head]
    for key, label, attr in _SELF_FIELDS:
        rows.append(
            [
                para(escape(label), st["cell"]),
                own("pre", key),
                model(c.pre, attr),
                own("post", key),
                model(c.post, attr),
            ]
        )
    t = table(rows, [w * width for w in (0.36, 0.15, 0.17, 0.15, 0.17)])
    return [
        KeepTogether(
            [
                Paragraph("The patient's own ratings beside the model's estimates", st["h2"]),
                t,
                Paragraph(
                    "Patient: Self-Assessment Manikin (SAM) ratings 1–9 and the GAD-7 total as "
                    "entered before and after the session. Model: the window's mean estimate "
                    "converted back to the 1–9 scale (5 + 4 × mean); the model does not "
                    "estimate GAD-7."
                    + (
                        " Estimates from the demo model — not clinically valid."
                        if a.demo_model
                        else ""
                    ),
                    st["small"],
                ),
            ]
        )
    ]


def _spans_text(spans: Any) -> str:
    if not spans:
        return "the whole session"
    parts = []
    for span in spans:
        try:
            a, b = float(span[0]), float(span[1])
        except (TypeError, ValueError, IndexError):
            continue
        parts.append(f"{format_clock(a)}–{format_clock(b)}")
    return ", ".join(parts) if parts else "the whole session"


def _share_of(part: Any, whole: Any) -> str:
    if part is None:
        return NOT_MEASURED
    if not whole:
        return count(part)
    return f"{count(part)} ({100.0 * float(part) / float(whole):.0f} %)"


def model_quality(data: ReportData, st: dict[str, Any], width: float) -> list[Any]:
    from reportlab.platypus import KeepTogether, Paragraph

    a = data.analysis
    assert a is not None
    info = a.info
    ck = info.get("checkpoint") or {}
    counts = info.get("counts") or {}
    stored, analysed = counts.get("frames_stored"), counts.get("frames_analysed")
    sha = str(ck.get("sha256") or "")
    # typed by whoever trained the model: any script, any length
    label = shorten(str(ck.get("label") or "unnamed checkpoint"))
    trained = shorten(str(ck.get("training_data") or "not stated in the checkpoint"))
    if a.demo_model:
        label += " — DEMO MODEL, not clinically valid"
    arch = " / ".join(str(ck[k]) for k in ("variant", "backbone") if ck.get(k)) or NOT_MEASURED
    frames_per_s = info.get("frames_per_s")
    rate_text = (
        "every stored frame" if not frames_per_s else f"{float(frames_per_s):g} frames per second"
    )
    lost = sum(int(s.get("lost") or 0) for s in data.quality.get("streams", []))
    wall = (info.get("timings_s") or {}).get("wall")
    rows: list[list[str]] = [
        ["Model (checkpoint)", label],
        ["Checkpoint file SHA-256", f"{sha[:12]}…" if sha else NOT_MEASURED],
        ["Trained on", trained],
        ["Architecture (variant / backbone)", arch],
        ["Inputs", str(info.get("inputs") or ck.get("modalities") or NOT_MEASURED)],
        ["Ran on", str(info.get("device") or NOT_MEASURED)],
        ["Numeric precision", str(info.get("precision") or NOT_MEASURED)],
        [
            "Frames analysed of stored",
            f"{count(analysed)} of {count(stored)}"
            + (
                f" ({100.0 * float(analysed) / float(stored):.0f} %)"
                if analysed is not None and stored
                else ""
            ),
        ],
        ["Frames with an estimate", _share_of(counts.get("estimated"), analysed)],
        ["Frames without a face", _share_of(counts.get("without_face"), analysed)],
        [
            "Frames with an incomplete bio-signal window",
            _share_of(counts.get("bio_incomplete"), analysed),
        ],
        [
            "Lost bio-signal samples (recording)",
            count(lost) if data.quality.get("streams") else NOT_MEASURED,
        ],
        ["Dropped video frames (recording)", count(data.quality.get("frames_dropped"))],
        *model_quality_rows(data.quality.get("summary")),
        ["Parts of the session analysed", _spans_text(info.get("spans"))],
        ["Analysis rate", rate_text],
    ]
    if wall is not None:
        rows.append(["Analysis time", f"{float(wall):.1f} s"])
    if info.get("created_at"):
        rows.append(["Analysed at", local_time(str(info["created_at"]))])
    cells = [[k, para(multiline(v), st["cell"])] for k, v in rows]
    return [
        KeepTogether(
            [
                Paragraph("Model and data quality", st["h2"]),
                table(cells, [0.42 * width, 0.58 * width], align_right_from=99, header=False),
            ]
        ),
        KeepTogether(
            [
                Paragraph("Intended use", st["h2"]),
                Paragraph(escape(INTENDED_USE), st["body"]),
            ]
        ),
    ]
