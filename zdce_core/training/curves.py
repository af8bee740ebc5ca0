"""The light-enhancement curve ``LE(x) = x + a * x * (1 - x)``, on tensors.

Pure functions on ``(B, C, H, W)`` tensors that follow the input's device and
dtype. ``alphas`` holds one ``(B, 3, H, W)`` group per iteration, stacked
along the channel axis as DCE-Net emits them.
"""

from __future__ import annotations

import torch


def curve_step(x: torch.Tensor, alpha: torch.Tensor) -> torch.Tensor:
    """One iteration of the quadratic curve; maps [0, 1] into [0, 1] for |alpha| <= 1."""
    return x + alpha * x * (1 - x)


def split_alphas(alphas: torch.Tensor) -> list[torch.Tensor]:
    """Split DCE-Net's ``(B, 3 * n, H, W)`` output into ``n`` RGB maps."""
    if alphas.shape[1] % 3:
        raise ValueError(f"alphas has {alphas.shape[1]} channels; expected a multiple of 3")
    return list(torch.split(alphas, 3, dim=1))


def apply_curves(
    x: torch.Tensor, alphas: torch.Tensor, steps: int | None = None, strength: float = 1.0
) -> list[torch.Tensor]:
    """Apply the first ``steps`` curve iterations; return every intermediate image.

    ``strength`` scales every curve parameter: 0 is the identity, 1 the
    trained curve. Element ``k`` of the result is the image after ``k + 1``
    iterations, so ``apply_curves(...)[-1]`` is the final image.
    """
    maps = split_alphas(alphas)
    steps = len(maps) if steps is None else steps
    out = []
    for alpha in maps[:steps]:
        x = curve_step(x, alpha * strength if strength != 1.0 else alpha)
        out.append(x)
    return out
