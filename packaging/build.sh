#!/usr/bin/env bash
# Build the self-contained one-folder TheraScope for Linux and its tar.gz (packaging/README.md).
#
#   bash packaging/build.sh [--flavour cpu|cuda] [--worktree] [--fresh-venv]
#
#   --flavour cuda  (default) torch 2.14.1, the CUDA build (runs on the CPU too); a bundle of
#                   several GB
#   --flavour cpu   the CPU-only torch wheel (TORCH_CPU_WHEEL, default /opt/wheels/torch-*+cpu*.whl);
#                   needs a TheraScope whose install does not require torchvision
#   --worktree      build from the working tree (tracked and untracked, not ignored files) instead
#                   of the committed HEAD; for trying uncommitted changes, never for a release
#   --fresh-venv    recreate the build venv (it is kept between builds of the same flavour)
#
# Output: packaging/dist/therascope-VERSION-linux-x86_64-FLAVOUR/ and the same name .tar.gz.
# Work files: packaging/.build/FLAVOUR/ (both folders are git-ignored). The build tools are
# installed into packaging/.build/FLAVOUR/venv, never into the project's .venv.
set -euo pipefail

FLAVOUR=cuda
SOURCE=head
FRESH=0
while [[ $# -gt 0 ]]; do
    case "$1" in
        --flavour) FLAVOUR="${2:-}"; shift 2 ;;
        --flavour=*) FLAVOUR="${1#*=}"; shift ;;
        --worktree) SOURCE=worktree; shift ;;
        --fresh-venv) FRESH=1; shift ;;
        -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
        *) echo "build.sh: unknown argument: $1 (see --help)" >&2; exit 2 ;;
    esac
done
case "$FLAVOUR" in cpu|cuda) ;; *) echo "build.sh: --flavour must be cpu or cuda" >&2; exit 2 ;; esac

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
BUILD="$HERE/.build/$FLAVOUR"
DIST="$HERE/dist"
VENV="$BUILD/venv"
SRC="$BUILD/src"
PYTHON="${PYTHON:-python3.11}"
command -v "$PYTHON" >/dev/null || PYTHON=python3
PYINSTALLER_VERSION=6.22.3
T0=$(date +%s)
step() { printf '\n== [%4ss] %s\n' "$(( $(date +%s) - T0 ))" "$*"; }

# 1. the source: a clean export of HEAD (uncommitted files never ship), or the working tree
step "source ($SOURCE) -> $SRC"
rm -rf "$SRC"
mkdir -p "$SRC"
if [[ "$SOURCE" == head ]]; then
    git -C "$ROOT" archive --format=tar HEAD | tar -x -C "$SRC"
    COMMIT="$(git -C "$ROOT" rev-parse --short HEAD)"
else
    (cd "$ROOT" && git ls-files -z --cached --others --exclude-standard \
        | xargs -0 -I{} sh -c 'test -e "{}" && printf "%s\0" "{}"' \
        | tar --null -T - -cf -) | tar -x -C "$SRC"
    COMMIT="$(git -C "$ROOT" rev-parse --short HEAD)+worktree"
fi

# 2. the build venv: torch of the flavour first, then TheraScope (not editable) and PyInstaller
if [[ "$FRESH" == 1 ]]; then rm -rf "$VENV"; fi
if [[ ! -x "$VENV/bin/python" ]]; then
    step "build venv ($PYTHON) -> $VENV"
    "$PYTHON" -m venv "$VENV"
    "$VENV/bin/pip" install -q --upgrade pip
fi
PIP=("$VENV/bin/pip" install -q --disable-pip-version-check)
if [[ "$FLAVOUR" == cuda ]]; then
    # (torchvision only if TheraScope still requires it; pip takes 0.29.1, the pair of 2.14.1)
    step "torch 2.14.1 (CUDA build)"
    "${PIP[@]}" "torch==2.14.1"
else
    WHEEL="${TORCH_CPU_WHEEL:-$(ls /opt/wheels/torch-*+cpu*.whl 2>/dev/null | sort -V | tail -1)}"
    [[ -f "$WHEEL" ]] || { echo "build.sh: no CPU-only torch wheel (set TORCH_CPU_WHEEL)" >&2; exit 1; }
    step "torch CPU-only: $(basename "$WHEEL")"
    "${PIP[@]}" "$WHEEL"
    # the CPU-only torch has no matching torchvision here (an installed one would not load)
    "$VENV/bin/pip" uninstall -q -y torchvision 2>/dev/null || true
fi
TORCH_BEFORE="$("$VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("torch"))')"
step "PyInstaller $PYINSTALLER_VERSION and TheraScope from $SRC"
"${PIP[@]}" "pyinstaller==$PYINSTALLER_VERSION"
"${PIP[@]}" --force-reinstall --no-deps "$SRC"
if [[ "$FLAVOUR" == cuda ]]; then
    "${PIP[@]}" "$SRC"   # its dependencies (already-satisfied ones stay)
else
    # its dependencies without torchvision: no torchvision pairs with the CPU-only torch, and
    # installing one replaces that torch with the CUDA build. The bundle's selftest shows whether
    # this TheraScope runs without it (it must: its ResNet and face detector are plain torch).
    mapfile -t DEPS < <("$VENV/bin/python" - <<'PY'
import re
from importlib.metadata import requires
for req in requires("therascope") or []:
    name = re.split(r"[ ;<>=!~\[]", req, maxsplit=1)[0].lower()
    if "extra ==" in req or name in ("torch", "torchvision"):
        continue
    print(req)
PY
)
    "${PIP[@]}" "${DEPS[@]}"
