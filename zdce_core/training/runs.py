"""A training run's folder, and the callbacks that fill it and feed the trackers.

One run, ``RUNS_DIR/NAME/``, holds:

- ``config.json``: every setting, the seed, zdce/torch/Python versions, the
  device, the data fingerprint of the training (and validation) folder, the
  parent model (file and sha256) of a fine-tuning run, the sample photos and
  the run's status;
- ``metrics.csv``: one row per epoch (training loss terms, ``val_*``
  validation terms and image measures, learning rate, seconds);
- ``samples/epoch-NNN.jpg``: original | autocontrast | the bundled model (or
  the parent a run was fine-tuned from) | zdce steps 4 | zdce steps 8 of the
  same photos, every ``sample_every`` epochs and at the end: the darkest
  validation photos, or the darkest of all when validation holds fewer than
  twice :data:`N_SAMPLES` (:func:`choose_samples`);
- ``model.pt`` (a copy of the final weights), ``model.pt.sha256``
  (``sha256sum -c`` format), ``MODEL_CARD.md``, and ``best.pt`` when a metric
  to keep the best epoch by was chosen.
"""

from __future__ import annotations

import csv
import hashlib
import json
import math
import os
import platform
import shutil
import time
import warnings
from pathlib import Path

import numpy as np

from ..io.atomic import atomic_path
from ..io.images import ImageReadError, list_images
from ..io.sheet import autocontrast, render_sheet, save_sheet, thumbnail
from .config import SAMPLE_EVERY
from .trackers import RunInfo, Tracker

N_SAMPLES = 4
SAMPLE_HEIGHT = 160
MEASURES = ("val_luminance", "val_clipped", "val_noise", "val_black_lift")
"""No-reference measures of the network's result (steps 8) on the sample photos (the darkest: :func:`choose_samples`), as
:mod:`zdce_core.measures` defines them: mean luminance, clipped share, noise (in
8-bit levels) and near-black lift."""


def keep_best_metrics() -> tuple[str, ...]:
    """The metrics ``--keep-best`` takes: those where lower is better."""
    from .loop import LOSS_NAMES

    return (*LOSS_NAMES, *(f"val_{k}" for k in LOSS_NAMES), "val_clipped", "val_noise", "val_black_lift")


def fingerprint(directory: str | os.PathLike) -> dict:
    """The data version of a folder of photos: count, total bytes, and a hash of relative paths and sizes.

    The same files give the same ``version`` wherever the folder lies and
    whatever the files' dates; a photo added, removed, renamed or resized in
    bytes gives a new one.

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as d:
    ...     _ = (Path(d) / "a.jpg").write_bytes(b"12345")
    ...     first = fingerprint(d)
    ...     _ = (Path(d) / "b.jpg").write_bytes(b"6")
    ...     second = fingerprint(d)
    >>> first["photos"], first["bytes"], second["photos"], second["bytes"]
    (1, 5, 2, 6)
    >>> first["version"] != second["version"]
    True
    """
    directory = Path(directory)
    digest = hashlib.sha256()
    count = total = 0
    for path in list_images(directory):
        size = path.stat().st_size
        digest.update(f"{path.relative_to(directory).as_posix()}\0{size}\n".encode())
        count, total = count + 1, total + size
    full = digest.hexdigest()
    return {"folder": str(directory.resolve()), "photos": count, "bytes": total, "version": full[:12], "sha256": full}


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def versions() -> dict[str, str]:
    import torch

    from .. import __version__

    return {"zdce": __version__, "torch": torch.__version__, "numpy": np.__version__, "python": platform.python_version()}


def flatten(tree: dict, prefix: str = "") -> dict[str, object]:
    """Nested settings as ``a.b.c -> scalar``; lists become comma-separated text.

    >>> flatten({"lr": 0.001, "weights": {"exposure": 10.0}, "trackers": ["mlflow", "wandb"]})
    {'lr': 0.001, 'weights.exposure': 10.0, 'trackers': 'mlflow,wandb'}
    """
    flat: dict[str, object] = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            flat.update(flatten(value, f"{prefix}{key}."))
        elif isinstance(value, (list, tuple)):
            flat[prefix + key] = ",".join(str(v) for v in value)
        else:
            flat[prefix + key] = value
    return flat


