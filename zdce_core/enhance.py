"""The public API: ``enhance(image, steps=8, ...)`` on NumPy arrays.

Validation happens once, here, at the NumPy boundary; everything below works
on checked, C-contiguous ``(H, W, 3)`` arrays.
"""

from __future__ import annotations

import numpy as np

from .maths.denoise import suppress_noise
from .maths.estimate import DEFAULT_SIZE, estimate_curve_maps
from .maths.exposure import auto_maps
from .params import MAX_STEPS, check_denoise, check_steps, check_strength
from .training.model import DCENet
from .maths.render import render
from .maths.resample import FULL_SCALE
from .threads import limit_threads
from .weights import default_model

_INPUT_DTYPES = (np.uint8, np.uint16, np.float16, np.float32, np.float64)
_OUTPUT_DTYPES = (np.uint8, np.uint16, np.float32, np.float64)


def output_dtype(input_dtype: np.dtype, requested: np.dtype | type | None = None) -> np.dtype:
    """The dtype ``enhance`` returns.

    ``None`` asks for floats: float64 stays float64, every other input gives
    float32 (a 48 MP photo must not cost 1 GB per float64 copy). Integer
    outputs (uint8, uint16) are scaled to their full range.

    Examples
    --------
    >>> output_dtype(np.dtype(np.uint8)), output_dtype(np.dtype(np.float64))
    (dtype('float32'), dtype('float64'))
    >>> output_dtype(np.dtype(np.float32), np.uint16)
    dtype('uint16')
    """
    if requested is None:
        return np.dtype(np.float64) if input_dtype == np.float64 else np.dtype(np.float32)
    requested = np.dtype(requested)
    if requested not in [np.dtype(d) for d in _OUTPUT_DTYPES]:
        raise TypeError(f"dtype={requested} is not supported; use None (float), np.uint8, np.uint16, np.float32 or np.float64")
    return requested


def _check_image(image, channel_axis: int | None) -> np.ndarray:
    """Validate ``image``; return it as an ``(H, W)`` or ``(H, W, C)`` view."""
    if not isinstance(image, np.ndarray):
        image = np.asarray(image)
    if image.dtype not in [np.dtype(d) for d in _INPUT_DTYPES]:
        raise TypeError(
            f"image has dtype {image.dtype}; enhance accepts uint8, uint16, float16, float32 or float64 "
            "(convert first, e.g. with skimage.util.img_as_float)"
        )
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
    if image.dtype.kind == "f":
        lo, hi = float(np.min(image)), float(np.max(image))
        if not (np.isfinite(lo) and np.isfinite(hi)):
            raise ValueError("image contains NaN or infinite values; replace them first (e.g. np.nan_to_num)")
        if lo < 0 or hi > 1:
            raise ValueError(
                f"float image values must lie in [0, 1], found {lo:.4g}..{hi:.4g}; "
                "rescale first, e.g. with skimage.exposure.rescale_intensity(image, out_range=(0, 1))"
            )
    return image


