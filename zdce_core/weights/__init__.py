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
import io
import math
import os
import re
import stat
import threading
import warnings
import zipfile
from collections.abc import Mapping
from importlib import resources
from pathlib import Path

import numpy as np

from ..maths.estimate import network_input
from ..maths.network import SHAPES, Network

DEFAULT = "zdce-sice"
REGISTRY: dict[str, tuple[str, str]] = {
    "zdce-sice": ("zdce-sice.npz", "0816dd73375773b7211abcc0f0c7a9769b95c2aeed51f4eff1ca5800b1b2badf"),
}

MAX_MAGNITUDE = 1e3
"""Largest weight accepted: a trained DCE-Net's are below 1 (the bundled one's below 0.3); weights a
million times larger overflow float32 into NaN on ordinary photos."""

_cache: dict[str, Network | ValueError] = {}
_lock = threading.Lock()

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")  # terminal colour codes
_NPY_HEADERS = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}
_NPY_HEADER_MAX = 1 << 16  # NumPy's own headers are a few hundred bytes; format 2.0 allows up to 4 GiB
_WIDEST_FLOAT = 8  # float64, the widest floating-point type a checkpoint's arrays are read from
# A training state (.state.pt): the weights and Adam's two moments at float64 at most, twice over for slack,
# plus the pickled history and settings.
_PT_MAX_BYTES = 2 * 3 * _WIDEST_FLOAT * sum(math.prod(shape) for shape in SHAPES.values()) + (16 << 20)


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


def _check_array(key: str, shape: tuple[int, ...], dtype: np.dtype, path: Path) -> None:
    """The shape and type rules for one array, from the array or from its ``.npy`` header alone."""
    needed = SHAPES[key]
    if tuple(shape) != needed:
        hint = ""
        if key == "conv1.weight" and tuple(shape) == (needed[0], 3, *needed[2:]):
            hint = " (a network for RGB alone, as in the paper or zdce 0.1; this one also takes the photo's key: retrain it with zdce train)"
        raise ValueError(f"{path}: {key} has shape {tuple(shape)}, DCE-Net needs {needed}{hint}")
    if dtype.kind != "f":
        raise ValueError(f"{path}: {key} holds {dtype} values; DCE-Net weights are floating point")


def check_state(state: Mapping[str, np.ndarray], path: Path) -> dict[str, np.ndarray]:
    """The DCE-Net arrays of ``state`` as float32, or a :class:`ValueError` naming ``path`` and the problem."""
    _check_keys(state, path)
    checked = {}
    for key in SHAPES:
        array = state[key]
        _check_array(key, array.shape, array.dtype, path)
        if not np.isfinite(array).all():
            raise ValueError(f"{path}: {key} holds NaN or infinite values; the checkpoint is broken")
        largest = float(np.abs(array).max())
        if largest > MAX_MAGNITUDE:
            raise ValueError(
                f"{path}: {key} holds values up to {largest:.3g}, far outside a trained network's "
                f"(below 1; at most {MAX_MAGNITUDE:g} accepted); the checkpoint is broken"
            )
        checked[key] = np.ascontiguousarray(array, np.float32)
    return checked


# A test photo for the network: every brightness from black to white. Weights under MAX_MAGNITUDE
# can still overflow float32 inside the convolutions into NaN, if every layer amplifies.
_PROBE = np.linspace(0, 1, 32 * 32 * 3, dtype=np.float32).reshape(32, 32, 3)


def _checked_output(net: Network, path: Path) -> Network:
    """``net``, if its curve maps for the probe photo are finite; else a :class:`ValueError` naming ``path``."""
    with np.errstate(over="ignore", invalid="ignore"):  # the overflow is what is being looked for
        maps = net(network_input(_PROBE)[0])
    if not np.isfinite(maps).all():
        raise ValueError(
            f"{path}: its weights are far outside a trained network's (its output on a test image is not finite); "
            "the checkpoint is broken"
        )
    return net


def _regular_file(path: Path) -> None:
    # Before opening: a FIFO or a device would block or stream forever.
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise ValueError(f"{path}: no such checkpoint file") from None
    if not stat.S_ISREG(mode):
        raise ValueError(f"{path}: not a regular file; give a .npz or .pt weights file")


def _load_npz(path: Path) -> dict[str, np.ndarray]:
    # Sizes and .npy headers are checked before anything is inflated: a small
    # archive can declare gigabytes (a zip bomb), which np.load would unpack first.
    try:
        with zipfile.ZipFile(path) as archive:
            members = {info.filename.removesuffix(".npy"): info for info in archive.infolist()}
            _check_keys(members, path)
            return {key: _read_npy(archive, info, key, path) for key, info in members.items()}
    except Exception as exc:  # zipfile and format errors all mean the same to a user
        if isinstance(exc, ValueError) and str(exc).startswith(f"{path}: "):
            raise  # one of the checks above, already in the user's terms
        raise ValueError(f"{path}: not a readable .npz weights file ({exc})") from None


