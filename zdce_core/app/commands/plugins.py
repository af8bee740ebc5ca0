"""``zdce plugins``, ``zdce install HOST``, ``zdce uninstall HOST``: the host adapters."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ...adapters import manager as plugins
from ...adapters.hookspecs import InstallOptions


def register(sub) -> None:
    p = sub.add_parser("plugins", help="list host adapters: name, version, hooks, host found, installed")
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


def run_list(args: argparse.Namespace) -> int:
    rows = [("NAME", "VERSION", "HOST FOUND", "INSTALLED", "HOOKS")]
    default = InstallOptions(python=sys.executable)
    for adapter in plugins.adapters():
        host = plugins.call(adapter.plugin, "zdce_detect_host") if "zdce_detect_host" in adapter.hooks else None
        found = f"{host.version}" if host else "no"
        installed = plugins.call(adapter.plugin, "zdce_is_installed", options=default)
        short = ",".join(h.removeprefix("zdce_") for h in adapter.hooks)
        rows.append((adapter.entry_point, f"{adapter.distribution} {adapter.version}", found, _yes_no(installed), short))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)) + "  " + row[4])
    return 0


def _yes_no(value: bool | None) -> str:
    return "?" if value is None else ("yes" if value else "no")


def run_install(args: argparse.Namespace) -> int:
    adapter = plugins.find(args.host)
    written = plugins.call(adapter.plugin, "zdce_install", options=_options(args))
    for path in written or ():
        print(f"installed {path}")
    return 0


def run_uninstall(args: argparse.Namespace) -> int:
    adapter = plugins.find(args.host)
    removed = plugins.call(adapter.plugin, "zdce_uninstall", options=_options(args))
    for path in removed or ():
        print(f"removed {path}")
    if not removed:
        print(f"nothing of zdce was installed for {args.host}")
    return 0
