"""Keeping decoder chatter off a photo command's console.

Pillow warns (truncated reads, odd tags), imagecodecs logs libpng's
warnings, and libtiff and libjpeg write straight to file descriptor 2. A
command reports every bad file itself, once, with its path and reason, so
for its duration those go nowhere: warnings and log records are dropped,
and descriptor 2 points at the null device while ``sys.stderr`` writes to a
copy of the real one.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import warnings
from collections.abc import Iterator


@contextlib.contextmanager
def quiet_decoders() -> Iterator[None]:
    """Silence third-party decoders within the block; the command's own stderr output still shows."""
    disabled = logging.root.manager.disable
    with warnings.catch_warnings(), _native_stderr_dropped():
        warnings.simplefilter("ignore")
        logging.disable(logging.CRITICAL)
        try:
            yield
        finally:
            logging.disable(disabled)


@contextlib.contextmanager
def _native_stderr_dropped() -> Iterator[None]:
    try:
        real = sys.stderr.fileno() == 2
    except (AttributeError, OSError, ValueError):  # captured or replaced: no descriptor to guard
        real = False
    if not real:
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 2)
    os.close(null)
    previous = sys.stderr
    sys.stderr = open(saved, "w", buffering=1, encoding=previous.encoding, errors="backslashreplace")
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        sys.stderr.close()
        sys.stderr = previous
