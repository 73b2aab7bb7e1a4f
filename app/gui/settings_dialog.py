"""Screen 8 — Settings, on three pages: the model in use (with its provenance), analysis device,
rate and face detector; circumplex and phase options, the clinic's and the therapist's names for
reports; this computer's data folder, backup, idle lock and Lab Streaming Layer."""

from __future__ import annotations

import html
from dataclasses import fields
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QRadioButton,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)
from shiboken6 import isValid

from app.build_info import build_info
from app.gui.workers import Job, run_job
from core.config import Settings, config_dir
from core.learning.demo_model import DEMO_LABEL, find_demo_checkpoint

#: the face detectors the analysis can use: (settings key, what the therapist reads)
FACE_DETECTORS = (
    ("model", "As the model was trained (recommended)"),
    ("haar", "Haar cascade (light; frontal faces)"),
    ("mtcnn", "MTCNN (tilted and turned heads, low light; slower on the CPU)"),
)
DEVICES = (
    ("auto", "Automatic (recommended)"),
    ("cpu", "CPU, torch (the reference; slower)"),
    ("cuda", "GPU (CUDA)"),
    ("mps", "Apple GPU (MPS)"),
)
#: what "Automatic" does (core.inference.select.plan_inference)
AUTO_DEVICE_NOTE = (
    "Automatic uses a CUDA GPU, else an Apple GPU, else the optimised CPU runtime (OpenVINO; "
    "int8 where its accuracy check holds); each analysis records which ran and why."
)


def checkpoint_provenance(path: Path) -> str:
    """Rich text describing a checkpoint (reads it: imports torch); errors as red text."""
    from core.analysis.engine import modality_label
    from core.models.checkpoint import CheckpointError, load_any_checkpoint
    from core.models.families import family_of, inputs_of

    try:
        _, cfg, meta = load_any_checkpoint(path, map_location="cpu")
    except (CheckpointError, OSError) as e:
        return (
            f"<span style='color:#c0392b'><b>Cannot use this file:</b> {html.escape(str(e))}</span>"
        )
    esc = html.escape
    label = str(meta.get("label") or path.stem)
    warn = bool(meta.get("demo", False)) and "not clinically valid" not in label
    lines = [
        f"<b>{esc(label)}</b>"
        + (" — <b style='color:#c0392b'>demo model, not clinically valid</b>" if warn else ""),
    ]
    fam = family_of(cfg)
    if fam.name == "bmmn":
        lines.append(
            f"BMMN-{esc(str(getattr(cfg, 'variant', '')).upper())}, backbone "
            f"{esc(str(getattr(cfg, 'backbone', '')))}, inputs: "
            f"{esc(modality_label(cfg.modalities, cfg.signals))}, face {cfg.face_size} px"
        )
    else:
        lines.append(
            f"{esc(fam.title)} (paper {esc(fam.paper)}), inputs: "
            f"{esc(modality_label(cfg.modalities, cfg.signals))}; "
            f"{esc(inputs_of(cfg).describe())}"
        )
    lines.append(f"Model card: {esc(str(fam.card_path))}")
    if meta.get("training_data"):
        lines.append(f"Trained on: {esc(str(meta['training_data']))}")
    made = [str(meta[k]) for k in ("created_at", "code_version") if meta.get(k)]
    if made:
        lines.append(f"Made: {esc(' · TheraScope '.join(made))}")
    if isinstance(meta.get("metrics"), dict) and meta["metrics"]:
        lines.append(f"Evaluation: {esc(', '.join(sorted(map(str, meta['metrics']))))}")
    lines.append(f"File: {esc(str(path))}")
    return "<br>".join(lines)


