"""Help → Self-test…: the installation's self-test (:mod:`app.demo.selftest`) in a dialog.

It starts as the dialog opens and runs in a background worker (the window stays usable); each
step's row turns from "waiting" to "running…" to "passed" or "failed" with its time and what it
found, then the dialog says what this computer offers (data folder, Bluetooth, camera, GPU,
torch). "Copy results" puts the whole text on the clipboard, for a support ticket. Closing while it
runs stops it after the clean-up (the temporary folder is always removed).
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Qt, Signal, Slot
from PySide6.QtGui import QBrush, QCloseEvent, QColor, QGuiApplication
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QProgressBar,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.demo import selftest
from app.demo.selftest import STEPS, SelfTestResult, Step
from app.gui.access_dialogs import ModalDialog, error_label, not_default, plain_label
from app.gui.workers import run_job
from core.palette import LIGHT_COLOURS

#: a step's state as the table shows it: (words, colour)
STATE_WORDS: dict[str, tuple[str, str]] = {
    "waiting": ("waiting", LIGHT_COLOURS["grey"]),
    "running": ("running…", LIGHT_COLOURS["amber"]),
    "passed": ("✓ passed", LIGHT_COLOURS["green"]),
    "failed": ("✗ failed", LIGHT_COLOURS["red"]),
    "not run": ("not run", LIGHT_COLOURS["grey"]),
}


def result_text(result: SelfTestResult) -> str:
    """The whole outcome as plain text (what "Copy results" copies; the command line's form)."""
    from core import __version__

    lines = [f"TheraScope {__version__} self-test"]
    for s in result.steps:
        took = f"{s.seconds:.1f} s" if s.state in ("passed", "failed") else "-"
        lines.append(f"{s.state.upper():<8} {s.name:<11} {took:>7}  {s.detail}")
    lines.append(summary_text(result))
    if result.environment:
        lines.append("This computer:")
        lines += [f"  {f.topic}: {f.text}" for f in result.environment]
    return "\n".join(lines)


def summary_text(result: SelfTestResult) -> str:
    n, ok = len(result.steps), sum(s.passed for s in result.steps)
    if result.passed:
        return f"All {n} steps passed in {result.total_s:.1f} s: this installation works."
    if result.stopped and not result.failed:
        return f"Stopped after {result.total_s:.1f} s; the temporary folder was removed."
    first = result.failed[0]
    return (
        f"Failed at step '{first.name}' ({ok} of {n} steps passed, {result.total_s:.1f} s): "
        f"{first.detail}"
    )


class _StepRelay(QObject):
    """Carries a step's state from the worker to the dialog (a queued signal: it lives on the GUI
    thread)."""

    step = Signal(object)


class SelfTestDialog(ModalDialog):
    """Runs the self-test in a worker and shows its steps as they pass or fail.

    Attributes
    ----------
    table (QTableWidget) — one row per step: step, result, time, details
    progress (QProgressBar) — the running step's progress
    summary (QLabel) — the verdict once done; computer (QLabel) — this computer, in words
    error (QLabel) — why it could not start
    run_btn ("Run again"), copy_btn ("Copy results"), close_btn ("Stop" while running)
    outcome (SelfTestResult or None) — the last run's
    """

    COLUMNS = ("Step", "Result", "Time", "Details")

    def __init__(
        self,
        data_root: Path,
        parent: QWidget | None = None,
        recording: Callable[[], bool] | None = None,
    ) -> None:
        super().__init__("Self-test", parent)
        self.data_root = Path(data_root)
        #: whether a session is being recorded now: the self-test does not start then
        self.recording = recording or (lambda: False)
        intro = plain_label(
            "Checks this installation in a temporary data folder of its own: records "
            f"{selftest.SELFTEST_SECONDS:g} s from the simulated sensor and camera, analyses it "
            "with the demo model, builds the PDF report and reads it back, checks the catalog, "
            "then removes the folder. The clinic's data is not touched."
        )
        self.table = QTableWidget(len(STEPS), len(self.COLUMNS))
        self.table.setHorizontalHeaderLabels(list(self.COLUMNS))
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.table.setWordWrap(True)
        self.table.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        header = self.table.horizontalHeader()
        for col in range(3):
            header.setSectionResizeMode(col, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(3, QHeaderView.ResizeMode.Stretch)
        for row, (name, what) in enumerate(STEPS):
            self._show(row, Step(name, what, detail=what))
        self.progress = QProgressBar()
        self.progress.setRange(0, 100)
        self.summary = plain_label()
        self.computer = plain_label()
        self.computer.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.error = error_label()
        self.run_btn = QPushButton("Run again")
        self.copy_btn = QPushButton("Copy results")
        self.close_btn = QPushButton("Close")
        not_default(self.run_btn, self.copy_btn)
        self.run_btn.clicked.connect(self.start)
        self.copy_btn.clicked.connect(self._copy)
        self.close_btn.clicked.connect(self.reject)
        buttons = QHBoxLayout()
        buttons.addWidget(self.copy_btn)
        buttons.addStretch(1)
        buttons.addWidget(self.run_btn)
        buttons.addWidget(self.close_btn)
        lay = QVBoxLayout(self)
        lay.addWidget(intro)
        lay.addWidget(self.table)
        lay.addWidget(self.progress)
        lay.addWidget(self.summary)
        lay.addWidget(self.computer)
        lay.addWidget(self.error)
        lay.addStretch(1)
        lay.addLayout(buttons)
        self.resize(820, 480)
        self.outcome: SelfTestResult | None = None
        self.job: Any = None
        self._stop = threading.Event()
        self._close_when_done = False
        self._relay = _StepRelay(self)
        self._relay.step.connect(self._on_step)

    # -- running --------------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self.job is not None

    def start(self) -> None:
        """Run the self-test (again) in the background; refused while a session is recorded."""
        if self.running:
            return
        if self.recording():
            self.error.setText(
                "A session is being recorded. Run the self-test once it has been saved."
            )
            return
        self.error.setText("")
        self.summary.setText("Running… (about half a minute)")
        self.computer.setText("")
        for row, (name, what) in enumerate(STEPS):
            self._show(row, Step(name, what, detail=what))
        self._stop.clear()
        self.run_btn.setEnabled(False)
        self.copy_btn.setEnabled(False)
        self.close_btn.setText("Stop")
        self.progress.setValue(0)
        self.progress.setVisible(True)
        relay, stop, data_root = self._relay, self._stop, self.data_root

        def work(progress: Callable[[float], None]) -> SelfTestResult:
            return selftest.run_selftest(
                seconds=selftest.SELFTEST_SECONDS,
                data_folder=data_root,
                on_step=lambda s: relay.step.emit(dataclasses.replace(s)),  # a snapshot
                progress=progress,
                cancel=stop.is_set,
            )

        self.job = run_job(work, self._done, self._failed, self._progress)

    @Slot(object)
    def _on_step(self, step: Step) -> None:
        row = [name for name, _ in STEPS].index(step.name)
        self._show(row, step)
        if step.state == "running":
            self.progress.setValue(0)

    def _progress(self, f: float) -> None:
        self.progress.setValue(int(round(100 * min(max(f, 0.0), 1.0))))

    def _done(self, result: SelfTestResult) -> None:
        self.job = None
        self.outcome = result
        for row, step in enumerate(result.steps):
            self._show(row, step)
        colour = LIGHT_COLOURS["green" if result.passed else "red"]
        self.summary.setStyleSheet(f"color:{colour}; font-weight:bold;")
        self.summary.setText(summary_text(result))
        self.computer.setText(
            "This computer:\n" + "\n".join(f"• {f.topic}: {f.text}" for f in result.environment)
            if result.environment
            else ""
        )
        self._idle()

    def _failed(self, message: str) -> None:  # run_selftest reports step failures itself
        self.job = None
        self.error.setText(f"The self-test could not run: {message}")
        self._idle()

    def _idle(self) -> None:
        self.progress.setVisible(False)
        self.run_btn.setEnabled(True)
        self.copy_btn.setEnabled(self.outcome is not None)
        self.close_btn.setText("Close")
        self.close_btn.setEnabled(True)
        if self._close_when_done:
            self._close_when_done = False
            super().reject()

    def _show(self, row: int, step: Step) -> None:
        words, colour = STATE_WORDS.get(step.state, (step.state, LIGHT_COLOURS["grey"]))
        took = f"{step.seconds:.1f} s" if step.state in ("passed", "failed") else ""
        detail = step.detail or step.what  # what it checks, until it has found something
        for col, text in enumerate((step.name, words, took, detail)):
            item = QTableWidgetItem(text)
            if col == 1:
                item.setForeground(QBrush(QColor(colour)))
            if col == 3:
                item.setToolTip(text)
            self.table.setItem(row, col, item)
        self.table.resizeRowToContents(row)
        self._fit_table()

    def _fit_table(self) -> None:
        """As tall as its rows: the room below is for what this computer offers."""
        t = self.table
        rows = sum(t.rowHeight(r) for r in range(t.rowCount()))
        t.setFixedHeight(t.horizontalHeader().height() + rows + 2 * t.frameWidth())

    def _copy(self) -> None:
        if self.outcome is not None:
            QGuiApplication.clipboard().setText(result_text(self.outcome))
            self.summary.setText(summary_text(self.outcome) + " (copied)")

    # -- closing --------------------------------------------------------------------------------

    def reject(self) -> None:
        """Close; while it runs, stop it first (the clean-up still runs, then it closes)."""
        if self.running:
            self._stop.set()
            self._close_when_done = True
            self.close_btn.setEnabled(False)
            self.summary.setText("Stopping… the temporary folder is being removed.")
            return
        super().reject()

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 — Qt's name
        if self.running:
            event.ignore()
            self.reject()
            return
        super().closeEvent(event)
