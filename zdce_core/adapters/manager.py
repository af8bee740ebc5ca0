"""Discovery of zdce plug-ins through the ``zdce`` entry-point group.

The plugin manager is built on first use, not at import, so ``import
zdce_core`` stays cheap and never imports third-party code. Hooks are
broadcast to every plug-in and their answers combined here.
"""

from __future__ import annotations

import functools
import threading
from dataclasses import dataclass

import pluggy

from . import hookspecs
from .hookspecs import HostAdapter

_lock = threading.Lock()


@functools.cache
def _manager_unlocked() -> pluggy.PluginManager:
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    pm.load_setuptools_entrypoints(hookspecs.PROJECT)
    return pm


def manager() -> pluggy.PluginManager:
    """The process-wide plugin manager, with every installed plug-in loaded."""
    with _lock:
        return _manager_unlocked()


@dataclass(frozen=True)
class Plugin:
    """One registered plug-in, as ``zdce plugins`` lists it."""

    entry_point: str
    distribution: str
    version: str
    hooks: tuple[str, ...]


def plugins() -> list[Plugin]:
    """Every registered plug-in with the hooks it implements, sorted by entry-point name."""
    pm = manager()
    dists = {id(plugin): dist for plugin, dist in pm.list_plugin_distinfo()}
    found = []
    for name, plugin in pm.list_name_plugin():
        dist = dists.get(id(plugin))
        # Each access parses the whole metadata file (a long description and all): once per plug-in.
        metadata = dist.metadata if dist else {}
        found.append(
            Plugin(
                entry_point=name,
                distribution=metadata.get("Name", "?"),
                version=metadata.get("Version", "?"),
                hooks=tuple(sorted(h.name for h in pm.get_hookcallers(plugin) or ())),
            )
        )
    return sorted(found, key=lambda p: p.entry_point)


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
    raise ValueError(f"no zdce adapter named {name!r} (installed: {names})")
