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
import re
import sys
import warnings
from collections.abc import Iterator
from typing import TextIO

# Control characters (C0, DEL, C1), line and paragraph separators, bidirectional overrides, and
# the lone surrogates that stand for a file name's bytes that are not valid in the file system's encoding.
_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


def printable(text: str) -> str:
    """``text`` with every character that could end or rewrite a line escaped (``\\n``, ``\\x1b``, ``\\xe9``).

    A file name may hold a newline or a terminal escape: printed as it is,
    ``evil.jpg\\nzdce batch: 99 done`` would forge a summary line.

    >>> printable("evil.jpg\\nzdce batch: 99 done"), printable("caf\\udce9.jpg"), printable("ok é")
    ('evil.jpg\\\\nzdce batch: 99 done', 'caf\\\\xe9.jpg', 'ok é')
    """
    return _UNPRINTABLE.sub(_escape, text)


def _escape(match: re.Match) -> str:
    code = ord(match.group())
    if 0xDC80 <= code <= 0xDCFF:  # os.fsdecode's stand-in for one undecodable byte
        return f"\\x{code - 0xDC00:02x}"
    return match.group().encode("unicode_escape").decode("ascii")


def tolerant_streams() -> None:
    """Let stdout and stderr write any text in their encoding, escaping what it cannot hold.

    A name with a byte that is not UTF-8 (``\\udce9`` in Python), or an ``é``
    under ``PYTHONIOENCODING=ascii``, must not fail a command after its work
    is done; :func:`say` also escapes control characters, this covers every
    other line a command prints.
    """
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(AttributeError, ValueError):  # replaced or closed streams keep theirs
            stream.reconfigure(errors="backslashreplace")


def say(text: str, stream: TextIO | None = None) -> None:
    """Print one line of a command's output (stderr by default), escaped with :func:`printable`.

    Whatever the stream's encoding, the line is written (characters it cannot
    encode become ``\\N`` escapes). A stream whose reader is gone (``zdce
    batch ... | head -n1``) never stops the work: it is pointed at the null
    device and this line, and those after it, are dropped.
    """
    stream = sys.stderr if stream is None else stream
    if stream is None:  # the process started with that descriptor closed
        return
    line = printable(text)
    encoding = getattr(stream, "encoding", None) or "utf-8"
    line = line.encode(encoding, "backslashreplace").decode(encoding, "replace")
    try:
        print(line, file=stream, flush=True)
    except (BrokenPipeError, ConnectionResetError):
        _drop(stream)
    except ValueError:  # closed by someone else: nothing can be written to it
        pass


def _drop(stream: TextIO) -> None:
    # Later writes, and the flush at exit (which would end the process with status 120), go to /dev/null.
    with contextlib.suppress(AttributeError, OSError, ValueError):
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, stream.fileno())
        os.close(null)


CODEC_LOGGERS = ("imagecodecs", "tifffile")
"""Libraries that log what a command reports itself: libpng's warnings (one for every interlaced
file, one for trailing data) and tifffile's complaints about damaged tags."""


def mute_codec_loggers() -> None:
    """Give the codec loggers a handler that drops their records, for a command's whole process.

    With no logging configured, Python's last resort would print them; a
    NullHandler stops only that, so an application's own handlers still
    receive the records. Programs call this at start; the library never
    touches other libraries' loggers.
    """
    for name in CODEC_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(h, logging.NullHandler) for h in logger.handlers):
            logger.addHandler(logging.NullHandler())


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
