"""DCE-Net: the small convolutional network that predicts curve parameters.

The layout follows Guo et al. (CVPR 2020): seven 3x3 convolutions of
:data:`zdce_core.contract.NETWORK_WIDTH` channels, symmetric skip
concatenations, and a tanh head that emits one RGB curve-parameter map per
iteration (:data:`zdce_core.contract.CURVE_ITERATIONS` x 3). One change: the
first convolution takes a fourth plane, how many stops the photo is
under-exposed (:mod:`zdce_core.maths.estimator`), so the network can set a
whole photo's exposure although it sees a quarter of the scene at a time (288 more
weights).
"""

from __future__ import annotations

import torch
from torch import nn

from ..contract import CURVE_ITERATIONS, NETWORK_INPUTS, NETWORK_WIDTH


class DCENet(nn.Module):
    """Predict ``(B, 3 * iterations, H, W)`` curve parameters in ``[-1, 1]`` from ``(B, 4, H, W)`` input planes.

    The module holds no I/O: weights are loaded by :mod:`zdce_core.weights`.
    """

    def __init__(self, iterations: int = CURVE_ITERATIONS, features: int = NETWORK_WIDTH):
        super().__init__()
        self.iterations = iterations

        def conv(cin: int, cout: int) -> nn.Conv2d:
            return nn.Conv2d(cin, cout, kernel_size=3, padding=1)

        f = features
        self.conv1 = conv(NETWORK_INPUTS, f)
        self.conv2 = conv(f, f)
        self.conv3 = conv(f, f)
        self.conv4 = conv(f, f)
        self.conv5 = conv(2 * f, f)
        self.conv6 = conv(2 * f, f)
        self.conv7 = conv(2 * f, 3 * iterations)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        relu = torch.relu
        e1 = relu(self.conv1(x))
        e2 = relu(self.conv2(e1))
        e3 = relu(self.conv3(e2))
        e4 = relu(self.conv4(e3))
        e5 = relu(self.conv5(torch.cat([e3, e4], 1)))
        e6 = relu(self.conv6(torch.cat([e2, e5], 1)))
        return torch.tanh(self.conv7(torch.cat([e1, e6], 1)))
