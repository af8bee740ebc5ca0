"""Noise suppression in proportion to the gain the curves applied.

Brightening a dark region by a gain ``g`` multiplies its sensor noise by
``g`` too: the output there carries noise of variance ``g**2 * sigma**2``
where the input had ``sigma**2``. :func:`suppress_noise` removes (a multiple
of) the *added* part, ``(g**2 - 1) * sigma**2``, with a local linear minimum
mean-square-error filter (Lee's filter: ``mean + max(var - n, 0) / var *
(x - mean)`` over a small window, per channel). Where the gain is about 1 (a
well-lit photo, a bright window) ``n`` is about 0 and nothing changes; where
the local variance is well above ``n`` (edges, real texture) the pixel is
kept.

Everything but the filter itself is computed on small copies: the input's
noise level from a sample of rows, the gain from the curves rendered on a
128-pixel copy. The filter runs in place on the output, band by band, with
only the band's original rows held aside, so memory stays bounded for any
photo size.
"""

from __future__ import annotations

import numba
import numpy as np
import torch
import torch.nn.functional as F

from .render import render
from .resample import FULL_SCALE, LUMA, box_reduce, reduction_factor, source_coords, unit_scale

GAIN_SIZE = 128
"""Longer side of the copy the gain map is computed on."""

RADIUS = 2
"""Half-size of the filter window (5 x 5); a compile-time constant of the kernel."""

AMOUNT = 1.0
"""Multiple of the added noise variance treated as noise (1: back to the input's noise level)."""

SAMPLE_ROWS = 96
"""Most row triplets sampled for the noise estimate."""

SAMPLE_VALUES = 400_000
"""About how many filter responses the noise estimate takes (fewer rows on wide photos)."""

BAND_ROWS = 256
"""Rows filtered per sequential band (their originals are held in a float32 buffer)."""

_CHUNK_ROWS = 32
_PAD = 3 * RADIUS  # interleaved samples of zero padding on either side of the column sums
_SLOPE_STEP = 0.02  # luminance step of the finite-difference slope
_MIN_VARIANCE = 1e-7  # below this (about 0.1/255 noise) a pixel is left as it is
# Immerkaer's 3x3 kernel: a difference of two Laplacians, blind to planes and ramps.
_LAPLACE_NORM = 6.0


