"""``zdce batch --cluster``: the same batch on a Dask distributed cluster.

The client plans and reports exactly as the local batch does
(:func:`zdce_core.app.batch.run` with this module's executor); each worker
reads, enhances and writes its photos itself with
:func:`zdce_core.app.batch.process`, so only paths, settings and results
travel, never pixels. Writes are atomic: a worker killed mid-photo leaves no
partial output, and a photo redone on another worker replaces the same file
with the same bytes. A worker plugin loads the model once per worker process
and gives the worker's heap the settings a plain process has (:func:`reset_heap`).
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace

try:
    import dask
    import distributed
except ImportError:
    raise ImportError("--cluster needs Dask distributed; install it with: pip install 'zdce[dask]'") from None

from .batch import FAILED, Executor, Job, Result, Settings, process

LOCAL = "local:"
PLUGIN = "zdce-engine"
CONNECT_TIMEOUT = 5.0
# How often the client looks at Ctrl-C while it waits for results.
POLL_SECONDS = 0.2

#: Scheduler settings for a local cluster, and advised for others: a worker takes only as many
#: photos as it has threads, so a photo that kills its worker takes no queued photo's tries with it.
SCHEDULER_CONFIG = {"distributed.scheduler.worker-saturation": 1.0}
#: Worker settings for a local cluster, and advised for others: Dask's statistical profiler
#: samples every thread's stack every 10 ms, holding the GIL, for a dashboard a batch does not need.
WORKER_CONFIG = {"distributed.worker.profile.enabled": False}

# glibc's mallopt parameters (malloc.h).
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
#: Blocks from this size on get their own mapping: glibc's ceiling for its dynamic threshold on
#: 64-bit, which a plain process reaches after its first photo.
MMAP_THRESHOLD = 32 * 2**20
#: Free memory at the top of the heap past this size goes back to the system.
TRIM_THRESHOLD = 64 * 2**20

# This worker process's counts, read from the client with ``client.run(worker_stats)``.
_stats = {"model_loads": 0, "photos": 0}
_bundled = None


def worker_stats() -> dict[str, int]:
    """How many times this worker process loaded the model, and how many photos it processed."""
    return dict(_stats)


def reset_heap() -> bool:
    """Give this process's allocator the thresholds a plain process settles on; False where it is not glibc.

    Dask's nanny starts every worker with ``MALLOC_TRIM_THRESHOLD_=65536``
    (``distributed.nanny.pre-spawn-environ``). Setting it also freezes glibc's
    mmap threshold at 128 KiB, so each photo-sized array is a fresh mapping,
    page-faulted in and unmapped again: ``benchmarks/cluster_causes.py``
    measured 1.8x the CPU time per photo for that variable alone in a plain
    process, 2.5x in a Dask worker, 1.5x after this reset. Memory is still
    handed back, past :data:`TRIM_THRESHOLD` instead of 64 KiB.
    """
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):  # not glibc (macOS, Windows)
        return False
    return bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD))


def _bundled_model():
    # The plugin is set up again for each batch sent to a long-lived cluster; the weights stay loaded.
    from ..weights import default_model

    global _bundled
    if _bundled is None:
        _bundled = default_model()
        _stats["model_loads"] += 1
    return _bundled


class Engine(distributed.WorkerPlugin):
    """The model, loaded once per worker process, and one photo at a time using all the worker's threads.

    Parameters
    ----------
    model : Network or None
        Weights the client loaded (``--model``), sent once with the plugin;
        ``None`` loads the bundled model on the worker.
    """

    def __init__(self, model=None) -> None:
        self.model = model

    def setup(self, worker: distributed.Worker) -> None:
        reset_heap()
        if self.model is None:
            self.model = _bundled_model()
        else:
            # Unpickling the client's weights is this worker's load of them.
            _stats["model_loads"] += 1
        self.threads = worker.state.nthreads
        # A worker runs as many tasks as it has threads; one engine call at a time
        # with all of them keeps the cores it was given, not threads squared.
        self.lock = threading.Lock()

    def process(self, job: Job, settings: Settings, stop: str) -> Result | None:
        """:func:`zdce_core.app.batch.process` with this worker's model and threads.

        ``None``, and nothing written, once the client has set the event ``stop`` (Ctrl-C).
        """
        with self.lock:
            if distributed.Event(stop).is_set():
                return None
            _stats["photos"] += 1
            return process(job, replace(settings, model=self.model, threads=self.threads))


def _process_on_worker(job: Job, settings: Settings, stop: str) -> Result | None:
    return distributed.get_worker().plugins[PLUGIN].process(job, settings, stop)


def local_workers(address: str) -> int | None:
    """``N`` for ``local:N``, ``None`` for a scheduler address.

    >>> local_workers("local:2"), local_workers("tcp://10.0.0.5:8786")
    (2, None)
    """
    if not address.startswith(LOCAL):
        return None
    count = address.removeprefix(LOCAL)
    if not count.isdigit() or int(count) < 1:
        raise ValueError(
            f"--cluster {address!r}: expected local:N with N >= 1 worker processes, "
            f"or a scheduler address such as tcp://HOST:8786"
        )
    return int(count)


def executor(address: str) -> Executor:
    """A :func:`zdce_core.app.batch.run` executor that connects to ``address`` when it has jobs.

    ``address`` is a Dask scheduler's (``tcp://host:8786``) or ``local:N`` for a
    cluster of N worker processes on this machine, started for the run.

    Raises
    ------
    ValueError
        When ``address`` is malformed, or (on the call) no scheduler answers
        there within :data:`CONNECT_TIMEOUT` seconds.
    """
    workers = local_workers(address)
    if workers is None:
        _check_address(address)

    def execute(jobs: Sequence[Job], settings: Settings, settle: Callable[[Result], None], stop: threading.Event) -> None:
        with _connect(address, workers) as client:
            _run(client, jobs, settings, settle, stop)

    return execute


def _check_address(address: str) -> None:
    """Refuse a malformed scheduler address before a Client is made: a Client that fails
    half-built prints a traceback from its destructor 10 s later."""
    try:
        scheme, location = distributed.comm.parse_address(address)
        if scheme in ("tcp", "tls"):
            distributed.comm.parse_host_port(location)
    except ValueError as exc:
        raise ValueError(
            f"--cluster {address!r} is not a scheduler address ({exc}); "
            "expected tcp://HOST:PORT (e.g. tcp://10.0.0.5:8786) or local:N"
        ) from None


@contextlib.contextmanager
def _connect(address: str, workers: int | None) -> Iterator[distributed.Client]:
    if workers is None:
        try:
            client = distributed.Client(address, timeout=CONNECT_TIMEOUT, set_as_default=False)
        except (OSError, TimeoutError, ValueError) as exc:
            detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise ValueError(
                f"--cluster {address}: no Dask scheduler answered within {CONNECT_TIMEOUT:g} s ({detail}); "
                f"start one with `dask scheduler`, or use --cluster local:N"
            ) from None
        with client:
            yield client
        return
    from ..threads import available_cores

    # Processes, not threads: a photo that crashes its decoder takes one worker down, not the run.
    with (
        dask.config.set({**SCHEDULER_CONFIG, **WORKER_CONFIG}),
        distributed.LocalCluster(
            n_workers=workers,
            threads_per_worker=max(1, available_cores() // workers),
            processes=True,
            host="127.0.0.1",
            # Its HTTP server (a dashboard when bokeh is installed) on a free loopback port only.
            dashboard_address="127.0.0.1:0",
            silence_logs=logging.ERROR,
        ) as cluster,
        distributed.Client(cluster, set_as_default=False) as client,
    ):
        yield client


def _run(
    client: distributed.Client,
    jobs: Sequence[Job],
    settings: Settings,
    settle: Callable[[Result], None],
    stop: threading.Event,
) -> None:
    client.register_plugin(Engine(settings.model), name=PLUGIN)
    run_id = uuid.uuid4().hex[:8]
    # Readable keys: the photo's name shows on the dashboard and in the scheduler's logs.
    keys = [f"zdce-{run_id}-{i}-{job.source.name}" for i, job in enumerate(jobs)]
    stop_flag = distributed.Event(f"zdce-stop-{run_id}", client=client)
    shared = replace(settings, model=None)
    futures = client.map(_process_on_worker, jobs, settings=shared, stop=stop_flag.name, key=keys, pure=False)
    job_of = dict(zip(futures, jobs))
    remaining = set(futures)
    finished = distributed.as_completed(futures, loop=client.loop)
    stopping = False
    try:
        while remaining:
            if stop.is_set() and not stopping:
                stopping = True
                _stop(client, stop_flag, remaining)
                remaining = {f for f in remaining if f.status != "cancelled"}
            ready = [f for f in finished.next_batch(block=False) if f in remaining]
            if not ready and stopping:
                time.sleep(POLL_SECONDS)  # stop.wait would return at once: a spin starving the client's own thread
            elif not ready:
                stop.wait(POLL_SECONDS)
            for future in ready:
                if future.status not in ("finished", "error", "cancelled"):
                    # Finished, then lost with its worker before we read it: it is being redone.
                    finished.add(future)
                    continue
                remaining.discard(future)
                result = _result(future, job_of[future])
                # Released, a result is no longer held by its worker, so a worker lost later is
                # not made to redo photos already written.
                future.release()
                if result is not None:
                    settle(result)
    except BaseException:
        client.cancel(list(remaining))
        raise


def _stop(client: distributed.Client, stop_flag: distributed.Event, remaining: set[distributed.Future]) -> None:
    """Start no more photos: what is on a worker finishes (and is reported), the rest is dropped."""
    # Set first: a photo that starts from now on sees it and writes nothing, so cancelling
    # below can never hide a photo that was written.
    stop_flag.set()
    # Asked in this order, a photo moving on meanwhile is seen on a worker or in memory.
    started = {key for on_worker in client.processing().values() for key in on_worker}
    done = {key for key, holders in client.who_has(list(remaining)).items() if holders}
    client.cancel([f for f in remaining if f.key not in started | done])


def _result(future: distributed.Future, job: Job) -> Result | None:
    if future.status == "finished":
        return future.result()
    if future.status == "cancelled":
        return Result(job.source, job.target, FAILED, "cancelled by the Dask scheduler")
    exc = future.exception()
    if isinstance(exc, distributed.KilledWorker):
        tries = getattr(exc, "allowed_failures", None)
        after = f" after {tries + 1} tries" if tries is not None else ""
        reason = f"the worker processing it died each time{after} (crashed or ran out of memory)"
    else:
        reason = f"{type(exc).__name__} on the worker: {exc}"
    return Result(job.source, job.target, FAILED, reason)
