"""How long a patient's course of therapy takes to compute and to print.

    python benchmarks/course.py [--sessions 4] [--minutes 30]

Records ``--sessions`` simulated sessions of ``--minutes`` each (simulated ECG+EDA sensor and a
small camera, the real recorder on the virtual clock, phase markers at a third and two thirds)
in a temporary plain data folder, stores per-frame estimates for each at 4 frames/s (made up:
the model's speed is benchmarks/analysis_throughput.py's business), then times
:func:`core.analysis.course.patient_course` (what the "Progress trends" tab computes in its
worker: every session's review plus its pre/post physiology from the recorded ECG and EDA) and
:func:`core.report.course.export_course_report` (the same, then the PDF). Prints the figures and
the machine.
"""

from __future__ import annotations

import argparse
import platform
import shutil
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
    ap.add_argument("--sessions", type=int, default=4)
    ap.add_argument("--minutes", type=float, default=30.0)
    args = ap.parse_args()

    import numpy as np

    from app.demo.simulation import record_simulated
    from core.analysis.course import patient_course
    from core.analysis.results import SessionEstimates, save_estimates
    from core.analysis.review import record_review, review_of
    from core.catalog import Catalog
    from core.config import Settings
    from core.report.course import export_course_report

    tmp = Path(tempfile.mkdtemp(prefix="therascope-course-"))
    try:
        cat = Catalog.open(tmp / "catalog.sqlite")
        settings = Settings(camera_width=160, camera_height=120, camera_fps=10)
        p = cat.add_patient("BENCH-1")
        t0 = time.perf_counter()
        for k in range(args.sessions):
            rec = record_simulated(
                cat, tmp, p.id, args.minutes * 60.0, settings=settings, seed=k, with_markers=True
            )
            t = np.arange(0.0, float(rec.duration_s or 0.0), 0.25)
            rng = np.random.default_rng(k)
            out = np.full((len(t), 10), np.nan, np.float32)
            out[:, :2] = 5.0 + rng.normal(0.0, 1.0, (len(t), 2))
            est = SessionEstimates(
                t, np.arange(len(t)), out, np.ones(len(t), bool), np.ones(len(t), bool),
                {"checkpoint": {"label": "benchmark estimates", "demo": True}, "device": "cpu"},
            )  # fmt: skip
            save_estimates(tmp / rec.folder, est)
            review = review_of(cat, tmp, rec.id, Settings())
            assert review is not None
            record_review(cat, review)
            cat.set_self_report(rec.id, "pre", gad7=12 - k)
        made = time.perf_counter() - t0
        t0 = time.perf_counter()
        course = patient_course(cat, tmp, p.id, Settings())
        computed = time.perf_counter() - t0
        t0 = time.perf_counter()
        pdf = export_course_report(cat, tmp, p.id, tmp / "course.pdf", settings=Settings())
        printed = time.perf_counter() - t0
        hr = [s.value("hr_bpm", "pre") for s in course.sessions]
        print(
            f"{args.sessions} sessions of {args.minutes:g} min (recorded and stored in "
            f"{made:.0f} s)"
        )
        print(f"patient_course (reviews + physiology): {computed:.1f} s")
        print(f"course report PDF: {printed:.1f} s, {pdf.stat().st_size / 1e3:.0f} kB")
        print(f"heart rate before, per session: {[round(v or 0.0, 1) for v in hr]}")
        print(f"machine: {machine()}")
        cat.close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
