"""The whole enhancer as one ONNX graph, built op by op from the NumPy engine's own steps and numbers.

Each function here mirrors one function of the engine and names it: the box
reduction and exposure plane of :func:`zdce_core.maths.estimate.network_input`,
DCE-Net's :func:`zdce_core.maths.network.forward`, the guard's
:func:`zdce_core.maths.exposure.darkness` and the curve iterations of
:func:`zdce_core.maths.render.render`, with every size and threshold read
from :mod:`zdce_core.contract`. When the engine changes, this file changes in the
same places, and ``tests/test_onnx.py`` (the graph against
``enhance(..., denoise=False)`` on real photos) says where it no longer does.

The graph is written with :mod:`onnx.helper` rather than ``torch.onnx``:
export must work from the bundled ``.npz`` on a machine without torch (zdce's
inference never needs it), and the reference is NumPy code, not a torch
module, so there would be nothing to trace but the network itself.

Inputs and outputs of :func:`enhancer_model` (``N`` photos of any size):

- ``image``: float32 ``(N, 3, H, W)`` RGB in [0, 1];
- ``steps``: int64 scalar, curve iterations 1..8 (8 is ``zdce``'s default);
- ``strength``: float32 scalar in [0, 1], or any negative value for
  ``"auto"`` (``zdce``'s default): the guard's factor for each photo;
- ``enhanced``: float32 ``(N, 3, H, W)`` in [0, 1];
- ``applied_strength``: float32 ``(N,)``, the strength each photo got;
- ``maps``: float32 ``(N, 24, h, w)``, DCE-Net's curve maps on the small copy.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from ..contract import (
    CURVE_ITERATIONS,
    SRGB_EXPONENT,
    SRGB_LINEAR_BELOW,
    SRGB_OFFSET,
    SRGB_SLOPE,
    DARK_STOPS,
    ESTIMATE_SIDE,
    FINE_STOPS,
    MAX_STOPS,
    NETWORK_INPUTS,
    WHITE,
    WHITE_PERCENTILE,
)
from ..maths.network import LAYERS, Network

OPSET = 17
"""ONNX opset of the graph: Resize's ``half_pixel`` mode, ``LessOrEqual`` and int64 ``Min`` are all older;
ONNX Runtime 1.17 (and onnxruntime-web of the same age) runs opsets up to 20."""

IR_VERSION = 8
"""The IR version that goes with opset 17 (ONNX 1.12); ONNX Runtime 1.17 reads up to 9."""

SIZE_KEY = "zdce.estimate_side"
"""Metadata key holding the estimator size baked into a full graph (``network_input``'s ``size``)."""

KIND_KEY = "zdce.graph"
"""Metadata key saying which graph a file holds: :data:`ENHANCER` or :data:`NETWORK`."""

ENHANCER, NETWORK = "enhancer", "network"

_F, _I = TensorProto.FLOAT, TensorProto.INT64


class _Graph:
    """Nodes and constants being collected; each method returns the name of the value it makes."""

    def __init__(self) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []
        self._ids = itertools.count()
        self._consts: dict[tuple, str] = {}

    def op(self, op_type: str, *inputs: str, out: str | None = None, **attrs) -> str:
        name = out or f"{op_type.lower()}_{next(self._ids)}"
        self.nodes.append(helper.make_node(op_type, list(inputs), [name], **attrs))
        return name

    def const(self, value, dtype=np.float32, name: str | None = None) -> str:
        array = np.asarray(value, dtype)
        key = (array.dtype.str, array.shape, array.tobytes())
        if name is None and key in self._consts:
            return self._consts[key]
        name = name or f"const_{next(self._ids)}"
        self.initializers.append(numpy_helper.from_array(array, name))
        if name.startswith("const_"):
            self._consts[key] = name
        return name

    def ints(self, *values: int) -> str:
        return self.const(list(values), np.int64)

    def scalar(self, value: str) -> str:
        """A 1-element tensor as a 0-D one (``Range`` takes scalars)."""
        return self.op("Reshape", value, self.const([], np.int64))


def _smoothstep(g: _Graph, value: str, low: float, high: float) -> str:
    """:func:`zdce_core.maths.exposure._smoothstep`."""
    t = g.op("Clip", g.op("Div", g.op("Sub", value, g.const(low)), g.const(high - low)), g.const(0.0), g.const(1.0))
    return g.op("Mul", g.op("Mul", t, t), g.op("Sub", g.const(3.0), g.op("Mul", g.const(2.0), t)))


def _block_counts(g: _Graph, length: str, blocks: str, factor: str) -> str:
    """Pixels in each of ``blocks`` blocks of ``factor`` along an axis of ``length``: the last one may be cut."""
    starts = g.op("Mul", g.op("Range", g.const(0, np.int64), g.scalar(blocks), g.const(1, np.int64)), factor)
    return g.op("Cast", g.op("Min", g.op("Sub", length, starts), factor), to=_F)


def _box_reduce(g: _Graph, image: str, size: int) -> str:
    """:func:`zdce_core.maths.resample.box_reduce` by :func:`~zdce_core.maths.resample.reduction_factor`'s factor.

    The photo is zero-padded to whole blocks, summed per block and divided by
    the pixels each block holds, so cut blocks at the right and bottom edges
    average the pixels they have, as the engine's do.
    """
    hw = g.op("Slice", g.op("Shape", image), g.ints(2), g.ints(4))
    one = g.ints(1)
    factor = g.op("Max", g.op("Div", g.op("Add", g.op("ReduceMax", hw, keepdims=1), g.ints(size - 1)), g.ints(size)), one)
    small_hw = g.op("Div", g.op("Sub", g.op("Add", hw, factor), one), factor)
    pads = g.op("Concat", g.ints(0, 0, 0, 0, 0, 0), g.op("Sub", g.op("Mul", small_hw, factor), hw), axis=0)
    padded = g.op("Pad", image, pads)
    small_h = g.op("Slice", small_hw, g.ints(0), g.ints(1))
    small_w = g.op("Slice", small_hw, g.ints(1), g.ints(2))
    blocks = g.op("Reshape", padded, g.op("Concat", g.ints(0, 0), small_h, factor, small_w, factor, axis=0))
    sums = g.op("ReduceSum", blocks, g.ints(3, 5), keepdims=0)
    rows = _block_counts(g, g.op("Slice", hw, g.ints(0), g.ints(1)), small_h, factor)
    cols = _block_counts(g, g.op("Slice", hw, g.ints(1), g.ints(2)), small_w, factor)
    return g.op("Div", sums, g.op("Mul", g.op("Unsqueeze", rows, g.ints(1)), cols))


def _srgb_to_linear(g: _Graph, x: str) -> str:
    """:func:`zdce_core.maths.exposure.srgb_to_linear`."""
    curve = g.op("Pow", g.op("Div", g.op("Add", x, g.const(SRGB_OFFSET)), g.const(1 + SRGB_OFFSET)), g.const(SRGB_EXPONENT))
    linear = g.op("Div", x, g.const(SRGB_SLOPE))
    return g.op("Where", g.op("LessOrEqual", x, g.const(SRGB_LINEAR_BELOW)), linear, curve)


def _percentile(g: _Graph, values: str, q: float) -> str:
    """``np.percentile(values, q, axis=1)`` (linear interpolation) of ``(N, M)`` values, as ``(N,)``.

    Sorted ascending, the percentile lies between elements ``i = floor(q / 100 * (M - 1))``
    and ``i + 1``; those are the last two of the ``M - i`` largest, which ``TopK`` gives.
    """
    m = g.op("Slice", g.op("Shape", values), g.ints(1), g.ints(2))
    position = g.op("Mul", g.op("Cast", g.op("Sub", m, g.ints(1)), to=_F), g.const(q / 100))
    below = g.op("Floor", position)
    fraction = g.op("Sub", position, below)
    k = g.op("Sub", m, g.op("Cast", below, to=_I))
    largest = g.op("TopK", values, k, axis=1, largest=1, sorted=1)
    g.nodes[-1].output.append(f"{largest}_indices")  # TopK's second output is not optional
    lower = g.op("Gather", largest, g.scalar(g.op("Sub", k, g.ints(1))), axis=1)
    upper = g.op("Gather", largest, g.scalar(g.op("Max", g.op("Sub", k, g.ints(2)), g.ints(0))), axis=1)
    return g.op("Add", lower, g.op("Mul", g.op("Reshape", fraction, g.ints()), g.op("Sub", upper, lower)))


def _under_exposure(g: _Graph, small: str) -> str:
    """:func:`zdce_core.maths.exposure.under_exposure` of each photo's small copy, as ``(N, 1, 1, 1)`` stops."""
    brightest = g.op("ReduceMax", _srgb_to_linear(g, small), axes=[1], keepdims=0)
    white = _percentile(g, g.op("Reshape", brightest, g.ints(0, -1)), WHITE_PERCENTILE)
    floor = g.const(WHITE * 2.0**-MAX_STOPS)
    stops = g.op("Div", g.op("Log", g.op("Div", g.const(WHITE), g.op("Max", white, floor))), g.const(math.log(2.0)))
    return g.op("Reshape", g.op("Clip", stops, g.const(0.0), g.const(MAX_STOPS)), g.ints(-1, 1, 1, 1))


def _network_input(g: _Graph, image: str, size: int) -> tuple[str, str]:
    """:func:`zdce_core.maths.estimate.network_input`: ``(N, 4, h, w)`` planes and the ``(N, 1, 1, 1)`` stops under-exposed."""
    small = _box_reduce(g, image, size)
    stops = _under_exposure(g, small)
    plane_shape = g.op("Concat", g.op("Shape", stops, end=2), g.op("Shape", small, start=2), axis=0)
    # :func:`zdce_core.maths.estimator.exposure_plane`
    plane = g.op("Expand", g.op("Div", stops, g.const(MAX_STOPS)), plane_shape)
    return g.op("Concat", small, plane, axis=1), stops


def _forward(g: _Graph, net: Network, planes: str, out: str) -> str:
    """:func:`zdce_core.maths.network.forward`: seven 3x3 convolutions, skip concatenations, tanh."""
    state = net.state

    def conv(x: str, name: str, relu: bool = True) -> str:
        w = g.const(state[f"{name}.weight"], name=f"{name}.weight")
        b = g.const(state[f"{name}.bias"], name=f"{name}.bias")
        y = g.op("Conv", x, w, b, kernel_shape=[3, 3], pads=[1, 1, 1, 1])
        return g.op("Relu", y) if relu else y

    c1, c2, c3, c4, c5, c6, c7 = LAYERS
    e1 = conv(planes, c1)
    e2 = conv(e1, c2)
    e3 = conv(e2, c3)
    e4 = conv(e3, c4)
    e5 = conv(g.op("Concat", e3, e4, axis=1), c5)
    e6 = conv(g.op("Concat", e2, e5, axis=1), c6)
    return g.op("Tanh", conv(g.op("Concat", e1, e6, axis=1), c7, relu=False), out=out)


def _darkness(g: _Graph, stops: str) -> str:
    """:func:`zdce_core.maths.exposure.darkness`: the guard's factor for ``strength="auto"``."""
    return _smoothstep(g, stops, FINE_STOPS, DARK_STOPS)


def _render(g: _Graph, image: str, maps: str, steps: str, strength: str) -> str:
    """:func:`zdce_core.maths.render.render` without a band filter, before the dtype conversion.

    Each step's maps are scaled by the strength (0 for steps past ``steps``,
    which makes that iteration the identity), upsampled bilinearly to the
    photo with ``half_pixel`` coordinates (:func:`zdce_core.maths.resample.source_coords`,
    ``align_corners=False``) and applied as ``x + a * (x - x * x)``; the
    result is clipped to [0, 1].
    """
    size = g.op("Shape", image)
    x = image
    for k in range(1, CURVE_ITERATIONS + 1):
        on = g.op("Cast", g.op("LessOrEqual", g.const(k, np.int64), steps), to=_F)
        small = g.op("Slice", maps, g.ints(3 * (k - 1)), g.ints(3 * k), g.ints(1))
        a = g.op(
            "Resize", g.op("Mul", small, g.op("Mul", strength, on)), "", "", size,
            mode="linear", coordinate_transformation_mode="half_pixel",
        )
        x = g.op("Add", x, g.op("Mul", g.op("Sub", x, g.op("Mul", x, x)), a))
    return g.op("Clip", x, g.const(0.0), g.const(1.0), out="enhanced")


def _model(g: _Graph, inputs, outputs, kind: str, metadata: dict[str, str]) -> onnx.ModelProto:
    graph = helper.make_graph(g.nodes, f"zdce-{kind}", inputs, outputs, initializer=g.initializers)
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", OPSET)], ir_version=IR_VERSION, producer_name="zdce"
    )
    helper.set_model_props(model, {KIND_KEY: kind, **metadata})
    onnx.checker.check_model(model, full_check=True)
    return model


