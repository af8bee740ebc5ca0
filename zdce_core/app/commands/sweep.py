"""``zdce sweep DIR --trials N --param lr=1e-4..3e-3:log``: search training settings with Optuna, each trial a run.

Every trial is an ordinary ``zdce train`` run in the runs folder (named
``SWEEP-NNN``, its weights in its own ``model.pt``), tracked like any other and
tagged with the sweep's name as its group. The objective is the trial's
validation loss after its last epoch (``val_total``: the zero-reference loss on
the held-out photos, which are the same photos, views and loss weights for every
trial; lower is better). The study lives in ``RUNS_DIR/SWEEP.optuna.db``
(SQLite), so ``--resume`` continues a sweep that Ctrl-C stopped: finished trials
are kept, an interrupted one stays in the runs folder marked ``interrupted``.
"""

from __future__ import annotations

import argparse
import functools
import math
import shutil
import sys
import time
from pathlib import Path

from .options import DefaultsFormatter

OBJECTIVE = "val_total"
"""The metric a sweep minimises: the last epoch's validation loss."""

SEARCHABLE = ("lr", "lr_final", "epochs", "batch_size")
"""Settings a sweep may vary. Not ``crop``, ``seed`` or ``val_fraction``: they change the validation photos or
views, so the objective would no longer compare like with like."""

COMPARE_BEST = 3
"""Trials ``zdce runs compare`` sets side by side at the end."""


def register(sub, name: str, help: str) -> None:
    from .train import add_train_options

    p = sub.add_parser(
        name,
        help=help,
        formatter_class=DefaultsFormatter,
        epilog="example: zdce sweep ~/Pictures/dark --trials 12 --param lr=1e-4..3e-3:log --param epochs=2..8 "
        "--from bundled --tracker mlflow   (docs/fine-tuning.md)",
    )
    p.add_argument("directory", help="folder of training photos, or a video file (its frames, sampled once for all trials)")
    p.add_argument("--trials", type=int, required=True, help="how many trials (runs) to train")
    p.add_argument("--param", action="append", default=[], metavar="NAME=LOW..HIGH[:log]", required=True,
                   help=f"a setting to search, repeatable: one of {', '.join(SEARCHABLE)} (also spelt with -), "
                   "between LOW and HIGH, on a log scale with :log; integers for epochs and batch_size")
    p.add_argument("-o", "--output", help="also copy the best trial's weights here (.pt)")
    add_train_options(p)
    # The sweep's own meaning of the run options.
    for action in p._actions:
        if action.dest == "name":
            action.help = "the sweep's name, also its trials' prefix (default: sweep-YYYYMMDD-HHMMSS)"
        elif action.dest == "runs_dir":
            action.help = "folder of run folders, where the trials go (default: runs/)"
        elif action.dest == "resume":
            action.help = "continue the sweep --name (Ctrl-C keeps its finished trials) up to --trials in all"
    p.set_defaults(func=functools.partial(run, parser=p))


def parse_param(text: str) -> tuple[str, float, float, bool]:
    """``NAME=LOW..HIGH[:log]`` as ``(name, low, high, log)``; ValueError naming the option and the fix.

    >>> parse_param("lr=1e-4..3e-3:log")
    ('lr', 0.0001, 0.003, True)
    >>> parse_param("epochs=2..8")
    ('epochs', 2.0, 8.0, False)
    """
    example = "e.g. --param lr=1e-4..3e-3:log or --param epochs=2..8"
    name, _, span = text.strip().partition("=")
    log = span.endswith(":log")
    low_text, dots, high_text = span.removesuffix(":log").partition("..")
    if not (name and dots and low_text and high_text):
        raise ValueError(f"--param {text!r} is invalid; use NAME=LOW..HIGH or NAME=LOW..HIGH:log, {example}")
    name = name.replace("-", "_")
    if name not in SEARCHABLE:
        raise ValueError(f"--param {text!r}: {name} cannot be searched; use one of {', '.join(SEARCHABLE)}")
    try:
        low, high = float(low_text), float(high_text)
    except ValueError:
        raise ValueError(f"--param {text!r}: LOW and HIGH must be numbers, {example}") from None
    if not (math.isfinite(low) and math.isfinite(high)) or low > high or (log and low <= 0):
        raise ValueError(f"--param {text!r}: needs LOW <= HIGH{' and LOW > 0 on a log scale' if log else ''}, {example}")
    return name, low, high, log


def distributions(params: list[str], parser: argparse.ArgumentParser) -> dict:
    """Optuna distributions of the ``--param`` options, integer where the ``zdce train`` option is."""
    import optuna

    types = {a.dest: a.type for a in parser._actions}
    found = {}
    for text in params:
        name, low, high, log = parse_param(text)
        if name in found:
            raise ValueError(f"--param {name} is given twice; give each setting once")
        if types.get(name) is int:
            if low != int(low) or high != int(high) or low < 1:
                raise ValueError(f"--param {text!r}: {name} takes whole numbers from 1, e.g. {name}=2..8")
            found[name] = optuna.distributions.IntDistribution(int(low), int(high), log=log)
        else:
            found[name] = optuna.distributions.FloatDistribution(low, high, log=log)
    return found


def _require_optuna():
    try:
        import optuna
    except ImportError:
        raise ValueError("zdce sweep needs its optional extra: pip install 'zdce[sweep]'") from None
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna


