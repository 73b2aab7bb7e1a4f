"""Analysis throughput: a synthetic 60-minute, 60 fps session through the analysis engine.

    .venv/bin/python benchmarks/analysis_throughput.py                 # CPU defaults: 4 frames/s
    .venv/bin/python benchmarks/analysis_throughput.py --every-frame   # every frame (CUDA default)
    .venv/bin/python benchmarks/analysis_throughput.py --backbone resnet50   # the paper's backbone
    .venv/bin/python benchmarks/analysis_throughput.py --runtimes torch,fp32,int8 --rounds 2
        # torch (the reference, --device cpu) beside the optimised CPU runtime (OpenVINO) in fp32
        # and int8, interleaved round by round so a loaded machine weighs on each alike

The session: ECG + EDA at 800 Hz recorded through the real recorder (simulated sensor, virtual
clock, anxious → calm), and 60 fps 640×480 video in the session's video store with exact 60 fps
timestamps. To build an hour of video in minutes, a new synthetic face is rendered and
JPEG-encoded every ``--render-every`` frames (default 6, i.e. 10 distinct images per second) and
its bytes stored for the frames in between: the analysis still decodes, tracks and crops every
stored frame it analyses, so its cost is that of a real session.

Prints the machine, then frames/s per stage (decode, faces = tracking + crops, model = bio windows
+ batched inference) measured inside the engine, the end-to-end wall time and the real-time
factor (session time analysed ÷ wall time). Decode and faces run in a producer thread while the
model runs, so the stage times overlap and add up to more than the wall time.
The built session is kept (``--keep DIR``) and reused on the next run.

``--runtimes`` names what runs the model: ``torch`` (``--device cpu``, the reference), ``fp32``
and ``int8`` (``--device auto`` on a computer without a GPU: OpenVINO over the exported network;
``int8`` is forced even where its accuracy check did not accept it — timing only, and said so);
``default`` (``--device`` as given). The export is built before the first timed run (its time is
printed apart). The load average is printed beside the figures: other work on the machine slows
every runtime.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import encryption  # noqa: E402 — benchmarks/encryption.py, beside this script


def build_session(
    root: Path, minutes: float, fps: float, size: tuple[int, int], every: int
) -> Path:
    import cv2

    from app.demo.simulation import record_simulated
    from core.catalog import Catalog
    from core.config import Settings
    from core.recording.manifest import read_manifest
    from core.recording.video_store import VideoStoreWriter
    from core.simulation.face import render_face
    from core.simulation.scenario import preset

    done = root / "session.json"
    if done.exists():
        return root / json.loads(done.read_text())["folder"]
    duration = minutes * 60.0
    with Catalog.open(root / "catalog.sqlite") as cat:
        patient = cat.add_patient("BENCH")
        t = time.perf_counter()
        rec = record_simulated(
            cat, root, patient.id, duration, scenario="anxious_to_calm", seed=7,
            settings=Settings(camera_fps=0),
        )  # fmt: skip
        print(f"bio recorded in {time.perf_counter() - t:.0f} s", file=sys.stderr)
    folder = root / rec.folder
    t0 = int(read_manifest(folder)["t0_host_ns"])
    sc = preset("anxious_to_calm", duration)
    n = int(duration * fps)
    t = time.perf_counter()
    data = b""
    with VideoStoreWriter(folder / "video") as w:
        for k in range(n):
            ts = k / fps
            if k % every == 0:
                v, a = sc.at(ts)
                img = render_face(float(v), float(a), ts, seed=7, width=size[0], height=size[1])
                data = cv2.imencode(".jpg", img, [int(cv2.IMWRITE_JPEG_QUALITY), 85])[1].tobytes()
            w.append_encoded(k, t0 + round(ts * 1e9), data)
            if k % 3600 == 0:
                w.flush(fsync=False)
                print(f"\rvideo {100 * k / n:5.1f} %", end="", file=sys.stderr, flush=True)
    print(f"\rvideo written in {time.perf_counter() - t:.0f} s", file=sys.stderr)
    done.write_text(json.dumps({"folder": rec.folder}))
    return folder


def timing_checkpoint(root: Path, backbone: str) -> Path:
    """An untrained checkpoint of the given backbone (for timing only; its outputs mean nothing)."""
    from core.models import BMMNConfig, build_model
    from core.models.checkpoint import save_checkpoint

    cfg = BMMNConfig(variant="bae2", backbone=backbone, backbone_weights="none")
    meta = {
        "label": f"untrained {backbone} (timing only)",
        "scaling": {"mean": {"ecg": 0.0, "gsr": 5.0}, "std": {"ecg": 0.3, "gsr": 3.0}},
    }
    return save_checkpoint(root / f"timing-{backbone}.pt", build_model(cfg), cfg, meta)


def figures(
    est: object, args: argparse.Namespace, w: int, h: int, at_rest: str, load: float
) -> dict[str, object]:
    """One run's figures (frames/s per stage, end to end, real-time factor)."""
    info = est.info  # type: ignore[attr-defined]
    n = info["counts"]["frames_analysed"]
    tm = info["timings_s"]
    spans = info["spans"] or [[0.0, info["duration_s"]]]
    covered = sum(b - a for a, b in spans)
    rate_text = (
        "every frame" if info["frames_per_s"] is None else f"{info['frames_per_s']:g} frames/s"
    )
    rt = info.get("runtime", {})
    return {
        "runtime": f"{rt.get('engine', 'torch')} ({rt.get('reason', '')})",
        "checkpoint": info["checkpoint"]["label"],
        "backbone": info["checkpoint"]["backbone"],
        "precision": info["precision"],
        "int8": rt.get("int8", "-"),
        "session": f"{args.minutes:g} min, {args.fps:g} fps, {w}x{h}",
        "storage": at_rest,
        "analysed": f"{n} frames over {covered / 60:.1f} min of session ({rate_text})",
        "load_at_start": float(load),
        "decode_fps": n / max(tm["decode"], 1e-9),
        "faces_fps": n / max(tm["faces"], 1e-9),
        "model_fps": n / max(tm["model"] + tm["bio"], 1e-9),
        "end_to_end_fps": n / tm["wall"],
        "wall_s": float(tm["wall"]),
        "real_time_factor": covered / tm["wall"],
        "estimated": info["counts"]["estimated"],
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=60.0)
    ap.add_argument("--fps", type=float, default=60.0)
    ap.add_argument("--size", default="640x480")
    ap.add_argument("--render-every", type=int, default=6)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--every-frame", action="store_true", help="analyse every frame")
    ap.add_argument("--frames-per-s", type=float, default=4.0, help="CPU analysis rate")
    ap.add_argument("--scope", default="auto", choices=["auto", "session", "phases"])
    ap.add_argument("--backbone", default="demo", help="demo (the demo model), small, resnet50")
    ap.add_argument("--checkpoint", help="a checkpoint file (overrides --backbone)")
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--keep", help="folder for the synthetic session (reused when present)")
    ap.add_argument("--json", help="write the figures here")
    ap.add_argument("--build-only", action="store_true", help="only build the session (--keep)")
    ap.add_argument(
        "--runtimes", default="default", help="comma list of default, torch, fp32, int8 (see above)"
    )
    ap.add_argument("--rounds", type=int, default=1, help="interleaved rounds of --runtimes")
    encryption.add_flag(ap)
    args = ap.parse_args(argv)

    from core.analysis.engine import AnalysisOptions, analyse_session, describe_device
    from core.models.runtime import pick_device

    root = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="therascope-bench-"))
    root.mkdir(parents=True, exist_ok=True)
    w, h = (int(x) for x in args.size.split("x"))
    at_rest = encryption.unlock_scratch(root) if args.encrypted else "encryption at rest: off"
    print(at_rest, file=sys.stderr)
    folder = build_session(root, args.minutes, args.fps, (w, h), args.render_every)
    if args.build_only:
        print(folder)
        return 0
    if args.checkpoint:
        ckpt = Path(args.checkpoint)
    elif args.backbone == "demo":
        from app.demo.training import ensure_demo_checkpoint

        ckpt = ensure_demo_checkpoint()
    else:
        ckpt = timing_checkpoint(root, args.backbone)
    runtimes = [r.strip() for r in args.runtimes.split(",") if r.strip()]
    bad = sorted(set(runtimes) - {"default", "torch", "fp32", "int8"})
    if bad:
        ap.error(f"unknown runtimes {bad}")

    def options(rt: str) -> AnalysisOptions:
        return AnalysisOptions(
            device={"default": args.device, "torch": "cpu"}.get(rt, "auto"),
            frames_per_s=None if args.every_frame else args.frames_per_s,
            scope="session" if args.every_frame else args.scope,
            batch_size=args.batch,
            every_frame=args.every_frame,  # on the CPU too
            int8={"fp32": "off", "int8": "on"}.get(rt, "auto"),
        )

    def progress(f: float, text: str) -> None:
        print(f"\r{100 * f:5.1f} %", end="", file=sys.stderr, flush=True)

    if any(rt in ("fp32", "int8") for rt in runtimes):  # the export, once, before the clock
        from core.analysis.engine import checkpoint_identity  # noqa: F401 — imports torch
        from core.inference.select import load_optimised
        from core.machine import file_sha256
        from core.models.checkpoint import load_any_checkpoint

        t = time.perf_counter()
        model, cfg, meta = load_any_checkpoint(ckpt)
        from core.inference.cache import simulated_calibration

        # forced int8 of a network not trained on simulated faces: calibrated on simulated
        # frames for timing only (the manifest and the analysis say so)
        cal = (
            simulated_calibration(cfg, meta)
            if "int8" in runtimes and not meta.get("demo")
            else None
        )
        opt = load_optimised(file_sha256(ckpt), model, cfg, meta, calibration=cal)
        print(
            f"optimised export ready in {time.perf_counter() - t:.1f} s ({opt.export_note}; "
            f"{opt.int8_note})"
        )
    rows: dict[str, list[dict[str, object]]] = {}
    for _ in range(max(1, args.rounds)):
        for rt in runtimes:
            load = os.getloadavg()[0]
            est = analyse_session(folder, ckpt, options(rt), progress=progress, save=False)
            print(file=sys.stderr)
            rows.setdefault(rt, []).append(figures(est, args, w, h, at_rest, load))
    res: dict[str, object] = {}
    for rt, runs in rows.items():
        print(f"--- {rt} ({len(runs)} run{'s' if len(runs) > 1 else ''})")
        for k in runs[0]:
            vals = [r[k] for r in runs]
            if isinstance(vals[0], float):
                print(f"{k:>16}: " + " / ".join(f"{v:.1f}" for v in vals))
            else:
                print(f"{k:>16}: {vals[0]}")
        res[rt] = runs
    if len(rows) > 1:
        med = {
            rt: sorted(r["end_to_end_fps"] for r in runs)[len(runs) // 2]
            for rt, runs in rows.items()
        }  # type: ignore[type-var]
        print(
            "end to end frames/s (median): " + ", ".join(f"{rt} {v:.1f}" for rt, v in med.items())
        )
    print(
        f"machine: {describe_device(pick_device('cpu'))}, load average now {os.getloadavg()[0]:.1f}"
    )
    if args.json:
        Path(args.json).write_text(json.dumps(res, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
