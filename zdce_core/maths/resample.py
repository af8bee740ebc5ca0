"""Resampling rules every stage shares: dtype scales, box reduction, bilinear source coordinates, luminance.

One definition each, so the estimator, the renderer, the guards and the
training loop resample, scale and weigh pixels identically.
"""

from __future__ import annotations

import math

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


def box_reduce(rgb: np.ndarray, factor: int) -> np.ndarray:
    """Average ``factor`` x ``factor`` blocks of ``rgb`` into an ``(h, w, 3)`` float32 array in [0, 1].

    Blocks cut by the right or bottom edge average the pixels they hold.
    Integer images are summed exactly, floats in float64.

    >>> box_reduce(np.arange(12, dtype=np.uint8).reshape(2, 2, 3), 2) * 255
    array([[[4.5, 5.5, 6.5]]], dtype=float32)
    """
    height, width, channels = rgb.shape
    small = np.empty((-(-height // factor), -(-width // factor), channels), np.float32)
    acc_dtype = np.uint64 if rgb.dtype.kind == "u" else np.float64
    whole = width // factor * factor
    cols = np.full(small.shape[1], factor, np.float64)
    cols[-1] = width - (small.shape[1] - 1) * factor
    for i in range(small.shape[0]):
        # One band of rows at a time: the sums never hold more than one row of the photo.
        band = rgb[i * factor : (i + 1) * factor]
        rows = np.add.reduce(band, axis=0, dtype=acc_dtype)
        sums = np.empty(small.shape[1:], np.float64)
        sums[: whole // factor] = rows[:whole].reshape(-1, factor, channels).sum(axis=1)
        if whole < width:
            sums[-1] = rows[whole:].sum(axis=0)
        small[i] = sums * (unit_scale(rgb.dtype) / band.shape[0] / cols)[:, None]
    return small


def resize_bilinear(maps: np.ndarray, height: int, width: int) -> np.ndarray:
    """Resize ``(C, h, w)`` maps to ``(C, height, width)`` float32, as ``interpolate(mode="bilinear", align_corners=False)``.

    >>> resize_bilinear(np.array([[[0.0, 1.0]]], np.float32), 1, 4)
    array([[[0.  , 0.25, 0.75, 1.  ]]], dtype=float32)
    """
    y0, y1, wy = source_coords(height, maps.shape[1])
    x0, x1, wx = source_coords(width, maps.shape[2])
    rows = maps[:, y0] + wy[:, None] * (maps[:, y1] - maps[:, y0])
    return (rows[:, :, x0] + wx * (rows[:, :, x1] - rows[:, :, x0])).astype(np.float32)


def local_mean(plane: np.ndarray, radius: int) -> np.ndarray:
    """Mean over the ``(2 * radius + 1)``-pixel square around each pixel of a small 2-D array, counting only pixels inside.

    As ``avg_pool2d(..., stride=1, padding=radius, count_include_pad=False)``.

    >>> local_mean(np.array([[0.0, 3.0, 6.0]]), 1)
    array([[1.5, 3. , 4.5]])
    """
    size = 2 * radius + 1

    def window_sums(values: np.ndarray, axis: int) -> np.ndarray:
        pad = [(0, 0)] * values.ndim
        pad[axis] = (radius + 1, radius)
        running = np.cumsum(np.pad(values, pad), axis=axis)
        n = values.shape[axis]
        return np.take(running, np.arange(size, size + n), axis) - np.take(running, np.arange(n), axis)

    sums = window_sums(window_sums(np.asarray(plane, np.float64), 0), 1)
    counts = window_sums(window_sums(np.ones(plane.shape), 0), 1)
    return sums / counts


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