def noise_sigma(rgb: np.ndarray) -> float:
    """Robust estimate of the per-channel noise standard deviation of ``rgb``, in [0, 1] units.

    Immerkaer's Laplacian-difference filter on evenly spaced row triplets
    (about :data:`SAMPLE_VALUES` responses); the median absolute response (robust to
    edges and texture) is converted to a Gaussian sigma.

    >>> rng = np.random.default_rng(1)
    >>> flat = np.clip(0.3 + rng.normal(0, 0.02, (200, 300, 3)), 0, 1)
    >>> round(noise_sigma(flat), 3)
    0.02
    """
    height = rgb.shape[0]
    if height < 3 or rgb.shape[1] < 3:
        return 0.0
    n_rows = min(SAMPLE_ROWS, height - 2, max(8, SAMPLE_VALUES // (3 * rgb.shape[1])))
    centres = np.unique(np.linspace(1, height - 2, n_rows).round().astype(np.int64))
    rows = np.stack([rgb[centres - 1], rgb[centres], rgb[centres + 1]], axis=1).astype(np.float32)
    rows *= unit_scale(rgb.dtype)
    lap = rows[:, :, :-2] - 2 * rows[:, :, 1:-1] + rows[:, :, 2:]
    response = lap[:, 0] - 2 * lap[:, 1] + lap[:, 2]
    return float(np.median(np.abs(response)) / (0.6745 * _LAPLACE_NORM))


def noise_variance_map(rgb: np.ndarray, maps: torch.Tensor, *, steps: int, strength: float, sigma: float) -> np.ndarray:
    """The ``(h, w)`` float32 variance to remove: ``AMOUNT * (g**2 - 1) * sigma**2`` on a small grid.

    ``g`` is the slope of the curves at each region's luminance, from
    ``maps`` rendered on a small copy of ``rgb`` and on the same copy a little
    brighter, smoothed a little so that it follows regions.
    """
    small = box_reduce(rgb, reduction_factor(*rgb.shape[:2], GAIN_SIZE))
    small_maps = F.interpolate(maps[None], size=small.shape[:2], mode="bilinear", align_corners=False)[0]
    brighter = np.minimum(small + _SLOPE_STEP, 1.0)
    lifted = render(small, small_maps, steps=steps, strength=strength, dtype=np.float32) @ LUMA
    lifted_more = render(brighter, small_maps, steps=steps, strength=strength, dtype=np.float32) @ LUMA
    step = np.maximum((brighter - small) @ LUMA, 1e-6)
    gain = torch.from_numpy(((lifted_more - lifted) / step).astype(np.float32))
    gain = F.avg_pool2d(gain[None, None], 3, stride=1, padding=1, count_include_pad=False)[0, 0].numpy()
    return (AMOUNT * np.maximum(gain * gain - 1.0, 0.0) * sigma * sigma).astype(np.float32)


@numba.njit(cache=True)
def _row_variance(variance, y0, y1, wy, x0, x1, wx, y, dst):
    """Interpolate the small ``variance`` grid bilinearly along row ``y`` into ``dst[3 * x + c]``; returns its max."""
    upper, lower, w = variance[y0[y]], variance[y1[y]], wy[y]
    line = upper + w * (lower - upper)
    peak = np.float32(0.0)
    for x in range(x0.size):
        v = line[x0[x]] + wx[x] * (line[x1[x]] - line[x0[x]])
        dst[3 * x] = v
        dst[3 * x + 1] = v
        dst[3 * x + 2] = v
        peak = max(peak, v)
    return peak


@numba.njit(parallel=True, cache=True, fastmath=True)
def _lee_bands(img, variance, y0, y1, wy, x0, x1, wx, scale, band_rows):
    """Lee-filter ``img`` (``(H, 3 * W)``) in place; ``variance`` is the small noise-variance grid.

    Bands run in sequence; ``held`` keeps the original rows of the current
    band plus ``radius`` rows on either side, so rows already written are
    never read back. Inside a band, chunks of rows run in parallel, each
    sliding its column sums down its rows; the horizontal sums then add
    ``2 * radius + 1`` shifted copies of the (zero-padded) column sums, so
    every inner loop runs over contiguous interleaved samples.
    """
    height, row_len = img.shape
    width = row_len // 3
    radius, pad = RADIUS, _PAD
    inv = np.float32(1.0 / scale)
    # 1 / (number of window columns inside the image), per interleaved sample.
    inv_cols = np.empty(row_len, np.float32)
    for x in range(width):
        cols = min(x + radius, width - 1) - max(x - radius, 0) + 1
        for c in range(3):
            inv_cols[3 * x + c] = np.float32(1.0) / np.float32(cols)
    held = np.empty((band_rows + 2 * radius, row_len), np.float32)
    first_held = 0  # image row of held[0]
    n_held = 0
    for top in range(0, height, band_rows):
        bottom = min(top + band_rows, height)
        lo, hi = max(0, top - radius), min(height, bottom + radius)
        # Keep the rows still needed from the previous band, load the rest from the (untouched) image.
        keep = min(max(0, first_held + n_held - lo), hi - lo)
        for k in range(keep):
            held[k] = held[lo - first_held + k]
        for r in range(lo + keep, hi):
            src = img[r]
            dst = held[r - lo]
            for i in range(row_len):
                dst[i] = np.float32(src[i]) * inv
        first_held, n_held = lo, hi - lo
        n_chunks = (bottom - top + _CHUNK_ROWS - 1) // _CHUNK_ROWS
        for chunk in numba.prange(n_chunks):
            c_top = top + chunk * _CHUNK_ROWS
            c_bottom = min(c_top + _CHUNK_ROWS, bottom)
            col_sum = np.zeros(row_len + 2 * pad, np.float32)
            col_sq = np.zeros(row_len + 2 * pad, np.float32)
            noise = np.empty(row_len, np.float32)
            win_top, win_bottom = max(0, c_top - radius), max(0, c_top - radius)
            for y in range(c_top, c_bottom):
                # Slide the vertical window to rows [y - radius, y + radius] within the image.
                want_top, want_bottom = max(0, y - radius), min(height, y + radius + 1)
                while win_bottom < want_bottom:
                    line = held[win_bottom - first_held]
                    for i in range(row_len):
                        col_sum[pad + i] += line[i]
                        col_sq[pad + i] += line[i] * line[i]
                    win_bottom += 1
                while win_top < want_top:
                    line = held[win_top - first_held]
                    for i in range(row_len):
                        col_sum[pad + i] -= line[i]
                        col_sq[pad + i] -= line[i] * line[i]
                    win_top += 1
                if _row_variance(variance, y0, y1, wy, x0, x1, wx, y, noise) < _MIN_VARIANCE:
                    continue
                inv_rows = np.float32(1.0) / np.float32(win_bottom - win_top)
                centre = held[y - first_held]
                out = img[y]
                filtered = noise  # reused in place: noise[i] is read before filtered[i] is written
                for i in range(row_len):
                    s = np.float32(0.0)
                    q = np.float32(0.0)
                    for k in range(0, 2 * _PAD + 1, 3):
                        s += col_sum[i + k]
                        q += col_sq[i + k]
                    norm = inv_rows * inv_cols[i]
                    mean = s * norm
                    var = max(q * norm - mean * mean, np.float32(0.0))
                    keep_part = max(var - noise[i], np.float32(0.0)) / (var + np.float32(1e-12))
                    filtered[i] = mean + keep_part * (centre[i] - mean)
                if scale > 1.0:
                    for i in range(row_len):
                        out[i] = np.int32(min(max(filtered[i], np.float32(0.0)), np.float32(1.0)) * scale + np.float32(0.5))
                else:
                    for i in range(row_len):
                        out[i] = filtered[i]


def suppress_noise(
    rgb: np.ndarray, out: np.ndarray, maps: torch.Tensor, *, steps: int, strength: float
) -> np.ndarray:
    """Remove the noise the curves added to ``out`` (rendered from ``rgb``), in place.

    Parameters
    ----------
    rgb
        The C-contiguous ``(H, W, 3)`` input image.
    out
        The C-contiguous ``(H, W, 3)`` rendered result (uint8, uint16,
        float32 or float64); filtered in place.
    maps, steps, strength
        What ``out`` was rendered with.

    Returns
    -------
    numpy.ndarray
        ``out``.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> dark = np.clip(0.05 + rng.normal(0, 0.01, (64, 64, 3)), 0, 1).astype(np.float32)
    >>> maps = torch.full((24, 4, 4), 0.25)
    >>> lifted = render(dark, maps, steps=8, strength=1.0, dtype=np.float32)
    >>> before = lifted.std()
    >>> bool(suppress_noise(dark, lifted, maps, steps=8, strength=1.0).std() < 0.5 * before)
    True
    """
    sigma = noise_sigma(rgb)
    if sigma <= 0:
        return out
    variance = noise_variance_map(rgb, maps, steps=steps, strength=strength, sigma=sigma)
    if float(variance.max()) < _MIN_VARIANCE:
        return out
    height, width = out.shape[:2]
    y0, y1, wy = source_coords(height, variance.shape[0])
    x0, x1, wx = source_coords(width, variance.shape[1])
    _lee_bands(
        out.reshape(height, -1), variance, y0, y1, wy, x0, x1, wx,
        FULL_SCALE.get(out.dtype, 1.0), BAND_ROWS,
    )
    return out
