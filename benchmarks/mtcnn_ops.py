"""MTCNN with our RoIAlign and batched NMS (plain torch) against torchvision's, when installed.

    .venv/bin/python benchmarks/mtcnn_ops.py                  # 1 thread, 10 rounds
    .venv/bin/python benchmarks/mtcnn_ops.py --threads 2 --rounds 20

The frame is scikit-image's 'astronaut' (a real face) scaled to 640x480. For each implementation,
interleaved round by round so that the machine's load falls on both alike, it prints the median
time of the whole cascade (:func:`core.faces.mtcnn.detect_faces`) and of RoIAlign alone on the
R-Net crops of that frame, and the boxes found; then the machine and its load average. Without
torchvision only ours is timed.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

# the checkout's packages: the editable install maps them only for the therascope command
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=10)
    args = ap.parse_args()

    import cv2
    import numpy as np
    import torch
    from skimage import data

    from core.faces import mtcnn
    from core.machine import cpu_description

    torch.set_num_threads(args.threads)
    frame = np.ascontiguousarray(cv2.resize(data.astronaut(), (640, 480)))
    weights = mtcnn.load_weights()
    impls: dict[str, Callable[[Any, Any, int], Any]] = {"ours": mtcnn.roi_align}
    try:
        from torchvision.ops import roi_align as tv_roi_align

        impls["torchvision"] = lambda image, rois, size: tv_roi_align(
            image, rois, (size, size), spatial_scale=1.0, sampling_ratio=-1
        )
    except ImportError:
        print("torchvision is not installed: only ours is timed")

    # R-Net's boxes for this frame, to time RoIAlign alone
    raw = torch.from_numpy(frame).permute(2, 0, 1)[None].float()
    seen: list[Any] = []
    original = mtcnn.roi_align

    def spy(image: Any, rois: Any, size: int) -> Any:
        seen.append(rois)
        return original(image, rois, size)

    mtcnn.roi_align = spy
    mtcnn.detect_faces(frame, weights)
    rnet_rois = seen[0]

    cascade: dict[str, list[float]] = {k: [] for k in impls}
    align: dict[str, list[float]] = {k: [] for k in impls}
    boxes: dict[str, Any] = {}
    with torch.inference_mode():
        for _ in range(args.rounds):
            for name, fn in impls.items():
                mtcnn.roi_align = fn
                t = time.perf_counter()
                found = mtcnn.detect_faces(frame, weights)
                cascade[name].append(time.perf_counter() - t)
                boxes[name] = found.boxes.round(1).tolist()
                t = time.perf_counter()
                fn(raw, rnet_rois, 24)
                align[name].append(time.perf_counter() - t)
    mtcnn.roi_align = original
    print(f"R-Net crops of this frame: {len(rnet_rois)}")
    for name in impls:
        print(
            f"{name:12s} cascade {statistics.median(cascade[name]) * 1e3:7.1f} ms   "
            f"RoIAlign (R-Net, 24x24) {statistics.median(align[name]) * 1e3:6.2f} ms   "
            f"faces {boxes[name]}"
        )
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"machine: {cpu_description()}; torch {torch.__version__}; threads {args.threads}")
    print(f"load average (1, 5, 15 min) at the end: {load}; medians of {args.rounds} rounds")
    return 0


if __name__ == "__main__":
    sys.exit(main())
