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


@pytest.mark.parametrize(
    ("options", "error", "words"),
    [
        ({"estimate_size": "x"}, ValueError, "estimate_size='x' is invalid"),
        ({"estimate_size": float("nan")}, ValueError, "estimate_size=nan is invalid"),
        ({"estimate_size": 0}, ValueError, "estimate_size=0"),
        ({"estimate_size": 5000}, ValueError, "integer from 1 to 1024"),
        ({"estimate_size": None}, ValueError, "estimate_size=None"),
        ({"channel_axis": 1.5}, ValueError, "channel_axis=1.5 is invalid"),
        ({"channel_axis": True}, ValueError, "channel_axis=True is invalid"),
        ({"dtype": "foo"}, TypeError, "dtype='foo' is not supported"),
        ({"dtype": np.int8}, TypeError, "dtype=int8 is not supported"),
        ({"denoise": "no"}, ValueError, "denoise='no' is invalid; use True or False"),
        ({"threads": 0}, ValueError, "threads=0 is invalid"),
        ({"threads": 100000}, ValueError, "threads=100000 is invalid"),
        ({"threads": 1.5}, ValueError, "threads=1.5 is invalid"),
        ({"model": 42}, TypeError, "model=42 is not supported"),
        ({"model": "my.pt"}, ValueError, "my.pt: no such checkpoint file"),
    ],
)
def test_rejects_bad_options(dark_rgb, options, error, words):
    with pytest.raises(error, match=words):
        enhance(dark_rgb, **options)


def test_numpy_integers_and_paths_are_accepted(dark_rgb):
    from zdce_core.maths.estimator import ESTIMATE_SIDE
    from zdce_core.weights import bundled_path

    want = enhance(dark_rgb)
    got = enhance(dark_rgb, steps=np.int64(8), threads=np.int32(1), estimate_size=np.int16(ESTIMATE_SIDE),
                  model=str(bundled_path()))
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("dtype", [">u2", ">f4", ">f8", "<u2"])
def test_big_endian_images_are_converted(dark_rgb, dtype):
    native = np.dtype(dtype).newbyteorder("=")
    image = (dark_rgb.astype(native) * 257) if native.kind == "u" else (dark_rgb / 255).astype(native)
    want = enhance(image)
    got = enhance(image.astype(dtype))
    np.testing.assert_array_equal(got, want)
    as_big = enhance(image.astype(dtype), dtype=">u2")
    assert as_big.dtype == np.dtype(">u2")
    np.testing.assert_array_equal(as_big, enhance(image, dtype=np.uint16))


def test_dtypes_give_one_picture_with_denoise(dark_rgb):
    """8-bit, 16-bit and float results agree to rounding, denoise included (issue 13, darktable's 16-bit path)."""
    as16 = dark_rgb.astype(np.uint16) * 257
    floats = enhance(as16)
    for dtype in (np.uint8, np.uint16):
        full = np.iinfo(dtype).max
        assert np.abs(enhance(as16, dtype=dtype) / full - floats).max() <= 0.5 / full + 1e-6


def test_float_results_stay_in_the_unit_range(shared_photo):
    from PIL import Image

    rgb = np.asarray(Image.open(shared_photo).convert("RGB"))
    for strength in ("auto", 1.0):
        out = enhance(rgb, strength=strength)
        assert out.min() >= 0.0 and out.max() <= 1.0
        assert enhance(rgb.astype(np.float64) / 255, strength=strength).max() <= 1.0


def test_threads_do_not_change_the_result(dark_rgb):
    np.testing.assert_array_equal(enhance(dark_rgb, threads=3), enhance(dark_rgb, threads=1))


def test_inference_loads_no_torch_and_no_jit():
    """The engine is NumPy only: nothing to compile on first use, no process-wide thread count to change."""
    import subprocess
    import sys

    code = (
        "import sys, numpy as np, zdce_core\n"
        "zdce_core.enhance(np.full((40, 60, 3), 20, np.uint8), threads=1)\n"
        "print(sorted(m for m in ('torch', 'numba', 'llvmlite', 'scipy', 'skimage') if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_public_names_in_every_import_order():
    """Each public name stays the callable it names whichever is imported or touched first (PEP 562 loading)."""
    import itertools
    import subprocess
    import sys

    import zdce_core

    names = [name for name in zdce_core.__all__ if name != "__version__"]
    calls = {
        "enhance": "assert zdce_core.enhance(image).shape == image.shape",
        "enhance_steps": "assert len(zdce_core.enhance_steps(image)) == 8",
        "output_dtype": "assert zdce_core.output_dtype(image.dtype) == np.float32",
        "load_model": "assert zdce_core.enhance(image, model=zdce_core.load_model(bundled_path())).shape == image.shape",
        "VideoEnhancer": "assert zdce_core.VideoEnhancer()(image).shape == image.shape",
    }
    assert set(calls) == set(names), "a public name without a call in this test"
    orders = []
    for order in itertools.permutations(names):
        orders.append(
            f"from zdce_core import {', '.join(order)}\n"
            + "".join(f"assert callable({name}), {name!r}\n" for name in order)
        )
    for order in itertools.permutations(names, 2):  # attribute access first, as `zdce_core.name`
        orders.append("".join(f"assert callable(zdce_core.{name}), {name!r}\n" for name in order))
    code = "import numpy as np\nfrom zdce_core.weights import bundled_path\nimage = np.full((12, 16, 3), 20, np.uint8)\n" + "\n".join(
        "import importlib, zdce_core\n"
        "for mod in [m for m in sys.modules if m.startswith('zdce_core')]: del sys.modules[mod]\n"
        "import zdce_core\n" + body + "".join(c + "\n" for c in calls.values())
        for body in orders
    )
    done = subprocess.run([sys.executable, "-c", "import sys\n" + code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