def image_measures(originals: list[np.ndarray], results: list[np.ndarray]) -> dict[str, float]:
    """:data:`MEASURES` averaged over photos (uint8 RGB in); ``val_black_lift`` over the photos that have near-black pixels, NaN if none has."""
    from .. import measures

    lifts = [measures.near_black_lift(original, result) for original, result in zip(originals, results)]
    lifts = [lift for lift in lifts if not math.isnan(lift)]
    return dict(zip(MEASURES, (
        float(np.mean([measures.luminance(result).mean() for result in results])),
        float(np.mean([measures.clipped_share(result) for result in results])),
        float(np.mean([measures.noise(result) for result in results])),
        float(np.mean(lifts)) if lifts else float("nan"),
    )))


def choose_samples(validation: list[Path], training: list[Path] = (), count: int = N_SAMPLES) -> list[Path]:
    """The ``count`` darkest readable validation photos, darkest first; the darkest of all where validation offers little choice.

    Darkest means the lowest mean luminance: dark photos are what a run is for,
    and where one model differs from another most. Validation must hold at
    least twice ``count`` photos to choose from; a small folder's few
    validation photos may well all be bright ones, so then the training photos
    compete too. Unreadable files are passed over; ties go by path, so the
    choice is the same every time.
    """
    enough = len(validation) >= 2 * count
    pool = validation if enough else [*validation, *(p for p in training if p not in validation)]
    return _darkest(pool, count)


def _darkest(paths: list[Path], count: int) -> list[Path]:
    from ..measures import luminance

    scored = []
    for path in sorted(paths):
        try:
            scored.append((float(luminance(thumbnail(path, 8)).mean()), path))
        except (ImageReadError, OSError):
            continue
    return [path for _, path in sorted(scored)[:count]]


def network(model) -> object:
    """A torch DCE-Net as the engine's :class:`~zdce_core.maths.network.Network`, for :func:`zdce_core.enhance`."""
    from ..maths.network import Network
    from ..weights import check_state

    state = {k: v.detach().cpu().float().numpy() for k, v in model.state_dict().items()}
    return Network.from_state(check_state(state, Path("<the model in training>")))


def sample_columns(model, baseline: tuple[str, object] | None = None) -> dict:
    """The sheet columns of a run: autocontrast, ``baseline`` (``(label, Network)``) at 8 steps, and ``model`` (a ``Network``) at 4 and 8 steps."""
    from .. import enhance

    columns = {"original": lambda rgb: rgb, "autocontrast": autocontrast}
    if baseline is not None:
        label, net = baseline
        columns[label] = lambda rgb: enhance(rgb, steps=8, model=net, dtype=np.uint8)
    columns["zdce steps 4"] = lambda rgb: enhance(rgb, steps=4, model=model, dtype=np.uint8)
    columns["zdce steps 8"] = lambda rgb: enhance(rgb, steps=8, model=model, dtype=np.uint8)
    return columns


def baseline(parent: dict | None) -> tuple[str, object]:
    """The sheet column a run is judged against: the model it was fine-tuned from, else the bundled one."""
    from ..weights import DEFAULT, REGISTRY, bundled_path, load_model

    if parent is None or parent["sha256"] == REGISTRY[DEFAULT][1]:
        return "bundled steps 8", load_model(bundled_path())
    return "parent steps 8", load_model(parent["file"])


def read_metrics(path: Path) -> list[dict[str, float]]:
    """The rows of a ``metrics.csv``, numbers as floats (``epoch`` as int)."""
    if not path.exists():
        return []
    with open(path, newline="") as f:
        return [{k: (int(v) if k == "epoch" else float(v)) for k, v in row.items() if v != ""} for row in csv.DictReader(f)]


def write_json(path: Path, data: dict) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(data, indent=2, default=str) + "\n")


def load_config(folder: Path) -> dict:
    """A run's ``config.json``; ValueError naming the folder when it is not a run."""
    path = Path(folder) / "config.json"
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise ValueError(f"{folder}: not a zdce run folder (no config.json)") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not valid JSON ({exc})") from None


