"""Zero-reference training of DCE-Net on a folder of unlabelled photos.

Seeded and reproducible (the shuffle and flips of epoch ``e`` depend only on
``seed`` and ``e``), resumable from the ``.state.pt`` file saved after every
epoch, with per-epoch mean losses in a CSV beside the output.
"""

from __future__ import annotations

import csv
import os
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from .curves import apply_curves
from ..io.atomic import atomic_path
from ..io.images import list_images
from .losses import LossWeights, zero_reference_loss
from .model import DCENet

LOSS_NAMES = ("total", "spatial", "exposure", "colour", "smoothness")


@dataclass
class TrainConfig:
    """Settings of one training run; defaults follow the paper's reference run."""

    epochs: int = 100
    batch_size: int = 8
    size: int = 256
    lr: float = 1e-4
    weight_decay: float = 1e-4
    grad_clip: float = 0.1
    seed: int = 0
    device: str = "auto"
    weights: LossWeights = field(default_factory=LossWeights)


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


def load_training_images(directory: Path, size: int) -> tuple[torch.Tensor, list[tuple[Path, str]]]:
    """Every readable photo in ``directory``, resized to ``size``, as a uint8 (N, 3, size, size) tensor."""
    if not directory.is_dir():
        raise ValueError(f"{directory}: not a folder of training photos")
    files = list_images(directory)
    if not files:
        raise ValueError(f"{directory}: no image files found to train on")
    arrays, skipped = [], []
    for path in files:
        try:
            with Image.open(path) as im:
                im = im.convert("RGB").resize((size, size), Image.BICUBIC)
                arrays.append(np.asarray(im))
        except Exception as exc:  # Pillow raises many types for bad files; all mean "skip it".
            skipped.append((path, f"{type(exc).__name__}: {exc}"))
    if not arrays:
        raise ValueError(f"{directory}: none of the {len(files)} files could be read as an image")
    return torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).contiguous(), skipped


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
    resume: bool = False,
    progress: bool = True,
    callbacks: Sequence[object] = (),
) -> TrainResult:
    """Train DCE-Net on the photos in ``data_dir`` and save its weights to ``output``.

    ``callbacks`` are objects that may define ``on_run_start(run: dict)``,
    ``on_batch_end(epoch, batch, batches)``, ``on_epoch_end(epoch, metrics,
    model)`` (``metrics``: the mean loss terms and ``seconds``) and
    ``on_run_end(result)``; each defined method is called.
    """
    config = config or TrainConfig()
    output = Path(output)
    device = resolve_device(config.device)
    data, skipped = load_training_images(Path(data_dir), config.size)
    data = data.to(device)

    torch.manual_seed(config.seed)
    model = DCENet().to(device)
    optimiser = torch.optim.Adam(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    start_epoch, history = 0, []
    state_path = _state_path(output)
    if resume and state_path.exists():
        state = torch.load(state_path, map_location=device, weights_only=True)
        model.load_state_dict(state["model"])
        optimiser.load_state_dict(state["optimiser"])
        start_epoch, history = state["epoch"], state["history"]

    n = data.shape[0]
    batches = max(1, n // config.batch_size)
    bar = _progress_bar(config.epochs * batches, start_epoch * batches, progress)
    _call(callbacks, "on_run_start", {
        "config": asdict(config), "data_dir": str(data_dir), "val_dir": None, "output": str(output),
        "device": str(device), "train_photos": n, "val_photos": 0, "skipped": len(skipped),
        "start_epoch": start_epoch, "batches_per_epoch": batches,
    })
    model.train()
    for epoch in range(start_epoch, config.epochs):
        started = time.perf_counter()
        gen = torch.Generator().manual_seed(config.seed * 100_003 + epoch)
        order = torch.randperm(n, generator=gen)
        flips = torch.rand(n, 2, generator=gen) < 0.5
        # Accumulated on the device: converting to float every batch would stall a GPU.
        sums = {k: torch.zeros((), device=device) for k in LOSS_NAMES}
        for b in range(batches):
            idx = order[b * config.batch_size : (b + 1) * config.batch_size]
            x = data[idx.to(device)].float() / 255
            x = _flip(x, flips[idx])
            alphas = model(x)
            enhanced = apply_curves(x, alphas)[-1]
            terms = zero_reference_loss(enhanced, x, alphas, config.weights)
            optimiser.zero_grad(set_to_none=True)
            terms["total"].backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
            optimiser.step()
            for k in LOSS_NAMES:
                sums[k] += terms[k].detach()
            bar.update(1)
            _call(callbacks, "on_batch_end", epoch + 1, b + 1, batches)
        history.append({"epoch": epoch + 1, **{k: float(v) / batches for k, v in sums.items()}})
        bar.set_postfix(loss=f"{history[-1]['total']:.4f}")
        metrics = {k: v for k, v in history[-1].items() if k != "epoch"}
        # Callbacks first: one interrupted there leaves the epoch unsaved, so a resume repeats it for them too.
        _call(callbacks, "on_epoch_end", epoch + 1, {**metrics, "seconds": time.perf_counter() - started}, model)
        _save_state(state_path, model, optimiser, epoch + 1, history, config)
        _write_csv(output.with_suffix(".csv"), history)
    bar.close()

    weights = {k: v.detach().cpu().float().contiguous() for k, v in model.state_dict().items()}
    with atomic_path(output) as tmp:
        torch.save(weights, tmp)
    result = TrainResult(output, output.with_suffix(".csv"), history, skipped)
    _call(callbacks, "on_run_end", result)
    return result


def _flip(x: torch.Tensor, flips: torch.Tensor) -> torch.Tensor:
    flips = flips.to(x.device)
    x = torch.where(flips[:, 0, None, None, None], x.flip(3), x)
    return torch.where(flips[:, 1, None, None, None], x.flip(2), x)


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
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["epoch", *LOSS_NAMES])
        writer.writeheader()
        writer.writerows(history)


def _progress_bar(total: int, initial: int, enabled: bool):
    from tqdm import tqdm

    return tqdm(total=total, initial=initial, disable=not enabled, unit="batch", desc="training")