def enhancer_model(net: Network, *, size: int = ESTIMATE_SIDE) -> onnx.ModelProto:
    """The whole enhancer as an ONNX model: ``enhance(image, steps, strength=..., denoise=False)``.

    ``size`` is the estimator's size (``enhance``'s ``estimate_size``).
    See the module docstring for the inputs and outputs.
    """
    g = _Graph()
    planes, stops = _network_input(g, "image", size)
    maps = _forward(g, net, planes, out="maps")
    darkness = _darkness(g, stops)
    # strength < 0 stands for "auto": the guard's factor, photo by photo.
    applied = g.op("Where", g.op("Less", "strength", g.const(0.0)), darkness, "strength")
    _render(g, "image", maps, "steps", applied)
    g.op("Reshape", applied, g.ints(-1), out="applied_strength")
    inputs = [
        helper.make_tensor_value_info("image", _F, ["N", 3, "H", "W"]),
        helper.make_tensor_value_info("steps", _I, []),
        helper.make_tensor_value_info("strength", _F, []),
    ]
    outputs = [
        helper.make_tensor_value_info("enhanced", _F, ["N", 3, "H", "W"]),
        helper.make_tensor_value_info("applied_strength", _F, ["N"]),
        helper.make_tensor_value_info("maps", _F, ["N", 3 * CURVE_ITERATIONS, "h", "w"]),
    ]
    return _model(g, inputs, outputs, ENHANCER, {SIZE_KEY: str(size)})


def network_model(net: Network) -> onnx.ModelProto:
    """DCE-Net alone: ``planes`` float32 ``(N, 4, h, w)`` (the small copy and its exposure plane) to ``maps`` ``(N, 24, h, w)``."""
    g = _Graph()
    _forward(g, net, "planes", out="maps")
    inputs = [helper.make_tensor_value_info("planes", _F, ["N", NETWORK_INPUTS, "h", "w"])]
    outputs = [helper.make_tensor_value_info("maps", _F, ["N", 3 * CURVE_ITERATIONS, "h", "w"])]
    return _model(g, inputs, outputs, NETWORK, {})
