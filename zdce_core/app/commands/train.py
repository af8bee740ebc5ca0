"""``zdce train DIR -o OUT.pt``: every training is a run in a runs folder, optionally sent to trackers."""

from __future__ import annotations

import argparse
import functools
import shlex
import sys
import time
from pathlib import Path

from .options import DefaultsFormatter


def register(sub, name: str, help: str) -> None:
    from ...maths.estimator import ESTIMATE_SIDE

    p = sub.add_parser(
        name,
        help=help,
        formatter_class=DefaultsFormatter,
        epilog="example: zdce train ~/Pictures/dark -o my.pt --name first --tracker mlflow",
    )
    p.add_argument("directory", help="folder of training photos")
    p.add_argument("-o", "--output", required=True, help="where to write the weights (.pt)")
    p.add_argument("--epochs", type=int, default=30, help="passes over the training photos")
    p.add_argument("--batch-size", type=int, default=8, help="crops per optimisation step")
    p.add_argument(
        "--crop", type=int, default=2 * ESTIMATE_SIDE,
        help=f"side of the square training crops; the network sees them reduced to at most {ESTIMATE_SIDE} px",
    )
    p.add_argument("--lr", type=float, default=1e-3, help="Adam learning rate at the start")
    p.add_argument("--lr-final", type=float, default=0.05, metavar="FRACTION",
                   help="share of --lr left at the end (the rate decays along a half cosine)")
    p.add_argument("--val", metavar="DIR", help="folder of validation photos (default: hold out --val-fraction)")
    p.add_argument("--val-fraction", type=float, default=0.05, help="share of DIRECTORY held out for validation")
    p.add_argument("--seed", type=int, default=0, help="seed of the split, shuffles, crops and initial weights")
    p.add_argument("--device", default="auto", help="cpu, cuda, or auto: CUDA when present")
    p.add_argument("--resume", action="store_true",
                   help="continue from OUTPUT's .state.pt file (with the same --name); the learning rate's schedule "
                   "follows --epochs, so a different --epochs finishes the run sooner or later along its own curve")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    add_run_options(p)
    p.set_defaults(func=functools.partial(run, parser=p))


def add_run_options(p: argparse.ArgumentParser) -> None:
    """The run folder and the trackers."""
    g = p.add_argument_group("runs and trackers")
    g.add_argument("--name", help="the run's name (default: the start time, YYYYMMDD-HHMMSS)")
    g.add_argument("--runs-dir", help="folder of run folders (default: runs/ beside OUTPUT)")
    g.add_argument("--tracker", action="append", default=[], metavar="NAME",
                   help="also log to this tracker, repeatable: mlflow, tensorboard, wandb or a plug-in's "
                   "(each an optional extra: pip install 'zdce[mlflow]')")
    g.add_argument("--tracking-uri", metavar="URI",
                   help="MLflow tracking server or store (default: a local store, RUNS_DIR/mlflow.db)")
    g.add_argument("--sample-every", type=int, default=5, metavar="N",
                   help="write a sample sheet every N epochs (and always after the last)")
    g.add_argument("--keep-best", metavar="METRIC",
                   help="also keep best.pt, the weights of the epoch with the lowest METRIC, "
                   "e.g. val_total (a loss term, val_ and a loss term, val_noise, val_clipped or val_black_lift)")


class _Progress:
    """The progress bar a user watches: epoch x/N, the last epoch's loss, time left (tqdm's estimate)."""

    def __init__(self, enabled: bool):
        self.enabled = enabled
        self.bar = None

    def on_run_start(self, run: dict) -> None:
        from tqdm import tqdm

        self.epochs, batches = run["config"]["epochs"], run["batches_per_epoch"]
        start = run.get("start_epoch", 0)
        self.bar = tqdm(total=self.epochs * batches, initial=start * batches, unit="batch", disable=not self.enabled,
                        desc=f"epoch {min(start + 1, self.epochs)}/{self.epochs}", dynamic_ncols=True)

    def on_batch_end(self, epoch: int, batch: int, batches: int) -> None:
        self.bar.set_description(f"epoch {epoch}/{self.epochs}", refresh=False)
        self.bar.update(1)

    def on_epoch_end(self, epoch: int, metrics: dict, model) -> None:
        shown = {"loss": f"{metrics['total']:.4f}"}
        if "val_total" in metrics:
            shown["val"] = f"{metrics['val_total']:.4f}"
        self.bar.set_postfix(shown)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def command_line(parser: argparse.ArgumentParser, args: argparse.Namespace, **changes) -> str:
    """The ``zdce train`` command that gives ``args`` (with ``changes``), options at their defaults left out."""
    words = ["zdce", "train"]
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
    from ...training import trackers as tracking
    from ...training.loop import TrainConfig, _state_path, train
    from ...training.runs import RunRecorder, keep_best_metrics

    if args.keep_best and args.keep_best not in keep_best_metrics():
        raise ValueError(f"--keep-best={args.keep_best} is not a metric; use one of {', '.join(keep_best_metrics())}")
    if not 0 <= args.lr_final <= 1:
        raise ValueError(f"--lr-final={args.lr_final} is invalid; use a share of --lr from 0 to 1, e.g. 0.05 (1: a constant rate)")
    if not 0 <= args.val_fraction < 1:
        raise ValueError(f"--val-fraction={args.val_fraction} is invalid; use a share from 0 to below 1, e.g. 0.05")
    if args.sample_every < 1:
        raise ValueError(f"--sample-every={args.sample_every} is invalid; use 1 or more epochs")
    output = Path(args.output)
    runs_dir = Path(args.runs_dir) if args.runs_dir else output.parent / "runs"
    name = args.name or time.strftime("%Y%m%d-%H%M%S")
    folder = runs_dir / name
    if folder.exists() and any(folder.iterdir()) and not args.resume:
        raise ValueError(f"{folder}: a run of that name exists; choose another --name, or add --resume to continue it")
    # Every chosen tracker is created (its library imported) before any photo is read: a missing extra fails at once.
    chosen = {t: tracking.create(t) for t in dict.fromkeys(args.tracker)}
    settings = {k: v for k, v in vars(args).items() if k != "func"} | {"name": name, "runs_dir": str(runs_dir)}
    recorder = RunRecorder(folder, settings=settings, trackers=chosen, sample_every=args.sample_every,
                           keep_best=args.keep_best, tracking_uri=args.tracking_uri, resume=args.resume)
    config = TrainConfig(
        epochs=args.epochs, batch_size=args.batch_size, crop=args.crop, lr=args.lr, lr_final=args.lr_final,
        val_fraction=args.val_fraction, seed=args.seed, device=args.device,
    )
    progress = _Progress(not args.quiet)
    try:
        result = train(
            args.directory, output, config, val_dir=args.val, resume=args.resume, callbacks=[progress, recorder]
        )
    except KeyboardInterrupt:
        progress.close()
        recorder.abort("interrupted")
        print(f"\ninterrupted: {_saved(_state_path(output))}; an epoch in progress starts over."
              f"\nresume with:\n  {command_line(parser, args, name=name, resume=True)}", file=sys.stderr)
        return 130
    except BaseException:
        progress.close()
        recorder.abort("failed")
        raise
    progress.close()
    _report(result, recorder)
    return 0


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
            print(f"  {path}: {reason}", file=sys.stderr)
