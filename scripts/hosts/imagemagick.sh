#!/usr/bin/env bash
# Install ImageMagick for the zdce delegate and its tests: version 6 (convert,
# mogrify) on Debian 12, version 7 (magick) on Debian 13. Idempotent and
# non-interactive; needs root (CI runs as root).
set -euo pipefail

have_imagemagick() {
    # /usr/local/bin/convert may be a stand-in on some machines: only the
    # packaged binaries count.
    [ -x /usr/bin/magick ] || { [ -x /usr/bin/convert ] && [ -x /usr/bin/mogrify ] && /usr/bin/convert -version 2>/dev/null | grep -q ImageMagick; }
}

if have_imagemagick; then
    echo "imagemagick: already installed ($( (/usr/bin/magick -version 2>/dev/null || /usr/bin/convert -version) | head -n1))"
    exit 0
fi

source "$(dirname "$0")/apt.sh"
apt_install imagemagick
have_imagemagick || { echo "imagemagick: install finished but no ImageMagick binary found in /usr/bin" >&2; exit 1; }
echo "imagemagick: installed ($( (/usr/bin/magick -version 2>/dev/null || /usr/bin/convert -version) | head -n1))"
