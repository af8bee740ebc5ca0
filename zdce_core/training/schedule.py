"""The two training schedules, from random weights and from trained ones (fine-tuning).

Plain numbers without torch, so ``zdce train --help`` states them;
:class:`zdce_core.training.config.TrainConfig` takes its defaults from here.
"""

LR_FINAL = 0.05
"""Share of the starting learning rate left at the last step (the rate decays along a half cosine)."""

SCRATCH = {"epochs": 30, "lr": 1e-3}
"""From random weights: epochs over the folder and Adam's starting learning rate."""

FINE_TUNING = {"epochs": 5, "lr": SCRATCH["lr"] * LR_FINAL}
"""From trained weights (``zdce train --from``): a sixth of the epochs, starting at the
rate a run from scratch ends at (5e-5). A fresh optimiser's first steps move every
weight by about the rate, so a higher one first undoes some of what the weights
hold: one epoch on 20 SICE photos at 2e-4 darkened the LOL frames by 0.027 and
raised the validation loss from 0.0084 to 0.0105, at 2e-5 by 0.003 and to 0.0084.
On photos unlike the training set the rate matters little: 64 DICM photos for 5
epochs gave a validation loss of 0.0361 at 5e-5, 0.0360 at 2e-4 and 0.0358 at
3.8e-4, against 0.0369 for the bundled model (docs/fine-tuning.md)."""
