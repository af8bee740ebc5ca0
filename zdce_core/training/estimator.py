"""The estimator of :mod:`zdce_core.maths.estimator` on tensors: the path training runs.

Box reduction by the contract's integer factor (``avg_pool2d`` with
``ceil_mode=True`` averages the pixels a cut edge block holds, exactly as
:func:`zdce_core.maths.resample.box_reduce`), the key plane
(:func:`zdce_core.maths.estimator.key_plane` of
:func:`zdce_core.maths.exposure.key`), DCE-Net on the small copy, its maps
upsampled bilinearly to the input's size. Pure functions on ``(B, C, H, W)``
tensors that follow the input's device and dtype.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..contract import BLACK_HIGH, BLACK_LOW, KEY_STOPS
from ..maths.estimator import network_input_factor


def smoothstep(value: torch.Tensor, low: float, high: float) -> torch.Tensor:
    """0 below ``low``, 1 above ``high``, a cubic in between (as :mod:`zdce_core.maths.exposure`)."""
    t = ((value - low) / (high - low)).clamp(0, 1)
    return t * t * (3 - 2 * t)


def key(x: torch.Tensor) -> torch.Tensor:
    """Each image's key, ``(B, 1, 1, 1)``: log-average channel mean of its non-black pixels (0 if none)."""
    eps = 1 / 255
    level = x.mean(1, keepdim=True)
    weight = smoothstep(level, BLACK_LOW, BLACK_HIGH)
    total = weight.sum((2, 3), keepdim=True)
    log_mean = (weight * torch.log(level + eps)).sum((2, 3), keepdim=True) / total.clamp(min=1e-12)
    return torch.where(total > 0, (torch.exp(log_mean) - eps).clamp(min=0), torch.zeros_like(total))


def network_input(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The network's input planes for a batch ``x`` (the box-reduced copy and its key plane), and the keys."""
    factor = network_input_factor(x.shape[-2], x.shape[-1])
    small = x if factor == 1 else F.avg_pool2d(x, factor, stride=factor, ceil_mode=True)
    photo_key = key(small)
    plane = torch.log2(photo_key.clamp(min=2.0**-KEY_STOPS)) / KEY_STOPS
    return torch.cat([small, plane.expand(-1, 1, *small.shape[-2:])], 1), photo_key


def upsample_maps(maps: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Curve maps brought to ``size`` bilinearly (``align_corners=False``), as the renderer does."""
    if tuple(maps.shape[-2:]) == tuple(size):
        return maps
    return F.interpolate(maps, size=size, mode="bilinear", align_corners=False)


def estimate_maps(model: torch.nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(small_maps, full_maps, key)`` for a batch ``x`` in [0, 1]: the network's output, its upsampled copy, the keys."""
    planes, photo_key = network_input(x)
    small = model(planes)
    return small, upsample_maps(small, tuple(x.shape[-2:])), photo_key
