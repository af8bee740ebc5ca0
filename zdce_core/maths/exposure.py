"""How dark a photo is: its key, which the network is given, and the one guard on its maps.

The key is the log-average brightness (channel mean, as the training losses
measure it) of the photo's pixels above the black toe (:data:`BLACK_LOW` to
:data:`BLACK_HIGH`, in :mod:`zdce_core.contract`): a black sky or a black background says nothing about
how well the scene is exposed, so it does not count. It is computed on the
copy the network runs on (:mod:`zdce_core.maths.estimator`), and the network
gets it as its fourth input plane: with a 15-pixel receptive field it sees a
quarter of the scene and could not otherwise tell a dark photo from a dark
corner of a bright one. The training losses (``zdce_core.training.losses``)
set each photo's exposure target from the same number.

The guard: a photo whose key is :data:`KEY_FINE` or more is left alone by
``strength="auto"``, one of :data:`KEY_DARK` or less gets the network's curves
in full, and between the two the maps are scaled down (:func:`darkness`). The
maps keep their shape: the guard never replaces them by a global curve.
"""

from __future__ import annotations

import numpy as np

from ..contract import BLACK_HIGH, BLACK_LOW, KEY_DARK, KEY_FINE

_EPS = 1.0 / 255


def _smoothstep(value, low: float, high: float):
    t = np.clip((value - low) / (high - low), 0.0, 1.0)
    return t * t * (3 - 2 * t)


def key(rgb: np.ndarray) -> float:
    """Log-average channel-mean brightness of the non-black pixels of a float ``(h, w, 3)`` image in [0, 1].

    A pixel counts with weight 0 below :data:`BLACK_LOW`, 1 above
    :data:`BLACK_HIGH` (smoothly between); an all-black image has key 0.

    >>> key(np.full((2, 2, 3), 0.25, np.float32))
    0.25
    >>> half_black = np.concatenate([np.zeros((2, 2, 3)), np.full((2, 2, 3), 0.25)]).astype(np.float32)
    >>> key(half_black), key(np.zeros((2, 2, 3), np.float32))
    (0.25, 0.0)
    """
    level = np.asarray(rgb, np.float32).mean(axis=-1)
    weight = _smoothstep(level, BLACK_LOW, BLACK_HIGH)
    total = float(weight.sum())
    if total <= 0:
        return 0.0
    log_mean = float((weight * np.log(level + _EPS)).sum()) / total
    return round(max(0.0, float(np.exp(log_mean)) - _EPS), 6)


def darkness(photo_key: float) -> float:
    """The guard's factor on the maps for a photo of key ``photo_key``: 1 at :data:`KEY_DARK` or below, 0 at :data:`KEY_FINE` or above.

    >>> darkness(0.05), darkness(0.4), darkness(0.215)
    (1.0, 0.0, 0.5)
    """
    return round(1.0 - float(_smoothstep(photo_key, KEY_DARK, KEY_FINE)), 6)
