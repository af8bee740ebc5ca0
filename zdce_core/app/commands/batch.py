"""``zdce batch INPUT... -o OUTDIR``: enhance files, folders and globs into another folder."""

from __future__ import annotations

import argparse
import json
import sys

from .. import batch
from ...io import urls
from ...io.metadata import SUBSAMPLING
from ..console import printable, quiet_decoders, say
from ..signals import exit_status, stop_on_signals
from .options import add_engine_options, add_max_pixels_option, bounded, engine_settings


def register(sub, name: str, help: str) -> None:
    p = sub.add_parser(
        name,
        help=help,
        description=(
            "Enhance every photo named by INPUT (files, folders, quoted globs such as 'shots/*.jpg') into "
            "OUTDIR, keeping names, formats, bit depth, alpha, EXIF, ICC profile and DPI. Inputs are never "
            "written over. Exit status: 0 when nothing failed, 1 when any file failed, 2 on a usage error, "
            "130 after Ctrl-C, 143 after SIGTERM, 129 after SIGHUP."
        ),
    )
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="image file, folder or glob, or a URL of one (file://, s3://BUCKET/PREFIX/, gs://...)")
    p.add_argument("-o", "--output", required=True, metavar="OUTDIR", help="folder for the results, or its URL (file://, s3://BUCKET/PREFIX/, gs://...)")
    p.add_argument("-r", "--recursive", action="store_true", help="descend into sub-folders (and ** in globs), keeping the structure")
    p.add_argument("--suffix", default="", help="add this before the extension (needed when OUTDIR is an input folder)")
    p.add_argument("--skip-existing", action="store_true", help="leave outputs that already exist (resume an interrupted run)")
    p.add_argument("--dry-run", action="store_true", help="list what would be written, write nothing")
    p.add_argument("--workers", type=bounded(1, 64), metavar="N", help="photos in flight at once (default 1; not with --cluster)")
    p.add_argument(
        "--cluster",
        metavar="ADDRESS",
        help="run on a Dask cluster: a scheduler address (tcp://HOST:8786) or local:N for N worker processes "
        "here; needs pip install 'zdce[dask]'",
    )
    add_engine_options(p)
    p.add_argument(
        "--subsampling",
        choices=("keep", *SUBSAMPLING),
        default="keep",
        help="JPEG chroma subsampling; keep = the source JPEG's, 4:2:0 for other sources (default keep)",
    )
    add_max_pixels_option(p)
    out = p.add_mutually_exclusive_group()
    out.add_argument("-q", "--quiet", action="store_true", help="print only failures")
    out.add_argument("--json", action="store_true", help="print the summary as JSON on stdout")
    p.set_defaults(func=run)


class _Reporter:
    """Per-file feedback: a progress bar on a terminal, one log line per file otherwise."""

    def __init__(self, total: int, show_bar: bool, quiet: bool) -> None:
        self.quiet = quiet
        self.bar = None
        if show_bar and sys.stderr.isatty() and total:
            from tqdm import tqdm

            self.bar = tqdm(total=total, unit="photo", file=sys.stderr, dynamic_ncols=True)

    def __call__(self, result: batch.Result) -> None:
        if result.status == batch.FAILED:
            line = f"failed   {result.source}: {result.reason}"
        elif self.quiet:
            line = None
        elif result.status == batch.DONE:
            line = None if self.bar else f"done     {result.source} -> {result.target} ({result.seconds:.1f} s)"
        elif result.status == batch.PLANNED:
            line = f"would write {result.target} from {result.source}"
        else:
            line = None if self.bar else f"skipped  {result.source}: {result.reason}"
        if line and self.bar:
            self.bar.write(printable(line), file=sys.stderr)
        elif line:
            say(line)
        if self.bar and result.status != batch.PLANNED:
            self.bar.update()

    def close(self) -> None:
        if self.bar:
            self.bar.close()


def run(args: argparse.Namespace) -> int:
    if args.cluster and args.workers is not None:
        # A Dask worker runs one photo at a time with all its threads: the cluster's size is what to change.
        raise ValueError("--workers does not apply with --cluster; size the cluster instead (local:N, or more Dask workers)")
    execute = _cluster_executor(args.cluster) if args.cluster else None
    inputs = [urls.location(spec) for spec in args.inputs]
    planned = batch.plan(inputs, urls.location(args.output), recursive=args.recursive, suffix=args.suffix)
    settings = engine_settings(
        args,
        subsampling=None if args.subsampling == "keep" else args.subsampling,
        max_pixels=args.max_pixels,
    )
    show_bar = not (args.quiet or args.json or args.dry_run)
    results: list[batch.Result] = []
    status = None
    # Inside the block descriptor 2 is the null device and sys.stderr a copy of the terminal:
    # the bar is made there, or it would draw on the null device until the end.
    with quiet_decoders():
        reporter = _Reporter(len(planned.jobs) + len(planned.settled), show_bar, args.quiet)

        def report(result: batch.Result) -> None:
            results.append(result)
            reporter(result)

        try:
            for result in planned.settled:
                report(result)
            with stop_on_signals("batch") as (stop, received):
                batch.run(
                    planned.jobs,
                    settings,
                    workers=args.workers or 1,
                    skip_existing=args.skip_existing,
                    dry_run=args.dry_run,
                    report=report,
                    stop=stop,
                    execute=execute,
                )
            if received:
                status = exit_status(received[0])
        except KeyboardInterrupt as exc:  # the second Ctrl-C or SIGTERM
            status = exit_status(exc)
        finally:
            reporter.close()
    _print_summary(results, args, interrupted=status is not None)
    if status is not None:
        return status
    return 1 if any(r.status == batch.FAILED for r in results) else 0


def _cluster_executor(address: str) -> batch.Executor:
    try:
        from .. import cluster
    except ImportError as exc:
        raise ValueError(str(exc)) from None
    return cluster.executor(address)


def _print_summary(results: list[batch.Result], args: argparse.Namespace, interrupted: bool) -> None:
    counts = batch.summarise(results)
    if args.json:
        ordered = sorted(results, key=lambda r: str(r.source))
        payload = {**counts, "interrupted": interrupted, "results": [batch.as_dict(r) for r in ordered]}
        for line in json.dumps(payload, indent=2).splitlines():  # ASCII: names stay exact, JSON-escaped
            say(line, sys.stdout)
        return
    failed = [r for r in results if r.status == batch.FAILED]
    if args.quiet:
        return
    words = ", ".join(f"{n} {status}" for status, n in counts.items())
    say(f"zdce batch: {words}{' (interrupted)' if interrupted else ''}", sys.stdout)
    for r in sorted(failed, key=lambda r: str(r.source)):
        say(f"  failed: {r.source}: {r.reason}", sys.stdout)