def _check_validation(args: argparse.Namespace) -> None:
    """A sweep is judged on validation photos: refuse a folder that would hold none out."""
    from ...io.images import list_images
    from ...training.loop import validation_count

    if args.val:
        return
    folder = Path(args.directory)
    if not folder.is_dir():
        raise ValueError(f"{folder}: not a folder of training photos")
    n = len(list_images(folder))
    if validation_count(n, args.val_fraction) == 0:
        raise ValueError(f"{folder}: {n} photo(s) leave none for validation, which a sweep is judged on; "
                         "give --val DIR, or at least 5 photos with --val-fraction above 0")


def run(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from ...io.atomic import atomic_path
    from .train import check_options, command_line, train_run, video_frames

    check_options(args)
    optuna = _require_optuna()
    if args.trials < 1:
        raise ValueError(f"--trials={args.trials} is invalid; use 1 or more")
    space = distributions(args.param, parser)
    sweep = args.name or time.strftime("sweep-%Y%m%d-%H%M%S")
    runs_dir = Path(args.runs_dir or "runs")
    db = runs_dir / f"{sweep}.optuna.db"
    if db.exists() and not args.resume:
        raise ValueError(f"{db}: a sweep named {sweep} exists; choose another --name, or add --resume to continue it")
    video_frames(args, runs_dir / f"{sweep}.frames")  # a video's frames, sampled once for all trials (a folder: nothing)
    _check_validation(args)  # before the study or any trial is written
    runs_dir.mkdir(parents=True, exist_ok=True)
    study = optuna.create_study(storage=f"sqlite:///{db.resolve()}", study_name=sweep, direction="minimize",
                                sampler=optuna.samplers.TPESampler(seed=args.seed), load_if_exists=True)
    done = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    print(f"sweep {sweep}: {args.trials} trial(s) ({len(done)} done), minimising {OBJECTIVE}, "
          f"searching {', '.join(_describe(t) for t in args.param)}; study {db}", file=sys.stderr)
    interrupted, trial, value = False, None, None
    try:
        while len([t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]) < args.trials:
            trial, value = study.ask(space), None
            name = f"{sweep}-{trial.number:03d}"
            trial.set_user_attr("run", name)
            trial_args = argparse.Namespace(**{
                **vars(args), **trial.params, "name": name, "runs_dir": str(runs_dir),
                "output": str(runs_dir / name / "model.pt"), "resume": False,
            })
            started = time.perf_counter()
            result, _ = train_run(trial_args, group=sweep)
            value = result.epoch_losses[-1][OBJECTIVE]
            trial.set_user_attr("seconds", time.perf_counter() - started)
            study.tell(trial, value)
            trial = None
            print(f"trial {name}: {_settings({k: getattr(trial_args, k) for k in space})} -> {OBJECTIVE} {value:.5g}",
                  file=sys.stderr)
    except KeyboardInterrupt:
        interrupted = True
    finally:
        if trial is not None and value is not None:  # stopped after the trial's run finished, maybe before the study heard
            study.tell(trial, value, skip_if_finished=True)
        elif trial is not None:  # stopped during the trial's run, which records itself as interrupted or failed
            study.tell(trial, state=optuna.trial.TrialState.FAIL, skip_if_finished=True)

    finished = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    print(summary_table(study.trials, list(space)))
    best = sorted(finished, key=lambda t: t.value)[:COMPARE_BEST]
    if best:
        _compare(best, runs_dir, sweep)
    if best and args.output:
        with atomic_path(Path(args.output)) as tmp:
            shutil.copyfile(runs_dir / best[0].user_attrs["run"] / "model.pt", tmp)
        print(f"best trial {best[0].number} ({best[0].user_attrs['run']}): weights copied to {args.output}")
    if interrupted:
        print(f"\ninterrupted: {len(finished)} finished trial(s) kept in {runs_dir}; continue with:\n"
              f"  {command_line(parser, args, name=sweep, resume=True)}", file=sys.stderr)
        return 130
    return 0


def _describe(text: str) -> str:
    name, low, high, log = parse_param(text)
    return f"{name} {low:g}..{high:g}{' (log)' if log else ''}"


def _settings(params: dict) -> str:
    return ", ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in params.items())


def summary_table(trials: list, names: list[str]) -> str:
    """One row per trial: its number, run, settings, objective, state and time; the best marked ``*``."""
    from .runs import _table

    complete = [t for t in trials if t.value is not None]
    best = min(complete, key=lambda t: t.value).number if complete else None
    rows = [("TRIAL", "RUN", *(n.upper() for n in names), OBJECTIVE.upper(), "STATE", "SECONDS")]
    for t in trials:
        rows.append((
            f"{t.number}{' *' if t.number == best else ''}",
            t.user_attrs.get("run", "-"),
            *(f"{t.params[n]:.3g}" if isinstance(t.params.get(n), float) else str(t.params.get(n, "-")) for n in names),
            f"{t.value:.5g}" if t.value is not None else "-",
            t.state.name.lower(),
            f"{t.user_attrs['seconds']:.0f}" if "seconds" in t.user_attrs else "-",
        ))
    return _table(rows)


def _compare(best: list, runs_dir: Path, sweep: str) -> None:
    """``zdce runs compare`` over the best trials: their sheet beside each other and their metrics."""
    from .runs import run_compare

    sheet = runs_dir / f"{sweep}-best.jpg"
    print(f"\nzdce runs compare {' '.join(t.user_attrs['run'] for t in best)} --runs-dir {runs_dir} -o {sheet}")
    try:
        run_compare([t.user_attrs["run"] for t in best],
                    argparse.Namespace(output=str(sheet), runs_dir=str(runs_dir), photos=None, height=200))
    except ValueError as exc:  # the trials are kept whatever happens to the sheet (say, no sample photo was readable)
        print(f"zdce runs compare: {exc}", file=sys.stderr)
