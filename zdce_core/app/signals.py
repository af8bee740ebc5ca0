"""How a zdce process treats Ctrl-C, SIGTERM (what ``timeout``, ``kill`` and systemd send) and SIGHUP.

All mean "stop": SIGTERM and SIGHUP (the terminal or SSH session closed) are
turned into an interrupt like Ctrl-C's, so
atomic writes remove their temporaries and the command reports what it did
instead of dying mid-file. Only the command layer installs these handlers;
library code never does.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from collections.abc import Iterator


# The signals that mean "stop" besides Ctrl-C's SIGINT (SIGHUP does not exist on Windows).
_TERMINATING = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name))


class Terminated(KeyboardInterrupt):
    """Raised in the main thread on SIGTERM or SIGHUP; ``args[0]`` is the signal's number."""


def _raise_terminated(signum, frame) -> None:
    raise Terminated(signum)


def exit_status(exc: BaseException | int) -> int:
    """The shell's convention for a process stopped by a signal: 128 + its number."""
    if isinstance(exc, int):
        signum = exc
    elif isinstance(exc, Terminated):
        signum = exc.args[0] if exc.args else signal.SIGTERM
    else:
        signum = signal.SIGINT
    return 128 + int(signum)


def _in_main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


@contextlib.contextmanager
def sigterm_interrupts() -> Iterator[None]:
    """Within the block, SIGTERM and SIGHUP raise :class:`Terminated` (a KeyboardInterrupt)."""
    if not _in_main_thread():
        yield
        return
    previous = {signum: signal.signal(signum, _raise_terminated) for signum in _TERMINATING}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _say(text: str) -> None:
    # A handler runs between any two bytecodes, perhaps inside a print to the same stream:
    # a buffered write from here would raise "reentrant call", a write to the descriptor cannot.
    try:
        os.write(sys.stderr.fileno(), text.encode(sys.stderr.encoding or "utf-8", "backslashreplace"))
    except (AttributeError, OSError, ValueError):  # no descriptor behind sys.stderr (captured)
        pass


@contextlib.contextmanager
def stop_on_signals(command: str) -> Iterator[tuple[threading.Event, list[int]]]:
    """A first Ctrl-C, SIGTERM or SIGHUP sets the event (and records the signal); a second one interrupts.

    A signal raised at an arbitrary point could lose the report of a photo
    already written; a flag checked between photos cannot.
    """
    stop, received = threading.Event(), []
    if not _in_main_thread():
        yield stop, received
        return

    def first(signum, frame) -> None:
        received.append(signum)
        stop.set()
        signal.signal(signal.SIGINT, signal.default_int_handler)
        for signum in _TERMINATING:
            signal.signal(signum, _raise_terminated)
        _say(f"zdce {command}: stopping after the photos in progress (Ctrl-C again to abort)\n")

    previous = {signum: signal.signal(signum, first) for signum in (signal.SIGINT, *_TERMINATING)}
    try:
        yield stop, received
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
