"""A synthetic ECG + EDA LSL outlet (not a patient's data): for tests, the benchmark and a dry run.

    python -m devices.lsl.synthetic --seconds 60 --rate 1000 --counter

It sends what OpenSignals sends — a stream named ``TheraScope synthetic ECG+EDA`` with ECG in mV and
EDA in µS described in its metadata, optionally the sample counter ``nSeq`` first (described, as
OpenSignals does not: a stream not named OpenSignals must describe it) — on the
machine-only LSL configuration. Chunks are pushed every ``--chunk`` seconds plus a random delay of
up to ``--jitter`` seconds; with ``--drop`` some chunks lose a run of up to ``--drop-max`` samples
(they are never pushed: the receiver must count them lost). Time stamps are either the samples'
own times on a grid (``--stamps sample``, a device clock) or the moment of the push (``--stamps
push``: one-sided latency, as a program that stamps what it receives).

The EDA value carries the sample's number on the grid (``5 + (k mod 65536) / 65536`` µS) so that a
receiver can check where each stored sample belongs. A JSON report (``--report``) says how many
samples the grid held from the first to the last one sent, how many were pushed and dropped, the
first and last sample pushed (``first_pushed``, ``last_pushed``: the first and the final chunk are
never dropped from, so they are ``first`` and ``last``), and the grid's start on LSL's clock. With ``--restart-gap`` the outlet closes after its run and a new
one (a new instance, the same source id, its counter from 0) opens that many seconds later and
runs again on the same grid; the report then lists both runs.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from devices.lsl.config import load_pylsl

NAME = "TheraScope synthetic ECG+EDA"
EDA_BASE = 5.0
EDA_WRAP = 65536


def grid_index(eda_us: np.ndarray) -> np.ndarray:
    """The grid number modulo :data:`EDA_WRAP` a synthetic EDA value carries."""
    return np.round((np.asarray(eda_us, dtype=np.float64) - EDA_BASE) * EDA_WRAP).astype(np.int64)


def ecg_mv(k: np.ndarray, rate: float) -> np.ndarray:
    """A plain synthetic ECG (R waves at 72 beats/min), mV."""
    t = k / rate
    phase = (t * 1.2) % 1.0
    return 1.2 * np.exp(-(((phase - 0.3) / 0.012) ** 2)) + 0.15 * np.sin(2 * math.pi * 0.3 * t)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--name", default=NAME)
    ap.add_argument("--source-id", default="therascope-synthetic")
    ap.add_argument("--rate", type=float, default=1000.0)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--counter", action="store_true", help="send nSeq first (OpenSignals)")
    ap.add_argument("--modulus", type=int, default=0, help="nSeq wraps at this (0: never)")
    ap.add_argument("--chunk", type=float, default=0.01, help="push period (s)")
    ap.add_argument("--jitter", type=float, default=0.003, help="extra random push delay (s)")
    ap.add_argument("--drop", type=float, default=0.0, help="probability a chunk loses samples")
    ap.add_argument("--drop-max", type=int, default=40)
    ap.add_argument("--stamps", choices=["sample", "push"], default="sample")
    ap.add_argument("--grid-start", type=float, default=0.0, help="grid start on LSL's clock")
    ap.add_argument("--wait-consumer", type=float, default=10.0)
    ap.add_argument("--settle", type=float, default=0.5, help="wait after a consumer came (s)")
    ap.add_argument("--restart-gap", type=float, default=0.0, help="close, wait, open again (s)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--report", type=Path)
    ap.add_argument(
        "--ecg-file",
        type=Path,
        help="replay the ECG of this OpenSignals recording (mV, looped) instead of the synthetic one",
    )
    a = ap.parse_args(argv)
    a.ecg = None
    if a.ecg_file is not None:
        from core.formats.opensignals import read_opensignals

        (ecg,) = read_opensignals(a.ecg_file).of_kind("ecg")[:1]
        if ecg.unit != "mV" or ecg.n_lost:
            raise SystemExit(f"{a.ecg_file}: need an ECG channel in mV without lost samples")
        a.ecg = ecg.values
    pylsl = load_pylsl(False)
    rng = np.random.default_rng(a.seed)
    n_ch = 3 if a.counter else 2
    info = pylsl.StreamInfo(a.name, "ECG+EDA", n_ch, a.rate, "float32", a.source_id)
    desc = info.desc()
    desc.append_child_value("synthetic", "true")
    if a.ecg is not None:  # the EDA stays synthetic: it carries each sample's grid number
        desc.append_child_value("ecg_replayed_from", a.ecg_file.name)
    chans = desc.append_child("channels")
    if a.counter:  # described: only OpenSignals' own streams may leave nSeq undescribed
        chans.append_child("channel").append_child_value("label", "nSeq")
    for label, unit in (("ECG", "mV"), ("EDA", "uS")):
        c = chans.append_child("channel")
        c.append_child_value("label", label)
        c.append_child_value("sensor", label)
        c.append_child_value("unit", unit)
    t0 = a.grid_start or pylsl.local_clock()
    runs = [_run(pylsl, info, a, rng, t0)]
    if a.restart_gap > 0:  # the outlet closes, and a new one (same source id) opens later
        time.sleep(a.restart_gap)
        runs.append(_run(pylsl, info, a, rng, t0))
    report = {**runs[0], "rate": a.rate, "grid_start": t0, "runs": runs}
    if a.report:
        a.report.write_text(json.dumps(report))
    return 0


def _run(pylsl: Any, info: Any, a: argparse.Namespace, rng: Any, t0: float) -> dict[str, int]:
    """One outlet's life: wait for a consumer, push for ``a.seconds`` on the grid, close."""
    outlet = pylsl.StreamOutlet(info, chunk_size=0, max_buffered=60)
    print("ready", flush=True)
    deadline = time.monotonic() + a.wait_consumer
    while not outlet.have_consumers() and time.monotonic() < deadline:
        time.sleep(0.005)
    time.sleep(a.settle)  # a consumer asking for the description is not yet one that subscribed
    k_next = max(0, int(math.ceil((pylsl.local_clock() - t0) * a.rate)))
    k_first, pushed, dropped = k_next, 0, 0
    first_pushed, last_pushed = -1, -1
    end = pylsl.local_clock() + a.seconds
    while True:
        wake = pylsl.local_clock() + a.chunk + rng.uniform(0.0, a.jitter)
        while (now := pylsl.local_clock()) < wake:
            time.sleep(max(0.0, min(0.002, wake - now)))
        k_end = int(math.floor((now - t0) * a.rate)) + 1
        if k_end <= k_next:
            continue
        ks = np.arange(k_next, k_end)
        keep = np.ones(len(ks), dtype=bool)
        final = now >= end
        # the first and the final chunk are sent whole: a run dropped at either end would not
        # be a loss a receiver can see (no sample follows it, or none precedes it)
        if a.drop and pushed and not final and rng.random() < a.drop:
            s = int(rng.integers(0, len(ks)))
            keep[s : s + int(rng.integers(1, a.drop_max + 1))] = False
        dropped += int((~keep).sum())
        kept = ks[keep]
        for run in np.split(kept, np.flatnonzero(np.diff(kept) != 1) + 1) if len(kept) else []:
            ecg = ecg_mv(run, a.rate) if a.ecg is None else a.ecg[run % len(a.ecg)]
            cols = [ecg, EDA_BASE + (run % EDA_WRAP) / EDA_WRAP]
            if a.counter:
                seq = run - k_first  # a new outlet counts from 0 again
                cols.insert(0, seq % a.modulus if a.modulus else seq)
            chunk = np.stack(cols, axis=1).astype(np.float32)
            stamp = t0 + run[-1] / a.rate if a.stamps == "sample" else pylsl.local_clock()
            outlet.push_chunk(chunk, stamp)
            pushed += len(run)
            first_pushed = int(run[0]) if first_pushed < 0 else first_pushed
            last_pushed = int(run[-1])
        k_next = k_end
        if final:
            break
    time.sleep(0.2)  # let the last chunk leave before the outlet goes
    del outlet
    return {
        "first": k_first,
        "last": k_next - 1,
        "grid_samples": k_next - k_first,
        "pushed": pushed,
        "dropped": dropped,
        "first_pushed": first_pushed,
        "last_pushed": last_pushed,
    }


if __name__ == "__main__":
    sys.exit(main())
