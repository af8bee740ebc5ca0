"""The zero-reference losses, as pure tensor functions.

None needs a ground truth: they judge the enhanced image (and the curve
maps) against the input and against simple priors. Two are the paper's
(colour constancy, illumination smoothness). Exposure control is made
input-adaptive, because *dark is not low light*: a fixed target of 0.6 pulls
well-lit and over-exposed frames towards one brightness, and a target per
patch flattens contrast; here each photo is lifted as a longer exposure
would lift it, by the stops it is under-exposed (the number the network is
given, :func:`zdce_core.maths.exposure.under_exposure`): one gain in linear
light for every level, with a toe (black stays black) and a shoulder
(highlights compressed). Spatial consistency
keeps the contrast that gain implies; per-pixel toe and highlights terms
and a brightening-only term are added.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..contract import SRGB_EXPONENT, SRGB_LINEAR_BELOW, SRGB_OFFSET, SRGB_SLOPE
from .config import LossWeights
from .estimator import smoothstep, srgb_to_linear


def linear_to_srgb(x: torch.Tensor) -> torch.Tensor:
    """The sRGB encoding curve, element-wise; values above 1 (brighter than white) continue the curve."""
    x = x.clamp(min=0)
    knee = SRGB_LINEAR_BELOW / SRGB_SLOPE
    curve = (1 + SRGB_OFFSET) * x.clamp(min=knee) ** (1 / SRGB_EXPONENT) - SRGB_OFFSET
    return torch.where(x <= knee, SRGB_SLOPE * x, curve)


def _regions(x: torch.Tensor, size: int) -> torch.Tensor:
    return F.avg_pool2d(x, size, ceil_mode=True)


def luminance(x: torch.Tensor) -> torch.Tensor:
    """The channel mean, ``(B, 1, H, W)``: the brightness every term measures (as the paper's)."""
    return x.mean(1, keepdim=True)


def spatial_consistency(enhanced: torch.Tensor, target: torch.Tensor, region: int = 4) -> torch.Tensor:
    """Keep the contrast between neighbouring 4x4 regions that the exposure target gives them.

    The paper compares with the input's contrast, which pulls a lifted photo
    towards an additive lift (flat); here ``target`` holds each region's
    brightness as :func:`exposure_target` wants it, so a photo lifted by a
    gain keeps its contrast in proportion.
    """
    y = _regions(luminance(enhanced), region)
    loss = enhanced.new_zeros(())
    for dim in (2, 3):
        dy = torch.diff(y, dim=dim).abs()
        dt = torch.diff(target, dim=dim).abs()
        # Each difference counts for both neighbours it joins (left/right, up/down).
        loss = loss + 2 * ((dy - dt) ** 2).sum() / y.numel()
    return loss


def darkness(stops: torch.Tensor, weights: LossWeights) -> torch.Tensor:
    """How much each image is under-exposed: 0 at ``fine_stops`` or less, 1 at ``dark_stops`` or more (the inference guard's rule)."""
    return smoothstep(stops, weights.fine_stops, weights.dark_stops)


def exposure_gain(stops: torch.Tensor, weights: LossWeights) -> torch.Tensor:
    """The linear-light gain a photo ``stops`` under-exposed is to be lifted by: ``2 ** (stops * darkness)``.

    An under-exposed photo (``dark_stops`` or more) gets its stops back, a
    well-exposed one (``fine_stops`` or less, the inference guard's rule)
    keeps its levels, and in between the gain fades out.

    >>> w = LossWeights()
    >>> [round(v, 2) for v in exposure_gain(torch.tensor([0.0, 0.5, 0.8, 2.0, 4.0]), w).tolist()]
    [1.0, 1.0, 1.32, 4.0, 16.0]
    """
    return 2.0 ** (stops * darkness(stops, weights))


def exposure_target(level: torch.Tensor, gain: torch.Tensor | float, weights: LossWeights) -> torch.Tensor:
    """The level (sRGB) a region of input level ``level`` should come out at, in a photo lifted by ``gain`` in linear light.

    Every level is multiplied by the gain in linear light, as a longer
    exposure would, so contrast and hues are kept, with a shoulder above
    ``shoulder`` (``s + (1 - s) * u / (1 + u)`` for ``u = (v - s) / (1 - s)``:
    highlights keep their gradation rather than clip) and never pulled down;
    below the black levels (``black_low``..``black_high``) a region keeps its
    level, so a black sky stays black. Non-decreasing in ``level``; gain 1 keeps
    every level.

    >>> w = LossWeights()
    >>> [round(v, 3) for v in exposure_target(torch.tensor([0.003, 0.05, 0.15, 0.25, 0.95]), 4.0, w).tolist()]
    [0.003, 0.132, 0.31, 0.488, 0.965]
    >>> [round(v, 3) for v in exposure_target(torch.tensor([0.05, 0.95]), 1.0, w).tolist()]
    [0.05, 0.95]
    """
    level = level.clamp(0, 1)
    s = weights.shoulder
    scaled = linear_to_srgb(srgb_to_linear(level) * gain)
    over = (scaled - s).clamp(min=0) / (1 - s)
    shouldered = torch.where(scaled > s, s + (1 - s) * over / (1 + over), scaled)
    lifted = torch.maximum(level, shouldered)
    return level + (lifted - level) * smoothstep(level, weights.black_low, weights.black_high)


def exposure_control(
    enhanced: torch.Tensor, original: torch.Tensor, gain: torch.Tensor, weights: LossWeights, patch: int = 16
) -> torch.Tensor:
    """Pull each 16x16 patch's mean, per channel, towards :func:`exposure_target` of the input's (so hues are kept)."""
    return ((_regions(enhanced, patch) - exposure_target(_regions(original, patch), gain, weights)) ** 2).mean()


def toe(enhanced: torch.Tensor, original: torch.Tensor, low: float, high: float) -> torch.Tensor:
    """Near-black pixels stay near black: penalise lifting a pixel darker than ``low`` above three times its level.

    Acts per pixel, where the patch-level exposure target cannot see: noise
    and black detail inside a region that is lifted. The penalty fades out
    between ``low`` and ``high``, so dark detail above the noise floor may
    still be lifted.
    """
    y, i = luminance(enhanced), luminance(original)
    weight = 1 - smoothstep(i, low, high)
    return (weight * F.relu(y - 3 * i - 1.5 * low) ** 2).mean()


def highlights(enhanced: torch.Tensor, original: torch.Tensor, level: float = 0.9) -> torch.Tensor:
    """Highlights keep their gradation: penalise a channel value lifted above ``level`` (or above its input, if that was higher).

    The other end of :func:`toe`, per pixel: the patch-level shoulder of the
    exposure target cannot see the lamp or the window inside a patch, and
    the curves flatten everything they push towards 1 into one white.
    """
    return F.relu(enhanced - original.clamp(min=level)).pow(2).mean()


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


LOSS_NAMES = ("total", "spatial", "exposure", "colour", "smoothness", "toe", "highlights", "brightening")


def zero_reference_loss(
    enhanced: torch.Tensor,
    original: torch.Tensor,
    alphas: torch.Tensor,
    stops: torch.Tensor,
    weights: LossWeights = LossWeights(),
) -> dict[str, torch.Tensor]:
    """Every weighted term and their sum (key ``"total"``).

    ``alphas`` are the network's (small) maps and ``stops`` the under-exposures
    it was given (:func:`zdce_core.training.estimator.network_input`), which
    set each photo's gain.
    """
    gain = exposure_gain(stops, weights)
    region_target = exposure_target(_regions(luminance(original), 4), gain, weights)
    terms = {
        "spatial": weights.spatial * spatial_consistency(enhanced, region_target),
        "exposure": weights.exposure * exposure_control(enhanced, original, gain, weights),
        # Grey world only where the photo is dark: a well-lit photo keeps its colours.
        "colour": weights.colour * colour_constancy(enhanced, darkness(stops, weights)),
        "smoothness": weights.smoothness * illumination_smoothness(alphas),
        "toe": weights.toe * toe(enhanced, original, weights.toe_low, weights.toe_high),
        "highlights": weights.highlights * highlights(enhanced, original, weights.highlight_level),
        "brightening": weights.brightening * brightening_only(alphas),
    }
    terms["total"] = sum(terms.values())
    return {k: terms[k] for k in LOSS_NAMES}
