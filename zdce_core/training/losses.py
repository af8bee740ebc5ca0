"""The zero-reference losses, as pure tensor functions.

None needs a ground truth: they judge the enhanced image (and the curve
maps) against the input and against simple priors. Two are the paper's
(colour constancy, illumination smoothness). Exposure control is made
input-adaptive, because *dark is not low light*: a fixed target of 0.6 pulls
well-lit and over-exposed frames towards one brightness, and a target per
patch flattens contrast; here each photo gets one gain from its key (the
number the network is given), applied to every level with a toe (black
stays black) and a shoulder (highlights compressed). Spatial consistency
keeps the contrast that gain implies; per-pixel toe and highlights terms
and a brightening-only term are added.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .config import LossWeights
from .estimator import smoothstep


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


def darkness(photo_key: torch.Tensor, weights: LossWeights) -> torch.Tensor:
    """How much each image is a dark photo: 1 at key ``key_dark`` or below, 0 at ``key_fine`` or above (the inference guard's rule)."""
    return 1 - smoothstep(photo_key, weights.key_dark, weights.key_fine)


def exposure_gain(photo_key: torch.Tensor, weights: LossWeights) -> torch.Tensor:
    """The gain a photo of key ``photo_key`` is to be lifted by: ``(K / key) ** darkness``.

    ``K`` is ``exposure_target``: a dark photo (key ``key_dark`` or less) is
    brought to key ``K``, a well-exposed one (key ``key_fine`` or more, the
    inference guard's rule) keeps its levels, and in between the gain fades
    out. An all-black photo (key 0) gets gain 1.

    >>> w = LossWeights()
    >>> [round(v, 2) for v in exposure_gain(torch.tensor([0.0, 0.05, 0.15, 0.215, 0.5]), w).tolist()]
    [1.0, 9.0, 3.0, 1.45, 1.0]
    """
    safe = photo_key.clamp(min=1e-4)
    gain = (weights.exposure_target / safe).clamp(min=1) ** darkness(photo_key, weights)
    return torch.where(photo_key > 0, gain, torch.ones_like(photo_key))


def exposure_target(level: torch.Tensor, gain: torch.Tensor | float, weights: LossWeights) -> torch.Tensor:
    """The brightness a region of input brightness ``level`` should come out at, in a photo lifted by ``gain``.

    Every level is multiplied by the photo's gain, so contrast is kept in
    proportion, with a shoulder above ``shoulder`` (``s + (1 - s) * u / (1 + u)``
    for ``u = (v - s) / (1 - s)``: highlights keep their gradation rather
    than clip) and never pulled down; below the black
    levels (``black_low``..``black_high``) a region keeps its level, so a black
    sky stays black. Non-decreasing in ``level``; gain 1 keeps every level.

    >>> w = LossWeights()
    >>> [round(v, 3) for v in exposure_target(torch.tensor([0.003, 0.05, 0.15, 0.25, 0.95]), 4.0, w).tolist()]
    [0.003, 0.2, 0.6, 0.8, 0.956]
    >>> [round(v, 3) for v in exposure_target(torch.tensor([0.05, 0.95]), 1.0, w).tolist()]
    [0.05, 0.95]
    """
    level = level.clamp(0, 1)
    s = weights.shoulder
    scaled = level * gain
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
    photo_key: torch.Tensor,
    weights: LossWeights = LossWeights(),
) -> dict[str, torch.Tensor]:
    """Every weighted term and their sum (key ``"total"``).

    ``alphas`` are the network's (small) maps and ``photo_key`` the keys it
    was given (:func:`zdce_core.training.estimator.network_input`), which
    set each photo's gain.
    """
    gain = exposure_gain(photo_key, weights)
    region_target = exposure_target(_regions(luminance(original), 4), gain, weights)
    terms = {
        "spatial": weights.spatial * spatial_consistency(enhanced, region_target),
        "exposure": weights.exposure * exposure_control(enhanced, original, gain, weights),
        # Grey world only where the photo is dark: a well-lit photo keeps its colours.
        "colour": weights.colour * colour_constancy(enhanced, darkness(photo_key, weights)),
        "smoothness": weights.smoothness * illumination_smoothness(alphas),
        "toe": weights.toe * toe(enhanced, original, weights.toe_low, weights.toe_high),
        "highlights": weights.highlights * highlights(enhanced, original, weights.highlight_level),
        "brightening": weights.brightening * brightening_only(alphas),
    }
    terms["total"] = sum(terms.values())
    return {k: terms[k] for k in LOSS_NAMES}
