"""Walk the therapist's path in the real GUI and save a screenshot of every screen.

    python tools/walkthrough.py OUT_DIR [--record-seconds 20]

Runs against a fresh temporary data folder: creates a patient, records a simulated session in
real time (with treatment markers), stops (the session's review screen, not analysed yet),
analyses it ("Analyse now", with the settings' model: the demo model by default), reviews it, plays
it back, shows the patient's history and the cohort, and exports the PDF. Use it under Xvfb (or
QT_QPA_PLATFORM=offscreen) to look at what a therapist sees.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("out", type=Path)
    ap.add_argument("--record-seconds", type=float, default=20.0)
    ap.add_argument("--demo", action="store_true", help="also build the demo patient first")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="therascope-walk-"))
    os.environ["THERASCOPE_DATA_DIR"] = str(tmp / "data")
    os.environ["THERASCOPE_CONFIG_DIR"] = str(tmp / "cfg")

    from PySide6.QtWidgets import QApplication

    from app.gui.main import create_window

    app = QApplication(sys.argv)
    win, _ = create_window(demo=args.demo)
    win.resize(1280, 800)
    win.show()

    def pump(seconds: float) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            app.processEvents()
            time.sleep(0.01)

    def shot(name: str) -> None:
        pump(0.3)
        win.grab().save(str(args.out / f"{name}.png"))
        print("saved", args.out / f"{name}.png")

    if args.demo:
        while not win.progress.isHidden():
            pump(0.5)
    shot("1-patients")
    p = win.catalog.add_patient("P-0042", name="Alex Example", birth_year=1990)
    win.patients.refresh()
    win.show_patient(p.id)
    shot("2-patient-empty")
    win.show_record(p.id)
    shot("3-setup")
    win.record.consent.setChecked(True)
    win.record.start_recording()
    pump(args.record_seconds / 3)
    win.record.add_marker("treatment_start")
    win.record.marker_edit.setText("patient describes a panic episode")
    win.record.marker_edit.returnPressed.emit()
    pump(args.record_seconds / 3)
    win.record.add_marker("treatment_end")
    pump(args.record_seconds / 3)
    shot("4-recording")
    sid = win.record.stop_recording()
    pump(0.5)
    shot("5-after-session")
    win.review.analyse()  # "Analyse now"
    for _ in range(1200):
        pump(0.1)
        if win.review.review is not None and not win.review.runner.running:
            break
    win.review.seek(win.review.review.record.duration_s * 0.8 if win.review.review else 0.0)
    shot("5c-review-analysed")
    win.review.tabs.setCurrentIndex(2)
    shot("5d-review-markers")
    win.review.tabs.setCurrentIndex(0)
    win.show_playback(sid)
    win.playback.seek(win.playback.duration * 0.4)
    shot("5b-playback")
    win.show_patient(p.id)
    shot("6-patient-history")
    win.show_cohort()
    shot("7-cohort")
    pdf = args.out / "report.pdf"
    win.patient.export_report(str(pdf), include_name=False)
    for _ in range(200):
        pump(0.1)
        if getattr(win.patient, "last_report", None):
            break
    print("report", win.patient.last_report)
    win.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
