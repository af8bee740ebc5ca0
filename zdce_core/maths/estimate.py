"""Curve-map estimation: DCE-Net's flat-field response on a small copy, or the network tiled at full resolution.

The curve maps are smooth, so the default estimates them on a box-downscaled
copy and leaves the full-resolution work to :func:`zdce_core.render.render`.
On that copy it runs :func:`flat_field_network`, not the network itself: the
network's 15-pixel receptive field covers nearly flat content in a full-size
photo, but whole objects in a small copy, where it answers very differently
(see README, "Speed and memory"). ``size=None`` runs the network at full resolution
in overlapping tiles, which equals one untiled pass while keeping the
network's activations bounded.
"""

from __future__ import annotations

import copy
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..training.model import RECEPTIVE_RADIUS, DCENet
from .resample import box_reduce, reduction_factor, unit_scale

DEFAULT_SIZE = 512
"""Default ``size``: maps of up to 512 pixels, fine enough for photos up to 4K
to keep the 8x8-block flat-field maps as they are (see README, "Speed and memory")."""

EXACT_SIDE = 256
"""Images no longer than this (and within ``size``) run through the network itself.

It is cheap at that size, and the flat-field approximation needs photos much
larger than the 15-pixel receptive field.
"""

FLAT_FIELD_FACTOR = 8
"""Box factor of the copy :func:`flat_field_network` runs on.

About the network's receptive radius: averaging over such blocks stands in for
the spatial averaging the network does at full resolution, and the maps match
the full-resolution network's best there (README, "Speed and memory").
"""

TILE = 512
"""Core size of a network tile; the halo comes on top."""

_FLAT_ROWS = 4096

@torch.inference_mode()
def _tiled_forward(model: DCENet, image: np.ndarray, tile: int) -> torch.Tensor:
    """Run ``model`` on an ``(H, W, 3)`` image in tiles whose halo covers the receptive field.

    Every output pixel sees exactly the neighbourhood it would see in one
    pass (zero padding only at the image border), so the result is that of an
    untiled pass. Tiles are converted to float one at a time, so a
    full-resolution pass needs no float copy of the whole image.
    """
    height, width = image.shape[:2]
    scale = unit_scale(image.dtype)
    out = torch.empty((3 * model.iterations, height, width), dtype=torch.float32)
    halo = RECEPTIVE_RADIUS
    for top in range(0, height, tile):
        for left in range(0, width, tile):
            bottom, right = min(top + tile, height), min(left + tile, width)
            t0, l0 = max(0, top - halo), max(0, left - halo)
            b0, r0 = min(height, bottom + halo), min(width, right + halo)
            # (h, w, 3) seen as (1, 3, h, w) is channels-last, which convolutions take as is.
            x = torch.from_numpy(image[t0:b0, l0:r0].astype(np.float32)).permute(2, 0, 1)[None]
            maps = model(x.mul_(scale) if scale != 1.0 else x)[0]
            out[:, top:bottom, left:right] = maps[:, top - t0 : bottom - t0, left - l0 : right - l0]
    return out


def flat_field_network(model: DCENet) -> DCENet:
    """``model`` as it responds to locally flat content, acting on ``(N, 3)`` rows of pixels.

    Where the input is constant over a convolution's window, the convolution
    equals a per-pixel linear layer with the kernel's spatial sum, so on a
    photo far larger than the receptive field the network acts, block by
    block, as this per-pixel one (the forward pass is the model's own: its
    skip concatenations along dimension 1 join channels of rows as they join
    channels of images). Run on a box-downscaled copy, it reproduces the block
    averages of the full-resolution maps, at a ninth of the network's cost.

    >>> net = DCENet().eval()
    >>> with torch.no_grad():
    ...     full = net(torch.full((1, 3, 15, 15), 0.2))[:, :, 7, 7]
    ...     one = flat_field_network(net)(torch.full((1, 3), 0.2))
    >>> bool(torch.allclose(full, one, atol=1e-6))
    True
    """
    flat = copy.deepcopy(model)
    with torch.no_grad():
        for name, conv in list(flat.named_children()):
            if isinstance(conv, nn.Conv2d):
                linear = nn.Linear(conv.in_channels, conv.out_channels)
                linear.weight.copy_(conv.weight.sum(dim=(2, 3)))
                linear.bias.copy_(conv.bias)
                setattr(flat, name, linear.requires_grad_(False))
    return flat


def _flat_field_forward(flat: DCENet, small: np.ndarray) -> torch.Tensor:
    """Maps ``(3 * iterations, h, w)`` of the per-pixel network for an ``(h, w, 3)`` float32 image.

    Chunks of rows, small enough for the layers' activations to stay in
    cache, go to a pool of single-threaded workers (torch releases the GIL):
    many small multi-threaded torch calls would each wait for their slowest
    thread, which on a busy machine costs ten times the work.
    """
    height, width = small.shape[:2]
    rows = torch.from_numpy(small.reshape(-1, 3))
    out = torch.empty((rows.shape[0], 3 * flat.iterations), dtype=torch.float32)

    @torch.inference_mode()
    def run(start: int) -> None:
        out[start : start + _FLAT_ROWS] = flat(rows[start : start + _FLAT_ROWS])

    workers = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with ThreadPoolExecutor(workers) as pool:
            list(pool.map(run, range(0, rows.shape[0], _FLAT_ROWS)))
    finally:
        torch.set_num_threads(workers)
    return out.reshape(height, width, -1).permute(2, 0, 1).contiguous()


def estimate_curve_maps(
    model: DCENet, rgb: np.ndarray, *, size: int | None = DEFAULT_SIZE, tile: int | None = None
) -> torch.Tensor:
    """Estimate DCE-Net's curve maps for an ``(H, W, 3)`` image.

    Parameters
    ----------
    model
        The network, in eval mode.
    rgb
        C-contiguous uint8, uint16, float32 or float64 image; floats in [0, 1].
    size
        Longer side of the maps at most. An image that fits, and is no
        longer than :data:`EXACT_SIDE`, runs through the network itself; any
        other is box-downscaled by :data:`FLAT_FIELD_FACTOR` for
        :func:`flat_field_network`, whose maps are averaged down to fit if
        need be. ``None`` runs the network at full resolution.
    tile
        Core tile size of the network pass (default :data:`TILE`); the result
        does not depend on it.

    Returns
    -------
    torch.Tensor
        float32 ``(3 * iterations, h, w)`` maps, ``max(h, w) <= size``.
    """
    tile = TILE if tile is None else tile
    height, width = rgb.shape[:2]
    grid = reduction_factor(height, width, size)
    if size is None or (grid == 1 and max(height, width) <= EXACT_SIDE):
        return _tiled_forward(model, rgb, tile)
    maps = _flat_field_forward(flat_field_network(model), box_reduce(rgb, FLAT_FIELD_FACTOR))
    if grid <= FLAT_FIELD_FACTOR:
        return maps
    return F.adaptive_avg_pool2d(maps[None], (-(-height // grid), -(-width // grid)))[0]
