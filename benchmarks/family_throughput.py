"""Inference and training throughput of DeepVANet, the MVP Transformer and AViGaS.

Run by ``benchmarks/model_throughput.py --families deepvanet,transformer,avigas`` (or ``all``);
``python benchmarks/family_throughput.py`` runs the three alone with the same options.

Each family at the papers' sizes (``--size paper``; the Transformer's face encoder with random
weights, so nothing is downloaded) or the small CPU sizes (``--size small``). Batches are random
uint8 BGR face sequences (batch, frames, S, S, 3) and standard-normal bio segments held in memory
(no loader: the sequence path reads the same crop cache as BMMN), normalised on the device as
training does (:func:`core.learning.family_training.face_sequence_input`). ``inference``:
``eval()``, ``inference_mode``; ``training``: one Adam step on the family's loss
(:func:`core.learning.family_training.family_loss`). Samples/s counts sequences; frames/s is
samples/s × frames per sample (each sample also carries its bio segment).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from core.learning.comparison import family_config  # noqa: E402
from core.learning.family_training import (  # noqa: E402
    FamilyTrainConfig,
    face_sequence_input,
    family_loss,
)
from core.models.families import build, inputs_of  # noqa: E402
from core.models.runtime import autocast, pick_device  # noqa: E402

FAMILIES = ("deepvanet", "transformer", "avigas")


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _time(step: Any, device: torch.device, warmup: int, seconds: float, iters: int) -> float:
    """Seconds per call of ``step`` after ``warmup`` untimed calls."""
    for _ in range(warmup):
        step()
    _sync(device)
    done, t0 = 0, time.perf_counter()
    while True:
        step()
        done += 1
        if (iters and done >= iters) or (not iters and time.perf_counter() - t0 >= seconds):
            break
    _sync(device)
    return (time.perf_counter() - t0) / done


def run_families(
    names: list[str],
    device_spec: str = "auto",
    precisions: tuple[str, ...] = ("fp32",),
    batch: int = 32,
    seconds: float = 10.0,
    iters: int = 0,
    warmup: int | None = None,
    size: str = "paper",
) -> list[dict[str, Any]]:
    """Measure each family; one result dict per family, precision and mode."""
    device = pick_device(device_spec)
    warm = warmup if warmup is not None else (3 if device.type == "cuda" else 1)
    results: list[dict[str, Any]] = []
    for name in names:
        cfg = family_config(name, size)
        if hasattr(cfg, "face_weights"):
            cfg = dataclasses.replace(cfg, face_weights="none")
        results += _one_family(name, cfg, device, precisions, batch, seconds, iters, warm, size)
    return results


def _one_family(
    name: str,
    cfg: Any,
    device: torch.device,
    precisions: tuple[str, ...],
    batch: int,
    seconds: float,
    iters: int,
    warm: int,
    size: str,
) -> list[dict[str, Any]]:
    torch.manual_seed(0)
    model = build(cfg).to(device)
    inp = inputs_of(cfg)
    face_u8 = torch.randint(0, 256, (batch, inp.frames, inp.face_size, inp.face_size, 3))
    face_u8 = face_u8.to(torch.uint8)
    bio = torch.randn(batch, len(inp.signals), inp.bio_samples)
    y = torch.rand(batch, 10) * 2 - 1
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    loss_cfg = FamilyTrainConfig()
    results: list[dict[str, Any]] = []
    for prec in precisions:
        amp = "bf16" if prec == "bf16" else "off"

        def infer(amp: str = amp) -> None:
            with torch.inference_mode(), autocast(device, amp):
                model(face_sequence_input(face_u8, device), bio.to(device))

        def train(amp: str = amp) -> None:
            with autocast(device, amp):
                out = model(face_sequence_input(face_u8, device), bio.to(device))
                loss = family_loss(dict(out), y.to(device), loss_cfg)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()

        for mode, step in (("inference", infer), ("training", train)):
            model.train(mode == "training")
            base = {"family": name, "mode": mode, "precision": prec}
            try:
                per = _time(step, device, warm, seconds, iters)
            except (RuntimeError, torch.OutOfMemoryError) as exc:
                results.append({**base, "error": str(exc)[:200]})
                continue
            results.append(
                {
                    **base,
                    "device": str(device),
                    "size": size,
                    "batch": batch,
                    "inputs": inp.describe(),
                    "samples_per_s": batch / per,
                    "frames_per_s": batch * inp.frames / per,
                    "ms_per_batch": 1000 * per,
                    "parameters": sum(p.numel() for p in model.parameters()),
                }
            )
    return results


def format_family_line(r: dict[str, Any]) -> str:
    if "error" in r:
        return f"{r['family']:<12} {r['mode']:<10} {r['precision']:<5} FAILED: {r['error']}"
    return (
        f"{r['family']:<12} {r['mode']:<10} {r['precision']:<5} {r['samples_per_s']:>10.1f} "
        f"{r['frames_per_s']:>10.1f} {r['ms_per_batch']:>10.1f}  {r['parameters']:,} parameters"
    )


def print_families(results: list[dict[str, Any]]) -> None:
    print(
        f"{'family':<12} {'mode':<10} {'prec':<5} {'samples/s':>10} {'frames/s':>10} {'ms/batch':>10}"
    )
    for r in results:
        print(format_family_line(r), flush=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--families", default=",".join(FAMILIES))
    ap.add_argument("--device", default="auto")
    ap.add_argument("--precision", choices=("fp32", "bf16", "both"), default="fp32")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--iters", type=int, default=0)
    ap.add_argument("--size", choices=("paper", "small"), default="paper")
    args = ap.parse_args(argv)
    names = [n for n in args.families.split(",") if n]
    precisions = ("fp32", "bf16") if args.precision == "both" else (args.precision,)
    results = run_families(
        names, args.device, precisions, args.batch, args.seconds, args.iters, None, args.size
    )
    print_families(results)
    return 1 if any("error" in r for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
