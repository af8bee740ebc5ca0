"""``zdce export MODEL.pt -o MODEL.npz``: weights from ``zdce train`` for inference without torch."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(sub, name: str, help: str) -> None:
    p = sub.add_parser(
        name,
        help=help,
        description=(
            "Convert a .pt checkpoint (final weights or a .state.pt) to the .npz weights that "
            "--model and load_model() read with NumPy alone. ONNX is not offered: torch's "
            "exporters need the onnx or onnxscript package, which zdce does not depend on."
        ),
        epilog="example: zdce export my.pt -o my.npz",
    )
    p.add_argument("model", type=Path, help="the .pt checkpoint")
    p.add_argument("-o", "--output", type=Path, required=True, help="the .npz file to write")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ...weights import load_torch_state, save_npz

    if args.output.suffix.lower() != ".npz":
        raise ValueError(f"{args.output}: the output must end in .npz (the only format zdce exports)")
    if args.output.exists() and args.output.resolve() == args.model.resolve():
        raise ValueError(f"{args.output}: refusing to overwrite the input; choose another --output")
    save_npz(load_torch_state(args.model), args.output)
    print(f"wrote {args.output}")
    return 0
