#!/usr/bin/env bash
# The whole test suite, from a fresh machine: set up the engine, install the
# host applications, run pytest (unit tests, doctests, real GIMP/darktable/ImageMagick).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/install-hosts.sh
exec .venv/bin/python -m pytest "$@"
