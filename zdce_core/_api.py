"""The public API: ``enhance(image, steps, ...)`` on NumPy arrays.

Validation happens once, here, at the NumPy boundary; everything below works
on checked, C-contiguous ``(H, W, 3)`` arrays.
"""

from __future__ import annotations

import numbers
import os
from typing import NamedTuple

import numpy as np

from .contract import (
    DEFAULT_DENOISE,
    DEFAULT_ENGINE,
    DEFAULT_STEPS,
    DEFAULT_STRENGTH,
    ESTIMATE_SIDE,
    MAX_ESTIMATE_SIDE,
    MAX_STEPS,
)
from .maths.denoise import noise_filter
from .maths.estimate import network_input
from .maths.exposure import darkness
from .maths.network import Network
from .maths.render import render
from .maths.resample import FULL_SCALE
from .params import check_denoise, check_engine, check_steps, check_strength
from .runtime import OnnxModel, finish, load_onnx, run_graph
from .threads import check_threads
from .weights import default_model, load_model

_INPUT_DTYPES = (np.uint8, np.uint16, np.float16, np.float32, np.float64)
_OUTPUT_DTYPES = (np.uint8, np.uint16, np.float32, np.float64)


def _native(dtype: np.dtype) -> np.dtype:
    # Big-endian ('>u2', '>f4') and native arrays hold the same values; the maths runs natively.
    return dtype.newbyteorder("=") if dtype.byteorder in "<>" else dtype


def output_dtype(input_dtype: np.dtype, requested: np.dtype | type | str | None = None) -> np.dtype:
    """The dtype ``enhance`` returns.

    ``None`` asks for floats: float64 stays float64, every other input gives
    float32 (a 48 MP photo must not cost 1 GB per float64 copy). Integer
    outputs (uint8, uint16) are scaled to their full range. Any byte order
    may be asked for.

    Examples
    --------
    >>> output_dtype(np.dtype(np.uint8)), output_dtype(np.dtype(np.float64))
    (dtype('float32'), dtype('float64'))
    >>> output_dtype(np.dtype(np.float32), np.uint16), output_dtype(np.dtype(np.uint8), ">u2")
    (dtype('uint16'), dtype('>u2'))
    """
    if requested is None:
        return np.dtype(np.float64) if _native(np.dtype(input_dtype)) == np.float64 else np.dtype(np.float32)
    try:
        dtype = np.dtype(requested)
    except TypeError:
        dtype = None
    if dtype is None or _native(dtype) not in [np.dtype(d) for d in _OUTPUT_DTYPES]:
        shown = dtype if dtype is not None else repr(requested)
        raise TypeError(f"dtype={shown} is not supported; use None (float), np.uint8, np.uint16, np.float32 or np.float64")
    return dtype


def _check_channel_axis(channel_axis) -> None:
    if channel_axis is not None and (isinstance(channel_axis, bool) or not isinstance(channel_axis, numbers.Integral)):
        raise ValueError(f"channel_axis={channel_axis!r} is invalid; use an integer axis (e.g. -1) or None for grayscale")


def _check_image(image, channel_axis: int | None) -> np.ndarray:
    """Validate ``image``; return it as a native-byte-order ``(H, W)`` or ``(H, W, C)`` view (or copy)."""
    if not isinstance(image, np.ndarray):
        image = np.asarray(image)
    if _native(image.dtype) not in [np.dtype(d) for d in _INPUT_DTYPES]:
        raise TypeError(
            f"image has dtype {image.dtype}; enhance accepts uint8, uint16, float16, float32 or float64 "
            "(convert first, e.g. with skimage.util.img_as_float)"
        )
    _check_channel_axis(channel_axis)
    if channel_axis is None:
        if image.ndim != 2:
            raise ValueError(f"image has shape {image.shape}; with channel_axis=None it must be 2-D (grayscale)")
    elif image.ndim == 3:
        if not -3 <= channel_axis <= 2:
            raise ValueError(f"channel_axis={channel_axis} is out of range for a 3-D image")
        image = np.moveaxis(image, channel_axis, -1)
        if image.shape[-1] not in (3, 4):
            raise ValueError(
                f"image has {image.shape[-1]} channels on channel_axis={channel_axis}; "
                "enhance needs 3 (RGB) or 4 (RGBA), or a 2-D grayscale image"
            )
    elif image.ndim != 2:
        raise ValueError(f"image has shape {image.shape}; enhance needs (H, W) grayscale or (H, W, 3|4) colour")
    if image.size == 0:
        raise ValueError(f"image has shape {image.shape}; it must not be empty")
    if image.dtype != _native(image.dtype):
        image = image.astype(_native(image.dtype))
    if image.dtype.kind == "f":
        lo, hi = float(np.min(image)), float(np.max(image))
        if not (np.isfinite(lo) and np.isfinite(hi)):
            raise ValueError("image contains NaN or infinite values; replace them first (e.g. np.nan_to_num)")
        if lo < 0 or hi > 1:
            raise ValueError(
                f"float image values must lie in [0, 1], found {lo:.9g}..{hi:.9g}; "
                "rescale first, e.g. with skimage.exposure.rescale_intensity(image, out_range=(0, 1))"
            )
    return image


