"""The estimator of :mod:`zdce_core.maths.estimator` on tensors: the path training runs.

Box reduction by the contract's integer factor (``avg_pool2d`` with
``ceil_mode=True`` averages the pixels a cut edge block holds, exactly as
:func:`zdce_core.maths.resample.box_reduce`), DCE-Net on the small copy, its
maps upsampled bilinearly to the input's size. Pure functions on
``(B, C, H, W)`` tensors.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..maths.estimator import network_input_factor


def network_input(x: torch.Tensor) -> torch.Tensor:
    """The box-reduced copy of ``x`` that DCE-Net sees."""
    factor = network_input_factor(x.shape[-2], x.shape[-1])
    if factor == 1:
        return x
    return F.avg_pool2d(x, factor, stride=factor, ceil_mode=True)


def upsample_maps(maps: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Curve maps brought to ``size`` bilinearly (``align_corners=False``), as the renderer does."""
    if tuple(maps.shape[-2:]) == tuple(size):
        return maps
    return F.interpolate(maps, size=size, mode="bilinear", align_corners=False)


def estimate_maps(model: torch.nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(small_maps, full_maps)`` for a batch ``x`` in [0, 1]: the network's output and its upsampled copy."""
    small = model(network_input(x))
    return small, upsample_maps(small, tuple(x.shape[-2:]))
