"""``zdce export [MODEL] -o OUT``: weights as ``.npz`` for inference without torch, or the whole enhancer as ``.onnx``."""

from __future__ import annotations

import argparse
from pathlib import Path

FORMATS = (".npz", ".onnx")


def register(sub, name: str, help: str) -> None:
    p = sub.add_parser(
        name,
        help=help,
        description=(
            "Write weights in another format; the format follows the output's extension. "
            ".npz: the weights --model and load_model() read with NumPy alone. "
            ".onnx: the whole enhancer as one ONNX graph (box reduction, key, DCE-Net, guard, upsampling, "
            "curve steps) for ONNX Runtime, onnxruntime-web or any ONNX runtime; needs the onnx package "
            "(pip install 'zdce[onnx]'), not torch. See docs/onnx.md."
        ),
        epilog="examples: zdce export -o zdce.onnx   |   zdce export my.pt -o my.npz",
    )
    p.add_argument("model", type=Path, nargs="?",
                   help="a .pt checkpoint from zdce train (needs torch) or .npz weights (default: the bundled model)")
    p.add_argument("-o", "--output", type=Path, required=True, help="the .npz or .onnx file to write")
    p.add_argument("--network-only", action="store_true",
                   help="with .onnx: DCE-Net alone (planes in, curve maps out) for runtimes that apply the curves themselves")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ...weights import bundled_path, check_state, load_model, load_torch_state, save_npz

    suffix = args.output.suffix.lower()
    if suffix not in FORMATS:
        raise ValueError(f"{args.output}: the output must end in {' or '.join(FORMATS)} (the format follows the extension)")
    if args.network_only and suffix != ".onnx":
        raise ValueError(f"{args.output}: --network-only writes an ONNX graph; name a .onnx output")
    source = args.model or bundled_path()
    if args.output.exists() and args.output.resolve() == source.resolve():
        raise ValueError(f"{args.output}: refusing to overwrite the input; choose another --output")
    if suffix == ".npz":
        state = load_torch_state(source) if source.suffix.lower() != ".npz" else load_model(source).state
        save_npz(check_state(state, source), args.output)
    else:
        try:
            from ...export import save_onnx
        except ImportError:
            raise ValueError(f"{args.output}: writing ONNX needs the onnx package: pip install 'zdce[onnx]'") from None
        save_onnx(load_model(source), args.output, network_only=args.network_only)
    print(f"wrote {args.output}")
    return 0
