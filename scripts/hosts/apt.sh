# Sourced by the host scripts: apt_install PACKAGE... installs Debian packages
# non-interactively, as root or through sudo.
apt_install() {
    local sudo_cmd=()
    if [ "$(id -u)" -ne 0 ]; then
        sudo_cmd=(sudo)
    fi
    # Other host scripts may run apt at the same time: wait for the lock instead of failing.
    local apt_opts=(-o DPkg::Lock::Timeout=600)
    "${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive apt-get "${apt_opts[@]}" update -qq
    "${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive apt-get "${apt_opts[@]}" install -y -qq --no-install-recommends "$@" >/dev/null
}
