"""Fetch the real recordings some tests read that ship only in a package's source distribution,
from the package index like any other dependency (tools/test.sh runs this before the tests;
nothing is downloaded while the tests run). A test whose file is missing is skipped and says so.

- systole 0.3.1 (GPL-3.0; its sdist holds ``src/systole/datasets/Task1_EDA.npy``): 25 minutes of
  a young healthy participant's EDA at 1000 Hz during an emotional task (Legrand et al. 2020,
  Sci. Rep. 10:14460), for the SCR counts on real skin conductance.

Usage: ``python tools/test_data.py [--check]`` (``--check``: say what is there, fetch nothing).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / ".cache" / "test-data"
#: file name → the pip requirement whose source distribution it is
SDISTS = {"systole-0.3.1.tar.gz": "systole==0.3.1"}


def main() -> int:
    check = "--check" in sys.argv[1:]
    CACHE.mkdir(parents=True, exist_ok=True)
    missing = [name for name in SDISTS if not (CACHE / name).is_file()]
    for name in missing:
        if check:
            print(f"test data: {name} missing (python tools/test_data.py fetches it)")
            continue
        cmd = [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--no-binary", ":all:"]
        cmd += ["-d", str(CACHE), SDISTS[name]]
        done = subprocess.run(cmd, capture_output=True, text=True)
        if done.returncode != 0 or not (CACHE / name).is_file():
            print(f"test data: could not fetch {name}; its tests will be skipped", file=sys.stderr)
            print(done.stderr.strip()[-2000:], file=sys.stderr)
    for name in SDISTS:
        if (CACHE / name).is_file():
            print(f"test data: {name} ({(CACHE / name).stat().st_size:,} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
