"""Speed and memory of the engine on real photo sizes, against the JPEG round-trip floor.

Usage::

    python benchmarks/bench.py [--sizes 0.24 2 8.3 24 48] [--sources synthetic real]
                               [--full-max-mp 50] [--no-fidelity]

For each size and source, three cases each run in a fresh interpreter, so
that every peak RSS is that of a whole process doing one job:

- ``fast``: ``enhance(rgb, dtype=np.uint8)`` (curve maps estimated on a small copy);
- ``full``: the same with the network at full resolution (``estimate_size=None``),
  skipped with a note where its estimated memory exceeds what is available;
- ``floor``: Pillow decoding the JPEG and encoding the result at quality 95,
  the least any photo tool must spend on the same file.

Times are the best of a few runs after an untimed warm-up (model load,
compiled-kernel cache); the decode of the input is not part of the engine
times. Then it prints the fidelity of the fast path against the
full-resolution path (PSNR and SSIM, scikit-image) on the shared ``hires``
photos. The output is a markdown table for README, "Speed and memory".
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "test"
HIRES = DATA / "hires"

SIZES = {"0.24": (600, 400), "2": (1920, 1080), "8.3": (3840, 2160), "24": (6000, 4000), "48": (8000, 6000)}
# Real photos at their own size where the shared data has one; larger sizes
# are the 4K street photo resampled up, which keeps real image content.
REAL = {"0.24": DATA / "lol15-low" / "1.png", "2": HIRES / "scene-1920x1080.png"}
REAL_FALLBACK = HIRES / "street-3840x2160.png"

# Bytes per pixel of the full-resolution path: the 24 float32 curve maps and
# the two copies strength="auto" makes of them, plus the input and output,
# plus room for one network tile and the runtime.
FULL_BYTES_PER_PIXEL = 3 * 24 * 4 + 3 + 3
FULL_FIXED_BYTES = 1.5e9


def synthetic(width: int, height: int) -> np.ndarray:
    """A dark scene: smooth illumination falloff, coloured shapes, texture and sensor noise."""
    rng = np.random.default_rng(0)
    y = np.linspace(-1, 1, height, dtype=np.float32)[:, None]
    x = np.linspace(-1.5, 1.5, width, dtype=np.float32)[None, :]
    light = 0.02 + 0.25 * np.exp(-((x - 0.4) ** 2 + (y + 0.2) ** 2) * 2.5)
    texture = 0.5 + 0.5 * np.sin(x * 40) * np.cos(y * 25)
    out = np.empty((height, width, 3), np.uint8)
    for c, tint in enumerate((1.0, 0.8, 0.6)):
        band = light * tint * (0.6 + 0.4 * texture)
        band += rng.normal(0, 0.008, band.shape).astype(np.float32)
        out[..., c] = np.clip(band * 255 + 0.5, 0, 255).astype(np.uint8)
    return out


def real(size: str, width: int, height: int) -> np.ndarray:
    path = REAL.get(size, REAL_FALLBACK)
    image = Image.open(path).convert("RGB")
    if image.size != (width, height):
        image = image.resize((width, height), Image.Resampling.LANCZOS)
    return np.asarray(image)


def peak_rss_mb() -> float:
    """This process's peak resident memory (VmHWM: unlike ru_maxrss, not inherited across exec)."""
    with open("/proc/self/status") as status:
        line = next(line for line in status if line.startswith("VmHWM:"))
    return int(line.split()[1]) / 1024


