"""GIMP 3 adapter: installs the Filters -> Low-light Enhance… plug-in into a GIMP 3 profile.

GIMP 3 loads a Python plug-in from ``PROFILE/plug-ins/NAME/NAME.py`` (folder
and file share a name; the file must be executable). The installed copy
carries the path of the engine's interpreter, because GIMP runs plug-ins
with its own Python, which has no torch, and what it needs of
:mod:`zdce_core.contract` (ranges and defaults, the menu's strengths, the
wire format's value size), because it cannot import it.
"""

from __future__ import annotations

import os
import re
import shutil
from importlib import resources
from pathlib import Path

from zdce_core import contract
from zdce_core.adapters.hookspecs import Changes, HostAdapter, HostInfo, InstallOptions, hookimpl
from zdce_core.adapters.hosts import fill_in, package_version, probe_version, user_config_dir
from zdce_core.io.atomic import atomic_path

PLUGIN = "zdce-low-light-enhance"
# gimp-console first: it needs no display, which is what detection wants.
EXECUTABLES = ("gimp-console-3.0", "gimp-3.0")
VERSION = re.compile(r"version\s+(3\.[0-9][^\s]*)")


def profile_dir(options: InstallOptions) -> Path:
    """The GIMP 3 profile to install into: ``--prefix``, else ``$GIMP3_DIRECTORY``, else GIMP's default."""
    if options.prefix is None and os.environ.get("GIMP3_DIRECTORY"):
        return Path(os.environ["GIMP3_DIRECTORY"]).expanduser()
    return user_config_dir(options, "GIMP", "3.0")


def plugin_dir(options: InstallOptions) -> Path:
    """The folder this adapter owns inside the profile."""
    return profile_dir(options) / "plug-ins" / PLUGIN


def plugin_source(python: str) -> str:
    """The plug-in script with ``python`` as the engine interpreter and the contract's values filled in."""
    template = resources.files(__name__).joinpath(PLUGIN, f"{PLUGIN}.py").read_text(encoding="utf-8")
    values = {
        "ENGINE_PYTHON": python,
        "MIN_STEPS": contract.MIN_STEPS,
        "MAX_STEPS": contract.MAX_STEPS,
        "DEFAULT_STEPS": contract.DEFAULT_STEPS,
        "DEFAULT_STRENGTH": contract.DEFAULT_STRENGTH,
        "DEFAULT_DENOISE": contract.DEFAULT_DENOISE,
        "STRENGTH_LEVELS": list(contract.STRENGTH_LEVELS),
        "FLOAT_BYTES": contract.WIRE_FLOAT_BYTES,
    }
    return fill_in(template, {k: repr(v) for k, v in values.items()}, "{name} = ", source=f"{PLUGIN}.py")


def locate() -> HostInfo | None:
    """The first GIMP 3 executable on PATH, with the version of Debian's gimp package if that is GIMP 3; nothing runs.

    (On Debian 12 GIMP 3 runs in a chroot through a wrapper: only starting it tells its version.)
    """
    for name in EXECUTABLES:
        executable = shutil.which(name)
        if executable:
            version = package_version("gimp")
            return HostInfo(executable=executable, version=version if version and version.startswith("3.") else None)
    return None


def detect() -> HostInfo | None:
    """The first GIMP 3 executable on PATH that reports a 3.x version (the Debian 12 chroot wrapper included)."""
    for name in EXECUTABLES:
        executable = shutil.which(name)
        if executable is None:
            continue
        version = probe_version(executable, "--version", VERSION)
        if version:
            return HostInfo(executable=executable, version=version)
    return None


def install(options: InstallOptions) -> Changes:
    """Write the plug-in folder and its executable script, carrying ``options.python`` as the engine."""
    if not options.python:
        raise ValueError("the GIMP plug-in needs the engine's Python interpreter (InstallOptions.python)")
    folder = plugin_dir(options)
    script = folder / f"{PLUGIN}.py"
    # GIMP reads the plug-in's translations from locale/ beside it and warns when the folder is missing.
    (folder / "locale").mkdir(parents=True, exist_ok=True)
    with atomic_path(script, mode=0o755) as tmp:
        tmp.write_text(plugin_source(options.python), encoding="utf-8")
    return Changes(paths=[folder, script])


def uninstall(options: InstallOptions) -> Changes:
    """Remove the plug-in folder, and nothing else, from the profile."""
    folder = plugin_dir(options)
    if not folder.exists():
        return Changes()
    shutil.rmtree(folder)
    return Changes(paths=[folder])


def is_installed(options: InstallOptions) -> bool:
    """Whether the plug-in script is present in the profile."""
    return (plugin_dir(options) / f"{PLUGIN}.py").is_file()


@hookimpl
def zdce_host_adapters() -> list[HostAdapter]:
    """The GIMP 3 adapter."""
    return [
        HostAdapter(
            name="gimp",
            host="GIMP 3",
            description="Filters > Low-light Enhance… with a live preview (procedure python-fu-zdce-low-light-enhance)",
            detect=detect,
            install=install,
            uninstall=uninstall,
            is_installed=is_installed,
            locate=locate,
        )
    ]
