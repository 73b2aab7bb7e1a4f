"""The main window: a stack of screens, each reachable in at most two clicks from Patients."""

from __future__ import annotations

import threading
from pathlib import Path

from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import QMainWindow, QMessageBox, QProgressBar, QStackedWidget

from app.patient_page import PatientPage
from app.patients_page import PatientsPage
from app.playback_page import PlaybackPage
from app.record_page import DeviceFactory, RecordPage
from app.workers import Job
from core.catalog import Catalog
from core.config import Settings


class MainWindow(QMainWindow):
    def __init__(
        self,
        catalog: Catalog,
        data_root: Path,
        device_factory: DeviceFactory,
        settings: Settings | None = None,
        demo: bool = True,
    ) -> None:
        super().__init__()
        self.catalog = catalog
        self.data_root = data_root
        self.closing = threading.Event()  # background jobs poll it to stop early
        self.demo_job: Job | None = None
        self.setWindowTitle("TheraScope" + (" — demo mode (simulated devices)" if demo else ""))
        self.resize(1280, 800)
        self.stack = QStackedWidget()
        self.setCentralWidget(self.stack)
        self.patients = PatientsPage(catalog)
        self.patient = PatientPage(catalog, data_root)
        self.record = RecordPage(catalog, data_root, device_factory, settings)
        self.playback = PlaybackPage(catalog, data_root)
        for w in (self.patients, self.patient, self.record, self.playback):
            self.stack.addWidget(w)
        self.patients.open_patient.connect(self.show_patient)
        self.patient.back.connect(self.show_patients)
        self.patient.new_session.connect(self.show_record)
        self.patient.play_session.connect(self.show_playback)
        self.record.cancelled.connect(lambda: self.show_patient(self.record.patient_id or 0))
        self.record.finished.connect(self._recorded)
        self.playback.back.connect(self.show_patient)
        self.progress = QProgressBar()
        self.progress.setMaximumWidth(240)
        self.progress.setVisible(False)
        self.statusBar().addPermanentWidget(self.progress)

    def show_patients(self) -> None:
        self.patients.refresh()
        self.stack.setCurrentWidget(self.patients)

    def show_patient(self, patient_id: int) -> None:
        self.patient.show_patient(patient_id)
        self.stack.setCurrentWidget(self.patient)

    def show_record(self, patient_id: int) -> None:
        self.record.prepare(patient_id)
        self.stack.setCurrentWidget(self.record)

    def show_playback(self, session_id: int) -> None:
        try:
            self.playback.load(session_id)
        except (OSError, ValueError, KeyError) as e:
            QMessageBox.warning(self, "Cannot play back", str(e))
            return
        self.stack.setCurrentWidget(self.playback)

    def _recorded(self, session_id: int) -> None:
        rec = self.catalog.get_session(session_id)
        self.statusBar().showMessage(f"Session saved ({rec.status if rec else '?'})", 8000)
        self.show_playback(session_id)

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 — Qt's name
        if self.record.recording:
            ans = QMessageBox.question(
                self,
                "Recording in progress",
                "A session is being recorded. Stop it, save it and quit?",
                QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
                QMessageBox.StandardButton.No,
            )
            if ans != QMessageBox.StandardButton.Yes:
                event.ignore()
                return
            self.record.stop_recording()
        self.playback.stop()
        self.closing.set()
        if self.demo_job is not None and self.demo_job.thread.isRunning():
            self.demo_job.thread.wait()  # the demo build stops at its next step (≤ 0.1 s)
        event.accept()
