"""Apply estimated curve maps to the full-resolution image, band by band.

The maps are upsampled bilinearly (``align_corners=False``, as
:func:`torch.nn.functional.interpolate`) to the image size, one band of rows
at a time, so memory beyond the input and output stays bounded.
"""

from __future__ import annotations

import numpy as np
import torch

from .curves import apply_curves

BAND_ROWS = 64
"""Rows per band; the result does not depend on it."""

_FULL_SCALE = {np.dtype(np.uint8): 255.0, np.dtype(np.uint16): 65535.0}


def source_coords(out_size: int, in_size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Bilinear source indices and weights for resizing ``in_size`` to ``out_size``.

    Returns ``(i0, i1, w)`` with ``value = (1 - w) * src[i0] + w * src[i1]``,
    following ``interpolate(mode="bilinear", align_corners=False)``.
    """
    src = (np.arange(out_size, dtype=np.float64) + 0.5) * (in_size / out_size) - 0.5
    src = np.maximum(src, 0.0)
    i0 = np.minimum(src.astype(np.int64), in_size - 1)
    i1 = np.minimum(i0 + 1, in_size - 1)
    return i0, i1, (src - i0).astype(np.float32)


def render(
    rgb: np.ndarray,
    maps: torch.Tensor,
    *,
    steps: int,
    strength: float,
    dtype: np.dtype,
    out: np.ndarray | None = None,
    band_rows: int = BAND_ROWS,
) -> np.ndarray:
    """Apply the first ``steps`` curve iterations of ``maps`` to ``rgb``.

    Parameters
    ----------
    rgb
        ``(H, W, 3)`` uint8, uint16, float32 or float64 image; floats in [0, 1].
    maps
        float32 ``(3 * iterations, h, w)`` curve maps from
        :func:`zdce_core.estimate.estimate_curve_maps`.
    steps
        Number of curve iterations to apply.
    strength
        Factor on every curve parameter: 0 is the identity.
    dtype
        Output dtype: float32/float64 in [0, 1], or uint8/uint16 at full range.
    out
        Optional ``(H, W, 3)`` array of ``dtype`` to write into; may be ``rgb``.
    band_rows
        Rows processed at a time; the result does not depend on it.

    Returns
    -------
    numpy.ndarray
        ``out``, or a new ``(H, W, 3)`` array of ``dtype``.
    """
    dtype = np.dtype(dtype)
    height, width = rgb.shape[:2]
    if out is None:
        out = np.empty((height, width, 3), dtype=dtype)
    in_scale = 1.0 / _FULL_SCALE.get(rgb.dtype, 1.0)
    out_scale = _FULL_SCALE.get(dtype)
    small = maps[: 3 * steps].to(torch.float32)
    y0, y1, wy = source_coords(height, small.shape[1])
    x0, x1, wx = source_coords(width, small.shape[2])
    x0, x1, wx = torch.from_numpy(x0), torch.from_numpy(x1), torch.from_numpy(wx)
    for top in range(0, height, band_rows):
        rows = slice(top, min(top + band_rows, height))
        wyb = torch.from_numpy(wy[rows])[None, :, None]
        cols = torch.lerp(small[:, y0[rows]], small[:, y1[rows]], wyb)
        alphas = torch.lerp(cols[:, :, x0], cols[:, :, x1], wx)
        x = torch.from_numpy(rgb[rows]).permute(2, 0, 1)[None].to(torch.float32) * in_scale
        y = apply_curves(x, alphas[None], steps, strength)[-1][0].permute(1, 2, 0)
        if out_scale is not None:
            y = y.clamp(0, 1).mul_(out_scale).round_()
        out[rows] = y.numpy().astype(dtype, copy=False)
    return out
