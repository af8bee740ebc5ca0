"""Resampling rules every stage shares: dtype scales, box reduction, bilinear source coordinates, luminance.

One definition each, so the estimator, the renderer, the guards and the
training loop resample, scale and weigh pixels identically.
"""

from __future__ import annotations

import math

import numba
import numpy as np

FULL_SCALE = {np.dtype(np.uint8): 255.0, np.dtype(np.uint16): 65535.0}
"""Integer dtypes and the value that stands for 1.0; floats are already in [0, 1]."""

LUMA = np.array([0.2125, 0.7154, 0.0721], np.float32)
"""Rec. 709 luminance weights, applied to the encoded values as a brightness measure."""


def unit_scale(dtype: np.dtype) -> float:
    """The factor that brings values of ``dtype`` to [0, 1].

    >>> unit_scale(np.dtype(np.uint8)) * 255, unit_scale(np.dtype(np.float32))
    (1.0, 1.0)
    """
    return 1.0 / FULL_SCALE.get(np.dtype(dtype), 1.0)


def reduction_factor(height: int, width: int, size: int | None) -> int:
    """The integer box factor that brings the longer side to at most ``size``.

    >>> reduction_factor(2160, 3840, 256), reduction_factor(400, 600, 1024)
    (15, 1)
    """
    if size is None:
        return 1
    if size < 1:
        raise ValueError(f"estimation size must be a positive integer or None, got {size}")
    return max(1, math.ceil(max(height, width) / size))


@numba.njit(parallel=True, cache=True)
def _box_means(src, factor, scale, dst):
    """Mean of each ``factor`` x ``factor`` block of ``src`` (``(H, 3 * W)``) into ``dst`` (``(h, w, 3)``)."""
    height, row_len = src.shape
    width = row_len // 3
    for i in numba.prange(dst.shape[0]):
        top = i * factor
        bottom = min(top + factor, height)
        # Rows first: a contiguous, vectorised pass over the bulk of the data.
        acc = np.zeros(row_len, np.float32)
        for y in range(top, bottom):
            line = src[y]
            for k in range(row_len):
                acc[k] += line[k]
        for j in range(dst.shape[1]):
            left = j * factor
            right = min(left + factor, width)
            norm = scale / ((bottom - top) * (right - left))
            for c in range(3):
                total = 0.0
                for x in range(left, right):
                    total += acc[3 * x + c]
                dst[i, j, c] = total * norm


def box_reduce(rgb: np.ndarray, factor: int) -> np.ndarray:
    """Average ``factor`` x ``factor`` blocks of ``rgb`` into an ``(h, w, 3)`` float32 array in [0, 1].

    Blocks cut by the right or bottom edge average the pixels they hold.

    >>> box_reduce(np.arange(12, dtype=np.uint8).reshape(2, 2, 3), 2) * 255
    array([[[4.5, 5.5, 6.5]]], dtype=float32)
    """
    height, width = rgb.shape[:2]
    small = np.empty((-(-height // factor), -(-width // factor), 3), np.float32)
    _box_means(np.ascontiguousarray(rgb).reshape(height, -1), factor, unit_scale(rgb.dtype), small)
    return small


def source_coords(out_size: int, in_size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Bilinear source indices and weights for resizing ``in_size`` samples to ``out_size``.

    Returns ``(i0, i1, w)`` with ``value = (1 - w) * src[i0] + w * src[i1]``,
    following ``interpolate(mode="bilinear", align_corners=False)``.

    >>> source_coords(4, 2)
    (array([0, 0, 0, 1]), array([1, 1, 1, 1]), array([0.  , 0.25, 0.75, 0.25], dtype=float32))
    """
    src = (np.arange(out_size, dtype=np.float64) + 0.5) * (in_size / out_size) - 0.5
    src = np.maximum(src, 0.0)
    i0 = np.minimum(src.astype(np.int64), in_size - 1)
    i1 = np.minimum(i0 + 1, in_size - 1)
    return i0, i1, (src - i0).astype(np.float32)
