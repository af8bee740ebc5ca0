#!/usr/bin/env bash
# Create .venv with zdce, its training extra, its test tools, the trackers tests/test_tracking.py drives,
# Optuna for zdce sweep and PyAV for zdce video and training on a video's frames.
# Safe to re-run. scripts/constraints.txt pins torch to the CPU build this machine kind provides
# (a local wheel for Python 3.11). Where the pin would bring PyPI's CUDA build instead (Python 3.13,
# Debian 13) and the system has a CPU torch (Debian's python3-torch), that one is used.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip

# Which build the pin brings here: PyPI's Linux wheels of torch depend on nvidia-* packages (CUDA).
report=$(mktemp)
own_constraints=$(mktemp)
trap 'rm -f "$report" "$own_constraints"' EXIT
.venv/bin/python -m pip install --quiet --dry-run --ignore-installed --no-deps --report "$report" \
    -c scripts/constraints.txt torch
pinned_build=$(.venv/bin/python -c '
import json, sys
requires = json.load(open(sys.argv[1]))["install"][0]["metadata"].get("requires_dist") or []
print("cuda" if any(r.startswith("nvidia-") for r in requires) else "cpu")' "$report")
system_torch=$("$PYTHON" -c 'import torch; print(torch.__version__ if torch.version.cuda is None else "")' \
    2>/dev/null || true)

constraints=scripts/constraints.txt
if [ "$pinned_build" = cuda ] && [ -n "$system_torch" ]; then
    # The venv sees the system's packages, so its CPU torch; the pin names that one instead.
    "$PYTHON" -m venv --system-site-packages .venv
    grep -v '^torch==' scripts/constraints.txt > "$own_constraints"
    echo "torch==$system_torch" >> "$own_constraints"
    constraints=$own_constraints
    echo "setup.sh: the pinned torch is a CUDA build for this Python; using the system's CPU torch $system_torch"
elif [ "$pinned_build" = cuda ]; then
    echo "setup.sh: the pinned torch is a CUDA build for this Python (several GB); on Debian 13" \
        "'sudo apt-get install --no-install-recommends python3-torch' gives a CPU build this script then uses" >&2
fi
# The render's C kernel is optional for users (without it the NumPy reference runs, slower), but the
# tests under CI require it: it needs a C compiler and this Python's headers.
include=$(.venv/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["include"])')
if ! command -v cc >/dev/null || [ ! -f "$include/Python.h" ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        echo "setup.sh: installing a C compiler and the Python headers for the render kernel"
        apt-get -qq -o DPkg::Lock::Timeout=300 update >/dev/null
        apt-get -qq -o DPkg::Lock::Timeout=300 install -y --no-install-recommends gcc libc6-dev python3-dev >/dev/null
    else
        echo "setup.sh: no C compiler or no Python headers: the render will run its NumPy reference;" \
            "install gcc and python3-dev for the compiled kernel" >&2
    fi
fi
.venv/bin/python -m pip install --quiet -c "$constraints" -e ".[train,test,mlflow,tensorboard,wandb,dask,onnx,web-test,sweep,video,s3]"
# The in-browser page's runtime, onnxruntime-web from npm (zdce web; docs/onnx.md). As root a missing
# npm is installed from Debian; otherwise the page is left out with a note.
if command -v npm >/dev/null || [ "$(id -u)" = 0 ]; then
    bash scripts/setup-web.sh
else
    echo "setup.sh: no npm: the in-browser page (zdce web) needs onnxruntime-web; install npm, then run bash scripts/setup-web.sh" >&2
fi
echo "zdce is set up: .venv/bin/zdce --help"
