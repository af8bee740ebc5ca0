"""zdce_core.measures: each measure on cases whose answer follows from its definition by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest
import skimage.color
import skimage.data

from zdce_core import measures
from zdce_core.maths.resample import LUMA


def grey(values) -> np.ndarray:
    """An RGB uint8 image whose three channels hold ``values`` (2-D)."""
    values = np.asarray(values)
    return np.repeat(values[..., None], 3, axis=-1).astype(np.uint8)


def test_luminance_is_the_rec709_weights_on_encoded_values():
    image = np.array([[[255, 0, 0], [0, 255, 0], [0, 0, 255], [51, 51, 51]]], np.uint8)
    assert measures.luminance(image)[0] == pytest.approx([0.2125, 0.7154, 0.0721, 0.2], abs=1e-6)
    # The same rule for uint16 and float images.
    assert measures.luminance(image.astype(np.uint16) * 257) == pytest.approx(measures.luminance(image))
    assert measures.luminance(image / 255.0) == pytest.approx(measures.luminance(image))
    assert measures.LUMA is LUMA


def test_night_is_a_fifth_of_the_pixels_near_black():
    # 100 pixels; level 5 is luminance 0.0196 (< 0.02), level 6 is 0.0235.
    image = np.full((10, 10), 120)
    image.flat[:20] = 5
    assert measures.night(grey(image))
    image.flat[19] = 6
    assert not measures.night(grey(image))


def test_near_black_lift_is_the_mean_result_luminance_of_near_black_input_pixels():
    image = grey([[0, 5, 6, 200]])  # the first two are near-black
    result = grey([[10, 30, 250, 250]]) / 255.0
    assert measures.near_black_lift(image, result) == pytest.approx((10 + 30) / 2 / 255)
    assert math.isnan(measures.near_black_lift(grey([[6, 200]]), grey([[0, 0]])))


def test_clipped_share_counts_any_channel_at_254_of_the_8_bit_result():
    image = np.array([[[254, 0, 0], [0, 0, 255], [253, 253, 253], [0, 0, 0]]], np.uint8)
    assert measures.clipped_share(image) == 0.5
    # Floats count as the 8-bit file holds them: 253.5 rounds to 254, 253.49 to 253.
    floats = np.array([[[253.5, 0, 0], [253.49, 253.49, 253.49]]]) / 255
    assert measures.clipped(floats).tolist() == [[True, False]]


def test_noise_of_a_checkerboard_is_immerkaers_formula():
    # (-1)^(i+j) of amplitude a gives the kernel response 16a at every pixel, so
    # sigma = sqrt(pi / 2) * 16a / 6; its smoothed gradient is 0, so every pixel is kept.
    i, j = np.mgrid[:64, :80]
    checker = (-1.0) ** (i + j)
    assert measures.noise(grey(128 + 10 * checker)) == pytest.approx(math.sqrt(math.pi / 2) * 160 / 6, rel=1e-6)
    assert measures.noise(grey(np.full((20, 20), 77))) == 0.0


def test_noise_leaves_out_the_steeper_half():
    # Left 60% of the columns: checkerboard of amplitude 10 on a flat grey. Right 40%: amplitude 30 on a
    # ramp of 4 levels per column, whose smoothed gradient is large. Only the left part is counted.
    i, j = np.mgrid[:64, :80]
    checker = (-1.0) ** (i + j)
    image = 128 + 10 * checker
    image[:, 48:] = 100 + 30 * checker[:, 48:] + 4 * (j[:, 48:] - 48)
    assert image.max() <= 255
    assert measures.noise(grey(image)) == pytest.approx(math.sqrt(math.pi / 2) * 160 / 6, rel=1e-6)


def test_noise_of_gaussian_noise_on_flat_grey():
    rng = np.random.default_rng(3)
    image = np.clip(np.round(100 + rng.normal(0, 2.0, (256, 256))), 0, 255)
    assert measures.noise(grey(image)) == pytest.approx(2.0, rel=0.1)


def test_noise_is_the_issue_recipe_in_scipy_terms():
    # The same recipe written with scipy.ndimage (scikit-image's dependency), whose 'reflect' repeats the
    # edge pixel: convolve, gaussian_filter and sobel, median over the trimmed frame.
    import scipy.ndimage as ndi

    rng = np.random.default_rng(5)
    image = np.clip(skimage.data.coffee()[:120, :160] + rng.normal(0, 3, (120, 160, 3)), 0, 255).astype(np.uint8)
    luma = image.astype(np.float64) @ LUMA.astype(np.float64)
    kernel = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], np.float64)
    response = ndi.convolve(luma, kernel, mode="reflect")[1:-1, 1:-1]
    smooth = ndi.gaussian_filter(luma, 1.0, mode="reflect")
    gradient = np.hypot(ndi.sobel(smooth, 0, mode="reflect"), ndi.sobel(smooth, 1, mode="reflect"))[1:-1, 1:-1]
    flat = gradient <= np.median(gradient)
    expected = math.sqrt(math.pi / 2) * np.abs(response[flat]).mean() / 6
    assert measures.noise(image) == pytest.approx(expected, rel=1e-9)


# Sharma, Wu and Dalal (2005), "The CIEDE2000 color-difference formula", Table 1: pairs 1, 2, 7, 13, 15,
# 17, 19, 20, 21 and 25, with their published differences.
SHARMA = [
    ((50.0, 2.6772, -79.7751), (50.0, 0.0, -82.7485), 2.0425),
    ((50.0, 3.1571, -77.2803), (50.0, 0.0, -82.7485), 2.8615),
    ((50.0, 0.0, 0.0), (50.0, -1.0, 2.0), 2.3669),
    ((50.0, 2.49, -0.001), (50.0, -2.49, 0.0009), 7.1792),
    ((50.0, 2.49, -0.001), (50.0, -2.49, 0.0011), 7.2195),
    ((50.0, -0.001, 2.49), (50.0, 0.0009, -2.49), 4.8045),
    ((50.0, -0.001, 2.49), (50.0, 0.0011, -2.49), 4.7461),
    ((50.0, 2.5, 0.0), (50.0, 0.0, -2.5), 4.3065),
    ((50.0, 2.5, 0.0), (73.0, 25.0, -18.0), 27.1492),
    ((60.2574, -34.0099, 36.2677), (60.4626, -34.1751, 39.4387), 1.2644),
]


@pytest.mark.parametrize(("lab1", "lab2", "expected"), SHARMA)
def test_delta_e2000_matches_sharmas_table(lab1, lab2, expected):
    assert float(measures.delta_e2000(np.array(lab1), np.array(lab2))) == pytest.approx(expected, abs=5e-5)
    assert float(measures.delta_e2000(np.array(lab2), np.array(lab1))) == pytest.approx(expected, abs=5e-5)


def test_delta_e2000_agrees_with_scikit_image():
    rng = np.random.default_rng(0)
    lab1, lab2 = (rng.uniform((0, -100, -100), (100, 100, 100), (2000, 3)) for _ in range(2))
    np.testing.assert_allclose(measures.delta_e2000(lab1, lab2), skimage.color.deltaE_ciede2000(lab1, lab2), atol=1e-9)


def test_rgb_to_lab_of_white_grey_and_colours():
    lab = measures.rgb_to_lab(np.array([[[255, 255, 255], [0, 0, 0], [119, 119, 119]]], np.uint8))[0]
    np.testing.assert_allclose(lab[:, 1:], 0, atol=1e-9)  # neutral greys have no chroma
    assert lab[0, 0] == pytest.approx(100) and lab[1, 0] == 0
    # L* of a grey: 116 * Y^(1/3) - 16 with Y the linearised level.
    y = ((119 / 255 + 0.055) / 1.055) ** 2.4
    assert lab[2, 0] == pytest.approx(116 * y ** (1 / 3) - 16)
    # scikit-image's rgb2lab uses a four-digit-different matrix and white: within 0.05.
    rgb = np.random.default_rng(1).integers(0, 256, (40, 40, 3)).astype(np.uint8)
    np.testing.assert_allclose(measures.rgb_to_lab(rgb), skimage.color.rgb2lab(rgb), atol=0.05)


def test_ciede2000_is_the_mean_over_pixels():
    image = grey([[100, 100]])
    result = grey([[100, 110]])
    one = measures.delta_e2000(measures.rgb_to_lab(grey([[100]])), measures.rgb_to_lab(grey([[110]])))
    assert measures.ciede2000(image, result) == pytest.approx(float(one[0, 0]) / 2)
    assert measures.ciede2000(image, image) == 0.0


def test_hue_shift_counts_only_coloured_unclipped_highlights():
    orange = (230, 150, 60)  # luminance 0.6, chroma about 50
    rotated = (150, 230, 60)  # same channels, the hue turned towards green
    image = np.array([[orange, orange, (30, 15, 5), (180, 180, 175), orange]], np.uint8)
    result = image.copy()
    result[0, 0] = rotated  # counted
    result[0, 2] = (5, 15, 30)  # dark input: not counted
    result[0, 3] = (175, 180, 180)  # grey input (chroma < 10): not counted
    result[0, 4] = (255, 200, 100)  # clipped result: not counted
    lab = measures.rgb_to_lab(np.array([[orange, rotated]], np.uint8))[0]
    turn = abs(math.degrees(math.atan2(lab[1, 2], lab[1, 1]) - math.atan2(lab[0, 2], lab[0, 1])))
    # Pixels 0 and 1 count: one turned by `turn`, one unchanged.
    assert measures.hue_shift(image, result) == pytest.approx(turn / 2)
    assert measures.hue_shift(image, image) == 0.0
    assert math.isnan(measures.hue_shift(image[:, 2:4], result[:, 2:4]))


def test_hue_shift_takes_the_short_way_round():
    # Two reds either side of CIELAB hue 0: the change is their small angle, not 360 minus it.
    pink, red = (240, 115, 170), (250, 120, 160)  # hues -6.7 and +2.7 degrees
    lab = measures.rgb_to_lab(np.array([[pink, red]], np.uint8))[0]
    hues = np.degrees(np.arctan2(lab[:, 2], lab[:, 1]))
    assert hues[0] < 0 < hues[1]
    shift = measures.hue_shift(np.array([[pink]], np.uint8), np.array([[red]], np.uint8))
    assert shift == pytest.approx(hues[1] - hues[0])


def test_niqe_matches_the_reference_implementation():
    # MATLAB's own figure is for BasicSR's baboon.png (5.7296), which cannot be shipped (USC-SIPI, copyright
    # unknown; zdce_core/data/README.md gives our 5.72957388 on it). Here: scikit-image's public-domain coffee
    # photo, 400x600, whose NIQE by BasicSR 1.4.2's calculate_niqe(img, 0, convert_to='y') is 4.115241615.
    assert measures.niqe(skimage.data.coffee()) == pytest.approx(4.115241615, abs=1e-3)


def test_niqe_rises_with_blur_and_is_nan_on_a_flat_picture():
    coffee = skimage.data.coffee()
    box = np.ones(5) / 5
    blurred = np.apply_along_axis(lambda r: np.convolve(r, box, mode="same"), 1, coffee.astype(np.float64))
    assert measures.niqe(blurred / 255) > measures.niqe(coffee) + 0.5  # 4.94 against 4.12
    assert math.isnan(measures.niqe(grey(np.full((200, 200), 90))))


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: measures.niqe(grey(np.zeros((100, 150)))), "two 96x96 blocks"),
        (lambda: measures.noise(np.zeros((5, 5, 4))), r"\(h, w, 3\)"),
        (lambda: measures.ciede2000(np.zeros((4, 4, 3)), np.zeros((4, 5, 3))), "result must have the shape"),
        (lambda: measures.luminance(np.zeros((4, 4, 3), bool)), "dtype bool"),
    ],
)
def test_bad_arguments_name_the_problem(call, message):
    with pytest.raises(ValueError, match=message):
        call()
