#!/usr/bin/env bash
# Install Debian's chromium for the in-browser page's test (tests/test_web.py drives it headless
# through Playwright for Python with executable_path=/usr/bin/chromium: Playwright's own browser
# downloads are not available here). The package has the same name on Debian 12 and 13.
# Idempotent and non-interactive; needs root (CI runs as root).
set -euo pipefail

if [ -x /usr/bin/chromium ]; then
    echo "chromium: already installed ($(/usr/bin/chromium --version 2>/dev/null | head -n1))"
    exit 0
fi

source "$(dirname "$0")/apt.sh"
apt_install chromium fonts-dejavu-core
[ -x /usr/bin/chromium ] || { echo "chromium: install finished but /usr/bin/chromium is missing" >&2; exit 1; }
echo "chromium: installed ($(/usr/bin/chromium --version 2>/dev/null | head -n1))"
