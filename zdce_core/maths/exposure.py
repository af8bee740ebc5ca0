"""How under-exposed a photo is, which the network is told, and the one guard on its maps.

A well-exposed photo puts its brightest parts near white, whatever its key: a
high-key beach and a night street with lamps both reach it, an under-exposed
room does not. So a photo's *under-exposure* is measured from its white
point, in stops: how far (in linear light) the 99.5th percentile of its
brightest channel falls short of :data:`~zdce_core.contract.WHITE`, the white point of
well-exposed photos. A night scene with light sources in the frame is
therefore dark but not under-exposed (its lights are near white): it gets a
small lift and stays a night scene; a photo 4 stops under gets 4 stops, a
high-key one comes back high-key.

The measure runs on the copy the network sees (:mod:`zdce_core.maths.estimator`),
which gets it as its fourth input plane; the training losses
(``zdce_core.training.losses``) lift each photo by the same number of stops.

The guard: a photo under-exposed by ``FINE_STOPS`` or less is left alone by
``strength="auto"``, one by ``DARK_STOPS`` or more gets the network's curves
in full, and between the two the maps are scaled down (:func:`darkness`).
"""

from __future__ import annotations

import math

import numpy as np

from ..contract import (
    DARK_STOPS,
    FINE_STOPS,
    MAX_STOPS,
    SRGB_EXPONENT,
    SRGB_LINEAR_BELOW,
    SRGB_OFFSET,
    SRGB_SLOPE,
    WHITE,
    WHITE_PERCENTILE,
)


def _smoothstep(value, low: float, high: float):
    t = np.clip((value - low) / (high - low), 0.0, 1.0)
    return t * t * (3 - 2 * t)


def srgb_to_linear(v):
    """The sRGB decoding curve (IEC 61966-2-1) of values in [0, 1], element-wise, in their float type.

    >>> [round(float(x), 4) for x in srgb_to_linear(np.array([0.0, 0.04, 0.5, 1.0]))]
    [0.0, 0.0031, 0.214, 1.0]
    """
    v = np.asarray(v)
    return np.where(v <= SRGB_LINEAR_BELOW, v / SRGB_SLOPE, ((v + SRGB_OFFSET) / (1 + SRGB_OFFSET)) ** SRGB_EXPONENT)


def under_exposure(rgb: np.ndarray) -> float:
    """Stops by which a float ``(h, w, 3)`` image in [0, 1] falls short of a proper exposure, in [0, ``MAX_STOPS``].

    >>> under_exposure(np.full((4, 4, 3), 1.0, np.float32))
    0.0
    >>> round(under_exposure(np.full((4, 4, 3), 0.5, np.float32)), 3)   # linear 0.214: 1.96 stops under 0.83
    1.955
    >>> under_exposure(np.zeros((4, 4, 3), np.float32))
    7.0
    """
    brightest = srgb_to_linear(rgb).max(axis=-1)
    white = float(np.percentile(brightest, WHITE_PERCENTILE))
    stops = math.log2(WHITE / max(white, WHITE * 2.0**-MAX_STOPS))
    return round(min(max(stops, 0.0), MAX_STOPS), 6)


def darkness(stops: float) -> float:
    """The guard's factor on the maps for a photo ``stops`` under: 0 at ``FINE_STOPS`` or less, 1 at ``DARK_STOPS`` or more (:mod:`zdce_core.contract`).

    >>> darkness(0.3), darkness(2.0), darkness(0.8)
    (0.0, 1.0, 0.5)
    """
    return round(float(_smoothstep(stops, FINE_STOPS, DARK_STOPS)), 6)
