"""Discovery of host adapters through the ``zdce`` entry-point group.

The plugin manager is built on first use, not at import, so ``import
zdce_core`` stays cheap and never imports third-party code.
"""

from __future__ import annotations

import functools
import threading
from dataclasses import dataclass

import pluggy

from . import hookspecs
from .hookspecs import AdapterInfo

_lock = threading.Lock()


@functools.cache
def _manager_unlocked() -> pluggy.PluginManager:
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    pm.load_setuptools_entrypoints(hookspecs.PROJECT)
    return pm


def manager() -> pluggy.PluginManager:
    """The process-wide plugin manager, with every installed adapter loaded."""
    with _lock:
        return _manager_unlocked()


@dataclass(frozen=True)
class Adapter:
    """One registered adapter, as ``zdce plugins`` lists it."""

    entry_point: str
    plugin: object
    info: AdapterInfo | None
    distribution: str
    version: str
    hooks: tuple[str, ...]


def adapters() -> list[Adapter]:
    """Every registered adapter, sorted by name."""
    pm = manager()
    dists = {id(plugin): dist for plugin, dist in pm.list_plugin_distinfo()}
    found = []
    for name, plugin in pm.list_name_plugin():
        dist = dists.get(id(plugin))
        hooks = tuple(sorted(h.name for h in pm.get_hookcallers(plugin) or ()))
        found.append(
            Adapter(
                entry_point=name,
                plugin=plugin,
                info=call(plugin, "zdce_adapter_info") if "zdce_adapter_info" in hooks else None,
                distribution=dist.project_name if dist else "?",
                version=dist.version if dist else "?",
                hooks=hooks,
            )
        )
    return sorted(found, key=lambda a: a.entry_point)


def call(plugin: object, hook: str, **kwargs):
    """Call ``hook`` on one adapter only; ``None`` if it does not implement it."""
    pm = manager()
    others = [p for p in pm.get_plugins() if p is not plugin]
    return pm.subset_hook_caller(hook, remove_plugins=others)(**kwargs)


def find(name: str) -> Adapter:
    """The adapter registered as ``name``; ValueError listing the known names otherwise."""
    for adapter in adapters():
        if adapter.entry_point == name:
            return adapter
    known = ", ".join(a.entry_point for a in adapters()) or "none"
    raise ValueError(f"no zdce adapter named {name!r} (installed: {known})")
