"""``zdce plugins``, ``zdce install HOST``, ``zdce uninstall HOST``: the plug-ins and the host adapters they give."""

from __future__ import annotations

import argparse
import sys
import threading
from concurrent.futures import Future, wait
from pathlib import Path

from ...adapters import manager
from ...adapters.hookspecs import Changes, HostAdapter, HostInfo, InstallOptions


def register(sub, name: str, help: str) -> None:
    p = sub.add_parser(name, help=help)
    if name == "plugins":
        p.add_argument(
            "--wait",
            action="store_true",
            help="start every host to ask its version; by default the listing reads only files and package "
            "metadata, and starts nothing",
        )
        p.set_defaults(func=run_list)
        return
    p.add_argument("host", help="adapter name, as `zdce plugins` lists it")
    p.add_argument(
        "--prefix",
        type=Path,
        help="the host's user folder to use instead of the default "
        "(GIMP profile, darktable config dir, ImageMagick config dir)",
    )
    p.set_defaults(func=run_install if name == "install" else run_uninstall)


def _options(args: argparse.Namespace) -> InstallOptions:
    return InstallOptions(prefix=args.prefix, python=sys.executable)


def _table(rows: list[tuple[str, ...]]) -> None:
    # The last column is free text: no padding after it.
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)) + "  " + row[-1])


def _detect(adapter: HostAdapter) -> Future[HostInfo | None]:
    """``adapter.detect()`` on a daemon thread, so every host is asked at once."""
    future: Future[HostInfo | None] = Future()

    def run() -> None:
        try:
            future.set_result(adapter.detect())
        except BaseException as exc:  # raised again by future.result()
            future.set_exception(exc)

    threading.Thread(target=run, name=f"zdce-detect-{adapter.name}", daemon=True).start()
    return future


def _found(host: HostInfo | None) -> str:
    if host is None:
        return "no"
    return host.version or "yes (version: --wait)"


def run_list(args: argparse.Namespace) -> int:
    adapters = manager.adapters()
    if args.wait:
        # Each detect() may start its host to ask its version: all at once.
        probes = [_detect(adapter) for adapter in adapters]
        wait(probes)
        found = [_found(probe.result()) for probe in probes]
    else:
        found = [_found(a.locate()) if a.locate else "? (--wait asks the host)" for a in adapters]
    plugin_rows = [
        (p.entry_point, f"{p.distribution} {p.version}", f"BROKEN: {p.error}" if p.error else ",".join(p.hooks))
        for p in manager.plugins()
    ]
    default = InstallOptions(python=sys.executable)
    rows = [("ADAPTER", "HOST", "HOST FOUND", "INSTALLED", "GIVES")]
    for adapter, host in zip(adapters, found):
        installed = "yes" if adapter.is_installed(default) else "no"
        rows.append((adapter.name, adapter.host, host, installed, adapter.description))
    _table([("PLUGIN", "VERSION", "HOOKS"), *plugin_rows])
    print()
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
