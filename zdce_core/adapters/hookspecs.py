"""Hook specifications for host adapters (GIMP, darktable, ImageMagick, third parties).

An adapter is any module or object that implements some of these hooks and
is registered under the ``zdce`` entry-point group. The built-in adapters
are registered exactly the same way. Each hook is called on one adapter at a
time (see :func:`zdce_core.plugins.call`), so return values need not be merged.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pluggy

PROJECT = "zdce"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@dataclass(frozen=True)
class AdapterInfo:
    """What an adapter says about itself."""

    name: str
    host: str
    description: str


@dataclass(frozen=True)
class HostInfo:
    """A detected host application."""

    executable: str
    version: str


@dataclass(frozen=True)
class InstallOptions:
    """Where and how to install host-side files.

    ``prefix`` overrides the host's default user location (a GIMP profile,
    a darktable config dir, an ImageMagick config dir); ``python`` is the
    interpreter that runs the engine, written into host files that need it.
    """

    prefix: Path | None = None
    python: str = ""


@dataclass(frozen=True)
class TrackerInfo:
    """An experiment tracker a plug-in offers (``zdce train --tracker NAME``).

    ``create`` makes a new :class:`zdce_core.training.trackers.Tracker`; it
    imports the tracker's library, so it is called only when the tracker is chosen.
    """

    name: str
    description: str
    create: Callable[[], object]


@hookspec(firstresult=True)
def zdce_adapter_info() -> AdapterInfo:
    """Describe this adapter: its short name (used by ``zdce install NAME``), host and purpose."""


@hookspec(firstresult=True)
def zdce_detect_host() -> HostInfo | None:
    """Find the host application on this machine; ``None`` when it is not installed."""


@hookspec(firstresult=True)
def zdce_install(options: InstallOptions) -> list[Path]:
    """Install the host-side files; return the paths written or changed. Must be idempotent."""


@hookspec(firstresult=True)
def zdce_uninstall(options: InstallOptions) -> list[Path]:
    """Remove exactly what :func:`zdce_install` added; return the paths removed or changed."""


@hookspec(firstresult=True)
def zdce_is_installed(options: InstallOptions) -> bool:
    """Whether the host-side files are installed at the location ``options`` names."""


@hookspec
def zdce_trackers() -> list[TrackerInfo]:
    """The experiment trackers this plug-in offers; every plug-in is asked and the lists are combined."""
