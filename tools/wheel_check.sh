#!/usr/bin/env bash
# The wheel a clinic's IT (or pip) would install, checked the way they would use it (issue 20):
#   1. built with `python -m build --wheel` from a copy of the files git knows (no build/ leftovers);
#   2. complete: tools/wheel_contents.py (every module and resource, one top-level package);
#   3. installed into a FRESH virtual environment (its dependencies from the package index);
#   4. run from a folder outside the source tree: `therascope --version`, then `therascope selftest`.
# Prints the time of each step. .ci/run calls it after tools/test.sh (which made .venv).
#
#   bash tools/wheel_check.sh            # KEEP=1 keeps the work folder and prints where it is
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PY=${PYTHON:-python3}
DEV="$ROOT/.venv/bin/python"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/therascope-wheel.XXXXXX")
if [ -n "${KEEP:-}" ]; then echo "work folder: $WORK"; else trap 'rm -rf "$WORK"' EXIT; fi
t0=$SECONDS
step() { printf '== wheel: %s (%d s so far)\n' "$1" $((SECONDS - t0)); }

step "copy the tracked tree"
mkdir -p "$WORK/src"
git -C "$ROOT" ls-files -z --cached --others --exclude-standard \
  | (cd "$ROOT" && tar --null --ignore-failed-read -T - -cf -) 2>/dev/null \
  | tar -xf - -C "$WORK/src"

step "build"
"$DEV" -m build --wheel --outdir "$WORK/dist" "$WORK/src" >"$WORK/build.log" 2>&1 \
  || { cat "$WORK/build.log"; exit 1; }
if grep -iE "deprecat|SetuptoolsWarning" "$WORK/build.log"; then
  echo "the build warns (above): fix pyproject.toml"; exit 1
fi
WHEEL=$(ls "$WORK"/dist/therascope-*.whl)

step "contents"
"$DEV" "$ROOT/tools/wheel_contents.py" "$WHEEL" --source "$WORK/src"

step "fresh venv + pip install"
"$PY" -m venv "$WORK/venv"
{ "$WORK/venv/bin/python" -m pip install -q --upgrade pip \
    && "$WORK/venv/bin/python" -m pip install -q "$WHEEL"; } >"$WORK/pip.log" 2>&1 \
  || { grep -v "^WARNING: Location" "$WORK/pip.log"; exit 1; }
site=$("$WORK/venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
for name in app core devices resources; do
  if [ -e "$site/$name" ]; then echo "the wheel put $name at the top of site-packages"; exit 1; fi
done

step "run from outside the source tree"
mkdir -p "$WORK/elsewhere" && cd "$WORK/elsewhere"
# no checkout on the path: the installed wheel alone
env -u PYTHONPATH "$WORK/venv/bin/therascope" --version
if env -u PYTHONPATH "$WORK/venv/bin/python" -c "import core" 2>/dev/null; then
  echo "'import core' works in the fresh venv: the wheel leaks a top-level package"; exit 1
fi
env -u PYTHONPATH HOME="$WORK/home" "$WORK/venv/bin/therascope" selftest --temp-dir "$WORK"
step "done"
