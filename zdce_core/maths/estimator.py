"""The estimator contract shared by training and inference.

DCE-Net never sees a photo at full resolution. The photo is box-reduced by
the integer factor :func:`network_input_factor` (aspect ratio kept,
:func:`zdce_core.maths.resample.box_reduce`) to a copy whose longer side is at
most :data:`zdce_core.contract.ESTIMATE_SIDE`; the network runs on that copy and on a fourth,
constant plane that tells it the copy's key (:func:`key_plane`, the key of
:func:`zdce_core.maths.exposure.key`), so it knows how dark the photo is as a
whole although its 15-pixel receptive field sees a quarter of the scene. Its
``3 * iterations`` curve maps are upsampled bilinearly
(``align_corners=False``) to full resolution, where the curves are applied.
Training (:mod:`zdce_core.training.loop`) runs exactly this path on its crops,
so what is trained is what runs.
"""

from __future__ import annotations

import math

from ..contract import ESTIMATE_SIDE, KEY_STOPS
from .resample import reduction_factor


def key_plane(key: float) -> float:
    """The value of the network's fourth input plane for a photo of key ``key``: stops below white over :data:`zdce_core.contract.KEY_STOPS`, in [-1, 0].

    The key's logarithm, because the gain a photo needs goes with the
    inverse of its key; training (:mod:`zdce_core.training.estimator`) uses
    the same formula on tensors.

    >>> key_plane(1.0), key_plane(0.25), key_plane(0.0)
    (0.0, -0.25, -1.0)
    """
    return math.log2(max(key, 2.0**-KEY_STOPS)) / KEY_STOPS


def network_input_factor(height: int, width: int) -> int:
    """The box factor that brings a ``height`` x ``width`` photo to the network's input size.

    >>> network_input_factor(512, 512), network_input_factor(2160, 3840), network_input_factor(100, 60)
    (8, 60, 2)
    """
    return reduction_factor(height, width, ESTIMATE_SIDE)