def _convert(channel: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """Rescale an alpha or grey channel between the integer and float conventions."""
    if channel.dtype == dtype:
        return channel
    value = channel.astype(np.float32) / FULL_SCALE.get(channel.dtype, 1)
    if dtype in FULL_SCALE:
        return np.rint(value * FULL_SCALE[dtype]).astype(dtype)
    return value.astype(dtype)


def _prepare(image, steps, strength, denoise, channel_axis, dtype):
    image = _check_image(image, channel_axis)
    check_denoise(denoise)
    steps, strength = check_steps(steps), check_strength(strength)
    out_dtype = output_dtype(image.dtype, dtype)
    colour = image[..., :3] if image.ndim == 3 else np.repeat(image[..., None], 3, axis=-1)
    if colour.dtype == np.float16:
        colour = colour.astype(np.float32)
    return image, steps, strength, out_dtype, np.ascontiguousarray(colour)


def _finish(image: np.ndarray, rgb_out: np.ndarray, channel_axis: int | None) -> np.ndarray:
    """Restore the input's layout: grey stays grey, alpha is carried over, channel axis put back."""
    if image.ndim == 2:
        grey = rgb_out.mean(axis=-1, dtype=np.float32)
        # The mean is already in rgb_out's units: integers are rounded, not rescaled again.
        return np.rint(grey).astype(rgb_out.dtype) if rgb_out.dtype in FULL_SCALE else grey.astype(rgb_out.dtype)
    if image.shape[-1] == 4:
        rgb_out = np.concatenate([rgb_out, _convert(image[..., 3:], rgb_out.dtype)], axis=-1)
    return np.moveaxis(rgb_out, -1, channel_axis)


def _curve_maps(colour, strength, estimate_size, model):
    maps = estimate_curve_maps(model or default_model(), colour, size=estimate_size)
    if strength == "auto":
        return auto_maps(colour, maps), 1.0
    return maps, strength


def enhance(
    image,
    steps: int = 8,
    *,
    strength: float | str = "auto",
    denoise: bool = True,
    channel_axis: int | None = -1,
    dtype=None,
    estimate_size: int | None = DEFAULT_SIZE,
    model: DCENet | None = None,
    threads: int | None = None,
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
        grows with it. ``'auto'`` (default) applies the network's curve as one
        grey curve, strongly to dark photos and not at all to well-exposed
        ones or to regions that are already bright (see
        :mod:`zdce_core.exposure`).
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
    estimate_size : int or None, optional
        Largest longer side of the curve maps (default 512). The maps are
        estimated from 8x8-pixel block averages and applied at full
        resolution; see :mod:`zdce_core.estimate`. ``None`` runs the real
        network over the full-resolution photo in tiles: minutes and about
        100 bytes per pixel for the maps, for those who want the network's
        exact answer.
    model : DCENet, optional
        Weights to use, e.g. from :func:`zdce_core.load_model`; the bundled
        checkpoint by default (loaded once per process).
    threads : int, optional
        CPU threads to use; all cores by default. The setting is
        process-wide (torch and numba have one thread count each), so
        callers running ``enhance`` from several threads should pass the
        same value everywhere, as ``zdce batch --workers`` does.

    Returns
    -------
    ndarray
        Enhanced image with the input's shape (height and width unchanged).

    Raises
    ------
    TypeError
        For an unsupported dtype (bool, complex, object, other integers).
    ValueError
        For a wrong shape or channel count, an empty image, NaN/inf, floats
        outside [0, 1], or ``steps``/``strength`` out of range.

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
    image, steps, strength, out_dtype, colour = _prepare(image, steps, strength, denoise, channel_axis, dtype)
    with limit_threads(threads):
        maps, scale = _curve_maps(colour, strength, estimate_size, model)
        rgb_out = render(colour, maps, steps=steps, strength=scale, dtype=out_dtype)
        if denoise:
            suppress_noise(colour, rgb_out, maps, steps=steps, strength=scale)
    return _finish(image, rgb_out, channel_axis)


def enhance_steps(
    image,
    *,
    strength: float | str = "auto",
    denoise: bool = True,
    channel_axis: int | None = -1,
    dtype=None,
    estimate_size: int | None = DEFAULT_SIZE,
    model: DCENet | None = None,
    threads: int | None = None,
) -> list[np.ndarray]:
    """Every intermediate result, steps 1 to 8, from one network pass (for previews).

    Takes the same options as :func:`enhance` (``denoise`` included); element ``k`` equals
    ``enhance(image, steps=k + 1, ...)``.

    Examples
    --------
    >>> import numpy as np
    >>> previews = enhance_steps(np.full((16, 16), 0.1))
    >>> len(previews), previews[0].dtype
    (8, dtype('float64'))
    >>> bool(previews[0].mean() < previews[-1].mean())
    True
    """
    image, _, strength, out_dtype, colour = _prepare(image, 1, strength, denoise, channel_axis, dtype)
    with limit_threads(threads):
        maps, scale = _curve_maps(colour, strength, estimate_size, model)
        results = []
        for k in range(1, MAX_STEPS + 1):
            rgb_out = render(colour, maps, steps=k, strength=scale, dtype=out_dtype)
            if denoise:
                suppress_noise(colour, rgb_out, maps, steps=k, strength=scale)
            results.append(_finish(image, rgb_out, channel_axis))
        return results
