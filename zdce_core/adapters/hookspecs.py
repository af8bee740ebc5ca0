"""Hook specifications: what a zdce plug-in can give.

A plug-in is any module registered under the ``zdce`` entry-point group (the
built-in GIMP, darktable and ImageMagick adapters are registered exactly the
same way) that implements some of these hooks. Every hook is broadcast: each
registered plug-in that implements it answers, and the caller combines the
answers (see :mod:`zdce_core.adapters.manager`). Hooks print nothing; what a
user should hear comes back as data (``warnings``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pluggy

PROJECT = "zdce"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@dataclass(frozen=True)
class HostInfo:
    """A host application found: its executable and version (``None`` where only starting it would tell)."""

    executable: str
    version: str | None


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
class Changes:
    """What an install or uninstall did: the paths written, changed or removed, and warnings for the user."""

    paths: list[Path] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class HostAdapter:
    """One host application's adapter: its name, what it adds to the host, and how to manage it.

    ``name`` is what ``zdce install NAME`` takes. ``install`` must be idempotent
    and ``uninstall`` remove exactly what it added. ``detect`` may start the
    host to ask its version; ``locate``, if given, finds it without starting
    anything (files, package metadata), which is what ``zdce plugins`` shows
    unless asked to ``--wait``.
    """

    name: str
    host: str
    description: str
    detect: Callable[[], HostInfo | None]
    install: Callable[[InstallOptions], Changes]
    uninstall: Callable[[InstallOptions], Changes]
    is_installed: Callable[[InstallOptions], bool]
    locate: Callable[[], HostInfo | None] | None = None


@dataclass(frozen=True)
class TrackerInfo:
    """An experiment tracker a plug-in offers (``zdce train --tracker NAME``).

    ``create`` makes a new :class:`zdce_core.training.trackers.Tracker`; it
    imports the tracker's library, so it is called only when the tracker is chosen.
    """

    name: str
    description: str
    create: Callable[[], object]


@hookspec
def zdce_host_adapters() -> list[HostAdapter]:
    """The host adapters this plug-in gives; ``zdce plugins`` lists them and ``zdce install`` finds them by name."""


@hookspec
def zdce_trackers() -> list[TrackerInfo]:
    """The experiment trackers this plug-in offers; every plug-in is asked and the lists are combined."""
