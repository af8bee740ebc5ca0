"""Weights & Biases tracker: settings, per-epoch metrics, sample sheets, the checkpoint as an artifact.

Offline unless ``WANDB_MODE`` says otherwise: the run is written under
``RUN_FOLDER/wandb/offline-run-*`` and uploaded later with ``wandb sync``, so
training never waits on the network. Online, a W&B that cannot be reached
within ``WANDB_INIT_TIMEOUT`` seconds (default 30) falls back to offline with a
warning. The project is ``WANDB_PROJECT`` (default ``zdce``); the trials of a sweep form a
W&B group named after it. Needs
``pip install 'zdce[wandb]'``.
"""

from __future__ import annotations

import os
import re
import warnings
from pathlib import Path

from ...adapters.hookspecs import TrackerInfo, hookimpl
from . import RunInfo, Tracker, require

ID_FILE = "wandb-run-id.txt"


class WandbTracker(Tracker):
    def __init__(self):
        self._wandb = require("wandb", tracker="wandb", extra="wandb")
        self._run = None

    def start(self, run: RunInfo) -> None:
        import uuid  # not at import: `zdce plugins` loads this module to list the tracker

        wandb = self._wandb
        id_file = run.folder / ID_FILE
        run_id = id_file.read_text().strip() if run.resumed and id_file.exists() else uuid.uuid4().hex[:8]
        options = dict(
            project=os.environ.get("WANDB_PROJECT", "zdce"), name=run.name, id=run_id, resume="allow",
            dir=str(run.folder), config=run.config, group=run.group,
        )
        mode = os.environ.get("WANDB_MODE", "offline")
        timeout = float(os.environ.get("WANDB_INIT_TIMEOUT", 30))
        # console="off": W&B would otherwise wrap stdout and stderr, which breaks the progress bar.
        settings = wandb.Settings(console="off", silent=True, init_timeout=timeout)
        try:
            self._run = wandb.init(mode=mode, settings=settings, **options)
        except Exception as exc:  # wandb raises its own error types for every network failure.
            if mode == "offline":
                raise
            reason = str(exc).splitlines()[0]
            warnings.warn(f"wandb: {reason}; logging this run offline (upload it later with `wandb sync`)", stacklevel=2)
            # A fresh id: W&B keeps the failed attempt's id reserved in this process.
            options["id"] = run_id = uuid.uuid4().hex[:8]
            self._run = wandb.init(mode="offline", settings=settings, **options)
        id_file.write_text(run_id + "\n")
        self._name = re.sub(r"[^A-Za-z0-9_.-]", "-", run.name)

    def log_epoch(self, epoch: int, metrics: dict[str, float]) -> None:
        self._run.log({"epoch": epoch, **metrics}, step=epoch)

    def log_sample(self, epoch: int, path: Path) -> None:
        self._run.log({"samples": self._wandb.Image(str(path), caption=path.name)}, step=epoch)

    def log_artifact(self, path: Path) -> None:
        kind = "model" if path.suffix == ".pt" else "run-file"
        artifact = self._wandb.Artifact(f"{self._name}-{path.stem}", type=kind)
        artifact.add_file(str(path))
        self._run.log_artifact(artifact)

    def finish(self, status: str) -> None:
        self._run.finish(exit_code=0 if status == "finished" else 1)


@hookimpl
def zdce_trackers() -> list[TrackerInfo]:
    return [TrackerInfo("wandb", "Weights & Biases, offline by default (wandb sync uploads it)", WandbTracker)]
