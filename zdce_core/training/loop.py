"""Zero-reference training of DCE-Net on a folder of unlabelled photos, the way it runs.

Every step runs the inference estimator (:mod:`zdce_core.maths.estimator`):
a crop of a photo, box-reduced to the network's input size, the network's
maps upsampled to the crop, the curves and the losses at the crop's
resolution. Crops are square and taken either from the photo as stored
(fine detail) or from a box-reduced copy whose shorter side is the crop
(the whole scene, as a photo of that size is seen at inference), so the
aspect ratio is never changed.

Photos are decoded once and kept as uint8. Seeded and reproducible (the
split, shuffle, views and flips of epoch ``e`` depend only on ``seed`` and
``e``), resumable from the ``.state.pt`` file saved after every epoch; every
photo is used every epoch (the last batch may be smaller). A share of the
photos (at least :data:`MIN_VALIDATION` where the folder allows), or a
separate folder, is held out for per-epoch validation losses.

A run starts from random weights, or from trained ones (``start_from``:
fine-tuning, with the gentler schedule of :meth:`TrainConfig.fine_tuning`).
"""

from __future__ import annotations

import csv
import math
import os
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from ..io.atomic import atomic_path
from ..io.images import list_images
from ..maths.resample import reduction_factor
from .config import LossWeights, TrainConfig
from .curves import apply_curves
from .estimator import estimate_maps
from .losses import LOSS_NAMES, zero_reference_loss
from .model import DCENet


MIN_VALIDATION = 4
"""Photos held out for validation at least, while that leaves four fifths of a folder to train on
(``val_fraction`` of a small folder would be one or two photos, too few to judge a run by)."""


@dataclass
class TrainResult:
    output: Path
    losses_csv: Path
    epoch_losses: list[dict[str, float]]
    skipped: list[tuple[Path, str]]


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def load_photos(directory: Path, max_side: int) -> tuple[list[torch.Tensor], list[Path], list[tuple[Path, str]]]:
    """Every readable photo in ``directory`` as a uint8 ``(3, H, W)`` tensor, box-reduced to at most ``max_side``.

    Returns the photos, their paths and the ``(path, reason)`` of every file
    that could not be read.
    """
    if not directory.is_dir():
        raise ValueError(f"{directory}: not a folder of training photos")
    files = list_images(directory)
    if not files:
        raise ValueError(f"{directory}: no image files found to train on")
    photos, paths, skipped = [], [], []
    for path in files:
        try:
            with Image.open(path) as im:
                im = im.convert("RGB")
                factor = reduction_factor(im.height, im.width, max_side)
                if factor > 1:
                    im = im.reduce(factor)
                photos.append(torch.from_numpy(np.asarray(im).copy()).permute(2, 0, 1).contiguous())
                paths.append(path)
        except Exception as exc:  # Pillow raises many types for bad files; all mean "skip it".
            skipped.append((path, f"{type(exc).__name__}: {exc}"))
    if not photos:
        raise ValueError(f"{directory}: none of the {len(files)} files could be read as an image")
    return photos, paths, skipped


def learning_rate(config: TrainConfig, progress: float) -> float:
    """The learning rate ``progress`` (0 to 1) of the way through a run: ``lr`` decayed along a half cosine to ``lr * lr_final``.

    A function of the step alone, so a resumed run continues on the same
    schedule. Large steps early, small ones late, so the curves settle (the
    model card gives the bundled checkpoint's validation losses).

    >>> c = TrainConfig(lr=1e-3, lr_final=0.05)
    >>> [round(learning_rate(c, t), 6) for t in (0.0, 0.5, 1.0)]
    [0.001, 0.000525, 5e-05]
    """
    return config.lr * (config.lr_final + (1 - config.lr_final) * 0.5 * (1 + math.cos(math.pi * progress)))


def _box(x: torch.Tensor, factor: int) -> torch.Tensor:
    return x if factor == 1 else F.avg_pool2d(x, factor, stride=factor, ceil_mode=True)


