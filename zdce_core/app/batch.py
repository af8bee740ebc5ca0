"""Enhancing a set of photos in one run, safely: planning, per-file processing, results.

:func:`plan` expands files, folders and globs into jobs and refuses any plan
that would write over an input; :func:`run` processes the jobs (optionally
several at a time, so one photo's decode and encode overlap another's
enhancement) and reports one :class:`Result` per file. A file that cannot be
read or written fails on its own; the rest of the batch goes on.
"""

from __future__ import annotations

import contextlib
import glob
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from PIL import Image

if TYPE_CHECKING:  # the engine and photo I/O load with the first photo: `zdce --help` stays quick
    from ..maths.network import Network

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".jpe", ".png", ".tif", ".tiff", ".webp", ".bmp")
DONE, SKIPPED, FAILED, PLANNED = "done", "skipped", "failed", "planned"


@dataclass(frozen=True)
class Job:
    """One photo to enhance and where its result goes."""

    source: Path
    target: Path


@dataclass(frozen=True)
class Result:
    """What happened to one input: ``status`` is done, skipped, failed or planned (dry run)."""

    source: Path
    target: Path | None
    status: str
    reason: str = ""
    seconds: float = 0.0


@dataclass(frozen=True)
class Settings:
    """Engine and output settings shared by every file of a batch.

    Attributes
    ----------
    steps, strength, denoise
        Passed to :func:`zdce_core.enhance`.
    quality : int
        JPEG and WebP quality, 1..100.
    subsampling : str or None
        JPEG chroma subsampling; ``None`` keeps the source JPEG's (4:2:0 otherwise).
    max_pixels : int or None
        Inputs with more pixels fail before they are decoded.
    threads : int or None
        CPU threads per engine call; ``None`` shares the cores among the workers.
    model : Network or None
        Weights loaded once for the whole batch; ``None`` for the bundled model.
    """

    steps: int = 8
    strength: float | str = "auto"
    denoise: bool = True
    quality: int = 92
    subsampling: str | None = None
    max_pixels: int | None = Image.MAX_IMAGE_PIXELS
    threads: int | None = None
    model: Network | None = None


@dataclass
class Plan:
    """Jobs to run, plus inputs already settled while planning (missing, not an image type, ...)."""

    jobs: list[Job] = field(default_factory=list)
    settled: list[Result] = field(default_factory=list)


def _is_visible(path: Path, base: Path) -> bool:
    # Hidden files include the ".NAME.part" temporaries of interrupted atomic writes.
    return not any(part.startswith(".") for part in path.relative_to(base).parts)


def _outside(path: Path, exclude: Path | None, base: Path) -> bool:
    # Only an output folder below the input folder is left out; the same folder (with --suffix) is not.
    return exclude is None or exclude == base.resolve() or not path.resolve().is_relative_to(exclude)


def _walk(folder: Path, recursive: bool, exclude: Path | None) -> Iterable[Path]:
    # ``exclude`` is the output folder: a rerun must not pick up earlier outputs.
    candidates = folder.rglob("*") if recursive else folder.iterdir()
    for path in sorted(candidates):
        if path.is_file() and _is_visible(path, folder) and _outside(path, exclude, folder):
            yield path


def _glob_base(pattern: str) -> Path:
    # The folder part before the first wildcard: structure below it is kept.
    parts = Path(pattern).parts
    fixed = parts[: next(i for i, p in enumerate(parts) if glob.has_magic(p))]
    return Path(*fixed) if fixed else Path(".")


