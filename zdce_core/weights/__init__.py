"""Bundled checkpoints: a registry ``name -> (file, sha256)``, verified before loading.

Bundled weights are NumPy ``.npz`` archives (``np.load(..., allow_pickle=False)``),
so inference needs no torch; ``zdce export`` makes one from a ``.pt`` written
by ``zdce train``. A ``.pt`` checkpoint loads with ``torch.load(...,
weights_only=True)`` (torch is the ``train`` extra). Either way a weights file
can never run code, and every array is checked: the keys and shapes of
DCE-Net, finite floating-point values. See ``MODEL_CARD.md`` beside this file.
"""

from __future__ import annotations

import hashlib
import os
import stat
import threading
from collections.abc import Mapping
from importlib import resources
from pathlib import Path

import numpy as np

from ..maths.network import SHAPES, Network

DEFAULT = "zdce-sice"
REGISTRY: dict[str, tuple[str, str]] = {
    "zdce-sice": ("zdce-sice.npz", "484f5b5e55c5189896c5e5c92ac798739612c67eb3a07165ca44ddc5654ee731"),
}

_cache: dict[str, Network] = {}
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


def _check_keys(keys, path: Path) -> None:
    missing = sorted(set(SHAPES) - set(keys))
    unexpected = sorted(set(keys) - set(SHAPES))
    if missing or unexpected:
        raise ValueError(f"{path}: not a DCE-Net checkpoint (missing keys {missing}, unexpected keys {unexpected})")


def check_state(state: Mapping[str, np.ndarray], path: Path) -> dict[str, np.ndarray]:
    """The DCE-Net arrays of ``state`` as float32, or a :class:`ValueError` naming ``path`` and the problem."""
    _check_keys(state, path)
    checked = {}
    for key, shape in SHAPES.items():
        array = state[key]
        if array.shape != shape:
            hint = ""
            if key == "conv1.weight" and array.shape == (shape[0], 3, *shape[2:]):
                hint = " (a network for RGB alone, as in the paper or zdce 0.1; this one also takes the photo's key: retrain it with zdce train)"
            raise ValueError(f"{path}: {key} has shape {tuple(array.shape)}, DCE-Net needs {shape}{hint}")
        if array.dtype.kind != "f":
            raise ValueError(f"{path}: {key} holds {array.dtype} values; DCE-Net weights are floating point")
        if not np.isfinite(array).all():
            raise ValueError(f"{path}: {key} holds NaN or infinite values; the checkpoint is broken")
        checked[key] = np.ascontiguousarray(array, np.float32)
    return checked


def _regular_file(path: Path) -> None:
    # Before opening: a FIFO or a device would block or stream forever.
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise ValueError(f"{path}: no such checkpoint file") from None
    if not stat.S_ISREG(mode):
        raise ValueError(f"{path}: not a regular file; give a .npz or .pt weights file")


def _load_npz(path: Path) -> dict[str, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as archive:
            return {key: archive[key] for key in archive.files}
    except Exception as exc:  # zipfile, pickle refusal and format errors all mean the same to a user
        raise ValueError(f"{path}: not a readable .npz weights file ({exc})") from None


def load_torch_state(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """The checked arrays of a ``.pt`` written by ``zdce train`` (weights or ``.state.pt``); needs torch."""
    path = Path(path)
    _regular_file(path)
    try:
        import torch
    except ImportError:
        raise ValueError(f"{path}: reading a .pt checkpoint needs torch: pip install 'zdce[train]'") from None
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises several types for files it cannot unpickle safely.
        raise ValueError(f"{path}: not a readable weights-only PyTorch checkpoint ({exc})") from None
    if isinstance(state, dict) and isinstance(state.get("model"), dict):
        state = state["model"]
    if not isinstance(state, dict):
        raise ValueError(f"{path}: expected a dict of tensors, found {type(state).__name__}")
    _check_keys(state, path)
    arrays = {}
    for key, tensor in state.items():
        if not isinstance(tensor, torch.Tensor):
            raise ValueError(f"{path}: {key} is a {type(tensor).__name__}, not a tensor")
        if tensor.layout != torch.strided or tensor.is_meta or tensor.is_quantized:
            raise ValueError(f"{path}: {key} is a {tensor.layout} {tensor.device.type} tensor; DCE-Net needs plain dense weights")
        if not tensor.is_floating_point():
            raise ValueError(f"{path}: {key} holds {tensor.dtype} values; DCE-Net weights are floating point")
        arrays[key] = tensor.detach().to(torch.float32).numpy()
    return check_state(arrays, path)


def load_model(path: str | os.PathLike) -> Network:
    """Load DCE-Net weights for :func:`zdce_core.enhance`.

    ``.npz`` files (bundled, or from ``zdce export``) load with NumPy alone;
    any other file is read as a PyTorch checkpoint from ``zdce train`` (the
    final weights or a training ``.state.pt``), which needs torch
    (``pip install 'zdce[train]'``). Keys, shapes and values are checked,
    so a checkpoint of some other network, or a broken one, fails with a
    one-line :class:`ValueError` naming the file.

    Examples
    --------
    >>> net = load_model(bundled_path())
    >>> net.iterations
    8
    """
    path = Path(path)
    if path.suffix.lower() != ".npz":
        return Network.from_state(load_torch_state(path))
    _regular_file(path)
    return Network.from_state(check_state(_load_npz(path), path))


def save_npz(state: Mapping[str, np.ndarray], path: str | os.PathLike) -> None:
    """Write checked DCE-Net arrays as an ``.npz`` :func:`load_model` reads (atomically: complete or absent)."""
    from ..io.atomic import atomic_path

    path = Path(path)
    checked = check_state(state, path)
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            np.savez_compressed(f, **checked)


MODEL_ENV = "ZDCE_MODEL"
"""Environment variable naming a checkpoint to use instead of the bundled one: how a host
(GIMP, darktable, ImageMagick), which starts the engine itself, gets your own weights."""


def default_model(name: str = DEFAULT) -> Network:
    """The bundled model, or the checkpoint ``$ZDCE_MODEL`` names; loaded once per process (thread-safe)."""
    chosen = os.environ.get(MODEL_ENV)
    with _lock:
        if (chosen or name) not in _cache:
            _cache[chosen or name] = load_model(chosen) if chosen else load_model(bundled_path(name))
        return _cache[chosen or name]
