"""The settings of a training run and of its losses, with their defaults (no torch needed to read them).

``zdce train``'s options take their defaults from here, so the command line
and :func:`zdce_core.training.loop.train` cannot disagree; the rules shared
with inference (the estimator's side, the black levels, the guard's stops)
come from :mod:`zdce_core.contract`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..contract import BLACK_HIGH, BLACK_LOW, DARK_STOPS, ESTIMATE_SIDE, FINE_STOPS
from .schedule import FINE_TUNING, LR_FINAL, SCRATCH

SAMPLE_EVERY = 5
"""Epochs between two sample sheets of a run (one is always written after the last epoch)."""


@dataclass(frozen=True)
class LossWeights:
    """Weights of the terms and the exposure target's shape.

    Spatial consistency, exposure and smoothness weigh as in the paper's
    reference training; colour constancy less, because the exposure term
    keeps each channel's level in proportion (the hues of the input) and
    grey world only has to pull a dark photo's cast.
    """

    spatial: float = 1.0
    exposure: float = 10.0
    colour: float = 0.5
    smoothness: float = 200.0
    toe: float = 160.0
    highlights: float = 200.0
    brightening: float = 2.0
    shoulder: float = 0.8
    highlight_level: float = 0.9
    # The toe term's band: a pixel darker than toe_low is penalised for a lift, fading out up to toe_high.
    toe_low: float = 0.01
    toe_high: float = 0.03
    # The exposure target keeps regions below the black levels at their level.
    black_low: float = BLACK_LOW
    black_high: float = BLACK_HIGH
    # The inference guard's under-exposures: the gain and grey world fade in between them.
    fine_stops: float = FINE_STOPS
    dark_stops: float = DARK_STOPS


@dataclass
class TrainConfig:
    """Settings of one training run."""

    epochs: int = SCRATCH["epochs"]
    batch_size: int = 8
    crop: int = 2 * ESTIMATE_SIDE
    lr: float = SCRATCH["lr"]
    lr_final: float = LR_FINAL
    weight_decay: float = 1e-4
    grad_clip: float = 0.1
    val_fraction: float = 0.05
    seed: int = 0
    device: str = "auto"
    weights: LossWeights = field(default_factory=LossWeights)

    @classmethod
    def fine_tuning(cls, **changes) -> TrainConfig:
        """The settings for continuing from trained weights: :data:`~zdce_core.training.schedule.FINE_TUNING` over the defaults, then ``changes``.

        >>> c = TrainConfig.fine_tuning(seed=3)
        >>> (c.epochs, c.lr, c.seed) == (FINE_TUNING["epochs"], FINE_TUNING["lr"], 3)
        True
        """
        return cls(**{**FINE_TUNING, **changes})
