"""The estimator contract shared by training and inference.

DCE-Net never sees a photo at full resolution. The photo is box-reduced by
the integer factor :func:`network_input_factor` (aspect ratio kept,
:func:`zdce_core.maths.resample.box_reduce`) to a copy whose longer side is at
most :data:`ESTIMATE_SIDE`; the network runs on that copy and on a fourth,
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

ESTIMATE_SIDE = 64
"""Longer side, in pixels, of the copy DCE-Net runs on (at most).

Chosen by measurement on the 2-core machine (``benchmarks/train_speed.py``):
the network's forward and backward pass is most of a training step and grows
with the square of this side; at 128 an epoch over SICE part 1 cost about four
times what it costs at 64, far past the 2-minute budget. At 64 the network's
15-pixel receptive field spans a quarter of the scene, and a 4K photo gets
maps of one value per 60x60 pixels, which the smooth curves allow.
"""

KEY_STOPS = 8
"""Stops below white that the key plane spans: keys of ``2 ** -8`` or less give -1."""


def key_plane(key: float) -> float:
    """The value of the network's fourth input plane for a photo of key ``key``: stops below white over 8, in [-1, 0].

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
    # Imported here so that reading ESTIMATE_SIDE (the command line's help does) loads no NumPy.
    from .resample import reduction_factor

    return reduction_factor(height, width, ESTIMATE_SIDE)
