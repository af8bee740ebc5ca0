"""Enhancement quality: exposure awareness, the strength control and gain-proportional denoising."""

from __future__ import annotations

import numpy as np
import pytest
import skimage.data
from skimage.metrics import peak_signal_noise_ratio
from skimage.restoration import estimate_sigma

from zdce_core import enhance, enhance_steps
from zdce_core.maths.denoise import CHROMA_AMOUNT, LUMA_AMOUNT, OPPONENT, RADIUS, NoiseFilter, noise_sigma
from zdce_core.maths.estimate import estimate_curve_maps
from zdce_core.maths.resample import LUMA
from zdce_core.maths.render import BAND_ROWS, render
from zdce_core.weights import default_model


def luminance(image: np.ndarray) -> float:
    scale = 255.0 if image.dtype == np.uint8 else 1.0
    return float((image.astype(np.float32) / scale @ LUMA).mean())


def sigma(image: np.ndarray) -> float:
    return float(estimate_sigma(image, channel_axis=-1, average_sigmas=True))


def darkened(rgb: np.ndarray, factor: float, noise: float, seed: int = 0) -> np.ndarray:
    """``rgb`` scaled by ``factor`` in linear light, plus Gaussian noise of ``noise`` (in [0, 1] units), uint8."""
    linear = (rgb / 255.0) ** 2.2 * factor
    encoded = linear ** (1 / 2.2) + np.random.default_rng(seed).normal(0.0, noise, rgb.shape)
    return np.round(np.clip(encoded, 0, 1) * 255).astype(np.uint8)


@pytest.fixture(scope="module")
def chelsea() -> np.ndarray:
    return skimage.data.chelsea()


@pytest.fixture(scope="module")
def dark_noisy(chelsea) -> np.ndarray:
    return darkened(chelsea, 1 / 16, 0.008)


@pytest.mark.parametrize("name", ["astronaut", "chelsea", "coffee"])
def test_well_exposed_photo_is_changed_little(name):
    image = getattr(skimage.data, name)()
    out = enhance(image)
    assert peak_signal_noise_ratio(image / 255.0, out.astype(np.float64), data_range=1.0) >= 30
    assert abs(luminance(out) - luminance(image)) < 0.03


def test_dark_photo_is_brightened_towards_the_original(chelsea, dark_noisy):
    out = enhance(dark_noisy)
    assert luminance(dark_noisy) < 0.2
    assert luminance(out) > 0.3
    reference = chelsea / 255.0
    assert peak_signal_noise_ratio(reference, out.astype(np.float64), data_range=1.0) > peak_signal_noise_ratio(
        reference, dark_noisy / 255.0, data_range=1.0
    ) + 6


def test_real_low_light_frame_is_brightened(shared_photo):
    from zdce_core.io.images import read_image

    image = read_image(shared_photo)
    assert luminance(enhance(image)) > luminance(image) + 0.15


def test_strength_is_monotone_in_brightness(dark_noisy):
    levels = [luminance(enhance(dark_noisy, strength=s, denoise=False)) for s in (0.0, 0.25, 0.5, 0.75, 1.0)]
    assert levels[0] == pytest.approx(luminance(dark_noisy), abs=1e-6)
    assert all(b > a + 0.01 for a, b in zip(levels, levels[1:])), levels


@pytest.mark.parametrize("strength", ["auto", 1.0])
def test_brightness_rises_with_steps(dark_noisy, strength):
    levels = [luminance(out) for out in enhance_steps(dark_noisy, strength=strength)]
    assert all(b > a for a, b in zip(levels, levels[1:])), levels


def test_denoise_lowers_noise_on_a_lifted_dark_image(dark_noisy):
    plain = enhance(dark_noisy, denoise=False)
    denoised = enhance(dark_noisy)
    assert sigma(denoised) < 0.6 * sigma(plain)
    assert luminance(denoised) == pytest.approx(luminance(plain), abs=0.01)


def test_denoise_removes_more_colour_noise_than_brightness_noise(dark_noisy):
    # Brightness carries the detail; colour noise shows as blotches on flat areas.
    plain, denoised = enhance(dark_noisy, denoise=False), enhance(dark_noisy)

    def left(k: int) -> float:  # share of opponent component k's noise that the filter leaves
        return estimate_sigma(denoised @ OPPONENT[k]) / estimate_sigma(plain @ OPPONENT[k])

    assert max(left(1), left(2)) < 0.8 * left(0), [left(k) for k in range(3)]


@pytest.mark.parametrize("name", ["astronaut", "coffee"])
def test_denoise_keeps_texture_where_a_photo_is_well_lit(name):
    # Full strength lifts the dark parts (and denoises them); well-lit parts get gains near 1.
    image = getattr(skimage.data, name)()
    plain = enhance(image, strength=1.0, denoise=False)
    denoised = enhance(image, strength=1.0)
    lit = image / 255.0 @ LUMA > 0.35
    assert lit.mean() > 0.3
    error = np.abs(plain[lit].astype(np.float64) - denoised[lit]).mean()
    assert error < 0.5 / 255, error
    assert not np.array_equal(plain, denoised)  # the dark parts were denoised