class SettingsDialog(QDialog):
    """Edits ``settings`` in place and saves it (Esc or Cancel leaves it unchanged)."""

    def __init__(
        self,
        settings: Settings,
        data_root: Path,
        parent: QWidget | None = None,
        path: Path | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Settings")
        self.setMinimumWidth(620)
        self.settings = settings
        self.data_root = data_root
        self.path = path  # the settings file (default: the config folder's)
        self.data = QLineEdit(str(data_root))
        self.data.setReadOnly(True)
        from core.privacy.backup import last_backup_words

        self.backup = QLabel(last_backup_words(data_root) + " (therascope backup DEST)")
        self.backup.setWordWrap(True)
        self.backup.setTextFormat(Qt.TextFormat.PlainText)
        self.use_demo = QRadioButton("Demo model (built in; not clinically valid)")
        self.use_clinic = QRadioButton("The clinic's own checkpoint:")
        group = QButtonGroup(self)
        group.addButton(self.use_demo)
        group.addButton(self.use_clinic)
        self.checkpoint = QLineEdit(settings.model_checkpoint)
        self.checkpoint.setPlaceholderText("no file chosen")
        self.checkpoint.setReadOnly(True)
        self.choose = QPushButton("Choose…")
        self.choose.clicked.connect(lambda: self.choose_checkpoint())
        (self.use_clinic if settings.model_checkpoint else self.use_demo).setChecked(True)
        self.use_demo.toggled.connect(lambda _on: self.show_provenance())
        self.provenance = QLabel()
        self.provenance.setWordWrap(True)
        self.provenance.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.provenance.setStyleSheet("background:#f6f6f6; padding:6px; border:1px solid #ddd;")
        self.provenance.setMinimumHeight(140)
        self.provenance.setAlignment(Qt.AlignmentFlag.AlignTop)
        self.device = QComboBox()
        for key, name in DEVICES:
            self.device.addItem(name, key)
        i = self.device.findData(settings.analysis_device)
        if i < 0:  # e.g. "cuda:1" typed into the settings file
            self.device.addItem(settings.analysis_device, settings.analysis_device)
            i = self.device.count() - 1
        self.device.setCurrentIndex(i)
        self.device_note = QLabel()
        self.device_note.setWordWrap(True)
        self.device_note.setTextFormat(Qt.TextFormat.PlainText)
        self.device.currentIndexChanged.connect(lambda _i: self.show_device_note())
        self.show_device_note()
        self.detector = QComboBox()
        for key, name in FACE_DETECTORS:
            self.detector.addItem(name, key)
        self.detector.setCurrentIndex(max(0, self.detector.findData(settings.face_detector)))
        self.detector.setToolTip(
            "How the analysis finds the face in each frame; the analysis records which one ran"
        )
        self.rate = self._spin(0.25, 60.0, 0.25, settings.analysis_frames_per_s, " frames/s")
        self.rate.setToolTip("Frames analysed per second of session on the CPU (a GPU does all)")
        self.radius = self._spin(0.0, 0.5, 0.01, settings.neutral_radius, "")
        self.radius.setToolTip("Points closer than this to the centre count as near neutral")
        self.minutes = self._spin(1.0, 60.0, 1.0, settings.phase_minutes, " min")
        self.minutes.setDecimals(1)
        self.minutes.setToolTip("Length of the pre and post windows when no phase markers are set")
        self.lock = self._spin(0.0, 240.0, 1.0, settings.lock_minutes, " min")
        self.lock.setDecimals(0)
        self.lock.setSpecialValueText("never")
        self.lock.setToolTip(
            "TheraScope locks after this long without input (never while a session is recorded); "
            "its password opens it again"
        )
        self.clinic = QLineEdit(settings.clinic_name)
        self.clinic.setPlaceholderText("printed on reports")
        self.therapist = QLineEdit(settings.therapist_name)
        self.therapist.setPlaceholderText("printed on page 1 of reports")
        # Lab Streaming Layer: machine-only discovery unless widened here (resources/lsl/)
        self.lsl_network = QCheckBox(
            "Find streams on the local network (applies at the next start)"
        )
        self.lsl_network.setChecked(settings.lsl_network)
        self.lsl_network.setToolTip(
            "Off: TheraScope looks for LSL streams (OpenSignals…) on this computer only. On: "
            "other computers on the network are searched too"
        )
        self.lsl_markers = QCheckBox("Publish the session's markers while recording (LabRecorder)")
        self.lsl_markers.setChecked(settings.lsl_markers)
        #: said in plain words beside the box: an LSL outlet cannot be kept on this computer
        self.lsl_markers_note = QLabel(
            "When on, other computers on the network can see and read the session's marker "
            "stream (marker kinds and times, never the patient or a note's text)."
        )
        self.lsl_markers_note.setWordWrap(True)
        self.lsl_markers.setToolTip(
            "So that LabRecorder stores them beside other LSL streams. Lab Streaming Layer "
            "serves a stream on every network connection of this computer, whatever the "
            "setting above"
        )
        lsl = QVBoxLayout()
        lsl.addWidget(self.lsl_network)
        lsl.addWidget(self.lsl_markers)
        lsl.addWidget(self.lsl_markers_note)
        ck_row = QHBoxLayout()
        ck_row.addWidget(self.checkpoint, 1)
        ck_row.addWidget(self.choose)
        self.families_btn = QPushButton("Model families and their cards…")
        self.families_btn.setToolTip(
            "The four model families (BMMN-BAE, DeepVANet, the pre-trained Transformer, "
            "AViGaS-style gated fusion): paper, inputs, what TheraScope changed"
        )
        self.families_btn.clicked.connect(self.show_model_cards)
        self.model_cards: Any = None
        model = QVBoxLayout()
        model.addWidget(self.use_demo)
        model.addWidget(self.use_clinic)
        model.addLayout(ck_row)
        model.addWidget(self.provenance)
        model.addWidget(self.families_btn, 0, Qt.AlignmentFlag.AlignLeft)
        # which build this is: version, torch flavour (CPU-only / CUDA) and torch version
        self.build = QLabel(build_info().line())
        self.build.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        head = QFormLayout()  # which build this is, seen on every page
        head.addRow("This build", self.build)
        # three pages, so that the dialog fits a 1024×640 display: what the analysis uses, how
        # the review and the reports read, and this computer (its data, lock and LSL)
        analysis = QFormLayout()
        analysis.addRow("Model", model)
        analysis.addRow("Analysis runs on", self.device)
        analysis.addRow("", self.device_note)
        analysis.addRow("Analysis rate (CPU)", self.rate)
        analysis.addRow("Face detector", self.detector)
        review = QFormLayout()
        review.addRow("Near-neutral radius", self.radius)
        review.addRow("Pre/post windows", self.minutes)
        review.addRow("Clinic name", self.clinic)
        review.addRow("Therapist name", self.therapist)
        computer = QFormLayout()
        computer.addRow("Data folder", self.data)
        computer.addRow("Backup", self.backup)
        computer.addRow("Lock when idle", self.lock)
        computer.addRow("Lab Streaming Layer", lsl)
        self.pages = QTabWidget()
        for form, title in (
            (analysis, "Model && analysis"),
            (review, "Review && reports"),
            (computer, "This computer"),
        ):
            page = QWidget()
            page_lay = QVBoxLayout(page)
            page_lay.addLayout(form)
            page_lay.addStretch(1)
            self.pages.addTab(page, title)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.save)
        buttons.rejected.connect(self.reject)
        lay = QVBoxLayout(self)
        lay.addLayout(head)
        lay.addWidget(self.pages, 1)
        lay.addWidget(buttons)
        self._asked: Path | None = None
        self.job: Job | None = None
        self.show_provenance()

    def show_device_note(self) -> None:
        """What the chosen device setting runs on here, once known (never imports torch)."""
        from app.gui.analysis_panel import cached_analysis_device

        spec = str(self.device.currentData())
        known = cached_analysis_device(spec)
        now = f"Here: {known}." if known else "Here: shown once an analysis has looked."
        self.device_note.setText((AUTO_DEVICE_NOTE + " " if spec == "auto" else "") + now)

    @staticmethod
    def _spin(lo: float, hi: float, step: float, value: float, suffix: str) -> QDoubleSpinBox:
        s = QDoubleSpinBox()
        s.setRange(lo, hi)
        s.setSingleStep(step)
        s.setDecimals(2)
        s.setSuffix(suffix)
        s.setValue(float(value))
        return s

    def show_model_cards(self) -> None:
        """Settings → the model families and their model cards."""
        from app.gui.model_cards import ModelCardsDialog

        if self.job is not None and self.job.worker_thread.isRunning():
            # the checkpoint's description imports the model code in its thread: one import of
            # it at a time (two threads importing the same package can deadlock)
            self.job.worker_thread.wait(15000)
        self.model_cards = ModelCardsDialog(self)
        self.model_cards.open()

    def chosen_checkpoint(self) -> Path | None:
        """The checkpoint the dialog points at: the clinic's file or the demo model (if built)."""
        if self.use_clinic.isChecked():
            text = self.checkpoint.text().strip()
            return Path(text) if text else None
        return find_demo_checkpoint(self.data_root)

    def choose_checkpoint(self, path: str | None = None) -> None:
        if path is None:
            start = self.checkpoint.text() or str(Path.home())
            path, _ = QFileDialog.getOpenFileName(
                self, "Model checkpoint", start, "TheraScope checkpoints (*.pt);;All files (*)"
            )
            if not path:
                return
        self.checkpoint.setText(path)
        self.use_clinic.setChecked(True)
        self.show_provenance()

    def show_provenance(self) -> None:
        """Describe the chosen model; reading a checkpoint runs in the background."""
        path = self.chosen_checkpoint()
        if path is None:
            self.provenance.setText(
                "Choose the clinic's checkpoint file."
                if self.use_clinic.isChecked()
                else f"{html.escape(DEMO_LABEL)}.<br>Not built on this computer yet: it is "
                "built on the first analysis (takes minutes, once)."
            )
            self._asked = None
            return
        if not path.is_file():
            self.provenance.setText(
                f"<span style='color:#c0392b'><b>File not found:</b> {html.escape(str(path))}</span>"
            )
            self._asked = None
            return
        self.provenance.setText("Reading the checkpoint…")
        self._asked = path

        def shown(text: Any) -> None:
            if isValid(self.provenance) and self._asked == path:
                self.provenance.setText(str(text))

        def failed(msg: str) -> None:
            if isValid(self.provenance) and self._asked == path:
                self.provenance.setText(
                    f"<span style='color:#c0392b'><b>Cannot read:</b> {html.escape(msg)}</span>"
                )

        self.job = run_job(lambda _p: checkpoint_provenance(path), shown, failed)

    def done(self, result: int) -> None:  # noqa: D102 — Qt's name; closing the dialog
        if self.job is not None and self.job.worker_thread.isRunning():
            self.job.worker_thread.wait(15000)  # a checkpoint being read: a few seconds at most
        super().done(result)

    def values(self) -> Settings:
        new = Settings(**{f.name: getattr(self.settings, f.name) for f in fields(Settings)})
        new.model_checkpoint = self.checkpoint.text().strip() if self.use_clinic.isChecked() else ""
        new.analysis_device = str(self.device.currentData())
        new.analysis_frames_per_s = float(self.rate.value())
        new.face_detector = str(self.detector.currentData())
        new.neutral_radius = float(self.radius.value())
        new.phase_minutes = float(self.minutes.value())
        new.lock_minutes = float(self.lock.value())
        new.lsl_network = self.lsl_network.isChecked()
        new.lsl_markers = self.lsl_markers.isChecked()
        new.clinic_name = self.clinic.text().strip()
        new.therapist_name = self.therapist.text().strip()
        return new

    def save(self) -> None:
        new = self.values()
        if self.use_clinic.isChecked() and not (
            new.model_checkpoint and Path(new.model_checkpoint).is_file()
        ):
            QMessageBox.warning(
                self,
                "Settings not saved",
                "Choose an existing checkpoint file, or use the demo model.",
            )
            return
        try:
            new.save(self.path or config_dir() / "settings.json")
        except OSError as e:
            QMessageBox.warning(self, "Settings not saved", str(e))
            return
        for f in fields(Settings):  # in place: every screen holds this object
            setattr(self.settings, f.name, getattr(new, f.name))
        self.accept()
