"""Check that a built TheraScope wheel is complete and keeps to its one top-level package.

    .venv/bin/python tools/wheel_contents.py dist/therascope-0.1.0-py3-none-any.whl [--source DIR]

Complete means: every ``.py`` of ``app/``, ``core/``, ``devices/`` and every file of
``resources/`` in the source tree (``--source``, default: this checkout) is in the wheel under
``therascope/_app/``, with the launcher, the catalog schema SQL and the model cards; nothing but
``therascope/`` and the dist-info lies at the top; the metadata carries the SPDX licence
expression and the licence files. Prints a summary; exit status 1 and one line per problem
otherwise. tools/wheel_check.sh runs it in CI.
"""

from __future__ import annotations

import argparse
import sys
import zipfile
from email.parser import Parser
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PRIVATE = "therascope/_app"
SOURCE_PACKAGES = ("app", "core", "devices")
#: files that must be there whatever the source tree holds
REQUIRED = (
    "therascope/__init__.py",
    "therascope/__main__.py",
    "therascope/launcher.py",
    f"{PRIVATE}/__init__.py",
    f"{PRIVATE}/resources/__init__.py",
    f"{PRIVATE}/resources/models/demo-bmmn-bae2.pt",
    f"{PRIVATE}/resources/models/faces/mtcnn.pt",
    f"{PRIVATE}/resources/fonts/DejaVuSans.ttf",
    f"{PRIVATE}/resources/protocol/stream-format-v1.md",
    f"{PRIVATE}/resources/protocol/open-profile-v1.md",
    f"{PRIVATE}/core/catalog/schema_v1.sql",
    f"{PRIVATE}/core/models/MODEL_CARD.md",
)


def expected_files(source: Path) -> list[str]:
    """Wheel paths of every source file the wheel must carry."""
    want = set(REQUIRED)
    for pkg in SOURCE_PACKAGES:
        for py in (source / pkg).rglob("*.py"):
            want.add(f"{PRIVATE}/{py.relative_to(source).as_posix()}")
    for f in (source / "resources").rglob("*"):
        if f.is_file() and "__pycache__" not in f.parts:
            want.add(f"{PRIVATE}/{f.relative_to(source).as_posix()}")
    for card in (source / "core" / "models" / "cards").glob("*.md"):
        want.add(f"{PRIVATE}/{card.relative_to(source).as_posix()}")
    return sorted(want)


def problems(wheel: Path, source: Path) -> tuple[list[str], list[str]]:
    """(problems, names in the wheel)."""
    with zipfile.ZipFile(wheel) as z:
        names = z.namelist()
        meta_name = next((n for n in names if n.endswith(".dist-info/METADATA")), None)
        meta = Parser().parsestr(z.read(meta_name).decode()) if meta_name else None
    found = set(names)
    out = [f"missing: {p}" for p in expected_files(source) if p not in found]
    tops = sorted({n.split("/", 1)[0] for n in names})
    out += [
        f"top-level entry other than therascope and its dist-info: {t}"
        for t in tops
        if t != "therascope" and not t.endswith(".dist-info")
    ]
    out += [f"compiled file shipped: {n}" for n in names if "__pycache__/" in n]
    if meta is None:
        out.append("no METADATA in the wheel")
    else:
        if meta.get("License-Expression") != "GPL-3.0-or-later":
            out.append(f"License-Expression is {meta.get('License-Expression')!r}")
        if not meta.get_all("License-File"):
            out.append("no License-File in the metadata")
    return out, names


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("wheel", type=Path)
    ap.add_argument("--source", type=Path, default=ROOT, help="the source tree it was built from")
    args = ap.parse_args(argv)
    bad, names = problems(args.wheel, args.source)
    for line in bad:
        print(line)
    size = args.wheel.stat().st_size / 2**20
    tops = sorted({n.split("/", 1)[0] for n in names})
    print(
        f"{args.wheel.name}: {len(names)} files, {size:.1f} MiB, top level: {', '.join(tops)}; "
        + ("complete" if not bad else f"{len(bad)} problems")
    )
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
