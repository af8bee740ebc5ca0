"""Exposure awareness: how strongly to brighten each part of a photo.

Zero-DCE's exposure loss pulls every image towards one brightness (about 0.6),
so a faithful model also brightens photos that were fine and washes them out.
``strength="auto"`` keeps the network's curves but chooses how much of them to
apply:

- a global strength, found by bisection on a small copy, so that the result
  reaches a *target key* that depends on the input's key (the log-average
  luminance, which follows the dark bulk of a scene rather than a bright
  window): dark photos are lifted to a normal key, well-exposed ones keep theirs;
- times a smooth local map, 1 in dark regions and 0 in regions that are
  already bright, so a window in a dark room keeps its highlights;
- and only the brightening half of the curves: where the network would darken
  (it does so above its target brightness) the photo is left as it is.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from .estimate import box_reduce, reduction_factor
from .render import render

SEARCH_SIZE = 96
"""Longer side of the copy the global strength is searched on."""

LUMA = np.array([0.2125, 0.7154, 0.0721], np.float32)
"""Rec. 709 luminance weights, applied to the encoded values as a brightness measure."""

TARGET_KEY = 0.34
"""Key (log-average luminance) a dark photo is lifted to; well-lit photos measure 0.3-0.45."""

# Input keys below KEY_DARK get the full TARGET_KEY; above KEY_FINE they are left alone.
KEY_DARK, KEY_FINE = 0.10, 0.28

# Local luminance, in [0, 1]: regions below LOCAL_LOW get the global strength, above LOCAL_HIGH none.
LOCAL_LOW, LOCAL_HIGH = 0.35, 0.75

_EPS = 1.0 / 255
_BISECTIONS = 12


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


def target_key(key_in: float) -> float:
    """The key ``strength="auto"`` aims for, given the input's key (never darker than the input).

    >>> target_key(0.02), target_key(0.5)
    (0.34, 0.5)
    """
    return key_in + max(0.0, TARGET_KEY - key_in) * float(_smoothstep_down(key_in, KEY_DARK, KEY_FINE))


def local_map(small: np.ndarray) -> torch.Tensor:
    """A ``(1, h, w)`` map in [0, 1] for a small ``(h, w, 3)`` copy: 1 where dark, 0 where bright."""
    luma = torch.from_numpy(np.ascontiguousarray(small @ LUMA))[None, None]
    # Smooth over regions, not pixels: the map must never add texture or halos at edges.
    radius = max(1, round(max(small.shape[:2]) / 24))
    local = F.avg_pool2d(luma, 2 * radius + 1, stride=1, padding=radius, count_include_pad=False)
    return torch.from_numpy(_smoothstep_down(local[0].numpy(), LOCAL_LOW, LOCAL_HIGH))


def _resize(maps: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    return F.interpolate(maps[None], size=size, mode="bilinear", align_corners=False)[0]


def global_strength(small: np.ndarray, maps: torch.Tensor) -> float:
    """The factor on ``maps`` (already local-weighted) that brings ``small`` to :func:`target_key`.

    The brightness of the result grows with the factor (the maps are
    non-negative), so bisection finds it.
    """
    key_in = key(small)
    goal = target_key(key_in)
    if goal <= key_in:
        return 0.0
    if key(render(small, maps, steps=maps.shape[0] // 3, strength=1.0, dtype=np.float32)) <= goal:
        return 1.0
    low, high = 0.0, 1.0
    for _ in range(_BISECTIONS):
        mid = 0.5 * (low + high)
        if key(render(small, maps, steps=maps.shape[0] // 3, strength=mid, dtype=np.float32)) < goal:
            low = mid
        else:
            high = mid
    return 0.5 * (low + high)


def auto_maps(rgb: np.ndarray, maps: torch.Tensor) -> torch.Tensor:
    """Curve maps for ``strength="auto"``: ``maps`` limited to brightening, weighted locally and globally.

    Parameters
    ----------
    rgb
        The full ``(H, W, 3)`` image the maps were estimated for.
    maps
        ``(3 * iterations, h, w)`` curve maps from
        :func:`zdce_core.estimate.estimate_curve_maps`.

    Returns
    -------
    torch.Tensor
        Maps of the same shape, to render with ``strength=1``.

    Examples
    --------
    >>> maps = torch.full((24, 8, 8), 0.5)
    >>> dark, bright = np.full((40, 60, 3), 10, np.uint8), np.full((40, 60, 3), 160, np.uint8)
    >>> float(auto_maps(dark, maps).min()) > 0.3, float(auto_maps(bright, maps).max())
    (True, 0.0)
    """
    search = box_reduce(rgb, reduction_factor(*rgb.shape[:2], SEARCH_SIZE))
    weight = local_map(search)
    small_maps = _resize(maps, search.shape[:2]).clamp_(min=0) * weight
    scale = global_strength(search, small_maps)
    return maps.clamp(min=0) * _resize(weight, maps.shape[1:]) * scale
