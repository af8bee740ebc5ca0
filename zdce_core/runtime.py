"""ONNX Runtime as an engine: ``enhance(..., engine="onnx")`` runs the exported graph.

The graph (:mod:`zdce_core.export.graph`) does everything the NumPy engine's
``denoise=False`` path does up to the clipped float result: box reduction, under-exposure,
DCE-Net, the ``strength="auto"`` guard, upsampling and curves. Two NumPy steps
stay around it, so both engines give the same picture in every dtype: the
denoise filter (:mod:`zdce_core.maths.denoise`, built from the graph's own
maps and applied strength, run on the graph's output) and the conversion to
the output dtype (:func:`zdce_core.maths.render.render` with no curve steps,
which rounds integers as the NumPy engine does).

A model is either a :class:`~zdce_core.maths.network.Network` (its graph is
built in memory) or an exported ``.onnx`` file (:func:`load_onnx`); sessions
are kept per model, estimator size and thread count. Needs ``onnx`` and
``onnxruntime`` (``pip install 'zdce[onnx]'``).
"""

from __future__ import annotations

import os
import stat
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .maths.denoise import noise_filter
from .maths.network import SHAPES, Network
from .maths.render import render
from .maths.resample import unit_scale
from .weights import check_state

EXTRA_HINT = "pip install 'zdce[onnx]'"

_INPUTS = ("image", "steps", "strength")
_OUTPUTS = ("enhanced", "applied_strength", "maps")
_SESSIONS_KEPT = 4


def _import(name: str):
    try:
        return __import__(name)
    except ImportError:
        raise ValueError(f"the ONNX engine needs the {name} package: {EXTRA_HINT}") from None


@dataclass(frozen=True, eq=False)
class OnnxModel:
    """An exported whole-enhancer ``.onnx`` file, checked by :func:`load_onnx`."""

    path: Path
    data: bytes
    size: int
    """The estimator size built into the graph."""


def load_onnx(path: str | os.PathLike) -> OnnxModel:
    """Read and check a ``.onnx`` file written by ``zdce export``; a :class:`ValueError` naming the file otherwise.

    Refused: anything ``onnx.checker`` rejects, a network-only graph, a graph
    with other inputs or outputs, and weights holding NaN or infinite values.
    """
    onnx = _import("onnx")
    from onnx import numpy_helper

    from .export.graph import ENHANCER, KIND_KEY, SIZE_KEY

    path = Path(path)
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise ValueError(f"{path}: no such model file") from None
    if not stat.S_ISREG(mode):
        raise ValueError(f"{path}: not a regular file; give a .onnx file from zdce export")
    data = path.read_bytes()
    try:
        model = onnx.load_from_string(data)
        onnx.checker.check_model(model)
    except Exception as exc:  # protobuf's decode errors and the checker's: the file is not a usable model either way
        raise ValueError(f"{path}: not a valid ONNX model ({str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__})") from None
    props = {p.key: p.value for p in model.metadata_props}
    names = (tuple(i.name for i in model.graph.input), tuple(o.name for o in model.graph.output))
    if props.get(KIND_KEY) != ENHANCER or names != (_INPUTS, _OUTPUTS) or not props.get(SIZE_KEY, "").isdigit():
        raise ValueError(
            f"{path}: not a whole-enhancer graph from zdce export (inputs {list(names[0])}, outputs {list(names[1])}); "
            "export one with: zdce export -o model.onnx"
        )
    arrays = {tensor.name: numpy_helper.to_array(tensor) for tensor in model.graph.initializer}
    # DCE-Net's weights by the checkpoint rules (keys, shapes, finite, magnitude); the graph's own constants finite.
    check_state({key: array for key, array in arrays.items() if key in SHAPES}, path)
    for name, array in arrays.items():
        if array.dtype.kind == "f" and not np.isfinite(array).all():
            raise ValueError(f"{path}: {name} holds NaN or infinite values; the model is broken")
    return OnnxModel(path, data, int(props[SIZE_KEY]))


_sessions: dict[tuple[int, int, int], tuple[object, object]] = {}
_lock = threading.Lock()


def session(model: Network | OnnxModel, *, size: int, threads: int):
    """An ONNX Runtime session of ``model``'s whole-enhancer graph (kept for the next call)."""
    ort = _import("onnxruntime")
    if isinstance(model, OnnxModel) and size != model.size:
        raise ValueError(
            f"estimate_size={size} is not the size built into {model.path} ({model.size}); "
            "leave estimate_size at its default or export the model with that size"
        )
    key = (id(model), size, threads)
    with _lock:
        kept = _sessions.get(key)
        if kept is not None and kept[0] is model:
            return kept[1]
    if isinstance(model, OnnxModel):
        data = model.data
    else:
        _import("onnx")
        from .export.graph import enhancer_model

        data = enhancer_model(model, size=size).SerializeToString()
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    # Idle workers wait without spinning, as OMP_WAIT_POLICY=PASSIVE has zdce's other pools: on the busy
    # 2-core machine a 4K run took 1.0 CPU-s instead of 1.2-1.6 (and 3.7-5.3 s wall instead of 4.7-5.8).
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    made = ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])
    with _lock:
        while len(_sessions) >= _SESSIONS_KEPT:
            del _sessions[next(iter(_sessions))]
        _sessions[key] = (model, made)  # the model is held, so its id is not reused while the session is kept
    return made


def run_graph(
    rgb: np.ndarray, model: Network | OnnxModel, *, steps: int, strength: float | str, size: int, threads: int
) -> tuple[np.ndarray, np.ndarray, float]:
    """The graph on a checked C-contiguous ``(H, W, 3)`` image: float32 ``(H, W, 3)`` result, maps, applied strength.

    ``strength="auto"`` is the graph's negative strength; the other arguments
    are as :func:`zdce_core.enhance` checked them.
    """
    run = session(model, size=size, threads=threads)
    image = rgb.transpose(2, 0, 1)[None].astype(np.float32)
    if unit_scale(rgb.dtype) != 1.0:
        image *= np.float32(unit_scale(rgb.dtype))
    feeds = {
        "image": image,
        "steps": np.array(steps, np.int64),
        "strength": np.array(-1.0 if strength == "auto" else strength, np.float32),
    }
    enhanced, applied, maps = run.run(list(_OUTPUTS), feeds)
    del image
    return np.ascontiguousarray(enhanced[0].transpose(1, 2, 0)), maps[0], float(applied[0])


def finish(
    rgb: np.ndarray, result: np.ndarray, maps: np.ndarray, applied: float, *, steps: int, denoise: bool,
    dtype: np.dtype, threads: int,
) -> np.ndarray:
    """:func:`run_graph`'s ``result`` for ``rgb``, denoised if asked and converted to ``dtype``."""
    band_filter = noise_filter(rgb, maps, steps=steps, strength=applied) if denoise else None
    # No curve steps: the band filter, the clip and render's dtype conversion, exactly as the NumPy engine ends.
    return render(result, maps, steps=0, strength=0.0, dtype=dtype, band_filter=band_filter, threads=threads)
