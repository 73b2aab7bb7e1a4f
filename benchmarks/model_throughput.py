"""Training and inference throughput of BMMN-BAE-2 (ResNet-50) fed from a face-crop cache.

    python benchmarks/model_throughput.py [--device auto|cpu|cuda] [--precision fp32|bf16|both]
        [--batch 115] [--seconds 20 | --iters N] [--warmup K] [--num-workers W] [--compile]
        [--crops render|random] [--cache-frames N] [--modes loader,inference,training]
        [--families bmmn,deepvanet,transformer,avigas|all] [--family-size paper|small]
        [--family-batch 32] [--json results.json]

``--families`` adds the other model families (``benchmarks/family_throughput.py``: inference and
training samples/s and frames/s of each, the same device and precisions); ``bmmn`` in the list
(the default) runs the BMMN measurement described below.

What is measured, per precision:

* ``loader`` — the input pipeline alone: batches from ``core.learning.training.FrameDataset`` over the crop
  cache through a ``torch.utils.data.DataLoader`` (the ceiling for everything below);
* ``inference`` — ``model.eval()``, ``torch.inference_mode()``, batches from the same loader,
  moved to the device and through the model (outputs kept on the device);
* ``training`` — ``model.train()``, one Adam step (lr 1e-4) per batch on the stage-3 joint loss
  L = label ℓ2 + reconstruction ℓ2 (``core.learning.training``'s own loss functions, λ = 1 each).

Each timed region includes fetching the batch from the DataLoader, as in training. Warm-up
batches (``--warmup``; they also start the loader workers and, with ``--compile``, compile) are
not timed; on CUDA the device is synchronised before the clock starts and before it stops.
A measurement runs ``--iters`` batches, or else whole batches until ``--seconds`` have passed
(at least one).

The crop cache is a temporary ``np.memmap`` file of N × 224 × 224 × 3 uint8 BGR crops, opened
read-only like a real cache. ``--crops render`` (default) renders ``--unique-crops`` synthetic
faces with ``core.simulation.face.render_face``, finds each with the default face detector
(``core.faces.detect.make_detector``; a frame without a detection reuses the previous box) and cuts it
with ``core.faces.track.crop_face``, then tiles them through the cache; ``--crops random`` fills
it with uniform noise instead. Bio windows (N, 2, 1000) float32 (standard normal) and targets
(N, 10) are in memory. The model is built with ``backbone_weights="none"`` (random init; the
weights do not change the timing, and nothing is downloaded).

Devices and precision: ``bf16`` means ``torch.autocast(dtype=torch.bfloat16)`` through
``core.models.runtime.autocast`` — on CUDA as training does, and on the CPU too when asked (it works
where the CPU has bf16 support; slow otherwise). On CUDA the model and every face batch use
``torch.channels_last`` (training converts the batches; converting the model as well saves a
per-call weight conversion). The DataLoader shuffles and drops the last partial batch so every
timed batch has ``--batch`` samples; its workers are persistent.

Goals from issue 3 (on one H100): inference ≥ 10,000 frames/s, training ≥ 3,000 samples/s.

``--runtimes torch,openvino,openvino-int8[,onnxruntime,onnxruntime-int8]`` instead compares
inference runtimes on the CPU, side by side in one run, on ResNet-50 BMMN-BAE-2 (random init) and
the demo model (``--runtime-models``): torch (the reference) against the exported network
(``core.inference``: fp32, and int8 calibrated on simulated frames) run by OpenVINO — and by
ONNX Runtime when it is installed (not a dependency; for the comparison that chose OpenVINO).
Inputs are uint8 crops and scaled windows in memory (the analysis's model stage without the
windows' cutting); batch sizes from ``--runtime-batches``; ``--rounds`` interleaves every runtime
round by round, so load from other work weighs on each alike (the load average is printed).
Goals from issue 21 (2 CPU cores): ResNet-50 ≥ 30 frames/s end to end in the analysis, the demo
model ≥ 200 frames/s model stage.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import torch  # noqa: E402
from torch.utils.data import DataLoader  # noqa: E402

from core.learning.training import (  # noqa: E402
    FrameDataset,
    _label_loss,
    _recon_loss,
)
from core.machine import cpu_name  # noqa: E402
from core.models import BMMNConfig, build_model  # noqa: E402
from core.models.bmmn import OUTPUT_NAMES  # noqa: E402
from core.models.runtime import autocast, faces_to_input, pick_device  # noqa: E402

GOALS = {"inference": 10_000.0, "training": 3_000.0}  # samples/s on one H100 (issue 3)
MODES = ("loader", "inference", "training")


# --- machine ------------------------------------------------------------------------------------


def machine_info(device: torch.device) -> dict[str, Any]:
    info: dict[str, Any] = {
        "cpu": cpu_name(),
        "logical_cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torch_cuda": torch.version.cuda,
    }
    if device.type == "cuda":
        idx = device.index if device.index is not None else torch.cuda.current_device()
        props = torch.cuda.get_device_properties(idx)
        info["cuda_device"] = props.name
        info["cuda_memory_gib"] = round(props.total_memory / 2**30, 1)
        info["cuda_capability"] = f"{props.major}.{props.minor}"
        info["cudnn"] = torch.backends.cudnn.version()
    return info


# --- crop cache ---------------------------------------------------------------------------------


def render_crops(n_unique: int, size: int) -> tuple[np.ndarray, int]:
    """``n_unique`` synthetic face crops (n, size, size, 3) uint8 BGR, and how many were detected."""
    from core.faces.detect import FaceBox, make_detector
    from core.faces.track import CropPolicy, crop_face
    from core.simulation.face import render_face

    detector = make_detector()
    policy = CropPolicy(size=size)
    out = np.empty((n_unique, size, size, 3), np.uint8)
    box: FaceBox | None = None
    found = 0
    rng = np.random.default_rng(0)
    for i in range(n_unique):
        v, a = rng.uniform(-1.0, 1.0, 2)
        frame = render_face(float(v), float(a), 0.37 * i, seed=i % 8)
        faces = detector.detect(frame)
        if faces:
            box, found = faces[0], found + 1
        elif box is None:  # nothing found yet: a box around the frame centre
            h, w = frame.shape[:2]
            side = 0.5 * h
            box = FaceBox((w - side) / 2, (h - side) / 2, side, side, detected=False)
        out[i] = crop_face(frame, box, policy)
    return out, found


def build_cache(
    path: Path, n: int, size: int, crops: str, n_unique: int
) -> tuple[np.memmap, dict[str, Any]]:
    """Write the crop cache at ``path`` and open it read-only; return it and a description."""
    t0 = time.perf_counter()
    desc: dict[str, Any] = {"frames": n, "size": size, "source": crops}
    mm = np.memmap(path, dtype=np.uint8, mode="w+", shape=(n, size, size, 3))
    if crops == "render":
        n_unique = max(1, min(n_unique, n))
        tiles, found = render_crops(n_unique, size)
        for start in range(0, n, n_unique):
            stop = min(n, start + n_unique)
            mm[start:stop] = tiles[: stop - start]
        desc.update(unique=n_unique, detected=found)
    else:
        rng = np.random.default_rng(0)
        step = 256
        for start in range(0, n, step):
            stop = min(n, start + step)
            mm[start:stop] = rng.integers(0, 256, (stop - start, size, size, 3), dtype=np.uint8)
    mm.flush()
    del mm
    desc["build_s"] = round(time.perf_counter() - t0, 2)
    desc["bytes"] = n * size * size * 3
    return np.memmap(path, dtype=np.uint8, mode="r", shape=(n, size, size, 3)), desc


# --- measurement --------------------------------------------------------------------------------


def forever(loader: DataLoader) -> Iterator[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    """Batches from ``loader``, epoch after epoch."""
    while True:
        yield from loader


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def measure(
    step: Any, batches: Iterator[Any], device: torch.device, warmup: int, seconds: float, iters: int
) -> dict[str, float]:
    """Run ``step(batch)`` ``warmup`` times untimed, then for ``iters`` batches or ``seconds``."""
    for _ in range(warmup):
        step(next(batches))
    sync(device)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    done = 0
    samples = 0
    t0 = time.perf_counter()
    while True:
        samples += step(next(batches))
        done += 1
        if iters > 0:
            if done >= iters:
                sync(device)
                break
        elif time.perf_counter() - t0 >= seconds:
            sync(device)  # the last batch must finish inside the clock
            break
    elapsed = time.perf_counter() - t0
    res = {
        "batches": done,
        "samples": samples,
        "seconds": elapsed,
        "samples_per_s": samples / elapsed,
        "ms_per_batch": 1000.0 * elapsed / done,
    }
    if device.type == "cuda":
        res["peak_mem_gib"] = torch.cuda.max_memory_allocated(device) / 2**30
    return res


def to_device(
    face: torch.Tensor, bio: torch.Tensor, y: torch.Tensor, device: torch.device, cl: bool
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """A loader batch on ``device``: uint8 faces normalised there, as training does."""
    face = faces_to_input(face, device, cl)
    return face, bio.to(device, non_blocking=True), y.to(device, non_blocking=True)


def run(args: argparse.Namespace) -> dict[str, Any]:
    device = pick_device(args.device)
    on_cuda = device.type == "cuda"
    if on_cuda:
        torch.backends.cudnn.benchmark = True
        torch.backends.cuda.matmul.allow_tf32 = args.tf32
        torch.backends.cudnn.allow_tf32 = args.tf32
    cl = on_cuda and not args.no_channels_last
    workers = args.num_workers if args.num_workers is not None else (2 if on_cuda else 0)
    warmup = args.warmup if args.warmup is not None else (5 if on_cuda else 1)
    if args.compile:
        warmup = max(warmup, 3)  # compilation happens in the first calls
    precisions = ("fp32", "bf16") if args.precision == "both" else (args.precision,)
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    bad = sorted(set(modes) - set(MODES))
    if bad:
        raise SystemExit(f"unknown modes {bad}; choose from {MODES}")
    n_frames = args.cache_frames or max(8 * args.batch, 2048)
    if n_frames < args.batch:
        raise SystemExit("--cache-frames must hold at least one batch")
    torch.manual_seed(0)

    info = machine_info(device)
    settings = {
        "model": "BMMN-BAE-2, ResNet-50 (random init), 224 px face, ECG+EDA 1000-sample windows",
        "device": str(device),
        "batch": args.batch,
        "precisions": list(precisions),
        "modes": modes,
        "num_workers": workers,
        "warmup_batches": warmup,
        "seconds": args.seconds,
        "iters": args.iters,
        "compile": args.compile,
        "channels_last": cl,
        "tf32": args.tf32 if on_cuda else None,
    }

    with contextlib.ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="therascope-bench-")))
        faces, cache = build_cache(tmp / "crops.u8", n_frames, 224, args.crops, args.unique_crops)
        rng = np.random.default_rng(1)
        bio = rng.standard_normal((n_frames, 2, 1000), dtype=np.float32)
        targets = rng.uniform(-1.0, 1.0, (n_frames, len(OUTPUT_NAMES))).astype(np.float32)
        ds = FrameDataset(faces, bio, targets)
        g = torch.Generator()
        g.manual_seed(0)
        loader = DataLoader(
            ds,
            batch_size=args.batch,
            shuffle=True,
            generator=g,
            num_workers=workers,
            drop_last=True,
            pin_memory=device.type == "cuda",
            persistent_workers=workers > 0,
        )
        print_header(info, settings, cache)

        cfg = BMMNConfig(variant="bae2", backbone="resnet50", backbone_weights="none")
        model = build_model(cfg).to(device)
        if cl:
            model = model.to(memory_format=torch.channels_last)
        fwd: Any = torch.compile(model) if args.compile else model
        n_params = sum(p.numel() for p in model.parameters())
        settings["parameters"] = n_params
        opt = torch.optim.Adam(model.parameters(), lr=1e-4)
        batches = forever(loader)
        results: list[dict[str, Any]] = []

        def record(mode: str, prec: str, res: dict[str, Any]) -> None:
            res = {"mode": mode, "precision": prec, **res}
            results.append(res)
            print(format_line(res, on_cuda), flush=True)

        if "loader" in modes:

            def load_step(batch: Any) -> int:
                face, b, y = to_device(*batch, device, cl)
                return int(face.shape[0])

            record("loader", "-", measure(load_step, batches, device, warmup, args.seconds, 0))

        for prec in precisions:
            amp = "bf16" if prec == "bf16" else "off"

            def infer_step(batch: Any, amp: str = amp) -> int:
                face, b, _ = to_device(*batch, device, cl)
                with torch.inference_mode(), autocast(device, amp):
                    fwd(face, b)
                return int(face.shape[0])

            def train_step(batch: Any, amp: str = amp) -> int:
                face, b, y = to_device(*batch, device, cl)
                with autocast(device, amp):
                    out = fwd(face, b)
                    loss = _label_loss(out, y, b) + _recon_loss(out, y, b)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                return int(face.shape[0])

            for mode, step in (("inference", infer_step), ("training", train_step)):
                if mode not in modes:
                    continue
                if mode == "inference":
                    model.eval()
                else:
                    model.train()
                try:
                    res = measure(step, batches, device, warmup, args.seconds, args.iters)
                except (RuntimeError, torch.OutOfMemoryError) as exc:  # e.g. no bf16 kernels, OOM
                    msg = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else repr(exc)
                    results.append({"mode": mode, "precision": prec, "error": msg})
                    print(f"{mode:<10} {prec:<5} FAILED: {msg}", flush=True)
                    if on_cuda:
                        torch.cuda.empty_cache()
                    continue
                record(mode, prec, res)
        del batches, loader  # stop persistent workers before the cache file goes away

    return {
        "machine": info,
        "settings": settings,
        "cache": cache,
        "goals": GOALS,
        "results": results,
    }


# --- output -------------------------------------------------------------------------------------


def print_header(info: dict[str, Any], settings: dict[str, Any], cache: dict[str, Any]) -> None:
    print("TheraScope model throughput — BMMN-BAE-2 with ResNet-50")
    print(
        f"machine: {info['cpu']}, {info['logical_cores']} logical cores "
        f"({info['torch_threads']} torch threads), {info['os']}"
    )
    print(f"software: Python {info['python']}, torch {info['torch']} (CUDA {info['torch_cuda']})")
    if "cuda_device" in info:
        print(
            f"cuda: {info['cuda_device']}, {info['cuda_memory_gib']} GiB, "
            f"compute {info['cuda_capability']}, cuDNN {info['cudnn']}"
        )
    else:
        print("cuda: not used")
    src = (
        f"{cache['unique']} rendered+detected+cropped synthetic faces "
        f"({cache['detected']} found by the detector) tiled"
        if cache["source"] == "render"
        else "uniform random pixels"
    )
    print(
        f"crop cache: np.memmap {cache['frames']} × 224×224×3 uint8 "
        f"({cache['bytes'] / 2**20:.0f} MiB; {src}; built in {cache['build_s']} s)"
    )
    print(
        f"settings: device {settings['device']}, batch {settings['batch']}, DataLoader workers "
        f"{settings['num_workers']}, warm-up {settings['warmup_batches']} batches, "
        + (
            f"{settings['iters']} timed batches"
            if settings["iters"]
            else f"≥ {settings['seconds']:g} s per measurement"
        )
        + f", compile {'on' if settings['compile'] else 'off'}, channels_last "
        f"{'on' if settings['channels_last'] else 'off'}"
    )
    print("goals (issue 3, one H100): inference ≥ 10,000 frames/s, training ≥ 3,000 samples/s")
    print(f"{'mode':<10} {'prec':<5} {'samples/s':>10} {'ms/batch':>10} {'batches':>8}  notes")


def format_line(res: dict[str, Any], on_cuda: bool) -> str:
    notes = []
    if "peak_mem_gib" in res:
        notes.append(f"peak {res['peak_mem_gib']:.1f} GiB")
    goal = GOALS.get(res["mode"])
    if goal:
        notes.append(f"{100.0 * res['samples_per_s'] / goal:.1f}% of the H100 goal")
    if res["mode"] == "loader":
        notes.append("input pipeline alone")
    return (
        f"{res['mode']:<10} {res['precision']:<5} {res['samples_per_s']:>10.1f} "
        f"{res['ms_per_batch']:>10.1f} {res['batches']:>8d}  {'; '.join(notes)}"
    )


def compare_runtimes(args: argparse.Namespace) -> list[dict[str, Any]]:
    """torch against the exported network's runtimes (module docstring), interleaved."""
    from core.inference import cache as cache_mod
    from core.inference.export import graph_inputs
    from core.inference.runner import CompiledNetwork, threads
    from core.learning.demo_model import SHIPPED
    from core.machine import file_sha256
    from core.models.checkpoint import load_any_checkpoint, save_checkpoint

    runtimes = [r.strip() for r in args.runtimes.split(",") if r.strip()]
    batches = [int(b) for b in args.runtime_batches.split(",")]
    torch.set_num_threads(threads())
    tmp = Path(tempfile.mkdtemp(prefix="therascope-rt-"))
    print("TheraScope inference runtimes on the CPU (issue 21)")
    print(f"machine: {cpu_name()}, {os.cpu_count()} logical cores; torch {torch.__version__}")
    nets: dict[str, dict[str, Any]] = {}
    for name in [m.strip() for m in args.runtime_models.split(",") if m.strip()]:
        if name == "demo":
            ck = SHIPPED
        else:
            torch.manual_seed(0)
            cfg0 = BMMNConfig(variant="bae2", backbone=name, backbone_weights="none")
            ck = save_checkpoint(
                tmp / f"{name}.pt",
                build_model(cfg0),
                cfg0,
                {"scaling": {"mean": {"ecg": 0.0, "gsr": 5.0}, "std": {"ecg": 0.3, "gsr": 3.0}}},
            )
        model, cfg, meta = load_any_checkpoint(ck)
        t = time.perf_counter()
        cal = cache_mod.simulated_calibration(cfg, meta)  # an untrained network: timing only
        ex = cache_mod.prepare(file_sha256(ck), model, cfg, meta, tmp / "cache", calibration=cal)
        print(f"{name}: export ready in {time.perf_counter() - t:.1f} s; {ex.int8_check.reason}")
        run: dict[str, Any] = {"torch": model.eval()}
        names = graph_inputs(cfg)
        for rt in runtimes:
            if rt.startswith("openvino"):
                path = ex.int8 if rt.endswith("int8") else ex.fp32
                if path is not None:
                    run[rt] = CompiledNetwork(path, names, batch=max(batches))
            elif rt.startswith("onnxruntime"):
                try:
                    import onnxruntime as ort
                except ImportError:
                    print(f"{rt}: onnxruntime is not installed; skipped")
                    continue
                so = ort.SessionOptions()
                so.intra_op_num_threads = threads()
                path = ex.int8 if rt.endswith("int8") else ex.fp32
                if path is not None:
                    run[rt] = ort.InferenceSession(
                        str(path), so, providers=["CPUExecutionProvider"]
                    )
        nets[name] = {"cfg": cfg, "run": run, "names": names}
    results: list[dict[str, Any]] = []
    rng = np.random.default_rng(0)
    for rnd in range(args.rounds):
        for name, d in nets.items():
            cfg = d["cfg"]
            for b in batches:
                faces = rng.integers(0, 256, (b, cfg.face_size, cfg.face_size, 3), dtype=np.uint8)
                bio = rng.standard_normal((b, len(cfg.signals), cfg.bio_window), dtype=np.float32)
                for rt in runtimes:
                    fn = d["run"].get(rt)
                    if fn is None:
                        continue
                    step = _runtime_step(rt, fn, faces, bio, d["names"])
                    step()  # warm-up (OpenVINO compiles for this batch shape)
                    load = os.getloadavg()[0]
                    n, t0 = 0, time.perf_counter()
                    while True:
                        step()
                        n += b
                        if time.perf_counter() - t0 >= args.seconds:
                            break
                    fps = n / (time.perf_counter() - t0)
                    res = {"model": name, "runtime": rt, "batch": b, "round": rnd + 1,
                           "frames_per_s": fps, "load": load}  # fmt: skip
                    results.append(res)
                    print(
                        f"round {rnd + 1} {name:<9} {rt:<17} batch {b:>3}: {fps:8.1f} frames/s"
                        f"  (load {load:.1f})",
                        flush=True,
                    )
    print("median frames/s over rounds:")
    keys = sorted({(r["model"], r["batch"], r["runtime"]) for r in results})
    for model_name, b, rt in keys:
        v = sorted(r["frames_per_s"] for r in results
                   if (r["model"], r["batch"], r["runtime"]) == (model_name, b, rt))  # fmt: skip
        base = sorted(r["frames_per_s"] for r in results
                      if (r["model"], r["batch"], r["runtime"]) == (model_name, b, "torch"))  # fmt: skip
        ratio = f"  {_median(v) / _median(base):.1f}× torch" if base else ""
        print(f"  {model_name:<9} batch {b:>3} {rt:<17} {_median(v):8.1f}{ratio}")
    print(f"load average at the end: {os.getloadavg()[0]:.1f} (other work on the machine)")
    return results


