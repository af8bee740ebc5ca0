"""What every host adapter needs: the user's config folder and the host's version."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

from .hookspecs import InstallOptions

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
