"""Screen 7 — Cohort: every patient's pre→post arrow (latest analysed session) on one circumplex,
with the group's paired statistics (as the paper's Fig. 5).

Only real (not simulated), consented, analysed sessions of patients other than the demo patient
count (:func:`core.analysis.review.cohort`); the "Include simulated sessions" switch lets simulated
ones count too, each labelled. Below :data:`core.analysis.circumplex.MIN_PATIENTS` patients the
screen shows the shifts only and says that there are too few patients for a test.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.gui.circumplex_view import CircumplexView
from app.gui.figure_export import save_figure
from app.gui.review_page import demo_banner
from app.gui.review_tables import fmt_value
from app.gui.widgets import banner, heading
from core.analysis.circumplex import (
    BOOTSTRAP_RESAMPLES,
    MIN_PATIENTS,
    CohortStats,
    DimensionTest,
    quadrant_label,
    quadrant_of,
)
from core.analysis.review import CohortEntry, cohort
from core.catalog import Catalog
from core.config import Settings
from core.timefmt import format_local_time

STAT_COLUMNS = ["n", "Mean shift ± SD", "Paired t", "p", "Wilcoxon p", "Cohen's d_z [95 % CI]"]
#: the columns of the tests: hidden below MIN_PATIENTS patients
TEST_COLUMNS = (2, 3, 4, 5)
PATIENT_COLUMNS = [
    "Patient",
    "Session",
    "Data",
    "Pre",
    "Post",
    "Δ valence",
    "Δ arousal",
    "Model",
]
SIMULATED_BANNER = "Includes SIMULATED sessions — not real recordings (marked “simulated”)"


def fmt_p(p: float) -> str:
    if not np.isfinite(p):
        return "–"
    return "< 0.001" if p < 0.001 else f"{p:.3f}"


def fmt_num(x: float, digits: int = 2) -> str:
    return "–" if not np.isfinite(x) else f"{x:.{digits}f}".replace("-", "−")


def fmt_dz(d: DimensionTest) -> str:
    """Cohen's d_z with its bootstrap interval: ``"1.94 [1.21, 3.80]"``; "–" when not tested."""
    if not np.isfinite(d.dz):
        return "–"
    return f"{fmt_num(d.dz)} [{fmt_num(d.dz_ci_low)}, {fmt_num(d.dz_ci_high)}]"


def stat_cells(d: DimensionTest) -> list[str]:
    """One row of the statistics table (the test cells are "–" when not tested)."""
    shift = (
        "–"
        if not np.isfinite(d.mean_shift)
        else fmt_value(d.mean_shift) + (f" ± {d.sd_shift:.2f}" if np.isfinite(d.sd_shift) else "")
    )
    return [str(d.n), shift, fmt_num(d.t), fmt_p(d.p), fmt_p(d.wilcoxon_p), fmt_dz(d)]


