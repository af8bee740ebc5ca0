"""Photos per second of ``zdce batch`` locally and on a Dask cluster, and the cores a million photos a day need.

Usage::

    python benchmarks/throughput.py [--set dicm] [--photos 64] [--repeat 1]

Each configuration is the real command line in a fresh process (start-up,
model load and, for ``--cluster``, starting the cluster included),
enhancing the same photos into a fresh temporary folder: ``--workers 1``,
``--workers 2``, ``--cluster local:1`` and ``--cluster local:2``. Each runs on a quarter of the
photos and on all of them, interleaved; ``steady`` is the rate between the two
(start-up cancels out), which is what a long run over an archive gets. The
best of ``--repeat`` rounds is kept; the load average is printed beside the
figures, since other work on the machine slows every configuration.
"""

from __future__ import annotations

import argparse
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from zdce_core.threads import available_cores

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "test"
CONFIGS = {
    "batch --workers 1": ["--workers", "1"],
    "batch --workers 2": ["--workers", "2"],
    "batch --cluster local:1": ["--cluster", "local:1"],
    "batch --cluster local:2": ["--cluster", "local:2"],
}
# The cluster against the local batch on the same cores: the steady rates' ratio is printed.
COMPARED = ("batch --cluster local:2", "batch --workers 2")
PER_DAY = 1_000_000
SECONDS_PER_DAY = 86_400


def time_run(photos: list[Path], options: list[str]) -> float:
    """Wall seconds of one ``zdce batch`` over ``photos`` with ``options``."""
    with tempfile.TemporaryDirectory() as tmp:
        command = [sys.executable, "-m", "zdce_core", "batch", *map(str, photos), "-o", tmp, "-q", *options]
        start = time.perf_counter()
        subprocess.run(command, check=True)
        elapsed = time.perf_counter() - start
        written = sum(1 for p in Path(tmp).iterdir() if not p.name.startswith("."))
    if written != len(photos):
        raise RuntimeError(f"{' '.join(options)}: wrote {written} of {len(photos)} photos")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", default="dicm", help="folder under shared/data/test (default dicm)")
    parser.add_argument("--photos", type=int, default=64, help="photos to use (default 64)")
    parser.add_argument("--repeat", type=int, default=1, help="interleaved rounds; the best is kept (default 1)")
    args = parser.parse_args()
    photos = sorted(p for p in (DATA / args.set).iterdir() if p.is_file())[: args.photos]
    few = photos[: max(1, len(photos) // 4)]
    time_run(few[:1], [])  # compiles nothing now, but fills the page cache with the photos and the code
    best: dict[tuple[str, int], float] = {}
    loads = [os.getloadavg()[0]]
    for _ in range(args.repeat):
        for name, options in CONFIGS.items():
            for subset in (few, photos):
                seconds = time_run(subset, options)
                key = (name, len(subset))
                best[key] = min(best.get(key, math.inf), seconds)
                loads.append(os.getloadavg()[0])
    need = PER_DAY / SECONDS_PER_DAY
    cores = available_cores()
    print(f"{len(photos)} photos from {args.set}; {cores} cores; "
          f"1-minute load average {min(loads):.1f}..{max(loads):.1f} during the runs")
    print(f"| command | {len(photos)} photos, s | photos/s with start-up | steady photos/s | per core | cores for 1M photos/day |")
    print("|---|---|---|---|---|---|")
    rates = {}
    for name in CONFIGS:
        total, part = best[(name, len(photos))], best[(name, len(few))]
        steady = rates[name] = (len(photos) - len(few)) / (total - part) if total > part else math.nan
        # Every configuration may use all the cores (--workers 1 gives its one photo all the threads).
        per_core = steady / cores
        print(f"| zdce {name} | {total:.1f} | {len(photos) / total:.2f} | {steady:.2f} | {per_core:.2f} | "
              f"{math.ceil(need / per_core) if per_core > 0 else 'n/a'} |")
    print(f"1M photos/day is {need:.1f} photos/s around the clock.")
    cluster, local = COMPARED
    print(f"steady photos/s, zdce {cluster} / zdce {local}: {rates[cluster] / rates[local]:.2f}x")


if __name__ == "__main__":
    main()
