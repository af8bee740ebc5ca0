"""The fast full-resolution path against the pure-torch reference, and tiling invariance."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from zdce_core.training.curves import apply_curves
from zdce_core.maths.estimate import box_reduce, estimate_curve_maps, reduction_factor
from zdce_core.training.model import DCENet
from zdce_core.maths.render import render
from zdce_core.threads import limit_threads

FULL_SCALE = {np.uint8: 255, np.uint16: 65535, np.float32: 1, np.float64: 1}


@pytest.fixture(scope="module")
def model() -> DCENet:
    torch.manual_seed(0)
    return DCENet().eval()


def photo(height: int, width: int, dtype: type, seed: int = 0) -> np.ndarray:
    """A random image of ``dtype`` at full range."""
    unit = np.random.default_rng(seed).random((height, width, 3))
    scale = FULL_SCALE[dtype]
    return (unit * scale).round().astype(dtype) if scale > 1 else unit.astype(dtype)


def reference(rgb: np.ndarray, maps: torch.Tensor, steps: int, strength: float) -> np.ndarray:
    """Upsample with torch, apply zdce_core.training.curves: the float64 ground truth in [0, 1]."""
    x = torch.from_numpy(rgb.astype(np.float64) / FULL_SCALE[rgb.dtype.type]).permute(2, 0, 1)[None]
    alphas = F.interpolate(maps[None].double(), size=rgb.shape[:2], mode="bilinear", align_corners=False)
    return apply_curves(x, alphas, steps, strength)[-1][0].permute(1, 2, 0).numpy()


@pytest.mark.parametrize("in_dtype", [np.uint8, np.uint16, np.float32, np.float64])
@pytest.mark.parametrize("out_dtype", [np.uint8, np.uint16, np.float32, np.float64])
def test_render_matches_reference(in_dtype, out_dtype):
    rgb = photo(37, 53, in_dtype)
    maps = torch.rand(24, 6, 9, generator=torch.Generator().manual_seed(1)) * 2 - 1
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
    maps = torch.rand(24, *map_shape, generator=torch.Generator().manual_seed(2)) * 2 - 1
    got = render(rgb, maps, steps=8, strength=1.0, dtype=np.float32)
    np.testing.assert_allclose(got, reference(rgb, maps, 8, 1.0), atol=2e-6)


def test_render_band_size_does_not_change_the_result():
    rgb = photo(61, 45, np.uint16)
    maps = torch.rand(24, 7, 5, generator=torch.Generator().manual_seed(3)) * 2 - 1
    whole = render(rgb, maps, steps=8, strength=1.0, dtype=np.float32, band_rows=1000)
    for rows in (1, 2, 7):
        np.testing.assert_array_equal(render(rgb, maps, steps=8, strength=1.0, dtype=np.float32, band_rows=rows), whole)


def test_render_in_place_and_zero_strength():
    rgb = photo(20, 30, np.uint8)
    maps = torch.rand(24, 3, 4, generator=torch.Generator().manual_seed(4)) * 2 - 1
    copy = rgb.copy()
    assert render(rgb, maps, steps=8, strength=0.0, dtype=np.uint8, out=rgb) is rgb
    np.testing.assert_array_equal(rgb, copy)
    want = render(copy, maps, steps=3, strength=1.0, dtype=np.uint8)
    render(copy, maps, steps=3, strength=1.0, dtype=np.uint8, out=copy)
    np.testing.assert_array_equal(copy, want)


def test_render_rejects_a_wrong_output_buffer():
    rgb = photo(4, 4, np.uint8)
    with pytest.raises(ValueError, match="out must be"):
        render(rgb, torch.zeros(24, 1, 1), steps=8, strength=1.0, dtype=np.uint8, out=np.empty((4, 4, 3), np.uint16))


def test_box_reduce_averages_blocks_cut_by_the_edges():
    rgb = photo(23, 17, np.uint16)
    got = box_reduce(rgb, 5)
    x = torch.from_numpy(rgb.astype(np.float64) / 65535).permute(2, 0, 1)[None]
    want = F.avg_pool2d(x, 5, ceil_mode=True)
    assert got.shape == (5, 4, 3)
    np.testing.assert_allclose(got, want[0].permute(1, 2, 0).numpy(), atol=1e-6)


def test_estimation_never_upscales_and_fits_the_size(model):
    rgb = photo(30, 50, np.uint8)
    # A small image that fits runs through the network itself, at its own size.
    assert estimate_curve_maps(model, rgb, size=256).shape == (24, 30, 50)
    # Larger ones get the flat-field maps of the 8x8-block copy, averaged down where needed.
    assert estimate_curve_maps(model, rgb, size=16).shape == (24, 4, 7)
    assert estimate_curve_maps(model, photo(200, 300, np.uint8), size=512).shape == (24, 25, 38)
    assert estimate_curve_maps(model, photo(130, 200, np.uint8), size=10).shape == (24, 7, 10)
    assert reduction_factor(30, 50, 16) == 4


def test_fast_maps_follow_the_full_resolution_network_on_smooth_content(model):
    yy, xx = np.mgrid[0:192, 0:256] / 256.0
    rgb = np.stack([0.1 + 0.3 * xx, 0.05 + 0.2 * yy, 0.15 * (1 + np.sin(6 * xx) * np.cos(4 * yy))], axis=-1)
    full = estimate_curve_maps(model, rgb, size=None)
    fast = estimate_curve_maps(model, rgb, size=32)
    assert fast.shape == (24, 24, 32)
    block_means = F.avg_pool2d(full[None], 8)[0]
    # Away from the zero-padded border, where the full-resolution network sees flat content.
    assert (fast - block_means)[:, 1:-1, 1:-1].abs().max() < 0.005


@pytest.mark.parametrize("shape", [(45, 38), (20, 300)])
def test_full_resolution_tiles_match_one_untiled_pass(model, shape):
    rgb = photo(*shape, np.float64)
    with torch.inference_mode():
        whole = model(torch.from_numpy(rgb).permute(2, 0, 1)[None].float())[0]
    tiled = estimate_curve_maps(model, rgb, size=None, tile=8)
    assert tiled.shape == (24, *shape)
    assert (tiled - whole).abs().max() < 1e-5


def test_tiled_full_resolution_enhancement_matches_untiled(model):
    rgb = photo(41, 29, np.uint8, seed=5)
    untiled = render(rgb, estimate_curve_maps(model, rgb, size=None, tile=4096), steps=8, strength=1.0, dtype=np.float32)
    tiled = render(
        rgb, estimate_curve_maps(model, rgb, size=None, tile=5), steps=8, strength=1.0, dtype=np.float32, band_rows=3
    )
    assert np.abs(tiled - untiled).max() < 1 / 255


def test_limit_threads_restores_the_previous_setting():
    before = torch.get_num_threads()
    with limit_threads(1) as n:
        assert n == 1 and torch.get_num_threads() == 1
    assert torch.get_num_threads() == before
    with pytest.raises(ValueError, match="threads"):
        with limit_threads(0):
            pass