class RunRecorder:
    """Training callbacks (:func:`zdce_core.training.loop.train`) that keep a run folder and feed trackers.

    Parameters
    ----------
    folder : Path
        The run folder, ``RUNS_DIR/NAME``.
    settings : dict
        The settings as the user gave them (the command line), stored beside
        the loop's own configuration.
    trackers : dict
        ``name -> Tracker``. A tracker that raises is dropped with a warning:
        a tracker never stops training, and the run folder has everything.
    sample_every : int
        Write a sample sheet every this many epochs (and always at the end).
    keep_best : str or None
        Keep ``best.pt``, the weights of the epoch with the lowest value of this metric.
    tracking_uri, resume
        Passed to the trackers (:class:`RunInfo`).
    group : str or None
        The group the run belongs to (a sweep's name): in ``config.json`` and
        for the trackers, which show a group's runs together.
    """

    def __init__(self, folder, *, settings: dict, trackers: dict[str, Tracker] | None = None, sample_every: int = SAMPLE_EVERY,
                 keep_best: str | None = None, tracking_uri: str | None = None, resume: bool = False,
                 group: str | None = None):
        self.folder = Path(folder)
        self.name = self.folder.name
        self.settings = settings
        self.trackers = dict(trackers or {})
        self.sample_every = sample_every
        self.keep_best = keep_best
        self.tracking_uri = tracking_uri
        self.resume = resume
        self.group = group
        self.history: list[dict[str, float]] = []
        self.best: tuple[int, float] | None = None
        self.last_sheet: Path | None = None
        self.epochs = 0
        self.config: dict = {}

    # -- callbacks -------------------------------------------------------------------

    def on_run_start(self, run: dict) -> None:
        (self.folder / "samples").mkdir(parents=True, exist_ok=True)
        previous = load_config(self.folder) if self.resume and (self.folder / "config.json").exists() else {}
        self.epochs = run["config"]["epochs"]
        val_dir = run.get("val_dir")
        val_files = [Path(p) for p in run.get("val_files", ())]
        self.samples = [Path(p) for p in previous.get("samples")
                        or choose_samples(val_files, list_images(Path(run["data_dir"])))]
        self._thumbnails = [thumbnail(p, SAMPLE_HEIGHT) for p in self.samples]
        self._baseline = baseline(run.get("parent"))
        self.config = {
            "name": self.name,
            "group": self.group,
            "created": previous.get("created", time.strftime("%Y-%m-%dT%H:%M:%S%z")),
            "status": "running",
            "seed": run["config"]["seed"],
            "device": run["device"],
            "versions": versions(),
            "settings": self.settings,
            "train": run,
            "data": fingerprint(run["data_dir"]),
            "val_data": fingerprint(val_dir) if val_dir else None,
            "parent": run.get("parent"),
            "samples": [str(p) for p in self.samples],
        }
        write_json(self.folder / "config.json", self.config)
        start = run.get("start_epoch", 0)
        self.history = [r for r in read_metrics(self.folder / "metrics.csv") if r["epoch"] <= start] if self.resume else []
        if self.keep_best:
            scored = [(r["epoch"], r[self.keep_best]) for r in self.history if self.keep_best in r]
            self.best = min(scored, key=lambda e: e[1], default=None)
        tracked = flatten({k: v for k, v in self.config.items() if k not in ("status", "samples")})
        self._broadcast("start", RunInfo(self.name, self.folder, self.folder.parent, tracked, self.tracking_uri,
                                         self.resume and start > 0, self.group))

    def on_epoch_end(self, epoch: int, metrics: dict[str, float], model) -> None:
        import torch

        net = network(model)
        metrics = {**metrics, **self._measure(net)}
        self.history = [r for r in self.history if r["epoch"] < epoch] + [{"epoch": epoch, **metrics}]
        self._write_metrics()
        self._broadcast("log_epoch", epoch, metrics)
        value = metrics.get(self.keep_best) if self.keep_best else None
        if value is not None and not math.isnan(value) and (self.best is None or value < self.best[1]):
            self.best = (epoch, value)
            with atomic_path(self.folder / "best.pt") as tmp:
                torch.save({k: v.detach().cpu().float().contiguous() for k, v in model.state_dict().items()}, tmp)
        if epoch % self.sample_every == 0 or epoch == self.epochs:
            self._sheet(epoch, net)

    def on_run_end(self, result) -> None:
        from ..weights import load_model

        final = self.history[-1]["epoch"] if self.history else 0
        if self.last_sheet is None or self.last_sheet.name != f"epoch-{final:03d}.jpg":
            self._sheet(final, load_model(result.output))
        checkpoint = self.folder / "model.pt"
        if Path(result.output).resolve() != checkpoint.resolve():  # a sweep's trial writes its weights there itself
            with atomic_path(checkpoint) as tmp:
                shutil.copyfile(result.output, tmp)
        digest = sha256_file(checkpoint)
        (self.folder / "model.pt.sha256").write_text(f"{digest}  model.pt\n")
        self.config.update(status="finished", finished=time.strftime("%Y-%m-%dT%H:%M:%S%z"), output=str(result.output),
                           sha256=digest, best=self._best_dict())
        write_json(self.folder / "config.json", self.config)
        card = self.folder / "MODEL_CARD.md"
        with atomic_path(card) as tmp:
            tmp.write_text(model_card(self.config, self.history))
        for path in (checkpoint, card, self.folder / "config.json", self.folder / "metrics.csv", self.folder / "best.pt"):
            if path.exists():
                self._broadcast("log_artifact", path)
        self._broadcast("finish", "finished")

    def abort(self, status: str) -> None:
        """The run stopped early (``"interrupted"`` or ``"failed"``): record it and close the trackers."""
        if self.config:
            self.config["status"] = status
            write_json(self.folder / "config.json", self.config)
        self._broadcast("finish", status)

    # -- helpers ---------------------------------------------------------------------

    def _measure(self, model) -> dict[str, float]:
        from .. import enhance

        results = [enhance(rgb, steps=8, model=model, dtype=np.uint8) for rgb in self._thumbnails]
        return image_measures(self._thumbnails, results) if results else {}

    def _sheet(self, epoch: int, model) -> None:
        if not self.samples:
            return
        path = self.folder / "samples" / f"epoch-{epoch:03d}.jpg"
        save_sheet(render_sheet(self.samples, sample_columns(model, self._baseline), height=SAMPLE_HEIGHT), path)
        self.last_sheet = path
        self._broadcast("log_sample", epoch, path)

    def _write_metrics(self) -> None:
        fields = list(dict.fromkeys(k for row in self.history for k in row))
        with atomic_path(self.folder / "metrics.csv") as tmp, open(tmp, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=fields)
            writer.writeheader()
            writer.writerows(self.history)

    def _best_dict(self) -> dict | None:
        if self.best is None:
            return None
        return {"metric": self.keep_best, "epoch": self.best[0], "value": self.best[1], "file": "best.pt"}

    def _broadcast(self, method: str, *args) -> None:
        for name, tracker in list(self.trackers.items()):
            try:
                getattr(tracker, method)(*args)
            except Exception as exc:  # a third-party tracker may raise anything; training goes on.
                warnings.warn(f"tracker {name!r} failed in {method} ({type(exc).__name__}: {exc}); "
                              "training goes on without it", stacklevel=2)
                del self.trackers[name]


