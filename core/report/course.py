"""The course report: every session of one patient in one PDF for the file.

Page 1: title, the patient's key facts (code, the name only when chosen, sessions, period,
models, where the data came from), a plain-language sentence, the valence and arousal trends
(pre and post window of each session, ±1 SD) and the per-session table. After it: the
physiology per session (heart rate, RMSSD, EDA level, SCR rate, with their trends), the
questionnaires and self-ratings per session (GAD-7, PHQ-9, SAM, SUDS), and how the numbers were
made. The figures are those of :func:`core.analysis.course.patient_course`; a session not analysed
reads "not analysed", never a number.

It looks like the session report (:mod:`core.report.document`: its styles, tables, fonts, banners
and footer): a red banner on every page when a session was recorded from simulated devices, an
amber one when the demo model made any estimate (and each such row says so), "Page n of N",
version, generation time and "Decision support only — not a diagnosis" on every page.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from core import __version__
from core.analysis.course import (
    SPREAD_WORDS,
    SUDS_POINTS,
    TRENDS,
    PatientCourse,
    SessionCourse,
    TrendMeasure,
    estimate_text,
    format_trend_value,
    patient_course,
    trend_measure,
)
from core.catalog import Catalog
from core.clinical import PHQ9
from core.config import Settings
from core.physiology.summary import SCR_RULE
from core.report.blocks import (
    FIELD_CHARS,
    draw_page_frame,
    footer_code,
    multiline,
    page_count_canvas,
    para,
    shorten,
    styles,
    table,
    top_margin,
)
from core.report.cleanup import pending_export
from core.report.clinical import ITEM9_COLOUR
from core.report.data import DEMO_BANNER, INTENDED_USE, NOT_MEASURED, SIMULATED_BANNER
from core.report.times import local_time
from core.timefmt import format_duration, now_local

TITLE = "TheraScope course report"
#: a cell of numbers only (printed plain, right-aligned; anything else wraps)
_NUMBERS = re.compile(r"[-+0-9. /—]*")
#: after a PHQ-9 score whose item 9 was answered above 0 (printed in red, explained under the table)
FLAG_MARK = "[item 9 above 0]"
#: the red banner on every page of a course with PHQ-9 item 9 above 0 (then "— session 1, 3")
ITEM9_BANNER_COURSE = "PHQ-9 item 9 above 0"
DEMO_ROW = "demo model"
SIMULATED_ROW = "simulated"


@dataclass
class CourseReportData:
    """Everything the course report prints.

    Parameters
    ----------
    course : PatientCourse — the sessions and their figures
    clinic_name, therapist_name : str — from the settings (empty: not printed)
    patient_name : str or None — printed only when ``include_name``
    include_name : bool — the therapist chose to print the name
    generated_at : str — as printed; empty: now, local time with the zone
    app_version : str
    """

    course: PatientCourse
    clinic_name: str = ""
    therapist_name: str = ""
    patient_name: str | None = None
    include_name: bool = False
    generated_at: str = ""
    app_version: str = __version__


def course_report_data(
    catalog: Catalog,
    data_root: Path,
    patient_id: int,
    include_name: bool = False,
    settings: Settings | None = None,
    progress: Callable[[float], None] | None = None,
) -> CourseReportData:
    """The course report's data for a patient (see :func:`core.analysis.course.patient_course`).

    Raises
    ------
    KeyError — no such patient
    ValueError — the patient has no session
    """
    settings = settings or Settings.load()
    p = catalog.get_patient(patient_id)
    if p is None:
        raise KeyError(f"No patient with id {patient_id}")
    course = patient_course(catalog, data_root, patient_id, settings, progress=progress)
    if not course.sessions:
        raise ValueError(f"Patient {p.code} has no session yet: nothing for a course report.")
    return CourseReportData(
        course=course,
        clinic_name=settings.clinic_name,
        therapist_name=settings.therapist_name,
        patient_name=p.name,
        include_name=include_name,
    )


def _date(s: SessionCourse) -> str:
    return local_time(s.started_at)[:10]


def _origin(course: PatientCourse) -> str:
    n_sim = sum(s.simulated for s in course.sessions)
    if n_sim == len(course.sessions):
        return "Simulated devices (demo)"
    if n_sim:
        return f"{n_sim} of {len(course.sessions)} sessions from simulated devices"
    return "Recorded from sensors"


def _models(course: PatientCourse) -> str:
    labels: dict[str, bool] = {}
    for s in course.analysed:
        labels[s.model or "unnamed checkpoint"] = s.demo_model
    if not labels:
        return "no session analysed yet"
    return "; ".join(shorten(k) + (" (demo model)" if demo else "") for k, demo in labels.items())


def facts(data: CourseReportData) -> list[tuple[str, str]]:
    """The key facts printed on page 1 (typed fields cut after ``FIELD_CHARS``)."""
    c = data.course
    first, last = c.sessions[0], c.sessions[-1]
    pairs = [("Patient code", shorten(c.code))]
    if data.include_name and data.patient_name:
        pairs.append(("Patient name", shorten(data.patient_name)))
    pairs += [
        ("Sessions", f"{len(c.sessions)} ({len(c.analysed)} analysed)"),
        ("Period", f"{_date(first)} – {_date(last)}"),
        ("Data", _origin(c)),
        ("Model", _models(c)),
    ]
    if data.therapist_name.strip():
        pairs.append(("Therapist", shorten(data.therapist_name.strip())))
    return pairs


def _shift_words(before: float, after: float, up: str, down: str) -> str:
    """``"calmer (-0.40)"``; "about the same" for a change under 0.05."""
    d = after - before
    if abs(d) < 0.05:
        return "about the same"
    return f"{up if d > 0 else down} ({d:+.2f})"


def plain_summary(course: PatientCourse) -> str:
    """First against last analysed session (their post windows), and GAD-7 first against last,
    in plain words."""
    parts = []
    done = course.analysed
    post = [
        s
        for s in done
        if s.value("valence", "post") is not None and s.value("arousal", "post") is not None
    ]
    if len(post) >= 2:
        a, b = post[0], post[-1]
        va, vb = a.value("valence", "post"), b.value("valence", "post")
        aa, ab = a.value("arousal", "post"), b.value("arousal", "post")
        assert va is not None and vb is not None and aa is not None and ab is not None
        parts.append(
            f"By the model's estimates, the end of session {b.number} ({_date(b)}) was "
            f"{_shift_words(va, vb, 'more pleasant', 'less pleasant')} and "
            f"{_shift_words(aa, ab, 'more activated', 'calmer')} than the end of session "
            f"{a.number} ({_date(a)})."
        )
    elif len(done) == 1:
        parts.append("Only one session is analysed so far: no course of the estimates yet.")
    else:
        parts.append("No two sessions with estimates after treatment yet: no course to describe.")
    gad = [(s, v) for s, v in course.trend("gad7", "pre")]
    if len(gad) >= 2:
        (s0, g0), (s1, g1) = gad[0], gad[-1]
        parts.append(
            f"GAD-7 before the session: {g0:.0f} in session {s0.number}, {g1:.0f} in session "
            f"{s1.number}."
        )
    n_not = len(course.sessions) - len(done)
    if n_not:
        parts.append(f"{n_not} session(s) not analysed yet: shown without estimates.")
    flagged = _flagged_numbers(course)
    if flagged:
        parts.append(
            f"PHQ-9 item 9 (thoughts of being better off dead or of self-harm) was answered "
            f"above 0 in session {flagged}: see the questionnaires below."
        )
    return " ".join(parts)


def _flagged_numbers(course: PatientCourse) -> str:
    """``"1, 3"``: the sessions whose PHQ-9 item 9 was answered above 0 (``""`` if none)."""
    return ", ".join(str(s.number) for s in course.sessions if s.flagged)


def _row_tags(s: SessionCourse) -> str:
    tags = [t for t, on in ((SIMULATED_ROW, s.simulated), (DEMO_ROW, s.demo_model)) if on]
    return f" ({', '.join(tags)})" if tags else ""


def session_rows(course: PatientCourse) -> list[list[str]]:
    """The per-session table: No., date, state, valence and arousal before and after (mean ±
    SD), quadrant of the means."""
    rows = [["No.", "Date", "State", "Valence pre", "Valence post", "Arousal pre", "Arousal post"]]
    for s in course.sessions:
        rows.append(
            [
                str(s.number),
                _date(s),
                s.state + _row_tags(s).replace(" (", "\n("),
                *(
                    estimate_text(s.estimate(k, p), s.analysed)
                    for k in ("valence", "arousal")
                    for p in ("pre", "post")
                ),
            ]
        )
    return rows


def _pair(s: SessionCourse, m: TrendMeasure) -> str:
    a, b = s.value(m.key, "pre"), s.value(m.key, "post")
    if a is None and b is None:
        return NOT_MEASURED
    return f"{format_trend_value(a, m)} / {format_trend_value(b, m)}"


PHYSIOLOGY_KEYS = ("hr_bpm", "rmssd_ms", "eda_tonic_us", "scr_per_min")
RATING_KEYS = ("gad7", "phq9", "sam_valence", "sam_arousal", "suds")


def _questionnaire_cell(s: SessionCourse, key: str) -> str:
    """``"before: 15 (severe)\nafter: 12 (moderate)"`` (phases entered only), PHQ-9 item 9
    above 0 marked; "—" when neither phase was entered."""
    lines = []
    for phase, word in (("pre", "before"), ("post", "after")):
        text = s.questionnaire_text(key, phase)
        if text == NOT_MEASURED:
            continue
        q = s.questionnaires.get(phase, {}).get(key)
        lines.append(f"{word}: {text}" + (f" {FLAG_MARK}" if q is not None and q.flagged else ""))
    return "\n".join(lines) or NOT_MEASURED


def _suds_cell(s: SessionCourse) -> str:
    if not s.suds:
        return NOT_MEASURED
    if len(s.suds) == 1:
        return f"{s.suds[0][1]}\n(1 rating)"
    return f"{s.suds[0][1]} / {s.suds[-1][1]}\n({len(s.suds)} ratings)"


def measure_rows(course: PatientCourse, keys: tuple[str, ...]) -> list[list[str]]:
    """A table of ``keys`` per session, each cell "pre / post" (GAD-7 and PHQ-9: each phase with
    its severity band; SUDS: first / last rating and how many)."""
    ms = [trend_measure(k) for k in keys]
    head = ["No.", "Date", *(m.title.replace(" (", "\n(") for m in ms)]
    rows = [head]
    for s in course.sessions:
        cells = []
        for m in ms:
            if m.key in ("gad7", "phq9"):
                cells.append(_questionnaire_cell(s, m.key))
            elif m.key == "suds":
                cells.append(_suds_cell(s))
            else:
                cells.append(_pair(s, m))
        rows.append([str(s.number), _date(s), *cells])
    return rows


def _charts(
    data: CourseReportData, keys: tuple[str, ...], st: dict[str, Any], width: float
) -> list[Any]:
    from reportlab.platypus import KeepTogether, Paragraph

    from core.report.course_charts import trend_chart

    out: list[Any] = []
    for k in keys:
        m = trend_measure(k)
        if not data.course.has(k):
            continue
        head = escape(m.title)
        if k == "suds":  # not the pre/post windows: the session's first and last rating
            head += f" <font size='8'>— {escape(SUDS_POINTS)}</font>"
        out.append(KeepTogether([Paragraph(head, st["h3"]), trend_chart(data.course, m, width)]))
    return out


def _table(
    rows: list[list[str]],
    width: float,
    st: dict[str, Any],
    first: tuple[float, ...],
    rest: tuple[float, ...] | None = None,
) -> Any:
    """``first``: the text columns' shares of ``width``; ``rest``: the other columns' (default:
    equal). Header cells, text columns and cells with words wrap (the flag in red); plain
    numbers ("94.8 / 72.1", "—") stay plain, right-aligned."""
    n_rest = len(rows[0]) - len(first)
    shares = rest or (((1.0 - sum(first)) / max(n_rest, 1),) * n_rest)
    widths = [f * width for f in (*first, *shares)]

    def cell(i: int, j: int, c: str) -> Any:
        if i == 0 or j < len(first) or not _NUMBERS.fullmatch(c):
            text = multiline(c).replace(
                escape(FLAG_MARK), f"<font color='#c62828'><b>{escape(FLAG_MARK)}</b></font>"
            )
            return para(text, st["cell"])
        return c

    cells = [[cell(i, j, c) for j, c in enumerate(row)] for i, row in enumerate(rows)]
    return table(cells, widths, align_right_from=len(first))


def _story(data: CourseReportData, st: dict[str, Any], width: float) -> list[Any]:
    from reportlab.platypus import CondPageBreak, KeepTogether, PageBreak, Paragraph, Spacer

    from core.report.course_charts import legend

    c = data.course
    out: list[Any] = [Paragraph(TITLE, st["title"])]
    if data.clinic_name.strip():
        out.append(para(multiline(shorten(data.clinic_name.strip())), st["clinic"]))
    rows: list[list[Any]] = [[k, para(multiline(v), st["cell"])] for k, v in facts(data)]
    out.append(table(rows, [0.25 * width, 0.75 * width], align_right_from=99, header=False))
    if c.demo_model:
        out.append(
            Paragraph(
                "Estimates marked “demo model” come from TheraScope's demo model: they show how "
                "the software works and are not clinically valid.",
                st["notice"],
            )
        )
    out.append(Paragraph("In plain words", st["h2"]))
    out.append(Paragraph(escape(plain_summary(c)), st["sentence"]))
    out.append(Paragraph("Valence and arousal across the sessions", st["h2"]))
    out.append(legend(width))
    out += _charts(data, ("valence", "arousal"), st, width)
    out.append(PageBreak())
    out.append(Paragraph("Per session: the model's estimates", st["h2"]))
    out.append(_table(session_rows(c), width, st, (0.06, 0.13, 0.21)))
    out.append(
        Paragraph(
            escape(
                f"Valence and arousal on the circumplex scale (−1…+1), {SPREAD_WORDS}. "
                "Pre and post windows as on each session's review: the therapist's treatment "
                f"markers, else the first and last {c.phase_minutes:g} minutes (a third of a "
                "shorter session each)."
            ).replace("−", "-"),
            st["small"],
        )
    )
    out.append(Paragraph("Physiology per session", st["h2"]))
    out.append(_table(measure_rows(c, PHYSIOLOGY_KEYS), width, st, (0.06, 0.14)))
    out.append(
        Paragraph(
            escape(
                "Each cell: before / after (pre / post window). Heart rate: mean over the "
                "window; RMSSD: beat-to-beat variability; EDA tonic level: slow skin-conductance "
                f"level; SCR rate: skin-conductance responses per minute, counted as {SCR_RULE}. "
                f"{NOT_MEASURED} = not measured (e.g. too little clean signal in the window)."
            ),
            st["small"],
        )
    )
    notes = [f"Session {s.number}: {s.physiology_note}" for s in c.sessions if s.physiology is None]
    if notes:
        out.append(Paragraph(escape("; ".join(notes)) + ".", st["small"]))
    out += _charts(data, PHYSIOLOGY_KEYS, st, width)
    out.append(CondPageBreak(160))
    out.append(Paragraph("Questionnaires and self-ratings per session", st["h2"]))
    rating_widths = (0.22, 0.22, 0.1, 0.1, 0.17)
    out.append(_table(measure_rows(c, RATING_KEYS), width, st, (0.06, 0.13), rating_widths))
    flagged = [str(s.number) for s in c.sessions if s.flagged]
    if flagged:
        out.append(
            Paragraph(
                f"<font color='#c62828'><b>{escape(PHQ9.flag_text)} (session "
                f"{', '.join(flagged)}).</b></font>",
                st["body"],
            )
        )
    out.append(
        Paragraph(
            escape(
                "GAD-7 (Spitzer et al. 2006) and PHQ-9 (Kroenke et al. 2001): total and severity "
                "band before and after the session; a questionnaire with items missing has no "
                "total. SAM: before / after (1–9). SUDS: the session's first / last rating "
                f"(0–100; not the pre/post windows; a single rating is one value and one point). "
                f"{NOT_MEASURED} = not entered. On the charts the published cut-offs "
                "(GAD-7 5, 10, 15; PHQ-9 5, 10, 15, 20) are dotted lines."
            ),
            st["small"],
        )
    )
    out += _charts(data, RATING_KEYS, st, width)
    out.append(
        KeepTogether(
            [
                Paragraph("About these numbers", st["h2"]),
                Paragraph(escape(INTENDED_USE), st["body"]),
                Spacer(1, 4),
                Paragraph(
                    escape(
                        "Every figure is computed afresh from the stored recordings, analyses "
                        "and ratings when the report is made; sessions are shown by date, "
                        "oldest first, numbered as on the patient page. Sessions lasted "
                        + ", ".join(
                            f"{s.number}: {format_duration(s.duration_s or 0.0)}"
                            for s in c.sessions
                        )
                        + "."
                    ),
                    st["small"],
                ),
            ]
        )
    )
    return out


def _banners(data: CourseReportData) -> list[tuple[str, str]]:
    out = []
    n_sim, n = sum(s.simulated for s in data.course.sessions), len(data.course.sessions)
    if n_sim == n:
        out.append((SIMULATED_BANNER, "#c62828"))
    elif n_sim:
        out.append((f"SIMULATED DATA — {n_sim} of {n} sessions not real recordings", "#c62828"))
    if data.course.demo_model:
        out.append((DEMO_BANNER, "#b45309"))
    flagged = _flagged_numbers(data.course)
    if len(flagged) > 40:  # the banner stays one line: the first sessions, then how many
        n = sum(s.flagged for s in data.course.sessions)
        flagged = flagged[:30].rsplit(",", 1)[0] + f", … ({n} sessions)"
    if flagged:
        out.append((f"{ITEM9_BANNER_COURSE} — session {flagged} (see the ratings)", ITEM9_COLOUR))
    return out


def render_course_report(data: CourseReportData, out_path: Path) -> int:
    """Write the course report as PDF at ``out_path`` (directly); return its page count."""
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.platypus import SimpleDocTemplate

    generated = data.generated_at or now_local()
    margin = 18 * mm
    banners = _banners(data)
    top = top_margin(banners, margin)
    code = footer_code(data.course.code)
    pages = [0]

    def decorate(canvas: Any, doc: Any) -> None:
        pages[0] = max(pages[0], doc.page)
        draw_page_frame(canvas, A4, banners, margin)

    def footer_line(page: int, total: int) -> str:
        return (
            f"Page {page} of {total} · TheraScope {data.app_version} · "
            f"generated {generated} · course report · {code}"
        )

    out_path = Path(out_path)
    doc = SimpleDocTemplate(
        str(out_path),
        pagesize=A4,
        leftMargin=margin,
        rightMargin=margin,
        topMargin=top,
        bottomMargin=margin,
        title=f"{TITLE} {data.course.code[:FIELD_CHARS]}",
        author=data.clinic_name[:FIELD_CHARS],
        creator=f"TheraScope {data.app_version}",
    )
    st = styles()
    st["h3"] = ParagraphStyle("h3", parent=st["body"], fontName="Helvetica-Bold", spaceBefore=6)
    doc.build(
        _story(data, st, doc.width), onFirstPage=decorate, onLaterPages=decorate,
        canvasmaker=page_count_canvas(footer_line, margin),
    )  # fmt: skip
    return pages[0]


def export_course_report(
    catalog: Catalog,
    data_root: Path,
    patient_id: int,
    out_path: Path,
    include_name: bool = False,
    settings: Settings | None = None,
    progress: Callable[[float], None] | None = None,
) -> Path:
    """Build the patient's course report at ``out_path`` and audit the export.

    Written to a temporary file beside ``out_path`` and renamed (journalled while it runs, as
    the session report: :func:`core.report.cleanup.pending_export`), so a failure never leaves
    half a report nor replaces an earlier one.

    Raises
    ------
    KeyError — no such patient
    ValueError — the patient has no session
    """
    data = course_report_data(catalog, data_root, patient_id, include_name, settings, progress)
    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    with pending_export(data_root, out) as tmp:
        pages = render_course_report(data, tmp)
        printed_name = bool(data.include_name and data.patient_name)
        catalog.audit(
            "export",
            "patient",
            patient_id,
            f"course report, {len(data.course.sessions)} sessions, {pages} pages"
            + (", with name" if printed_name else ""),
        )
    return out


__all__ = [
    "TITLE",
    "TRENDS",
    "CourseReportData",
    "course_report_data",
    "export_course_report",
    "measure_rows",
    "plain_summary",
    "render_course_report",
    "session_rows",
]