class CohortPage(QWidget):
    """Each counted patient's latest analysed session and the group's statistics."""

    back = Signal()
    open_patient = Signal(int)

    def __init__(
        self, catalog: Catalog, data_root: Path, settings: Settings, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.catalog = catalog
        self.data_root = data_root
        self.settings = settings
        self.entries: list[CohortEntry] = []
        self.stats: CohortStats | None = None
        back = QPushButton("← Patients")
        back.clicked.connect(self.back.emit)
        QShortcut(QKeySequence("Esc"), self, self.back.emit)
        self.figure_btn = QPushButton("Export figure…")
        self.figure_btn.clicked.connect(lambda: self.export_figure())
        self.include_simulated = QCheckBox("Include simulated sessions")
        self.include_simulated.setToolTip(
            "Let sessions recorded from simulated devices count too (each is marked "
            "“simulated”); by default only real recordings count"
        )
        self.include_simulated.toggled.connect(lambda _on: self.refresh())
        top = QHBoxLayout()
        top.addWidget(back)
        self.title = heading("Cohort — each patient's latest real, analysed session")
        top.addWidget(self.title, 1)
        top.addWidget(self.include_simulated)
        top.addWidget(self.figure_btn)
        self.demo_banner = demo_banner()
        self.sim_banner = banner(SIMULATED_BANNER)
        self.sim_banner.setStyleSheet(
            "background:#fdecea; color:#8a1c12; border:1px solid #c0392b; padding:4px; "
            "font-weight:600;"
        )
        self.sim_banner.setVisible(False)
        self.view = CircumplexView(settings.neutral_radius)
        self.view.setMinimumSize(300, 300)
        self.stats_table = QTableWidget(2, len(STAT_COLUMNS))
        self.stats_table.setHorizontalHeaderLabels(STAT_COLUMNS)
        self.stats_table.setVerticalHeaderLabels(["Valence", "Arousal"])
        self.stats_table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.stats_table.horizontalHeader().setSectionResizeMode(
            QHeaderView.ResizeMode.ResizeToContents
        )
        self.stats_table.horizontalHeader().setStretchLastSection(True)
        self.stats_table.verticalHeader().setSectionResizeMode(
            QHeaderView.ResizeMode.ResizeToContents
        )
        self.stats_table.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.test_note = QLabel()
        self.test_note.setWordWrap(True)
        self.test_note.setStyleSheet("color:#8a4b00; font-weight:600;")
        self.note = QLabel()
        self.note.setWordWrap(True)
        self.note.setStyleSheet("color:#555;")
        self.patients = QTableWidget(0, len(PATIENT_COLUMNS))
        self.patients.setHorizontalHeaderLabels(PATIENT_COLUMNS)
        self.patients.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.patients.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.patients.verticalHeader().setVisible(False)
        self.patients.horizontalHeader().setSectionResizeMode(
            QHeaderView.ResizeMode.ResizeToContents
        )
        self.patients.horizontalHeader().setStretchLastSection(True)
        self.patients.activated.connect(self._open)
        right = QWidget()
        rl = QVBoxLayout(right)
        rl.setContentsMargins(0, 0, 0, 0)
        rl.addWidget(QLabel("<b>Group pre → post shift</b> (post − pre, circumplex units)"))
        rl.addWidget(self.stats_table)
        rl.addWidget(self.test_note)
        rl.addWidget(self.note)
        rl.addWidget(QLabel("<b>Patients</b> (double-click opens the patient)"))
        rl.addWidget(self.patients, 1)
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(self.view)
        split.addWidget(right)
        split.setSizes([560, 700])
        lay = QVBoxLayout(self)
        lay.addLayout(top)
        lay.addWidget(self.sim_banner)
        lay.addWidget(self.demo_banner)
        lay.addWidget(split, 1)

    def refresh(self) -> None:
        """Gather the cohort again (with or without simulated sessions) and show it."""
        self.view.set_neutral_radius(self.settings.neutral_radius)
        with_sim = self.include_simulated.isChecked()
        self.title.setText(
            "Cohort — each patient's latest analysed session, simulated ones included"
            if with_sim
            else "Cohort — each patient's latest real, analysed session"
        )
        self.entries, self.stats = cohort(
            self.catalog, self.data_root, self.settings, include_simulated=with_sim
        )
        self.view.show_arrows(
            [
                (e.code + (" (simulated)" if e.simulated else ""), e.pre, e.post, e.demo_model)
                for e in self.entries
            ],
            empty_text=(
                "no analysed session yet"
                if with_sim
                else "no real, analysed session yet — “Include simulated sessions” shows the "
                "simulated ones"
            ),
        )
        any_demo = any(e.demo_model for e in self.entries)
        self.demo_banner.setVisible(any_demo)
        self.sim_banner.setVisible(any(e.simulated for e in self.entries))
        tested = self.stats.tested
        for i, dim in enumerate((self.stats.valence, self.stats.arousal)):
            for j, text in enumerate(stat_cells(dim)):
                self.stats_table.setItem(i, j, QTableWidgetItem(text))
        for j in TEST_COLUMNS:
            self.stats_table.setColumnHidden(j, not tested)
        t = self.stats_table
        t.setFixedHeight(
            t.horizontalHeader().sizeHint().height()
            + sum(t.rowHeight(i) for i in range(t.rowCount()))
            + 2 * t.frameWidth()
        )
        self.test_note.setText(
            "" if tested else f"Shifts only — {self.stats.test_note}: no p-values, no d_z."
        )
        self.test_note.setVisible(not tested)
        n = self.stats.n
        counted = (
            "real or simulated (each simulated one marked)" if with_sim else "real (not simulated)"
        )
        self.note.setText(
            f"{n} patient{'s' if n != 1 else ''}: each patient's latest {counted}, consented, "
            "analysed session; the demo patient never counts. "
            f"From {MIN_PATIENTS} patients: paired t-test and Wilcoxon signed-rank test, "
            "two-sided; d_z = mean shift / SD with a 95 % percentile-bootstrap interval "
            f"({BOOTSTRAP_RESAMPLES} resamples of the patients, fixed seed). "
            + (
                "Some arrows come from the demo model (dashed): not clinically valid."
                if any_demo
                else ""
            )
        )
        r = self.settings.neutral_radius
        self.patients.setRowCount(len(self.entries))
        for i, e in enumerate(self.entries):
            cells = [
                e.code,
                format_local_time(e.started_at),
                "simulated" if e.simulated else "real sensors",
                quadrant_label(quadrant_of(*e.pre, r), short=True),
                quadrant_label(quadrant_of(*e.post, r), short=True),
                fmt_value(e.post[0] - e.pre[0]),
                fmt_value(e.post[1] - e.pre[1]),
                "demo model" if e.demo_model else "clinic model",
            ]
            for j, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setData(Qt.ItemDataRole.UserRole, e.patient_id)
                self.patients.setItem(i, j, item)
        self.figure_btn.setEnabled(bool(self.entries))

    def _open(self) -> None:
        items = self.patients.selectedItems()
        if items:
            self.open_patient.emit(int(items[0].data(Qt.ItemDataRole.UserRole)))

    def export_figure(self, path: str | None = None) -> Path | None:
        """Save the cohort's circumplex as PNG or SVG (asks where unless ``path`` is given)."""
        return save_figure(self, self.view, "TheraScope_cohort.png", path)
