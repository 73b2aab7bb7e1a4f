#!/usr/bin/env bash
# Install TheraScope into .venv (if needed) and start it. Without a sensor attached it runs in
# demo mode: simulated sensor and camera, and a demo patient with simulated sessions.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e .
# no arguments: the demo data folder (a simulated patient, no account needed)
if [ $# -eq 0 ]; then set -- --demo; fi
exec .venv/bin/therascope "$@"
