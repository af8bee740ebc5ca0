"""Real training on a few small images: the loss falls, runs are reproducible and resumable."""

from __future__ import annotations

import csv

import numpy as np
import pytest
import torch
from PIL import Image

from zdce_core.app.cli import main
from zdce_core.maths.network import SHAPES
from zdce_core.training.loop import TrainConfig, train
from zdce_core.weights import load_model


@pytest.fixture
def photo_dir(tmp_path):
    """Six small dark photos with structure, plus one file that is not an image."""
    rng = np.random.default_rng(1)
    folder = tmp_path / "photos"
    folder.mkdir()
    yy, xx = np.mgrid[0:64, 0:64] / 64
    for i in range(6):
        scene = 0.05 + 0.1 * (np.sin(6 * xx + i) * np.cos(4 * yy - i) + 1) / 2
        tint = rng.uniform(0.7, 1.3, 3)
        img = np.clip(scene[..., None] * tint + rng.normal(0, 0.005, (64, 64, 3)), 0, 1)
        Image.fromarray((img * 255).astype(np.uint8)).save(folder / f"dark{i}.png")
    (folder / "notes.jpg").write_text("not an image")
    return folder


def _config(**kw):
    base = dict(epochs=6, batch_size=4, crop=32, lr=1e-3, val_fraction=0.2, device="cpu")
    base.update(kw)
    return TrainConfig(**base)


def test_loss_falls_and_outputs_written(photo_dir, tmp_path):
    out = tmp_path / "model.pt"
    result = train(photo_dir, out, _config())
    totals = [row["total"] for row in result.epoch_losses]
    assert totals[-1] < totals[0] * 0.9, totals
    assert [p.name for p, _ in result.skipped] == ["notes.jpg"]
    with open(result.losses_csv) as f:
        rows = list(csv.DictReader(f))
    assert [int(r["epoch"]) for r in rows] == list(range(1, 7))
    terms = {"total", "spatial", "exposure", "colour", "smoothness", "toe", "highlights", "brightening"}
    assert set(rows[0]) == {"epoch", "seconds", "learning_rate"} | terms | {f"val_{k}" for k in terms}
    rates = [float(r["learning_rate"]) for r in rows]  # the half cosine, down to lr_final of lr at the last step
    assert all(b < a for a, b in zip(rates, rates[1:])) and 1e-3 * 0.05 <= rates[-1] < 1e-3 * 0.1
    model = load_model(out)  # a weights-only, validated checkpoint
    assert {k: a.shape for k, a in model.state.items()} == SHAPES


def test_seeded_runs_are_identical(photo_dir, tmp_path):
    a = train(photo_dir, tmp_path / "a.pt", _config(epochs=2))
    b = train(photo_dir, tmp_path / "b.pt", _config(epochs=2))
    def losses(result):
        return [{k: v for k, v in row.items() if k != "seconds"} for row in result.epoch_losses]

    assert losses(a) == losses(b)
    sa, sb = torch.load(tmp_path / "a.pt", weights_only=True), torch.load(tmp_path / "b.pt", weights_only=True)
    assert all(torch.equal(sa[k], sb[k]) for k in sa)


class _StopAt:
    """A callback that interrupts the run at the end of ``epoch``, before that epoch's state is saved (as Ctrl-C there does)."""

    def __init__(self, epoch: int):
        self.epoch = epoch

    def on_epoch_end(self, epoch, metrics, model):
        if epoch == self.epoch:
            raise KeyboardInterrupt


def test_resume_continues_where_it_stopped(photo_dir, tmp_path):
    whole = train(photo_dir, tmp_path / "whole.pt", _config(epochs=4))
    with pytest.raises(KeyboardInterrupt):
        train(photo_dir, tmp_path / "part.pt", _config(epochs=4), callbacks=[_StopAt(3)])
    resumed = train(photo_dir, tmp_path / "part.pt", _config(epochs=4), resume=True)
    assert len(resumed.epoch_losses) == 4
    np.testing.assert_allclose(
        [r["total"] for r in resumed.epoch_losses], [r["total"] for r in whole.epoch_losses], rtol=1e-5
    )


