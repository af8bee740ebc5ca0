"""Curve-map estimation at inference: DCE-Net on the small copy the estimator contract defines.

The photo is box-reduced by an integer factor to a copy whose longer side is
at most ``size`` (:data:`zdce_core.contract.ESTIMATE_SIDE` by default,
the size the bundled network is trained at); the network
(:mod:`zdce_core.maths.network`, NumPy) runs on that copy and its exposure plane.
The maps are upsampled to full resolution inside
:func:`zdce_core.maths.render.render`.
"""

from __future__ import annotations

import numpy as np

from ..contract import ESTIMATE_SIDE
from .estimator import exposure_plane
from .exposure import under_exposure
from .network import Network
from .resample import box_reduce, reduction_factor

def network_input(rgb: np.ndarray, *, size: int = ESTIMATE_SIDE) -> tuple[np.ndarray, float]:
    """The network's input for an ``(H, W, 3)`` image: float32 ``(h, w, 4)`` (the box-reduced copy and its exposure plane) and the stops it is under-exposed.

    >>> x, stops = network_input(np.full((300, 200, 3), 64, np.uint8), size=128)
    >>> x.shape, round(stops, 3), round(float(x[0, 0, 3]), 3)
    ((100, 67, 4), 4.017, 0.574)
    """
    small = box_reduce(rgb, reduction_factor(*rgb.shape[:2], size))
    stops = under_exposure(small)
    plane = np.full(small.shape[:2] + (1,), exposure_plane(stops), np.float32)
    return np.concatenate([small, plane], axis=-1), stops


def estimate_curve_maps(net: Network, rgb: np.ndarray, *, size: int = ESTIMATE_SIDE) -> np.ndarray:
    """DCE-Net's curve maps for an ``(H, W, 3)`` image.

    Parameters
    ----------
    net
        The network, e.g. :func:`zdce_core.weights.default_model`.
    rgb
        C-contiguous uint8, uint16, float32 or float64 image; floats in [0, 1].
    size
        Longer side of the copy the network sees, at most.

    Returns
    -------
    numpy.ndarray
        float32 ``(3 * iterations, h, w)`` maps, ``max(h, w) <= size``.

    Examples
    --------
    >>> from zdce_core.weights import default_model
    >>> estimate_curve_maps(default_model(), np.zeros((300, 200, 3), np.uint8), size=128).shape
    (24, 100, 67)
    """
    return net(network_input(rgb, size=size)[0])
