"""Which device and runtime an analysis uses, and why (recorded with the analysis).

``auto``: a CUDA GPU when there is one, else Apple's GPU (MPS), else — for the frame models
(BMMN-BAE) — the optimised CPU runtime (OpenVINO over the exported network, int8 where its
accuracy holds), else torch on the CPU. A device named in the settings (``cpu``, ``cuda``,
``cuda:N``, ``mps``) runs torch there: ``cpu`` is torch on the CPU, the reference.
``$THERASCOPE_CPU_RUNTIME=torch`` makes ``auto`` keep torch on the CPU (the test suite sets it;
the optimised path's tests set it back).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from core.models.runtime import pick_device, valid_devices

log = logging.getLogger(__name__)

RUNTIME_ENV = "THERASCOPE_CPU_RUNTIME"
INT8_MODES = ("auto", "on", "off")


@dataclass(frozen=True)
class InferencePlan:
    """Where the model runs. ``optimised``: the CPU runtime (else torch on ``device``)."""

    device: torch.device
    optimised: bool
    reason: str


def plan_inference(spec: str, frame_model: bool = True) -> InferencePlan:
    """The plan for a device setting (module docstring).

    Raises
    ------
    core.models.runtime.DeviceError — ``spec`` names a device this computer lacks
    """
    key = spec.strip().lower() if isinstance(spec, str) else ""
    if key != "auto":
        device = pick_device(spec)
        return InferencePlan(device, False, f"device {key!r} chosen in the settings: torch")
    if torch.cuda.is_available():
        return InferencePlan(torch.device("cuda"), False, "auto: a CUDA GPU is there")
    if "mps" in valid_devices():
        return InferencePlan(torch.device("mps"), False, "auto: no CUDA GPU; Apple's GPU (MPS)")
    cpu = torch.device("cpu")
    if not frame_model:
        return InferencePlan(
            cpu, False, "auto: no GPU; sequence models run on torch (no optimised export)"
        )
    if os.environ.get(RUNTIME_ENV, "").strip().lower() == "torch":
        return InferencePlan(cpu, False, f"auto: no GPU; torch on the CPU (${RUNTIME_ENV})")
    from core.inference.runner import available

    if not available():
        return InferencePlan(cpu, False, "auto: no GPU; OpenVINO is not installed: torch")
    return InferencePlan(cpu, True, "auto: no GPU: the optimised CPU runtime (OpenVINO)")


@dataclass
class OptimisedModel:
    """The compiled network an analysis runs, and what to record about it."""

    net: Any  # core.inference.runner.CompiledNetwork
    precision: str
    runtime: str
    int8_note: str
    export_note: str
    frames_per_s: float | None = None  # the network alone, measured when it was exported

    def __call__(self, face: np.ndarray | None, bio: np.ndarray | None) -> np.ndarray:
        out: np.ndarray = self.net(face, bio)
        return out


def load_optimised(
    sha256: str,
    model: Any,
    config: Any,
    meta: dict[str, Any],
    int8: str = "auto",
    cache_root: Path | None = None,
    progress: Any = None,
    calibration: Any = None,
) -> OptimisedModel:
    """The checkpoint's network compiled for the CPU, exporting it first when needed.

    Parameters
    ----------
    int8 : str — ``"auto"``: int8 where its check accepted it, else fp32; ``"on"``: int8 even
        where the check did not accept it (timing an untrained network; recorded); ``"off"``:
        fp32
    calibration : core.inference.cache.CalibrationData, optional — a non-demo checkpoint's own
        frames to calibrate and check int8 on (without them it runs fp32)
    """
    from core.inference.cache import prepare
    from core.inference.runner import CompiledNetwork, runtime_version

    if int8 not in INT8_MODES:
        raise ValueError(f"int8 must be one of {INT8_MODES}, not {int8!r}")
    ex = prepare(sha256, model, config, meta, cache_root, progress, calibration)
    use_int8 = ex.int8 is not None and (int8 == "on" or (int8 == "auto" and ex.int8_check.accepted))
    note = ex.int8_check.reason
    if int8 == "off":
        note = "int8 off (asked); " + note
    elif int8 == "on" and not ex.int8_check.accepted and use_int8:
        note = "int8 forced although its check did not accept it (" + note + ")"
    path = ex.int8 if use_int8 and ex.int8 is not None else ex.fp32
    prec = "int8" if use_int8 else "fp32"
    net = CompiledNetwork(path, ex.inputs, precision=prec)
    return OptimisedModel(
        net=net,
        precision=prec,
        runtime=f"OpenVINO {runtime_version()}, {net.threads} threads, batch {net.batch}",
        int8_note=note,
        export_note=("export rebuilt: " + ex.rebuilt) if ex.rebuilt else "export from the cache",
        frames_per_s=ex.frames_per_s.get(prec),
    )