def _expand(spec: str, recursive: bool, exclude: Path | None) -> tuple[list[tuple[Path, Path]], list[Result]]:
    """(file, base folder) pairs for one INPUT argument, and results for what is refused."""
    path = Path(spec)
    if path.is_dir():
        found = [(f, path) for f in _walk(path, recursive, exclude)]
        if not found:
            return [], [Result(path, None, FAILED, "folder holds no files" + ("" if recursive else " (try --recursive)"))]
        return found, []
    if path.is_file():
        if path.suffix.lower() not in IMAGE_SUFFIXES:
            reason = f"unsupported file type {path.suffix!r}; supported: {' '.join(IMAGE_SUFFIXES)}"
            return [], [Result(path, None, FAILED, reason)]
        return [(path, path.parent)], []
    if glob.has_magic(spec):
        base = _glob_base(spec)
        matches = sorted(Path(m) for m in glob.glob(spec, recursive=recursive))
        found = [(m, base) for m in matches if m.is_file() and _outside(m, exclude, base)]
        if not found:
            return [], [Result(path, None, FAILED, "no files match this pattern")]
        return found, []
    return [], [Result(path, None, FAILED, "no such file or folder")]


def plan(inputs: Sequence[str], outdir: Path, *, recursive: bool = False, suffix: str = "") -> Plan:
    """Turn INPUT arguments into jobs writing under ``outdir``, keeping folder structure.

    A folder input contributes its image files (with ``recursive``, those in
    sub-folders too, at the same relative place under ``outdir``); a glob
    keeps the structure below its first wildcard. Output files keep the
    input's name and format, with ``suffix`` added before the extension.

    Raises
    ------
    ValueError
        If ``outdir`` is an input folder and ``suffix`` is empty, or if two
        inputs would share one output. An input whose output would be another
        input file is skipped, never written over.
    """
    outdir = Path(outdir)
    out_real = outdir.resolve()
    result = Plan()
    pairs: list[tuple[Path, Path]] = []
    for spec in inputs:
        found, refused = _expand(spec, recursive, out_real if out_real.exists() else None)
        pairs += found
        result.settled += refused
    if not suffix:
        for base in sorted({b.resolve() for _, b in pairs}):
            if base == out_real:
                raise ValueError(
                    f"output folder {outdir} is an input folder; choose another folder, "
                    f"or give --suffix (e.g. --suffix _enhanced) to write beside the originals"
                )
    # Every file found counts as an input, including earlier outputs that are skipped below.
    inputs_found = {f.resolve() for f, _ in pairs}
    claimed: dict[Path, Path] = {}
    for source, base in pairs:
        rel = source.relative_to(base)
        if source.suffix.lower() not in IMAGE_SUFFIXES:
            result.settled.append(Result(source, None, SKIPPED, "not a supported image type"))
            continue
        target = outdir / rel.parent / f"{rel.stem}{suffix}{rel.suffix}"
        real = target.resolve()
        if suffix and source.stem.endswith(suffix) and real.parent == source.resolve().parent:
            # Outputs go beside the inputs: this one is most likely an earlier run's output.
            result.settled.append(Result(source, None, SKIPPED, f"name ends with the output suffix {suffix!r}"))
            continue
        if real in inputs_found:
            result.settled.append(Result(source, target, SKIPPED, f"output {target} would overwrite an input file"))
            continue
        if real in claimed and claimed[real] != source.resolve():
            raise ValueError(f"{claimed[real]} and {source} would both be written to {target}")
        if real not in claimed:
            claimed[real] = source.resolve()
            result.jobs.append(Job(source, target))
    return result


def process(job: Job, settings: Settings) -> Result:
    """Read, enhance and write one photo; a failure becomes a failed :class:`Result`."""
    from .. import enhance
    from ..io.images import read_photo, write_photo

    start = time.perf_counter()
    try:
        photo = read_photo(job.source, max_pixels=settings.max_pixels)
        out = enhance(
            photo.array,
            settings.steps,
            strength=settings.strength,
            denoise=settings.denoise,
            dtype=photo.array.dtype.type,
            threads=settings.threads,
            model=settings.model,
        )
        job.target.parent.mkdir(parents=True, exist_ok=True)
        write_photo(job.target, out, photo.metadata, quality=settings.quality, subsampling=settings.subsampling)
    except (OSError, ValueError, TypeError, RuntimeError, MemoryError) as exc:
        reason = str(exc) or type(exc).__name__
        reason = reason.removeprefix(f"{job.source}: ")
        return Result(job.source, job.target, FAILED, reason, time.perf_counter() - start)
    return Result(job.source, job.target, DONE, "", time.perf_counter() - start)


