"""Experiment tracking, with the real libraries: run folders, MLflow, TensorBoard, W&B offline, a plug-in tracker.

Every test trains for real on a few tiny photos (2 epochs); the trackers are
read back through their own readers (MlflowClient, TensorBoard's event
accumulator, the W&B offline run folder).
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
from PIL import Image

from zdce_core.app.cli import main
from zdce_core.training.runs import fingerprint, flatten
from zdce_core.training.trackers import require
from zdce_core.training.trackers.mlflow import local_store

LOSSES = ("total", "spatial", "exposure", "colour", "smoothness")
SMALL = ["--epochs", "2", "--batch-size", "3", "--crop", "32", "--device", "cpu", "--sample-every", "1", "--quiet"]


def _photos(folder, count=7, seed=1):
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    yy, xx = np.mgrid[0:48, 0:64] / 64
    for i in range(count):
        scene = 0.03 + 0.12 * (np.sin(6 * xx + i) * np.cos(4 * yy - i) + 1) / 2
        img = np.clip(scene[..., None] * rng.uniform(0.7, 1.3, 3) + rng.normal(0, 0.004, (48, 64, 3)), 0, 1)
        Image.fromarray((img * 255).astype(np.uint8)).save(folder / f"dark{i}.png")
    return folder


def _zdce(*args, env=None, cwd=None):
    return subprocess.run([sys.executable, "-m", "zdce_core", *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, cwd=cwd, check=False, timeout=300)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """Two finished runs in one runs folder: ``a`` (MLflow, TensorBoard, --keep-best), ``b`` (another lr)."""
    root = tmp_path_factory.mktemp("tracking")
    photos = _photos(root / "photos")
    runs = root / "runs"
    assert main(["train", str(photos), "-o", str(root / "a.pt"), "--name", "a", "--runs-dir", str(runs), "--lr", "0.0001",
                 "--tracker", "mlflow", "--tracker", "tensorboard", "--keep-best", "total", *SMALL]) == 0
    assert main(["train", str(photos), "-o", str(root / "b.pt"), "--name", "b", "--runs-dir", str(runs),
                 "--lr", "0.003", *SMALL]) == 0
    return root


def test_run_folder_holds_every_file(trained):
    run = trained / "runs" / "a"
    config = json.loads((run / "config.json").read_text())
    assert config["status"] == "finished" and config["seed"] == 0 and config["device"] == "cpu"
    assert set(config["versions"]) >= {"zdce", "torch"}
    assert config["train"]["config"]["lr"] == 1e-4 and config["train"]["config"]["epochs"] == 2
    assert config["settings"]["tracker"] == ["mlflow", "tensorboard"] and config["settings"]["sample_every"] == 1
    assert config["data"] == fingerprint(trained / "photos") and config["data"]["photos"] == 7

    with open(run / "metrics.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [int(r["epoch"]) for r in rows] == [1, 2]
    for key in (*LOSSES, "seconds", "val_luminance", "val_clipped", "val_noise", "val_black_lift"):
        assert all(np.isfinite(float(r[key])) for r in rows), key

    sheets = sorted(p.name for p in (run / "samples").iterdir())
    assert sheets == ["epoch-001.jpg", "epoch-002.jpg"]
    with Image.open(run / "samples" / "epoch-002.jpg") as sheet:
        # five columns (original, autocontrast, bundled, steps 4, steps 8) of 64x48 photos scaled to 160 rows
        assert sheet.height > 160 and 4 * 213 < sheet.width < 6 * 213
    assert len(config["samples"]) == 4

    digest = hashlib.sha256((run / "model.pt").read_bytes()).hexdigest()
    assert (run / "model.pt").read_bytes() == (trained / "a.pt").read_bytes()
    assert (run / "model.pt.sha256").read_text() == f"{digest}  model.pt\n" and config["sha256"] == digest
    card = (run / "MODEL_CARD.md").read_text()
    assert digest in card and config["data"]["version"] in card and "zdce batch" in card
    assert config["best"]["metric"] == "total" and (run / "best.pt").exists()
    assert config["best"]["value"] == min(float(r["total"]) for r in rows)


def test_fingerprint_changes_when_a_photo_is_added_and_not_otherwise(tmp_path):
    photos = _photos(tmp_path / "photos", count=3)
    first = fingerprint(photos)
    assert fingerprint(photos) == first
    os.utime(photos / "dark0.png", (0, 0))  # dates are not content
    moved = shutil.copytree(photos, tmp_path / "elsewhere")
    assert fingerprint(photos)["version"] == first["version"] == fingerprint(moved)["version"]
    _photos(tmp_path / "more", count=4)
    shutil.copy(tmp_path / "more" / "dark3.png", photos / "dark3.png")
    added = fingerprint(photos)
    assert added["version"] != first["version"]
    assert (added["photos"], added["bytes"]) == (4, first["bytes"] + (photos / "dark3.png").stat().st_size)


def test_mlflow_store_holds_params_metric_history_and_artifacts(trained):
    from mlflow.tracking import MlflowClient

    client = MlflowClient(local_store(trained / "runs"))
    experiment = client.get_experiment_by_name("zdce")
    (found,) = client.search_runs([experiment.experiment_id], filter_string="attributes.run_name = 'a'")
    assert found.info.status == "FINISHED"
    config = json.loads((trained / "runs" / "a" / "config.json").read_text())
    at_start = {k: v for k, v in config.items() if k not in ("samples", "status", "finished", "output", "sha256", "best")}
    assert found.data.params == {k: str(v) for k, v in flatten(at_start).items()}
    assert found.data.params["train.config.lr"] == "0.0001" and found.data.params["settings.keep_best"] == "total"
    for key in (*LOSSES, "val_noise"):
        history = client.get_metric_history(found.info.run_id, key)
        assert sorted(m.step for m in history) == [1, 2], key
    top = {a.path for a in client.list_artifacts(found.info.run_id)}
    assert {"model.pt", "MODEL_CARD.md", "config.json", "metrics.csv", "best.pt", "samples"} <= top
    samples = {a.path for a in client.list_artifacts(found.info.run_id, "samples")}
    assert samples == {"samples/epoch-001.jpg", "samples/epoch-002.jpg"}


def test_tensorboard_events_hold_scalars_per_epoch_and_sample_images(trained):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(trained / "runs" / "a" / "tensorboard"), size_guidance={"images": 0, "scalars": 0})
    events.Reload()
    for key in (*LOSSES, "seconds", "val_luminance"):
        assert [e.step for e in events.Scalars(key)] == [1, 2], key
    with open(trained / "runs" / "a" / "metrics.csv", newline="") as f:
        totals = [float(r["total"]) for r in csv.DictReader(f)]
    assert [e.value for e in events.Scalars("total")] == pytest.approx(totals, rel=1e-6)
    images = events.Images("samples")
    assert [i.step for i in images] == [1, 2]
    with Image.open(trained / "runs" / "a" / "samples" / "epoch-002.jpg") as sheet:
        assert (images[-1].width, images[-1].height) == sheet.size


def _wandb_records(path):
    """The protobuf records of a W&B run file: a LevelDB-style log (32 KiB blocks) after a 7-byte header."""
    from wandb.proto import wandb_internal_pb2

    data = path.read_bytes()
    assert data[:4] == b":W&B"
    pos, pending = 7, b""
    while pos + 7 <= len(data):
        left = 32768 - pos % 32768
        if left < 7:  # a block's tail too short for a chunk header is padding
            pos += left
            continue
        length, kind = int.from_bytes(data[pos + 4 : pos + 6], "little"), data[pos + 6]
        pending += data[pos + 7 : pos + 7 + length]
        pos += 7 + length
        if kind in (1, 4):  # FULL or LAST chunk: a record is complete
            record = wandb_internal_pb2.Record()
            record.ParseFromString(pending)
            yield record
            pending = b""


def test_wandb_offline_writes_an_offline_run_holding_the_config(tmp_path):
    photos = _photos(tmp_path / "photos", count=4)
    done = _zdce("train", str(photos), "-o", str(tmp_path / "w.pt"), "--name", "w", "--tracker", "wandb", *SMALL,
                 env={"WANDB_MODE": "offline"})
    assert done.returncode == 0, done.stderr
    (offline,) = (tmp_path / "runs" / "w" / "wandb").glob("offline-run-*")
    (log,) = offline.glob("run-*.wandb")
    records = list(_wandb_records(log))
    (run,) = [r.run for r in records if r.WhichOneof("record_type") == "run"]
    assert run.display_name == "w" and log.name == f"run-{run.run_id}.wandb"
    config = {item.key: json.loads(item.value_json) for item in run.config.update}
    ours = json.loads((tmp_path / "runs" / "w" / "config.json").read_text())
    assert config["data.version"] == ours["data"]["version"] and config["train.config.lr"] == ours["train"]["config"]["lr"]
    epochs = [{i.nested_key[0] if i.nested_key else i.key: i.value_json for i in r.history.item}
              for r in records if r.WhichOneof("record_type") == "history"]
    assert sorted(json.loads(h["epoch"]) for h in epochs if "epoch" in h) == [1, 2]
    assert any(r.WhichOneof("record_type") == "exit" for r in records)


PLUGIN = '''
import json, os
from zdce_core.adapters.hookspecs import TrackerInfo, hookimpl
from zdce_core.training.trackers import Tracker

class Acme(Tracker):
    def _note(self, *call):
        with open(os.environ["ACME_LOG"], "a") as f:
            f.write(json.dumps(call, default=str) + "\\n")

    def start(self, run):
        self._note("start", run.name, run.config["train.config.epochs"], run.resumed)

    def log_epoch(self, epoch, metrics):
        self._note("epoch", epoch, sorted(metrics))

    def log_sample(self, epoch, path):
        self._note("sample", epoch, path.name)

    def log_artifact(self, path):
        self._note("artifact", path.name)

    def finish(self, status):
        self._note("finish", status)

@hookimpl
def zdce_trackers():
    return [TrackerInfo("acme", "test tracker", Acme)]
'''


def _acme(tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    (site / "zdce_acme_tracker.py").write_text(PLUGIN)
    dist = site / "zdce_acme_tracker-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: zdce-acme-tracker\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[zdce]\nacme = zdce_acme_tracker\n")
    return {"PYTHONPATH": str(site), "ACME_LOG": str(tmp_path / "acme.jsonl")}


def _calls(tmp_path):
    return [json.loads(line) for line in (tmp_path / "acme.jsonl").read_text().splitlines()]


def test_plugin_tracker_receives_the_run_and_ctrl_c_prints_the_resume_command_that_finishes_it(tmp_path):
    """A tracker from a throwaway distribution (a ``zdce`` entry point) follows a run through SIGINT and resume."""
    env = _acme(tmp_path)
    listed = _zdce("plugins", env=env)
    assert any(line.startswith("acme ") and "trackers" in line for line in listed.stdout.splitlines()), listed.stdout
    photos = _photos(tmp_path / "photos", count=4)
    args = ["train", str(photos), "-o", str(tmp_path / "c.pt"), "--tracker", "acme",
            *[a for a in SMALL if a != "--quiet"]]
    args[args.index("--epochs") + 1] = "40"
    # Ctrl-C reaches a zdce train run in the foreground; a test run started as a background job
    # (`pytest &`) would hand its child SIGINT ignored, as shells do for background commands.
    proc = subprocess.Popen([sys.executable, "-m", "zdce_core", *args], env={**os.environ, **env},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 120
    # The first sample sheet comes just before the epoch's state is saved: wait for both.
    while not (tmp_path / "c.state.pt").exists() or not any(
        c[0] == "sample" for c in (_calls(tmp_path) if (tmp_path / "acme.jsonl").exists() else [])
    ):
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.1)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    calls = _calls(tmp_path)
    assert calls[0][0] == "start" and calls[0][2:] == [40, False] and calls[-1] == ["finish", "interrupted"]
    assert ["sample", 1, "epoch-001.jpg"] in calls and set(LOSSES) <= set(calls[1][2])
    assert "epoch " in err and "/40" in err  # the progress bar
    command = shlex.split(err.split("resume with:\n", 1)[1].strip().splitlines()[0])
    assert command[:2] == ["zdce", "train"] and "--resume" in command and "--name" in command
    name = command[command.index("--name") + 1]
    config = json.loads((tmp_path / "runs" / name / "config.json").read_text())
    assert config["status"] == "interrupted"
    done_before = int(err.split("the state after epoch ", 1)[1].split()[0])
    assert done_before >= 1 and (tmp_path / "c.state.pt").exists()

    command[command.index("--epochs") + 1] = str(done_before + 1)  # finish soon after the interruption
    resumed = _zdce(*command[1:], env=env)
    assert resumed.returncode == 0, resumed.stderr
    assert f"run {name} finished" in resumed.stdout and "--model" in resumed.stdout
    rows = list(csv.DictReader(open(tmp_path / "runs" / name / "metrics.csv")))
    assert [int(r["epoch"]) for r in rows] == list(range(1, done_before + 2))
    calls = _calls(tmp_path)
    resumed_calls = calls[max(i for i, c in enumerate(calls) if c[0] == "start"):]
    assert resumed_calls[0] == ["start", name, done_before + 1, True] and resumed_calls[-1] == ["finish", "finished"]
    assert [c[1] for c in resumed_calls if c[0] == "epoch"] == [done_before + 1]
    assert ["artifact", "model.pt"] in resumed_calls and ["artifact", "MODEL_CARD.md"] in resumed_calls


def test_zdce_runs_lists_the_runs(trained, capsys):
    assert main(["runs", str(trained / "runs")]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:5] == ["NAME", "DATE", "DATA", "STATUS", "EPOCHS"]
    version = fingerprint(trained / "photos")["version"]
    rows = {line.split()[0]: line for line in lines[1:]}
    assert set(rows) == {"a", "b"}
    for name, lr in (("a", "0.0001"), ("b", "0.003")):
        assert f"{version} (7)" in rows[name] and "finished" in rows[name] and " 2/2 " in rows[name]
        assert f" {lr} " in rows[name]
    with open(trained / "runs" / "b" / "metrics.csv", newline="") as f:
        last = list(csv.DictReader(f))[-1]
    assert f"{float(last['total']):.4g}" in rows["b"]


def test_zdce_runs_compare_writes_a_sheet_and_prints_metrics_side_by_side(trained, capsys, tmp_path):
    sheet = tmp_path / "compare.jpg"
    assert main(["runs", "compare", "a", "b", "--runs-dir", str(trained / "runs"), "-o", str(sheet), "--height", "100"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == ["a", "b"]
    table = {line.split()[0]: line.split()[1:] for line in out[1:-1]}
    assert table["lr"] == ["0.0001", "0.003"] and table["epochs"] == ["2", "2"]
    for name, column in (("a", 0), ("b", 1)):
        with open(trained / "runs" / name / "metrics.csv", newline="") as f:
            last = list(csv.DictReader(f))[-1]
        assert table["total"][column] == f"{float(last['total']):.4g}"
    with Image.open(sheet) as im:
        # 4 sample photos x (original + 2 runs) of 64x48 at 100 rows
        assert im.height > 4 * 100 and 3 * 133 < im.width < 4 * 133
        pixels = np.asarray(im.convert("L"), np.float32)
    original, run_a = pixels[30:, 4:130].mean(), pixels[30:, 140:265].mean()
    assert run_a != original


def test_unknown_tracker_and_missing_extra_are_one_line_errors(tmp_path, capsys):
    photos = _photos(tmp_path / "photos", count=2)
    assert main(["train", str(photos), "-o", str(tmp_path / "x.pt"), "--tracker", "nosuch", *SMALL]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no tracker named 'nosuch'" in err and "mlflow" in err
    assert not (tmp_path / "runs").exists()
    with pytest.raises(ValueError, match=r"^tracker 'neptune' needs its optional extra: pip install 'zdce\[neptune\]'$"):
        require("zdce_no_such_module", tracker="neptune", extra="neptune")


def test_zdce_model_gives_hosts_the_run_checkpoint(trained, tmp_path, monkeypatch):
    """GIMP, darktable and ImageMagick start the engine themselves: ``ZDCE_MODEL`` is how they get a run's weights."""
    photo = sorted((trained / "photos").iterdir())[0]
    for name, env in (("bundled", None), ("flag", None), ("env", str(trained / "runs" / "b" / "model.pt"))):
        if env:
            monkeypatch.setenv("ZDCE_MODEL", env)
        extra = ["--model", str(trained / "runs" / "b" / "model.pt")] if name == "flag" else []
        assert main(["batch", str(photo), "-o", str(tmp_path / name), "-q", *extra]) == 0
    read = {n: np.asarray(Image.open(tmp_path / n / photo.name), np.int16) for n in ("bundled", "flag", "env")}
    assert np.array_equal(read["env"], read["flag"]) and not np.array_equal(read["env"], read["bundled"])
