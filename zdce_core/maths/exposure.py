"""Exposure awareness: how strongly to brighten each part of a photo.

Zero-DCE's exposure loss pulls every image towards one brightness (about 0.6),
so a faithful model brightens photos that were fine and washes them out, and
its per-pixel, per-channel curves flatten local contrast and shift colours.
``strength="auto"`` keeps the network's estimate of *how much* to lift but
applies it as follows (each choice measured with ``benchmarks/quality.py``):

- one grey curve for the whole photo: the brightening part of the network's
  maps averaged over pixels and channels, so tones keep their order and
  colours their balance (on darkened well-lit photos this is what brings the
  result close to the original; per-pixel maps cannot, at any strength);
- a global strength from the photo's *key* (log-average luminance, which
  follows the dark bulk of a scene rather than a bright window):
  :data:`DARK_STRENGTH` below :data:`KEY_DARK`, falling smoothly to 0 at
  :data:`KEY_FINE`, so a well-exposed photo is left alone; the network's curve
  already grows with the darkness of the input, so one strength suits all
  dark photos;
- times a smooth local map, 1 in dark regions and 0 in regions that are
  already bright, so a window in a dark room keeps its highlights.
"""

from __future__ import annotations

import numpy as np

from .resample import LUMA, box_reduce, local_mean, reduction_factor, resize_bilinear

GUIDE_SIZE = 96
"""Longer side of the copy the key and the local map are computed on."""

DARK_STRENGTH = 0.65
"""Strength for dark photos (key at most KEY_DARK)."""

KEY_DARK, KEY_FINE = 0.15, 0.24
"""Keys of a dark photo (full :data:`DARK_STRENGTH`) and of one left alone; well-lit photos measure 0.22-0.45."""

LOCAL_LOW, LOCAL_HIGH = 0.35, 0.75
"""Local luminance below which a region gets the global strength, and above which it gets none."""

_EPS = 1.0 / 255


def _smoothstep_down(value, low: float, high: float):
    """1 at or below ``low``, 0 at or above ``high``, smooth in between."""
    t = np.clip((high - value) / (high - low), 0.0, 1.0)
    return t * t * (3 - 2 * t)


def key(rgb: np.ndarray) -> float:
    """Log-average luminance of a float ``(h, w, 3)`` image in [0, 1].

    >>> key(np.full((2, 2, 3), 0.25, np.float32))
    0.25
    """
    luma = rgb @ LUMA
    return round(float(np.exp(np.log(luma + _EPS).mean()) - _EPS), 6)


def global_strength(key_in: float) -> float:
    """The strength ``"auto"`` gives a photo of key ``key_in``.

    >>> global_strength(0.05), global_strength(0.2), global_strength(0.3)
    (0.65, 0.271056, 0.0)
    """
    return round(DARK_STRENGTH * float(_smoothstep_down(key_in, KEY_DARK, KEY_FINE)), 6)


def local_map(small: np.ndarray) -> np.ndarray:
    """A ``(1, h, w)`` float32 map in [0, 1] for a small ``(h, w, 3)`` copy: 1 where dark, 0 where bright."""
    luma = small @ LUMA
    # Smooth over regions, not pixels: the map must never add texture or halos at edges.
    radius = max(1, round(max(small.shape[:2]) / 24))
    local = local_mean(luma, radius)
    return _smoothstep_down(local, LOCAL_LOW, LOCAL_HIGH)[None].astype(np.float32)


def grey_curve(maps: np.ndarray) -> np.ndarray:
    """The brightening part of ``(3 * n, h, w)`` maps averaged into one grey curve, shape ``(3 * n, 1, 1)``.

    >>> grey_curve(np.array([[[1.0, -1.0]], [[0.5, 0.5]], [[0.0, 0.0]]], np.float32))[:, 0, 0].tolist()
    [0.3333333432674408, 0.3333333432674408, 0.3333333432674408]
    """
    n = maps.shape[0]
    return np.repeat(np.maximum(maps, 0).reshape(n // 3, -1).mean(axis=1, dtype=np.float32), 3)[:, None, None]


def auto_maps(rgb: np.ndarray, maps: np.ndarray) -> np.ndarray:
    """Curve maps for ``strength="auto"``: one grey curve, weighted globally by the key and locally.

    Parameters
    ----------
    rgb
        The full ``(H, W, 3)`` image the maps were estimated for.
    maps
        float32 ``(3 * iterations, h, w)`` curve maps from
        :func:`zdce_core.maths.estimate.estimate_curve_maps`.

    Returns
    -------
    numpy.ndarray
        float32 maps of the same shape, to render with ``strength=1``.

    Examples
    --------
    >>> maps = np.full((24, 8, 8), 0.5, np.float32)
    >>> dark, bright = np.full((40, 60, 3), 10, np.uint8), np.full((40, 60, 3), 160, np.uint8)
    >>> round(float(auto_maps(dark, maps).min()), 4), float(auto_maps(bright, maps).max())
    (0.325, 0.0)
    """
    small = box_reduce(rgb, reduction_factor(*rgb.shape[:2], GUIDE_SIZE))
    weight = resize_bilinear(local_map(small), *maps.shape[1:])
    return grey_curve(maps) * weight * np.float32(global_strength(key(small)))
