"""Noise suppression in proportion to the gain the curves applied.

Brightening a dark region by a gain ``g`` multiplies its sensor noise by
``g`` too: the output there carries noise of variance ``g**2 * sigma**2``
where the input had ``sigma**2``. The filter removes the *added* part,
``(g**2 - 1) * sigma**2``, with a local linear minimum mean-square-error
filter (Lee's filter: ``mean + max(var - n, 0) / var * (x - mean)`` over a
small window). Where the gain is about 1 (a well-lit photo, a bright window)
``n`` is about 0 and nothing changes; where the local variance is well above
``n`` (edges, real texture) the pixel is kept.

It filters in an opponent colour space (:data:`OPPONENT`: brightness and two
colour differences, orthonormal so each carries the channels' noise
variance), not per RGB channel: detail lives mostly in brightness, while
the noise of a dark photo is as strong in the colour differences, where it
shows as coloured blotches and flat areas hold almost no signal. Brightness
noise is removed by :data:`LUMA_AMOUNT` times the added variance, colour
noise by :data:`CHROMA_AMOUNT` times it (a photographer's denoiser has the
same two controls). The model card gives its measured effect on the
synthetic pairs of ``benchmarks/quality.py``.

Everything but the filter itself is computed on small copies: the input's
noise level from a sample of rows, the gain from the curves rendered on a
128-pixel copy. The filter (:class:`NoiseFilter`) runs inside
:func:`zdce_core.maths.render.render` on each band of float rows before they
are clipped and converted, so the result is the same picture whatever the
output dtype, and memory stays bounded for any photo size.
"""

from __future__ import annotations

import numpy as np

from .render import render, segments
from .resample import LUMA, box_reduce, local_mean, reduction_factor, resize_bilinear, source_coords, unit_scale

GAIN_SIZE = 128
"""Longer side of the copy the gain map is computed on."""

RADIUS = 2
"""Half-size of the filter window (5 x 5)."""

LUMA_AMOUNT = 2.0
"""Multiple of the added brightness noise variance removed (1 would leave the input's noise level).

The best mean SSIM of 1, 2 and 3 on the tune half of ``shared/data/dev-synth`` (model card).
"""

CHROMA_AMOUNT = 4.0
"""Multiple of the added colour noise variance removed: more, since flat colour carries little signal."""

OPPONENT = (np.array([[1, 1, 1], [1, -1, 0], [1, 1, -2]]) / np.sqrt([[3], [2], [6]])).astype(np.float32)
"""Rows: brightness and two colour differences of RGB; orthonormal, so i.i.d. channel noise keeps its variance in each."""

SAMPLE_ROWS = 96
"""Most row triplets sampled for the noise estimate."""

SAMPLE_VALUES = 400_000
"""About how many filter responses the noise estimate takes (fewer rows on wide photos)."""

_SLOPE_STEP = 0.02  # luminance step of the finite-difference slope
_MIN_VARIANCE = 1e-7  # below this (about 0.1/255 noise) a band is left as it is
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


def noise_variance_map(rgb: np.ndarray, maps: np.ndarray, *, steps: int, strength: float, sigma: float) -> np.ndarray:
    """The ``(h, w)`` float32 variance the curves add: ``(g**2 - 1) * sigma**2`` on a small grid.

    ``g`` is the slope of the curves at each region's luminance, from
    ``maps`` rendered on a small copy of ``rgb`` and on the same copy a little
    brighter, smoothed a little so that it follows regions.
    """
    small = box_reduce(rgb, reduction_factor(*rgb.shape[:2], GAIN_SIZE))
    small_maps = resize_bilinear(maps, *small.shape[:2])
    brighter = np.minimum(small + _SLOPE_STEP, 1.0)
    lifted = render(small, small_maps, steps=steps, strength=strength, dtype=np.float32) @ LUMA
    lifted_more = render(brighter, small_maps, steps=steps, strength=strength, dtype=np.float32) @ LUMA
    step = np.maximum((brighter - small) @ LUMA, 1e-6)
    gain = local_mean((lifted_more - lifted) / step, 1)
    return (np.maximum(gain * gain - 1.0, 0.0) * sigma * sigma).astype(np.float32)