def _check_estimate_size(size) -> int:
    if isinstance(size, bool) or not isinstance(size, numbers.Integral) or not 1 <= size <= MAX_ESTIMATE_SIDE:
        raise ValueError(
            f"estimate_size={size!r} is invalid; use an integer from 1 to {MAX_ESTIMATE_SIDE} "
            f"(default {ESTIMATE_SIDE}, the size the bundled network is trained at)"
        )
    return int(size)


def _check_model(model, engine: str):
    """The model to run: a :class:`Network`, or for the ONNX engine also an exported graph."""
    if isinstance(model, (str, os.PathLike)) and os.fspath(model).lower().endswith(".onnx"):
        model = load_onnx(model)
    if model is None:
        return default_model()
    if isinstance(model, Network):
        return model
    if isinstance(model, OnnxModel):
        if engine != "onnx":
            raise ValueError(f"model={model.path} is an ONNX graph; run it with engine='onnx'")
        return model
    if isinstance(model, (str, os.PathLike)):
        return load_model(model)
    raise TypeError(
        f"model={model!r} is not supported; use None (the bundled model), a path to a .npz, .pt or "
        "(with engine='onnx') .onnx file, or zdce_core.load_model(path)"
    )


def _convert(channel: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """Rescale an alpha or grey channel between the integer and float conventions."""
    if channel.dtype == dtype:
        return channel
    value = channel.astype(np.float32) / FULL_SCALE.get(channel.dtype, 1)
    if dtype in FULL_SCALE:
        return np.rint(value * FULL_SCALE[dtype]).astype(dtype)
    return value.astype(dtype)


def _check_options(steps, strength, denoise, estimate_size, model, threads, engine):
    """Check every engine option but the output dtype (which depends on the image) once; return them and the model."""
    options = {
        "steps": check_steps(steps),
        "strength": check_strength(strength),
        "denoise": check_denoise(denoise),
        "size": _check_estimate_size(estimate_size),
        "threads": check_threads(threads),
        "engine": check_engine(engine),
    }
    return options, _check_model(model, options["engine"])


def _colour(image: np.ndarray) -> np.ndarray:
    """The C-contiguous ``(H, W, 3)`` RGB the engine works on: grey repeated, alpha left out, float16 widened."""
    colour = image[..., :3] if image.ndim == 3 else np.repeat(image[..., None], 3, axis=-1)
    if colour.dtype == np.float16:
        colour = colour.astype(np.float32)
    return np.ascontiguousarray(colour)


def _prepare(image, steps, strength, denoise, channel_axis, dtype, estimate_size, model, threads, engine):
    """Check every argument once; return what the engine needs."""
    image = _check_image(image, channel_axis)
    options, net = _check_options(steps, strength, denoise, estimate_size, model, threads, engine)
    return image, _colour(image), net, {**options, "dtype": output_dtype(image.dtype, dtype)}


def _finish(image: np.ndarray, rgb_out: np.ndarray, channel_axis: int | None, dtype: np.dtype) -> np.ndarray:
    """Restore the input's layout: grey stays grey, alpha is carried over, channel axis put back."""
    if image.ndim == 2:
        grey = rgb_out.mean(axis=-1, dtype=np.float32)
        # The mean is already in rgb_out's units: integers are rounded, not rescaled again.
        result = np.rint(grey).astype(rgb_out.dtype) if rgb_out.dtype in FULL_SCALE else grey.astype(rgb_out.dtype)
    else:
        if image.shape[-1] == 4:
            rgb_out = np.concatenate([rgb_out, _convert(image[..., 3:], rgb_out.dtype)], axis=-1)
        result = np.moveaxis(rgb_out, -1, channel_axis)
    return result if result.dtype == dtype else result.astype(dtype)


def _finite(maps: np.ndarray) -> np.ndarray:
    # The curves of finite maps keep every pixel finite: the maps are the one place NaN can enter.
    if not np.isfinite(maps).all():
        raise ValueError("the model's curve maps for this image are not finite; its weights are broken (retrain or re-export it)")
    return maps


class Estimate(NamedTuple):
    """What the NumPy engine estimates for one image: the small copy the network saw, the stops it is under-exposed, the curve maps and their scale."""

    small: np.ndarray
    stops: float
    maps: np.ndarray
    scale: float


def _estimate(colour, net, options) -> Estimate:
    """The network's curve maps for ``colour``; with ``strength='auto'`` scaled by the exposure guard."""
    planes, stops = network_input(colour, size=options["size"])
    with np.errstate(over="ignore", invalid="ignore"):  # reported below, as an error
        maps = _finite(net(planes))
    small = planes[..., :3]
    if options["strength"] == "auto":
        return Estimate(small, stops, maps * np.float32(darkness(stops)), 1.0)
    return Estimate(small, stops, maps, options["strength"])


def _run_onnx(colour, net, steps, options):
    result, maps, applied = run_graph(
        colour, net, steps=steps, strength=options["strength"], size=options["size"], threads=options["threads"]
    )
    return finish(
        colour, result, _finite(maps), applied, steps=steps, denoise=options["denoise"],
        dtype=_native(options["dtype"]), threads=options["threads"],
    )


def _render(colour, maps, steps, scale, options):
    band_filter = noise_filter(colour, maps, steps=steps, strength=scale) if options["denoise"] else None
    return render(
        colour, maps, steps=steps, strength=scale, dtype=_native(options["dtype"]),
        band_filter=band_filter, threads=options["threads"],
    )


def enhance(
    image,
    steps: int = DEFAULT_STEPS,
    *,
    strength: float | str = DEFAULT_STRENGTH,
    denoise: bool = DEFAULT_DENOISE,
    channel_axis: int | None = -1,
    dtype=None,
    estimate_size: int = ESTIMATE_SIDE,
    model: Network | str | os.PathLike | None = None,
    threads: int | None = None,
    engine: str = DEFAULT_ENGINE,
) -> np.ndarray:
    """Brighten a low-light photo with Zero-DCE curves.

    Parameters
    ----------
    image : ndarray
        ``(H, W)`` grayscale, or ``(H, W, 3)`` RGB / ``(H, W, 4)`` RGBA with
        channels on ``channel_axis``. uint8, uint16, or float16/32/64 in [0, 1].
        Alpha is passed through untouched.
    steps : int, optional
        Curve iterations to apply, 1 (gentlest) to 8 (full, the default).
    strength : float or 'auto', optional
        Scale of the curves, 0 (unchanged) to 1 (as trained); brightness
        grows with it. ``'auto'`` (default) applies the network's own
        per-pixel, per-channel curves, scaled by how under-exposed the photo
        is: in full to under-exposed photos, not at all to well-exposed ones (see
        :mod:`zdce_core.maths.exposure`).
    denoise : bool, optional
        Suppress the sensor noise the curves amplify, in proportion to the
        gain applied in each region (default). Well-lit regions, where the
        gain is about 1, are left as they are. ``False`` returns the plain
        curve result.
    channel_axis : int or None, optional
        Axis of the colour channels; ``None`` for a 2-D grayscale image.
    dtype : dtype or None, optional
        Output dtype. ``None`` gives floats in [0, 1]: float64 for float64
        input, float32 otherwise. ``np.uint8`` / ``np.uint16`` give integers
        at full range without a float copy of the whole photo.
    estimate_size : int, optional
        Longer side, at most, of the box-reduced copy the network sees
        (1 to 1024; by default the size the bundled network is trained
        at, see :mod:`zdce_core.maths.estimator`). Its maps are upsampled
        and applied at full resolution. Other sizes give the network a
        scale it was not trained at.
    model : Network, str or path, optional
        Weights to use: from :func:`zdce_core.load_model` (load once for many
        photos), or the path of a ``.npz`` (``zdce export``) or ``.pt``
        (``zdce train``, needs torch) file, loaded on each call; the bundled
        checkpoint by default (loaded once per process). With
        ``engine="onnx"`` also a whole-enhancer ``.onnx`` file from
        ``zdce export`` (its estimator size is built in).
    threads : int, optional
        CPU threads for the full-resolution passes (1 to 64, or more where
        there are more cores); all cores by default. Each call has its own
        threads: no process-wide setting changes.
    engine : {'numpy', 'onnx'}, optional
        ``'numpy'`` (default), or ``'onnx'``: the exported graph in ONNX
        Runtime (``pip install 'zdce[onnx]'``; see :mod:`zdce_core.runtime`),
        same result within rounding; denoising and the output dtype
        conversion stay NumPy steps after the graph.

    Returns
    -------
    ndarray
        Enhanced image with the input's shape (height and width unchanged).

    Raises
    ------
    TypeError
        For an unsupported image or output dtype (bool, complex, object,
        other integers) or ``model``.
    ValueError
        For a wrong shape, channel count or ``channel_axis``, an empty image,
        NaN/inf, floats outside [0, 1], or ``steps``, ``strength``,
        ``denoise``, ``estimate_size`` or ``threads`` out of range; for a
        ``model`` file that cannot be loaded, or a model whose output for
        this image is not finite (never a NaN in the result).

    Examples
    --------
    >>> import numpy as np
    >>> from zdce_core import enhance
    >>> dark = np.full((32, 48, 3), 20, dtype=np.uint8)
    >>> out = enhance(dark, steps=8)
    >>> out.shape, out.dtype, bool(out.mean() > dark.mean() / 255)
    ((32, 48, 3), dtype('float32'), True)
    >>> gentle = enhance(dark, steps=4)
    >>> bool(gentle.mean() < out.mean())
    True
    """
    image, colour, net, options = _prepare(
        image, steps, strength, denoise, channel_axis, dtype, estimate_size, model, threads, engine
    )
    if options["engine"] == "onnx":
        return _finish(image, _run_onnx(colour, net, options["steps"], options), channel_axis, options["dtype"])
    estimate = _estimate(colour, net, options)
    rendered = _render(colour, estimate.maps, options["steps"], estimate.scale, options)
    return _finish(image, rendered, channel_axis, options["dtype"])


def enhance_steps(
    image,
    *,
    strength: float | str = DEFAULT_STRENGTH,
    denoise: bool = DEFAULT_DENOISE,
    channel_axis: int | None = -1,
    dtype=None,
    estimate_size: int = ESTIMATE_SIDE,
    model: Network | str | os.PathLike | None = None,
    threads: int | None = None,
    engine: str = DEFAULT_ENGINE,
) -> list[np.ndarray]:
    """Every intermediate result, steps 1 to 8, from one network pass (for previews).

    Takes the same options as :func:`enhance` (``denoise`` included); element ``k`` equals
    ``enhance(image, steps=k + 1, ...)``. With ``engine="onnx"`` the graph runs once per step.

    Examples
    --------
    >>> import numpy as np
    >>> previews = enhance_steps(np.full((16, 16), 0.1))
    >>> len(previews), previews[0].dtype
    (8, dtype('float64'))
    >>> bool(previews[0].mean() < previews[-1].mean())
    True
    """
    image, colour, net, options = _prepare(
        image, 1, strength, denoise, channel_axis, dtype, estimate_size, model, threads, engine
    )
    if options["engine"] == "onnx":
        return [
            _finish(image, _run_onnx(colour, net, k, options), channel_axis, options["dtype"])
            for k in range(1, MAX_STEPS + 1)
        ]
    estimate = _estimate(colour, net, options)
    return [
        _finish(image, _render(colour, estimate.maps, k, estimate.scale, options), channel_axis, options["dtype"])
        for k in range(1, MAX_STEPS + 1)
    ]
