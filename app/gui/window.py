"""The main window: a stack of screens, each reachable in at most two clicks from Patients."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from PySide6.QtCore import QEventLoop, Qt
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import (
    QApplication,
    QMainWindow,
    QMessageBox,
    QProgressDialog,
    QStackedWidget,
)

from app.gui.access import IdleLock, install_clinic_menu
from app.gui.cohort_page import CohortPage
from app.gui.help_menu import install_help_menu
from app.gui.patient_page import PatientPage
from app.gui.patients_page import PatientsPage
from app.gui.playback_page import PlaybackPage
from app.gui.record_page import RecordPage
from app.gui.review_page import ReviewPage
from app.gui.widgets import JobProgress
from app.gui.workers import Job, running_jobs, wait_for_jobs
from core.catalog import Catalog
from core.config import Settings
from core.recording.sources import DeviceFactory


class MainWindow(QMainWindow):
    def __init__(
        self,
        catalog: Catalog,
        data_root: Path,
        device_factory: DeviceFactory,
        settings: Settings | None = None,
        demo: bool = True,
        unlocked: Any = None,
    ) -> None:
        super().__init__()
        self.catalog = catalog
        self.data_root = data_root
        # one Settings object shared by every screen; the settings dialog edits it in place
        self.settings = settings if settings is not None else Settings()
        self.closing = threading.Event()  # background jobs poll it to stop early
        self.demo_job: Job | None = None
        #: while the window closes: the question about a report being written, the message
        #: shown while waiting for the background jobs (None otherwise)
        self.close_question: QMessageBox | None = None
        self.finishing_dialog: QProgressDialog | None = None
        self._finishing = False
        #: the account that unlocked the clinic's data (None: the demo data folder)
        self.unlocked = unlocked
        self.idle_lock: IdleLock | None = None
        if unlocked is None:
            self.setWindowTitle("TheraScope — DEMO DATA (a simulated patient; no account)")
        else:
            self.setWindowTitle(f"TheraScope — {unlocked.account.name}")
        self.resize(1280, 800)
        self.stack = QStackedWidget()
        self.setCentralWidget(self.stack)
        # set while the set-up/record screen shows: background builds pause (read by workers)
        self.record_screen_open = threading.Event()
        self.patients = PatientsPage(catalog)
        self.patient = PatientPage(catalog, data_root)
        self.patient.unlocked = unlocked  # an erasure destroys keys with it
        self.record = RecordPage(catalog, data_root, device_factory, self.settings)
        self.playback = PlaybackPage(catalog, data_root)
        self.review = ReviewPage(catalog, data_root, self.settings)
        self.cohort = CohortPage(catalog, data_root, self.settings)
        for w in (
            self.patients,
            self.patient,
            self.record,
            self.playback,
            self.review,
            self.cohort,
        ):
            self.stack.addWidget(w)
        self.stack.currentChanged.connect(self._screen_changed)
        self.patients.open_patient.connect(self.show_patient)
        self.patients.open_cohort.connect(self.show_cohort)
        self.patients.open_settings.connect(self.show_settings)
        self.patient.back.connect(self.show_patients)
        self.patient.new_session.connect(self.show_record)
        self.patient.play_session.connect(self.show_playback)
        self.patient.review_session.connect(self.show_review)
        self.patient.message.connect(lambda m: self.statusBar().showMessage(m, 8000))
        self.record.cancelled.connect(lambda: self.show_patient(self.record.patient_id or 0))
        self.record.finished.connect(self._recorded)
        self.playback.back.connect(self.show_patient)
        self.review.back.connect(self.show_patient)
        self.review.play_session.connect(self.show_playback)
        self.review.message.connect(lambda m: self.statusBar().showMessage(m, 8000))
        self.review.analysed.connect(self._analysed)
        self.review.runner.progressed.connect(self._analysis_progress)
        self.review.runner.cancelled.connect(
            lambda _sid: self._analysis_ended("Analysis cancelled; nothing was stored.")
        )
        self.review.runner.failed.connect(lambda _sid, _msg: self._analysis_ended(""))
        self.cohort.back.connect(self.show_patients)
        self.cohort.open_patient.connect(self.show_patient)
        # one indicator per background job, each with its own label
        self.demo_progress = JobProgress("Demo patient")
        self.analysis_progress = JobProgress("Analysis")
        for indicator in (self.demo_progress, self.analysis_progress):
            self.statusBar().addPermanentWidget(indicator)
        self.help_menu = install_help_menu(self, data_root)
        self.clinic_menu = None
        if unlocked is not None:
            self.idle_lock = IdleLock(
                self,
                unlocked,
                minutes=lambda: float(self.settings.lock_minutes),
                busy=lambda: self.record.recording or self.record.saving,
            )
            self.clinic_menu = install_clinic_menu(self, unlocked, self.idle_lock)
            from app.gui.encrypt_dialog import clear_text_words

            unencrypted = clear_text_words(catalog, data_root)
            if unencrypted:  # a folder an older TheraScope wrote: say so where it is seen
                where = (
                    "Clinic → Encrypt data folder…"
                    if unlocked.account.role == "admin"
                    else "an administrator can encrypt them (Clinic menu)"
                )
                self.statusBar().showMessage(f"{unencrypted[:1].upper()}{unencrypted[1:]}: {where}")

    def _screen_changed(self, _index: int) -> None:
        if self.stack.currentWidget() is self.record:
            self.record_screen_open.set()
        else:
            self.record_screen_open.clear()

    def show_patients(self) -> None:
        self.patients.refresh()
        self.stack.setCurrentWidget(self.patients)

    def show_patient(self, patient_id: int) -> None:
        self.patient.history.set_neutral_radius(self.settings.neutral_radius)
        self.patient.show_patient(patient_id)
        self.stack.setCurrentWidget(self.patient)
        self._audit_open("patient", patient_id, "page")

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
        self._audit_open("session", session_id, "playback")

    def show_review(self, session_id: int) -> None:
        self.playback.stop()
        try:
            self.review.load(session_id)
        except (OSError, KeyError) as e:
            QMessageBox.warning(self, "Cannot open the session", str(e))
            return
        self.stack.setCurrentWidget(self.review)
        self._audit_open("session", session_id, "review")

    def _audit_open(self, entity: str, entity_id: int, where: str) -> None:
        """Who opened what, in the audit trail (ids only; the account is the catalog's)."""
        from core.storage import StorageError

        try:
            self.catalog.audit("open", entity, entity_id, where)
        except StorageError as e:  # a read-only catalog: the page still opens, the log says so
            import logging

            logging.getLogger(__name__).warning("open not audited: %s", e)

    def show_cohort(self) -> None:
        try:
            self.cohort.refresh()
        except (OSError, ValueError) as e:
            QMessageBox.warning(self, "Cannot show the cohort", str(e))
            return
        self.stack.setCurrentWidget(self.cohort)

    def show_settings(self) -> None:
        from app.gui.settings_dialog import SettingsDialog

        dlg = SettingsDialog(self.settings, self.data_root, parent=self)
        if dlg.exec():
            self.statusBar().showMessage("Settings saved", 5000)
            if self.stack.currentWidget() is self.review:
                self.review.refresh()

    def _recorded(self, session_id: int) -> None:
        rec = self.catalog.get_session(session_id)
        self.statusBar().showMessage(
            f"Session saved ({rec.status if rec else '?'}). Analyse it now, or later.", 8000
        )
        self.show_review(session_id)

    def _analysis_progress(self, fraction: float, text: str) -> None:
        # the therapist may leave the review screen while the analysis runs
        self.analysis_progress.update_progress(fraction, text)

    def _analysis_ended(self, message: str) -> None:
        self.analysis_progress.finish()
        self.statusBar().showMessage(message, 8000)

    def _analysed(self, session_id: int) -> None:
        self.analysis_progress.finish()
        self.statusBar().showMessage("Analysis complete", 8000)
        if self.patient.patient_id is not None:
            self.patient.refresh()

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 — Qt's name
        if self._finishing or self.close_question is not None:  # already closing: one at a time
            event.ignore()
            return
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
        writing = [j.what for j in running_jobs() if j.what]
        if writing and not self._wait_for_writing(writing):
            event.ignore()
            return
        self.record.wait_saved()  # a session stopped just before is saved in full
        self.playback.stop()
        self.record.devices.shutdown()  # test signal, camera preview, the Bluetooth thread
        self.review.shutdown()  # cancels a running analysis (nothing half-done is stored)
        self.closing.set()
        if self.idle_lock is not None:
            self.idle_lock.stop()
        if self.demo_job is not None and self.demo_job.worker_thread.isRunning():
            self.demo_job.worker_thread.wait()  # the demo build stops at its next step (≤ 0.1 s)
        self._finish_jobs()
        event.accept()

    def _wait_for_writing(self, writing: list[str]) -> bool:
        """Ask before closing while a report or an export is being written: wait for it, or
        keep working. Closing without it is not offered: it would be left unfinished."""
        what = ", ".join(dict.fromkeys(writing))
        box = QMessageBox(self)
        box.setIcon(QMessageBox.Icon.Information)
        box.setWindowTitle("Still being written")
        box.setText(f"{what[:1].upper()}{what[1:]} is still being written.")
        box.setInformativeText(
            "TheraScope can wait until it is finished and then close (usually a few seconds), "
            "or stay open. Closing without it would leave it unfinished."
        )
        wait = box.addButton("Wait, then close", QMessageBox.ButtonRole.AcceptRole)
        box.addButton("Keep working", QMessageBox.ButtonRole.RejectRole)
        box.setDefaultButton(wait)
        self.close_question = box  # for the tests
        box.exec()
        self.close_question = None
        return box.clickedButton() is wait

    def _finish_jobs(self) -> None:
        """Wait for every background job (a report, an export, the trends, a device scan) before
        the window goes: none is cut off half-way, and no worker thread is destroyed while it
        runs. A short message says what is awaited."""
        busy = running_jobs()
        if not busy:
            return
        self._finishing = True
        what = ", ".join(dict.fromkeys(j.what for j in busy if j.what)) or "background work"
        dlg = QProgressDialog(f"Finishing {what} before closing…", "", 0, 0, self)
        dlg.setWindowTitle("Closing TheraScope")
        dlg.setCancelButton(None)
        dlg.setWindowModality(Qt.WindowModality.WindowModal)
        dlg.setMinimumDuration(0)
        self.statusBar().showMessage(f"Finishing {what} before closing…")
        self.finishing_dialog = dlg  # for the tests
        dlg.show()
        QApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
        try:
            wait_for_jobs(
                lambda: QApplication.processEvents(
                    QEventLoop.ProcessEventsFlag.ExcludeUserInputEvents
                )
            )
        finally:
            QApplication.restoreOverrideCursor()
            dlg.close()
            self.finishing_dialog = None
            self._finishing = False
