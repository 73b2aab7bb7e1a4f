"""Soak test: a long simulated session with a busy GUI thread; zero unaccounted samples, flat memory.

    QT_QPA_PLATFORM=offscreen .venv/bin/python benchmarks/soak.py --minutes 60

Records a simulated session on a virtual clock (as fast as the machine can render and store it) at
800 Hz ECG+EDA with packet loss, and 60 fps 640×480 video, through the real recorder, while the
Qt GUI thread draws the live ECG/EDA view (the record screen's own widget) and the camera preview
at 30 Hz and, to be busy, stalls for 50 ms every 300 ms. At the end it checks:

* every sample the simulated sensor generated between the first and the last stored packet is
  either stored or in the recorder's gap list, and those gaps are exactly the simulator's drops;
* every frame the simulated camera rendered is stored (it drops none by design);
* memory (resident set size) stays flat: sampled every minute of session time, slope reported.

Prints the figures and the machine, and exits 1 when a check fails.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import encryption  # noqa: E402 — benchmarks/encryption.py, beside this script


def rss_mb() -> float:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=60.0)
    ap.add_argument("--size", default="640x480")
    ap.add_argument("--fps", type=float, default=60.0)
    ap.add_argument("--drop-prob", type=float, default=0.005)
    ap.add_argument("--keep", help="data folder (default: a temporary one)")
    encryption.add_flag(ap)
    args = ap.parse_args(argv)

    import numpy as np
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication, QLabel, QVBoxLayout, QWidget

    from app.demo.simulation import make_devices, sensor_truth
    from app.gui.live_view import LiveSignalsView
    from app.gui.widgets import bgr_to_pixmap
    from core.catalog import Catalog
    from core.clock import VirtualClock
    from core.config import Settings
    from core.machine import cpu_description
    from core.recording.reader import open_session
    from core.recording.session import RecordingSession
    from core.simulation.scenario import preset

    w, h = (int(x) for x in args.size.split("x"))
    root = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="therascope-soak-"))
    duration = args.minutes * 60.0
    settings = Settings(camera_width=w, camera_height=h, camera_fps=args.fps)
    clock = VirtualClock()
    sensor, camera, truth = make_devices(
        preset("anxious_to_calm", duration), clock, settings, seed=11, drop_prob=args.drop_prob
    )
    at_rest = encryption.unlock_scratch(root) if args.encrypted else "encryption at rest: off"
    cat = Catalog.open(root / "catalog.sqlite")
    patient = cat.add_patient("SOAK")
    session = RecordingSession.start(
        cat, root, patient.id, sensor, camera, consent=True, settings=settings, clock=clock,
        virtual=True, simulation=truth,
    )  # fmt: skip

    app = QApplication.instance() or QApplication(sys.argv)
    win = QWidget()
    lay = QVBoxLayout(win)
    live = LiveSignalsView()
    live.configure(
        [(s.name, c, u) for s in sensor.streams for c, u in zip(s.channels, s.units, strict=True)]
    )
    preview = QLabel()
    lay.addWidget(live)
    lay.addWidget(preview)
    win.resize(1000, 700)
    win.show()
    draws = [0]

    def draw() -> None:
        rec = session.recorder
        live.update_from(rec.rings, {i.name: i for i in rec.streams.values()})
        f = rec.frame_slot.get()
        if f is not None:
            preview.setPixmap(bgr_to_pixmap(f.image, 320, fast=True))
        draws[0] += 1

    def stall() -> None:
        time.sleep(0.05)  # a busy GUI thread: the recording must not notice

    timers = []
    for period, fn in ((33, draw), (300, stall)):
        t = QTimer()
        t.timeout.connect(fn)
        t.start(period)
        timers.append(t)

    memory: list[tuple[float, float]] = []
    errors: list[BaseException] = []
    started = time.perf_counter()

    def record() -> None:
        try:
            t0 = session.t0_ns
            step = int(0.1e9)
            t = t0
            next_mem = 0.0
            while t < t0 + int(duration * 1e9):
                t += step
                session.advance(t)
                s = (t - t0) / 1e9
                if s >= next_mem:
                    memory.append((s, rss_mb()))
                    next_mem += 60.0
                    print(f"\r{s / 60:5.1f} min  RSS {memory[-1][1]:.0f} MB", end="", flush=True)
        except BaseException as exc:
            errors.append(exc)

    worker = threading.Thread(target=record, name="soak-recording")
    worker.start()
    # the GUI thread ends its own loop once the recording thread is done (quit() from another
    # thread is not reliable)
    done = QTimer()
    done.timeout.connect(lambda: None if worker.is_alive() else app.quit())
    done.start(200)
    app.exec()
    worker.join()
    wall = time.perf_counter() - started
    print()
    writer_cpu = session.recorder.stats().writer_cpu_s
    rec = session.stop(simulation_truth=lambda: sensor_truth(sensor))
    if errors:
        raise errors[0]

    data = open_session(root / rec.folder)
    stream = data.streams["bio"]
    first, end = stream.first_counter, stream.end_counter
    sim = data.simulation() or {}
    drops: list[tuple[int, int]] = []
    for c, n in sim["dropped_packets"]:
        if c >= first and c + n <= end:
            if drops and drops[-1][0] + drops[-1][1] == c:  # back-to-back drops are one gap
                drops[-1] = (drops[-1][0], drops[-1][1] + n)
            else:
                drops.append((c, n))
    gaps = [(g.first_counter, g.n) for g in stream.gaps()]
    q = rec.quality["streams"]["bio"]
    unaccounted = q["expected"] - q["received"] - q["lost"]
    frames = len(data.frame_times_s())
    rendered = camera.next_index if camera is not None else 0
    mem = np.array(memory[1:] or memory)  # after the first minute's warm-up
    slope = float(np.polyfit(mem[:, 0] / 3600, mem[:, 1], 1)[0]) if len(mem) > 2 else 0.0
    ok = unaccounted == 0 and gaps == drops and frames == rendered
    print(f"machine            {cpu_description()}")
    print(f"session            {args.minutes:g} min, 800 Hz ECG+EDA, {args.fps:g} fps {w}x{h}")
    print(f"storage            {at_rest}")
    print(f"writer thread CPU  {100 * writer_cpu / wall:.1f} % of one core")
    print(f"wall time          {wall / 60:.1f} min ({duration / wall:.2f}x real time)")
    print(f"GUI redraws        {draws[0]} at 30 Hz with a 50 ms stall every 300 ms")
    print(f"samples            expected {q['expected']:,}, stored {q['received']:,}, "
          f"lost {q['lost']:,} in {len(gaps)} gaps; unaccounted {unaccounted}")  # fmt: skip
    n_packets = len(sim["dropped_packets"])
    print(
        f"gaps = simulator's drops: {gaps == drops} ({n_packets} packets dropped, {len(drops)} runs)"
    )
    print(f"frames             rendered {rendered:,}, stored {frames:,}")
    print(f"memory (RSS)       first {mem[0, 1]:.0f} MB, last {mem[-1, 1]:.0f} MB, "
          f"max {mem[:, 1].max():.0f} MB, slope {slope:+.1f} MB/h")  # fmt: skip
    print("PASS" if ok else "FAIL")
    cat.close()
    if not args.keep:
        import shutil

        shutil.rmtree(root, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    sys.exit(main())
