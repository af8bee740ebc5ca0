"""``zdce train DIR -o OUT.pt``: every training is a run in a runs folder, optionally sent to trackers."""

from __future__ import annotations

import argparse
import functools
import logging
import shlex
import sys
import time
from pathlib import Path

from ..console import printable, say
from .options import DefaultsFormatter


def register(sub, name: str, help: str) -> None:
    p = sub.add_parser(
        name,
        help=help,
        formatter_class=DefaultsFormatter,
        epilog="examples: zdce train ~/Pictures/dark -o my.pt --name first --tracker mlflow   |   "
        "zdce train ~/Pictures/dark -o mine.pt --from bundled   (fine-tuning, docs/fine-tuning.md)",
    )
    p.add_argument("directory", help="folder of training photos, or a video file whose frames to train on "
                   "(sampled into the run folder; needs pip install 'zdce[video]')")
    p.add_argument("-o", "--output", required=True, help="where to write the weights (.pt)")
    add_train_options(p)
    p.set_defaults(func=functools.partial(run, parser=p))


def add_train_options(p: argparse.ArgumentParser) -> None:
    """Every option of ``zdce train`` but the folder and ``-o``: the settings a run (or a sweep's trial) takes."""
    from ...contract import ESTIMATE_SIDE
    from ...training.config import TrainConfig as defaults
    from ...training.frames import DEFAULT_FRAMES
    from ...training.schedule import FINE_TUNING, SCRATCH

    p.add_argument("--from", dest="start_from", metavar="MODEL",
                   help="fine-tune: start from these weights instead of random ones: 'bundled', a .pt from zdce train "
                   "or a .npz; --epochs and --lr then default to the fine-tuning schedule")
    p.add_argument("--epochs", type=int, help=f"passes over the training photos (default {SCRATCH['epochs']}, "
                   f"with --from {FINE_TUNING['epochs']})")
    p.add_argument("--batch-size", type=int, default=defaults.batch_size, help="crops per optimisation step")
    p.add_argument(
        "--crop", type=int, default=defaults.crop,
        help=f"side of the square training crops; the network sees them reduced to at most {ESTIMATE_SIDE} px",
    )
    p.add_argument("--lr", type=float, help=f"Adam learning rate at the start (default {SCRATCH['lr']}, "
                   f"with --from {FINE_TUNING['lr']})")
    p.add_argument("--lr-final", type=float, default=defaults.lr_final, metavar="FRACTION",
                   help="share of --lr left at the end (the rate decays along a half cosine)")
    p.add_argument("--frames", type=int, default=DEFAULT_FRAMES, metavar="N",
                   help="with a video file for DIRECTORY: how many frames to sample, evenly over its length")
    p.add_argument("--val", metavar="DIR", help="folder of validation photos (default: hold out --val-fraction)")
    p.add_argument("--val-fraction", type=float, default=defaults.val_fraction,
                   help="share of DIRECTORY held out for validation")
    p.add_argument("--seed", type=int, default=defaults.seed, help="seed of the split, shuffles, crops and initial weights")
    p.add_argument("--device", default=defaults.device, help="cpu, cuda, or auto: CUDA when present")
    p.add_argument("--resume", action="store_true",
                   help="continue from OUTPUT's .state.pt file (with the same --name); the learning rate's schedule "
                   "follows --epochs, so a different --epochs finishes the run sooner or later along its own curve")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    add_run_options(p)


