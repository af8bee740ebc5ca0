"""``zdce runs [DIR]`` lists training runs; ``zdce runs compare RUN RUN ... -o sheet.jpg`` sets them side by side."""

from __future__ import annotations

import argparse
import math
from pathlib import Path

from .options import DefaultsFormatter

DEFAULT_DIR = "runs"


def register(sub, name: str, help: str) -> None:
    # One parser for both forms: argparse cannot put an optional folder before a sub-command.
    p = sub.add_parser(
        name,
        help=help,
        formatter_class=DefaultsFormatter,
        usage="zdce runs [DIR]\n       zdce runs compare RUN RUN ... -o SHEET [--runs-dir DIR] [--photos PHOTO ...]",
        epilog="examples: zdce runs runs/   |   zdce runs compare lr-1e-3 lr-1e-4 --runs-dir runs -o compare.jpg",
    )
    p.add_argument("words", nargs="*", metavar="DIR | compare RUN ...",
                   help=f"the runs folder to list (default {DEFAULT_DIR}/), or `compare` and run names or run folders")
    p.add_argument("-o", "--output", help="compare: the sheet, one row per photo, one column per run (JPEG or PNG)")
    p.add_argument("--runs-dir", default=DEFAULT_DIR, help="compare: where run names are looked up")
    p.add_argument("--photos", nargs="+", metavar="PHOTO", help="compare: photos to use (default: the first run's sample photos)")
    p.add_argument("--height", type=int, default=200, help="compare: row height in pixels")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.words[:1] == ["compare"]:
        if len(args.words) < 2 or not args.output:
            raise ValueError("compare needs at least one run and -o SHEET, e.g. zdce runs compare RUN1 RUN2 -o compare.jpg")
        return run_compare(args.words[1:], args)
    if len(args.words) > 1:
        raise ValueError(f"list one runs folder at a time (got {len(args.words)}); to compare runs: zdce runs compare RUN ...")
    return run_list(Path(args.words[0] if args.words else DEFAULT_DIR))


def _table(rows: list[tuple[str, ...]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows)


def _number(value) -> str:
    return "-" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.4g}"


def _best(history: list[dict], key: str) -> str:
    scored = [(r[key], r["epoch"]) for r in history if key in r and not math.isnan(r[key])]
    if not scored:
        return "-"
    value, epoch = min(scored)
    return f"{value:.4g}@{epoch}"


def _folders(directory: Path) -> list[Path]:
    if not directory.is_dir():
        raise ValueError(f"{directory}: no such runs folder (zdce train writes runs to --runs-dir, default runs/ beside -o)")
    return sorted(p for p in directory.iterdir() if (p / "config.json").is_file())


def run_list(directory: Path) -> int:
    from ...training.runs import load_config, read_metrics

    folders = _folders(directory)
    if not folders:
        print(f"no runs in {directory}")
        return 0
    rows = [("NAME", "DATE", "DATA", "STATUS", "EPOCHS", "LR", "BATCH", "LOSS", "BEST LOSS", "VAL LOSS", "BEST VAL",
             "VAL LUM", "BLACK LIFT")]
    for folder in folders:
        config = load_config(folder)
        history = read_metrics(folder / "metrics.csv")
        settings = config.get("train", {}).get("config", {})
        last = history[-1] if history else {}
        rows.append((
            config.get("name", folder.name),
            config.get("created", "?")[:16].replace("T", " "),
            f"{config['data']['version']} ({config['data']['photos']})",
            config.get("status", "?"),
            f"{last.get('epoch', 0)}/{settings.get('epochs', '?')}",
            str(settings.get("lr", "?")),
            str(settings.get("batch_size", "?")),
            _number(last.get("total")),
            _best(history, "total"),
            _number(last.get("val_total")),
            _best(history, "val_total"),
            _number(last.get("val_luminance")),
            _number(last.get("val_black_lift")),
        ))
    print(_table(rows))
    return 0


def _resolve(run: str, runs_dir: Path) -> Path:
    for folder in (runs_dir / run, Path(run)):
        if (folder / "config.json").is_file():
            return folder
    raise ValueError(f"{run}: no such run in {runs_dir} (and not a run folder); `zdce runs {runs_dir}` lists them")


def run_compare(runs: list[str], args: argparse.Namespace) -> int:
    from ...io.images import output_format
    from ...io.sheet import render_sheet, save_sheet
    from ...training.runs import load_config, read_metrics, sample_columns
    from ...weights import load_model

    output_format(args.output)  # an unknown extension fails before any photo is enhanced
    runs_dir = Path(args.runs_dir)
    folders = [_resolve(r, runs_dir) for r in runs]
    configs = [load_config(f) for f in folders]
    names = [c.get("name", f.name) for c, f in zip(configs, folders)]
    if len(set(names)) < len(names):
        names = [str(f) for f in folders]
    photos = args.photos or configs[0].get("samples")
    if not photos:
        raise ValueError(f"{folders[0]}: the run records no sample photos; give some with --photos")
    columns = {"original": lambda rgb: rgb}
    for name, folder in zip(names, folders):
        checkpoint = folder / "model.pt"
        if not checkpoint.exists():
            raise ValueError(f"{folder}: no model.pt (the run did not finish; resume it, or leave it out)")
        columns[name] = sample_columns(load_model(checkpoint))["zdce steps 8"]
    save_sheet(render_sheet(photos, columns, height=args.height), args.output)

    histories = [read_metrics(f / "metrics.csv") for f in folders]
    keys = list(dict.fromkeys(k for h in histories for k in (h[-1] if h else {}) if k != "epoch"))
    rows = [("", *names),
            ("data", *(c["data"]["version"] for c in configs)),
            ("epochs", *(str(h[-1]["epoch"] if h else 0) for h in histories))]
    settings = [c.get("train", {}).get("config", {}) for c in configs]
    for key in sorted({k for s in settings for k, v in s.items() if not isinstance(v, dict)}):
        values = [str(s.get(key, "-")) for s in settings]
        if len(set(values)) > 1:  # the settings that differ are the ones a comparison is about
            rows.append((key, *values))
    rows += [(k, *(_number(h[-1].get(k)) if h else "-" for h in histories)) for k in keys]
    print(_table(rows))
    print(f"wrote {args.output}: {len(photos)} photo(s) x original + {len(folders)} run(s), zdce steps 8")
    return 0
