"""The bundled checkpoint registry and loading of users' own checkpoints."""

from __future__ import annotations

import hashlib
import pickle

import pytest
import torch

from zdce_core import weights
from zdce_core.training.model import DCENet


def test_bundled_checkpoint_matches_registry_and_size():
    path = weights.bundled_path()
    filename, digest = weights.REGISTRY[weights.DEFAULT]
    assert path.name == filename
    assert hashlib.sha256(path.read_bytes()).hexdigest() == digest
    assert path.stat().st_size <= 350_000


def test_tampered_checkpoint_is_refused(tmp_path, monkeypatch):
    bad = tmp_path / "zdce-sice.pt"
    bad.write_bytes(weights.bundled_path().read_bytes() + b"x")
    monkeypatch.setattr(weights.resources, "files", lambda _: tmp_path)
    with pytest.raises(ValueError, match="sha256 .* does not match"):
        weights.bundled_path()


def test_unknown_name():
    with pytest.raises(ValueError, match="unknown checkpoint 'nope'"):
        weights.bundled_path("nope")


def test_load_own_checkpoint_and_training_state(tmp_path):
    model = DCENet()
    torch.save(model.state_dict(), tmp_path / "plain.pt")
    torch.save({"model": model.state_dict(), "epoch": 3}, tmp_path / "run.state.pt")
    for name in ("plain.pt", "run.state.pt"):
        loaded = weights.load_model(tmp_path / name)
        assert not loaded.training
        assert all(torch.equal(a, b) for a, b in zip(loaded.state_dict().values(), model.state_dict().values()))


def test_wrong_network_is_refused(tmp_path):
    state = DCENet().state_dict()
    state["conv1.weight"] = torch.zeros(16, 3, 3, 3)
    torch.save(state, tmp_path / "shape.pt")
    with pytest.raises(ValueError, match=r"shape.pt: conv1.weight has shape \(16, 3, 3, 3\)"):
        weights.load_model(tmp_path / "shape.pt")
    torch.save({"fc.weight": torch.zeros(2)}, tmp_path / "keys.pt")
    with pytest.raises(ValueError, match="keys.pt: not a DCE-Net checkpoint"):
        weights.load_model(tmp_path / "keys.pt")


def test_code_in_a_checkpoint_is_never_run(tmp_path):
    class Exploit:
        def __reduce__(self):
            return (print, ("pwned",))

    (tmp_path / "evil.pt").write_bytes(pickle.dumps({"conv1.weight": Exploit()}))
    with pytest.raises(ValueError, match="evil.pt: not a readable weights-only"):
        weights.load_model(tmp_path / "evil.pt")


def test_missing_file(tmp_path):
    with pytest.raises(ValueError, match="no such checkpoint"):
        weights.load_model(tmp_path / "absent.pt")
