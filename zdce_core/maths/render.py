"""Apply estimated curve maps to the full-resolution image, band by band.

The maps are upsampled bilinearly (``align_corners=False``, as
:func:`torch.nn.functional.interpolate`) to the image size and the curve
iterations ``x <- x + a * x * (1 - x)`` run in float32, all inside one
compiled pass over bands of rows: nothing of full image size is allocated
besides the output, and each pixel is read and written once.
"""

from __future__ import annotations

import numba
import numpy as np
import torch

from .resample import FULL_SCALE, source_coords

BAND_ROWS = 64
"""Rows per parallel work item; the result does not depend on it."""

_DTYPES = (np.dtype(np.uint8), np.dtype(np.uint16), np.dtype(np.float32), np.dtype(np.float64))


# Columns (interleaved samples) per inner block: the block's pixels and its
# slice of the interpolated maps stay in cache across the rows that share them.
_CHUNK = 1536


@numba.njit(cache=True, fastmath={"contract"})
def _upsample_row(maps, row, x0, x1, wx, steps, strength, dst):
    """Interpolate row ``row`` of channels-last ``maps`` horizontally into ``dst[s, 3 * x + c]``, times ``strength``."""
    for s in range(steps):
        line = dst[s]
        for x in range(x0.size):
            left = maps[row, x0[x]]
            right = maps[row, x1[x]]
            w = wx[x]
            for c in range(3 * s, 3 * s + 3):
                line[3 * x + c - 3 * s] = (left[c] + w * (right[c] - left[c])) * strength


@numba.njit(parallel=True, cache=True, fastmath={"contract"})
def _render_bands(src, maps, y0, y1, wy, x0, x1, wx, steps, strength, in_scale, out_scale, dst, band_rows):
    """Render ``src`` into ``dst``, both ``(H, 3 * W)``, one band of rows per task.

    Within a band, the rows that interpolate between the same two map rows
    form a segment: those two rows are interpolated horizontally once, then
    the segment is processed block by block of columns, with the pixels kept
    interleaved so that every inner loop is contiguous.
    """
    height, row_len = src.shape
    n_bands = (height + band_rows - 1) // band_rows
    for band in numba.prange(n_bands):
        upper = np.empty((steps, row_len), np.float32)
        lower = np.empty((steps, row_len), np.float32)
        slope = np.empty((steps, row_len), np.float32)
        px = np.empty(_CHUNK, np.float32)
        end = min((band + 1) * band_rows, height)
        held = -1  # the map row now in ``lower``
        top = band * band_rows
        while top < end:
            r0 = y0[top]
            r1 = y1[top]
            bottom = top + 1
            while bottom < end and y0[bottom] == r0 and y1[bottom] == r1:
                bottom += 1
            if r0 == held:
                upper, lower = lower, upper
            else:
                _upsample_row(maps, r0, x0, x1, wx, steps, strength, upper)
            _upsample_row(maps, r1, x0, x1, wx, steps, strength, lower)
            held = r1
            for s in range(steps):
                for i in range(row_len):
                    slope[s, i] = lower[s, i] - upper[s, i]
            for c0 in range(0, row_len, _CHUNK):
                n = min(_CHUNK, row_len - c0)
                for y in range(top, bottom):
                    w = wy[y]
                    line = src[y, c0 : c0 + n]
                    for i in range(n):
                        px[i] = np.float32(line[i]) * in_scale
                    for s in range(steps):
                        a0 = upper[s, c0 : c0 + n]
                        da = slope[s, c0 : c0 + n]
                        for i in range(n):
                            v = px[i]
                            px[i] = v + (a0[i] + w * da[i]) * (v - v * v)
                    out = dst[y, c0 : c0 + n]
                    if out_scale > 0:
                        for i in range(n):
                            v = min(max(px[i], np.float32(0)), np.float32(1))
                            out[i] = np.int32(v * out_scale + np.float32(0.5))
                    else:
                        for i in range(n):
                            out[i] = px[i]
            top = bottom


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
        C-contiguous ``(H, W, 3)`` uint8, uint16, float32 or float64 image;
        floats in [0, 1].
    maps
        float32 ``(3 * iterations, h, w)`` curve maps from
        :func:`zdce_core.estimate.estimate_curve_maps`, any ``h, w``.
    steps
        Number of curve iterations to apply, at most ``iterations``.
    strength
        Factor on every curve parameter: 0 is the identity.
    dtype
        Output dtype: float32/float64 in [0, 1], or uint8/uint16 at full
        range, rounded to nearest.
    out
        Optional C-contiguous ``(H, W, 3)`` array of ``dtype`` to write
        into; may be ``rgb`` itself.
    band_rows
        Rows per parallel work item; the result does not depend on it.

    Returns
    -------
    numpy.ndarray
        ``out``, or a new ``(H, W, 3)`` array of ``dtype``.

    Examples
    --------
    >>> grey = np.full((2, 3, 3), 0.25, np.float32)
    >>> render(grey, torch.ones(24, 1, 1), steps=1, strength=0.5, dtype=np.float32)[0, 0]
    array([0.34375, 0.34375, 0.34375], dtype=float32)
    """
    dtype = np.dtype(dtype)
    height, width = rgb.shape[:2]
    if rgb.dtype not in _DTYPES or dtype not in _DTYPES:
        raise TypeError(f"render needs uint8, uint16, float32 or float64, got {rgb.dtype} -> {dtype}")
    if not 0 <= steps <= maps.shape[0] // 3:
        raise ValueError(f"steps must be in 0..{maps.shape[0] // 3}, got {steps}")
    if out is None:
        out = np.empty((height, width, 3), dtype=dtype)
    elif out.shape != (height, width, 3) or out.dtype != dtype or not out.flags.c_contiguous:
        raise ValueError(f"out must be a C-contiguous {(height, width, 3)} {dtype} array")
    small = np.ascontiguousarray(maps.detach().to(torch.float32).numpy().transpose(1, 2, 0))
    y0, y1, wy = source_coords(height, small.shape[0])
    x0, x1, wx = source_coords(width, small.shape[1])
    _render_bands(
        np.ascontiguousarray(rgb).reshape(height, -1),
        small, y0, y1, wy, x0, x1, wx,
        steps,
        np.float32(strength),
        np.float32(1.0 / FULL_SCALE.get(rgb.dtype, 1.0)),
        np.float32(FULL_SCALE.get(dtype, 0.0)),
        out.reshape(height, -1),
        max(1, band_rows),
    )
    return out
