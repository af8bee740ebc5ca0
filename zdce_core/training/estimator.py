"""The estimator of :mod:`zdce_core.maths.estimator` on tensors: the path training runs.

Box reduction by the contract's integer factor (``avg_pool2d`` with
``ceil_mode=True`` averages the pixels a cut edge block holds, exactly as
:func:`zdce_core.maths.resample.box_reduce`), the exposure plane
(:func:`zdce_core.maths.estimator.exposure_plane` of
:func:`zdce_core.maths.exposure.under_exposure`), DCE-Net on the small copy, its maps
upsampled bilinearly to the input's size. Pure functions on ``(B, C, H, W)``
tensors that follow the input's device and dtype.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..contract import MAX_STOPS, SRGB_EXPONENT, SRGB_LINEAR_BELOW, SRGB_OFFSET, SRGB_SLOPE, WHITE, WHITE_PERCENTILE
from ..maths.estimator import network_input_factor


def smoothstep(value: torch.Tensor, low: float, high: float) -> torch.Tensor:
    """0 below ``low``, 1 above ``high``, a cubic in between (as :mod:`zdce_core.maths.exposure`)."""
    t = ((value - low) / (high - low)).clamp(0, 1)
    return t * t * (3 - 2 * t)


def srgb_to_linear(x: torch.Tensor) -> torch.Tensor:
    """The sRGB decoding curve, element-wise (as :func:`zdce_core.maths.exposure.srgb_to_linear`)."""
    curve = ((x.clamp(min=0) + SRGB_OFFSET) / (1 + SRGB_OFFSET)) ** SRGB_EXPONENT
    return torch.where(x <= SRGB_LINEAR_BELOW, x / SRGB_SLOPE, curve)


def under_exposure(x: torch.Tensor) -> torch.Tensor:
    """Each image's under-exposure in stops, ``(B, 1, 1, 1)`` (:func:`zdce_core.maths.exposure.under_exposure`)."""
    brightest = srgb_to_linear(x).amax(1).flatten(1)
    white = torch.quantile(brightest, WHITE_PERCENTILE / 100, dim=1)
    stops = torch.log2(WHITE / white.clamp(min=WHITE * 2.0**-MAX_STOPS)).clamp(0, MAX_STOPS)
    return stops.reshape(-1, 1, 1, 1)


def network_input(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The network's input planes for a batch ``x`` (the box-reduced copy and its exposure plane), and the stops each is under."""
    factor = network_input_factor(x.shape[-2], x.shape[-1])
    small = x if factor == 1 else F.avg_pool2d(x, factor, stride=factor, ceil_mode=True)
    stops = under_exposure(small)
    return torch.cat([small, (stops / MAX_STOPS).expand(-1, 1, *small.shape[-2:])], 1), stops


def upsample_maps(maps: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Curve maps brought to ``size`` bilinearly (``align_corners=False``), as the renderer does."""
    if tuple(maps.shape[-2:]) == tuple(size):
        return maps
    return F.interpolate(maps, size=size, mode="bilinear", align_corners=False)


def estimate_maps(model: torch.nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(small_maps, full_maps, stops)`` for a batch ``x`` in [0, 1]: the network's output, its upsampled copy, the under-exposures."""
    planes, stops = network_input(x)
    small = model(planes)
    return small, upsample_maps(small, tuple(x.shape[-2:])), stops
