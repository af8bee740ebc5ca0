"""TensorBoard tracker: per-epoch scalars, the sample sheets as images, the settings as text.

Event files go to ``RUN_FOLDER/tensorboard``, so ``tensorboard --logdir RUNS_DIR``
shows every run side by side. Needs ``pip install 'zdce[tensorboard]'``.
"""

from __future__ import annotations

from pathlib import Path

from ...adapters.hookspecs import TrackerInfo, hookimpl
from . import RunInfo, Tracker, require


class TensorBoardTracker(Tracker):
    def __init__(self):
        self._module = require("torch.utils.tensorboard", tracker="tensorboard", extra="tensorboard")
        self._writer = None

    def start(self, run: RunInfo) -> None:
        self._writer = self._module.SummaryWriter(log_dir=str(run.folder / "tensorboard"))
        table = "\n".join(f"| {k} | {v} |" for k, v in run.config.items())
        self._writer.add_text("config", f"| setting | value |\n|---|---|\n{table}", global_step=0)

    def log_epoch(self, epoch: int, metrics: dict[str, float]) -> None:
        for key, value in metrics.items():
            self._writer.add_scalar(key, value, global_step=epoch)
        self._writer.flush()

    def log_sample(self, epoch: int, path: Path) -> None:
        # Not at import: `zdce plugins` loads this module to list the tracker.
        import numpy as np
        from PIL import Image

        with Image.open(path) as im:
            self._writer.add_image("samples", np.asarray(im.convert("RGB")), global_step=epoch, dataformats="HWC")
        self._writer.flush()

    def finish(self, status: str) -> None:
        self._writer.add_text("status", status)
        self._writer.close()


@hookimpl
def zdce_trackers() -> list[TrackerInfo]:
    return [TrackerInfo("tensorboard", "TensorBoard event files in the run folder: scalars, sample sheets", TensorBoardTracker)]
