"""The ``zdce:`` delegate: ``python -m zdce_plugins.imagemagick.delegate IN OUT``.

ImageMagick runs this for ``zdce:FILE`` with ``%i`` (the input file) and
``%o`` (a temporary file it reads back). The enhanced image goes to exactly
``OUT`` as PNG, whatever its name (ImageMagick recognises PNG by content),
16-bit when the input was, with alpha, EXIF (orientation applied, tag reset),
ICC profile and DPI carried over. Settings come from the environment, since
ImageMagick passes no options to delegates:

``ZDCE_STEPS``
    curve iterations, 1..8 (default 8)
``ZDCE_STRENGTH``
    0..1 or ``auto`` (default auto)
``ZDCE_DENOISE``
    1/0, yes/no, true/false, on/off (default 1)
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping

_TRUE = {"1", "yes", "true", "on"}
_FALSE = {"0", "no", "false", "off"}


def settings(environ: Mapping[str, str]) -> dict[str, object]:
    """``enhance`` keyword arguments from ``ZDCE_*`` variables; ValueError naming a bad one."""
    steps_text = environ.get("ZDCE_STEPS", "8").strip()
    if not steps_text.isdigit() or not 1 <= int(steps_text) <= 8:
        raise ValueError(f"ZDCE_STEPS must be an integer 1..8, got {steps_text!r}")
    strength_text = environ.get("ZDCE_STRENGTH", "auto").strip().lower()
    strength: float | str = strength_text
    if strength_text != "auto":
        try:
            strength = float(strength_text)
        except ValueError:
            strength = -1.0
        if not 0.0 <= strength <= 1.0:
            raise ValueError(f"ZDCE_STRENGTH must be a number in [0, 1] or 'auto', got {strength_text!r}")
    denoise_text = environ.get("ZDCE_DENOISE", "1").strip().lower()
    if denoise_text not in _TRUE | _FALSE:
        raise ValueError(f"ZDCE_DENOISE must be 1 or 0 (yes/no, true/false, on/off), got {denoise_text!r}")
    return {"steps": int(steps_text), "strength": strength, "denoise": denoise_text in _TRUE}


def main(argv: list[str] | None = None) -> int:
    """Enhance ``argv[0]`` into ``argv[1]`` (PNG); one-line error and exit 1 on failure."""
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 2:
        print("usage: python -m zdce_plugins.imagemagick.delegate INPUT OUTPUT", file=sys.stderr)
        return 2
    source, target = argv
    try:
        options = settings(os.environ)
        from zdce_core import enhance
        from zdce_core.imageio import read_photo, write_photo

        photo = read_photo(source)
        out = enhance(photo.array, dtype=photo.array.dtype.type, **options)
        write_photo(target, out, photo.metadata, fmt="PNG")
    except (ImportError, OSError, ValueError, TypeError, RuntimeError, MemoryError) as exc:
        # ImportError: the interpreter in delegates.xml no longer has zdce; reinstall the delegate.
        print(f"zdce delegate: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
