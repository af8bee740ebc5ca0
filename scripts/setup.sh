#!/usr/bin/env bash
# Create .venv with zdce, its training extra, its test tools and the trackers tests/test_tracking.py drives.
# Safe to re-run. scripts/constraints.txt pins torch to the CPU build this machine kind provides.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -c scripts/constraints.txt -e ".[train,test,mlflow,tensorboard,wandb,dask]"
echo "zdce is set up: .venv/bin/zdce --help"
