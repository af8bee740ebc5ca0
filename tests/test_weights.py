"""The bundled checkpoint registry, loading users' own checkpoints (.npz and .pt), and `zdce export`."""

from __future__ import annotations

import hashlib
import os
import pickle
import subprocess
import sys

import numpy as np
import pytest
import torch

from zdce_core import weights
from zdce_core.maths.network import SHAPES, Network
from zdce_core.training.model import DCENet


def test_bundled_checkpoint_matches_registry_and_size():
    path = weights.bundled_path()
    filename, digest = weights.REGISTRY[weights.DEFAULT]
    assert path.name == filename and path.suffix == ".npz"
    assert hashlib.sha256(path.read_bytes()).hexdigest() == digest
    assert path.stat().st_size <= 350_000
    with np.load(path, allow_pickle=False) as archive:
        assert {k: archive[k].shape for k in archive.files} == SHAPES


def test_tampered_checkpoint_is_refused(tmp_path, monkeypatch):
    bad = tmp_path / weights.REGISTRY[weights.DEFAULT][0]
    bad.write_bytes(weights.bundled_path().read_bytes() + b"x")
    monkeypatch.setattr(weights.resources, "files", lambda _: tmp_path)
    with pytest.raises(ValueError, match="sha256 .* does not match"):
        weights.bundled_path()


def test_unknown_name():
    with pytest.raises(ValueError, match="unknown checkpoint 'nope'"):
        weights.bundled_path("nope")


def _same(net: Network, model: DCENet) -> bool:
    return all(np.array_equal(net.state[k], v.numpy()) for k, v in model.state_dict().items())


def test_load_own_checkpoint_and_training_state(tmp_path):
    model = DCENet()
    torch.save(model.state_dict(), tmp_path / "plain.pt")
    torch.save({"model": model.state_dict(), "epoch": 3}, tmp_path / "run.state.pt")
    for name in ("plain.pt", "run.state.pt"):
        assert _same(weights.load_model(tmp_path / name), model)


def test_export_writes_npz_that_loads_without_torch(tmp_path):
    model = DCENet()
    torch.save(model.state_dict(), tmp_path / "mine.pt")
    done = subprocess.run([sys.executable, "-m", "zdce_core", "export", tmp_path / "mine.pt", "-o", tmp_path / "mine.npz"],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert _same(weights.load_model(tmp_path / "mine.npz"), model)
    # torch made unimportable: the .npz still loads, a .pt names the extra to install.
    code = (
        "import sys; sys.modules['torch'] = None\n"
        "from zdce_core.weights import load_model\n"
        f"print(load_model({str(tmp_path / 'mine.npz')!r}).iterations)\n"
        f"load_model({str(tmp_path / 'mine.pt')!r})\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.stdout.strip() == "8"
    assert "mine.pt: reading a .pt checkpoint needs torch: pip install 'zdce[train]'" in done.stderr
    bad = subprocess.run([sys.executable, "-m", "zdce_core", "export", tmp_path / "mine.pt", "-o", tmp_path / "m.tflite"],
                         capture_output=True, text=True)
    assert bad.returncode == 2 and "must end in .npz or .onnx" in bad.stderr


def test_wrong_network_is_refused(tmp_path):
    state = DCENet().state_dict()
    state["conv1.weight"] = torch.zeros(16, 3, 3, 3)
    torch.save(state, tmp_path / "shape.pt")
    with pytest.raises(ValueError, match=r"shape.pt: conv1.weight has shape \(16, 3, 3, 3\)"):
        weights.load_model(tmp_path / "shape.pt")
    state["conv1.weight"] = torch.zeros(32, 3, 3, 3)  # the paper's RGB-only input
    torch.save(state, tmp_path / "rgb.pt")
    with pytest.raises(ValueError, match=r"rgb.pt: conv1.weight has shape \(32, 3, 3, 3\).*retrain it with zdce train"):
        weights.load_model(tmp_path / "rgb.pt")
    torch.save({"fc.weight": torch.zeros(2)}, tmp_path / "keys.pt")
    with pytest.raises(ValueError, match="keys.pt: not a DCE-Net checkpoint"):
        weights.load_model(tmp_path / "keys.pt")


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (lambda t: t.fill_(float("nan")), "NaN or infinite"),
        (lambda t: t.fill_(float("inf")), "NaN or infinite"),
        (lambda t: t.to(torch.int32), "torch.int32 values"),
        (lambda t: t.to(torch.bool), "torch.bool values"),
        (lambda t: t.to(torch.complex64), "torch.complex64 values"),
        (lambda t: t.to_sparse(), "sparse_coo"),
        (lambda t: torch.empty(t.shape, device="meta"), "meta tensor"),
    ],
)
def test_broken_weights_are_refused(tmp_path, change, words):
    state = DCENet().state_dict()
    state["conv3.bias"] = change(state["conv3.bias"].clone())
    torch.save(state, tmp_path / "bad.pt")
    with pytest.raises(ValueError, match=f"bad.pt: conv3.bias .*{words}"):
        weights.load_model(tmp_path / "bad.pt")


def test_broken_npz_is_refused(tmp_path):
    state = {k: np.zeros(s, np.float32) for k, s in SHAPES.items()}
    state["conv2.weight"] = np.full(SHAPES["conv2.weight"], np.nan, np.float32)
    np.savez(tmp_path / "nan.npz", **state)
    with pytest.raises(ValueError, match="nan.npz: conv2.weight holds NaN"):
        weights.load_model(tmp_path / "nan.npz")
    state["conv2.weight"] = np.zeros(SHAPES["conv2.weight"], np.int64)
    np.savez(tmp_path / "int.npz", **state)
    with pytest.raises(ValueError, match="int.npz: conv2.weight holds int64"):
        weights.load_model(tmp_path / "int.npz")
    np.savez(tmp_path / "obj.npz", **{**state, "conv2.weight": np.array([{"a": 1}], dtype=object)})
    with pytest.raises(ValueError, match="obj.npz: not a readable .npz"):
        weights.load_model(tmp_path / "obj.npz")
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="junk.npz: not a readable .npz"):
        weights.load_model(tmp_path / "junk.npz")


def test_code_in_a_checkpoint_is_never_run(tmp_path):
    class Exploit:
        def __reduce__(self):
            return (print, ("pwned",))

    (tmp_path / "evil.pt").write_bytes(pickle.dumps({"conv1.weight": Exploit()}))
    with pytest.raises(ValueError, match="evil.pt: not a readable weights-only"):
        weights.load_model(tmp_path / "evil.pt")


def test_missing_file_fifo_and_folder(tmp_path):
    with pytest.raises(ValueError, match="no such checkpoint"):
        weights.load_model(tmp_path / "absent.pt")
    os.mkfifo(tmp_path / "pipe.pt")  # opening it would block: refused before any open
    with pytest.raises(ValueError, match="pipe.pt: not a regular file"):
        weights.load_model(tmp_path / "pipe.pt")
    (tmp_path / "dir.npz").mkdir()
    with pytest.raises(ValueError, match="dir.npz: not a regular file"):
        weights.load_model(tmp_path / "dir.npz")
