"""Exposure awareness at inference: the network's own curves, with one thin guard on its maps.

The bundled network is trained to know what to lift (``zdce_core.training.losses``):
dark regions of dark photos towards a gamma curve of their level, bright
regions kept, near-black regions (black skies, sensor noise) kept near black,
and never to darken (its curve parameters are kept at or above 0). Its
per-pixel, per-channel curves are the result of ``strength="auto"``.

What it cannot learn is whether a photo as a whole is dark: it sees a
64-pixel copy through a 15-pixel receptive field, a quarter of the scene.
The same rule its training loss uses to decide how much a photo is to be
lifted (:func:`darkness` of the photo's key: 1 at :data:`KEY_DARK` or below, 0 at
:data:`KEY_FINE` or above) therefore scales its maps, so a well-exposed photo
is left alone. The maps keep their shape: a dark photo with a bright sky has a
low key (the log-average follows the dark bulk) and gets the network's curves
in full.
"""

from __future__ import annotations

import numpy as np

from .resample import LUMA, box_reduce, reduction_factor

GUIDE_SIZE = 96
"""Longer side of the copy the key is computed on."""

KEY_DARK, KEY_FINE = 0.15, 0.22
"""Keys (log-average channel-mean brightness) of a photo lifted in full and of one left alone.

Training uses the same two values (``LossWeights.key_dark``, ``key_fine``).
"""

_EPS = 1.0 / 255


def _smoothstep(value, low: float, high: float):
    t = np.clip((value - low) / (high - low), 0.0, 1.0)
    return t * t * (3 - 2 * t)


def key(rgb: np.ndarray, weights: np.ndarray = LUMA) -> float:
    """Log-average brightness of a float ``(h, w, 3)`` image in [0, 1] (Rec. 709 luminance by default).

    >>> key(np.full((2, 2, 3), 0.25, np.float32))
    0.25
    """
    luma = rgb @ weights
    return round(float(np.exp(np.log(luma + _EPS).mean()) - _EPS), 6)


def darkness(rgb: np.ndarray) -> float:
    """How much a float ``(h, w, 3)`` image is a dark photo to lift: 1 at key :data:`KEY_DARK` or below, 0 at :data:`KEY_FINE`.

    The key is that of the channel mean, as the training losses measure brightness.

    >>> darkness(np.full((4, 4, 3), 0.05, np.float32)), darkness(np.full((4, 4, 3), 0.4, np.float32))
    (1.0, 0.0)
    """
    k = key(rgb, np.full(3, 1 / 3, np.float32))
    return round(1.0 - float(_smoothstep(k, KEY_DARK, KEY_FINE)), 6)


def auto_maps(rgb: np.ndarray, maps: np.ndarray) -> np.ndarray:
    """Curve maps for ``strength="auto"``: the network's maps times the photo's :func:`darkness`.

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
    >>> maps = np.linspace(0, 0.5, 24 * 4, dtype=np.float32).reshape(24, 2, 2)
    >>> dark, bright = np.full((40, 60, 3), 10, np.uint8), np.full((40, 60, 3), 160, np.uint8)
    >>> bool((auto_maps(dark, maps) == maps).all()), float(auto_maps(bright, maps).max())
    (True, 0.0)
    """
    small = box_reduce(rgb, reduction_factor(*rgb.shape[:2], GUIDE_SIZE))
    return maps * np.float32(darkness(small))
