"""Atomic writes: a file appears complete under its final name, or not at all.

The temporary file sits beside the target as ``.NAME.HOST-PID-XXXXXXXX.part``
(NAME shortened so the whole name fits the 255-byte limit of common file
systems; HOST names this machine's boot and PID namespace, where PID means
something). Its writer holds an exclusive lock on it while writing, so a
later run can tell the leftovers of a killed process from the temporary of
one still writing, here or on another host or container sharing the folder.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import re
import secrets
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path

try:
    import fcntl
except ImportError:  # Windows: no advisory locks; temporaries are judged by name and age alone
    fcntl = None

# 255 bytes is the name limit of ext4, XFS, Btrfs, APFS and NTFS (in UTF-16 units there).
NAME_MAX = 255
_RANDOM = 8  # random characters in a temporary's name
_LETTERS = "abcdefghijklmnopqrstuvwxyz0123456789_"
_HOST = 8  # hex digits of the host token
# Older temporaries (zdce before the host token) name only the PID: judged as this host's.
_STALE = re.compile(r"^\..*\.(?:([0-9a-f]{%d})-)?(\d+)-[a-z0-9_]{%d}\.part$" % (_HOST, _RANDOM), re.DOTALL)
STALE_AFTER = 3600
"""Seconds after its last write that an unlocked temporary of another host counts as left behind."""
_TRIES = 3  # writes of one file when another process removes its temporary meanwhile


def _host_token() -> str:
    """8 hex digits for this machine's boot and PID namespace: two processes with the same token share PIDs."""
    parts = [socket.gethostname()]
    with contextlib.suppress(OSError):
        parts.append(Path("/proc/sys/kernel/random/boot_id").read_text().strip())
    with contextlib.suppress(OSError):
        parts.append(os.readlink("/proc/self/ns/pid"))
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:_HOST]


HOST = _host_token()


def _create(folder: Path, prefix: str) -> tuple[int, str]:
    """A new empty file ``folder/PREFIX + 8 random characters + .part``, open for writing: ``(fd, path)``.

    Created with mode 0666 so the process's umask applies as to any file it
    writes (mkstemp's files are private, and reading the umask means setting
    it, which races with other threads).
    """
    for _ in range(100):
        name = os.path.join(folder, prefix + "".join(secrets.choice(_LETTERS) for _ in range(_RANDOM)) + ".part")
        try:
            return os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666), name
        except FileExistsError:
            continue
    raise FileExistsError(errno.EEXIST, "no free name for a temporary file", os.path.join(folder, prefix))


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
    An error creating it names ``path``, the file asked for, not the temporary.
    """
    path = Path(path)
    marker = f"{HOST}-{os.getpid()}-"
    budget = NAME_MAX - len(".") - len(".") - len(marker) - _RANDOM - len(".part")
    prefix = f".{_shortened(path.name, budget)}.{marker}"
    try:
        fd, tmp = _create(path.parent, prefix)
    except OSError as exc:
        raise type(exc)(exc.errno, exc.strerror, os.fspath(path)) from None
    try:
        if fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_EX)  # ours alone until replaced: see remove_stale
        if mode is not None:
            os.chmod(tmp, mode)
        yield Path(tmp)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    finally:
        os.close(fd)


def atomic_write(path: str | os.PathLike, write: Callable[[Path], None], *, mode: int | None = None) -> None:
    """``write(tmp)`` in an :func:`atomic_path`; written again if another process removed the temporary meanwhile.

    A run on another host that misjudged our temporary as left behind must
    not fail the file: it is written afresh (up to 3 times).
    """
    path = Path(path)
    for attempt in range(_TRIES):
        try:
            with atomic_path(path, mode=mode) as tmp:
                write(tmp)
            return
        except FileNotFoundError as exc:
            ours = exc.filename is not None and _STALE.match(Path(os.fsdecode(exc.filename)).name)
            if not ours or not path.parent.is_dir() or attempt == _TRIES - 1:
                raise


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True  # someone else's process: not ours to judge
    return True


def _left_behind(entry: os.DirEntry, host: str | None, pid: int) -> bool:
    if host in (None, HOST):
        return not _alive(pid)
    # Another host's or container's process: its PID means nothing here; only a long silence does.
    return time.time() - entry.stat(follow_symlinks=False).st_mtime > STALE_AFTER


def _remove_if_unlocked(path: str) -> bool:
    """Delete ``path`` unless a live writer holds its lock (anywhere the file system shares locks)."""
    try:
        fd = os.open(path, os.O_RDWR | getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        return False
    try:
        if fcntl is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:  # held: its writer is alive
                return False
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
            return True
        return False
    finally:
        os.close(fd)


def remove_stale(folder: str | os.PathLike) -> list[Path]:
    """Delete the temporaries that killed processes left in ``folder``; return what was removed.

    Only files named like :func:`atomic_path`'s are touched, and only when
    no writer holds their lock and either their process is gone (this
    host's) or they have not changed for :data:`STALE_AFTER` seconds (another
    host's or container's). A missing folder has none.

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
        if not match or not entry.is_file(follow_symlinks=False):
            continue
        try:
            stale = _left_behind(entry, match.group(1), int(match.group(2)))
        except FileNotFoundError:
            continue
        if stale and _remove_if_unlocked(entry.path):
            removed.append(Path(entry.path))
    return removed
