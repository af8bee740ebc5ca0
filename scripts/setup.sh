#!/usr/bin/env bash
# Create .venv with zdce, its training extra and its test tools. Safe to re-run.
# scripts/constraints.txt pins torch to the CPU build this machine kind provides.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -c scripts/constraints.txt -e ".[train,test]"
echo "zdce is set up: .venv/bin/zdce --help"
