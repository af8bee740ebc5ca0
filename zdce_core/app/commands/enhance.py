"""``zdce enhance IN [-o OUT]``: one photo, written beside the original by default."""

from __future__ import annotations

import argparse
import sys
from importlib import resources
from pathlib import Path

from ...io.atomic import remove_stale
from ..batch import FAILED, Job, check_folder, process
from ..console import quiet_decoders, say
from .options import add_engine_options, add_max_pixels_option, engine_settings


def sample_photo() -> Path:
    return Path(str(resources.files("zdce_core.samples") / "night-street.jpg"))


def register(sub, name: str, help: str) -> None:
    p = sub.add_parser(
        name,
        help=help,
        description="Enhance one photo. The original is never overwritten.",
        epilog="example: zdce enhance night.jpg --steps 6   (writes night_enhanced.jpg)",
    )
    p.add_argument("input", nargs="?", help="photo to enhance (any format Pillow reads)")
    p.add_argument("-o", "--output", help="where to write; the format follows the extension, and folders in the "
                   "path that do not exist yet are created (default IN_enhanced.EXT beside IN)")
    p.add_argument("--sample", action="store_true", help="enhance the bundled sample photo into the current folder")
    add_engine_options(p)
    add_max_pixels_option(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ...io.images import output_format

    if args.sample == bool(args.input):
        raise ValueError("give either a photo to enhance or --sample")
    source = sample_photo() if args.sample else Path(args.input)
    default_dir = Path.cwd() if args.sample else source.parent
    target = Path(args.output) if args.output else default_dir / f"{source.stem}_enhanced{source.suffix}"
    if target.exists() and target.resolve() == source.resolve():
        raise ValueError(f"{target}: refusing to overwrite the input; choose another --output")
    output_format(target)  # an extension no writer knows is a usage error, found before the photo is read
    check_folder(target.parent, "the folder of --output")
    settings = engine_settings(args, max_pixels=args.max_pixels)
    remove_stale(target.parent)
    with quiet_decoders():
        result = process(Job(source, target), settings)
    if result.status == FAILED:
        say(f"zdce enhance: {source}: {result.reason}")
        return 1
    say(f"wrote {target}", sys.stdout)
    return 0
