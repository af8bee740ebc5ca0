"""``zdce plugins``, ``zdce install HOST``, ``zdce uninstall HOST``: the plug-ins and the host adapters they give."""

from __future__ import annotations

import argparse
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from ...adapters import manager
from ...adapters.hookspecs import Changes, InstallOptions


def register(sub) -> None:
    p = sub.add_parser("plugins", help="list plug-ins (version, hooks) and host adapters (host found, installed)")
    p.set_defaults(func=run_list)
    for verb, what in (("install", "install into"), ("uninstall", "remove from")):
        p = sub.add_parser(verb, help=f"{what} a host application (gimp, darktable, imagemagick)")
        p.add_argument("host", help="adapter name, as `zdce plugins` lists it")
        p.add_argument(
            "--prefix",
            type=Path,
            help="the host's user folder to use instead of the default "
            "(GIMP profile, darktable config dir, ImageMagick config dir)",
        )
        p.set_defaults(func=run_install if verb == "install" else run_uninstall)


def _options(args: argparse.Namespace) -> InstallOptions:
    return InstallOptions(prefix=args.prefix, python=sys.executable)


def _table(rows: list[tuple[str, ...]]) -> None:
    # The last column is free text: no padding after it.
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)) + "  " + row[-1])


def run_list(args: argparse.Namespace) -> int:
    _table(
        [("PLUGIN", "VERSION", "HOOKS")]
        + [(p.entry_point, f"{p.distribution} {p.version}", ",".join(p.hooks)) for p in manager.plugins()]
    )
    print()
    rows = [("ADAPTER", "HOST", "HOST FOUND", "INSTALLED", "GIVES")]
    default = InstallOptions(python=sys.executable)
    adapters = manager.adapters()
    # Each detect() asks its host for its version in a subprocess (0.1-0.3 s, GIMP's chroot
    # wrapper the slowest): all at once, the listing waits for the slowest only.
    with ThreadPoolExecutor(max(1, len(adapters)), thread_name_prefix="zdce-detect") as pool:
        hosts = list(pool.map(lambda adapter: adapter.detect(), adapters))
    for adapter, host in zip(adapters, hosts):
        found = host.version if host else "no"
        installed = "yes" if adapter.is_installed(default) else "no"
        rows.append((adapter.name, adapter.host, found, installed, adapter.description))
    _table(rows)
    return 0


def _report(changes: Changes, verb: str) -> None:
    for path in changes.paths:
        print(f"{verb} {path}")
    for warning in changes.warnings:
        print(f"zdce: warning: {warning}", file=sys.stderr)


def run_install(args: argparse.Namespace) -> int:
    adapter = manager.find(args.host)
    _report(adapter.install(_options(args)), "installed")
    return 0


def run_uninstall(args: argparse.Namespace) -> int:
    adapter = manager.find(args.host)
    changes = adapter.uninstall(_options(args))
    _report(changes, "removed")
    if not changes.paths:
        print(f"nothing of zdce was installed for {args.host}")
    return 0
