"""The two training schedules, from random weights and from trained ones (fine-tuning).

Plain numbers without torch, so ``zdce train --help`` states them;
:class:`zdce_core.training.config.TrainConfig` takes its defaults from here.
"""

SCRATCH = {"epochs": 30, "lr": 1e-3}
"""From random weights: epochs over the folder and Adam's starting learning rate."""

FINE_TUNING = {"epochs": 5, "lr": 2e-4}
"""From trained weights (``zdce train --from``): a fifth of the learning rate and a
sixth of the epochs. The weights already hold what 20 epochs over SICE taught
them; a short, gentle run adapts them to a folder of one's own photos instead of
overwriting them (docs/fine-tuning.md has the measurements)."""
