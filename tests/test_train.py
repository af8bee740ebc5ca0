"""Real training on a few small images: the loss falls, runs are reproducible and resumable."""

from __future__ import annotations

import csv

import numpy as np
import pytest
import torch
from PIL import Image

from zdce_core.app.cli import main
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
    base = dict(epochs=6, batch_size=3, size=32, lr=1e-3, device="cpu")
    base.update(kw)
    return TrainConfig(**base)


def test_loss_falls_and_outputs_written(photo_dir, tmp_path):
    out = tmp_path / "model.pt"
    result = train(photo_dir, out, _config(), progress=False)
    totals = [row["total"] for row in result.epoch_losses]
    assert totals[-1] < totals[0] * 0.9, totals
    assert [p.name for p, _ in result.skipped] == ["notes.jpg"]
    with open(result.losses_csv) as f:
        rows = list(csv.DictReader(f))
    assert [int(r["epoch"]) for r in rows] == list(range(1, 7))
    assert set(rows[0]) == {"epoch", "total", "spatial", "exposure", "colour", "smoothness"}
    model = load_model(out)  # a weights-only, validated checkpoint
    assert sum(a.size for a in model.state.values()) == 79416


def test_seeded_runs_are_identical(photo_dir, tmp_path):
    a = train(photo_dir, tmp_path / "a.pt", _config(epochs=2), progress=False)
    b = train(photo_dir, tmp_path / "b.pt", _config(epochs=2), progress=False)
    assert a.epoch_losses == b.epoch_losses
    sa, sb = torch.load(tmp_path / "a.pt", weights_only=True), torch.load(tmp_path / "b.pt", weights_only=True)
    assert all(torch.equal(sa[k], sb[k]) for k in sa)


def test_resume_continues_where_it_stopped(photo_dir, tmp_path):
    whole = train(photo_dir, tmp_path / "whole.pt", _config(epochs=4), progress=False)
    train(photo_dir, tmp_path / "part.pt", _config(epochs=2), progress=False)
    resumed = train(photo_dir, tmp_path / "part.pt", _config(epochs=4), resume=True, progress=False)
    assert len(resumed.epoch_losses) == 4
    np.testing.assert_allclose(
        [r["total"] for r in resumed.epoch_losses], [r["total"] for r in whole.epoch_losses], rtol=1e-5
    )


def test_cli_train_reports_skipped_files(photo_dir, tmp_path, capsys):
    out = tmp_path / "cli.pt"
    code = main(["train", str(photo_dir), "-o", str(out), "--epochs", "1", "--size", "32", "--device", "cpu", "--quiet"])
    captured = capsys.readouterr()
    assert code == 0 and out.exists()
    assert "notes.jpg" in captured.err and "skipped 1" in captured.err


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
