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
    """A sub-command: the module (in ``zdce_core.app.commands``) whose ``register(sub, name, help)`` adds its parser and ``func``.

    ``hidden``: a command that programs run, not people (left out of ``zdce --help``).
    """

    module: str
    help: str
    hidden: bool = False


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
        "hostbridge", "enhance raw float32 pixels for a host plug-in, requests on stdin (GIMP uses this)", hidden=True
    ),
    "batch": Command("batch", "enhance many photos (files, folders, globs) into an output folder"),
    "web": Command("web", "serve the in-browser page (the photo never leaves your computer) on this computer"),
    "video": Command("video", "enhance a video clip, flicker-free, audio copied (needs zdce[video])"),
    "plugins": Command("plugins", "list plug-ins (version, hooks) and host adapters (host found, installed)"),
    "install": Command("plugins", f"install into {_HOSTS}"),
    "uninstall": Command("plugins", f"remove from {_HOSTS}"),
}
"""Every sub-command, in the order ``zdce --help`` lists them."""


USAGE_ERROR = 2
"""Exit status of every usage error (a wrong option, value or combination); 1 means files failed, 128+N a signal."""


def usage_error(message: str, command: str | None) -> str:
    """The one line a usage error prints: ``zdce: error: MESSAGE (see zdce COMMAND --help)``."""
    return f"zdce: error: {message} (see {'zdce ' + command if command else 'zdce'} --help)"


class Parser(argparse.ArgumentParser):
    """argparse with a usage error in one line (not its usage block) and exit status :data:`USAGE_ERROR`."""

    def error(self, message: str):
        from .console import say

        command = self.prog.removeprefix("zdce").strip() or None
        say(usage_error(message, command))
        self.exit(USAGE_ERROR)


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The ``zdce`` parser, with the full parser of ``command`` (if it is one) and the help line of the others."""
    from .. import __version__

    parser = Parser(prog="zdce", description="Zero-DCE low-light photo enhancement.")
    parser.add_argument("--version", action="version", version=f"zdce {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, spec in COMMANDS.items():
        if name == command:
            importlib.import_module(f".commands.{spec.module}", __package__).register(sub, name, spec.help)
        elif spec.hidden:
            sub.add_parser(name)  # without help=, argparse leaves it out of the listing
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
    except ValueError as exc:
        # A usage error: our own messages already name the option or file and the problem.
        say(usage_error(str(exc), args.command))
        return USAGE_ERROR
    except OSError as exc:
        # The system refused something the command needed (a folder it could not read or write): it failed.
        say(f"zdce {args.command}: {exc}")
        return 1
    except KeyboardInterrupt as exc:  # Ctrl-C, or SIGTERM turned into one
        say(f"zdce {args.command}: interrupted")
        return exit_status(exc)


if __name__ == "__main__":
    sys.exit(main())
