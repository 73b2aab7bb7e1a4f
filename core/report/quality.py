"""The data-quality lines of the PDF report: sensor link and outages, packet errors, clock drift,
and the session's files against their checksums (a damaged file: a red line naming it, its damaged
bytes and the samples or frames it cost).

``ReportData.quality["summary"]`` holds :func:`core.quality.session.quality_summary` of the session
(absent for reports built without a session folder: then nothing is added). The same wording as
the review screen's panel (:mod:`core.quality.text`); only WinAnsi characters (see
:mod:`core.report.document`). reportlab is imported inside the functions.
"""

from __future__ import annotations

from typing import Any, Literal
from xml.sax.saxutils import escape

from core.palette import LIGHT_COLOURS
from core.quality.session import LinkSummary, QualitySummary, StreamSummary
from core.quality.text import (
    VERDICT_WORDS,
    battery_text,
    checksums_text,
    damaged_text,
    drift_text,
    file_text,
    link_text,
    outages_text,
    packets_text,
    spread_text,
    video_rows,
)
from core.report.data import ReportData, quality_verdict_text

#: the summary's parts, as the table names them
_PARTS: tuple[tuple[Literal["signals", "link", "video"], str], ...] = (
    ("signals", "Signals"),
    ("link", "Sensor link"),
    ("video", "Video"),
)
#: the start of the rows printed in red: a damaged or missing file
DAMAGE_ROW = "Damaged file"


def _streams(summary: QualitySummary) -> list[StreamSummary]:
    return list((summary.get("signals") or {}).get("streams") or [])


def model_quality_rows(summary: QualitySummary | None) -> list[list[str]]:
    """Rows for "Model and data quality": the link, packet errors and clock drift, one line each."""
    if not summary:
        return []
    link = summary.get("link") or {}
    rows = [
        ["Sensor link (recording)", link_text(link)],
        ["Packets rejected by the sensor (recording)", packets_text(link)],
    ]
    for s in _streams(summary):
        rows.append([f"Sensor clock drift, {s.get('label') or s['name']}", drift_text(s)])
    return rows


def data_quality_rows(summary: QualitySummary) -> list[list[str]]:
    """Rows of the "Data quality" table under "Recording quality"."""
    rows = [["Overall", quality_verdict_text(summary)]]
    for part, title in _PARTS:
        p = summary.get(part) or {}
        rows.append([f"{title}: verdict", VERDICT_WORDS[p.get("verdict")]])
    rows += damage_rows(summary)
    link = summary.get("link") or {}
    if link.get("present"):
        rows += [
            ["Sensor link", link_text(link)],
            ["Link outages (start, length)", outages_text(link)],
            ["Disconnections / reconnections", _pair(link, "disconnects", "reconnects")],
            ["Sensor battery", battery_text(link)],
            ["Packets rejected by the sensor", packets_text(link)],
        ]
    for s in _streams(summary):
        label = s.get("label") or s["name"]
        rows += [
            [f"Clock drift, {label}", drift_text(s)],
            [f"Packet arrival spread, {label}", spread_text(s)],
        ]
    video = summary.get("video") or {}
    if video.get("recorded"):
        wanted = ("Negotiated", "Measured by the camera", "Camera lost")
        rows += [[f"Video: {k.lower()}", v] for k, v in video_rows(video) if k in wanted]
    return rows


def damage_rows(summary: QualitySummary) -> list[list[str]]:
    """The checksums' line and, for each damaged or missing file, a line naming it (red in the
    PDF): ``["Damaged file bio/bio.f32", "DAMAGED: truncated: …; 7 960 samples lost (…)"]``."""
    files = summary.get("files")
    if not files:
        return []
    if files.get("verdict") is None:  # no checksums: say why
        text = "; ".join(f["text"] for f in files.get("findings") or []) or "not verified"
        line = text[:1].upper() + text[1:]
    else:
        line = f"{VERDICT_WORDS[files.get('verdict')]}: {checksums_text(files)}"
    rows = [["Files: verdict (checksums)", line]]
    for f in files.get("files") or []:
        if f.get("status") in ("damaged", "missing"):
            rows.append([f"{DAMAGE_ROW} {f.get('file')}", file_text(f)])
    if files.get("state") == "damaged" and len(rows) == 1:  # integrity.json itself unusable
        rows.append([f"{DAMAGE_ROW} integrity.json", "; ".join(files.get("reasons") or [])])
    for s in _streams(summary):
        if s.get("damaged"):
            rows.append(
                [f"{DAMAGE_ROW}: {s.get('label') or s['name']} samples lost", damaged_text(s)]
            )
    video = summary.get("video") or {}
    if video.get("damaged"):
        rows.append([f"{DAMAGE_ROW}: video frames lost", damaged_text(video)])
    return rows


def _pair(
    link: LinkSummary,
    a: Literal["disconnects", "reconnects"],
    b: Literal["disconnects", "reconnects"],
) -> str:
    if not link.get("recorded"):
        return "not recorded"
    return f"{int(link.get(a) or 0)} / {int(link.get(b) or 0)}"


def data_quality_table(data: ReportData, st: dict[str, Any], width: float) -> list[Any]:
    """The "Data quality" heading and table (nothing when the report has no summary)."""
    from reportlab.platypus import KeepTogether, Paragraph

    from core.report.blocks import multiline, para, table

    summary = (data.quality or {}).get("summary")
    if not summary:
        return []
    red = LIGHT_COLOURS["red"]
    cells = [
        [
            para(f'<font color="{red}"><b>{multiline(k)}</b></font>', st["cell"])
            if k.startswith(DAMAGE_ROW)
            else k,
            para(
                f'<font color="{red}"><b>{multiline(v)}</b></font>'
                if k.startswith(DAMAGE_ROW)
                else multiline(v),
                st["cell"],
            ),
        ]
        for k, v in data_quality_rows(summary)
    ]
    note = (
        "Simulated session: the figures describe simulated devices. "
        if summary.get("simulated")
        else ""
    )
    return [
        KeepTogether(
            [
                Paragraph("Data quality", st["h2"]),
                table(cells, [0.36 * width, 0.64 * width], align_right_from=99, header=False),
            ]
        ),
        Paragraph(
            escape(
                note + "Good / Check / Poor: how much of the session the analysis can use. Times "
                "are m:ss.s from the session start."
            ),
            st["small"],
        ),
    ]
