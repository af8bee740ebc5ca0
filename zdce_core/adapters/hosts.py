"""What every host adapter needs: the user's config folder and the host's version."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

from .hookspecs import InstallOptions

DPKG_STATUS = Path("/var/lib/dpkg/status")
"""dpkg's database of installed packages: versions are read from it without running a program."""

VERSION_TIMEOUT_S = 60
"""GIMP in a chroot can take a while to print its version on a cold start."""


def user_config_dir(options: InstallOptions, *parts: str) -> Path:
    """``options.prefix`` if given, else ``$XDG_CONFIG_HOME`` (or ``~/.config``) joined with ``parts``."""
    if options.prefix is not None:
        return Path(options.prefix).expanduser()
    return Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config", *parts)


def probe_version(executable: str, flag: str, pattern: re.Pattern[str], *, check_exit: bool = True) -> str | None:
    """Run ``executable flag`` and return ``pattern``'s first group from its output, or ``None``.

    A program that cannot run, hangs, prints no version or (with ``check_exit``)
    exits non-zero counts as not found.
    """
    try:
        done = subprocess.run(
            [executable, flag], capture_output=True, text=True, timeout=VERSION_TIMEOUT_S, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    found = pattern.search(done.stdout + done.stderr)
    return found.group(1) if found and (done.returncode == 0 or not check_exit) else None


def upstream(version: str) -> str:
    """The upstream part of a Debian package version: no epoch, Debian revision or repack suffix.

    >>> upstream("8:6.9.11.60+dfsg-1.6+deb12u1"), upstream("4.2.1-4"), upstream("3.0")
    ('6.9.11.60', '4.2.1', '3.0')
    """
    version = version.split(":", 1)[-1]
    version = version.rsplit("-", 1)[0] if "-" in version else version
    return version.split("+", 1)[0].split("~", 1)[0]


def package_version(package: str, status: Path = DPKG_STATUS) -> str | None:
    """The upstream version of Debian package ``package`` if it is installed, read from dpkg's database; else ``None``."""
    try:
        text = status.read_text(encoding="utf-8", errors="replace")
    except OSError:  # not a Debian system
        return None
    for stanza in text.split("\n\n"):
        fields = dict(line.split(": ", 1) for line in stanza.splitlines() if ": " in line and not line.startswith(" "))
        if fields.get("Package") == package and fields.get("Status", "").endswith(" installed") and "Version" in fields:
            return upstream(fields["Version"])
    return None


def fill_in(template: str, values: dict[str, str], line: str, *, source: str) -> str:
    """``template`` with each line ``line.format(name=NAME)`` + anything replaced by that line + ``values[NAME]``.

    Host scripts carry placeholder lines (``NAME = ...``) that installation
    fills in, e.g. with the engine's path and :mod:`zdce_core.contract`'s ranges;
    ValueError names ``source`` if a placeholder is not there exactly once.
    """
    for name, value in values.items():
        prefix = line.format(name=name)
        pattern = re.compile("^" + re.escape(prefix) + ".*$", re.MULTILINE)
        template, count = pattern.subn(lambda _: prefix + value, template)
        if count != 1:
            raise ValueError(f"{source}: expected exactly one line starting {prefix!r} to fill in, found {count}")
    return template


def existing_mode(path: Path, default: int) -> int:
    """The permission bits of ``path``, or ``default`` when it does not exist yet: rewriting keeps the user's mode."""
    try:
        return path.stat().st_mode & 0o7777
    except FileNotFoundError:
        return default
