#!/usr/bin/env bash
# Install TheraScope into .venv (if needed) and start it. Without a sensor attached it runs in
# demo mode: simulated sensor and camera, and a demo patient with simulated sessions.
#
#   bash tools/run.sh [--install-system-libs] [therascope's own arguments]
#
# On Linux it first checks for the system libraries Qt needs to open the window
# (tools/qt_libs.sh); when some are missing it prints the command that installs them on this
# distribution and stops. --install-system-libs runs that command (with sudo when not root).
# Commands without a window (therascope selftest, patients, …) are not checked.
set -euo pipefail
cd "$(dirname "$0")/.."
install_libs=""
args=()
for a in "$@"; do
  if [ "$a" = --install-system-libs ]; then install_libs=--install; else args+=("$a"); fi
done
# no arguments: the demo data folder (a simulated patient, no account needed)
[ ${#args[@]} -gt 0 ] || args=(--demo)
# the window opens unless a command other than gui is named (after options such as --data-dir DIR)
window=yes
i=0
while [ $i -lt ${#args[@]} ]; do
  case ${args[$i]} in
    --data-dir | --user) i=$((i + 1)) ;;
    -h | --help | --version) window=no; break ;;
    -*) ;;
    gui) break ;;
    *) window=no; break ;;
  esac
  i=$((i + 1))
done
if [ "$window" = yes ] || [ -n "$install_libs" ]; then
  bash tools/qt_libs.sh $install_libs || exit 1
fi
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e .
exec .venv/bin/therascope "${args[@]}"
