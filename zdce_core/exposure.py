"""Exposure awareness: how strongly to brighten each part of a photo.

Zero-DCE's exposure loss pulls every image towards one brightness, so a
faithful model also brightens photos that were fine. ``strength="auto"``
scales the curve maps by a smooth map in [0, 1] that is 1 where the scene is
dark and falls to 0 where it is already well exposed, for the photo as a
whole and locally (a bright window in a dark room keeps its highlights).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from .estimate import box_reduce, reduction_factor

GUIDE_SIZE = 64
"""Longer side of the luminance copy the strength map is computed on."""

# Luminance thresholds, in [0, 1]: fully dark below LOW, left alone above HIGH.
LOCAL_LOW, LOCAL_HIGH = 0.20, 0.50
GLOBAL_LOW, GLOBAL_HIGH = 0.20, 0.45


def _ramp(value: torch.Tensor, low: float, high: float) -> torch.Tensor:
    """1 at or below ``low``, 0 at or above ``high``, smooth in between."""
    t = ((high - value) / (high - low)).clamp(0, 1)
    return t * t * (3 - 2 * t)


def strength_map(rgb: np.ndarray) -> torch.Tensor:
    """A ``(1, h, w)`` float32 strength map for an ``(H, W, 3)`` image.

    Examples
    --------
    >>> dark = np.full((40, 60, 3), 10, np.uint8)
    >>> bright = np.full((40, 60, 3), 160, np.uint8)
    >>> float(strength_map(dark).min()), float(strength_map(bright).max())
    (1.0, 0.0)
    """
    small = box_reduce(rgb, reduction_factor(*rgb.shape[:2], GUIDE_SIZE))
    luma = torch.from_numpy(small.mean(axis=2))[None, None]
    # Blur so that the map varies over regions, not pixels: it must never add texture.
    local = F.avg_pool2d(luma, 5, stride=1, padding=2, count_include_pad=False)
    overall = _ramp(luma.mean(), GLOBAL_LOW, GLOBAL_HIGH)
    return (_ramp(local, LOCAL_LOW, LOCAL_HIGH) * overall)[0]


def apply_strength(maps: torch.Tensor, strength: torch.Tensor) -> torch.Tensor:
    """Scale ``(n, h, w)`` curve maps by a ``(1, h', w')`` strength map resized to fit."""
    resized = F.interpolate(strength[None], size=maps.shape[1:], mode="bilinear", align_corners=False)[0]
    return maps * resized