def model_card(config: dict, history: list[dict[str, float]]) -> str:
    """The generated ``MODEL_CARD.md`` of a finished run."""
    data, train = config["data"], config["train"]
    last = history[-1] if history else {}
    lines = [
        f"# Model card: {config['name']}",
        "",
        f"DCE-Net weights trained with `zdce train` (zdce {config['versions']['zdce']}, "
        f"torch {config['versions']['torch']}) on {config['device']}, {config['created']} to {config.get('finished', '?')}.",
        "",
        f"- **File:** `model.pt`, sha256 `{config.get('sha256', '?')}` (also written to `{config.get('output', '?')}`)",
        f"- **Data:** `{data['folder']}`: {data['photos']} files, {data['bytes']} bytes, version `{data['version']}`; "
        f"{train.get('train_photos', '?')} photos trained on, {train.get('val_photos', '?')} for validation",
        *([f"- **Fine-tuned from:** `{config['parent']['file']}`, sha256 `{config['parent']['sha256']}`; "
           "its licence terms carry over to these weights"] if config.get("parent") else []),
        f"- **Licence:** that of the training photos; state it here before sharing the weights.",
        "",
        "## Settings",
        "",
        "| setting | value |",
        "|---|---|",
        *(f"| {k} | {v} |" for k, v in flatten(train.get("config", {})).items()),
        "",
        f"## Results after epoch {last.get('epoch', 0)}",
        "",
        "| metric | value |",
        "|---|---|",
        *(f"| {k} | {v:.6g} |" for k, v in last.items() if k != "epoch"),
        "",
    ]
    if config.get("best"):
        best = config["best"]
        lines += [f"Lowest {best['metric']}: {best['value']:.6g} at epoch {best['epoch']} (`best.pt`).", ""]
    lines += [
        "## Use",
        "",
        "```sh",
        f"zdce batch PHOTOS... -o OUTDIR --model {config.get('output', 'model.pt')}",
        f"ZDCE_MODEL={config.get('output', 'model.pt')} gimp    # GIMP, darktable, ImageMagick: the engine they start uses it",
        "```",
        "",
        "Sample sheets of the darkest validation photos (original | autocontrast | the bundled or parent model | "
        "zdce steps 4 | zdce steps 8) are in `samples/`.",
        "",
    ]
    return "\n".join(lines)