def _crop_batch(photos: list[torch.Tensor], crop: int, gen: torch.Generator) -> torch.Tensor:
    """One float batch of square crops (side at most ``crop``) with random view, position and flips."""
    side = min(crop, *(min(p.shape[1:]) for p in photos))
    whole_scene = bool(torch.rand((), generator=gen) < 0.5)
    out = []
    for photo in photos:
        x = photo[None].float() / 255
        if whole_scene:
            x = _box(x, max(1, min(x.shape[2:]) // side))
        top = int(torch.randint(x.shape[2] - side + 1, (), generator=gen))
        left = int(torch.randint(x.shape[3] - side + 1, (), generator=gen))
        x = x[:, :, top : top + side, left : left + side]
        flips = torch.rand(2, generator=gen) < 0.5
        if flips[0]:
            x = x.flip(3)
        if flips[1]:
            x = x.flip(2)
        out.append(x)
    return torch.cat(out)


def _validation_views(photos: list[torch.Tensor], crop: int) -> list[torch.Tensor]:
    """The held-out photos as float batches, each photo box-reduced so its shorter side is at most ``crop``."""
    groups: dict[tuple[int, int], list[torch.Tensor]] = {}
    for photo in photos:
        x = photo[None].float() / 255
        x = _box(x, max(1, -(-min(x.shape[2:]) // crop)))
        groups.setdefault(tuple(x.shape[2:]), []).append(x)
    return [torch.cat(g) for g in groups.values()]


def _losses(model, x: torch.Tensor, weights: LossWeights) -> dict[str, torch.Tensor]:
    small, full, stops = estimate_maps(model, x)
    enhanced = apply_curves(x, full)[-1]
    return zero_reference_loss(enhanced, x, small, stops, weights)


@torch.no_grad()
def _validate(model, batches: list[torch.Tensor], weights: LossWeights, device) -> dict[str, float]:
    model.eval()
    sums, count = dict.fromkeys(LOSS_NAMES, 0.0), 0
    for batch in batches:
        for start in range(0, batch.shape[0], 16):
            x = batch[start : start + 16].to(device)
            terms = _losses(model, x, weights)
            for k in LOSS_NAMES:
                sums[k] += float(terms[k]) * x.shape[0]
            count += x.shape[0]
    model.train()
    return {f"val_{k}": v / count for k, v in sums.items()}


def validation_count(n: int, fraction: float) -> int:
    """How many of ``n`` photos are held out: ``fraction`` of them, at least :data:`MIN_VALIDATION` while four fifths are left to train on, none if ``fraction`` is 0.

    >>> [validation_count(n, 0.05) for n in (3, 5, 12, 20, 40, 2002)]
    [0, 1, 2, 4, 4, 100]
    >>> validation_count(40, 0.0)
    0
    """
    if fraction <= 0:
        return 0
    return min(n - 1, max(round(n * fraction), min(MIN_VALIDATION, n // 5)))


def _split(n: int, fraction: float, seed: int) -> tuple[list[int], list[int]]:
    """Train and validation indices: a seeded :func:`validation_count` held out, at least one photo left to train on."""
    n_val = validation_count(n, fraction)
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed)).tolist()
    return sorted(order[n_val:]), sorted(order[:n_val])


def _state_path(output: Path) -> Path:
    return output.with_name(output.stem + ".state.pt")


def _call(callbacks: Sequence[object], name: str, *args) -> None:
    for callback in callbacks:
        method = getattr(callback, name, None)
        if method is not None:
            method(*args)


def train(
    data_dir: str | os.PathLike,
    output: str | os.PathLike,
    config: TrainConfig | None = None,
    *,
    val_dir: str | os.PathLike | None = None,
    resume: bool = False,
    start_from: str | os.PathLike | None = None,
    callbacks: Sequence[object] = (),
) -> TrainResult:
    """Train DCE-Net on the photos in ``data_dir`` and save its weights to ``output``.

    Parameters
    ----------
    data_dir
        Folder of photos (no labels). Unreadable files are skipped and listed
        in the result.
    output
        Where the final weights go (``.pt``); the training state goes beside
        it (``NAME.state.pt``), the per-epoch losses to ``NAME.csv``.
    config
        Settings; :class:`TrainConfig` defaults if ``None``.
    val_dir
        Folder of validation photos; if ``None``, ``config.val_fraction`` of
        ``data_dir`` is held out.
    resume
        Continue from the state file, if there is one.
    start_from
        Weights to start from instead of random ones (fine-tuning): a
        ``.npz`` or ``.pt`` file, loaded and checked by
        :func:`zdce_core.weights.load_model`. A resumed run takes its
        weights from the state file; either way the run reports this file
        and its sha256 as ``parent``.
    callbacks
        Objects that may define ``on_run_start(run: dict)`` (settings,
        folders, photo counts, validation files, ``parent``), ``on_batch_end(epoch,
        batch, batches)``, ``on_epoch_end(epoch, metrics, model)`` and
        ``on_run_end(result)``; each defined method is called. ``metrics``
        holds the mean training loss terms, ``val_``-prefixed validation
        terms, ``learning_rate`` (the rate of the epoch's last step) and
        ``seconds``.

    Returns
    -------
    TrainResult
    """
    config = config or TrainConfig()
    output = Path(output)
    parent = _parent(Path(start_from)) if start_from is not None else None
    device = resolve_device(config.device)
    max_side = 2 * config.crop
    photos, paths, skipped = load_photos(Path(data_dir), max_side)
    if val_dir is not None:
        val_photos, val_paths, val_skipped = load_photos(Path(val_dir), max_side)
        skipped += val_skipped
        train_photos = photos
    else:
        train_idx, val_idx = _split(len(photos), config.val_fraction, config.seed)
        train_photos = [photos[i] for i in train_idx]
        val_photos, val_paths = [photos[i] for i in val_idx], [paths[i] for i in val_idx]
    val_batches = _validation_views(val_photos, config.crop)

    torch.manual_seed(config.seed)
    model = DCENet()
    if parent is not None:
        model.load_state_dict({k: torch.tensor(v) for k, v in parent[1].items()})
    model = model.to(device)
    optimiser = torch.optim.Adam(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    start_epoch, history = 0, []
    state_path = _state_path(output)
    if resume and state_path.exists():
        state = torch.load(state_path, map_location=device, weights_only=True)
        model.load_state_dict(state["model"])
        optimiser.load_state_dict(state["optimiser"])
        start_epoch, history = state["epoch"], state["history"]

    n = len(train_photos)
    batches = -(-n // config.batch_size)
    _call(callbacks, "on_run_start", {
        "config": _config_dict(config),
        "data_dir": str(data_dir),
        "val_dir": None if val_dir is None else str(val_dir),
        "output": str(output),
        "device": str(device),
        "train_photos": n,
        "val_photos": len(val_photos),
        "val_files": [str(p) for p in val_paths],
        "parent": parent[0] if parent else None,
        "skipped": len(skipped),
        "start_epoch": start_epoch,
        "batches_per_epoch": batches,
    })
    model.train()
    for epoch in range(start_epoch, config.epochs):
        started = time.perf_counter()
        gen = torch.Generator().manual_seed(config.seed * 100_003 + epoch)
        order = torch.randperm(n, generator=gen).tolist()
        # Accumulated on the device: converting to float every batch would stall a GPU.
        sums = {k: torch.zeros((), device=device) for k in LOSS_NAMES}
        for b in range(batches):
            chosen = [train_photos[i] for i in order[b * config.batch_size : (b + 1) * config.batch_size]]
            x = _crop_batch(chosen, config.crop, gen).to(device)
            for group in optimiser.param_groups:
                group["lr"] = learning_rate(config, (epoch * batches + b) / (config.epochs * batches))
            terms = _losses(model, x, config.weights)
            optimiser.zero_grad(set_to_none=True)
            terms["total"].backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
            optimiser.step()
            for k in LOSS_NAMES:
                sums[k] += terms[k].detach() * x.shape[0]
            _call(callbacks, "on_batch_end", epoch + 1, b + 1, batches)
        metrics = {k: float(v) / n for k, v in sums.items()}
        if val_batches:
            metrics.update(_validate(model, val_batches, config.weights, device))
        metrics["learning_rate"] = optimiser.param_groups[0]["lr"]  # the rate of the epoch's last step
        metrics["seconds"] = time.perf_counter() - started
        history.append({"epoch": epoch + 1, **metrics})
        # Callbacks first: one interrupted there leaves the epoch unsaved, so a resume repeats it for them too.
        _call(callbacks, "on_epoch_end", epoch + 1, metrics, model)
        _save_state(state_path, model, optimiser, epoch + 1, history, config)
        _write_csv(output.with_suffix(".csv"), history)

    weights = {k: v.detach().cpu().float().contiguous() for k, v in model.state_dict().items()}
    with atomic_path(output) as tmp:
        torch.save(weights, tmp)
    result = TrainResult(output, output.with_suffix(".csv"), history, skipped)
    _call(callbacks, "on_run_end", result)
    return result


def _parent(path: Path) -> tuple[dict, dict]:
    """The weights file a run starts from: ``({"file", "sha256"}, checked arrays)``; ValueError naming a bad file."""
    from ..weights import load_model
    from .runs import sha256_file

    state = load_model(path).state  # keys, shapes and values checked against DCE-Net's
    return {"file": str(path.resolve()), "sha256": sha256_file(path)}, state


def _config_dict(config: TrainConfig) -> dict:
    return asdict(config)


def _save_state(path: Path, model, optimiser, epoch: int, history, config: TrainConfig) -> None:
    state = {
        "model": model.state_dict(),
        "optimiser": optimiser.state_dict(),
        "epoch": epoch,
        "history": history,
        "config": {k: v for k, v in asdict(config).items() if k != "weights"},
    }
    with atomic_path(path) as tmp:
        torch.save(state, tmp)


def _write_csv(path: Path, history: list[dict[str, float]]) -> None:
    fields = list(dict.fromkeys(k for row in history for k in row))
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        writer.writerows(history)
