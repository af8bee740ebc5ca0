"""The ONNX export, engine and page, measured beside the NumPy engine; prints figures for docs/onnx.md.

Usage::

    python benchmarks/onnx_speed.py [--repeat 3] [--skip-browser]

- **Export size**: the whole-enhancer graph and the network-only graph, in bytes.
- **1080p and 4K in process**: ``enhance(rgb, dtype=np.uint8, denoise=False)`` on
  the shared 1920x1080 and 3840x2160 photos with ``engine="numpy"`` and
  ``engine="onnx"`` (ONNX Runtime, CPU), alternating, best of ``--repeat``, all
  cores; then both engines with the default denoising. Sessions are made before
  timing (the first ONNX call builds one).
- **The page, 12 MP**: the 4K photo resized to 4000x3000 PNG, given to the page
  (``zdce web``) in headless Chromium (Debian's ``/usr/bin/chromium``, Playwright);
  the page's own time for the graph and the 8-bit conversion, and the time from
  handing it the file to the result being drawn (decoding included).

Everything runs on this machine side by side: the load average is printed with the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
HIRES = ROOT.parent / "shared" / "data" / "test" / "hires"
sys.path.insert(0, str(ROOT / "tests"))


def best_of(repeat: int, *calls) -> list[float]:
    """Best wall time of each call over ``repeat`` alternating rounds."""
    times = [[] for _ in calls]
    for _ in range(repeat):
        for slot, call in zip(times, calls):
            start = time.perf_counter()
            call()
            slot.append(time.perf_counter() - start)
    return [min(slot) for slot in times]


def export_sizes(folder: Path) -> dict[str, int]:
    from zdce_core.export import save_onnx
    from zdce_core.weights import default_model

    sizes = {}
    for name, network_only in (("enhancer", False), ("network_only", True)):
        path = folder / f"{name}.onnx"
        save_onnx(default_model(), path, network_only=network_only)
        sizes[name] = path.stat().st_size
    return sizes


def engines(repeat: int) -> dict[str, dict[str, float]]:
    from zdce_core import enhance

    figures = {}
    for label, name in (("1080p", "scene-1920x1080.png"), ("4K", "street-3840x2160.png")):
        rgb = np.asarray(Image.open(HIRES / name).convert("RGB"))
        for denoise in (False, True):
            run = {e: (lambda e=e: enhance(rgb, dtype=np.uint8, denoise=denoise, engine=e)) for e in ("numpy", "onnx")}
            for call in run.values():
                call()  # sessions, caches, the C kernel's first pages
            numpy_s, onnx_s = best_of(repeat, run["numpy"], run["onnx"])
            figures[f"{label}{'' if not denoise else ' denoise'}"] = {"numpy_s": round(numpy_s, 3), "onnx_s": round(onnx_s, 3)}
    return figures


def page_12mp(folder: Path) -> dict[str, float]:
    from playwright.sync_api import sync_playwright
    from test_web import CHROMIUM, CHROMIUM_ARGS

    photo = folder / "photo-4000x3000.png"
    Image.open(HIRES / "street-3840x2160.png").convert("RGB").resize((4000, 3000), Image.Resampling.LANCZOS).save(photo)
    server = subprocess.Popen([sys.executable, "-m", "zdce_core", "web", "--port", "0"], stdout=subprocess.PIPE, text=True)
    try:
        url = server.stdout.readline().split()[4]
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
            page = browser.new_page()
            page.goto(url)
            page.wait_for_selector("body[data-state=ready]", timeout=120_000)
            threads = page.evaluate("self.crossOriginIsolated ? Math.min(4, navigator.hardwareConcurrency) : 1")
            start = time.perf_counter()
            page.set_input_files("#file", str(photo))
            page.wait_for_function("['done', 'error'].includes(document.body.dataset.state)", timeout=600_000)
            wall = time.perf_counter() - start
            state, ms = page.get_attribute("body", "data-state"), page.get_attribute("body", "data-ms")
            error = page.text_content("#error")
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=30)
    if state != "done":
        raise SystemExit(f"the page failed on the 12 MP photo: {error}")
    return {"graph_and_convert_s": round(int(ms) / 1000, 2), "file_to_result_s": round(wall, 2), "wasm_threads": threads}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--skip-browser", action="store_true")
    args = parser.parse_args()
    figures = {"cores": len(os.sched_getaffinity(0)), "load_before": round(os.getloadavg()[0], 1)}
    with tempfile.TemporaryDirectory() as tmp:
        figures["export_bytes"] = export_sizes(Path(tmp))
        print(f"export: whole enhancer {figures['export_bytes']['enhancer']} bytes, "
              f"network only {figures['export_bytes']['network_only']} bytes", flush=True)
        figures["engines"] = engines(args.repeat)
        for label, row in figures["engines"].items():
            print(f"{label:>13}: numpy {row['numpy_s']:.3f} s   onnxruntime {row['onnx_s']:.3f} s   "
                  f"({row['onnx_s'] / row['numpy_s']:.1f}x)", flush=True)
        if not args.skip_browser:
            figures["page_12mp"] = page_12mp(Path(tmp))
            page = figures["page_12mp"]
            print(f"page, 12 MP in headless Chromium ({page['wasm_threads']} wasm threads): graph and conversion "
                  f"{page['graph_and_convert_s']} s, file to result {page['file_to_result_s']} s", flush=True)
    figures["load_after"] = round(os.getloadavg()[0], 1)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
