"""Does ``zdce batch --workers N`` help? Times whole batches at several worker counts.

Usage::

    python benchmarks/batch_workers.py [--set dicm|lol|hires] [--workers 1 2 3] [--repeat 2]

Each run enhances the same photos from the shared test data into a fresh
temporary folder with :func:`zdce_core.batch.run` (read, enhance, write,
metadata and all) and prints the best wall time of ``--repeat`` interleaved rounds.
The first, untimed run loads the model and warms the compiled kernels.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from zdce_core import batch
from zdce_core.threads import available_cores

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "test"
SETS = {"dicm": DATA / "dicm", "lol": DATA / "lol15-low", "hires": DATA / "hires"}


def time_batch(inputs: list[str], workers: int) -> tuple[float, int]:
    """Seconds for one batch of ``inputs`` with ``workers``, and how many photos were done."""
    with tempfile.TemporaryDirectory() as out:
        jobs = batch.plan(inputs, Path(out)).jobs
        start = time.perf_counter()
        results = batch.run(jobs, batch.Settings(), workers=workers)
        seconds = time.perf_counter() - start
    return seconds, sum(r.status == batch.DONE for r in results)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", choices=SETS, default="lol")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    inputs = [str(SETS[args.set])]
    time_batch(inputs, 1)  # warm-up: model load, numba compilation
    print(f"set={args.set} cores={available_cores()} load={os.getloadavg()[0]:.1f}")
    # Rounds interleave the worker counts so a change in machine load hits them all alike.
    times: dict[int, list[float]] = {w: [] for w in args.workers}
    for _ in range(args.repeat):
        for workers in args.workers:
            seconds, done = time_batch(inputs, workers)
            times[workers].append(seconds)
    baseline = min(times[args.workers[0]])
    for workers, runs in times.items():
        best = min(runs)
        print(
            f"workers={workers}: best {best:6.2f} s (all: {' '.join(f'{t:.2f}' for t in runs)}) "
            f"for {done} photos, {done / best:5.2f} photos/s, x{baseline / best:.2f}"
        )


if __name__ == "__main__":
    main()
