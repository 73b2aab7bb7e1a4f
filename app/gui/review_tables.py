"""The review's numbers: pre/post statistics beside the patient's ratings, and the analysis's
provenance (which model, on what, how much it could estimate)."""

from __future__ import annotations

import html

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableWidget, QTableWidgetItem

from core.analysis.circumplex import (
    NEUTRAL,
    QUADRANTS,
    PhaseStats,
    SessionCircumplex,
    quadrant_label,
    to_circumplex,
)
from core.analysis.review import SessionReview
from core.catalog import Catalog
from core.faces.track import detector_note
from core.timefmt import format_clock

ROWS = (
    "Window",
    "Valence, mean ± SD",
    "Arousal, mean ± SD",
    "Quadrant of the mean",
    "Time per quadrant",
    "Frames estimated",
    "Patient's SAM (valence, arousal)",
    "Patient's GAD-7",
)


def fmt_value(x: float) -> str:
    return "–" if not np.isfinite(x) else f"{round(float(x), 2) + 0.0:+.2f}".replace("-", "−")


def mean_sd(mean: float, sd: float) -> str:
    if not np.isfinite(mean):
        return "not estimated"
    return fmt_value(mean) + (f" ± {sd:.2f}" if np.isfinite(sd) else "")


def shares_text(s: PhaseStats) -> str:
    """Share of the estimated frames per quadrant, largest first, e.g. "Q2 LVHA 82 %"."""
    if not s.n_estimated:
        return "–"
    parts = sorted(((v, q) for q, v in s.shares.items() if v > 0), reverse=True)
    return "\n".join(
        f"{'near neutral' if q == NEUTRAL else quadrant_label(q, short=True)}  {v:.0%}"
        for v, q in parts
    )


def sam_text(sr: object | None) -> str:
    v = getattr(sr, "sam_valence", None)
    a = getattr(sr, "sam_arousal", None)
    if v is None and a is None:
        return "–"
    vs = "–" if v is None else str(v)
    as_ = "–" if a is None else str(a)
    text = f"{vs}, {as_} (1–9)"
    if v is not None and a is not None:
        text += f"\n→ {fmt_value(float(to_circumplex(v)))}, {fmt_value(float(to_circumplex(a)))}"
    return text


def gad_text(sr: object | None) -> str:
    g = getattr(sr, "gad7", None)
    return "–" if g is None else f"{g} (0–21)"


class PhaseTable(QTableWidget):
    """Rows: the statistics of ``ROWS``; columns: before (pre) and after (post)."""

    def __init__(self) -> None:
        super().__init__(len(ROWS), 2)
        self.setHorizontalHeaderLabels(["Before (pre)", "After (post)"])
        self.setVerticalHeaderLabels(list(ROWS))
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.setWordWrap(True)

    def cell_text(self, row: str, phase: str) -> str:
        """The text shown for a row (a name from ``ROWS``) and ``"pre"``/``"post"``."""
        item = self.item(ROWS.index(row), 0 if phase == "pre" else 1)
        return item.text() if item is not None else ""

    def show_review(self, review: SessionReview) -> None:
        c = review.circumplex
        for j, s in enumerate((c.pre, c.post)):
            cells = (
                f"{s.label}\n{format_clock(s.start_s)} – {format_clock(s.end_s)}",
                mean_sd(s.mean_valence, s.sd_valence),
                mean_sd(s.mean_arousal, s.sd_arousal),
                quadrant_label(s.quadrant),
                shares_text(s),
                f"{s.n_estimated} of {s.n_frames} ({s.coverage:.0%})",
                sam_text(review.self_reports.get(s.name)),
                gad_text(review.self_reports.get(s.name)),
            )
            for i, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setTextAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
                self.setItem(i, j, item)


def analysis_details(review: SessionReview) -> str:
    """Rich text: the checkpoint's identity, the device and what could be estimated."""
    info = review.estimates.info
    ck = review.checkpoint
    counts = info.get("counts", {})
    t = info.get("timings_s", {})
    e = html.escape
    demo = (
        " <b style='color:#c0392b'>— DEMO MODEL, not clinically valid</b>"
        if review.demo_model
        else ""
    )
    lines = [
        f"<b>Model</b>: {e(str(ck.get('label', '?')))}{demo}",
        f"&nbsp;&nbsp;{e(str(ck.get('variant', '')))} · backbone {e(str(ck.get('backbone', '')))}"
        f" · inputs {e(str(info.get('inputs', ck.get('modalities', ''))))}"
        f" · file {e(str(ck.get('file', '')))} · SHA-256 {e(str(ck.get('sha256', ''))[:12])}…",
        f"<b>Ran on</b>: {e(str(info.get('device', '?')))}"
        + (f" ({e(str(info['precision']))})" if info.get("precision") else "")
        + (f", {e(str(info['created_at']))}" if info.get("created_at") else ""),
        f"<b>Frames</b>: {counts.get('frames_analysed', len(review.estimates))} analysed"
        + (f" of {counts['frames_stored']} stored" if "frames_stored" in counts else "")
        + f", {counts.get('estimated', int(review.estimates.estimated.sum()))} estimated,"
        f" {counts.get('without_face', 0)} without a face,"
        f" {counts.get('bio_incomplete', 0)} with incomplete physiology",
    ]
    if t.get("wall"):
        n = counts.get("frames_analysed", len(review.estimates))
        lines.append(
            f"<b>Time</b>: {format_clock(float(t['wall']))} ({float(t['wall']):.1f} s,"
            f" {n / float(t['wall']):.1f} frames/s)"
        )
    if note := detector_note(dict(info)):
        lines.append(f"<b>Face detector</b>: {e(note)}")
    lines.append(f"<b>Windows</b>: {e(review.circumplex.note)}")
    return "<br>".join(lines)


def analysis_of(catalog: Catalog, session_id: int) -> tuple[SessionCircumplex, bool] | None:
    """The latest analysis's circumplex summary and whether the demo model made it (None when
    not analysed or the summary cannot be read)."""
    a = catalog.latest_analysis(session_id)
    if a is None:
        return None
    try:
        return SessionCircumplex.from_dict(a.summary["circumplex"]), bool(a.demo_model)
    except (KeyError, TypeError, ValueError):
        return None


def quadrant_words(q: int) -> str:
    """A quadrant in a therapist's words with its number, e.g. "Q2 stressed/anxious" (the letter
    codes such as LVHA stay on the circumplex and in the report); "near neutral", "not
    estimated"."""
    q = int(q)
    return f"Q{q} {QUADRANTS[q][1]}" if q in QUADRANTS else quadrant_label(q)


def shift_text(c: SessionCircumplex, demo: bool, lines: bool = False) -> str:
    """Short pre → post quadrants in words, e.g. "Q2 stressed/anxious → Q4 calm/relaxed (demo
    model)"; ``lines``: one line each for pre, post and the demo note (a narrow table column)."""
    sep = "\n" if lines else " "
    text = f"{quadrant_words(c.pre.quadrant)} →{sep}{quadrant_words(c.post.quadrant)}"
    return text + (f"{sep}(demo model)" if demo else "")
