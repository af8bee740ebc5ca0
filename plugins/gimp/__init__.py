"""GIMP 3 adapter: installs the Filters -> Low-light Enhance plug-in into a GIMP 3 profile.

GIMP 3 loads a Python plug-in from ``PROFILE/plug-ins/NAME/NAME.py`` (folder
and file share a name; the file must be executable). The installed copy
carries the path of the engine's interpreter, because GIMP runs plug-ins
with its own Python, which has no torch.
"""

from __future__ import annotations

import os
import re
import shutil
from importlib import resources
from pathlib import Path

from zdce_core.adapters.hookspecs import AdapterInfo, HostInfo, InstallOptions, hookimpl
from zdce_core.adapters.hosts import probe_version, user_config_dir

PLUGIN = "zdce-low-light-enhance"
# gimp-console first: it needs no display, which is what detection wants.
EXECUTABLES = ("gimp-console-3.0", "gimp-3.0")
# The template's placeholder line that installation fills in.
ENGINE_LINE = re.compile(r'^ENGINE_PYTHON = "".*$', re.MULTILINE)
VERSION = re.compile(r"version\s+(3\.[0-9][^\s]*)")
# Starting GIMP through the chroot wrapper takes a moment; a hung host must not hang `zdce plugins`.


def profile_dir(options: InstallOptions) -> Path:
    """The GIMP 3 profile to install into: ``--prefix``, else ``$GIMP3_DIRECTORY``, else GIMP's default."""
    if options.prefix is None and os.environ.get("GIMP3_DIRECTORY"):
        return Path(os.environ["GIMP3_DIRECTORY"]).expanduser()
    return user_config_dir(options, "GIMP", "3.0")


def plugin_dir(options: InstallOptions) -> Path:
    """The folder this adapter owns inside the profile."""
    return profile_dir(options) / "plug-ins" / PLUGIN


def plugin_source(python: str) -> str:
    """The plug-in script with ``python`` written in as the engine interpreter."""
    template = resources.files(__name__).joinpath(PLUGIN, f"{PLUGIN}.py").read_text(encoding="utf-8")
    source, count = ENGINE_LINE.subn(lambda _: f"ENGINE_PYTHON = {python!r}", template, count=1)
    if count != 1:
        raise RuntimeError(f"{PLUGIN}.py template has no ENGINE_PYTHON placeholder line")
    return source


@hookimpl
def zdce_adapter_info() -> AdapterInfo:
    """Name ``gimp``, host GIMP 3, and the menu entry it adds."""
    return AdapterInfo(
        name="gimp",
        host="GIMP 3",
        description="Filters -> Low-light Enhance (procedure python-fu-zdce-low-light-enhance)",
    )


@hookimpl
def zdce_detect_host() -> HostInfo | None:
    """The first GIMP 3 executable on PATH that reports a 3.x version (the Debian 12 chroot wrapper included)."""
    for name in EXECUTABLES:
        executable = shutil.which(name)
        if executable is None:
            continue
        version = probe_version(executable, "--version", VERSION)
        if version:
            return HostInfo(executable=executable, version=version)
    return None


@hookimpl
def zdce_install(options: InstallOptions) -> list[Path]:
    """Write the plug-in folder and its executable script, carrying ``options.python`` as the engine."""
    if not options.python:
        raise ValueError("the GIMP plug-in needs the engine's Python interpreter (InstallOptions.python)")
    from zdce_core.io.atomic import atomic_path

    folder = plugin_dir(options)
    script = folder / f"{PLUGIN}.py"
    folder.mkdir(parents=True, exist_ok=True)
    with atomic_path(script) as tmp:
        tmp.write_text(plugin_source(options.python), encoding="utf-8")
        tmp.chmod(0o755)
    return [folder, script]


@hookimpl
def zdce_uninstall(options: InstallOptions) -> list[Path]:
    """Remove the plug-in folder, and nothing else, from the profile."""
    folder = plugin_dir(options)
    if not folder.exists():
        return []
    shutil.rmtree(folder)
    return [folder]


@hookimpl
def zdce_is_installed(options: InstallOptions) -> bool:
    """Whether the plug-in script is present in the profile."""
    return (plugin_dir(options) / f"{PLUGIN}.py").is_file()
