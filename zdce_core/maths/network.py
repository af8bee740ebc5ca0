"""DCE-Net's forward pass in NumPy, for inference without torch.

The network (:class:`zdce_core.training.model.DCENet`, Guo et al. 2020) is
seven 3x3 convolutions with symmetric skip concatenations and a tanh head, of
the shape :mod:`zdce_core.contract` gives it; its input is the small copy of a
photo (at most :data:`zdce_core.contract.ESTIMATE_SIDE` on the longer side)
and the copy's exposure plane (:func:`zdce_core.maths.estimate.network_input`), so
each convolution is one matrix product over the 3x3 neighbourhoods of its
input (im2col), in float32, channels last. At about 80 k multiply-adds per
pixel, a 64 x 64 copy costs about 0.33 G: milliseconds, with no runtime
besides NumPy.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from ..contract import CURVE_ITERATIONS, NETWORK_INPUTS, NETWORK_WIDTH

LAYERS = ("conv1", "conv2", "conv3", "conv4", "conv5", "conv6", "conv7")
"""The convolutions in forward order; ``{name}.weight`` and ``{name}.bias`` are the checkpoint keys."""

_W = NETWORK_WIDTH
_CHANNELS = [(NETWORK_INPUTS, _W)] + [(_W, _W)] * 3 + [(2 * _W, _W)] * 2 + [(2 * _W, 3 * CURVE_ITERATIONS)]
"""(in, out) channels per layer; the last three take skip concatenations."""

SHAPES: dict[str, tuple[int, ...]] = {
    key: shape
    for name, (cin, cout) in zip(LAYERS, _CHANNELS)
    for key, shape in ((f"{name}.weight", (cout, cin, 3, 3)), (f"{name}.bias", (cout,)))
}
"""Every checkpoint key and the shape DCE-Net gives it (torch's ``(out, in, 3, 3)`` kernels)."""

_CHUNK_FLOATS = 1 << 22
"""Most float32 values of one im2col block (16 MB), so large inputs stay bounded."""


@dataclass(frozen=True)
class Network:
    """DCE-Net weights laid out for :func:`forward`: per layer a ``(9 * in, out)`` matrix and a bias.

    Build it with :meth:`from_state` from a checked state dict (see
    :func:`zdce_core.weights.load_model`); ``state`` keeps the arrays as given.
    """

    kernels: tuple[np.ndarray, ...]
    biases: tuple[np.ndarray, ...]
    state: Mapping[str, np.ndarray]

    @property
    def iterations(self) -> int:
        return self.biases[-1].shape[0] // 3

    @classmethod
    def from_state(cls, state: Mapping[str, np.ndarray]) -> Network:
        """Arrange torch-layout kernels ``(out, in, 3, 3)`` as im2col matrices ``(3 * 3 * in, out)``."""
        kernels, biases = [], []
        for name in LAYERS:
            weight = np.asarray(state[f"{name}.weight"], np.float32)
            kernels.append(np.ascontiguousarray(weight.transpose(2, 3, 1, 0).reshape(-1, weight.shape[0])))
            biases.append(np.asarray(state[f"{name}.bias"], np.float32))
        return cls(tuple(kernels), tuple(biases), dict(state))

    def __call__(self, planes: np.ndarray) -> np.ndarray:
        return forward(self, planes)


def _conv3x3(x: np.ndarray, kernel: np.ndarray, bias: np.ndarray, relu: bool) -> np.ndarray:
    """A 3x3 convolution with zero padding 1 of channels-last ``x`` ``(h, w, c)``, as torch's ``Conv2d``."""
    height, width, channels = x.shape
    padded = np.zeros((height + 2, width + 2, channels), np.float32)
    padded[1:-1, 1:-1] = x
    out = np.empty((height, width, kernel.shape[1]), np.float32)
    rows = max(1, _CHUNK_FLOATS // (width * kernel.shape[0]))
    cols = np.empty((min(rows, height), width, 3, 3, channels), np.float32)
    for top in range(0, height, rows):
        n = min(rows, height - top)
        block = cols[:n]
        for dy in range(3):
            for dx in range(3):
                block[:, :, dy, dx] = padded[top + dy : top + dy + n, dx : dx + width]
        result = out[top : top + n].reshape(n * width, -1)
        np.matmul(block.reshape(n * width, -1), kernel, out=result)
        result += bias
        if relu:
            np.maximum(result, 0.0, out=result)
    return out


def forward(net: Network, planes: np.ndarray) -> np.ndarray:
    """Curve maps ``(3 * iterations, h, w)`` float32 in [-1, 1] for ``(h, w, 4)`` input planes (RGB in [0, 1], key plane).

    The same function as ``DCENet.forward`` (to float32 rounding).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> net = Network.from_state({k: rng.normal(0, 0.1, s).astype(np.float32) for k, s in SHAPES.items()})
    >>> maps = net(rng.random((5, 7, 4), dtype=np.float32))
    >>> maps.shape, maps.dtype, bool(np.abs(maps).max() <= 1)
    ((24, 5, 7), dtype('float32'), True)
    """
    k, b = net.kernels, net.biases
    x = np.asarray(planes, np.float32)
    e1 = _conv3x3(x, k[0], b[0], True)
    e2 = _conv3x3(e1, k[1], b[1], True)
    e3 = _conv3x3(e2, k[2], b[2], True)
    e4 = _conv3x3(e3, k[3], b[3], True)
    e5 = _conv3x3(np.concatenate([e3, e4], axis=-1), k[4], b[4], True)
    e6 = _conv3x3(np.concatenate([e2, e5], axis=-1), k[5], b[5], True)
    maps = _conv3x3(np.concatenate([e1, e6], axis=-1), k[6], b[6], False)
    return np.tanh(maps, out=maps).transpose(2, 0, 1).copy()
