# Sourced by the host scripts.
#
# quietly LOG COMMAND...: run COMMAND with all its output appended to LOG; on failure
# show LOG's last lines, so a test log holds what failed, not dpkg's progress.
quietly() {
    local log="$1"
    shift
    if ! "$@" >>"$log" 2>&1; then
        echo "failed: $* (last lines of $log):" >&2
        tail -n 40 "$log" >&2
        return 1
    fi
}

# Other host scripts may run apt at the same time: wait for the lock instead of failing.
APT_OPTS=(-o DPkg::Lock::Timeout=600)

# apt_install PACKAGE...: install Debian packages non-interactively, as root or through sudo.
apt_install() {
    local sudo_cmd=()
    if [ "$(id -u)" -ne 0 ]; then
        sudo_cmd=(sudo)
    fi
    local log
    log="$(mktemp "${TMPDIR:-/tmp}/zdce-apt.XXXXXX.log")"
    quietly "$log" "${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive apt-get "${APT_OPTS[@]}" update -q || return
    quietly "$log" "${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive \
        apt-get "${APT_OPTS[@]}" install -y -q --no-install-recommends "$@" || return
    rm -f "$log"
}
