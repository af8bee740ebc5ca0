"""Comparison sheets: each photo in one row, one labelled column per method.

Pure Pillow and numpy, so the command line (``zdce compare``) and training
(the sample sheets of a run) draw the same sheets.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont, ImageOps

from .atomic import atomic_path
from .images import output_format, read_image

Method = Callable[[np.ndarray], np.ndarray]


def autocontrast(rgb: np.ndarray) -> np.ndarray:
    """The classic baseline a sheet shows beside Zero-DCE: a 1 % cut-off levels stretch."""
    return np.asarray(ImageOps.autocontrast(Image.fromarray(rgb), cutoff=1))


def thumbnail(path: str | os.PathLike, height: int) -> np.ndarray:
    """``path`` as 8-bit RGB scaled to ``height`` rows, aspect ratio kept."""
    rgb = read_image(path)
    rgb = np.dstack([rgb] * 3) if rgb.ndim == 2 else rgb[..., :3]
    rgb = (rgb >> 8).astype(np.uint8) if rgb.dtype == np.uint16 else rgb
    width = max(1, round(rgb.shape[1] * height / rgb.shape[0]))
    return np.asarray(Image.fromarray(rgb).resize((width, height), Image.LANCZOS))


def render_sheet(photos: Sequence[str | Path], columns: dict[str, Method], *, height: int = 240) -> Image.Image:
    """One row per photo (scaled to ``height``), one labelled column per method."""
    font = ImageFont.load_default(size=max(12, height // 14))
    rows = []
    for path in photos:
        small = thumbnail(path, height)
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


def save_sheet(sheet: Image.Image, path: str | os.PathLike) -> None:
    """Write ``sheet`` atomically, as PNG or JPEG by the file name."""
    fmt = output_format(path)
    with atomic_path(Path(path)) as tmp:
        sheet.save(tmp, format=fmt, **({"quality": 88} if fmt == "JPEG" else {}))