def add_run_options(p: argparse.ArgumentParser) -> None:
    """The run folder and the trackers."""
    from ...training.config import SAMPLE_EVERY

    g = p.add_argument_group("runs and trackers")
    g.add_argument("--name", help="the run's name (default: the start time, YYYYMMDD-HHMMSS)")
    g.add_argument("--runs-dir", help="folder of run folders (default: runs/ beside OUTPUT)")
    g.add_argument("--tracker", action="append", default=[], metavar="NAME",
                   help="also log to this tracker, repeatable: mlflow, tensorboard, wandb or a plug-in's "
                   "(each an optional extra: pip install 'zdce[mlflow]')")
    g.add_argument("--tracking-uri", metavar="URI",
                   help="MLflow tracking server or store (default: a local store, RUNS_DIR/mlflow.db)")
    g.add_argument("--sample-every", type=int, default=SAMPLE_EVERY, metavar="N",
                   help="write a sample sheet every N epochs (and always after the last)")
    g.add_argument("--keep-best", metavar="METRIC",
                   help="also keep best.pt, the weights of the epoch with the lowest METRIC, "
                   "e.g. val_total (a loss term, val_ and a loss term, val_noise, val_clipped or val_black_lift)")


class _Progress:
    """What a user watches. On a terminal, a bar: epoch x/N, the last epoch's loss, time left (tqdm's
    estimate), with log records (such as MLflow's first-use lines) printed above it, not into it. Otherwise
    (a log file, a pipe) one line per epoch, as ``zdce batch`` writes one per photo."""

    def __init__(self, enabled: bool):
        self.enabled = enabled
        self.bar = None
        self._streams: list[tuple[logging.StreamHandler, object]] = []

    def on_run_start(self, run: dict) -> None:
        say(validation_line(run))
        self.epochs, batches = run["config"]["epochs"], run["batches_per_epoch"]
        start = run.get("start_epoch", 0)
        if not (self.enabled and _is_terminal(sys.stderr)):
            return
        from tqdm import tqdm

        self.bar = tqdm(total=self.epochs * batches, initial=start * batches, unit="batch", file=sys.stderr,
                        desc=f"epoch {min(start + 1, self.epochs)}/{self.epochs}", dynamic_ncols=True)
        above = _AboveBar(self.bar)
        for handler in _console_handlers():
            self._streams.append((handler, handler.setStream(above)))

    def on_batch_end(self, epoch: int, batch: int, batches: int) -> None:
        if self.bar is not None:
            self.bar.set_description(f"epoch {epoch}/{self.epochs}", refresh=False)
            self.bar.update(1)

    def on_epoch_end(self, epoch: int, metrics: dict, model) -> None:
        shown = {"loss": f"{metrics['total']:.4f}"}
        if "val_total" in metrics:
            shown["val"] = f"{metrics['val_total']:.4f}"
        if self.bar is not None:
            self.bar.set_postfix(shown)
        elif self.enabled:
            say(f"epoch {epoch}/{self.epochs}: " + ", ".join(f"{k} {v}" for k, v in shown.items())
                + f" ({metrics['seconds']:.0f} s)")

    def close(self) -> None:
        for handler, stream in reversed(self._streams):
            handler.setStream(stream)
        self._streams.clear()
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def _is_terminal(stream) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # replaced or closed
        return False


def _console_handlers() -> list[logging.StreamHandler]:
    """The handlers, on any logger, that write log records to a stream other than a file."""
    loggers = [logging.getLogger(), *(lg for lg in logging.Logger.manager.loggerDict.values() if isinstance(lg, logging.Logger))]
    return [h for lg in loggers for h in lg.handlers
            if isinstance(h, logging.StreamHandler) and not isinstance(h, logging.FileHandler)]


class _AboveBar:
    """A stream for log handlers while the bar shows: each complete line is printed above the bar."""

    def __init__(self, bar):
        self.bar, self.pending = bar, ""

    def write(self, text: str) -> int:
        *lines, self.pending = (self.pending + text).split("\n")
        for line in lines:
            self.bar.write(printable(line), file=sys.stderr)
        return len(text)

    def flush(self) -> None:
        pass


def validation_line(run: dict) -> str:
    """The line that says what a run validates on (a small folder may hold none out)."""
    n_val, n_train = run["val_photos"], run["train_photos"]
    if n_val:
        where = f"from {run['val_dir']}" if run.get("val_dir") else "held out"
        return f"validation: {n_val} photo(s) {where}, {n_train} to train on; the sample sheets show the darkest"
    return (f"validation: none ({n_train} photo(s) are too few to hold any out, or --val-fraction is 0; "
            "give --val DIR for validation losses); the sample sheets show the darkest training photos")


