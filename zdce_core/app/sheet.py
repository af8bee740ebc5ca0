"""The columns of ``zdce compare``: the baselines beside the bundled model at 4 and 8 steps."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from .. import enhance
from ..io.sheet import Method, autocontrast
from ..io.sheet import render_sheet as _render


def _gamma(rgb: np.ndarray) -> np.ndarray:
    return np.rint(255 * (rgb / 255.0) ** 0.4).astype(np.uint8)


DEFAULT_COLUMNS: dict[str, Method] = {
    "original": lambda rgb: rgb,
    "autocontrast": autocontrast,
    "gamma 0.4": _gamma,
    "zdce steps 4": lambda rgb: enhance(rgb, steps=4, dtype=np.uint8),
    "zdce steps 8": lambda rgb: enhance(rgb, steps=8, dtype=np.uint8),
}


def render_sheet(photos: Sequence[str | Path], columns: dict[str, Method] | None = None, *, height: int = 240) -> Image.Image:
    """One row per photo (scaled to ``height``), one labelled column per method."""
    return _render(photos, columns or DEFAULT_COLUMNS, height=height)
