"""Discovery of zdce plug-ins through the ``zdce`` entry-point group.

The plugin manager is built on first use, not at import, so ``import
zdce_core`` stays cheap and never imports third-party code. Hooks are
broadcast to every plug-in and their answers combined here.

Loading is guarded: a plug-in that fails to import (or to register) is kept
aside as :class:`Plugin` with its ``error``, which ``zdce plugins`` shows,
and everything else carries on. The environment variable
:data:`LOAD_PLUGINS` chooses which third-party plug-ins load (as datasette's
``DATASETTE_LOAD_PLUGINS``): unset, all of them; a comma-separated list of
entry-point or distribution names, those only; empty, none. zdce's own
plug-ins (its host adapters and trackers) always load.
"""

from __future__ import annotations

import functools
import importlib.metadata
import os
import threading
from dataclasses import dataclass

import pluggy

from . import hookspecs
from .hookspecs import HostAdapter

LOAD_PLUGINS = "ZDCE_LOAD_PLUGINS"
"""The environment variable that chooses the third-party plug-ins to load."""

OWN_DISTRIBUTION = "zdce"

_lock = threading.Lock()


@dataclass(frozen=True)
class Plugin:
    """One plug-in of the entry-point group, as ``zdce plugins`` lists it; ``error`` is set when it failed to load."""

    entry_point: str
    distribution: str
    version: str
    hooks: tuple[str, ...]
    error: str = ""


def chosen(entry_point: str, distribution: str, environ=os.environ) -> bool:
    """Whether :data:`LOAD_PLUGINS` lets this plug-in load.

    >>> chosen("acme", "zdce-acme", {}), chosen("acme", "zdce-acme", {"ZDCE_LOAD_PLUGINS": "zdce-acme"})
    (True, True)
    >>> chosen("acme", "zdce-acme", {"ZDCE_LOAD_PLUGINS": ""}), chosen("gimp", "zdce", {"ZDCE_LOAD_PLUGINS": ""})
    (False, True)
    """
    wanted = environ.get(LOAD_PLUGINS)
    if wanted is None or distribution == OWN_DISTRIBUTION:
        return True
    return bool({entry_point, distribution} & {name.strip() for name in wanted.split(",")} - {""})


@functools.cache
def _loaded() -> tuple[pluggy.PluginManager, tuple[Plugin, ...]]:
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    found = []
    for dist in importlib.metadata.distributions():
        for ep in dist.entry_points:
            if ep.group != hookspecs.PROJECT or pm.has_plugin(ep.name):
                continue  # a distribution seen twice on sys.path registers once
            name, version = dist.metadata["Name"] or "?", dist.version or "?"
            if not chosen(ep.name, name):
                continue
            try:
                pm.register(ep.load(), name=ep.name)
            except Exception as exc:  # noqa: BLE001 - someone else's code: any failure means "broken"
                found.append(Plugin(ep.name, name, version, (), f"{type(exc).__name__}: {exc}"))
                continue
            hooks = tuple(sorted(h.name for h in pm.get_hookcallers(pm.get_plugin(ep.name)) or ()))
            found.append(Plugin(ep.name, name, version, hooks))
    return pm, tuple(sorted(found, key=lambda p: p.entry_point))


def manager() -> pluggy.PluginManager:
    """The process-wide plugin manager, with every plug-in that loads registered."""
    with _lock:
        return _loaded()[0]


def plugins() -> list[Plugin]:
    """Every plug-in of the group, sorted by entry-point name: those that loaded with their hooks, the others with their error."""
    with _lock:
        return list(_loaded()[1])


def broken_note() -> str:
    """``""``, or the plug-ins that failed to load as a note for an error message that lists what is installed."""
    failed = [f"{p.entry_point} ({p.error})" for p in plugins() if p.error]
    return f"; failed to load: {', '.join(failed)} (see zdce plugins)" if failed else ""


def adapters() -> list[HostAdapter]:
    """The host adapters every plug-in gives, combined and sorted by name."""
    answers = manager().hook.zdce_host_adapters()
    return sorted((adapter for answer in answers for adapter in answer), key=lambda a: a.name)


def find(name: str) -> HostAdapter:
    """The host adapter called ``name``; ValueError listing the known names otherwise."""
    known = adapters()
    for adapter in known:
        if adapter.name == name:
            return adapter
    names = ", ".join(a.name for a in known) or "none"
    raise ValueError(f"no zdce adapter named {name!r} (installed: {names}){broken_note()}")
