"""Atomic writes: a file appears complete under its final name, or not at all.

The temporary file sits beside the target as ``.NAME.PID-XXXXXXXX.part``
(NAME shortened so the whole name fits the 255-byte limit of common file
systems). The process id in it lets a later run tell the leftovers of a
killed process from the temporaries of one still writing.
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path

# 255 bytes is the name limit of ext4, XFS, Btrfs, APFS and NTFS (in UTF-16 units there).
NAME_MAX = 255
_RANDOM = 8  # the characters mkstemp adds
_STALE = re.compile(r"^\..*\.(\d+)-[a-z0-9_]{%d}\.part$" % _RANDOM, re.DOTALL)


def _read_umask() -> int:
    # Read once at import: os.umask can only be read by setting it, which is not thread-safe.
    umask = os.umask(0o022)
    os.umask(umask)
    return umask


_UMASK = _read_umask()


def _shortened(name: str, budget: int) -> str:
    encoded = os.fsencode(name)
    if len(encoded) <= budget:
        return name
    # A cut character (or any byte that is not UTF-8) is dropped: the name is only a hint for whoever finds the file.
    return encoded[:budget].decode("utf-8", "ignore")


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, *, mode: int | None = None) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; it replaces ``path`` only if the block succeeds.

    The file gets permission bits ``mode``, or without it the usual umask-based ones.
    """
    path = Path(path)
    marker = f"{os.getpid()}-"
    budget = NAME_MAX - len(".") - len(".") - len(marker) - _RANDOM - len(".part")
    prefix = f".{_shortened(path.name, budget)}.{marker}"
    fd, tmp = tempfile.mkstemp(prefix=prefix, suffix=".part", dir=path.parent or ".")
    os.close(fd)
    # mkstemp makes the file private (0600); a photo should get the usual umask-based mode.
    os.chmod(tmp, 0o666 & ~_UMASK if mode is None else mode)
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True  # someone else's process: not ours to judge
    return True


def remove_stale(folder: str | os.PathLike) -> list[Path]:
    """Delete the temporaries that killed processes left in ``folder``; return what was removed.

    Only files named like :func:`atomic_path`'s, whose process is gone, are
    touched; a missing folder has none.

    Examples
    --------
    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> with atomic_path(folder / "photo.jpg") as tmp:
    ...     _ = tmp.write_bytes(b"...")
    ...     remove_stale(folder)  # our own temporary: this process is alive
    []
    >>> sorted(p.name for p in folder.iterdir())
    ['photo.jpg']
    """
    removed = []
    try:
        entries = list(os.scandir(folder))
    except (FileNotFoundError, NotADirectoryError):
        return removed
    for entry in entries:
        match = _STALE.match(entry.name)
        if match and entry.is_file(follow_symlinks=False) and not _alive(int(match.group(1))):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(entry.path)
                removed.append(Path(entry.path))
    return removed
