"""Import a recording made by another tool (OpenSignals, EDF/BDF, XDF) with its video, from the
patient page: choose the files, see what was found and how video and signals line up, confirm
consent, import.

Reading and indexing run off the GUI thread (an hour of video takes a minute or two to index);
changing the channels or the offset re-plans from what was read, without decoding the video
again. Nothing is written until "Import"; a refused or failed import leaves nothing behind
(:mod:`core.transfer.importer`).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDialog,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.gui.workers import run_job
from core.catalog import Catalog, SessionRecord
from core.formats.reading import FILE_PATTERNS
from core.transfer.importer import ImportPlan, ImportRefused, import_session, plan_import

VIDEO_PATTERNS = "*.mp4 *.mov *.avi *.mkv *.m4v *.webm"
CHANNEL_COLUMNS = ["Channel", "Kind", "Unit", "Rate (Hz)", "Length (s)", "Lost", "Becomes"]
#: the timeline's bars (not the palette's pre/post colours: these are not treatment phases)
SIGNALS_COLOUR = "#2563eb"
VIDEO_COLOUR = "#6b7280"
#: what the channel choices offer besides the file's channels
AUTO = "(automatic)"
NONE = "(none)"


class ImportDialog(QDialog):
    """Choose, preview and import one recording for the patient ``patient_id``.

    Signals
    -------
    imported(SessionRecord) — the new session, once it is in the catalog
    """

    imported = Signal(object)

    def __init__(
        self,
        catalog: Catalog,
        data_root: Path,
        patient_id: int,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.catalog = catalog
        self.data_root = data_root
        self.patient_id = patient_id
        self.plan: ImportPlan | None = None
        self.busy = False
        self._facts_for: tuple[str, Any] | None = None  # (video path, VideoFacts) read last
        self.setWindowTitle("Import a recording")
        self.setWindowModality(Qt.WindowModality.WindowModal)

        self.signals_edit = QLineEdit()
        self.signals_edit.setPlaceholderText("OpenSignals .txt/.h5, EDF/EDF+, BDF/BDF+ or XDF")
        self.signals_btn = QPushButton("Choose…")
        self.signals_btn.clicked.connect(self._choose_signals)
        self.video_edit = QLineEdit()
        self.video_edit.setPlaceholderText("optional: MP4, MOV, AVI, MKV… of the patient's face")
        self.video_btn = QPushButton("Choose…")
        self.video_btn.clicked.connect(self._choose_video)
        self.offset = QDoubleSpinBox()
        self.offset.setRange(-86400.0, 86400.0)
        self.offset.setDecimals(2)
        self.offset.setSingleStep(0.1)
        self.offset.setSuffix(" s")
        self.offset.setToolTip(
            "How many seconds after the signals the video starts (negative: before)"
        )
        self.ecg_box = QComboBox()
        self.eda_box = QComboBox()
        for box in (self.ecg_box, self.eda_box):
            box.addItem(AUTO)
            box.setEnabled(False)
        self.read_btn = QPushButton("Read files")
        self.read_btn.setDefault(True)
        self.read_btn.clicked.connect(self._read_clicked)

        form = QFormLayout()
        row = QHBoxLayout()
        row.addWidget(self.signals_edit, 1)
        row.addWidget(self.signals_btn)
        form.addRow("Signals file", row)
        row = QHBoxLayout()
        row.addWidget(self.video_edit, 1)
        row.addWidget(self.video_btn)
        form.addRow("Video file", row)
        form.addRow("Video starts after the signals by", self.offset)
        chans = QHBoxLayout()
        chans.addWidget(QLabel("ECG"))
        chans.addWidget(self.ecg_box, 1)
        chans.addWidget(QLabel("EDA"))
        chans.addWidget(self.eda_box, 1)
        form.addRow("Channels", chans)

        self.progress = QProgressBar()
        self.progress.setVisible(False)
        self.summary = QLabel("Choose the signal file (and the video), then Read files.")
        self.summary.setWordWrap(True)
        self.summary.setTextFormat(Qt.TextFormat.PlainText)
        self.table = QTableWidget(0, len(CHANNEL_COLUMNS))
        self.table.setHorizontalHeaderLabels(CHANNEL_COLUMNS)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.setMinimumHeight(110)
        self.timeline = pg.PlotWidget()
        self.timeline.setMinimumHeight(90)
        self.timeline.setMaximumHeight(130)
        self.timeline.setMouseEnabled(x=False, y=False)
        self.timeline.hideButtons()
        self.timeline.setBackground("w")
        self.timeline.getAxis("left").setTicks([[(1, "Signals"), (0, "Video")]])
        self.timeline.setLabel("bottom", "session time (s)")
        self.timeline.setYRange(-0.6, 1.6, padding=0)
        self.warnings = QLabel()
        self.warnings.setWordWrap(True)
        self.warnings.setTextFormat(Qt.TextFormat.PlainText)
        self.warnings.setStyleSheet("color:#9a3412;")
        self.consent = QCheckBox("The patient consented to the use of this recording in TheraScope")
        self.consent.toggled.connect(self._update_buttons)
        self.consent_note = QLineEdit()
        self.consent_note.setPlaceholderText("how consent was given (optional)")
        self.import_btn = QPushButton("Import")
        self.import_btn.clicked.connect(self._import_clicked)
        self.cancel_btn = QPushButton("Cancel")
        self.cancel_btn.clicked.connect(self.reject)

        buttons = QHBoxLayout()
        buttons.addWidget(self.read_btn)
        buttons.addStretch(1)
        buttons.addWidget(self.cancel_btn)
        buttons.addWidget(self.import_btn)
        v = QVBoxLayout(self)
        v.addLayout(form)
        v.addWidget(self.progress)
        v.addWidget(self.summary)
        v.addWidget(self.table, 1)
        v.addWidget(self.timeline)
        v.addWidget(self.warnings)
        v.addWidget(self.consent)
        v.addWidget(self.consent_note)
        v.addLayout(buttons)

        self.signals_edit.textChanged.connect(self._files_changed)
        self.video_edit.textChanged.connect(self._files_changed)
        # a change re-plans once the typing stops (not at every keystroke of "-3.5")
        self._replan = QTimer(self)
        self._replan.setSingleShot(True)
        self._replan.setInterval(400)
        self._replan.timeout.connect(self._choice_changed)
        self.offset.valueChanged.connect(self._replan.start)
        self.ecg_box.currentIndexChanged.connect(self._choice_changed)
        self.eda_box.currentIndexChanged.connect(self._choice_changed)
        #: what the inputs said when the plan shown was read (a change meanwhile: read again)
        self._asked: tuple[object, ...] | None = None
        self.resize(760, 640)
        self._update_buttons()

    # --- choosing files ---------------------------------------------------------------------

    def _choose_signals(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Signal file", str(Path.home()), f"Recordings ({FILE_PATTERNS});;All files (*)"
        )
        if path:
            self.signals_edit.setText(path)

    def _choose_video(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Video file", str(Path.home()), f"Videos ({VIDEO_PATTERNS});;All files (*)"
        )
        if path:
            self.video_edit.setText(path)

    def _inputs(self) -> tuple[object, ...]:
        return (
            self.signals_edit.text().strip(),
            self.video_edit.text().strip(),
            round(float(self.offset.value()), 2),
            self.ecg_box.currentText(),
            self.eda_box.currentText(),
        )

    def _files_changed(self) -> None:
        """New files: what was read no longer holds (a read under way is dropped when done)."""
        self.plan = None
        for box in (self.ecg_box, self.eda_box):
            box.blockSignals(True)
            box.clear()
            box.addItem(AUTO)
            box.setEnabled(False)
            box.blockSignals(False)
        self._show_plan(None)

    def _choice_changed(self) -> None:
        """Channels or offset changed: plan again from what was read (after a read under way
        ends, if one is: :meth:`_read_done` sees that the inputs moved on)."""
        if self.plan is not None and not self.busy and self._inputs() != self._asked:
            self._read(keep_choices=True)

    # --- reading ----------------------------------------------------------------------------

    def _read_clicked(self) -> None:
        self._read(keep_choices=False)

    def _channel_choice(self, box: QComboBox) -> str | None:
        text = box.currentText()
        if text == AUTO:
            return None
        return box.currentData() or None

    def _read(self, keep_choices: bool) -> None:
        signals = self.signals_edit.text().strip()
        if not signals:
            self._refused("Choose the signal file first.")
            return
        video = self.video_edit.text().strip() or None
        ecg = self._channel_choice(self.ecg_box) if keep_choices else None
        eda = self._channel_choice(self.eda_box) if keep_choices else None
        no_ecg = keep_choices and self.ecg_box.currentText() == NONE
        no_eda = keep_choices and self.eda_box.currentText() == NONE
        offset = float(self.offset.value())
        facts = None
        if video and self._facts_for is not None and self._facts_for[0] == video:
            facts = self._facts_for[1]

        def job(progress: Callable[[float], None]) -> ImportPlan:
            def frames(done: int, listed: int | None) -> None:
                progress(done / listed if listed else 0.0)

            plan = plan_import(
                Path(signals),
                Path(video) if video else None,
                offset_s=offset,
                ecg=ecg,
                eda=eda,
                progress=frames,
                video_facts=facts,
            )
            if no_ecg:
                plan.ecg = None
            if no_eda:
                plan.eda = None
            if plan.ecg is None and plan.eda is None:
                raise ImportRefused("Choose at least one of ECG and EDA")
            return plan

        self._asked = self._inputs()
        self.busy = True
        self.progress.setVisible(video is not None and facts is None)
        self.progress.setValue(0)
        self.summary.setText("Reading…")
        self._update_buttons()
        run_job(
            job,
            on_done=lambda plan: self._read_done(plan, keep_choices),
            on_error=self._read_failed,
            on_progress=lambda f: self.progress.setValue(int(100 * f)),
        )

    def _read_done(self, plan: ImportPlan, keep_choices: bool) -> None:
        self.busy = False
        self.progress.setVisible(False)
        asked, now = self._asked, self._inputs()
        if asked is not None and asked[:2] != now[:2]:  # other files chosen meanwhile
            self._files_changed()
            return
        self.plan = plan
        if plan.video is not None and plan.video_path is not None:
            self._facts_for = (str(plan.video_path), plan.video)
        if not keep_choices:
            labels = [c.label for c in plan.recording.channels]
            for box, chosen in ((self.ecg_box, plan.ecg), (self.eda_box, plan.eda)):
                box.blockSignals(True)
                box.clear()
                box.addItem(NONE, "")
                for c in plan.recording.channels:
                    box.addItem(f"{c.label} ({c.kind}, {c.unit}, {c.rate_hz:g} Hz)", c.label)
                box.setCurrentIndex(labels.index(chosen.label) + 1 if chosen is not None else 0)
                box.setEnabled(True)
                box.blockSignals(False)
        self._show_plan(plan)
        # the channel boxes just filled in say what this plan chose; a change made while reading
        # (the offset, or a channel when the choices were kept) is read again
        moved = asked is not None and (asked[2:] if keep_choices else asked[2:3]) != (
            now[2:] if keep_choices else now[2:3]
        )
        self._asked = self._inputs()
        if moved:
            self._read(keep_choices=True)

    def _read_failed(self, message: str) -> None:
        self.busy = False
        self.progress.setVisible(False)
        self.plan = None
        self._show_plan(None)
        self._refused(message)

    def _refused(self, message: str) -> None:
        self.summary.setText(f"Cannot import: {message}")
        self.summary.setStyleSheet("color:#b91c1c;")
        self._update_buttons()

    # --- the preview ------------------------------------------------------------------------

    def _show_plan(self, plan: ImportPlan | None) -> None:
        self.summary.setStyleSheet("")
        self.table.setRowCount(0)
        self.timeline.clear()
        self.warnings.setText("")
        if plan is None:
            self.summary.setText("Choose the signal file (and the video), then Read files.")
            self._update_buttons()
            return
        lines = plan.summary_lines()
        head = [ln for ln in lines if not ln.startswith(("  ", "Channels found", "Warning:"))]
        self.summary.setText("\n".join(head))
        rows = plan.channel_rows()
        self.table.setRowCount(len(rows))
        for i, r in enumerate(rows):
            cells = [
                r["label"],
                r["kind"],
                r["unit"],
                f"{r['rate_hz']:g}",
                f"{r['duration_s']:.1f}",
                f"{r['lost']:,}",
                r["role"] or "–",
            ]
            for j, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if 3 <= j <= 5:
                    item.setTextAlignment(
                        Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
                    )
                self.table.setItem(i, j, item)
        if plan.ecg is not None or plan.eda is not None:
            a, b = plan.signals_span_s
            self._bar(a, b, 1, SIGNALS_COLOUR, "signals")
        vspan = plan.video_span_s
        if vspan is not None:
            self._bar(vspan[0], vspan[1], 0, VIDEO_COLOUR, "video")
        self.warnings.setText("\n".join(plan.warnings))
        self._update_buttons()

    def _bar(self, a: float, b: float, y: float, colour: str, name: str) -> None:
        bar = pg.BarGraphItem(x0=[a], x1=[b], y=[y], height=0.6, brush=colour, pen=colour)
        bar.setOpts(name=name)
        self.timeline.addItem(bar)

    def _update_buttons(self) -> None:
        ready = self.plan is not None and not self.busy
        self.import_btn.setEnabled(ready and self.consent.isChecked())
        self.read_btn.setEnabled(not self.busy)
        self.import_btn.setToolTip(
            "" if self.consent.isChecked() else "Confirm the patient's consent first"
        )

    # --- importing --------------------------------------------------------------------------

    def _import_clicked(self) -> None:
        plan = self.plan
        if plan is None or not self.consent.isChecked():
            return
        note = self.consent_note.text().strip()

        def job(progress: Callable[[float], None]) -> SessionRecord:
            return import_session(
                self.catalog, self.data_root, self.patient_id, plan, consent=True, consent_note=note
            )

        self.busy = True
        self.summary.setText("Importing…")
        self._update_buttons()
        run_job(job, on_done=self._import_done, on_error=self._import_failed)

    def _import_done(self, rec: SessionRecord) -> None:
        self.busy = False
        self.imported.emit(rec)
        self.accept()

    def _import_failed(self, message: str) -> None:
        self.busy = False
        self._refused(f"{message} Nothing was imported.")

    def reject(self) -> None:
        if self.busy:  # a job is running: it finishes (an import leaves nothing if it fails)
            return
        super().reject()
