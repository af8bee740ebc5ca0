"""One thread setting for every parallel runtime the engine uses (torch and numba)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import numba
import torch


def available_cores() -> int:
    """Cores this process may run on (respects CPU affinity, e.g. in containers)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


@contextmanager
def limit_threads(threads: int | None = None) -> Iterator[int]:
    """Run the body with ``threads`` threads in torch and numba, then restore both.

    ``None`` means every available core. Yields the number in effect.

    >>> with limit_threads(1) as n:
    ...     n, torch.get_num_threads()
    (1, 1)
    """
    if threads is None:
        threads = available_cores()
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise ValueError(f"threads must be a positive integer or None, got {threads!r}")
    # numba cannot go past the pool size it started with.
    threads_numba = min(threads, numba.config.NUMBA_NUM_THREADS)
    before = torch.get_num_threads(), numba.get_num_threads()
    torch.set_num_threads(threads)
    numba.set_num_threads(threads_numba)
    try:
        yield threads
    finally:
        torch.set_num_threads(before[0])
        numba.set_num_threads(before[1])