def best_of(job, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        job()
        times.append(time.perf_counter() - start)
    return min(times)


def run_case(kind: str, jpeg: Path, repeat: int, threads: int | None) -> dict[str, float]:
    """One case in this process: the best wall time of ``repeat`` runs and the peak RSS."""
    if kind == "floor":

        def job():
            rgb = np.asarray(Image.open(jpeg).convert("RGB"))
            Image.fromarray(rgb).save(io.BytesIO(), "JPEG", quality=95)

        job()
        return {"seconds": best_of(job, repeat), "peak_rss_mb": peak_rss_mb()}

    from zdce_core import enhance

    options = {"dtype": np.uint8, "threads": threads}
    if kind == "full":
        options["estimate_size"] = None
    rgb = np.asarray(Image.open(jpeg).convert("RGB"))
    enhance(rgb[:64, :64].copy(), **options)
    return {"seconds": best_of(lambda: enhance(rgb, **options), repeat), "peak_rss_mb": peak_rss_mb()}


def fidelity() -> list[tuple[str, str, float, float]]:
    """PSNR (dB) and SSIM of the fast path against the full-resolution path, per hires photo.

    Both with the default ``strength="auto"`` and with the trained curves
    applied in full (``strength=1``), which shows the curve maps' own fidelity.
    """
    from skimage.metrics import peak_signal_noise_ratio, structural_similarity

    from zdce_core import enhance

    rows = []
    for path in sorted(HIRES.glob("*.png")):
        rgb = np.asarray(Image.open(path).convert("RGB"))
        for strength in ("auto", 1.0):
            fast = enhance(rgb, strength=strength)
            full = enhance(rgb, strength=strength, estimate_size=None)
            psnr = peak_signal_noise_ratio(full, fast, data_range=1.0)
            ssim = structural_similarity(full, fast, data_range=1.0, channel_axis=-1)
            rows.append((path.name, str(strength), float(psnr), float(ssim)))
    return rows


def in_fresh_process(*args: str) -> dict:
    done = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True)
    if done.returncode:
        return {"error": (done.stderr.strip().splitlines() or ["failed"])[-1]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def available_bytes() -> float:
    with open("/proc/meminfo") as info:
        fields = dict(line.split(":", 1) for line in info)
    return float(fields["MemAvailable"].split()[0]) * 1024


def machine() -> str:
    import torch

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as info:
            cpu = next(line.split(":", 1)[1].strip() for line in info if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    from zdce_core.threads import available_cores

    return (
        f"{cpu}, {available_cores()} cores, {available_bytes() / 2**30:.0f} GiB available; "
        f"Python {platform.python_version()}, torch {torch.__version__}, {platform.platform()}"
    )


def cell(result: dict | None) -> str:
    if result is None:
        return "skipped"
    if "error" in result:
        return f"failed: {result['error']}"
    return f"{result['seconds']:.3f} s, {result['peak_rss_mb']:.0f} MB"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", default=list(SIZES), choices=list(SIZES), metavar="MP")
    parser.add_argument("--sources", nargs="+", default=["synthetic", "real"], choices=["synthetic", "real"])
    parser.add_argument("--full-max-mp", type=float, default=50.0, help="skip the full-resolution path above this")
    parser.add_argument("--threads", type=int, help="threads for enhance (default: all cores)")
    parser.add_argument("--no-fidelity", action="store_true")
    parser.add_argument("--case", choices=["fast", "full", "floor", "fidelity"], help=argparse.SUPPRESS)
    parser.add_argument("--jpeg", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--repeat", type=int, default=3, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.case == "fidelity":
        print(json.dumps({"rows": fidelity()}))
        return
    if args.case:
        print(json.dumps(run_case(args.case, args.jpeg, args.repeat, args.threads or None)))
        return

    print(f"Machine: {machine()}; enhance threads: {args.threads or 'all cores'}\n")
    print("| photo | size | fast path | full resolution | floor (JPEG decode + encode q95) | fast / floor |")
    print("|---|---|---|---|---|---|")
    notes, skipped_by_option = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for size in args.sizes:
            width, height = SIZES[size]
            pixels = width * height
            repeat = "5" if pixels <= 10e6 else "1"
            for source in args.sources:
                rgb = synthetic(width, height) if source == "synthetic" else real(size, width, height)
                jpeg = Path(tmp) / f"{source}-{size}.jpg"
                Image.fromarray(rgb).save(jpeg, quality=95)
                del rgb
                common = ("--jpeg", str(jpeg), "--threads", str(args.threads or 0))
                fast = in_fresh_process("--case", "fast", *common, "--repeat", repeat)
                floor = in_fresh_process("--case", "floor", *common, "--repeat", repeat)
                need = pixels * FULL_BYTES_PER_PIXEL + FULL_FIXED_BYTES
                full = None
                if pixels / 1e6 > args.full_max_mp:
                    skipped_by_option.append(f"{source} {size} MP")
                elif need > available_bytes():
                    notes.append(f"{source} {size} MP full resolution: needs ~{need / 2**30:.1f} GiB, more than available")
                else:
                    full = in_fresh_process("--case", "full", *common, "--repeat", "1")
                ratio = fast["seconds"] / floor["seconds"] if "seconds" in fast and "seconds" in floor else float("nan")
                print(
                    f"| {source} | {width}x{height} ({size} MP) | {cell(fast)} | {cell(full)} | {cell(floor)} | {ratio:.1f}x |",
                    flush=True,
                )
    if skipped_by_option:
        notes.append(f"full resolution skipped by --full-max-mp {args.full_max_mp:g}: {', '.join(skipped_by_option)}")
    for note in notes:
        print(f"\n- {note}")
    print(f"\n- load average at the end: {', '.join(f'{v:.1f}' for v in os.getloadavg())}")

    if not args.no_fidelity:
        result = in_fresh_process("--case", "fidelity")
        print("\n| hires photo | strength | PSNR fast vs full (dB) | SSIM fast vs full |\n|---|---|---|---|")
        for name, strength, psnr, ssim in result.get("rows", []):
            print(f"| {name} | {strength} | {psnr:.2f} | {ssim:.4f} |")
        if "error" in result:
            print(f"\nfidelity failed: {result['error']}")


if __name__ == "__main__":
    main()