class NoiseFilter:
    """Lee's filter for bands of rendered rows, removing ``variance`` (a small grid, upsampled bilinearly) in opponent colours.

    A :data:`zdce_core.maths.render.BandFilter`: called with float32 rendered
    rows ``first..`` that reach :attr:`halo` rows beyond the band
    ``top..bottom`` (within the image), it returns the band's filtered rows.
    Window means count only the pixels inside the image.
    """

    halo = RADIUS

    def __init__(self, variance: np.ndarray, height: int, width: int):
        x0, x1, wx = source_coords(width, variance.shape[1])
        across = variance[:, x0] + wx * (variance[:, x1] - variance[:, x0])
        # Interpolated along rows once, each value repeated for the three interleaved channels.
        self.rows = np.ascontiguousarray(np.repeat(across, 3, axis=1), dtype=np.float32)
        self.y0, self.y1, self.wy = source_coords(height, variance.shape[0])
        # source_coords pairs grid row r with row min(r + 1, h - 1), as the curves' maps.
        self.slope = self.rows[np.minimum(np.arange(1, len(self.rows) + 1), len(self.rows) - 1)] - self.rows
        self.peak = np.maximum(variance[self.y0], variance[self.y1]).max(axis=1)  # per image row
        self.height, self.width = height, width
        cols = np.minimum(np.arange(width) + RADIUS, width - 1) - np.maximum(np.arange(width) - RADIUS, 0) + 1
        self.inv_cols = np.repeat(1.0 / cols, 3).astype(np.float32)
        # Each opponent component scaled by 1/sqrt(amount): the filter then removes amount times the variance.
        amounts = np.array([LUMA_AMOUNT, CHROMA_AMOUNT, CHROMA_AMOUNT], np.float32)
        self.forward = (OPPONENT / np.sqrt(amounts)[:, None]).T.astype(np.float32)
        self.inverse = np.linalg.inv(self.forward).astype(np.float32)

    def __call__(self, rows: np.ndarray, first: int, top: int, bottom: int) -> np.ndarray:
        if self.peak[top:bottom].max() < _MIN_VARIANCE:
            return rows[top - first : bottom - first]
        n, length, pad = bottom - top, rows.shape[1], 3 * RADIUS
        # One small product per image row: below OpenBLAS's threading threshold, so its threads do not
        # fight the render's workers (one product per band: 0.44 s against 0.31 s on a noisy 4K frame, 2 threads).
        rows = (rows.reshape(len(rows), -1, 3) @ self.forward).reshape(rows.shape)
        centre = rows[top - first : bottom - first]
        lo, hi = max(0, top - RADIUS), min(self.height, bottom + RADIUS)
        # Zero-padded window of the band: RADIUS rows above and below, RADIUS pixels either side.
        padded = np.zeros((n + 2 * RADIUS, length + 2 * pad), np.float32)
        padded[lo - top + RADIUS : hi - top + RADIUS, pad:-pad] = rows[lo - first : hi - first]
        size = 2 * RADIUS + 1
        total = _window_sum(_window_sum(padded, size, 0), size, 1, step=3)
        total_sq = _window_sum(_window_sum(padded * padded, size, 0), size, 1, step=3)
        y = np.arange(top, bottom)
        inside_rows = np.minimum(y + RADIUS, self.height - 1) - np.maximum(y - RADIUS, 0) + 1
        norm = self.inv_cols / inside_rows[:, None].astype(np.float32)
        mean = total * norm
        var = total_sq * norm
        var -= mean * mean
        np.maximum(var, 0.0, out=var)
        noise = np.empty_like(var)
        ys = self.y0[top:bottom]
        for start, stop in segments(ys):
            np.multiply(self.wy[top + start : top + stop, None], self.slope[ys[start]], out=noise[start:stop])
            noise[start:stop] += self.rows[ys[start]]
        # keep = max(var - noise, 0) / var: 1 keeps the pixel, 0 gives the window mean.
        np.subtract(var, noise, out=noise)
        np.maximum(noise, 0.0, out=noise)
        var += np.float32(1e-12)
        noise /= var
        result = centre - mean
        result *= noise
        result += mean
        return (result.reshape(len(result), -1, 3) @ self.inverse).reshape(result.shape)


def _window_sum(values: np.ndarray, size: int, axis: int, step: int = 1) -> np.ndarray:
    """Sums of ``size`` samples ``step`` apart along ``axis`` (2-D ``values``), ``(size - 1) * step`` shorter.

    By doubling (sums of 2, 4, ... samples, then the set bits of ``size``): three
    passes for five samples where adding them one by one takes five.

    >>> _window_sum(np.arange(8.0)[None], 5, 1)
    array([[10., 15., 20., 25.]])
    """
    n = values.shape[axis] - (size - 1) * step

    def cut(a: np.ndarray, start: int, length: int) -> np.ndarray:
        return a[start : start + length] if axis == 0 else a[:, start : start + length]

    spans = [values]  # spans[b]: sums of 2**b samples
    while 2 ** len(spans) <= size:
        width = 2 ** (len(spans) - 1) * step
        length = spans[-1].shape[axis] - width
        spans.append(cut(spans[-1], 0, length) + cut(spans[-1], width, length))
    total, offset = None, 0
    for b in reversed(range(len(spans))):
        if size >> b & 1:
            part = cut(spans[b], offset, n)
            if total is None:
                total = part if b else part.copy()  # a sum of ours may be added to in place; values not
            else:
                total += part
            offset += 2**b * step
    return total


def noise_filter(rgb: np.ndarray, maps: np.ndarray, *, steps: int, strength: float) -> NoiseFilter | None:
    """The filter that removes the noise the curves add when rendering ``rgb``; ``None`` where there is none to remove.

    Parameters
    ----------
    rgb
        The C-contiguous ``(H, W, 3)`` input image.
    maps, steps, strength
        What the image will be rendered with.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> dark = np.clip(0.05 + rng.normal(0, 0.01, (64, 64, 3)), 0, 1).astype(np.float32)
    >>> maps = np.full((24, 4, 4), 0.25, np.float32)
    >>> plain = render(dark, maps, steps=8, strength=1.0, dtype=np.float32)
    >>> denoise = noise_filter(dark, maps, steps=8, strength=1.0)
    >>> filtered = render(dark, maps, steps=8, strength=1.0, dtype=np.float32, band_filter=denoise)
    >>> bool(filtered.std() < 0.5 * plain.std())
    True
    """
    sigma = noise_sigma(rgb)
    if sigma <= 0:
        return None
    variance = noise_variance_map(rgb, maps, steps=steps, strength=strength, sigma=sigma)
    if float(variance.max()) < _MIN_VARIANCE:
        return None
    return NoiseFilter(variance, *rgb.shape[:2])
