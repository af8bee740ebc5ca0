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
