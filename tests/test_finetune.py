"""Fine-tuning from trained weights, small folders, video frames and sweeps, with real training steps.

Fine-tuning trains on 20 SICE photos from the shared data and judges the
models on the LOL frames; the rest train on tiny generated photos for an
epoch or a few.
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from PIL import Image

from conftest import SHARED_DATA
from zdce_core import enhance
from zdce_core.app.cli import build_parser, main
from zdce_core.io.images import list_images, read_image
from zdce_core.training.schedule import FINE_TUNING, SCRATCH
from zdce_core.weights import DEFAULT, REGISTRY, bundled_path, load_model

SMALL = ["--crop", "32", "--batch-size", "4", "--device", "cpu", "--quiet"]


def _shared(folder: str):
    path = SHARED_DATA / folder
    if not path.is_dir():
        if os.environ.get("CI"):
            pytest.fail(f"CI needs the shared data: {path}", pytrace=False)
        pytest.skip(f"shared data missing: {path}")
    return path


def _photos(folder, levels, seed=1):
    """Small photos with structure, one per mean level in ``levels``, named by their order."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    yy, xx = np.mgrid[0:48, 0:64] / 64
    for i, level in enumerate(levels):
        scene = level * (0.6 + 0.8 * (np.sin(6 * xx + i) * np.cos(4 * yy - i) + 1) / 2)
        img = np.clip(scene[..., None] * rng.uniform(0.8, 1.2, 3) + rng.normal(0, 0.004, (48, 64, 3)), 0, 1)
        Image.fromarray((img * 255).astype(np.uint8)).save(folder / f"photo{i:02d}.png")
    return folder


def _zdce(*args, env=None):
    return subprocess.run([sys.executable, "-m", "zdce_core", *map(str, args)], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, check=False, timeout=600)


def _lol_outputs(model):
    return [enhance(read_image(p)[..., :3], model=model) for p in list_images(_shared("test/lol15-low"))]


def test_fine_tune_from_bundled_stays_near_it_where_a_run_from_scratch_does_not(tmp_path, capsys):
    sice = list_images(_shared("train/sice-part1"))[:20]
    photos = tmp_path / "photos"
    photos.mkdir()
    for path in sice:
        (photos / path.name).symlink_to(path)
    runs = tmp_path / "runs"
    common = ["--epochs", "1", "--runs-dir", str(runs), "--device", "cpu", "--quiet"]
    assert main(["train", str(photos), "-o", str(tmp_path / "tuned.pt"), "--name", "tuned", "--from", "bundled",
                 "--tracker", "mlflow", *common]) == 0
    out = capsys.readouterr()
    assert "validation: 4 photo(s) held out, 16 to train on" in out.err
    assert "parent " in out.out and REGISTRY[DEFAULT][1][:16] in out.out
    assert main(["train", str(photos), "-o", str(tmp_path / "scratch.pt"), "--name", "scratch", *common]) == 0

    bundled = _lol_outputs(load_model(bundled_path()))
    tuned = _lol_outputs(load_model(tmp_path / "tuned.pt"))
    scratch = _lol_outputs(load_model(tmp_path / "scratch.pt"))

    def diff(outs):
        return float(np.mean([np.abs(a - b).mean() for a, b in zip(outs, bundled)]))

    def luminance(outs):
        return float(np.mean([o.mean() for o in outs]))

    assert 0 < diff(tuned) < diff(scratch), (diff(tuned), diff(scratch))
    assert abs(luminance(tuned) - luminance(bundled)) < 0.05, (luminance(tuned), luminance(bundled))

    config = json.loads((runs / "tuned" / "config.json").read_text())
    assert config["parent"] == {"file": str(bundled_path().resolve()), "sha256": REGISTRY[DEFAULT][1]}
    assert config["train"]["config"]["lr"] == FINE_TUNING["lr"] and config["settings"]["start_from"] == "bundled"
    assert json.loads((runs / "scratch" / "config.json").read_text())["parent"] is None
    card = (runs / "tuned" / "MODEL_CARD.md").read_text()
    assert f"Fine-tuned from:** `{bundled_path().resolve()}`, sha256 `{REGISTRY[DEFAULT][1]}`" in card

    from mlflow.tracking import MlflowClient

    from zdce_core.training.trackers.mlflow import local_store

    client = MlflowClient(local_store(runs))
    (found,) = client.search_runs([client.get_experiment_by_name("zdce").experiment_id])
    assert found.data.params["parent.sha256"] == REGISTRY[DEFAULT][1]


