#!/usr/bin/env bash
# Make real GIMP 3 (with Python plug-in support) available as `gimp-console-3.0`.
#
# Debian 13 and later ship GIMP 3: install it natively. Debian 12 only has
# GIMP 2.10, so build a Debian 13 (trixie) chroot once, cache it outside the
# repository, and put a wrapper on PATH that runs GIMP inside it with the
# host's user directories (engine venv, repository, temp files) bind-mounted
# at their own paths. Idempotent, non-interactive, needs root.
set -euo pipefail

CHROOT="${ZDCE_GIMP_CHROOT:-/var/cache/zdce/gimp-trixie}"
MIRROR="${ZDCE_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
WRAPPER=/usr/local/bin/gimp-console-3.0
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# GIMP itself, the GObject-introspection bindings its Python plug-ins import,
# and the typelibs for Gimp, GimpUi, Gegl, Babl and Gtk.
PACKAGES=(gimp python3 python3-gi gir1.2-gimp-3.0 gir1.2-gegl-0.4 gir1.2-babl-0.1 gir1.2-gtk-3.0)
# The chroot build's output (debootstrap, apt inside it) goes here; its tail is shown on failure.
BUILD_LOG="$CHROOT.build.log"
export DEBIAN_FRONTEND=noninteractive
source "$HERE/apt.sh"

gimp_is_3() {
    # Whether the distribution's own gimp package is GIMP 3.
    local candidate
    candidate="$(apt-cache policy gimp 2>/dev/null | awk '/Candidate:/ {print $2}')"
    [[ "$candidate" == 3.* || "$candidate" == *:3.* ]]
}

native_ready() {
    [[ -x /usr/bin/gimp-console-3.0 ]] && /usr/bin/python3 -c \
        'import gi; gi.require_version("Gimp", "3.0"); gi.require_version("Gegl", "0.4")' 2>/dev/null
}

if native_ready; then
    echo "gimp.sh: GIMP 3 already installed natively"
    exit 0
fi

if [[ -f "$CHROOT/.zdce-ready" ]] && cmp -s "$HERE/gimp-console" "$WRAPPER"; then
    echo "gimp.sh: GIMP 3 chroot ready at $CHROOT"
    exit 0
fi

update_log="$(mktemp "${TMPDIR:-/tmp}/zdce-apt.XXXXXX.log")"
quietly "$update_log" apt-get "${APT_OPTS[@]}" update -q
rm -f "$update_log"
if gimp_is_3; then
    apt_install "${PACKAGES[@]}"
    echo "gimp.sh: installed GIMP 3 natively"
    exit 0
fi

if [[ ! -f "$CHROOT/.zdce-ready" ]]; then
    apt_install debootstrap
    # A half-built chroot from an interrupted run is not trusted: start over.
    rm -rf "$CHROOT" "$BUILD_LOG"
    mkdir -p "$(dirname "$CHROOT")"
    echo "gimp.sh: building a Debian 13 chroot for GIMP 3 at $CHROOT (a few minutes; log: $BUILD_LOG)"
    quietly "$BUILD_LOG" debootstrap --variant=minbase trixie "$CHROOT" "$MIRROR"
    # Inside the chroot, mount nothing from the host: no service starts there.
    printf '#!/bin/sh\nexit 101\n' > "$CHROOT/usr/sbin/policy-rc.d"
    chmod +x "$CHROOT/usr/sbin/policy-rc.d"
    quietly "$BUILD_LOG" chroot "$CHROOT" apt-get "${APT_OPTS[@]}" update -q
    quietly "$BUILD_LOG" chroot "$CHROOT" env DEBIAN_FRONTEND=noninteractive \
        apt-get "${APT_OPTS[@]}" install -y -q --no-install-recommends "${PACKAGES[@]}"
    chroot "$CHROOT" apt-get clean
    touch "$CHROOT/.zdce-ready"
fi

install -m 0755 "$HERE/gimp-console" "$WRAPPER"
echo "gimp.sh: GIMP 3 chroot ready at $CHROOT, run through $WRAPPER"
