"""Writing DCE-Net's weights in formats other programs run: the whole enhancer, or the network alone, as ONNX.

:func:`save_onnx` needs the ``onnx`` package (``pip install 'zdce[onnx]'``),
not torch: the graph is built from the loaded :class:`~zdce_core.maths.network.Network`
(:mod:`zdce_core.export.graph`).
"""

from __future__ import annotations

import os
from pathlib import Path

from ..contract import ESTIMATE_SIDE
from ..maths.network import Network


def save_onnx(net: Network, path: str | os.PathLike, *, network_only: bool = False, size: int = ESTIMATE_SIDE) -> None:
    """Write ``net`` as an ONNX file (atomically: complete or absent).

    The whole enhancer (:func:`zdce_core.export.graph.enhancer_model`, estimator
    size ``size``), or with ``network_only`` DCE-Net alone
    (:func:`~zdce_core.export.graph.network_model`).
    """
    from ..io.atomic import atomic_path
    from .graph import enhancer_model, network_model

    model = network_model(net) if network_only else enhancer_model(net, size=size)
    with atomic_path(Path(path)) as tmp:
        tmp.write_bytes(model.SerializeToString())
