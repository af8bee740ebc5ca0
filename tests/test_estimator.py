"""One estimator: the training path (torch) and the inference path (NumPy) compute the same result."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from zdce_core.maths.estimate import estimate_curve_maps, network_input as inference_input
from zdce_core.maths.estimator import ESTIMATE_SIDE, network_input_factor
from zdce_core.maths.render import render
from zdce_core.maths.resample import box_reduce
from zdce_core.training.curves import apply_curves
from zdce_core.training.estimator import estimate_maps, network_input
from zdce_core.training.model import DCENet
from zdce_core.weights import default_model


def _photo(height: int, width: int, seed: int = 0) -> np.ndarray:
    """A dark photo with structure at several scales and a bright patch."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width] / max(height, width)
    scene = 0.08 + 0.07 * np.sin(9 * xx) * np.cos(5 * yy)
    rgb = scene[..., None] * rng.uniform(0.7, 1.3, 3) + rng.normal(0, 0.01, (height, width, 3))
    rgb[height // 3 : height // 2, width // 4 : width // 3] = 0.3
    return np.round(np.clip(rgb, 0, 1) * 255).astype(np.uint8)


@pytest.mark.parametrize("shape", [(150, 230), (64, 64), (97, 41), (512, 384)])
def test_network_input_is_the_box_reduction(shape):
    rgb = _photo(*shape)
    factor = network_input_factor(*shape)
    assert max(-(-shape[0] // factor), -(-shape[1] // factor)) <= ESTIMATE_SIDE
    x = torch.from_numpy(rgb).permute(2, 0, 1)[None].float() / 255
    planes, stops = network_input(x)
    got = planes[0].permute(1, 2, 0).numpy()
    np.testing.assert_allclose(got[..., :3], box_reduce(rgb, factor), atol=2e-6)
    expected, expected_stops = inference_input(rgb)
    # The exposure plane: the same number both ways, constant over the copy.
    assert float(stops) == pytest.approx(expected_stops, abs=1e-5)
    np.testing.assert_allclose(got, expected, atol=2e-5)


@pytest.mark.parametrize("shape", [(150, 230), (333, 200)])
def test_trained_estimator_both_ways(shape):
    """The bundled (trained) weights, run as training runs them and as inference runs them."""
    net = default_model()
    model = DCENet()
    model.load_state_dict({k: torch.from_numpy(np.asarray(v)) for k, v in net.state.items()})
    rgb = _photo(*shape, seed=1)
    x = torch.from_numpy(rgb).permute(2, 0, 1)[None].float() / 255
    with torch.no_grad():
        small, full, _ = estimate_maps(model.eval(), x)
        trained_way = apply_curves(x, full)[-1][0].permute(1, 2, 0).numpy()
    maps = estimate_curve_maps(net, rgb)
    np.testing.assert_allclose(maps, small[0].numpy(), atol=1e-5)
    inference_way = render(rgb, maps, steps=8, strength=1.0, dtype=np.float32)
    # The network's maps must do something here, or the comparison would prove little.
    assert np.abs(inference_way - rgb / 255).mean() > 0.02
    np.testing.assert_allclose(inference_way, np.clip(trained_way, 0, 1), atol=1e-4)


@pytest.mark.parametrize("level", [0.03, 0.12, 0.18, 0.3])
@pytest.mark.parametrize("black_share", [0.0, 0.6])
def test_training_and_inference_judge_under_exposure_alike(level, black_share):
    """The loss and the inference guard judge a photo's under-exposure from the same white point."""
    from zdce_core.maths.exposure import darkness as inference_darkness, under_exposure as inference_stops
    from zdce_core.training.estimator import under_exposure as training_stops
    from zdce_core.training.losses import LossWeights, darkness as training_darkness

    rgb = np.clip(_photo(60, 80) / 255 * level / 0.1, 0, 1).astype(np.float32)
    rgb[: round(60 * black_share)] = 0.002  # a black sky
    x = torch.from_numpy(rgb).permute(2, 0, 1)[None]
    stops = training_stops(x)
    assert float(stops) == pytest.approx(inference_stops(rgb), abs=1e-4)
    assert float(training_darkness(stops, LossWeights())) == pytest.approx(inference_darkness(inference_stops(rgb)), abs=1e-4)


def test_under_exposure_follows_the_white_point_not_the_key():
    """Hand-computed: a photo whose brightest channel reaches linear 0.83 (sRGB 0.9197) is 0 stops under,
    the same photo at a quarter of the light 2 stops, whatever its key; a night frame with a lamp stays near 0."""
    from zdce_core.maths.exposure import srgb_to_linear, under_exposure

    def encode(linear):
        return np.where(linear <= 0.0031308, 12.92 * linear, 1.055 * linear ** (1 / 2.4) - 0.055).astype(np.float32)

    high_key = np.full((40, 40, 3), 0.6, np.float32)
    high_key[:, :4] = encode(np.float32(0.83))  # a white stripe, 10% of the frame
    assert under_exposure(high_key) == pytest.approx(0.0, abs=1e-3)
    quarter = encode(srgb_to_linear(high_key) / 4)
    assert under_exposure(quarter) == pytest.approx(2.0, abs=1e-3)
    night = np.full((40, 40, 3), 0.01, np.float32)
    night[10:13, 10:13] = [1.0, 0.6, 0.2]  # an orange lamp, 0.6% of the frame
    assert under_exposure(night) == pytest.approx(0.0, abs=1e-3)
    assert under_exposure(night[20:]) > 6  # the same night without its lamp: deeply under-exposed


def test_exposure_target_is_a_longer_exposure_that_keeps_hues():
    """Hand-computed: an orange region lifted one stop is each channel doubled in linear light
    (sRGB 0.5, 0.3, 0.1 are linear 0.214041, 0.073239, 0.010023), so its linear ratios, hence its hue, are kept;
    a bright one lifted two stops is brought under white by the shoulder (0.85 -> 1.5575 -> 0.9582), never clipped."""
    from zdce_core.training.losses import LossWeights, exposure_target

    weights = LossWeights()
    orange = exposure_target(torch.tensor([0.5, 0.3, 0.1]), 2.0, weights)
    assert orange.tolist() == pytest.approx([0.685836, 0.418868, 0.1519], abs=1e-5)
    assert exposure_target(torch.tensor([0.85]), 4.0, weights).item() == pytest.approx(0.958226, abs=1e-5)
    # Below the black levels a region keeps its level, whatever the gain: a night sky stays black.
    assert exposure_target(torch.tensor([0.005]), 64.0, weights).item() == pytest.approx(0.005, abs=1e-7)
