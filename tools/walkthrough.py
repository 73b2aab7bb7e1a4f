"""Walk the therapist's path in the real GUI and save a screenshot of every screen and dialog.

    python tools/walkthrough.py OUT_DIR [--record-seconds 20] [--demo] [--sizes]

Runs against a fresh temporary data folder: the empty patient list (its welcome panel), the new
patient dialog, the patient's empty page, the set-up screen, a simulated session recorded in real
time (with treatment markers and a typed marker), the session's review before the analysis, the
analysis ("Analyse now", with the settings' model: the demo model by default), every tab of the
review (liking and the emotions: "not estimated by this model" for the demo model), playback,
the patient's history, the dialogs (data quality, delete session, archive, delete patient,
settings, Help's shortcuts, data locations, self-test, About), the cohort, the PDF
report (its pages as PNGs when ``pdftoppm`` is installed), then two more sessions for the
course of therapy: the patient's progress trends, two sessions compared and the course report. ``--sizes`` saves every screen again
as it looks on a 1366×768 and a 1024×640 display. Use it under Xvfb (or QT_QPA_PLATFORM=offscreen)
to look at what a therapist sees.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

# the checkout's packages: the editable install maps them only for the therascope command
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

#: displays for --sizes; a window's title bar takes about 30 px of the height
SIZES = ((1366, 768), (1024, 640))
TITLE_BAR = 30


def import_recording(win: Any, patient_id: int, pump: Any, shot: Any, tmp: Path) -> None:
    """The import dialog with a real BITalino ECG (opensignalsreader's SampleECG.txt, when that
    package is installed) and a rendered face video, its preview, the import, and the export
    menu."""
    try:
        import opensignalsreader
    except ImportError:
        print("import: opensignalsreader is not installed; skipped")
        return
    import cv2
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from core.simulation.face import render_face

    sample = Path(opensignalsreader.__file__).parent / "files" / "SampleECG.txt"
    video = tmp / "face.mp4"
    w = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"mp4v"), 10.0, (320, 240))
    for i in range(200):
        w.write(render_face(-0.3, 0.5, i / 10.0, width=320, height=240, seed=2))
    w.release()
    win.show_patient(patient_id)
    win.patient.import_btn.click()
    dlg = win.patient.import_dialog
    dlg.signals_edit.setText(str(sample))
    dlg.video_edit.setText(str(video))
    dlg.offset.setValue(1.0)
    dlg.read_btn.click()
    for _ in range(300):
        pump(0.1)
        if dlg.plan is not None and not dlg.busy:
            break
    dlg.consent.setChecked(True)
    shot("17-import-dialog", dlg)
    dlg.import_btn.click()
    for _ in range(300):
        pump(0.1)
        if not dlg.isVisible():
            break
    shot("18-patient-imported")
    rec = win.patient.selected_session()
    if rec is not None:
        win.show_playback(rec.id)
        win.playback.seek(win.playback.duration * 0.5)
        shot("18b-playback-imported")
        win.show_patient(patient_id)
        win.patient.select_session(rec.id)

    def grab_menu() -> None:
        menu = QApplication.activePopupWidget()
        if menu is None:
            QTimer.singleShot(100, grab_menu)
            return
        shot("19-export-data-menu", menu)
        menu.close()

    QTimer.singleShot(300, grab_menu)
    win.patient.data_btn.click()
    pump(0.5)


def course_of_therapy(win: Any, patient_id: int, pump: Any, shot: Any, out: Path) -> None:
    """Two more sessions (simulated, virtual clock, analysed through the review's "Analyse now"
    with GAD-7, PHQ-9 and SUDS entered), then the patient's "Progress trends" tab, "Compare two
    sessions…" and the course report (its pages as PNGs when ``pdftoppm`` is installed)."""
    from app.demo.simulation import record_simulated

    for k, (scenario, gad, phq) in enumerate(
        (("anxious_to_calm", (12, 9), 1), ("anxious_to_calm", (9, 6), 0)), start=1
    ):
        rec = record_simulated(
            win.catalog, win.data_root, patient_id, 45.0, scenario=scenario, seed=k,
            with_markers=True,
        )  # fmt: skip
        for phase, g in zip(("pre", "post"), gad, strict=True):
            win.catalog.set_self_report(rec.id, phase, sam_valence=3 + k, sam_arousal=7 - k, gad7=g)
        items = dict(enumerate((2, 1, 1, 1, 1, 1, 1, 0, phq), start=1))
        win.catalog.set_questionnaire(rec.id, "pre", "phq9", items)
        for t_s, rating in ((5.0, 80 - 10 * k), (40.0, 50 - 10 * k)):
            win.catalog.add_suds(rec.id, t_s, rating)
        win.show_review(rec.id)
        win.review.analyse()
        for _ in range(1200):
            pump(0.1)
            if win.review.review is not None and not win.review.runner.running:
                break
    win.show_patient(patient_id)
    win.patient.show_trends()
    for _ in range(600):
        pump(0.1)
        if win.patient.trends.course is not None and not win.patient.trends.busy:
            break
    shot("21-patient-trends")
    win.patient.table.selectRow(0)
    win.patient.compare_btn.click()
    dlg = win.patient.compare_dialog
    for _ in range(300):
        pump(0.1)
        if not (dlg.left.physiology.busy or dlg.right.physiology.busy):
            break
    shot("22-compare-sessions", dlg)
    dlg.reject()
    pdf = out / "course.pdf"
    win.patient.export_course(str(pdf), include_name=False)
    for _ in range(600):
        pump(0.1)
        if win.patient.last_course_report:
            break
    print("course report", win.patient.last_course_report)
    if shutil.which("pdftoppm") and pdf.exists():
        subprocess.run(["pdftoppm", "-png", "-r", "70", str(pdf), str(out / "course")])
        print("course pages", sorted(x.name for x in out.glob("course-*.png")))


