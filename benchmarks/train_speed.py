"""Training speed: seconds per epoch of ``zdce train`` with its default settings, on this machine.

Not a test: prints figures for docs/training-and-tracking.md and the model card. Runs ``train()``
(the loop ``zdce train`` runs) for a few epochs on the first ``--photos``
photos of a folder (SICE part 1 by default) and reports each epoch's time,
the time scaled to the whole folder, and the load average before and after,
because a shared machine's figures mean little without it.

Usage::

    .venv/bin/python benchmarks/train_speed.py [--data DIR] [--photos 400] [--epochs 2]
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "train" / "sice-part1"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA, help="folder of training photos")
    parser.add_argument("--photos", type=int, default=400, help="how many of its photos to train on (0: all)")
    parser.add_argument("--epochs", type=int, default=2, help="epochs to time")
    args = parser.parse_args()

    import torch

    from zdce_core.contract import ESTIMATE_SIDE
    from zdce_core.io.images import list_images
    from zdce_core.training.loop import TrainConfig, train

    files = list_images(args.data)
    chosen = files[: args.photos] if args.photos else files
    times: list[float] = []

    class Timer:
        def on_epoch_end(self, epoch, metrics, model):
            times.append(metrics["seconds"])

    config = TrainConfig(epochs=args.epochs, device="cpu")
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "photos"
        folder.mkdir()
        for path in chosen:
            (folder / path.name).symlink_to(path.resolve())
        started = time.perf_counter()
        train(folder, Path(tmp) / "speed.pt", config, callbacks=[Timer()])
        wall = time.perf_counter() - started
    load_after = os.getloadavg()

    n_train = len(chosen) - round(len(chosen) * config.val_fraction)
    per_photo = min(times) / n_train
    print(f"# {platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads")
    print(f"# defaults: batch {config.batch_size}, crop {config.crop}, network input <= {ESTIMATE_SIDE} px, "
          f"val fraction {config.val_fraction}")
    print(f"# load average (1, 5, 15 min) before {tuple(round(v, 2) for v in load_before)}, "
          f"after {tuple(round(v, 2) for v in load_after)}")
    print(f"photos trained on per epoch: {n_train} (of {len(chosen)}; the rest validate)")
    print("epoch seconds: " + ", ".join(f"{t:.1f}" for t in times) + f" (whole run {wall:.1f} s incl. decoding)")
    print(f"per photo: {1000 * per_photo:.1f} ms (fastest epoch)")
    total = len(files) - round(len(files) * config.val_fraction)
    print(f"one epoch over all {len(files)} photos of {args.data.name} ({total} trained on): "
          f"{per_photo * total:.0f} s = {per_photo * total / 60:.1f} min (scaled from the fastest epoch)")


if __name__ == "__main__":
    main()