def start_from(value: str | None) -> Path | None:
    """``--from``: ``bundled`` is the bundled checkpoint's file; anything else a weights file."""
    from ...weights import bundled_path

    if value is None:
        return None
    return bundled_path() if value == "bundled" else Path(value)


def train_config(args: argparse.Namespace):
    """The loop's settings from the options: the fine-tuning schedule's defaults with ``--from``."""
    from ...training.config import TrainConfig

    given = {k: getattr(args, k) for k in ("epochs", "lr") if getattr(args, k) is not None}
    settings = dict(batch_size=args.batch_size, crop=args.crop, lr_final=args.lr_final,
                    val_fraction=args.val_fraction, seed=args.seed, device=args.device, **given)
    return TrainConfig.fine_tuning(**settings) if args.start_from else TrainConfig(**settings)


def check_options(args: argparse.Namespace) -> None:
    """One-line errors for option values out of range, before anything is read or written."""
    from ...training.runs import keep_best_metrics

    if args.keep_best and args.keep_best not in keep_best_metrics():
        raise ValueError(f"--keep-best={args.keep_best} is not a metric; use one of {', '.join(keep_best_metrics())}")
    if not 0 <= args.lr_final <= 1:
        raise ValueError(f"--lr-final={args.lr_final} is invalid; use a share of --lr from 0 to 1, e.g. 0.05 (1: a constant rate)")
    if not 0 <= args.val_fraction < 1:
        raise ValueError(f"--val-fraction={args.val_fraction} is invalid; use a share from 0 to below 1, e.g. 0.05")
    if args.sample_every < 1:
        raise ValueError(f"--sample-every={args.sample_every} is invalid; use 1 or more epochs")
    if args.frames < 1:
        raise ValueError(f"--frames={args.frames} is invalid; sample 1 or more frames of a video")


def video_frames(args: argparse.Namespace, folder: Path) -> dict | None:
    """With a video file for DIRECTORY: its frames sampled into ``folder`` (once), ``args.directory`` pointed there.

    Returns the clip's description (:func:`zdce_core.training.frames.sample_frames`), ``None`` for a folder.
    """
    from ...training.frames import frames_of, is_video

    if not is_video(args.directory):
        return None
    described = frames_of(args.directory, folder, count=args.frames, max_side=2 * args.crop)
    args.directory = str(folder)
    return described


def command_line(parser: argparse.ArgumentParser, args: argparse.Namespace, **changes) -> str:
    """The command (``zdce train``, ``zdce sweep``) that gives ``args`` (with ``changes``), options at their defaults left out."""
    words = shlex.split(parser.prog)
    for action in parser._actions:
        if action.dest in ("help", "func"):
            continue
        value = changes.get(action.dest, getattr(args, action.dest, None))
        if not action.option_strings:
            words.append(str(value))
        elif value in (None, False, []) or value == action.default:
            continue
        elif value is True:
            words.append(action.option_strings[-1])
        else:
            for item in value if isinstance(value, list) else [value]:
                words += [action.option_strings[-1], str(item)]
    return shlex.join(words)