def first_account(root: Path, pump: Any, out: Path) -> Any:
    """The first start on a clinic's data folder: the first account's dialog and the recovery
    key, as the therapist fills them in (both saved as pictures)."""
    from app.gui.access_dialogs import FirstAccountDialog

    root.mkdir(parents=True, exist_ok=True)
    dlg = FirstAccountDialog(root)
    dlg.show()
    dlg.name.setText("dr.amsel")
    dlg.fields.password.setText("a long clinic password")
    dlg.fields.repeat.setText("a long clinic password")
    pump(0.3)
    dlg.grab().save(str(out / "00-first-account.png"))
    dlg.create_btn.click()
    pump(0.5)
    rec = dlg.recovery_dialog
    rec.written_box.setChecked(True)
    pump(0.2)
    rec.grab().save(str(out / "00b-recovery-key.png"))
    rec.continue_btn.click()
    pump(0.3)
    print("saved", out / "00-first-account.png", out / "00b-recovery-key.png")
    return dlg.unlocked


def lock_screen(win: Any, pump: Any, shot: Any) -> None:
    """Lock now, the lock screen, and unlocking with the password."""
    win.idle_lock.lock()
    pump(0.5)
    dlg = win.idle_lock.dialog
    shot("21-lock-screen", dlg)
    dlg.password.setText("a long clinic password")
    dlg.unlock_btn.click()
    pump(0.3)


