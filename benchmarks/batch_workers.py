"""Does ``zdce batch --workers N`` help? Times whole batches at several worker counts.

Usage::

    python benchmarks/batch_workers.py [--set lol|dicm|hires] [--runs 1x2 1x1 2x1 3x1] [--repeat 3]

A run ``WxT`` uses W workers with T engine threads each (``W`` alone: the
cores shared among the workers, as ``zdce batch`` does). Each run enhances
the same photos from the shared test data into a fresh temporary folder with
:func:`zdce_core.app.batch.run` (read, enhance, write, metadata and all); the
best wall time of ``--repeat`` interleaved rounds is printed with the CPU
time the process used. The first, untimed run loads the model and brings the
photos into the page cache.
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time
from pathlib import Path

from zdce_core.app import batch
from zdce_core.threads import available_cores

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "test"
SETS = {"dicm": DATA / "dicm", "lol": DATA / "lol15-low", "hires": DATA / "hires"}


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def time_batch(inputs: list[str], run: str) -> tuple[float, float, int]:
    """Wall and CPU seconds for one batch of ``inputs`` as ``run`` (``W`` or ``WxT``), and photos done."""
    workers, _, threads = run.partition("x")
    settings = batch.Settings(threads=int(threads) if threads else None)
    with tempfile.TemporaryDirectory() as out:
        jobs = batch.plan(inputs, Path(out)).jobs
        start, cpu = time.perf_counter(), _cpu_seconds()
        results = batch.run(jobs, settings, workers=int(workers))
        wall, cpu = time.perf_counter() - start, _cpu_seconds() - cpu
    return wall, cpu, sum(r.status == batch.DONE for r in results)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", choices=SETS, default="lol")
    parser.add_argument("--runs", nargs="+", default=["1", "1x1", "2", "3"])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    inputs = [str(SETS[args.set])]
    time_batch(inputs, "1")  # warm-up: model load, photos into the page cache
    print(f"set={args.set} cores={available_cores()} load={os.getloadavg()[0]:.1f} "
          f"OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', 'unset')}")
    # Rounds interleave the runs so a change in machine load hits them all alike.
    times: dict[str, list[tuple[float, float]]] = {run: [] for run in args.runs}
    done = 0
    for _ in range(args.repeat):
        for run in args.runs:
            wall, cpu, done = time_batch(inputs, run)
            times[run].append((wall, cpu))
    baseline = min(times[args.runs[0]])[0]
    for run, measured in times.items():
        wall, cpu = min(measured)
        walls = " ".join(f"{w:.2f}" for w, _ in measured)
        print(f"{run:>4}: best {wall:6.2f} s wall ({walls}), {cpu:6.2f} s CPU, "
              f"{done / wall:5.2f} photos/s, x{baseline / wall:.2f} vs {args.runs[0]}")
    print(f"load at end={os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
