"""Comparison sheets: each photo in one row, one column per method, labelled."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont, ImageOps

from ..enhance import enhance
from ..io.images import read_image

Method = Callable[[np.ndarray], np.ndarray]


def _autocontrast(rgb: np.ndarray) -> np.ndarray:
    return np.asarray(ImageOps.autocontrast(Image.fromarray(rgb), cutoff=1))


def _gamma(rgb: np.ndarray) -> np.ndarray:
    return np.rint(255 * (rgb / 255.0) ** 0.4).astype(np.uint8)


DEFAULT_COLUMNS: dict[str, Method] = {
    "original": lambda rgb: rgb,
    "autocontrast": _autocontrast,
    "gamma 0.4": _gamma,
    "zdce steps 4": lambda rgb: enhance(rgb, steps=4, dtype=np.uint8),
    "zdce steps 8": lambda rgb: enhance(rgb, steps=8, dtype=np.uint8),
}


def render_sheet(photos: Sequence[str | Path], columns: dict[str, Method] | None = None, *, height: int = 240) -> Image.Image:
    """One row per photo (scaled to ``height``), one labelled column per method."""
    columns = columns or DEFAULT_COLUMNS
    font = ImageFont.load_default(size=max(12, height // 14))
    rows = []
    for path in photos:
        rgb = read_image(path)
        rgb = np.dstack([rgb] * 3) if rgb.ndim == 2 else rgb[..., :3]
        rgb = (rgb >> 8).astype(np.uint8) if rgb.dtype == np.uint16 else rgb
        width = max(1, round(rgb.shape[1] * height / rgb.shape[0]))
        small = np.asarray(Image.fromarray(rgb).resize((width, height), Image.LANCZOS))
        rows.append([Image.fromarray(method(small)) for method in columns.values()])
    widths = [max(row[i].width for row in rows) for i in range(len(columns))]
    pad, label_h = 4, font.size + 8
    sheet = Image.new("RGB", (sum(widths) + pad * (len(widths) + 1), label_h + len(rows) * (height + pad) + pad), "white")
    draw = ImageDraw.Draw(sheet)
    x = pad
    for name, w in zip(columns, widths):
        draw.text((x + 2, 3), name, fill="black", font=font)
        x += w + pad
    for r, row in enumerate(rows):
        x, y = pad, label_h + r * (height + pad)
        for tile, w in zip(row, widths):
            sheet.paste(tile, (x, y))
            x += w + pad
    return sheet
