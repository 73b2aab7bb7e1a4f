"""First start in demo mode: how long until the demo patient is ready, and what a recording made
meanwhile loses.

    python benchmarks/first_start.py [--record-seconds 30] [--width 640 --height 480]

Starts the real main window in demo mode on a fresh temporary data folder (the demo patient is
built in the background: simulated sessions recorded, then analysed with the shipped demo model)
and, a few seconds in, opens the record screen and a second later records a live session with
the simulated sensor and camera at 60 fps while the build runs (the build pauses while the
record screen is open; a live recording also keeps the garbage collector's full passes from stalling
the camera thread, core.recording.quiet_gc). Prints the recording's frames
dropped and achieved frame rate, the time the demo patient took to be ready (the pause included
and without it), and the machine it ran on. Set QT_QPA_PLATFORM=offscreen to run without a
display. ``--record-seconds 0`` measures the build alone; ``--no-demo`` records without any
build running (the baseline).
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

# the checkout's packages: the editable install maps them only for the therascope command
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--record-seconds", type=float, default=30.0)
    ap.add_argument("--start-after", type=float, default=3.0, help="seconds into the build")
    ap.add_argument(
        "--click-after", type=float, default=1.0, help="seconds from the record screen to Start"
    )
    ap.add_argument("--no-demo", action="store_true", help="no demo build: the baseline")
    ap.add_argument("--width", type=int, default=640)
    ap.add_argument("--height", type=int, default=480)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="therascope-first-"))
    os.environ["THERASCOPE_DATA_DIR"] = str(tmp / "data")
    os.environ["THERASCOPE_CONFIG_DIR"] = str(tmp / "cfg")
    from core.security.access import throwaway_account

    os.environ.update(throwaway_account(tmp / "data", tmp / "password.txt"))

    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication, QMessageBox

    import app.gui.record_page as record_page
    from app.gui.main import create_window
    from core.config import Settings
    from core.machine import cpu_description

    Settings(camera_width=args.width, camera_height=args.height).save()
    record_page.RecordPage.auto_find_devices = False  # no Bluetooth scan: simulated devices
    QMessageBox.question = lambda *a, **k: QMessageBox.StandardButton.Yes  # type: ignore[method-assign]
    app = QApplication(sys.argv)
    t0 = time.monotonic()
    win, _ = create_window(demo=not args.no_demo)
    win.show()
    marks: dict[str, float] = {}
    p = win.catalog.add_patient("BENCH-1")

    def open_record_screen() -> None:
        win.show_record(p.id)
        # consent ticked and Start pressed a moment later, as a therapist does
        QTimer.singleShot(int(args.click_after * 1000), start)

    def start() -> None:
        win.record.consent.setChecked(True)
        win.record.start_recording()
        marks["rec_start"] = time.monotonic()
        QTimer.singleShot(int(args.record_seconds * 1000), stop)

    def stop() -> None:
        win.record.stop_recording()  # waits until saved
        marks["rec_end"] = time.monotonic()

    def poll() -> None:
        if (args.no_demo or win.demo_progress.isHidden()) and "ready" not in marks:
            marks["ready"] = time.monotonic()
        if "ready" in marks and (args.record_seconds <= 0 or "rec_end" in marks):
            app.exit(0)

    if args.record_seconds > 0:
        QTimer.singleShot(int(args.start_after * 1000), open_record_screen)
    timer = QTimer()
    timer.timeout.connect(poll)
    timer.start(100)
    app.exec()
    ready = marks["ready"] - t0
    print(
        f"machine: {cpu_description()}, {platform.system()} {platform.release()}; "
        f"Python {platform.python_version()}"
    )
    if args.record_seconds > 0:
        rec = [s for s in win.catalog.list_sessions(patient_id=p.id)][0]
        v = rec.quality["video"]
        during = marks["rec_start"] < marks["ready"]
        print(
            f"recording: {rec.duration_s:.1f} s, {v['frames']:,} frames at "
            f"{args.width}x{args.height}, {v['dropped']} dropped, {v['fps']} fps; bio lost "
            f"{rec.quality['streams']['bio']['lost']} samples"
        )
        if args.no_demo:
            print("no demo build (baseline)")
        else:
            print(
                f"demo patient ready after {ready:.1f} s (the recording started "
                f"{'during' if during else 'after'} the build, which pauses while the record "
                "screen is open)"
            )
    else:
        print(f"demo patient ready after {ready:.1f} s")
    win.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
