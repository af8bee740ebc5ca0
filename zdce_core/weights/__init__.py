"""Bundled checkpoints: a registry ``name -> (file, sha256)``, verified before loading.

Every checkpoint loads with ``torch.load(..., weights_only=True)``: a weights
file can never run code. See ``MODEL_CARD.md`` beside this file.
"""

from __future__ import annotations

import hashlib
import os
import threading
from importlib import resources
from pathlib import Path

import torch

from ..training.model import DCENet

DEFAULT = "zdce-sice"
REGISTRY: dict[str, tuple[str, str]] = {
    "zdce-sice": ("zdce-sice.pt", "039df0466ca574e1cda60844bbd06c2de02395c2d1bd59ea42bcf5c97d2b58cf"),
}

_cache: dict[str, DCENet] = {}
_lock = threading.Lock()


def bundled_path(name: str = DEFAULT) -> Path:
    """The file of a bundled checkpoint, after checking its sha256."""
    if name not in REGISTRY:
        raise ValueError(f"unknown checkpoint {name!r}; bundled: {', '.join(REGISTRY)}")
    filename, expected = REGISTRY[name]
    path = Path(str(resources.files(__name__) / filename))
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != expected:
        raise ValueError(f"{path}: sha256 {digest} does not match the registry ({expected}); reinstall zdce")
    return path


def load_model(path: str | os.PathLike) -> DCENet:
    """Load DCE-Net weights from a ``.pt`` file written by ``zdce train``.

    Accepts the final weights file or a training ``.state.pt`` file. Keys and
    shapes are checked, so a checkpoint of some other network fails with a
    clear error instead of loading half-way.
    """
    path = Path(path)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise ValueError(f"{path}: no such checkpoint file") from None
    except Exception as exc:  # torch raises several types for files it cannot unpickle safely.
        raise ValueError(f"{path}: not a readable weights-only PyTorch checkpoint ({exc})") from None
    if isinstance(state, dict) and isinstance(state.get("model"), dict):
        state = state["model"]
    if not isinstance(state, dict):
        raise ValueError(f"{path}: expected a dict of tensors, found {type(state).__name__}")
    model = DCENet()
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    if missing or unexpected:
        raise ValueError(f"{path}: not a DCE-Net checkpoint (missing keys {missing}, unexpected keys {unexpected})")
    for key, tensor in expected.items():
        got = state[key]
        if not isinstance(got, torch.Tensor) or got.shape != tensor.shape:
            shape = tuple(got.shape) if isinstance(got, torch.Tensor) else type(got).__name__
            raise ValueError(f"{path}: {key} has shape {shape}, DCE-Net needs {tuple(tensor.shape)}")
    model.load_state_dict({k: v.float() for k, v in state.items()})
    return model.eval().requires_grad_(False)


def default_model(name: str = DEFAULT) -> DCENet:
    """The bundled model, loaded once per process (thread-safe)."""
    with _lock:
        if name not in _cache:
            _cache[name] = load_model(bundled_path(name))
        return _cache[name]