def test_fine_tuning_defaults_and_a_bad_parent(tmp_path, capsys):
    parser = build_parser("train")
    from zdce_core.app.commands.train import train_config

    tuned = train_config(parser.parse_args(["train", "d", "-o", "x.pt", "--from", "bundled"]))
    scratch = train_config(parser.parse_args(["train", "d", "-o", "x.pt"]))
    given = train_config(parser.parse_args(["train", "d", "-o", "x.pt", "--from", "m.pt", "--epochs", "2"]))
    assert (tuned.epochs, tuned.lr) == (FINE_TUNING["epochs"], FINE_TUNING["lr"])
    assert (scratch.epochs, scratch.lr) == (SCRATCH["epochs"], SCRATCH["lr"])
    assert (given.epochs, given.lr) == (2, FINE_TUNING["lr"])

    photos = _photos(tmp_path / "photos", [0.1] * 3)
    bad = tmp_path / "notes.pt"
    bad.write_text("not weights")
    code = main(["train", str(photos), "-o", str(tmp_path / "x.pt"), "--from", str(bad), *SMALL])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and str(bad) in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.pt", "photos"]


def test_sheets_of_a_small_folder_show_its_darkest_photos_beside_the_bundled_model(tmp_path, capsys):
    levels = [0.5, 0.04, 0.35, 0.3, 0.02, 0.45, 0.06, 0.4, 0.25, 0.08]  # four dark ones among bright ones
    photos = _photos(tmp_path / "photos", levels)
    runs = tmp_path / "runs"
    assert main(["train", str(photos), "-o", str(tmp_path / "s.pt"), "--name", "s", "--runs-dir", str(runs),
                 "--epochs", "1", *SMALL]) == 0
    assert "validation: 2 photo(s) held out, 8 to train on" in capsys.readouterr().err
    config = json.loads((runs / "s" / "config.json").read_text())
    darkest = [f"photo{i:02d}.png" for i in np.argsort(levels)[:4]]
    assert [os.path.basename(p) for p in config["samples"]] == darkest
    with Image.open(runs / "s" / "samples" / "epoch-001.jpg") as sheet:
        # five columns (original, autocontrast, bundled, steps 4, steps 8) of 64x48 photos at 160 rows
        assert 4 * 213 < sheet.width < 6 * 213 and sheet.height > 4 * 160
        grey = np.asarray(sheet.convert("L"), np.float32)
    rows = slice(30, sheet.height - 10)
    original, bundled = grey[rows, 6:210].mean(), grey[rows, 2 * 217 + 6 : 3 * 217 - 4].mean()
    assert original < 40 and bundled > original + 20, (original, bundled)  # dark photos, lifted by the bundled model

    few = _photos(tmp_path / "few", [0.1, 0.2, 0.3])
    assert main(["train", str(few), "-o", str(tmp_path / "f.pt"), "--runs-dir", str(runs), "--epochs", "1", *SMALL]) == 0
    err = capsys.readouterr().err
    assert "validation: none (3 photo(s) are too few to hold any out" in err and "darkest training photos" in err


def _clip(path, frames=30, size=(64, 48)):
    """A real MPEG-4 file, written by FFmpeg's encoder through PyAV: a dark scene that brightens over time."""
    av = pytest.importorskip("av") if not os.environ.get("CI") else __import__("av")
    yy, xx = np.mgrid[0 : size[1], 0 : size[0]] / size[0]
    with av.open(str(path), "w") as container:
        stream = container.add_stream("mpeg4", rate=10)
        stream.width, stream.height, stream.pix_fmt = size[0], size[1], "yuv420p"
        for i in range(frames):
            level = 0.03 + 0.01 * i
            rgb = np.clip(level * (1 + np.sin(6 * xx + i / 5) * np.cos(4 * yy))[..., None] * [1.0, 0.9, 0.8], 0, 1)
            frame = av.VideoFrame.from_ndarray((rgb * 255).astype(np.uint8), format="rgb24")
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    return path


def test_train_on_the_frames_of_a_video(tmp_path):
    clip = _clip(tmp_path / "night.mp4")
    runs = tmp_path / "runs"
    assert main(["train", str(clip), "-o", str(tmp_path / "v.pt"), "--name", "v", "--runs-dir", str(runs),
                 "--frames", "8", "--epochs", "1", *SMALL]) == 0
    config = json.loads((runs / "v" / "config.json").read_text())
    frames = sorted((runs / "v" / "frames").glob("frame-*.png"))
    assert len(frames) == 8 and config["data"]["photos"] == 8
    video = config["settings"]["video"]
    assert video["file"] == str(clip.resolve()) and video["frames"] == 8 and video["size"] == [64, 48]
    assert video["times"] == sorted(video["times"]) and video["times"][0] < 0.5 < 2.5 < video["times"][-1] < 3.0
    first, last = (np.asarray(Image.open(f), np.float32).mean() for f in (frames[0], frames[-1]))
    assert last > first + 30  # frames from the start and the end of the brightening clip, in order


def test_train_on_a_broken_video_is_one_line(tmp_path, capsys):
    pytest.importorskip("av") if not os.environ.get("CI") else None
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(200))
    code = main(["train", str(broken), "-o", str(tmp_path / "x.pt"), *SMALL])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and str(broken) in err
    assert not (tmp_path / "x.pt").exists()


def _wandb_groups(runs):
    from test_tracking import _wandb_records

    groups = {}
    for log in runs.glob("*/wandb/offline-run-*/run-*.wandb"):
        (run,) = [r.run for r in _wandb_records(log) if r.WhichOneof("record_type") == "run"]
        groups[run.display_name] = run.run_group
    return groups


