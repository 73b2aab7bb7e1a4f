"""Reproduce ``resources/models/faces/mtcnn.pt`` from the facenet-pytorch wheel.

The three MTCNN networks' trained weights (``pnet.pt``, ``rnet.pt``, ``onet.pt``, MIT licence)
ship inside the ``facenet-pytorch`` wheel. TheraScope does not depend on that package (it pins an
old torch); this script reads the three state dicts with ``torch.load(weights_only=True)``, prefixes
their keys with the network's name and saves one file of plain float32 tensors, then prints its
size and SHA-256.

Usage::

    pip download facenet-pytorch==2.6.0 --no-deps -d /tmp/fp
    python tools/vendor_face_weights.py /tmp/fp/facenet_pytorch-2.6.0-py3-none-any.whl

The output is byte-for-byte reproducible (same torch version): keys are written in a fixed order.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "resources" / "models" / "faces" / "mtcnn.pt"
NETS = ("pnet", "rnet", "onet")


def main(argv: list[str] | None = None) -> int:
    """Read the wheel, write the combined weights file, print its size and SHA-256."""
    import torch

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("wheel", type=Path, help="facenet_pytorch-2.6.0-py3-none-any.whl")
    ap.add_argument("--out", type=Path, default=OUT, help=f"output file (default {OUT})")
    args = ap.parse_args(argv)
    combined: dict[str, torch.Tensor] = {}
    with zipfile.ZipFile(args.wheel) as wheel:
        for net in NETS:
            raw = wheel.read(f"facenet_pytorch/data/{net}.pt")
            state = torch.load(io.BytesIO(raw), map_location="cpu", weights_only=True)
            for key in sorted(state):
                combined[f"{net}.{key}"] = state[key].detach().to(torch.float32).contiguous()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    torch.save(combined, args.out)
    digest = hashlib.sha256(args.out.read_bytes()).hexdigest()
    print(f"{args.out}: {args.out.stat().st_size} bytes, {len(combined)} tensors")
    print(f"sha256 {digest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
