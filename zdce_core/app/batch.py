"""Enhancing a set of photos in one run, safely: planning, per-file processing, results.

:func:`plan` expands files, folders and globs into jobs and refuses any plan
that would write over an input; :func:`run` processes the jobs (optionally
several at a time, so one photo's decode and encode overlap another's
enhancement) and reports one :class:`Result` per file. Whatever one photo
raises is that photo's failure, reported with its path; the rest of the
batch goes on. :func:`process` does one photo on its own.

Nothing here prints or installs signal handlers: the command layer owns the
process and passes a ``stop`` event that :func:`run` checks between photos.
"""

from __future__ import annotations

import glob
import os
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from PIL import Image

from ..contract import DEFAULT_DENOISE, DEFAULT_ENGINE, DEFAULT_STEPS, DEFAULT_STRENGTH, JPEG_QUALITY
from ..io import urls
from ..io.atomic import remove_stale
from ..io.urls import URL, Location

if TYPE_CHECKING:  # the engine and photo I/O load with the first photo: `zdce --help` stays quick
    from ..maths.network import Network
    from ..runtime import OnnxModel

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".jpe", ".png", ".tif", ".tiff", ".webp", ".bmp")
DONE, SKIPPED, FAILED, PLANNED = "done", "skipped", "failed", "planned"


@dataclass(frozen=True)
class Job:
    """One photo to enhance and where its result goes (local paths or object-storage URLs)."""

    source: Location
    target: Location