def _median(values: list[float]) -> float:
    v = sorted(values)
    m = len(v) // 2
    return v[m] if len(v) % 2 else 0.5 * (v[m - 1] + v[m])


def _runtime_step(rt: str, fn: Any, faces: np.ndarray, bio: np.ndarray, names: list[str]) -> Any:
    if rt == "torch":
        face_t = torch.from_numpy(faces)
        bio_t = torch.from_numpy(bio)

        def torch_step() -> None:
            with torch.inference_mode():
                fn(faces_to_input(face_t, torch.device("cpu")), bio_t)

        return torch_step
    if rt.startswith("onnxruntime"):
        feed = {k: v for k, v in (("face", faces), ("bio", bio)) if k in names}
        return lambda: fn.run(None, feed)
    return lambda: fn(faces if "face" in names else None, bio if "bio" in names else None)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="auto", help="auto (CUDA when available), cpu, cuda[:i]")
    ap.add_argument("--precision", choices=("fp32", "bf16", "both"), default="both")
    ap.add_argument("--batch", type=int, default=115, help="samples per batch (paper: 115)")
    ap.add_argument("--seconds", type=float, default=20.0, help="time per measurement")
    ap.add_argument(
        "--iters",
        type=int,
        default=0,
        help="timed batches per model measurement (overrides --seconds; the loader line keeps --seconds)",
    )
    ap.add_argument("--warmup", type=int, default=None, help="untimed batches (CUDA 5, CPU 1)")
    ap.add_argument(
        "--num-workers", type=int, default=None, help="DataLoader workers (CUDA 2, CPU 0)"
    )
    ap.add_argument("--compile", action="store_true", help="torch.compile the model")
    ap.add_argument(
        "--modes", default=",".join(MODES), help="comma-separated subset of " + ",".join(MODES)
    )
    ap.add_argument("--crops", choices=("render", "random"), default="render")
    ap.add_argument("--unique-crops", type=int, default=32, help="distinct rendered crops")
    ap.add_argument(
        "--cache-frames",
        type=int,
        default=0,
        help="rows in the crop cache (default 8×batch, ≥2048)",
    )
    ap.add_argument("--no-channels-last", action="store_true", help="keep NCHW on CUDA")
    ap.add_argument("--tf32", action="store_true", help="allow TF32 for fp32 matmuls/convs (CUDA)")
    ap.add_argument(
        "--families",
        default="bmmn",
        help="comma list of bmmn,deepvanet,transformer,avigas, or all (default bmmn)",
    )
    ap.add_argument("--family-size", choices=("paper", "small"), default="paper")
    ap.add_argument("--family-batch", type=int, default=32, help="batch of the other families")
    ap.add_argument("--json", type=Path, default=None, help="save the results here")
    ap.add_argument("--runtimes", default="", help="compare CPU runtimes (see above) instead")
    ap.add_argument("--runtime-models", default="resnet50,demo", help="resnet50, resnet18, demo")
    ap.add_argument("--runtime-batches", default="16", help="comma list of batch sizes")
    ap.add_argument("--rounds", type=int, default=2, help="interleaved rounds (--runtimes)")
    args = ap.parse_args(argv)
    if args.runtimes:
        out = compare_runtimes(args)
        if args.json is not None:
            args.json.write_text(json.dumps(out, indent=2) + "\n")
        return 0
    if args.batch < 1 or args.seconds <= 0 or args.iters < 0:
        ap.error("--batch and --seconds must be positive, --iters non-negative")
    names = (
        ["bmmn", "deepvanet", "transformer", "avigas"]
        if args.families == "all"
        else [n.strip() for n in args.families.split(",") if n.strip()]
    )
    report: dict[str, Any] = {"results": []}
    if "bmmn" in names:
        report = run(args)
    others = [n for n in names if n != "bmmn"]
    if others:
        from family_throughput import print_families, run_families  # beside this script

        precisions = ("fp32", "bf16") if args.precision == "both" else (args.precision,)
        print("other families (random inputs in memory; see benchmarks/family_throughput.py)")
        fam = run_families(
            others,
            args.device,
            precisions,
            args.family_batch,
            args.seconds,
            args.iters,
            args.warmup,
            args.family_size,
        )
        print_families(fam)
        report["families"] = fam
        report["results"] = report["results"] + [r for r in fam if "error" in r]
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2, default=str) + "\n")
        print(f"saved {args.json}")
    return 1 if any("error" in r for r in report["results"]) else 0


if __name__ == "__main__":
    sys.exit(main())