def run(
    jobs: Sequence[Job],
    settings: Settings,
    *,
    workers: int = 1,
    skip_existing: bool = False,
    dry_run: bool = False,
    report: Callable[[Result], None] = lambda result: None,
) -> list[Result]:
    """Process ``jobs``; call ``report`` as each one finishes; return every result.

    With ``workers`` > 1 that many photos are in flight at once, each engine
    call getting an equal share of the cores, so reading and writing one
    photo overlaps enhancing another.

    Raises
    ------
    KeyboardInterrupt
        After a first Ctrl-C (when called from the main thread), once the
        photos in progress are finished and reported; no new one is started.
        A second Ctrl-C interrupts at once; atomic writes still leave no
        half-written output.
    """
    from ..threads import available_cores

    if workers < 1:
        raise ValueError(f"--workers must be at least 1, got {workers}")
    results: list[Result] = []

    def settle(result: Result) -> None:
        results.append(result)
        report(result)

    pending = []
    for job in jobs:
        if skip_existing and job.target.exists():
            settle(Result(job.source, job.target, SKIPPED, "output exists"))
        elif dry_run:
            settle(Result(job.source, job.target, PLANNED))
        else:
            pending.append(job)
    if not pending:
        return results
    if settings.threads is None:
        settings = replace(settings, threads=max(1, available_cores() // workers))
    with _first_interrupt_stops() as stop:
        if workers == 1:
            for job in pending:
                if stop.is_set():
                    break
                settle(process(job, settings))
        else:
            _run_parallel(pending, settings, workers, settle, stop)
    if stop.is_set():
        raise KeyboardInterrupt
    return results


@contextlib.contextmanager
def _first_interrupt_stops() -> Iterator[threading.Event]:
    # A Ctrl-C raised at an arbitrary point could lose the report of a photo
    # already written; a flag checked between photos cannot.
    stop = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return

    def first(signum, frame) -> None:
        stop.set()
        signal.signal(signal.SIGINT, signal.default_int_handler)
        print("zdce batch: stopping after the photos in progress (Ctrl-C again to abort)", file=sys.stderr)

    previous = signal.signal(signal.SIGINT, first)
    try:
        yield stop
    finally:
        signal.signal(signal.SIGINT, previous)


def _run_parallel(
    jobs: Sequence[Job], settings: Settings, workers: int, settle: Callable[[Result], None], stop: threading.Event
) -> None:
    # At most ``workers`` photos are decoded at once, which bounds memory.
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="zdce-batch") as pool:
        in_flight: set[Future[Result]] = set()
        for job in jobs:
            if len(in_flight) >= workers:
                finished, in_flight = wait(in_flight, return_when=FIRST_COMPLETED)
                for future in finished:
                    settle(future.result())
            if stop.is_set():
                break
            in_flight.add(pool.submit(process, job, settings))
        for future in wait(in_flight).done:
            settle(future.result())


def summarise(results: Iterable[Result]) -> dict[str, int]:
    """Counts per status: done, skipped, failed (and planned on a dry run)."""
    counts = {DONE: 0, SKIPPED: 0, FAILED: 0}
    for result in results:
        counts[result.status] = counts.get(result.status, 0) + 1
    return counts


def as_dict(result: Result) -> dict[str, object]:
    """A JSON-ready form of one result."""
    return {
        "source": os.fspath(result.source),
        "target": os.fspath(result.target) if result.target else None,
        "status": result.status,
        "reason": result.reason,
        "seconds": round(result.seconds, 3),
    }

