"""zdce: Zero-DCE low-light photo enhancement.

>>> from zdce_core import enhance
"""

__version__ = "0.1.0"

from .enhance import enhance, enhance_steps, output_dtype
from .weights import load_model

__all__ = ["enhance", "enhance_steps", "load_model", "output_dtype", "__version__"]
