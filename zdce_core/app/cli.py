"""The ``zdce`` command: a table of sub-commands, each described by its module in :mod:`zdce_core.app.commands`.

Only the module of the command being run is imported: ``zdce plugins`` need
not load the photo pipeline (Pillow, the batch runner) to build its parser,
and ``zdce --help`` reads every help line from :data:`COMMANDS` alone.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import NamedTuple

from ..threads import configure_command_process

# Before NumPy or torch loads: their thread pools read the environment once.
configure_command_process()


class Command(NamedTuple):
    """A sub-command: the module (in ``zdce_core.app.commands``) whose ``register(sub, name, help)`` adds its parser and ``func``."""

    module: str
    help: str


_HOSTS = "a host application (gimp, darktable, imagemagick)"

COMMANDS = {
    "enhance": Command("enhance", "enhance one photo"),
    "train": Command("train", "train DCE-Net on a folder of photos (no labels needed)"),
    "sweep": Command("sweep", "search training settings with Optuna, each trial a tracked run (needs zdce[sweep])"),
    "runs": Command(
        "runs",
        "list training runs (name, date, data version, settings, epochs, losses); `runs compare` sets runs side by side",
    ),
    "export": Command("export", "write weights as .npz, or the whole enhancer as one ONNX graph (.onnx)"),
    "compare": Command(
        "compare", "render original | autocontrast | gamma 0.4 | zdce steps 4 | zdce steps 8 for some photos"
    ),
    "hostbridge": Command(
        "hostbridge", "enhance raw float32 pixels for a host plug-in, requests on stdin (GIMP uses this)"
    ),
    "batch": Command("batch", "enhance many photos (files, folders, globs) into an output folder"),
    "web": Command("web", "serve the in-browser page (the photo never leaves your computer) on this computer"),
    "video": Command("video", "enhance a video clip, flicker-free, audio copied (needs zdce[video])"),
    "plugins": Command("plugins", "list plug-ins (version, hooks) and host adapters (host found, installed)"),
    "install": Command("plugins", f"install into {_HOSTS}"),
    "uninstall": Command("plugins", f"remove from {_HOSTS}"),
}
"""Every sub-command, in the order ``zdce --help`` lists them."""


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The ``zdce`` parser, with the full parser of ``command`` (if it is one) and the help line of the others."""
    from .. import __version__

    parser = argparse.ArgumentParser(prog="zdce", description="Zero-DCE low-light photo enhancement.")
    parser.add_argument("--version", action="version", version=f"zdce {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, spec in COMMANDS.items():
        if name == command:
            importlib.import_module(f".commands.{spec.module}", __package__).register(sub, name, spec.help)
        else:
            sub.add_parser(name, help=spec.help)
    return parser


def _command(argv: list[str]) -> str | None:
    # zdce's own options take no value: the first word that is not an option names the command.
    return next((word for word in argv if not word.startswith("-")), None)


def main(argv: list[str] | None = None) -> int:
    from .console import mute_codec_loggers, say, tolerant_streams
    from .signals import exit_status, sigterm_interrupts

    mute_codec_loggers()
    tolerant_streams()
    argv = sys.argv[1:] if argv is None else argv
    args = build_parser(_command(argv)).parse_args(argv)
    try:
        with sigterm_interrupts():
            return args.func(args)
    except (ValueError, OSError) as exc:
        # Our own errors already name the file or argument: one line, no traceback.
        say(f"zdce {args.command}: {exc}")
        return 2
    except KeyboardInterrupt as exc:  # Ctrl-C, or SIGTERM turned into one
        say(f"zdce {args.command}: interrupted")
        return exit_status(exc)


if __name__ == "__main__":
    sys.exit(main())