def selftest_dialog(win: Any, help_menu: Any, pump: Any, shot: Any) -> None:
    """Help → Self-test…: the dialog while it runs, then with its verdict."""
    next(a for a in help_menu.actions() if a.text() == "Self-test…").trigger()
    dlg = win.selftest_dialog
    pump(2.0)
    shot("15-help-selftest-running", dlg)
    end = time.monotonic() + 300
    while dlg.outcome is None and time.monotonic() < end:
        pump(0.2)
    shot("15-help-selftest-done", dlg)
    dlg.close_btn.click()
    pump(0.5)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("out", type=Path)
    ap.add_argument("--record-seconds", type=float, default=20.0)
    ap.add_argument("--demo", action="store_true", help="also build the demo patient first")
    ap.add_argument("--sizes", action="store_true", help="also save 1366×768 and 1024×640 shots")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="therascope-walk-"))
    os.environ["THERASCOPE_DATA_DIR"] = str(tmp / "data")
    os.environ["THERASCOPE_CONFIG_DIR"] = str(tmp / "cfg")

    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication, QDialog, QMessageBox, QWidget

    from app.gui.main import create_window

    app = QApplication(sys.argv)

    def pump(seconds: float) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            app.processEvents()
            time.sleep(0.01)

    unlocked = None if args.demo else first_account(tmp / "data", pump, args.out)
    win, _ = create_window(demo=args.demo, unlocked=unlocked)
    win.resize(1280, 800)
    win.show()

    def shot(name: str, widget: QWidget | None = None) -> None:
        pump(0.3)
        (widget or win).grab().save(str(args.out / f"{name}.png"))
        print("saved", args.out / f"{name}.png")

    def open_dialogs() -> list[QWidget]:
        return [
            w
            for w in app.topLevelWidgets()
            if isinstance(w, QDialog | QMessageBox) and w.isVisible() and w is not win
        ]

    def dialog_shot(name: str, trigger: Callable[[], object]) -> None:
        """Open a dialog (modal ones too), save it, and close it without answering."""
        seen: list[str] = []

        def grab_and_close() -> None:
            dialogs = open_dialogs()
            if not dialogs:
                QTimer.singleShot(100, grab_and_close)
                return
            d = dialogs[-1]
            pump(0.3)
            d.grab().save(str(args.out / f"{name}.png"))
            seen.append(d.windowTitle())
            print("saved", args.out / f"{name}.png", f"({d.windowTitle()})")
            d.close() if not isinstance(d, QDialog) else d.reject()

        QTimer.singleShot(300, grab_and_close)
        trigger()
        for _ in range(50):
            if seen:
                break
            pump(0.1)
        pump(0.2)

    if args.demo:
        while not win.demo_progress.isHidden():
            pump(0.5)

    def setup_settled(timeout_s: float = 20.0) -> None:
        """Wait (at most ``timeout_s``) until the set-up screen's searches are over: the Bluetooth
        scan, the Lab Streaming Layer search and the camera listing, so that its shot shows what
        they found rather than "Looking for…"."""
        devices = win.record.devices
        end = time.monotonic() + timeout_s
        while time.monotonic() < end:
            searching = {"scan", "lsl", "cameras"} & devices.busy
            if not searching and not devices.lsl_status.text().startswith("Looking for"):
                return
            pump(0.2)
        print(f"set-up: still searching after {timeout_s:.0f} s ({sorted(devices.busy)})")

    shot("01-patients-welcome")
    dialog_shot("02-new-patient-dialog", win.patients.new_btn.click)
    p = win.catalog.add_patient("P-0042", name="Alex Example", birth_year=1990)
    win.patients.refresh()
    win.show_patient(p.id)
    shot("03-patient-empty")
    win.show_record(p.id)
    setup_settled()
    shot("04-setup")
    win.record.consent.setChecked(True)
    win.record.start_recording()
    pump(args.record_seconds / 3)
    win.record.mark_phase("treatment_start")
    # S: the SUDS entry for this moment, then the rating saved (shown beside heart rate and EDA)
    suds = win.record.ask_suds()
    if suds is not None:
        suds.field.setText("70")
        shot("05a-suds-entry", suds)
        suds.save()
    win.record.marker_edit.setText("patient describes a panic episode")
    win.record.marker_edit.returnPressed.emit()
    pump(args.record_seconds / 3)
    win.record.mark_phase("treatment_end")
    win.record.add_suds(35)
    pump(args.record_seconds / 3)
    shot("05-recording")
    sid = win.record.stop_recording()
    pump(0.5)
    shot("06-review-not-analysed")
    # GAD-7 and PHQ-9 item by item before and after (PHQ-9 item 9 above 0: highlighted)
    for phase, gad, phq in (("pre", 2, 2), ("post", 1, 1)):
        win.catalog.set_questionnaire(sid, phase, "gad7", dict.fromkeys(range(1, 8), gad))
        win.catalog.set_questionnaire(sid, phase, "phq9", dict.fromkeys(range(1, 10), phq))
    win.review.self_report.load(sid)
    win.review.analyse()  # "Analyse now"
    for _ in range(1200):
        pump(0.1)
        if win.review.review is not None and not win.review.runner.running:
            break
    win.review.seek(win.review.review.record.duration_s * 0.8 if win.review.review else 0.0)
    for i in range(win.review.tabs.count()):
        win.review.tabs.setCurrentIndex(i)
        tab = "".join(c for c in win.review.tabs.tabText(i).lower() if c.isalnum() or c == " ")
        shot(f"07-review-{i + 1}-{'-'.join(tab.split())}")
    win.review.tabs.setCurrentWidget(win.review.self_report)
    q = win.review.self_report.questionnaires
    q.setCurrentWidget(q.pages["phq9"])  # PHQ-9 item by item
    shot("07b-review-phq9-items")
    # which of liking and the seven emotions the model estimates (the demo model: none)
    print("liking & emotions:", win.review.outputs.intro.text().split("<br>")[0])
    win.review.tabs.setCurrentIndex(0)
    win.show_playback(sid)
    win.playback.seek(win.playback.duration * 0.4)
    shot("08-playback")
    win.show_patient(p.id)
    win.patient.table.selectRow(0)
    shot("09-patient-history")
    dialog_shot("10-data-quality-dialog", win.patient.quality_btn.click)
    dialog_shot("11-delete-session-dialog", win.patient.delete_session_btn.click)
    dialog_shot("12-archive-dialog", win.patient.archive_btn.click)
    dialog_shot("13-delete-patient-dialog", win.patient.delete_btn.click)
    dialog_shot("14-settings-dialog", win.show_settings)
    help_menu = next(a.menu() for a in win.menuBar().actions() if a.menu() is not None)
    for n, act in enumerate(
        a for a in help_menu.actions() if not a.isSeparator() and a.text() != "Self-test…"
    ):
        dialog_shot(f"15-help-{n + 1}", act.trigger)
    selftest_dialog(win, help_menu, pump, shot)
    win.show_cohort()
    shot("16-cohort")
    import_recording(win, p.id, pump, shot, tmp)
    if win.unlocked is not None:
        clinic = win.clinic_menu
        for n, act in enumerate(
            a for a in clinic.actions() if not a.isSeparator() and "Lock" not in a.text()
        ):
            dialog_shot(f"20-clinic-{n + 1}", act.trigger)
        lock_screen(win, pump, shot)
    pdf = args.out / "report.pdf"
    win.show_patient(p.id)
    # the session recorded above: its questionnaires, PHQ-9 item 9 banner and SUDS ratings
    win.patient.export_report(str(pdf), include_name=False, session_id=sid)
    for _ in range(200):
        pump(0.1)
        if getattr(win.patient, "last_report", None):
            break
    print("report", win.patient.last_report)
    if shutil.which("pdftoppm") and pdf.exists():
        subprocess.run(["pdftoppm", "-png", "-r", "70", str(pdf), str(args.out / "report")])
        print("report pages", sorted(x.name for x in args.out.glob("report-*.png")))
    course_of_therapy(win, p.id, pump, shot, args.out)
    if args.sizes:
        screens: list[tuple[str, Callable[[], object]]] = [
            ("patients", win.show_patients),
            ("patient", lambda: win.show_patient(p.id)),
            ("review", lambda: win.show_review(sid)),
            ("playback", lambda: win.show_playback(sid)),
            ("cohort", win.show_cohort),
            ("setup", lambda: win.show_record(p.id)),
        ]
        for w, h in SIZES:
            for name, show in screens:
                show()
                win.resize(w, h - TITLE_BAR)
                pump(0.5)
                if name == "setup":
                    setup_settled()
                shot(f"20-{w}x{h}-{name}")
        win.record.cancel_btn.click()
    win.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
