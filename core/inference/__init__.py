"""The optimised inference path (issue 21): a checkpoint's network exported once to ONNX and run
with OpenVINO on the CPU, fp32 and, where its accuracy holds, int8; torch stays the reference and
the fallback.

* :mod:`core.inference.select` — which device and runtime an analysis uses (``--device auto``:
  CUDA, then Apple's MPS, then the optimised CPU runtime) and why;
* :mod:`core.inference.export` — the network as an ONNX graph (face crops as uint8, normalised
  inside the graph) and its int8 static quantisation (QDQ, calibrated on simulated frames);
* :mod:`core.inference.calibration` — the simulated frames and windows int8 is calibrated and
  checked on (never a patient's);
* :mod:`core.inference.cache` — the exports cached per checkpoint (SHA-256) and runtime version,
  checked on every use and rebuilt when corrupt or stale;
* :mod:`core.inference.runner` — the compiled network, run in batches;
* :mod:`core.inference.speed` — whole session or windows, by this computer's measured rates
  (light: the review screen's estimate asks it too).

Nothing here imports OpenVINO or ONNX at module level; only :mod:`core.inference.select` and the
export import torch.
"""