@dataclass(frozen=True)
class Result:
    """What happened to one input: ``status`` is done, skipped, failed or planned (dry run)."""

    source: Location
    target: Location | None
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
    model : Network, OnnxModel or None
        Weights loaded once for the whole batch; ``None`` for the bundled model.
    engine : str
        ``"numpy"`` or ``"onnx"`` (ONNX Runtime), as :func:`zdce_core.enhance`'s ``engine``.
    """

    steps: int = DEFAULT_STEPS
    strength: float | str = DEFAULT_STRENGTH
    denoise: bool = DEFAULT_DENOISE
    quality: int = JPEG_QUALITY
    subsampling: str | None = None
    max_pixels: int | None = Image.MAX_IMAGE_PIXELS
    threads: int | None = None
    model: Network | OnnxModel | None = None
    engine: str = DEFAULT_ENGINE


@dataclass
class Plan:
    """Jobs to run, plus inputs already settled while planning (missing, not an image type, ...)."""

    jobs: list[Job] = field(default_factory=list)
    settled: list[Result] = field(default_factory=list)


#: Runs jobs somewhere else than this process: see :func:`run`'s ``execute``.
Executor = Callable[[Sequence[Job], Settings, Callable[[Result], None], threading.Event], None]


def _is_visible(path: Path, base: Path) -> bool:
    # Hidden files include the ".NAME.part" temporaries of interrupted atomic writes.
    return not any(part.startswith(".") for part in path.relative_to(base).parts)


def _real(path: Location) -> Location:
    if isinstance(path, URL):
        return path  # an object's key is its one name
    try:
        return path.resolve()
    except (RuntimeError, OSError):  # a symbolic link loop: it stands for itself
        return path.absolute()


def _outside(path: Location, exclude: Location | None, base: Location) -> bool:
    # Only an output folder below the input folder is left out; the same folder (with --suffix) is not.
    if exclude is None or isinstance(exclude, URL) != isinstance(path, URL):
        return True
    return exclude == _real(base) or not _real(path).is_relative_to(exclude)


def _is_candidate(path: Path, recursive: bool) -> bool:
    # Everything that is not a folder counts (FIFOs, broken links and loops are reported, not
    # silently dropped); a folder named like a photo is reported too unless --recursive enters it.
    if path.is_dir():
        return not recursive and path.suffix.lower() in IMAGE_SUFFIXES
    return True


def _walk(folder: Path, recursive: bool, exclude: Path | None) -> Iterable[Path]:
    # ``exclude`` is the output folder: a rerun must not pick up earlier outputs.
    candidates = folder.rglob("*") if recursive else folder.iterdir()
    for path in sorted(candidates):
        if _is_candidate(path, recursive) and _is_visible(path, folder) and _outside(path, exclude, folder):
            yield path


def _glob_base(pattern: str) -> Path:
    # The folder part before the first wildcard: structure below it is kept.
    parts = Path(pattern).parts
    fixed = parts[: next(i for i, p in enumerate(parts) if glob.has_magic(p))]
    return Path(*fixed) if fixed else Path(".")


def _expand_url(url: URL, recursive: bool, exclude: Location | None) -> tuple[list[tuple[URL, URL]], list[Result]]:
    # The same rules as for local folders and globs, on an object store's prefixes.
    if glob.has_magic(url.key):
        base = URL(url.protocol, _glob_base(url.key).as_posix())
        found = [(m, base) for m in urls.matches(url, base, recursive=recursive) if _outside(m, exclude, base)]
        return (found, []) if found else ([], [Result(url, None, FAILED, "no objects match this pattern")])
    if urls.is_folder(url):
        found = [(m, url) for m in urls.objects(url, recursive=recursive) if _outside(m, exclude, url)]
        if not found:
            return [], [Result(url, None, FAILED, "no objects under this prefix" + ("" if recursive else " (try --recursive)"))]
        return found, []
    if not urls.exists(url):
        return [], [Result(url, None, FAILED, "no such object or prefix")]
    if url.suffix.lower() not in IMAGE_SUFFIXES:
        reason = f"unsupported file type {url.suffix!r}; supported: {' '.join(IMAGE_SUFFIXES)}"
        return [], [Result(url, None, FAILED, reason)]
    return [(url, url.parent)], []


def _expand(spec: str | URL, recursive: bool, exclude: Location | None) -> tuple[list[tuple[Location, Location]], list[Result]]:
    """(file, base folder) pairs for one INPUT argument, and results for what is refused."""
    if isinstance(spec, URL):
        return _expand_url(spec, recursive, exclude)
    path = Path(spec)
    if path.is_dir():
        found = [(f, path) for f in _walk(path, recursive, exclude)]
        if not found:
            return [], [Result(path, None, FAILED, "folder holds no files" + ("" if recursive else " (try --recursive)"))]
        return found, []
    if glob.has_magic(spec) and not os.path.lexists(path):
        base = _glob_base(spec)
        matches = sorted(Path(m) for m in glob.glob(spec, recursive=recursive))
        found = [(m, base) for m in matches if not m.is_dir() and _outside(m, exclude, base)]
        if not found:
            return [], [Result(path, None, FAILED, "no files match this pattern")]
        return found, []
    if not os.path.lexists(path):
        return [], [Result(path, None, FAILED, "no such file or folder")]
    if path.suffix.lower() not in IMAGE_SUFFIXES:
        reason = f"unsupported file type {path.suffix!r}; supported: {' '.join(IMAGE_SUFFIXES)}"
        return [], [Result(path, None, FAILED, reason)]
    return [(path, path.parent)], []


def check_folder(folder: Path, what: str) -> None:
    """ValueError naming ``folder`` when it, or a folder above it, is a file: no result could be written there.

    A folder that does not exist yet is fine (writing creates it).
    """
    for place in (folder, *folder.parents):
        if os.path.lexists(place):
            if not place.is_dir():
                problem = "is a file" if place == folder else f"lies below {place}, which is a file"
                raise ValueError(f"{what} {folder} {problem}, not a folder; choose a folder (a new one is created)")
            return


def plan(inputs: Sequence[str | URL], outdir: Location, *, recursive: bool = False, suffix: str = "") -> Plan:
    """Turn INPUT arguments into jobs writing under ``outdir``, keeping folder structure.

    Inputs and ``outdir`` are local (paths, globs) or object-storage
    :class:`~zdce_core.io.urls.URL` s, where a prefix plays a folder's part.
    A folder input contributes its image files (with ``recursive``, those in
    sub-folders too, at the same relative place under ``outdir``); a glob
    keeps the structure below its first wildcard. Output files keep the
    input's name and format, with ``suffix`` added before the extension.

    Raises
    ------
    ValueError
        If ``outdir`` is a file (or lies below one), if it is an input folder
        and ``suffix`` is empty, or if two
        inputs would share one output. An input whose output would be another
        input file is skipped, never written over.
    """
    from ..io.images import file_problem

    outdir = outdir if isinstance(outdir, URL) else Path(outdir)
    if not isinstance(outdir, URL):
        check_folder(outdir, "output folder")
    out_real = _real(outdir)
    result = Plan()
    pairs: list[tuple[Location, Location]] = []
    for spec in inputs:
        exclude = out_real if isinstance(out_real, URL) or out_real.exists() else None
        found, refused = _expand(spec, recursive, exclude)
        pairs += found
        result.settled += refused
    if not suffix:
        for base in sorted({_real(b) for _, b in pairs}, key=str):  # folders and prefixes mixed
            if base == out_real:
                raise ValueError(
                    f"output folder {outdir} is an input folder; choose another folder, "
                    f"or give --suffix (e.g. --suffix _enhanced) to write beside the originals"
                )
    # Every file found counts as an input, including earlier outputs that are skipped below.
    inputs_found = {_real(f) for f, _ in pairs}
    claimed: dict[Location, Location] = {}
    for source, base in pairs:
        rel = source.relative_to(base)
        if source.suffix.lower() not in IMAGE_SUFFIXES:
            result.settled.append(Result(source, None, SKIPPED, "not a supported image type"))
            continue
        problem = None if isinstance(source, URL) else file_problem(source)
        if problem:
            status = SKIPPED if source.is_dir() else FAILED
            result.settled.append(Result(source, None, status, problem))
            continue
        target = outdir / rel.parent / f"{rel.stem}{suffix}{rel.suffix}"
        real = _real(target)
        if suffix and source.stem.endswith(suffix) and real.parent == _real(source).parent:
            # Outputs go beside the inputs: this one is most likely an earlier run's output.
            result.settled.append(Result(source, None, SKIPPED, f"name ends with the output suffix {suffix!r}"))
            continue
        if real in inputs_found:
            result.settled.append(Result(source, target, SKIPPED, f"output {target} would overwrite an input file"))
            continue
        if real in claimed and claimed[real] != _real(source):
            raise ValueError(f"{claimed[real]} and {source} would both be written to {target}")
        if real not in claimed:
            claimed[real] = _real(source)
            result.jobs.append(Job(source, target))
    return result


def process(job: Job, settings: Settings) -> Result:
    """Read, enhance and write one photo; whatever it raises becomes a failed :class:`Result`.

    Only an interrupt (KeyboardInterrupt, SystemExit) goes through: it is the
    user's, not the photo's.
    """
    from .. import enhance
    from ..io.images import read_photo, write_photo

    start = time.perf_counter()
    source = job.source
    try:
        with urls.local_copy(job.source) as source, urls.staged(job.target) as target:
            photo = read_photo(source, max_pixels=settings.max_pixels)
            out = enhance(
                photo.array,
                settings.steps,
                strength=settings.strength,
                denoise=settings.denoise,
                dtype=photo.array.dtype.type,
                threads=settings.threads,
                model=settings.model,
                engine=settings.engine,
            )
            target.parent.mkdir(parents=True, exist_ok=True)
            write_photo(target, out, photo.metadata, quality=settings.quality, subsampling=settings.subsampling)
    except Exception as exc:  # the per-photo boundary: one photo never stops a batch
        reason = str(exc) or type(exc).__name__
        if not isinstance(exc, (OSError, ValueError)):
            reason = f"{type(exc).__name__}: {reason}"  # not one of ours: say what kind of failure it was
        reason = reason.removeprefix(f"{source}: ")  # the local copy of an object is named for it
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
    stop: threading.Event | None = None,
    execute: Executor | None = None,
) -> list[Result]:
    """Process ``jobs``; call ``report`` as each one finishes; return every result.

    With ``workers`` > 1 that many photos are in flight at once, each engine
    call getting an equal share of the cores, so reading and writing one
    photo overlaps enhancing another. Temporaries left in the output folders
    by killed earlier runs are removed first. ``execute`` runs the jobs left
    after ``skip_existing`` elsewhere instead (``zdce batch --cluster``): it is
    called as ``execute(jobs, settings, settle, stop)``, must call ``settle``
    with each result and return once ``stop`` is set and the photos in
    progress are settled.

    Once ``stop`` is set (by the caller's Ctrl-C or SIGTERM handler), no new
    photo is started; those in progress are finished and reported, and the
    results so far are returned. Jobs never started have no result. If the
    run is aborted (an exception, such as a second Ctrl-C), outputs written
    during it are reported done before the exception goes on, so the results
    match what is on disk.
    """
    from ..threads import available_cores

    if workers < 1:
        raise ValueError(f"--workers must be at least 1, got {workers}")
    stop = stop or threading.Event()
    results: list[Result] = []

    def settle(result: Result) -> None:
        results.append(result)
        report(result)

    present = urls.existing(job.target for job in jobs) if skip_existing else set()
    pending = []
    for job in jobs:
        if job.target in present:
            settle(Result(job.source, job.target, SKIPPED, "output exists"))
        elif dry_run:
            settle(Result(job.source, job.target, PLANNED))
        else:
            pending.append(job)
    if not pending:
        return results
    for folder in sorted({job.target.parent for job in pending if not isinstance(job.target, URL)}):
        remove_stale(folder)  # object stores have no temporaries: see urls.staged
    if settings.threads is None:
        settings = replace(settings, threads=max(1, available_cores() // workers))
    started = time.time()
    try:
        if execute is not None:
            execute(pending, settings, settle, stop)
        elif workers == 1:
            for job in pending:
                if stop.is_set():
                    break
                settle(process(job, settings))
        else:
            _run_parallel(pending, settings, workers, settle, stop)
    except BaseException:
        # Aborted (a second Ctrl-C): photos already on a worker or a thread may still have been
        # written. Atomic writes make any such output whole; the summary must count it as on disk.
        _settle_written(pending, results, started, settle)
        raise
    return results


def _settle_written(jobs: Sequence[Job], results: list[Result], since: float, settle: Callable[[Result], None]) -> None:
    settled = {r.source for r in results}
    unsettled = [job for job in jobs if job.source not in settled]
    written = urls.written_since((job.target for job in unsettled), since - 1)  # coarse file-system clocks
    for job in unsettled:
        if job.target in written:
            settle(Result(job.source, job.target, DONE, "finished while the run was stopping"))


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
        "source": str(result.source),
        "target": str(result.target) if result.target else None,
        "status": result.status,
        "reason": result.reason,
        "seconds": round(result.seconds, 3),
    }

