"""The estimator contract shared by training and inference.

DCE-Net never sees a photo at full resolution. The photo is box-reduced by
the integer factor :func:`network_input_factor` (aspect ratio kept,
:func:`zdce_core.maths.resample.box_reduce`) to a copy whose longer side is at
most :data:`zdce_core.contract.ESTIMATE_SIDE`; the network runs on that copy and on a fourth,
constant plane that tells it how many stops the photo is under-exposed
(:func:`exposure_plane` of :func:`zdce_core.maths.exposure.under_exposure`),
so it knows how far to lift the photo as a whole although its 15-pixel
receptive field sees a quarter of the scene. Its
``3 * iterations`` curve maps are upsampled bilinearly
(``align_corners=False``) to full resolution, where the curves are applied.
Training (:mod:`zdce_core.training.loop`) runs exactly this path on its crops,
so what is trained is what runs.
"""

from __future__ import annotations

from ..contract import ESTIMATE_SIDE, MAX_STOPS
from .resample import reduction_factor


def exposure_plane(stops: float) -> float:
    """The value of the network's fourth input plane for a photo ``stops`` under-exposed: stops over :data:`zdce_core.contract.MAX_STOPS`, in [0, 1].

    Training (:mod:`zdce_core.training.estimator`) uses the same formula on tensors.

    >>> exposure_plane(0.0), exposure_plane(3.5), exposure_plane(7.0)
    (0.0, 0.5, 1.0)
    """
    return stops / MAX_STOPS


def network_input_factor(height: int, width: int) -> int:
    """The box factor that brings a ``height`` x ``width`` photo to the network's input size.

    >>> network_input_factor(512, 512), network_input_factor(2160, 3840), network_input_factor(100, 60)
    (8, 60, 2)
    """
    return reduction_factor(height, width, ESTIMATE_SIDE)
