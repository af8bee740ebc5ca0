"""The ``zdce`` command: one sub-command per module in :mod:`zdce_core.commands`."""

from __future__ import annotations

import argparse
import importlib
import sys

from ..threads import configure_command_process

# Before NumPy or torch loads: their thread pools read the environment once.
configure_command_process()

# Each module has ``register(subparsers)`` that adds its parser and sets ``func``.
COMMANDS = ("enhance", "train", "runs", "export", "compare", "hostbridge", "batch", "plugins")


def build_parser() -> argparse.ArgumentParser:
    from .. import __version__

    parser = argparse.ArgumentParser(prog="zdce", description="Zero-DCE low-light photo enhancement.")
    parser.add_argument("--version", action="version", version=f"zdce {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f".commands.{name}", __package__).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    from .signals import exit_status, sigterm_interrupts

    args = build_parser().parse_args(argv)
    try:
        with sigterm_interrupts():
            return args.func(args)
    except (ValueError, OSError) as exc:
        # Our own errors already name the file or argument: one line, no traceback.
        print(f"zdce {args.command}: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as exc:  # Ctrl-C, or SIGTERM turned into one
        print(f"zdce {args.command}: interrupted", file=sys.stderr)
        return exit_status(exc)


if __name__ == "__main__":
    sys.exit(main())
