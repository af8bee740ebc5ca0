"""``zdce compare PHOTO... -o sheet.png``: a sheet a person can judge."""

from __future__ import annotations

import argparse
from pathlib import Path

from ...io.atomic import atomic_path


def register(sub) -> None:
    p = sub.add_parser(
        "compare",
        help="render original | autocontrast | gamma 0.4 | zdce steps 4 | zdce steps 8 for some photos",
        epilog="example: zdce compare dark1.jpg dark2.png -o sheet.png",
    )
    p.add_argument("photos", nargs="+", help="photos, one row each")
    p.add_argument("-o", "--output", required=True, help="the sheet (PNG or JPEG)")
    p.add_argument("--height", type=int, default=240, help="row height in pixels (default 240)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ...io.images import output_format
    from ..sheet import render_sheet

    fmt = output_format(args.output)
    sheet = render_sheet(args.photos, height=args.height)
    with atomic_path(Path(args.output)) as tmp:
        sheet.save(tmp, format=fmt, **({"quality": 88} if fmt == "JPEG" else {}))
    print(f"wrote {args.output}")
    return 0
