"""The ``zdce:`` delegate: ``python -m zdce_plugins.imagemagick.delegate IN OUT [NAME]``.

ImageMagick runs this for ``zdce:FILE`` with ``%i`` (its temporary copy of
the input), ``%o`` (a temporary file it reads back) and ``%M`` (FILE as the
user wrote it, the name messages use). The enhanced image goes to exactly
``OUT`` as PNG, whatever its name (ImageMagick recognises PNG by content),
16-bit when the input was, with alpha, EXIF (orientation applied, tag reset),
ICC profile and DPI carried over. Settings come from the environment, since
ImageMagick passes no options to delegates, with the ranges and defaults of
:mod:`zdce_core.contract`:

``ZDCE_STEPS``
    curve iterations (``zdce enhance --steps``)
``ZDCE_STRENGTH``
    0..1 or ``auto`` (``--strength``)
``ZDCE_DENOISE``
    1/0, yes/no, true/false, on/off (on by default; ``--no-denoise``)
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping

def settings(environ: Mapping[str, str]) -> dict[str, object]:
    """``enhance`` keyword arguments from ``ZDCE_*`` variables; ValueError naming a bad one."""
    from zdce_core import contract, params

    def setting(name: str, parse, default):
        text = environ.get(name)
        return default if text is None else parse(text, name=name)

    return {
        "steps": setting("ZDCE_STEPS", params.parse_steps, contract.DEFAULT_STEPS),
        "strength": setting("ZDCE_STRENGTH", params.parse_strength, contract.DEFAULT_STRENGTH),
        "denoise": setting("ZDCE_DENOISE", params.parse_denoise, contract.DEFAULT_DENOISE),
    }


def main(argv: list[str] | None = None) -> int:
    """Enhance ``argv[0]`` into ``argv[1]`` (PNG); one-line error naming ``argv[2]`` and exit 1 on failure."""
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) not in (2, 3):
        print("usage: python -m zdce_plugins.imagemagick.delegate INPUT OUTPUT [NAME]", file=sys.stderr)
        return 2
    source, target = argv[:2]
    name = argv[2] if len(argv) == 3 else source
    if not os.path.exists(source):
        # ImageMagick's temporary is a link to the file the user named: say what is wrong with that file
        # (missing, or itself a broken link), not with the temporary.
        from pathlib import Path

        from zdce_core.io.images import file_problem

        print(f"zdce delegate: {file_problem(Path(name)) or 'no such file'}: {name}", file=sys.stderr)
        return 1
    try:
        from zdce_core.app.console import mute_codec_loggers
        from zdce_core.threads import configure_command_process

        configure_command_process()  # before NumPy loads
        mute_codec_loggers()
        options = settings(os.environ)
        from zdce_core import enhance
        from zdce_core.io.images import read_photo, write_photo

        photo = read_photo(source)
        out = enhance(photo.array, dtype=photo.array.dtype.type, **options)
        write_photo(target, out, photo.metadata, fmt="PNG", uncompressed=True)
    except (ImportError, OSError, ValueError, TypeError, RuntimeError, MemoryError) as exc:
        # ImportError: the interpreter in delegates.xml no longer has zdce; reinstall the delegate.
        message = str(exc).replace(source, name)
        if name not in message:
            message = f"{name}: {message}"
        from zdce_core.app.console import say

        say(f"zdce delegate: {message}")  # escaped: a file name cannot add lines to ImageMagick's report
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
