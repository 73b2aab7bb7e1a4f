"""The exported network compiled for the CPU with OpenVINO, run in batches.

OpenVINO is told to keep fp32 where the graph is fp32 (``INFERENCE_PRECISION_HINT`` ``f32``: on
CPUs with AMX or AVX-512 bf16 it would otherwise run them in bf16) and to use the machine's cores
(``INFERENCE_NUM_THREADS``); an int8 (QDQ) graph runs its quantised convolutions in int8.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

#: frames per call into the compiled network, by measurement (benchmarks/model_throughput.py
#: --runtimes openvino,openvino-int8 --runtime-batches 1,4,16,64; 2 cores, load 4): batch 1 is
#: 2–3× slower than 4–64; ResNet-50 fp32 gains a little up to 64 (14.7 → 17.5 frames/s), its
#: int8 loses there (48 → 27: activations leave the cache); 16 is near the best of both
OPTIMISED_BATCH = 16


def runtime_version() -> str:
    """OpenVINO's version, e.g. ``"2026.4.1"`` (raises ImportError without it)."""
    import openvino

    return str(openvino.__version__).split("-")[0]


def available() -> bool:
    """Whether the optimised runtime (OpenVINO) is installed."""
    try:
        runtime_version()
    except ImportError:
        return False
    return True


def threads() -> int:
    """The threads the compiled network uses: the cores this process may run on
    (``os.sched_getaffinity``: a container's or ``taskset``'s limit counts), else the physical
    cores where the platform says (macOS ``hw.physicalcpu``), else ``os.cpu_count()``."""
    if hasattr(os, "sched_getaffinity"):
        try:
            return max(1, len(os.sched_getaffinity(0)))
        except OSError:
            pass
    return max(1, _physical_cores() or os.cpu_count() or 1)


def _physical_cores() -> int | None:
    """Physical cores where the platform reports them without extra packages (macOS), else
    None."""
    import platform
    import subprocess

    if platform.system() != "Darwin":
        return None
    try:
        out = subprocess.run(
            ["sysctl", "-n", "hw.physicalcpu"], capture_output=True, text=True, timeout=2
        )
        n = int(out.stdout.strip())
    except (OSError, ValueError, subprocess.SubprocessError):
        return None
    return n if n > 0 else None


def compile_onnx(
    source: Path | Any, n_threads: int | None = None
) -> Callable[[dict[str, np.ndarray]], dict[str, np.ndarray]]:
    """Compile an ONNX file (or an ``onnx.ModelProto``) for the CPU; returns ``run(feed) →
    {output name: array}``."""
    import openvino as ov

    core = ov.Core()
    if isinstance(source, Path):
        model = core.read_model(str(source))
    else:  # a ModelProto: through bytes
        model = core.read_model(source.SerializeToString())
    config = {
        "INFERENCE_NUM_THREADS": int(n_threads or threads()),
        "INFERENCE_PRECISION_HINT": "f32",
        "PERFORMANCE_HINT": "LATENCY",
    }
    compiled = core.compile_model(model, "CPU", config)
    request = compiled.create_infer_request()
    names = [o.get_any_name() for o in compiled.outputs]

    def run(feed: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        res = request.infer(feed)
        return {n: np.array(res[o]) for n, o in zip(names, compiled.outputs, strict=True)}

    return run


class CompiledNetwork:
    """A compiled frame network: ``net(face=…, bio=…)`` → (N, 10) float32 outputs.

    Parameters
    ----------
    path : Path — the ONNX file
    inputs : list of str — the graph's input names (``face`` and/or ``bio``)
    batch : int — frames per call
    precision : str — ``"fp32"`` or ``"int8"`` (what the graph is; recorded)
    """

    def __init__(
        self, path: Path, inputs: list[str], batch: int = OPTIMISED_BATCH, precision: str = "fp32"
    ) -> None:
        self.path = path
        self.inputs = inputs
        self.batch = batch
        self.precision = precision
        self.threads = threads()
        self._run = compile_onnx(path, self.threads)

    def __call__(self, face: np.ndarray | None, bio: np.ndarray | None) -> np.ndarray:
        given = {"face": face, "bio": bio}
        feed = {}
        for name in self.inputs:
            arr = given[name]
            if arr is None:
                raise ValueError(f"this network needs its {name!r} input")
            feed[name] = np.ascontiguousarray(arr, np.uint8 if name == "face" else np.float32)
        n = len(next(iter(feed.values())))
        parts = [
            self._run({k: v[a : a + self.batch] for k, v in feed.items()})["out"]
            for a in range(0, n, self.batch)
        ]
        return (
            np.concatenate(parts).astype(np.float32, copy=False)
            if parts
            else np.zeros((0, 10), np.float32)
        )