def test_sweep_of_three_trials_tracks_each_prints_the_table_and_compares_the_best(tmp_path):
    photos = _photos(tmp_path / "photos", np.linspace(0.03, 0.3, 12))
    runs = tmp_path / "runs"
    done = _zdce("sweep", photos, "--trials", 3, "--param", "lr=1e-4..3e-3:log", "--param", "batch-size=2..6",
                 "--epochs", 1, "--name", "sw", "--runs-dir", runs, "--tracker", "mlflow", "--tracker", "wandb",
                 "-o", tmp_path / "best.pt", *SMALL, env={"WANDB_MODE": "offline"})
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    header = lines.index(next(line for line in lines if line.startswith("TRIAL")))
    assert lines[header].split() == ["TRIAL", "RUN", "LR", "BATCH_SIZE", "VAL_TOTAL", "STATE", "SECONDS"]
    table = [line.split() for line in lines[header + 1 : header + 4]]
    assert [row[:2] for row in table] == [["0", "sw-000"], ["1", "sw-001"], ["2", "sw-002"]] or any("*" in r for r in table)
    values = {}
    for row in table:
        name = next(w for w in row if w.startswith("sw-"))
        config = json.loads((runs / name / "config.json").read_text())
        assert config["status"] == "finished" and config["group"] == "sw"
        assert config["train"]["config"]["epochs"] == 1
        metrics = (runs / name / "metrics.csv").read_text().splitlines()
        last = dict(zip(metrics[0].split(","), metrics[-1].split(",")))
        assert row[-3] == f"{float(last['val_total']):.5g}"  # the objective is the run's own last val_total
        values[name] = float(last["val_total"])
    best = min(values, key=values.get)
    assert sum("*" in row for row in table) == 1 and "*" in next(r for r in table if best in r)
    assert (tmp_path / "best.pt").read_bytes() == (runs / best / "model.pt").read_bytes()
    assert (runs / "sw-best.jpg").exists() and f"zdce runs compare {best}" in done.stdout

    from mlflow.tracking import MlflowClient

    from zdce_core.training.trackers.mlflow import local_store

    client = MlflowClient(local_store(runs))
    found = client.search_runs([client.get_experiment_by_name("zdce").experiment_id], "tags.`zdce.group` = 'sw'")
    assert sorted(r.info.run_name for r in found) == sorted(values) and {r.info.status for r in found} == {"FINISHED"}
    assert _wandb_groups(runs) == dict.fromkeys(values, "sw")


def test_sweep_ctrl_c_keeps_finished_trials_and_resume_continues(tmp_path):
    photos = _photos(tmp_path / "photos", np.linspace(0.03, 0.3, 12))
    runs = tmp_path / "runs"
    args = ["sweep", str(photos), "--trials", "20", "--param", "lr=1e-4..3e-3:log", "--epochs", "3",
            "--name", "cc", "--runs-dir", str(runs), *SMALL]
    proc = subprocess.Popen([sys.executable, "-m", "zdce_core", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 300

    def finished():
        configs = [json.loads(p.read_text()) for p in runs.glob("cc-*/config.json")] if runs.exists() else []
        return [c for c in configs if c.get("status") == "finished"]

    while not (runs / "cc-001" / "config.json").exists():  # the first trial is done and recorded, the second runs
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    kept = finished()
    assert len(kept) == 1 and "1 finished trial(s) kept" in err
    assert json.loads((runs / "cc-001" / "config.json").read_text())["status"] == "interrupted"
    assert "TRIAL" in out and out.count(" complete ") == len(kept)
    command = shlex.split(err.split("continue with:\n", 1)[1].strip().splitlines()[0])
    assert command[:2] == ["zdce", "sweep"] and "--resume" in command
    command[command.index("--trials") + 1] = str(len(kept) + 1)
    resumed = _zdce(*command[1:])
    assert resumed.returncode == 0, resumed.stderr
    assert len(finished()) == len(kept) + 1
    assert resumed.stdout.count(" complete ") == len(kept) + 1


@pytest.mark.parametrize("param, message", [
    ("crop=16..64", "crop cannot be searched"),
    ("lr=fast..slow", "LOW and HIGH must be numbers"),
    ("lr=0..1e-3:log", "LOW > 0 on a log scale"),
    ("epochs=1.5..4", "whole numbers"),
    ("lr", "use NAME=LOW..HIGH"),
    ("lr=1e-4..1e-3 FEW", "leave none for validation, which a sweep is judged on"),
])
def test_sweep_bad_param_is_one_line_and_writes_nothing(tmp_path, capsys, param, message):
    pytest.importorskip("optuna") if not os.environ.get("CI") else None
    param, few = param.removesuffix(" FEW"), param.endswith(" FEW")
    photos = _photos(tmp_path / "photos", [0.1] * (3 if few else 6))
    code = main(["sweep", str(photos), "--trials", "2", "--param", param, "--runs-dir", str(tmp_path / "runs"), *SMALL])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and message in err, err
    assert not (tmp_path / "runs").exists()