fi
TORCH_AFTER="$("$VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("torch"))')"
if [[ "$TORCH_BEFORE" != "$TORCH_AFTER" ]]; then
    echo "build.sh: installing TheraScope replaced torch $TORCH_BEFORE with $TORCH_AFTER" >&2
    echo "  (it still requires torchvision, which pulls the CUDA torch: the $FLAVOUR flavour" >&2
    echo "  cannot be built from this source; see packaging/README.md)" >&2
    exit 1
fi
if [[ "$FLAVOUR" == cpu ]] && "$VENV/bin/python" -c 'import torchvision' 2>/dev/null; then
    echo "build.sh: torchvision got installed into the CPU flavour; it cannot load there" >&2
    exit 1
fi

# 3. what the build says about itself (read by app/build_info.py in the bundle)
step "build information"
"$VENV/bin/python" - "$BUILD/therascope-build.json" "$FLAVOUR" "$COMMIT" <<'PY'
import json, sys, datetime, platform
from importlib import metadata
import torch
out, flavour, commit = sys.argv[1:4]
cuda = torch.version.cuda
if (flavour == "cuda") != bool(cuda):
    raise SystemExit(f"build.sh: flavour {flavour} but torch.version.cuda is {cuda!r}")
info = {
    "version": metadata.version("therascope"),
    "flavour": flavour,
    "torch_version": torch.__version__,
    "torch_cuda": cuda,
    "python": platform.python_version(),
    "platform": f"{platform.system()}-{platform.machine()}",
    "commit": commit,
    "built_at": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
}
open(out, "w").write(json.dumps(info, indent=2) + "\n")
print(json.dumps(info))
PY
VERSION="$("$VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("therascope"))')"
NAME="therascope-$VERSION-linux-$(uname -m)-$FLAVOUR"

# 4. the entry script: what the `therascope` command runs (app.cli.main:main), with the names the
#    packages have in the source tree (the spec takes them from there)
ENTRY="$BUILD/therascope_main.py"
cat > "$ENTRY" <<'PY'
"""Entry point of the bundled TheraScope (written by packaging/build.sh)."""

import multiprocessing
import sys

from app.cli.main import main

if __name__ == "__main__":
    multiprocessing.freeze_support()
    sys.exit(main())
PY

# 5. PyInstaller: the one-folder application
step "PyInstaller (one folder)"
rm -rf "$BUILD/pyi-dist" "$BUILD/pyi-work"
(cd "$BUILD" && THERASCOPE_SRC="$SRC" THERASCOPE_ENTRY="$ENTRY" THERASCOPE_FLAVOUR="$FLAVOUR" \
    "$VENV/bin/pyinstaller" --noconfirm --log-level WARN \
    --distpath "$BUILD/pyi-dist" --workpath "$BUILD/pyi-work" "$HERE/therascope.spec")

# 6. assemble: the app folder, its desktop entry and icon, documents and licences
step "assemble $NAME"
APP="$DIST/$NAME"
rm -rf "$APP" "$DIST/$NAME.tar.gz"
mkdir -p "$DIST"
mv "$BUILD/pyi-dist/therascope" "$APP"
cp "$BUILD/therascope-build.json" "$APP/_internal/therascope-build.json"
mkdir -p "$APP/share/icons" "$APP/docs/protocol" "$APP/docs/model-cards"
cp "$HERE/linux/therascope.svg" "$APP/share/icons/therascope.svg"
cp "$HERE/linux/therascope.png" "$APP/share/icons/therascope.png"
cp "$HERE/linux/therascope.desktop" "$APP/share/therascope.desktop"
cp "$HERE/linux/install-desktop-entry.sh" "$APP/install-desktop-entry.sh"
cp "$HERE/linux/README-bundle.txt" "$APP/README.txt"
cp "$SRC/README.md" "$APP/docs/README.md"
cp "$HERE/LICENSE-GPL-3.0.txt" "$APP/LICENSE-GPL-3.0.txt"   # TheraScope is GPL-3.0-or-later
# the protocol documents and model cards, wherever the source keeps them
find "$SRC" -path "$SRC/tests" -prune -o -path "$SRC/packaging" -prune -o \
    -path '*/protocol/*.md' -type f -print | while read -r f; do cp "$f" "$APP/docs/protocol/"; done
find "$SRC" -path "$SRC/tests" -prune -o -path "$SRC/packaging" -prune -o \
    \( -name 'MODEL_CARD*.md' -o -path '*/cards/*.md' \) -type f -print \
    | while read -r f; do cp "$f" "$APP/docs/model-cards/"; done
"$VENV/bin/python" "$HERE/third_party_licenses.py" "$APP" "$SRC" "$BUILD/pyi-work" \
    "$APP/THIRD-PARTY-LICENSES.txt"
chmod +x "$APP/therascope" "$APP/install-desktop-entry.sh"
rm -rf "$BUILD/pyi-work" "$BUILD/pyi-dist"   # PyInstaller's work files (every build starts anew)

# 7. the archive
step "tar.gz"
tar -C "$DIST" -czf "$DIST/$NAME.tar.gz" "$NAME"

step "done"
T1=$(date +%s)
printf 'flavour %s, torch %s\n' "$FLAVOUR" "$TORCH_AFTER"
printf 'folder  %s  %s\n' "$(du -sh "$APP" | cut -f1)" "$APP"
printf 'archive %s  %s\n' "$(du -sh "$DIST/$NAME.tar.gz" | cut -f1)" "$DIST/$NAME.tar.gz"
printf 'build time %ss on %s (%s cores, load %s)\n' "$((T1 - T0))" "$(uname -n)" "$(nproc)" \
    "$(cut -d' ' -f1-3 /proc/loadavg)"
