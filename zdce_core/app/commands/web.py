"""``zdce web``: serve the in-browser page (``web/``) and the exported enhancer on this computer only."""

from __future__ import annotations

import argparse
import functools
import tempfile
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

from .options import bounded

PAGE = Path(__file__).resolve().parents[3] / "web"
"""The page's folder in a source checkout (the page is not part of the installed package)."""

MODEL_NAME = "zdce.onnx"
"""The name the page loads the graph by (``MODEL_URL`` in ``web/app.js``)."""

RUNTIME = ("ort.wasm.min.mjs", "ort-wasm-simd-threaded.mjs", "ort-wasm-simd-threaded.wasm")
"""onnxruntime-web's files the page loads from ``web/vendor/`` (``scripts/setup-web.sh`` puts them there)."""


def register(sub, name: str, help: str) -> None:
    p = sub.add_parser(
        name,
        help=help,
        description=(
            "Serve the in-browser page on this computer: the photo is enhanced inside the browser by "
            "onnxruntime-web and never uploaded. The model is exported for the page when the server starts. "
            "Needs zdce[onnx] and the page's runtime (bash scripts/setup-web.sh). See docs/onnx.md."
        ),
        epilog="example: zdce web   (then open http://127.0.0.1:8000/)",
    )
    p.add_argument("--port", type=bounded(0, 65535), default=8000, help="port to listen on (0: any free port)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default: this computer only)")
    p.add_argument("--model", type=Path, metavar="FILE",
                   help="weights instead of the bundled model: .npz (zdce export) or .pt (zdce train; needs torch)")
    p.set_defaults(func=run)


class PageHandler(SimpleHTTPRequestHandler):
    """Static files of the page, the model from its own file, and the headers that let the runtime use threads."""

    extensions_map = {
        **SimpleHTTPRequestHandler.extensions_map,
        ".mjs": "text/javascript",
        ".js": "text/javascript",
        ".wasm": "application/wasm",
        ".onnx": "application/octet-stream",
    }

    def __init__(self, *args, model: Path, **kwargs):
        self.model = model
        super().__init__(*args, **kwargs)

    def translate_path(self, path: str) -> str:
        if urlsplit(path).path == f"/{MODEL_NAME}":
            return str(self.model)
        return super().translate_path(path)

    def end_headers(self) -> None:
        # Cross-origin isolation: WebAssembly threads need SharedArrayBuffer, which only such a page gets.
        self.send_header("Cross-Origin-Opener-Policy", "same-origin")
        self.send_header("Cross-Origin-Embedder-Policy", "require-corp")
        self.send_header("Cache-Control", "no-store")
        super().end_headers()

    def log_message(self, format: str, *args) -> None:
        pass  # a request log would bury the one line that says where the page is


def run(args: argparse.Namespace) -> int:
    from ...export import save_onnx
    from ...weights import bundled_path, load_model

    missing = [name for name in RUNTIME if not (PAGE / "vendor" / name).is_file()]
    if not (PAGE / "index.html").is_file():
        raise ValueError(f"{PAGE}: the page is not there; zdce web serves the web/ folder of a zdce source checkout")
    if missing:
        raise ValueError(f"{PAGE / 'vendor'}: onnxruntime-web is not installed ({', '.join(missing)}); run: bash scripts/setup-web.sh")
    net = load_model(args.model or bundled_path())
    with tempfile.TemporaryDirectory(prefix="zdce-web-") as tmp:
        model = Path(tmp) / MODEL_NAME
        save_onnx(net, model)
        handler = functools.partial(PageHandler, directory=str(PAGE), model=model)
        with ThreadingHTTPServer((args.host, args.port), handler) as server:
            host, port = server.server_address[:2]
            print(f"serving the page at http://{host}:{port}/ (Ctrl-C stops)", flush=True)
            server.serve_forever()
    return 0
