"""zdce: Zero-DCE low-light photo enhancement.

The public names load on first use (PEP 562), so ``import zdce_core`` stays
cheap and a command can set its environment before any numeric runtime loads.

>>> from zdce_core import enhance
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

_PUBLIC = {
    "enhance": "._api",
    "enhance_steps": "._api",
    "output_dtype": "._api",
    "load_model": ".weights",
    "VideoEnhancer": ".video",
}

__all__ = [*_PUBLIC, "__version__"]


def __getattr__(name: str):
    if name in _PUBLIC:
        value = getattr(importlib.import_module(_PUBLIC[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