def test_cli_train_reports_skipped_files(photo_dir, tmp_path, capsys):
    out = tmp_path / "cli.pt"
    code = main(["train", str(photo_dir), "-o", str(out), "--epochs", "1", "--crop", "32", "--device", "cpu", "--quiet"])
    captured = capsys.readouterr()
    assert code == 0 and out.exists()
    assert "notes.jpg" in captured.err and "skipped 1" in captured.err


def test_cli_train_lr_final_out_of_range_is_one_line_and_writes_nothing(photo_dir, tmp_path, capsys):
    before = sorted((p.name, p.stat().st_mtime_ns) for p in photo_dir.iterdir())
    code = main(["train", str(photo_dir), "-o", str(tmp_path / "x.pt"), "--lr-final", "1.5", "--device", "cpu"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1
    assert "--lr-final=1.5 is invalid" in err and "0 to 1" in err
    assert list(tmp_path.iterdir()) == [photo_dir]  # no weights, no state, no run folder
    assert sorted((p.name, p.stat().st_mtime_ns) for p in photo_dir.iterdir()) == before


def test_cli_train_empty_folder_is_a_clear_error(tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    code = main(["train", str(empty), "-o", str(tmp_path / "x.pt"), "--device", "cpu"])
    assert code == 2
    assert "no image files" in capsys.readouterr().err


def test_cli_train_missing_folder_is_a_clear_error(tmp_path, capsys):
    code = main(["train", str(tmp_path / "absent"), "-o", str(tmp_path / "x.pt"), "--device", "cpu"])
    assert code == 2
    assert "absent: not a folder of training photos" in capsys.readouterr().err
    assert not (tmp_path / "x.pt").exists()


class Recorder:
    """A callback that keeps what the loop hands it; defines no on_batch_end, which must be fine."""

    def __init__(self):
        self.events = []

    def on_run_start(self, run):
        self.events.append(("start", run))

    def on_epoch_end(self, epoch, metrics, model):
        self.events.append(("epoch", epoch, dict(metrics), type(model).__name__))

    def on_run_end(self, result):
        self.events.append(("end", result))


def test_callbacks_see_run_epochs_and_result(photo_dir, tmp_path):
    rec = Recorder()
    result = train(photo_dir, tmp_path / "cb.pt", _config(epochs=2), callbacks=[rec, object()])
    kinds = [e[0] for e in rec.events]
    assert kinds == ["start", "epoch", "epoch", "end"]
    run = rec.events[0][1]
    # Six readable photos, a fifth (rounded) held out; the seventh file is skipped, not dropped silently.
    assert (run["train_photos"], run["val_photos"], run["skipped"], run["device"]) == (5, 1, 1, "cpu")
    assert run["config"]["crop"] == 32 and run["batches_per_epoch"] == 2
    epoch, metrics = rec.events[1][1], rec.events[1][2]
    assert epoch == 1 and rec.events[1][3] == "DCENet"
    assert {"total", "toe", "val_total", "val_exposure", "seconds"} <= set(metrics)
    assert metrics == {k: v for k, v in result.epoch_losses[0].items() if k != "epoch"}
    assert rec.events[-1][1] is result


def test_validation_folder(photo_dir, tmp_path):
    val = tmp_path / "val"
    val.mkdir()
    Image.fromarray(np.full((40, 56, 3), 30, np.uint8)).save(val / "flat.png")
    rec = Recorder()
    result = train(photo_dir, tmp_path / "v.pt", _config(epochs=1), val_dir=val, callbacks=[rec])
    assert (rec.events[0][1]["train_photos"], rec.events[0][1]["val_photos"]) == (6, 1)
    assert np.isfinite(result.epoch_losses[0]["val_total"])
