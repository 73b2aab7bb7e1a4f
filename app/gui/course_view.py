"""The patient's progress across sessions: small trend plots, one per measure, sessions by date.

Each plot shows every session in date order (numbered as in the sessions table, dated on the
axis): the pre-window value as an open circle joined to the post-window value as a filled one;
the model's valence and arousal carry ±1 SD bars. Sessions not analysed have no point on the
model's plots (a note under the plots names them), never a number. Demo-model estimates and
simulated sessions are labelled above the plots, as on the review screen.

The figures are :func:`core.analysis.course.patient_course`'s (the course report prints the
same), computed in a worker thread: the physiology reads every session's ECG and EDA.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import QLabel, QScrollArea, QVBoxLayout, QWidget
from shiboken6 import isValid

from app.gui.workers import Job, run_job
from core.analysis.course import (
    PHASES,
    PatientCourse,
    TrendMeasure,
    patient_course,
    trend_measure,
)
from core.catalog import Catalog
from core.clinical import PHQ9
from core.config import Settings

PRE_COLOUR = "#7a8fa6"
POST_COLOUR = "#1f5fa8"
COMPUTING = "Computing the trends…"
#: height of one row of plots (px): the area scrolls below that
PLOT_HEIGHT = 170
#: the plots' area needs this width (px) for two columns side by side; narrower: one column.
#: A plot with its title ("Valence (pleasant–unpleasant)") and axes keeps ~290 px; at 440 the
#: right-hand column ran past the area's edge (the patient page at 1280 px), cut off unseen
TWO_COLUMNS_FROM = 600
#: the plots, two per row; PHQ-9, SUDS and SAM follow where entered
BASE_KEYS = ("valence", "arousal", "hr_bpm", "rmssd_ms", "eda_tonic_us", "scr_per_min", "gad7")
#: fixed value ranges; the physiology is fitted to the data
RANGES: dict[str, tuple[float, float]] = {
    "valence": (-1.0, 1.0),
    "arousal": (-1.0, 1.0),
    "gad7": (0.0, 21.0),
    "phq9": (0.0, 27.0),
    "sam_valence": (1.0, 9.0),
    "sam_arousal": (1.0, 9.0),
    "suds": (0.0, 100.0),
}


def plot_keys(course: PatientCourse) -> list[str]:
    """The measures plotted: the base seven, then PHQ-9, SUDS, SAM valence and SAM arousal
    where any session has them (all of them: the area scrolls)."""
    extra = [k for k in ("phq9", "suds", "sam_valence", "sam_arousal") if course.has(k)]
    return [*BASE_KEYS, *extra]


class CourseView(QWidget):
    """Trend plots of one patient's course (see the module's docstring)."""

    def __init__(self, settings: Settings | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.settings = settings
        self.course: PatientCourse | None = None
        self.banner = QLabel()
        self.banner.setWordWrap(True)
        self.banner.setVisible(False)
        self.status = QLabel("")
        self.status.setWordWrap(True)
        self.status.setTextFormat(Qt.TextFormat.RichText)
        self.graphics = pg.GraphicsLayoutWidget()
        self.graphics.setBackground("w")
        # plots stay large enough to read: the area scrolls instead of squeezing them
        self.plot_area = QScrollArea()
        self.plot_area.setWidgetResizable(True)
        self.plot_area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.plot_area.setWidget(self.graphics)
        self.legend = QLabel(
            f"<span style='color:{PRE_COLOUR}'>○</span> before (pre window) → "
            f"<span style='color:{POST_COLOUR}'>●</span> after (post window) · bars: ±1 SD of "
            "the model's estimates · x: sessions by date, numbered as in the sessions table"
        )
        self.legend.setWordWrap(True)
        self.plots: dict[str, pg.PlotItem] = {}
        #: (measure key, "pre"/"post") → the plotted points
        self.scatter: dict[tuple[str, str], pg.ScatterPlotItem] = {}
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.banner)
        lay.addWidget(self.legend)
        lay.addWidget(self.plot_area, 1)
        lay.addWidget(self.status)
        self._key: tuple[Any, ...] | None = None
        self._columns = 2
        self._job: Job | None = None

    @property
    def busy(self) -> bool:
        """The course is being computed."""
        return self._job is not None

    def load(self, catalog: Catalog, data_root: Path, patient_id: int) -> None:
        """Compute the patient's course in a worker thread and plot it (nothing is computed
        again while the patient's sessions, analyses, markers, ratings, questionnaire items and SUDS
        ratings stay the same)."""
        settings = self.settings or Settings.load()
        sessions = catalog.list_sessions(patient_id=patient_id)
        key = (
            patient_id,
            str(data_root),
            settings.phase_minutes,
            tuple(
                (
                    r.id,
                    r.status,
                    r.duration_s,
                    (a.id, a.updated_at) if (a := catalog.latest_analysis(r.id)) else None,
                    tuple((m.t_s, m.kind) for m in catalog.list_markers(r.id)),
                    tuple((p, s.updated_at) for p, s in sorted(catalog.self_reports(r.id).items())),
                    tuple(
                        (p, k, i, v)
                        for p, by in sorted(catalog.questionnaire_items(r.id).items())
                        for k, items in sorted(by.items())
                        for i, v in sorted(items.items())
                    ),
                    tuple((u.id, u.t_s, u.rating) for u in catalog.list_suds(r.id)),
                )
                for r in sessions
            ),
        )
        if key == self._key:
            return
        self._key = key
        if self.course is not None and self.course.patient_id != patient_id:
            self.clear()  # another patient's trends are never shown meanwhile
        self.status.setText(COMPUTING)

        def done(course: PatientCourse, key: tuple[Any, ...] = key) -> None:
            if isValid(self) and key == self._key:
                self._job = None
                self.show_course(course)

        def failed(message: str, key: tuple[Any, ...] = key) -> None:
            if isValid(self) and key == self._key:
                self._job = None
                self.status.setText(f"The trends could not be computed: {message}")

        self._job = run_job(
            lambda _p: patient_course(catalog, data_root, patient_id, settings), done, failed
        )

    def clear(self) -> None:
        """Show nothing (no patient's course)."""
        self.course = None
        self.graphics.clear()
        self.plots = {}
        self.scatter = {}
        self.banner.setVisible(False)
        self.status.setText("")

    def wait(self) -> None:
        """Wait for a computation still running (the window is closing)."""
        if self._job is not None and self._job.worker_thread.isRunning():
            self._job.worker_thread.wait(30000)

    def show_course(self, course: PatientCourse) -> None:
        """Draw the plots of ``course``."""
        self.course = course
        self.graphics.clear()
        self.plots = {}
        self.scatter = {}
        words = []
        if course.demo_model:
            words.append("DEMO MODEL — the estimates are not clinically valid")
        n_sim = sum(s.simulated for s in course.sessions)
        if n_sim:
            some = "" if n_sim == len(course.sessions) else f"{n_sim} of {len(course.sessions)} "
            words.append(f"SIMULATED DATA — {some}sessions recorded from simulated devices")
        self.banner.setText(
            "<b style='color:#b45309'>" + "<br>".join(words) + "</b>" if words else ""
        )
        self.banner.setVisible(bool(words))
        if not course.sessions:
            self.status.setText("No sessions yet: the trends start with the first session.")
            return
        keys = plot_keys(course)
        cols = self._columns = self._fitting_columns()
        for i, k in enumerate(keys):
            self.plots[k] = self._plot(course, trend_measure(k), i // cols, i % cols)
        self.graphics.setMinimumHeight(PLOT_HEIGHT * -(-len(keys) // cols))
        notes = []
        not_analysed = [str(s.number) for s in course.sessions if not s.analysed]
        if not_analysed:
            notes.append(f"Not analysed (no estimates shown): session {', '.join(not_analysed)}.")
        notes.append(
            f"{len(course.sessions)} session(s), {len(course.analysed)} analysed; "
            f"pre and post: each session's windows (treatment markers, else the first and last "
            f"{course.phase_minutes:g} min)."
        )
        flagged = [str(s.number) for s in course.sessions if s.flagged]
        text = html.escape(" ".join(notes), quote=False)
        if flagged:
            text = (
                f"<b style='color:#c62828'>{html.escape(PHQ9.flag_text, quote=False)} (session "
                f"{', '.join(flagged)}).</b><br>{text}"
            )
        self.status.setText(text)
        self._fit_status()

    def _fitting_columns(self) -> int:
        """Two columns of plots where they are readable side by side, else one."""
        return 2 if self.plot_area.viewport().width() >= TWO_COLUMNS_FROM else 1

    def _fit_status(self) -> None:
        """The note under the plots keeps the height its wrapped lines need (a word-wrapped
        label in a layout is otherwise given one line's height and cut)."""
        width = self.status.width() or self.width()
        self.status.setMinimumHeight(max(self.status.heightForWidth(width), 0))

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 — Qt's name
        super().resizeEvent(event)
        self._fit_status()
        if self.course is not None and self._fitting_columns() != self._columns:
            self.show_course(self.course)

    def _plot(self, course: PatientCourse, m: TrendMeasure, row: int, col: int) -> pg.PlotItem:
        p: pg.PlotItem = self.graphics.addPlot(row=row, col=col)
        title = m.title
        if m.key == "suds":  # not the pre/post windows: the session's first and last rating
            title += (
                f" — <span style='color:{PRE_COLOUR}'>○</span> first → "
                f"<span style='color:{POST_COLOUR}'>●</span> last rating"
            )
        p.setTitle(title, size="9pt", color="#222")
        p.setMouseEnabled(x=False, y=False)
        p.hideButtons()
        p.setMenuEnabled(False)
        p.showGrid(y=True, alpha=0.25)
        for side in ("left", "bottom"):
            ax = p.getAxis(side)
            ax.setPen(pg.mkPen("#666"))
            ax.setTextPen(pg.mkPen("#333"))
        sessions = course.sessions
        # the session numbers of the sessions table (its dates beside them there)
        step = len(sessions) // 12 + 1
        p.getAxis("bottom").setTicks(
            [[(i, str(s.number)) for i, s in enumerate(sessions) if i % step == 0]]
        )
        p.setLabel("bottom", "session", **{"color": "#555", "font-size": "8pt"})
        dx = 0.15
        pre_x, pre_y, post_x, post_y = [], [], [], []
        for i, s in enumerate(sessions):
            a, b = s.value(m.key, "pre"), s.value(m.key, "post")
            if a is not None:
                pre_x.append(i - dx)
                pre_y.append(a)
            if b is not None:
                post_x.append(i + dx)
                post_y.append(b)
            if a is not None and b is not None:
                p.plot([i - dx, i + dx], [a, b], pen=pg.mkPen("#555", width=1.5))
            if m.group == "model":
                for phase, x in (("pre", i - dx), ("post", i + dx)):
                    e = s.estimate(m.key, phase)
                    if e is not None and e.sd:
                        colour = PRE_COLOUR if phase == "pre" else POST_COLOUR
                        p.plot([x, x], [e.mean - e.sd, e.mean + e.sd], pen=pg.mkPen(colour))
        if len(post_x) > 1:
            p.plot(post_x, post_y, pen=pg.mkPen(POST_COLOUR, width=1))
        if len(pre_x) > 1:
            p.plot(pre_x, pre_y, pen=pg.mkPen(PRE_COLOUR, width=1, style=Qt.PenStyle.DashLine))
        pre_item = pg.ScatterPlotItem(
            pre_x, pre_y, size=9, pen=pg.mkPen(PRE_COLOUR, width=1.5), brush=pg.mkBrush("w")
        )
        post_item = pg.ScatterPlotItem(
            post_x, post_y, size=9, pen=pg.mkPen(POST_COLOUR), brush=pg.mkBrush(POST_COLOUR)
        )
        for phase, item in (("pre", pre_item), ("post", post_item)):
            p.addItem(item)
            self.scatter[(m.key, phase)] = item
        lo_hi = RANGES.get(m.key)
        if lo_hi is not None and m.group == "model":
            # a mean or ±1 SD bar beyond the fixed range widens the axis (never clipped)
            ends = [
                v
                for s in sessions
                for ph in PHASES
                if (e := s.estimate(m.key, ph)) is not None
                for v in (e.mean - (e.sd or 0.0), e.mean + (e.sd or 0.0))
            ]
            if ends and (min(ends) < lo_hi[0] or max(ends) > lo_hi[1]):
                lo_hi = (min(lo_hi[0], min(ends) - 0.05), max(lo_hi[1], max(ends) + 0.05))
        if lo_hi is None:
            values = np.array(pre_y + post_y, float)
            if values.size:
                pad = max(float(np.ptp(values)) * 0.15, abs(float(values.max())) * 0.05, 0.5)
                lo_hi = (float(values.min()) - pad, float(values.max()) + pad)
            else:
                lo_hi = (0.0, 1.0)
        if m.group == "model":
            p.addItem(pg.InfiniteLine(pos=0, angle=0, pen=pg.mkPen("#999")))
        p.setRange(xRange=(-0.5, len(sessions) - 0.5), yRange=lo_hi, padding=0.02)
        if not pre_y and not post_y:
            text = pg.TextItem(
                "not analysed" if m.group == "model" else "not measured / not entered",
                color="#888",
                anchor=(0.5, 0.5),
            )
            text.setPos((len(sessions) - 1) / 2, sum(lo_hi) / 2)
            p.addItem(text)
        return p

    def points(self, key: str, phase: str) -> list[tuple[int, float]]:
        """The (session number, value) pairs plotted for a measure, read back from its plot."""
        item = self.scatter.get((key, phase))
        if item is None or self.course is None:
            return []
        xs, ys = item.getData()
        return [
            (self.course.sessions[int(round(x))].number, float(y))
            for x, y in zip(xs, ys, strict=True)
        ]