def _read_npy(archive: zipfile.ZipFile, info: zipfile.ZipInfo, key: str, path: Path) -> np.ndarray:
    limit = _NPY_HEADER_MAX + math.prod(SHAPES[key]) * _WIDEST_FLOAT
    if info.file_size > limit:
        raise ValueError(
            f"{path}: {key} declares {info.file_size:,} bytes uncompressed, DCE-Net's weights take at most "
            f"{limit:,}; not a DCE-Net checkpoint (a zip bomb?)"
        )
    with archive.open(info) as member:
        raw = member.read(limit + 1)  # zipfile stops at the declared size
    header = io.BytesIO(raw)
    version = np.lib.format.read_magic(header)
    if version not in _NPY_HEADERS:
        raise ValueError(f"{path}: not a readable .npz weights file ({key} uses .npy format {version})")
    shape, _fortran, dtype = _NPY_HEADERS[version](header)
    if dtype.hasobject:
        raise ValueError(f"{path}: not a readable .npz weights file ({key} holds Python objects, which never load)")
    _check_array(key, shape, dtype, path)  # before np.load allocates what the header declares
    return np.load(io.BytesIO(raw), allow_pickle=False)


def _check_pt_sizes(path: Path) -> None:
    """Refuse a zip-format ``.pt`` whose members declare more than a training state can hold, before torch inflates them."""
    if not zipfile.is_zipfile(path):
        return  # torch's legacy format stores tensors as they are: nothing to inflate
    with zipfile.ZipFile(path) as archive:
        declared = sum(info.file_size for info in archive.infolist())
    if declared > _PT_MAX_BYTES:
        raise ValueError(
            f"{path}: declares {declared:,} bytes uncompressed, more than a DCE-Net training state holds "
            f"({_PT_MAX_BYTES:,} at most); not a DCE-Net checkpoint (a zip bomb?)"
        )


def _torch_reason(exc: Exception) -> str:
    """torch's reason in one line: its unpickling errors run to several, with colour codes and advice to load unsafely."""
    text = _ANSI.sub("", str(exc))
    _, marker, detail = text.partition("WeightsUnpickler error:")
    if marker:
        first = next((line.strip() for line in detail.splitlines() if line.strip()), "")
        return f"it holds Python objects other than tensors, which zdce never loads: {first}"
    return " ".join(text.split()) or type(exc).__name__


def load_torch_state(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """The checked arrays of a ``.pt`` written by ``zdce train`` (weights or ``.state.pt``); needs torch."""
    path = Path(path)
    _regular_file(path)
    try:
        import torch
    except ImportError:
        raise ValueError(f"{path}: reading a .pt checkpoint needs torch: pip install 'zdce[train]'") from None
    try:
        _check_pt_sizes(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise ValueError(f"{path}: not a readable weights-only PyTorch checkpoint ({exc})") from None
    try:
        with warnings.catch_warnings():  # torch warns about pickle protocols: library code prints nothing
            warnings.simplefilter("ignore")
            state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises several types for files it cannot unpickle safely.
        raise ValueError(f"{path}: not a readable weights-only PyTorch checkpoint ({_torch_reason(exc)})") from None
    if isinstance(state, dict) and isinstance(state.get("model"), dict):
        state = state["model"]
    if not isinstance(state, dict):
        raise ValueError(f"{path}: expected a dict of tensors, found {type(state).__name__}")
    _check_keys(state, path)
    arrays = {}
    for key, tensor in state.items():
        if not isinstance(tensor, torch.Tensor):
            raise ValueError(f"{path}: {key} is a {type(tensor).__name__}, not a tensor")
        kind = (
            f"a quantized tensor ({tensor.dtype})" if tensor.is_quantized
            else "a meta tensor (a shape without values)" if tensor.is_meta
            else f"a {str(tensor.layout).removeprefix('torch.')} tensor" if tensor.layout != torch.strided
            else None
        )
        if kind:
            raise ValueError(f"{path}: {key} is {kind}; DCE-Net needs plain floating-point weights (dequantize or densify it)")
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
    and the network is run on a test image (its output must be finite),
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
        return _checked_output(Network.from_state(load_torch_state(path)), path)
    _regular_file(path)
    return _checked_output(Network.from_state(check_state(_load_npz(path), path)), path)


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
    """The bundled model, or the checkpoint ``$ZDCE_MODEL`` names; loaded (or refused) once per process (thread-safe)."""
    chosen = os.environ.get(MODEL_ENV)
    key = chosen or name
    with _lock:
        if key not in _cache:
            try:
                _cache[key] = load_model(chosen) if chosen else load_model(bundled_path(name))
            except ValueError as exc:
                _cache[key] = exc  # a broken $ZDCE_MODEL fails every photo at once, not after reading it again
        found = _cache[key]
    if isinstance(found, ValueError):
        raise ValueError(str(found))
    return found
