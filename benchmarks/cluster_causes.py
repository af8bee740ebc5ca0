"""Why a photo costs more in a Dask worker than in ``zdce batch``: each suspected cause, side by side in one run.

Usage::

    python benchmarks/cluster_causes.py [--set dicm] [--photos 12] [--repeat 2]

Every variant enhances the same photos one after another with one engine thread
(:func:`zdce_core.app.batch.process`: read, enhance, write) in a fresh process,
after one untimed photo (model loaded, code warm), and reports the seconds per
photo of wall time and of CPU time (user + system, the part other people's jobs
on the machine disturb least):

- ``command``: a process set up as the ``zdce`` command is;
- ``command + trim env``: the same with ``MALLOC_TRIM_THRESHOLD_=65536``, as Dask's nanny sets it;
- ``command + nanny threads``: the same with the nanny's ``OMP/MKL/OPENBLAS_NUM_THREADS=1``;
- ``worker``: inside a Dask worker started by a nanny with its defaults;
- ``worker, heap reset``: the same after :func:`zdce_core.app.cluster.reset_heap`;
- ``worker, heap reset, no profiler``: the same with Dask's statistical profiler off
  (:data:`zdce_core.app.cluster.WORKER_CONFIG`; it samples every thread's stack every 10 ms);
- ``tasks, ...``: one Dask task per photo through the scheduler, as ``zdce batch --cluster``
  sends them (the engine plug-in with its heap reset, the stop check, serialisation and
  scheduling included; CPU time of the worker and of the process running scheduler and client).

Rounds are interleaved and the best of ``--repeat`` is kept; the load average is printed.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "test"
TRIM_ENV = {"MALLOC_TRIM_THRESHOLD_": "65536"}
THREAD_ENV = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}


def enhance_all(paths: list[str], reset: bool = False) -> tuple[float, float]:
    """Wall and CPU seconds per photo for ``paths`` in this process, after one untimed photo."""
    from zdce_core.app import batch

    if reset:
        from zdce_core.app import cluster

        cluster.reset_heap()
    settings = batch.Settings(threads=1)
    with tempfile.TemporaryDirectory() as out:
        jobs = [batch.Job(Path(p), Path(out) / Path(p).name) for p in paths]
        batch.process(jobs[0], settings)
        wall, cpu = time.perf_counter(), time.process_time()
        for job in jobs:
            if batch.process(job, settings).status != batch.DONE:
                raise RuntimeError(f"{job.source} failed")
        return (time.perf_counter() - wall) / len(jobs), (time.process_time() - cpu) / len(jobs)


def in_command_process(paths: list[str], env: dict[str, str]) -> tuple[float, float]:
    code = (
        "import json, sys; from zdce_core.threads import configure_command_process; configure_command_process();"
        "sys.path.insert(0, sys.argv[1]); import cluster_causes;"
        "print(json.dumps(cluster_causes.enhance_all(sys.argv[2:])))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(Path(__file__).parent), *paths],
        env={**os.environ, **env}, check=True, capture_output=True, text=True,
    )
    return tuple(json.loads(out.stdout))


def in_worker(paths: list[str], reset: bool, tasks: bool, profiler: bool = True) -> tuple[float, float]:
    import dask
    import distributed

    from zdce_core.app import batch, cluster

    config = {**cluster.SCHEDULER_CONFIG, **({} if profiler else cluster.WORKER_CONFIG)}
    with dask.config.set(config), distributed.LocalCluster(
        n_workers=1, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address="127.0.0.1:0"
    ) as local, distributed.Client(local, set_as_default=False) as client:
        if not tasks:
            sys.path.insert(0, str(Path(__file__).parent))
            client.run(sys.path.insert, 0, str(Path(__file__).parent))
            return tuple(client.submit(_enhance_all_in_worker, paths, reset, pure=False).result())
        execute = cluster.executor(local.scheduler_address)
        settings = batch.Settings(threads=1)
        # The workers' CPU time and this process's, where the scheduler and the client run.
        cpu = lambda: sum(client.run(time.process_time).values()) + time.process_time()  # noqa: E731
        with tempfile.TemporaryDirectory() as out:
            jobs = [batch.Job(Path(p), Path(out) / Path(p).name) for p in paths]
            results: list[batch.Result] = []
            execute(jobs[:1], settings, results.append, threading.Event())  # the plug-in: model, heap reset
            wall, before = time.perf_counter(), cpu()
            execute(jobs, settings, results.append, threading.Event())
            wall, used = time.perf_counter() - wall, cpu() - before
        if any(r.status != batch.DONE for r in results):
            raise RuntimeError("a photo failed")
        return wall / len(jobs), used / len(jobs)


def _enhance_all_in_worker(paths: list[str], reset: bool) -> tuple[float, float]:
    import cluster_causes

    return cluster_causes.enhance_all(paths, reset)


VARIANTS = {
    "command": lambda p: in_command_process(p, {}),
    "command + trim env": lambda p: in_command_process(p, TRIM_ENV),
    "command + nanny threads": lambda p: in_command_process(p, THREAD_ENV),
    "worker": lambda p: in_worker(p, reset=False, tasks=False),
    "worker, heap reset": lambda p: in_worker(p, reset=True, tasks=False),
    "worker, heap reset, no profiler": lambda p: in_worker(p, reset=True, tasks=False, profiler=False),
    "tasks, heap reset": lambda p: in_worker(p, reset=True, tasks=True),
    "tasks, heap reset, no profiler (zdce now)": lambda p: in_worker(p, reset=True, tasks=True, profiler=False),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", default="dicm", help="folder under shared/data/test (default dicm)")
    parser.add_argument("--photos", type=int, default=12, help="photos per variant (default 12)")
    parser.add_argument("--repeat", type=int, default=2, help="interleaved rounds; the best is kept (default 2)")
    args = parser.parse_args()
    paths = [str(p) for p in sorted((DATA / args.set).iterdir()) if p.is_file()][: args.photos]
    best: dict[str, tuple[float, float]] = {name: (math.inf, math.inf) for name in VARIANTS}
    loads = [os.getloadavg()[0]]
    for _ in range(args.repeat):
        for name, measure in VARIANTS.items():
            wall, cpu = measure(paths)
            best[name] = (min(best[name][0], wall), min(best[name][1], cpu))
            loads.append(os.getloadavg()[0])
    print(f"{len(paths)} photos from {args.set}, one engine thread, best of {args.repeat}; "
          f"1-minute load average {min(loads):.1f}..{max(loads):.1f} during the runs")
    base_wall, base_cpu = best["command"]
    print("| where the photos are enhanced | wall s/photo | CPU s/photo | CPU vs command |")
    print("|---|---|---|---|")
    for name, (wall, cpu) in best.items():
        print(f"| {name} | {wall:.3f} | {cpu:.3f} | {cpu / base_cpu:.2f}x |")


if __name__ == "__main__":
    main()
