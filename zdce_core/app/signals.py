"""How a zdce process treats Ctrl-C and SIGTERM (what ``timeout``, ``kill`` and systemd send).

Both mean "stop": SIGTERM is turned into an interrupt like Ctrl-C's, so
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


class Terminated(KeyboardInterrupt):
    """Raised in the main thread on SIGTERM."""


def _raise_terminated(signum, frame) -> None:
    raise Terminated


def exit_status(exc: BaseException | int) -> int:
    """The shell's convention for a process stopped by a signal: 128 + its number."""
    signum = exc if isinstance(exc, int) else (signal.SIGTERM if isinstance(exc, Terminated) else signal.SIGINT)
    return 128 + int(signum)


def _in_main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


@contextlib.contextmanager
def sigterm_interrupts() -> Iterator[None]:
    """Within the block, SIGTERM raises :class:`Terminated` (a KeyboardInterrupt)."""
    if not _in_main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _say(text: str) -> None:
    # A handler runs between any two bytecodes, perhaps inside a print to the same stream:
    # a buffered write from here would raise "reentrant call", a write to the descriptor cannot.
    try:
        os.write(sys.stderr.fileno(), text.encode(sys.stderr.encoding or "utf-8", "backslashreplace"))
    except (AttributeError, OSError, ValueError):  # no descriptor behind sys.stderr (captured)
        pass


@contextlib.contextmanager
def stop_on_signals(command: str) -> Iterator[tuple[threading.Event, list[int]]]:
    """A first Ctrl-C or SIGTERM sets the event (and records the signal); a second one interrupts.

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
        signal.signal(signal.SIGTERM, _raise_terminated)
        _say(f"zdce {command}: stopping after the photos in progress (Ctrl-C again to abort)\n")

    previous = {signum: signal.signal(signum, first) for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stop, received
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
