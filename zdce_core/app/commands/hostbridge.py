"""``zdce hostbridge``: enhance raw float pixels for a host plug-in, one request after another.

Host applications run their plug-ins with their own Python, which has
neither torch nor NumPy. Their plug-ins start this command once (with the
engine's own interpreter) and keep it running while they need it, so a
dialog's preview pays the engine start once. Requests come on stdin and
answers go to stdout in the wire format of :mod:`zdce_core.contract`: a JSON
line (width, height, channels, steps, strength, denoise) and the pixels as
interleaved float32 values; the answer ``{"ok": true}`` and the enhanced
pixels, or ``{"error": "..."}``. End of input ends the command.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import TYPE_CHECKING, BinaryIO

from ... import contract, params

if TYPE_CHECKING:
    import numpy as np



class RequestError(ValueError):
    """A request this bridge cannot answer; the bridge answers the next one."""


def _size(header: dict, key: str) -> int:
    value = header.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise RequestError(f"{key}={value!r} is invalid; use a positive integer")
    return value


def parse_header(line: bytes) -> tuple[tuple[int, int, int], dict]:
    """The pixel layout ``(height, width, channels)`` of one request line, and the line as a dict."""
    try:
        header = json.loads(line)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RequestError(f"request is not a JSON line ({exc})") from None
    if not isinstance(header, dict):
        raise RequestError("request is not a JSON object")
    width, height = _size(header, "width"), _size(header, "height")
    channels = header.get("channels")
    if channels not in contract.WIRE_CHANNELS:
        raise RequestError(f"channels={channels!r} is invalid; use 1 (grey), 2 (grey+alpha), 3 (RGB) or 4 (RGBA)")
    return (height, width, channels), header


def enhance_options(header: dict) -> dict:
    """The ``enhance`` keyword arguments of a request; ValueError naming a bad one."""
    return {
        "steps": params.check_steps(header.get("steps", contract.DEFAULT_STEPS)),
        "strength": params.parse_strength(str(header.get("strength", contract.DEFAULT_STRENGTH))),
        "denoise": params.check_denoise(header.get("denoise", contract.DEFAULT_DENOISE)),
    }


def enhance_pixels(pixels: np.ndarray, options: dict) -> np.ndarray:
    """Enhance (H, W, C) floats; grey (+alpha) goes through the engine's grayscale path."""
    import numpy as np

    from ... import enhance  # the engine loads once, at the first request

    # Hosts may hold slightly out-of-range floats (e.g. after other filters); the engine wants [0, 1].
    np.clip(pixels, 0.0, 1.0, out=pixels)
    channels = pixels.shape[2]
    if channels >= 3:
        return enhance(pixels, **options)
    grey = enhance(pixels[..., 0], channel_axis=None, **options)
    return np.dstack([grey, pixels[..., 1:]]) if channels == 2 else grey[..., None]


def _answer(out: BinaryIO, header: dict, pixels: np.ndarray | None = None) -> None:
    out.write(json.dumps(header).encode() + b"\n")
    if pixels is not None:
        import numpy as np

        out.write(np.ascontiguousarray(pixels, dtype=np.float32).tobytes())
    out.flush()


def serve(requests: BinaryIO, answers: BinaryIO) -> int:
    """Answer requests until end of input; a bad request gets an error answer, not the end of the bridge."""
    import numpy as np

    while True:
        line = requests.readline(contract.WIRE_MAX_HEADER_BYTES)
        if not line:
            return 0
        try:
            shape, header = parse_header(line)
        except RequestError as exc:
            # Without a valid layout the pixel bytes cannot be skipped: the stream is lost.
            _answer(answers, {"error": str(exc)})
            return 2
        expected = int(np.prod(shape)) * contract.WIRE_FLOAT_BYTES
        data = requests.read(expected)
        if len(data) != expected:
            _answer(answers, {"error": f"request ended after {len(data)} of {expected} pixel bytes"})
            return 2
        pixels = np.frombuffer(data, dtype=np.float32).reshape(shape).copy()
        try:
            if not np.isfinite(pixels).all():
                raise RequestError("pixel values must be finite")
            result = enhance_pixels(pixels, enhance_options(header))
        except (ValueError, RuntimeError, MemoryError) as exc:
            _answer(answers, {"error": str(exc)})
            continue
        _answer(answers, {"ok": True}, result)


def register(sub, name: str, help: str) -> None:
    p = sub.add_parser(
        name,
        help=help,
        description=__doc__.split("\n\n", 1)[1],
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    # Answers get their own copy of stdout; anything else printed to it (a library's
    # stray message, a warning) goes to stderr and cannot corrupt the pixel stream.
    answers = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    sys.stdout.flush()
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    with answers:
        return serve(sys.stdin.buffer, answers)