def test_default_leaves_a_well_lit_textured_photo_alone():
    image = skimage.data.astronaut()
    denoised, plain = enhance(image, denoise=True), enhance(image, denoise=False)
    assert peak_signal_noise_ratio(plain, denoised, data_range=1.0) > 50
    assert peak_signal_noise_ratio(image / 255.0, denoised.astype(np.float64), data_range=1.0) > 40


@pytest.mark.parametrize("strength", [0.6, 1.0])
def test_no_denoise_is_the_plain_curve_result(dark_noisy, strength):
    maps = estimate_curve_maps(default_model(), dark_noisy)
    expected = render(dark_noisy, maps, steps=5, strength=strength, dtype=np.float32)
    np.testing.assert_array_equal(enhance(dark_noisy, 5, strength=strength, denoise=False), expected)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_denoised_integer_output_is_the_float_output_rounded(dark_noisy, dtype):
    # The filter runs on float rows before they are converted: one picture, rounded.
    full = np.iinfo(dtype).max
    error = np.abs(enhance(dark_noisy, dtype=dtype) / full - enhance(dark_noisy))
    assert error.max() <= 0.5 / full + 1e-6


def test_noise_sigma_is_close_to_the_true_level():
    rng = np.random.default_rng(3)
    yy, xx = np.mgrid[0:300, 0:400] / 400.0
    smooth = np.stack([0.2 + 0.5 * xx, 0.3 + 0.3 * yy, 0.5 - 0.2 * xx * yy], axis=-1)
    for true in (0.005, 0.02):
        noisy = np.clip(smooth + rng.normal(0, true, smooth.shape), 0, 1)
        assert noise_sigma(noisy) == pytest.approx(true, rel=0.1)


def lee_reference(image: np.ndarray, noise_var: float) -> np.ndarray:
    """Lee's filter with a (2 * RADIUS + 1) square window cut at the border, in float64 numpy, on opponent colours.

    Component ``k`` of the orthonormal opponent transform loses its amount times
    ``noise_var``; the transform's transpose brings the result back to RGB.
    """
    opponent = image.astype(np.float64) @ OPPONENT.T.astype(np.float64)
    amounts = np.array([LUMA_AMOUNT, CHROMA_AMOUNT, CHROMA_AMOUNT])
    return _lee_per_channel(opponent, noise_var * amounts) @ OPPONENT.astype(np.float64)


def _lee_per_channel(image: np.ndarray, noise_var: np.ndarray) -> np.ndarray:
    padded = np.pad(image, ((RADIUS, RADIUS), (RADIUS, RADIUS), (0, 0)))
    ones = np.pad(np.ones(image.shape[:2]), RADIUS)
    total, squares, count = (np.zeros(image.shape), np.zeros(image.shape), np.zeros(image.shape[:2]))
    height, width = image.shape[:2]
    for dy in range(2 * RADIUS + 1):
        for dx in range(2 * RADIUS + 1):
            total += padded[dy : dy + height, dx : dx + width]
            squares += padded[dy : dy + height, dx : dx + width] ** 2
            count += ones[dy : dy + height, dx : dx + width]
    mean = total / count[..., None]
    var = np.maximum(squares / count[..., None] - mean**2, 0)
    return mean + np.maximum(var - noise_var, 0) / (var + 1e-12) * (image - mean)


@pytest.mark.parametrize("band_rows", [3, 7, BAND_ROWS])
def test_lee_kernel_matches_reference_for_any_band_size(band_rows):
    rng = np.random.default_rng(4)
    height, width = 45, 37
    image = (np.linspace(0.2, 0.8, width)[None, :, None] + rng.normal(0, 0.03, (height, width, 3))).astype(np.float32)
    image = np.clip(image, 0, 1)
    variance = np.full((4, 5), 0.0006, np.float32)
    identity = np.zeros((24, 1, 1), np.float32)
    out = render(image, identity, steps=8, strength=1.0, dtype=np.float32,
                 band_filter=NoiseFilter(variance, height, width), band_rows=band_rows)
    np.testing.assert_allclose(out, lee_reference(image, 0.0006), atol=2e-4)


def test_lee_kernel_leaves_zero_variance_regions_untouched():
    rng = np.random.default_rng(5)
    image = rng.integers(0, 256, (20, 30, 3), dtype=np.uint8)
    variance = np.zeros((2, 3), np.float32)
    variance[1] = 0.01  # only the lower half is noisy
    identity = np.zeros((24, 1, 1), np.float32)
    out = render(image, identity, steps=8, strength=1.0, dtype=np.uint8,
                 band_filter=NoiseFilter(variance, 20, 30), band_rows=8)
    np.testing.assert_array_equal(out[:5], image[:5])
    assert not np.array_equal(out[15:], image[15:])