def run(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from ...training.loop import _state_path

    check_options(args)
    args.name = args.name or time.strftime("%Y%m%d-%H%M%S")
    try:
        result, recorder = train_run(args)
    except KeyboardInterrupt:
        print(f"\ninterrupted: {_saved(_state_path(Path(args.output)))}; an epoch in progress starts over."
              f"\nresume with:\n  {command_line(parser, args, resume=True)}", file=sys.stderr)
        return 130
    _report(result, recorder)
    return 0


def runs_folder(args: argparse.Namespace) -> Path:
    """``--runs-dir``, by default ``runs/`` beside the output."""
    return Path(args.runs_dir) if args.runs_dir else Path(args.output).parent / "runs"


def train_run(args: argparse.Namespace, *, group: str | None = None):
    """Train as the options say, as the run ``args.name`` (in a group of runs, for a sweep): ``(TrainResult, RunRecorder)``.

    The run folder records an interruption or a failure before the exception goes on.
    """
    from ...training import trackers as tracking
    from ...training.loop import train
    from ...training.runs import RunRecorder

    runs_dir = runs_folder(args)
    folder = runs_dir / args.name
    if folder.exists() and any(folder.iterdir()) and not args.resume:
        raise ValueError(f"{folder}: a run of that name exists; choose another --name, or add --resume to continue it")
    # Every chosen tracker is created (its library imported) before any photo is read: a missing extra fails at once.
    chosen = {t: tracking.create(t) for t in dict.fromkeys(args.tracker)}
    settings = {k: v for k, v in vars(args).items() if k != "func"} | {"runs_dir": str(runs_dir)}
    video = video_frames(args, folder / "frames")
    if video:
        settings["video"] = video
    recorder = RunRecorder(folder, settings=settings, trackers=chosen, sample_every=args.sample_every,
                           keep_best=args.keep_best, tracking_uri=args.tracking_uri, resume=args.resume, group=group)
    progress = _Progress(not args.quiet)
    try:
        result = train(args.directory, Path(args.output), train_config(args), val_dir=args.val, resume=args.resume,
                       start_from=start_from(args.start_from), callbacks=[recorder, progress])
    except KeyboardInterrupt:
        progress.close()
        recorder.abort("interrupted")
        raise
    except BaseException:
        progress.close()
        recorder.abort("failed")
        raise
    progress.close()
    return result, recorder


def _saved(state_path: Path) -> str:
    """What the training state file holds, read back: the interrupt may have come at any point."""
    import torch

    if not state_path.exists():
        return "no epoch had finished"
    epoch = torch.load(state_path, map_location="cpu", weights_only=True)["epoch"]
    return f"the state after epoch {epoch} is saved in {state_path}"


def _report(result, recorder) -> None:
    folder, last = recorder.folder, (result.epoch_losses[-1] if result.epoch_losses else {})
    val = f", validation loss {last['val_total']:.4f}" if "val_total" in last else ""
    print(f"run {recorder.name} finished: {last.get('epoch', 0)} epochs, final loss {last.get('total', float('nan')):.4f}{val}")
    print(f"  samples     {folder / 'samples'}/ (latest {recorder.last_sheet.name if recorder.last_sheet else 'none'})")
    print(f"  metrics     {folder / 'metrics.csv'}")
    print(f"  checkpoint  {result.output} (sha256 {recorder.config['sha256'][:16]}..., copy in {folder / 'model.pt'})")
    print(f"  model card  {folder / 'MODEL_CARD.md'}")
    if recorder.config.get("parent"):
        parent = recorder.config["parent"]
        print(f"  parent      {parent['file']} (sha256 {parent['sha256'][:16]}...)")
    if recorder.best:
        print(f"  best        {folder / 'best.pt'} (epoch {recorder.best[0]}, {recorder.keep_best} {recorder.best[1]:.4f})")
    for name in recorder.trackers:
        print(f"  tracker     {name}")
    print("use it:")
    print(f"  zdce batch PHOTOS... -o OUTDIR --model {result.output}")
    print(f"  ZDCE_MODEL={result.output} gimp        # GIMP, darktable and ImageMagick start the engine with it")
    print(f"  zdce export {result.output} -o {Path(result.output).with_suffix('.npz')}"
          "        # the same weights for an install without torch")
    print(f"  zdce runs {folder.parent}")
    print(f"  zdce runs compare {recorder.name} OTHER_RUN --runs-dir {folder.parent} -o compare.jpg")
    if result.skipped:
        print(f"skipped {len(result.skipped)} unreadable file(s):", file=sys.stderr)
        for path, reason in result.skipped:
            say(f"  {path}: {reason}")
