"""MLflow tracker: every setting as a param, per-epoch metric history, sample sheets and checkpoint as artifacts.

Without ``--tracking-uri`` the store is local: a SQLite database
``RUNS_DIR/mlflow.db`` (MLflow's file store is retired), with artifacts in
``RUNS_DIR/mlartifacts``; ``mlflow ui --backend-store-uri sqlite:///RUNS_DIR/mlflow.db``
then lists and compares the runs. With a server's URI the same calls go there. The trials of a
sweep carry the tag ``zdce.group`` (the sweep's name): group or filter by it in the UI
(``tags.zdce.group = 'NAME'``). The experiment is ``MLFLOW_EXPERIMENT_NAME``
(default ``zdce``). Needs ``pip install 'zdce[mlflow]'``.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from ...adapters.hookspecs import TrackerInfo, hookimpl
from . import RunInfo, Tracker, require

ID_FILE = "mlflow-run-id.txt"
STATUS = {"finished": "FINISHED", "interrupted": "KILLED", "failed": "FAILED"}


def local_store(runs_dir: Path) -> str:
    """The tracking URI of the local store in a runs folder."""
    return f"sqlite:///{(runs_dir / 'mlflow.db').resolve()}"


class MlflowTracker(Tracker):
    def __init__(self):
        self._mlflow = require("mlflow", tracker="mlflow", extra="mlflow")

    def start(self, run: RunInfo) -> None:
        from mlflow.entities import Param

        local = run.tracking_uri is None
        client = self._client = self._mlflow.tracking.MlflowClient(local_store(run.runs_dir) if local else run.tracking_uri)
        id_file = run.folder / ID_FILE
        if run.resumed and id_file.exists():
            self._run_id = id_file.read_text().strip()
            client.update_run(self._run_id, status="RUNNING")
            logged = client.get_run(self._run_id).data.params
        else:
            name = os.environ.get("MLFLOW_EXPERIMENT_NAME", "zdce")
            experiment = client.get_experiment_by_name(name)
            if experiment:
                experiment_id = experiment.experiment_id
            else:  # a local store keeps its artifacts beside it, not in the working folder
                where = (run.runs_dir / "mlartifacts").resolve().as_uri() if local else None
                experiment_id = client.create_experiment(name, artifact_location=where)
            tags = {"zdce.run_folder": str(run.folder.resolve()), **({"zdce.group": run.group} if run.group else {})}
            self._run_id = client.create_run(experiment_id, run_name=run.name, tags=tags).info.run_id
            id_file.write_text(self._run_id + "\n")
            logged = {}
        # MLflow refuses to change a logged param: a resumed run adds only settings it did not have.
        params = [Param(k, str(v)) for k, v in run.config.items() if k not in logged]
        for i in range(0, len(params), 100):  # MLflow takes at most 100 params per batch
            client.log_batch(self._run_id, params=params[i : i + 100])

    def log_epoch(self, epoch: int, metrics: dict[str, float]) -> None:
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        self._client.log_batch(self._run_id, metrics=[Metric(k, float(v), now, epoch) for k, v in metrics.items()])

    def log_sample(self, epoch: int, path: Path) -> None:
        self._client.log_artifact(self._run_id, str(path), artifact_path="samples")

    def log_artifact(self, path: Path) -> None:
        self._client.log_artifact(self._run_id, str(path))

    def finish(self, status: str) -> None:
        self._client.set_terminated(self._run_id, status=STATUS[status])


@hookimpl
def zdce_trackers() -> list[TrackerInfo]:
    return [TrackerInfo("mlflow", "MLflow: params, metric history, sample sheets and checkpoint (mlflow ui)", MlflowTracker)]
