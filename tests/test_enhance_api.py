"""The public API contract of ``zdce_core.enhance``: dtypes, shapes, alpha, validation."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from zdce_core import enhance, enhance_steps, output_dtype
from zdce_core.weights import default_model


@pytest.mark.parametrize(
    ("dtype", "expected"),
    [
        (np.uint8, np.float32),
        (np.uint16, np.float32),
        (np.float16, np.float32),
        (np.float32, np.float32),
        (np.float64, np.float64),
    ],
)
def test_output_float_rule(dark_rgb, dtype, expected):
    image = dark_rgb.astype(np.float64) / 255
    if np.dtype(dtype).kind == "u":
        image = np.rint(image * np.iinfo(dtype).max).astype(dtype)
    else:
        image = image.astype(dtype)
    out = enhance(image)
    assert out.dtype == expected
    assert out.shape == image.shape
    assert 0.0 <= out.min() and out.max() <= 1.0
    assert out.mean() > image.astype(np.float64).mean() / (np.iinfo(dtype).max if image.dtype.kind == "u" else 1)


def test_integer_inputs_agree(dark_rgb):
    as16 = dark_rgb.astype(np.uint16) * 257  # the same picture at 16 bits
    np.testing.assert_allclose(enhance(dark_rgb), enhance(as16), atol=1e-4)


@pytest.mark.parametrize("shape", [(1, 1), (1, 7), (7, 1), (33, 17), (301, 5)])
def test_keeps_any_height_and_width(shape):
    image = np.full(shape + (3,), 30, np.uint8)
    assert enhance(image).shape == shape + (3,)


def test_grayscale_stays_2d(dark_rgb):
    grey = dark_rgb[..., 1]
    out = enhance(grey, channel_axis=None)
    assert out.shape == grey.shape and out.dtype == np.float32
    assert out.mean() > grey.mean() / 255
    np.testing.assert_array_equal(enhance(grey), out)  # a 2-D array needs no channel_axis


def test_alpha_passed_through(dark_rgb):
    alpha = np.linspace(0, 255, dark_rgb.shape[0] * dark_rgb.shape[1]).reshape(dark_rgb.shape[:2]).astype(np.uint8)
    rgba = np.dstack([dark_rgb, alpha])
    out = enhance(rgba)
    assert out.shape == rgba.shape
    np.testing.assert_array_equal(out[..., 3], alpha.astype(np.float32) / 255)
    np.testing.assert_allclose(out[..., :3], enhance(dark_rgb), atol=1e-6)
    np.testing.assert_array_equal(enhance(rgba, dtype=np.uint8)[..., 3], alpha)


def test_channel_axis_first(dark_rgb):
    planar = np.moveaxis(dark_rgb, -1, 0)
    out = enhance(planar, channel_axis=0)
    assert out.shape == planar.shape
    np.testing.assert_array_equal(np.moveaxis(out, 0, -1), enhance(dark_rgb))


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_integer_output(dark_rgb, dtype):
    # Exact rounding of the curve result; denoising filters the integer result itself
    # (no full-size float copy), which test_quality.py bounds by 1 level.
    out = enhance(dark_rgb, dtype=dtype, denoise=False)
    assert out.dtype == dtype
    floats = enhance(dark_rgb, denoise=False)
    full = np.iinfo(dtype).max
    assert np.abs(out.astype(np.float64) / full - floats).max() <= 0.5 / full + 1e-6


def test_steps_monotone_and_gentler(dark_rgb):
    means = [enhance(dark_rgb, steps=k).mean() for k in range(1, 9)]
    assert all(a < b for a, b in zip(means, means[1:])), means


def test_all_steps_from_one_pass(dark_rgb):
    previews = enhance_steps(dark_rgb)
    assert len(previews) == 8
    for k, preview in enumerate(previews, start=1):
        np.testing.assert_array_equal(preview, enhance(dark_rgb, steps=k))


def test_strength_zero_is_identity_and_strength_monotone(dark_rgb):
    np.testing.assert_allclose(enhance(dark_rgb, strength=0.0, denoise=False), dark_rgb / 255, atol=1e-6)
    means = [enhance(dark_rgb, strength=s).mean() for s in (0.0, 0.25, 0.5, 0.75, 1.0)]
    assert all(a < b for a, b in zip(means, means[1:])), means


def test_model_loaded_once_across_threads():
    models = []
    threads = [threading.Thread(target=lambda: models.append(default_model())) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(m is models[0] for m in models)


def test_output_dtype_rejects_unsupported():
    with pytest.raises(TypeError, match="dtype=int32"):
        output_dtype(np.dtype(np.uint8), np.int32)


@pytest.mark.parametrize(
    ("image", "error", "words"),
    [
        (np.zeros((4, 4, 3), bool), TypeError, "dtype bool"),
        (np.zeros((4, 4, 3), complex), TypeError, "dtype complex128"),
        (np.zeros((4, 4, 3), object), TypeError, "dtype object"),
        (np.zeros((4, 4, 3), np.int32), TypeError, "dtype int32"),
        (np.zeros((4, 4, 4, 3), np.uint8), ValueError, "shape"),
        (np.zeros(5, np.uint8), ValueError, "shape"),
        (np.zeros((4, 4, 2), np.uint8), ValueError, "2 channels"),
        (np.zeros((4, 4, 5), np.uint8), ValueError, "5 channels"),
        (np.zeros((0, 4, 3), np.uint8), ValueError, "empty"),
        (np.full((4, 4, 3), np.nan, np.float32), ValueError, "NaN"),
        (np.full((4, 4, 3), np.inf, np.float64), ValueError, "infinite"),
        (np.full((4, 4, 3), 1.5, np.float32), ValueError, r"\[0, 1\]"),
        (np.full((4, 4, 3), -0.1, np.float64), ValueError, "rescale"),
    ],
)
def test_rejects_bad_images(image, error, words):
    with pytest.raises(error, match=words):
        enhance(image)


@pytest.mark.parametrize("steps", [0, 9, -1, 2.5, True, "8", None])
def test_rejects_bad_steps(dark_rgb, steps):
    with pytest.raises(ValueError, match=r"steps=.*integer from 1"):
        enhance(dark_rgb, steps=steps)


@pytest.mark.parametrize("strength", [-0.1, 1.5, "full", None, True, float("nan")])
def test_rejects_bad_strength(dark_rgb, strength):
    with pytest.raises(ValueError, match=r"strength=.*'auto' or a number"):
        enhance(dark_rgb, strength=strength)


def test_rejects_bad_channel_axis(dark_rgb):
    with pytest.raises(ValueError, match="channel_axis=None"):
        enhance(dark_rgb, channel_axis=None)
    with pytest.raises(ValueError, match="channel_axis=5"):
        enhance(dark_rgb, channel_axis=5)


def test_input_not_modified(dark_rgb):
    before = dark_rgb.copy()
    enhance(dark_rgb)
    np.testing.assert_array_equal(dark_rgb, before)
