"""How many threads an engine call may use.

The engine's full-resolution passes run on a pool of its own threads per call
(:func:`zdce_core.maths.render.render`), so a call never changes a
process-wide setting: two callers may ask for different counts at once.
"""

from __future__ import annotations

import numbers
import os


def available_cores() -> int:
    """Cores this process may run on (respects CPU affinity, e.g. in containers)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def check_threads(threads, *, name: str = "threads") -> int:
    """``threads`` as a thread count: ``None`` means every available core.

    >>> check_threads(1), check_threads(None) == available_cores()
    (1, True)
    """
    cores = available_cores()
    if threads is None:
        return cores
    # More threads than cores only adds switching; far more exhausts the process.
    limit = max(cores, 64)
    if isinstance(threads, bool) or not isinstance(threads, numbers.Integral) or not 1 <= threads <= limit:
        raise ValueError(f"{name}={threads!r} is invalid; use None (all cores) or an integer from 1 to {limit}")
    return int(threads)
