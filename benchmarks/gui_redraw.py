"""GUI redraw interval and recorder CPU share while recording 800 Hz ECG+EDA and 60 fps video.

    python benchmarks/gui_redraw.py [--seconds 60] [--width 640 --height 480]

Runs the real main window and record screen with the simulated sensor (stream-format-v1 packets
through the real decoder) and the simulated 60 fps camera, in real time, in a temporary data
folder. Prints the 50th/95th percentile and the longest interval between live-view redraws (the
30 Hz timer; goal: p95 ≤ 33 ms), the recorder writer thread's CPU share, the whole process's CPU
share, and the machine it ran on. Set QT_QPA_PLATFORM=offscreen to run without a display.
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


def machine() -> str:
    from core.machine import cpu_description

    return f"{cpu_description()}, {platform.system()} {platform.release()}"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--width", type=int, default=640)
    ap.add_argument("--height", type=int, default=480)
    ap.add_argument(
        "--no-encryption",
        action="store_true",
        help="record in the clear (the data folder is locked again right after the window opens)",
    )
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="therascope-bench-"))
    os.environ["THERASCOPE_DATA_DIR"] = str(tmp / "data")
    os.environ["THERASCOPE_CONFIG_DIR"] = str(tmp / "cfg")
    from core.security.access import throwaway_account

    os.environ.update(throwaway_account(tmp / "data", tmp / "password.txt"))

    import numpy as np
    from PySide6 import __version__ as pyside_version
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from app.gui.main import create_window
    from core.config import Settings

    Settings(camera_width=args.width, camera_height=args.height).save()
    app = QApplication(sys.argv)
    win, _ = create_window(demo=False)
    if args.no_encryption:  # the account's folder seals every session; this run does not
        from core.security import vault

        vault.unregister(tmp / "data")
    win.show()
    p = win.catalog.add_patient("BENCH")
    win.show_record(p.id)
    win.record.consent.setChecked(True)
    win.record.start_recording()
    cpu0 = os.times()
    wall0 = time.monotonic()
    # exit(), not quit(): quit() closes the window, which asks before ending a recording
    QTimer.singleShot(int(args.seconds * 1000), lambda: app.exit(0))
    app.exec()
    wall = time.monotonic() - wall0
    cpu1 = os.times()
    st = win.record.session.recorder.stats()
    intervals = win.record.redraw_intervals_ms()[5:]  # skip the start-up ticks
    win.record.stop_recording()
    rec = win.catalog.list_sessions(patient_id=p.id)[0]
    q = rec.quality
    proc_cpu = (cpu1.user - cpu0.user) + (cpu1.system - cpu0.system)
    print(
        f"machine: {machine()}; Python {platform.python_version()}, PySide6 {pyside_version}, "
        f"QT_QPA_PLATFORM={os.environ.get('QT_QPA_PLATFORM', '(default)')}"
    )
    print(
        f"recorded {wall:.1f} s: bio {q['streams']['bio']['received']:,} samples "
        f"(lost {q['streams']['bio']['lost']}), video {q['video']['frames']:,} frames at "
        f"{args.width}x{args.height} ({q['video']['dropped']} dropped, {q['video']['fps']} fps)"
    )
    print(
        f"redraw interval: p50 {np.percentile(intervals, 50):.1f} ms, "
        f"p95 {np.percentile(intervals, 95):.1f} ms, max {intervals.max():.1f} ms "
        f"over {len(intervals)} redraws (goal: p95 <= 33 ms)"
    )
    print("encryption at rest: " + ("off" if args.no_encryption else "on (sealed session files)"))
    print(
        f"recorder writer thread CPU: {100 * st.writer_cpu_s / wall:.1f} % of one core; "
        f"whole process (GUI + simulated devices + recorder): {100 * proc_cpu / wall:.1f} % "
        f"of one core"
    )
    win.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
