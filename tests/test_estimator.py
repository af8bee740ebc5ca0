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
    rgb[height // 3 : height // 2, width // 4 : width // 3] = 0.8
    return np.round(np.clip(rgb, 0, 1) * 255).astype(np.uint8)


@pytest.mark.parametrize("shape", [(150, 230), (64, 64), (97, 41), (512, 384)])
def test_network_input_is_the_box_reduction(shape):
    rgb = _photo(*shape)
    factor = network_input_factor(*shape)
    assert max(-(-shape[0] // factor), -(-shape[1] // factor)) <= ESTIMATE_SIDE
    x = torch.from_numpy(rgb).permute(2, 0, 1)[None].float() / 255
    planes, photo_key = network_input(x)
    got = planes[0].permute(1, 2, 0).numpy()
    np.testing.assert_allclose(got[..., :3], box_reduce(rgb, factor), atol=2e-6)
    expected, expected_key = inference_input(rgb)
    # The key plane: the same number both ways, constant over the copy.
    assert float(photo_key) == pytest.approx(expected_key, abs=1e-5)
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
def test_training_and_inference_judge_darkness_alike(level, black_share):
    """The loss and the inference guard judge a photo's darkness from the same key, black pixels left out."""
    from zdce_core.maths.exposure import darkness as inference_darkness, key as inference_key
    from zdce_core.training.estimator import key as training_key
    from zdce_core.training.losses import LossWeights, darkness as training_darkness

    rgb = np.clip(_photo(60, 80) / 255 * level / 0.1, 0, 1).astype(np.float32)
    rgb[: round(60 * black_share)] = 0.002  # a black sky
    x = torch.from_numpy(rgb).permute(2, 0, 1)[None]
    k = training_key(x)
    assert float(k) == pytest.approx(inference_key(rgb), abs=1e-5)
    if black_share:
        assert inference_key(rgb) == pytest.approx(inference_key(rgb[round(60 * black_share) :]), rel=0.02)
    assert float(training_darkness(k, LossWeights())) == pytest.approx(inference_darkness(inference_key(rgb)), abs=1e-4)
