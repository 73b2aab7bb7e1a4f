"""The review screen's physiology: heart rate, RMSSD, EDA level and SCR rate before and after,
with what each was measured from (beats, seconds of signal) and why a value is missing.

The figures come from the PDF's own path (:func:`core.analysis.physiology.session_physiology`),
computed in a worker thread: reading and filtering an hour of ECG takes seconds.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)
from shiboken6 import isValid

from app.gui.workers import Job, run_job
from core.physiology.summary import METRICS, PhysiologySummary
from core.report.data import format_value
from core.timefmt import format_clock

#: a value that could not be measured (its reason is in the note under the table)
NOT_MEASURED = "–"
#: the four measures' short names ("RMSSD", not "RMSSD (heart-rate variability)")
NAMES = tuple(m.label.split(" (")[0] for m in METRICS)
#: the table's rows: the four measures, then what they were measured from
ROWS = (
    *(f"{name} ({m.unit})" for name, m in zip(NAMES, METRICS, strict=True)),
    "Beats found",
    "Usable ECG / EDA (m:ss)",
)
COMPUTING = "Computing the physiology…"


def compute_physiology(
    folder: Path, markers: list[tuple[float, str]], phase_minutes: float
) -> PhysiologySummary:
    """The session's pre/post physiology, as the PDF report computes it."""
    from core.analysis.physiology import session_physiology
    from core.recording import open_session

    return session_physiology(open_session(folder), markers, phase_minutes)[0]


def _value(v: float | None, decimals: int, signed: bool = False) -> str:
    return NOT_MEASURED if v is None else format_value(v, decimals, signed)


class PhysiologyTable(QWidget):
    """Rows: the measures of ``ROWS``; columns: before (pre), after (post) and the change; under
    the table, how the windows were chosen and why a value is missing."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.table = QTableWidget(len(ROWS), 3)
        self.table.setHorizontalHeaderLabels(["Before (pre)", "After (post)", "Change"])
        self.table.setVerticalHeaderLabels(list(ROWS))
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.setWordWrap(True)
        self.note = QLabel(COMPUTING)
        self.note.setWordWrap(True)
        self.note.setAlignment(Qt.AlignmentFlag.AlignTop)
        self.note.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addWidget(self.table, 1)
        lay.addWidget(self.note)
        self.summary: PhysiologySummary | None = None
        self._key: tuple[Any, ...] | None = None
        self._job: Job | None = None

    def cell_text(self, row: str, column: str) -> str:
        """The text shown for a row (a name from ``ROWS``) and ``"pre"``, ``"post"`` or
        ``"change"``."""
        item = self.table.item(ROWS.index(row), ("pre", "post", "change").index(column))
        return item.text() if item is not None else ""

    @property
    def busy(self) -> bool:
        """The figures are being computed."""
        return self._job is not None

    def load(self, folder: Path, markers: list[tuple[float, str]], phase_minutes: float) -> None:
        """Compute the session's physiology in a worker thread and show it (nothing is computed
        again while the session, its markers and the window length stay the same)."""
        key = (str(folder), tuple(markers), float(phase_minutes))
        if key == self._key:
            return
        self._key = key
        self.summary = None
        self.table.clearContents()
        self.note.setText(COMPUTING)

        def done(summary: PhysiologySummary, key: tuple[Any, ...] = key) -> None:
            if isValid(self) and key == self._key:  # not a session or markers shown before
                self._job = None
                self.show_summary(summary)

        def failed(message: str, key: tuple[Any, ...] = key) -> None:
            if isValid(self) and key == self._key:
                self._job = None
                self.note.setText(f"The physiology could not be computed: {message}")

        self._job = run_job(
            lambda _p: compute_physiology(folder, markers, phase_minutes), done, failed
        )

    def wait(self) -> None:
        """Wait for a computation still running (the window is closing)."""
        if self._job is not None and self._job.worker_thread.isRunning():
            self._job.worker_thread.wait(30000)

    def show_summary(self, summary: PhysiologySummary) -> None:
        """Fill the table and the note from a summary."""
        self.summary = summary
        pre_w, post_w = summary.windows
        self.table.setHorizontalHeaderLabels(
            [
                f"{w.label.capitalize()}\n{format_clock(w.start_s)} – {format_clock(w.end_s)}"
                for w in (pre_w, post_w)
            ]
            + ["Change"]
        )
        rows: list[tuple[str, str, str]] = []
        for m in METRICS:
            rows.append(
                (
                    _value(summary.pre.value(m.key), m.decimals),
                    _value(summary.post.value(m.key), m.decimals),
                    _value(summary.change.get(m.key), m.decimals, signed=True),
                )
            )
        rows.append((str(summary.pre.n_beats), str(summary.post.n_beats), ""))
        used = tuple(
            f"{format_clock(w.ecg_seconds_analysed)} / {format_clock(w.eda_seconds_analysed)}"
            for w in summary.metrics
        )
        rows.append((used[0], used[1], ""))
        for i, cells in enumerate(rows):
            for j, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setTextAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
                if i < len(METRICS) and j < 2:
                    reason = summary.metrics[j].reasons.get(METRICS[i].key)
                    if text == NOT_MEASURED and reason:
                        item.setToolTip(reason)
                self.table.setItem(i, j, item)
        reasons = []
        for w, wm in zip(summary.windows, summary.metrics, strict=True):
            why: dict[str, list[str]] = {}  # one reason for several measures, said once
            for m in METRICS:
                if wm.value(m.key) is None and m.key in wm.reasons:
                    why.setdefault(wm.reasons[m.key], []).append(NAMES[METRICS.index(m)])
            if why:
                parts = [f"{', '.join(names)}: {text}" for text, names in why.items()]
                reasons.append(f"{NOT_MEASURED} {w.label.capitalize()}: " + "; ".join(parts))
        note = f"{pre_w.note} Change = after minus before; {NOT_MEASURED} = not measured."
        self.note.setText("\n".join([note, *reasons]))
