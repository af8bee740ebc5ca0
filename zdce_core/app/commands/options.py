"""Command-line options shared by every command that enhances photos."""

from __future__ import annotations

import argparse
from pathlib import Path

from PIL import Image

from ... import contract, params
from ..batch import Settings


class DefaultsFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """``--help`` with each option's default, unless its help already names it or there is none."""

    def _get_help_string(self, action):
        if "default" in (action.help or "") or action.default in (None, False, [], argparse.SUPPRESS):
            return action.help
        return super()._get_help_string(action)


def from_text(parse):
    """An argparse type from one of :mod:`zdce_core.params`' parsers (their message becomes argparse's)."""

    def convert(text: str):
        try:
            return parse(text, name="value")
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    convert.__name__ = parse.__name__.removeprefix("parse_")
    return convert


steps = from_text(params.parse_steps)
strength = from_text(params.parse_strength)


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


def add_curve_options(p: argparse.ArgumentParser) -> None:
    """``--steps`` and ``--strength``, with the ranges and defaults of :mod:`zdce_core.contract`."""
    lo, hi = contract.MIN_STEPS, contract.MAX_STEPS
    p.add_argument("--steps", type=steps, default=contract.DEFAULT_STEPS, metavar="N",
                   help=f"curve iterations {lo}..{hi} (default {contract.DEFAULT_STEPS})")
    p.add_argument("--strength", type=strength, default=contract.DEFAULT_STRENGTH, metavar="S",
                   help=f"0..1 or auto (default {contract.DEFAULT_STRENGTH})")


def add_denoise_option(p: argparse.ArgumentParser) -> None:
    """``--no-denoise``."""
    p.add_argument("--no-denoise", dest="denoise", action="store_false", help="keep the noise the curves amplify")


def add_model_option(p: argparse.ArgumentParser, *, onnx: bool) -> None:
    """``--model FILE``; ``onnx``: the command also takes ``--engine onnx`` and its graphs."""
    graphs = " or, with --engine onnx, a .onnx graph from zdce export" if onnx else ""
    p.add_argument("--model", type=Path, metavar="FILE",
                   help=f"weights instead of the bundled model: .npz (zdce export), .pt (zdce train; needs torch){graphs}")


def add_engine_options(p: argparse.ArgumentParser) -> None:
    """``--steps``, ``--strength``, ``--no-denoise``, ``--quality``, ``--model`` and ``--engine``."""
    add_curve_options(p)
    add_denoise_option(p)
    p.add_argument("--quality", type=bounded(1, 100), default=contract.JPEG_QUALITY, metavar="Q",
                   help=f"JPEG/WebP quality (default {contract.JPEG_QUALITY})")
    add_model_option(p, onnx=True)
    p.add_argument("--engine", choices=contract.ENGINES, default=contract.DEFAULT_ENGINE,
                   help="numpy, or onnx: the exported graph in ONNX Runtime (pip install 'zdce[onnx]')")


def pixel_count(text: str) -> int:
    """An argparse type: a whole number of pixels, as ``300000000``, ``300_000_000`` or ``3e8``."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of pixels such as 300000000 or 3e8, got {text!r}") from None
    if not value.is_integer() or value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of pixels, at least 1, got {text!r}")
    return int(value)


def add_max_pixels_option(p: argparse.ArgumentParser) -> None:
    """``--max-pixels``: the decompression-bomb limit, checked from the header before decoding."""
    p.add_argument(
        "--max-pixels",
        type=pixel_count,
        default=Image.MAX_IMAGE_PIXELS,
        metavar="N",
        help=f"fail images with more pixels than this, before decoding (default {Image.MAX_IMAGE_PIXELS})",
    )


def engine_settings(args: argparse.Namespace, **output) -> Settings:
    """:class:`Settings` from the engine options; ``output`` adds the command's own fields."""
    from ...weights import load_model

    if args.model and args.model.suffix.lower() == ".onnx":
        if args.engine != "onnx":
            raise ValueError(f"{args.model}: a .onnx model runs with --engine onnx")
        from ...runtime import load_onnx

        model = load_onnx(args.model)
    else:
        model = load_model(args.model) if args.model else None
    return Settings(
        steps=args.steps, strength=args.strength, denoise=args.denoise, quality=args.quality, model=model,
        engine=args.engine, **output,
    )
