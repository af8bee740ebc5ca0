#!/usr/bin/env bash
# Install the host applications the integration tests drive for real:
# ImageMagick, darktable (headless under Xvfb), GIMP 3 (native on Debian 13,
# a cached trixie chroot on Debian 12) and Chromium (the web page's test, headless).
# Needs root; each step is idempotent.
set -euo pipefail
cd "$(dirname "$0")"
for host in imagemagick darktable gimp chromium; do
    echo "== host: $host"
    bash "hosts/$host.sh"
done
