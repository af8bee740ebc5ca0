"""Command-line options shared by every command that enhances photos."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..batch import Settings


def strength(text: str) -> float | str:
    """``auto`` or a number in [0, 1]."""
    if text == "auto":
        return text
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1] or 'auto', got {text!r}") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"strength must be in [0, 1], got {value}")
    return value


def bounded(low: int, high: int | None):
    """An argparse type: an integer in ``low..high`` (``high=None``: no upper bound)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if value < low or (high is not None and value > high):
            raise argparse.ArgumentTypeError(f"expected {low}..{high if high is not None else ''}, got {value}")
        return value

    return parse


def add_engine_options(p: argparse.ArgumentParser) -> None:
    """``--steps``, ``--strength``, ``--no-denoise``, ``--quality`` and ``--model``."""
    p.add_argument("--steps", type=bounded(1, 8), default=8, metavar="N", help="curve iterations 1..8 (default 8)")
    p.add_argument("--strength", type=strength, default="auto", metavar="S", help="0..1 or auto (default auto)")
    p.add_argument("--no-denoise", dest="denoise", action="store_false", help="keep the noise the curves amplify")
    p.add_argument("--quality", type=bounded(1, 100), default=92, metavar="Q", help="JPEG/WebP quality (default 92)")
    p.add_argument("--model", type=Path, metavar="PT", help="weights from `zdce train` instead of the bundled model")


def engine_settings(args: argparse.Namespace, **output) -> Settings:
    """:class:`Settings` from the engine options; ``output`` adds the command's own fields."""
    from ..weights import load_model

    model = load_model(args.model) if args.model else None
    return Settings(
        steps=args.steps, strength=args.strength, denoise=args.denoise, quality=args.quality, model=model, **output
    )
