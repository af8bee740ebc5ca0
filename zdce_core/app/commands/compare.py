"""``zdce compare PHOTO... -o sheet.png``: a sheet a person can judge."""

from __future__ import annotations

import argparse


def register(sub, name: str, help: str) -> None:
    p = sub.add_parser(
        name,
        help=help,
        epilog="example: zdce compare dark1.jpg dark2.png -o sheet.png",
    )
    p.add_argument("photos", nargs="+", help="photos, one row each")
    p.add_argument("-o", "--output", required=True, help="the sheet (PNG or JPEG)")
    p.add_argument("--height", type=int, default=240, help="row height in pixels (default 240)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ...io.images import output_format
    from ...io.sheet import save_sheet
    from ..sheet import render_sheet

    output_format(args.output)  # an unknown extension fails before any photo is enhanced
    save_sheet(render_sheet(args.photos, height=args.height), args.output)
    print(f"wrote {args.output}")
    return 0
