"""``zdce hostbridge``: enhance raw float pixels handed over by a host plug-in.

Host applications run their plug-ins with their own Python, which has
neither torch nor NumPy. Their plug-ins write the layer's pixels as raw
32-bit floats in native byte order, interleaved RGB or RGBA, non-linear
(sRGB-encoded) values in [0, 1], and call this command with the engine's own
interpreter; it writes the enhanced pixels back in the same layout.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from .options import add_curve_options

FLOAT_BYTES = 4  # float32; numpy loads only when pixels are read, so `zdce --help` stays quick


def read_raw(path: Path, width: int, height: int, channels: int) -> np.ndarray:
    """Read ``path`` as a (height, width, channels) float32 array; ValueError if its size differs."""
    if width < 1 or height < 1 or channels not in (3, 4):
        raise ValueError(f"{path}: bad raw layout {width}x{height}x{channels} (need positive size, 3 or 4 channels)")
    expected = width * height * channels * FLOAT_BYTES
    actual = path.stat().st_size
    if actual != expected:
        raise ValueError(f"{path}: {actual} bytes, expected {expected} for {width}x{height}x{channels} float32")
    import numpy as np

    pixels = np.fromfile(path, dtype=np.float32).reshape(height, width, channels)
    if not np.isfinite(pixels).all():
        raise ValueError(f"{path}: pixel values must be finite")
    return pixels


def write_raw(path: Path, pixels: np.ndarray) -> None:
    """Write ``pixels`` as native float32 bytes, atomically."""
    import numpy as np

    from ...io.atomic import atomic_path

    with atomic_path(path) as tmp:
        np.ascontiguousarray(pixels, dtype=np.float32).tofile(tmp)


def register(sub) -> None:
    p = sub.add_parser(
        "hostbridge",
        help="enhance raw float32 RGB(A) pixels for a host plug-in (GIMP uses this)",
        description=__doc__.split("\n\n", 1)[1],
    )
    p.add_argument("input", type=Path, help="raw float32 pixels, interleaved, native byte order")
    p.add_argument("output", type=Path, help="where to write the enhanced raw pixels")
    p.add_argument("--width", type=int, required=True)
    p.add_argument("--height", type=int, required=True)
    p.add_argument("--channels", type=int, required=True, choices=(3, 4))
    add_curve_options(p)
    p.add_argument("--no-denoise", dest="denoise", action="store_false", help="skip the denoising pass")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    pixels = read_raw(args.input, args.width, args.height, args.channels)
    from ... import enhance

    # Hosts may hold slightly out-of-range floats (e.g. after other filters); the engine wants [0, 1].
    pixels.clip(0.0, 1.0, out=pixels)
    result = enhance(pixels, args.steps, strength=args.strength, denoise=args.denoise)
    write_raw(args.output, result)
    return 0
