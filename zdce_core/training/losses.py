"""The four non-reference losses of Zero-DCE, as pure tensor functions.

None needs a ground truth: they judge the enhanced image (and the curve
maps) against the input and against simple priors. Default weights are
the ones the paper's reference training used.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F


def spatial_consistency(enhanced: torch.Tensor, original: torch.Tensor, region: int = 4) -> torch.Tensor:
    """Keep the contrast between neighbouring 4x4 regions as it was in the input."""
    y = F.avg_pool2d(enhanced.mean(1, keepdim=True), region)
    i = F.avg_pool2d(original.mean(1, keepdim=True), region)
    loss = enhanced.new_zeros(())
    for dim in (2, 3):
        dy = torch.diff(y, dim=dim).abs()
        di = torch.diff(i, dim=dim).abs()
        # Each difference counts for both neighbours it joins (left/right, up/down).
        loss = loss + 2 * ((dy - di) ** 2).sum() / y.numel()
    return loss


def exposure_control(enhanced: torch.Tensor, target: float = 0.6, patch: int = 16) -> torch.Tensor:
    """Pull the mean of each 16x16 patch's luminance towards ``target``."""
    y = F.avg_pool2d(enhanced.mean(1, keepdim=True), patch)
    return ((y - target) ** 2).mean()


def colour_constancy(enhanced: torch.Tensor) -> torch.Tensor:
    """Grey-world prior: the three channel means should agree."""
    m = enhanced.mean((2, 3))
    r, g, b = m[:, 0], m[:, 1], m[:, 2]
    return ((r - g) ** 2 + (r - b) ** 2 + (g - b) ** 2).mean()


def illumination_smoothness(alphas: torch.Tensor) -> torch.Tensor:
    """Total variation of the curve maps: neighbouring pixels get similar curves."""
    dx = torch.diff(alphas, dim=3)[:, :, :-1, :].abs()
    dy = torch.diff(alphas, dim=2)[:, :, :, :-1].abs()
    return ((dx + dy) ** 2).mean()


@dataclass(frozen=True)
class LossWeights:
    """Weights of the four terms; defaults from the reference training."""

    spatial: float = 1.0
    exposure: float = 10.0
    colour: float = 5.0
    smoothness: float = 200.0
    exposure_target: float = 0.6


def zero_reference_loss(
    enhanced: torch.Tensor, original: torch.Tensor, alphas: torch.Tensor, weights: LossWeights = LossWeights()
) -> dict[str, torch.Tensor]:
    """Every weighted term and their sum (key ``"total"``)."""
    terms = {
        "spatial": weights.spatial * spatial_consistency(enhanced, original),
        "exposure": weights.exposure * exposure_control(enhanced, weights.exposure_target),
        "colour": weights.colour * colour_constancy(enhanced),
        "smoothness": weights.smoothness * illumination_smoothness(alphas),
    }
    terms["total"] = sum(terms.values())
    return terms
