#!/usr/bin/env bash
# Install TheraScope with its test tools into .venv (if needed) and run every check:
# ruff (lint and format), mypy over core/ and devices/, and the whole pytest suite (offscreen Qt).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e ".[test]"
export QT_QPA_PLATFORM=offscreen
echo "== ruff check";          .venv/bin/ruff check .
echo "== ruff format --check"; .venv/bin/ruff format --check .
echo "== mypy core devices";   .venv/bin/mypy
echo "== pytest";              .venv/bin/python -m pytest -q "$@"
