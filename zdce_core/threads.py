"""How many threads an engine call may use, and the thread settings of our own command processes.

The engine's full-resolution passes run on a pool of its own threads per call
(:func:`zdce_core.maths.render.render`), so a call never changes a
process-wide setting: two callers may ask for different counts at once. The
network's small matrix products use NumPy's BLAS as the process configures
it; in processes we start ourselves (the ``zdce`` command, the ImageMagick
delegate) :func:`configure_command_process` sets it up first.
"""

from __future__ import annotations

import numbers
import os


COMMAND_ENVIRONMENT = {
    # Threads that spin while waiting for work cost 2-4x the CPU on a busy machine
    # (OpenMP: torch in `zdce train`, measured with benchmarks/batch_workers.py).
    "OMP_WAIT_POLICY": "PASSIVE",
    # The network runs on a 64-128 px copy: BLAS threads spin more than they help
    # (10 passes at 64x48: 0.72 CPU-s with two OpenBLAS threads, 0.27 with one, load 12).
    "OPENBLAS_NUM_THREADS": "1",
}
"""Environment our command processes start with, unless the user set it."""


def configure_command_process() -> None:
    """Apply :data:`COMMAND_ENVIRONMENT`; only takes effect before NumPy and torch load.

    A command-line process is ours to configure; a library user's process is not,
    so the library itself never calls this.
    """
    for name, value in COMMAND_ENVIRONMENT.items():
        os.environ.setdefault(name, value)


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
