"""Experiment trackers: where a run goes besides its run folder (MLflow, TensorBoard, W&B, a plug-in's).

A tracker is an object with the methods of :class:`Tracker`. Plug-ins offer
trackers by answering the ``zdce_trackers`` hook (see
:mod:`zdce_core.adapters.hookspecs`) from a module registered in the ``zdce``
entry-point group; the built-in ones are registered the same way, each in its
own module here, and import their library only when chosen, so a missing
optional extra is a one-line error naming the install command.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class RunInfo:
    """What a tracker is told when a run starts.

    ``config`` holds every setting as flat ``name -> str | int | float | bool | None``
    (nested settings joined with dots); ``folder`` is the run folder, where a tracker
    may keep local files; ``tracking_uri`` is ``--tracking-uri`` (``None``: the
    tracker's local default beside ``runs_dir``); ``resumed`` is true when the run
    continues an interrupted one; ``group`` names the runs it belongs with (the
    trials of one ``zdce sweep``), ``None`` for a run of its own.
    """

    name: str
    folder: Path
    runs_dir: Path
    config: dict[str, object]
    tracking_uri: str | None = None
    resumed: bool = False
    group: str | None = None


class Tracker:
    """The calls a training run makes; each does nothing unless a tracker overrides it."""

    def start(self, run: RunInfo) -> None:
        """The run begins (or resumes): record its settings."""

    def log_epoch(self, epoch: int, metrics: dict[str, float]) -> None:
        """Epoch ``epoch`` (from 1) ended with these mean losses, ``val_*`` measures, learning rate and seconds."""

    def log_sample(self, epoch: int, path: Path) -> None:
        """A sample sheet for ``epoch`` was written to ``path`` (JPEG)."""

    def log_artifact(self, path: Path) -> None:
        """A file the run produced: checkpoint, model card, config, metrics."""

    def finish(self, status: str) -> None:
        """The run ended: ``"finished"``, ``"interrupted"`` or ``"failed"``."""


def require(module: str, *, tracker: str, extra: str):
    """Import ``module`` for ``tracker``; ValueError naming the pip command when it is missing."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise ValueError(f"tracker {tracker!r} needs its optional extra: pip install 'zdce[{extra}]'") from None


def available() -> dict[str, object]:
    """Every tracker the installed plug-ins offer, ``name -> TrackerInfo``, sorted by name."""
    from ...adapters.manager import manager

    found = {}
    for answer in manager().hook.zdce_trackers():
        for info in answer or ():
            found.setdefault(info.name, info)
    return dict(sorted(found.items()))


def create(name: str) -> Tracker:
    """A new tracker ``name``; ValueError listing the known names, or naming the missing extra."""
    from ...adapters.manager import broken_note

    trackers = available()
    if name not in trackers:
        raise ValueError(f"no tracker named {name!r} (installed: {', '.join(trackers) or 'none'}){broken_note()}")
    return trackers[name].create()
