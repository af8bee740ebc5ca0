#!/usr/bin/env bash
# Install darktable for the zdce Lua script and its tests: the distribution's
# darktable (4.2 on Debian 12, 5.0 on Debian 13), the lua5.4 interpreter that
# loads libdarktable.so as a Lua library, and Xvfb + xauth for xvfb-run (the
# library mode still opens a display). Idempotent and non-interactive; needs
# root (CI runs as root).
set -euo pipefail

PACKAGES=(darktable lua5.4 xvfb xauth)

ready() {
    command -v darktable >/dev/null && command -v lua5.4 >/dev/null \
        && command -v xvfb-run >/dev/null && command -v xauth >/dev/null \
        && compgen -G "/usr/lib/*/darktable/libdarktable.so" >/dev/null
}

if ready; then
    echo "darktable.sh: already installed ($(darktable --version 2>/dev/null | grep -m1 -o 'darktable [0-9][^ ]*'))"
    exit 0
fi

source "$(dirname "$0")/apt.sh"
apt_install "${PACKAGES[@]}"
ready || { echo "darktable.sh: install finished but darktable, lua5.4, xvfb-run or libdarktable.so is missing" >&2; exit 1; }
echo "darktable.sh: installed ($(darktable --version 2>/dev/null | grep -m1 -o 'darktable [0-9][^ ]*'))"
