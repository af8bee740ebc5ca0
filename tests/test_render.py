"""The NumPy inference path against torch: network, estimator, render, denoise, dtypes."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from conftest import require_host
from zdce_core.maths import render as render_module
from zdce_core.maths.denoise import noise_filter
from zdce_core.maths.estimate import estimate_curve_maps
from zdce_core.maths.network import SHAPES, Network
from zdce_core.maths.render import apply_curves_numpy, render
from zdce_core.maths.resample import box_reduce
from zdce_core.training.curves import apply_curves
from zdce_core.training.estimator import estimate_maps
from zdce_core.training.model import DCENet
from zdce_core.weights import load_model

FULL_SCALE = {np.uint8: 255, np.uint16: 65535, np.float32: 1, np.float64: 1}


@pytest.fixture(scope="module")
def model() -> DCENet:
    torch.manual_seed(0)
    return DCENet().eval()


@pytest.fixture(scope="module")
def net(model) -> Network:
    return Network.from_state({k: v.numpy() for k, v in model.state_dict().items()})


def photo(height: int, width: int, dtype: type, seed: int = 0) -> np.ndarray:
    """A random image of ``dtype`` at full range."""
    unit = np.random.default_rng(seed).random((height, width, 3))
    scale = FULL_SCALE[dtype]
    return (unit * scale).round().astype(dtype) if scale > 1 else unit.astype(dtype)


def random_maps(shape, seed: int) -> np.ndarray:
    return (np.random.default_rng(seed).random((24, *shape), dtype=np.float32) * 2 - 1).astype(np.float32)


def reference(rgb: np.ndarray, maps: np.ndarray, steps: int, strength: float) -> np.ndarray:
    """Upsample with torch, apply zdce_core.training.curves: the float64 ground truth in [0, 1]."""
    x = torch.from_numpy(rgb.astype(np.float64) / FULL_SCALE[rgb.dtype.type]).permute(2, 0, 1)[None]
    alphas = F.interpolate(torch.from_numpy(maps)[None].double(), size=rgb.shape[:2], mode="bilinear", align_corners=False)
    return apply_curves(x, alphas, steps, strength)[-1][0].permute(1, 2, 0).numpy()


def test_network_equals_torch_dcenet(model, net):
    assert {k: tuple(v.shape) for k, v in model.state_dict().items()} == SHAPES  # one architecture, two runtimes
    x = np.random.default_rng(1).random((37, 53, 4), dtype=np.float32)
    with torch.inference_mode():
        want = model(torch.from_numpy(x).permute(2, 0, 1)[None])[0].numpy()
    got = net(x)
    assert got.shape == want.shape == (24, 37, 53) and got.dtype == np.float32
    assert np.abs(got - want).max() < 1e-5


def test_estimator_equals_the_torch_path(model, net):
    """Box reduction and key plane, the network on the small copy: as training runs it in torch."""
    rgb = photo(301, 203, np.uint8, seed=2)
    x = torch.from_numpy(rgb.astype(np.float32) / 255).permute(2, 0, 1)[None]
    with torch.inference_mode():
        want = estimate_maps(model, x)[0][0].numpy()
    got = estimate_curve_maps(net, rgb, size=64)
    assert got.shape == want.shape == (24, 61, 41)
    assert np.abs(got - want).max() < 1e-5


@pytest.mark.parametrize("in_dtype", [np.uint8, np.uint16, np.float32, np.float64])
@pytest.mark.parametrize("out_dtype", [np.uint8, np.uint16, np.float32, np.float64])
def test_render_matches_reference(in_dtype, out_dtype):
    rgb = photo(37, 53, in_dtype)
    maps = random_maps((6, 9), seed=1)
    got = render(rgb, maps, steps=6, strength=0.8, dtype=np.dtype(out_dtype))
    assert got.dtype == out_dtype and got.shape == rgb.shape
    want = reference(rgb, maps, 6, 0.8)
    if FULL_SCALE[out_dtype] == 1:
        np.testing.assert_allclose(got, want, atol=2e-6)
    else:
        # Rounded to nearest: at most half a level off the exact value.
        scale = FULL_SCALE[out_dtype]
        assert np.abs(got / scale - want).max() <= 0.5 / scale + 2e-6


@pytest.mark.parametrize(
    "shape, map_shape",
    [((1, 1), (1, 1)), ((1, 7), (1, 3)), ((9, 1), (4, 1)), ((5, 4), (5, 4)), ((3, 5), (8, 11))],
)
def test_render_edge_sizes(shape, map_shape):
    rgb = photo(*shape, np.float32)
    maps = random_maps(map_shape, seed=2)
    got = render(rgb, maps, steps=8, strength=1.0, dtype=np.float32)
    np.testing.assert_allclose(got, reference(rgb, maps, 8, 1.0), atol=2e-6)


def test_float_results_are_clipped_exactly():
    # Maps past the curve's [-1, 1] range push values outside [0, 1] before the clip.
    rgb = photo(20, 30, np.float32, seed=3)
    maps = random_maps((3, 4), seed=3) * 3
    for dtype in (np.float32, np.float64):
        got = render(rgb, maps, steps=8, strength=1.0, dtype=dtype)
        assert got.min() == 0.0 and got.max() == 1.0


def test_bands_and_threads_do_not_change_the_result():
    rgb = photo(61, 45, np.uint16)
    maps = random_maps((7, 5), seed=3)
    denoise = noise_filter(rgb, np.abs(maps) * 0.6, steps=8, strength=1.0)
    assert denoise is not None
    for band_filter in (None, denoise):
        whole = render(rgb, maps, steps=8, strength=1.0, dtype=np.float32, band_filter=band_filter, band_rows=1000)
        for rows, threads in ((1, 1), (2, 3), (7, 2), (16, 8)):
            got = render(rgb, maps, steps=8, strength=1.0, dtype=np.float32, band_filter=band_filter,
                         band_rows=rows, threads=threads)
            np.testing.assert_array_equal(got, whole)


def test_denoised_picture_is_the_same_whatever_the_output_dtype():
    """Issue 13: the filter runs before quantisation, so 8-bit, 16-bit and float agree to rounding."""
    rng = np.random.default_rng(4)
    dark = np.clip(0.06 + rng.normal(0, 0.012, (64, 80, 3)), 0, 1)
    rgb = np.rint(dark * 65535).astype(np.uint16)
    maps = np.full((24, 4, 5), 0.4, np.float32)
    denoise = noise_filter(rgb, maps, steps=8, strength=1.0)
    floats = render(rgb, maps, steps=8, strength=1.0, dtype=np.float32, band_filter=denoise)
    plain = render(rgb, maps, steps=8, strength=1.0, dtype=np.float32)
    assert floats.std() < 0.7 * plain.std()  # the filter did something
    for dtype in (np.uint8, np.uint16):
        scale = FULL_SCALE[dtype]
        got = render(rgb, maps, steps=8, strength=1.0, dtype=dtype, band_filter=denoise)
        assert np.abs(got / scale - floats).max() <= 0.5 / scale + 1e-6


def compiled_kernel():
    """The C kernel; skipped where the package was installed without a compiler, except under CI."""
    require_host(render_module._apply_compiled is not None, "the compiled render kernel (zdce_core.maths._curves)",
                 "pip install with a C compiler (gcc) and the Python headers")
    return render_module._apply_compiled


@pytest.mark.parametrize("rows, length, steps", [(1, 1, 1), (3, 7, 8), (16, 3 * 641, 8), (5, 96, 3)])
def test_compiled_kernel_equals_the_numpy_reference(rows, length, steps):
    """Same float32 operations in the same order: equal to the last bit, past [0, 1] too (maps beyond the
    curve's range) and on lengths that are not a multiple of the vector width."""
    kernel = compiled_kernel()
    rng = np.random.default_rng(rows * length)
    x = rng.random((rows, length), dtype=np.float32) * 1.2 - 0.1
    w = rng.random(rows, dtype=np.float32)
    upper = rng.random((steps, length), dtype=np.float32) * 4 - 2
    slope = rng.random((steps, length), dtype=np.float32) - 0.5
    want = x.copy()
    apply_curves_numpy(want, w, upper, slope)
    kernel(x, w, upper, slope)
    np.testing.assert_array_equal(x, want)


def test_compiled_kernel_refuses_what_it_cannot_read():
    kernel = compiled_kernel()
    x, w, maps = np.zeros((2, 6), np.float32), np.zeros(2, np.float32), np.zeros((8, 6), np.float32)
    with pytest.raises(TypeError, match="x must be a C-contiguous 2-D float32"):
        kernel(x.astype(np.float64), w, maps, maps)
    with pytest.raises(TypeError, match="slope must be"):
        kernel(x, w, maps, maps.astype(np.float16))
    with pytest.raises(ValueError, match="not C-contiguous"):
        kernel(x, w, maps[:, ::2], maps)
    with pytest.raises(ValueError, match="w must have x's rows"):
        kernel(x, w[:1], maps, maps)
    with pytest.raises(ValueError, match="not writable|read-only"):
        x.flags.writeable = False
        kernel(x, w, maps, maps)


def test_render_without_the_compiled_kernel_is_the_same_picture(monkeypatch):
    """What an install without a C compiler renders: the NumPy reference, through the whole render."""
    rgb = photo(61, 45, np.uint16)
    maps = random_maps((7, 5), seed=6)
    denoise = noise_filter(rgb, np.abs(maps) * 0.6, steps=8, strength=1.0)
    with_kernel = render(rgb, maps, steps=8, strength=0.9, dtype=np.uint16, band_filter=denoise, threads=2)
    monkeypatch.setattr(render_module, "apply_curves", apply_curves_numpy)
    reference = render(rgb, maps, steps=8, strength=0.9, dtype=np.uint16, band_filter=denoise, threads=2)
    np.testing.assert_array_equal(with_kernel, reference)


def test_render_in_place_and_zero_strength():
    rgb = photo(20, 30, np.uint8)
    maps = random_maps((3, 4), seed=4)
    copy = rgb.copy()
    assert render(rgb, maps, steps=8, strength=0.0, dtype=np.uint8, out=rgb) is rgb
    np.testing.assert_array_equal(rgb, copy)
    want = render(copy, maps, steps=3, strength=1.0, dtype=np.uint8)
    render(copy, maps, steps=3, strength=1.0, dtype=np.uint8, out=copy)
    np.testing.assert_array_equal(copy, want)


def test_render_rejects_a_wrong_output_buffer():
    rgb = photo(4, 4, np.uint8)
    with pytest.raises(ValueError, match="out must be"):
        render(rgb, np.zeros((24, 1, 1), np.float32), steps=8, strength=1.0, dtype=np.uint8,
               out=np.empty((4, 4, 3), np.uint16))


def test_box_reduce_averages_blocks_cut_by_the_edges():
    rgb = photo(23, 17, np.uint16)
    got = box_reduce(rgb, 5)
    x = torch.from_numpy(rgb.astype(np.float64) / 65535).permute(2, 0, 1)[None]
    want = F.avg_pool2d(x, 5, ceil_mode=True)
    assert got.shape == (5, 4, 3)
    np.testing.assert_allclose(got, want[0].permute(1, 2, 0).numpy(), atol=1e-6)


def test_enhance_equals_the_torch_path_for_the_same_checkpoint(tmp_path, model):
    """A .pt checkpoint through torch end to end, against enhance() with its NumPy engine."""
    from zdce_core import enhance

    torch.save(model.state_dict(), tmp_path / "mine.pt")
    rgb = photo(240, 360, np.uint8, seed=5) // 4  # a dark photo
    got = enhance(rgb, strength=1.0, denoise=False, dtype=np.uint8, model=load_model(tmp_path / "mine.pt"),
                  estimate_size=64)
    x = torch.from_numpy(rgb.astype(np.float32) / 255).permute(2, 0, 1)[None]
    with torch.inference_mode():
        _, alphas, _ = estimate_maps(model, x)
        want = apply_curves(x, alphas, 8)[-1].clamp(0, 1)[0].permute(1, 2, 0).numpy()
    assert np.abs(got / 255 - want).max() <= 1 / 255
