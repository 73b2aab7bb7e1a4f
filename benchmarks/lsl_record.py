"""Recording a Lab Streaming Layer stream in real time: nothing unaccounted, timing, CPU.

    .venv/bin/python benchmarks/lsl_record.py                    # 10 minutes, 1000 Hz
    .venv/bin/python benchmarks/lsl_record.py --minutes 1 --drop 0.01

A synthetic ECG + EDA outlet (:mod:`devices.lsl.synthetic`, labelled synthetic, with the
``nSeq`` counter OpenSignals sends) runs in another process on the machine-only LSL configuration
(``resources/lsl/lsl_api.cfg``: ``ResolveScope = machine``, ``KnownPeers = {127.0.0.1}``), pushing a
chunk every 10 ms plus up to 3 ms of random delay; with ``--drop`` some chunks lose a run of samples
that are never sent. :class:`~devices.lsl.sensor.LslSensor` records it through the real
:class:`~core.recording.recorder.Recorder` (bio store, journal) into a temporary folder. Printed:

* samples on the outlet's grid from the first to the last sent, pushed, dropped;
* stored (read back from the bio store), lost (counter gaps in the store), and *unaccounted* =
  grid − stored − lost (must be 0);
* timing error: each stored sample's time from the session's counter→clock fit
  (:func:`core.clock.fit_counter_clock`, lower envelope) against the time the outlet gave it
  (its grid time on LSL's clock; the EDA value carries the sample's grid number) — median, 99th
  percentile and largest, in ms;
* CPU share: the recording process's CPU time (inlet thread, aligner, recorder) over the wall
  time, in % of one core; and the machine.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def machine() -> str:
    from core.machine import cpu_description

    return f"{cpu_description()}, {platform.system()} {platform.release()}"


def main() -> int:
    ap = argparse.ArgumentParser(description="record an LSL stream in real time")
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--rate", type=float, default=1000.0)
    ap.add_argument("--drop", type=float, default=0.0, help="probability a chunk loses samples")
    ap.add_argument("--no-counter", action="store_true", help="no nSeq: losses from time stamps")
    a = ap.parse_args()

    from core.clock import MonotonicClock, fit_counter_clock
    from core.recording.bio_store import read_bio_stream
    from core.recording.recorder import Recorder
    from devices.lsl.config import applied_config
    from devices.lsl.sensor import LslSensor
    from devices.lsl.synthetic import EDA_WRAP, grid_index

    seconds = a.minutes * 60.0
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "outlet.json"
        cmd = [sys.executable, "-m", "devices.lsl.synthetic", "--seconds", str(seconds)]
        cmd += ["--rate", str(a.rate), "--drop", str(a.drop), "--report", str(report)]
        cmd += ["--source-id", f"therascope-bench-{os.getpid()}", "--seed", "1"]
        if not a.no_counter:
            cmd.append("--counter")
        outlet = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, text=True)
        assert outlet.stdout is not None
        outlet.stdout.readline()  # "ready"
        clock = MonotonicClock()
        sensor = LslSensor(f"therascope-bench-{os.getpid()}", clock=clock)
        sensor.connect()
        folder = Path(tmp) / "session"
        folder.mkdir()
        t0 = clock.now_ns()
        rec = Recorder(folder, sensor.streams, clock, t0, record_video=False)
        events: list[str] = []
        cpu0, wall0 = time.process_time(), time.monotonic()
        sensor.start(rec.on_batch, lambda e: (events.append(e.kind), rec.on_event(e)))
        outlet.wait()
        time.sleep(1.0)
        sensor.stop()
        rec.close()
        cpu, wall = time.process_time() - cpu0, time.monotonic() - wall0
        out = json.loads(report.read_text())
        info = sensor.streams[0]
        bio = read_bio_stream(folder / "bio", info)
        stored = bio.n_received
        counters = bio.counters()
        lost = int(counters[-1] - counters[0] + 1 - stored) if stored else 0
        # sent: the first to the last sample the outlet pushed (a run dropped at either end
        # would be no loss anyone could see; the outlet never drops there)
        sent = out["last_pushed"] - out["first_pushed"] + 1
        unaccounted = sent - stored - lost
        # timing: fit over the stored arrivals, against the outlet's grid times
        idx = bio.index
        fit = fit_counter_clock(
            idx["first_counter"] + idx["n"] - 1, idx["arrival_ns"], info.rate_hz
        )
        k_mod = grid_index(bio.samples[:, 1])
        k = out["first_pushed"] + (counters - counters[0])  # the grid number each counter should be
        placed_right = int(np.sum(k % EDA_WRAP == k_mod))
        t_fit = fit["offset_ns"] + fit["period_ns"] * counters.astype(np.float64)
        offset = sensor.clock_offset_ns
        t_true = (out["grid_start"] + k / out["rate"]) * 1e9 + offset
        err_ms = np.abs(t_fit - t_true) / 1e6
    print(f"machine: {machine()}")
    print(f"LSL configuration: {applied_config()}")
    print(
        f"stream: {a.rate:g} Hz, 2 channels (ECG mV, EDA µS)"
        f"{'' if a.no_counter else ' + nSeq'}, {seconds / 60:g} min in real time, "
        f"chunks every 10 ms + up to 3 ms delay, drop probability {a.drop:g}"
    )
    print(
        f"grid samples {out['grid_samples']:,}, sent (first to last pushed) {sent:,}, pushed "
        f"{out['pushed']:,}, dropped at the outlet {out['dropped']:,}"
    )
    print(f"stored {stored:,}, lost {lost:,}, unaccounted {unaccounted:,}")
    print(f"samples at their own grid position: {placed_right:,} of {stored:,}")
    print(
        f"timing error (session fit vs the outlet's sample times): median "
        f"{np.median(err_ms):.3f} ms, 99th percentile {np.percentile(err_ms, 99):.3f} ms, "
        f"largest {err_ms.max():.3f} ms; fitted drift {fit['drift_ppm']:.1f} ppm"
    )
    print(f"CPU share of the recording process: {100 * cpu / wall:.1f} % of one core")
    print(f"device events: {', '.join(events)}")
    return 0 if unaccounted == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
