"""``zdce train DIR -o OUT.pt``."""

from __future__ import annotations

import argparse
import sys


def register(sub) -> None:
    p = sub.add_parser("train", help="train DCE-Net on a folder of photos (no labels needed)")
    p.add_argument("directory", help="folder of training photos")
    p.add_argument("-o", "--output", required=True, help="where to write the weights (.pt)")
    p.add_argument("--epochs", type=int, default=100)
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--size", type=int, default=256, help="photos are resized to SIZE x SIZE (default 256)")
    p.add_argument("--lr", type=float, default=1e-4)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto", help="cpu, cuda, or auto: CUDA when present (default)")
    p.add_argument("--resume", action="store_true", help="continue from OUTPUT's .state.pt file")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ...training.loop import TrainConfig, train

    config = TrainConfig(
        epochs=args.epochs, batch_size=args.batch_size, size=args.size, lr=args.lr, seed=args.seed, device=args.device
    )
    result = train(args.directory, args.output, config, resume=args.resume, progress=not args.quiet)
    last = result.epoch_losses[-1]["total"] if result.epoch_losses else float("nan")
    print(f"wrote {result.output} (final loss {last:.4f}); per-epoch losses in {result.losses_csv}")
    if result.skipped:
        print(f"skipped {len(result.skipped)} unreadable file(s):", file=sys.stderr)
        for path, reason in result.skipped:
            print(f"  {path}: {reason}", file=sys.stderr)
    return 0
