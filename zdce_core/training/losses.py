"""The zero-reference losses, as pure tensor functions.

None needs a ground truth: they judge the enhanced image (and the curve
maps) against the input and against simple priors. Three are the paper's
(spatial consistency, colour constancy, illumination smoothness); exposure
control is made input-adaptive, and a toe term is added, because *dark is
not low light*: a fixed target of 0.6 pulls well-lit and over-exposed
frames towards one brightness and lifts black skies and sensor noise.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ..maths.exposure import KEY_DARK, KEY_FINE


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


def _smoothstep(value: torch.Tensor, low: float, high: float) -> torch.Tensor:
    t = ((value - low) / (high - low)).clamp(0, 1)
    return t * t * (3 - 2 * t)


def luminance(x: torch.Tensor) -> torch.Tensor:
    """The channel mean, ``(B, 1, H, W)``: the brightness every term measures (as the paper's)."""
    return x.mean(1, keepdim=True)


def key(x: torch.Tensor) -> torch.Tensor:
    """Log-average brightness of each image, ``(B, 1, 1, 1)``: follows a scene's dark bulk, not a bright window."""
    eps = 1 / 255
    return torch.exp(torch.log(luminance(x) + eps).mean((2, 3), keepdim=True)) - eps


def darkness(x: torch.Tensor, weights: "LossWeights") -> torch.Tensor:
    """How much each image is a dark photo to lift: 1 at key ``key_dark`` or below, 0 at ``key_fine`` or above."""
    return 1 - _smoothstep(key(x), weights.key_dark, weights.key_fine)


def exposure_target(level: torch.Tensor, dark: torch.Tensor | float, weights: "LossWeights") -> torch.Tensor:
    """The brightness a region of input brightness ``level`` should come out at, in an image of ``darkness`` ``dark``.

    In a dark photo, dark regions are lifted along a gamma curve towards
    ``exposure_target``; regions at or above it keep their level (nothing
    is pulled down); below the toe band (``toe_low``..``toe_high``) a region
    keeps its level, so a black sky stays black. A well-lit or over-exposed
    photo (``dark`` 0) keeps every level. Non-decreasing in ``level``.

    >>> w = LossWeights()
    >>> [round(v, 3) for v in exposure_target(torch.tensor([0.003, 0.05, 0.2, 0.8]), 1.0, w).tolist()]
    [0.003, 0.413, 0.509, 0.8]
    >>> exposure_target(torch.tensor([0.05]), 0.0, w).tolist()
    [0.05000000074505806]
    """
    level = level.clamp(0, 1)
    e = weights.exposure_target
    lifted = torch.where(level < e, e * (level.clamp(min=1e-6) / e) ** weights.exposure_gamma, level)
    return level + (lifted - level) * _smoothstep(level, weights.toe_low, weights.toe_high) * dark


def exposure_control(enhanced: torch.Tensor, original: torch.Tensor, weights: "LossWeights", patch: int = 16) -> torch.Tensor:
    """Pull each 16x16 patch's mean brightness towards :func:`exposure_target` of the input's."""
    y = F.avg_pool2d(luminance(enhanced), patch, ceil_mode=True)
    i = F.avg_pool2d(luminance(original), patch, ceil_mode=True)
    return ((y - exposure_target(i, darkness(original, weights), weights)) ** 2).mean()


def toe(enhanced: torch.Tensor, original: torch.Tensor, low: float = 0.01, high: float = 0.03) -> torch.Tensor:
    """Near-black pixels stay near black: penalise lifting a pixel darker than ``low`` above three times its level.

    Acts per pixel, where the patch-level exposure target cannot see: noise
    and black detail inside a region that is lifted. The penalty fades out
    between ``low`` and ``high``, so dark detail above the noise floor may
    still be lifted.
    """
    y, i = luminance(enhanced), luminance(original)
    weight = 1 - _smoothstep(i, low, high)
    return (weight * F.relu(y - 3 * i - 1.5 * low) ** 2).mean()


def colour_constancy(enhanced: torch.Tensor, weight: torch.Tensor | float = 1.0) -> torch.Tensor:
    """Grey-world prior: the three channel means should agree (each image's term times ``weight``)."""
    m = enhanced.mean((2, 3))
    r, g, b = m[:, 0], m[:, 1], m[:, 2]
    per_image = (r - g) ** 2 + (r - b) ** 2 + (g - b) ** 2
    if isinstance(weight, torch.Tensor):
        weight = weight.reshape(-1)
    return (per_image * weight).mean()


def brightening_only(alphas: torch.Tensor) -> torch.Tensor:
    """Mean amount by which curve parameters fall below 0.

    A negative parameter darkens; with every parameter at or above 0 each
    curve step is non-decreasing in its input, the strength and the number
    of steps, so no photo comes back darker than it went in and ``strength``
    and ``steps`` stay monotone.
    """
    return F.relu(-alphas).mean()


def illumination_smoothness(alphas: torch.Tensor) -> torch.Tensor:
    """Total variation of the curve maps: neighbouring pixels get similar curves."""
    dx = torch.diff(alphas, dim=3)[:, :, :-1, :].abs()
    dy = torch.diff(alphas, dim=2)[:, :, :, :-1].abs()
    return ((dx + dy) ** 2).mean()


@dataclass(frozen=True)
class LossWeights:
    """Weights of the terms (the paper's four from its reference training) and the exposure target's shape."""

    spatial: float = 1.0
    exposure: float = 10.0
    colour: float = 5.0
    smoothness: float = 200.0
    toe: float = 80.0
    brightening: float = 2.0
    exposure_target: float = 0.6
    exposure_gamma: float = 0.15
    toe_low: float = 0.007
    toe_high: float = 0.03
    # Shared with the inference guard (zdce_core.maths.exposure), which applies the same rule.
    key_dark: float = KEY_DARK
    key_fine: float = KEY_FINE


LOSS_NAMES = ("total", "spatial", "exposure", "colour", "smoothness", "toe", "brightening")


def zero_reference_loss(
    enhanced: torch.Tensor, original: torch.Tensor, alphas: torch.Tensor, weights: LossWeights = LossWeights()
) -> dict[str, torch.Tensor]:
    """Every weighted term and their sum (key ``"total"``); ``alphas`` are the network's (small) maps."""
    terms = {
        "spatial": weights.spatial * spatial_consistency(enhanced, original),
        "exposure": weights.exposure * exposure_control(enhanced, original, weights),
        # Grey world only where the photo is dark: a well-lit photo keeps its colours.
        "colour": weights.colour * colour_constancy(enhanced, darkness(original, weights)),
        "smoothness": weights.smoothness * illumination_smoothness(alphas),
        "toe": weights.toe * toe(enhanced, original),
        "brightening": weights.brightening * brightening_only(alphas),
    }
    terms["total"] = sum(terms.values())
    return {k: terms[k] for k in LOSS_NAMES}
