"""Speed and memory of the engine and the command, as a user meets them; prints the figures of docs/speed.md.

Usage::

    python benchmarks/bench.py [--repeat 5] [--skip-48mp]

Everything runs on this machine side by side, so a busy machine slows every
column alike; the load average is printed with the figures.

- **4K in process**: ``enhance(rgb, dtype=np.uint8)`` with the default settings
  on a 3840x2160 photo against Pillow decoding it from JPEG and encoding the
  result (quality 95), alternating, best of ``--repeat``; the ratio is the target
  (at most 1.5x). The same frame with LOL-like noise added, with and without
  denoising (the clean frame measures as noise-free, so the filter is skipped),
  and the clean frame with the render's NumPy reference kernel, what an install
  without a C compiler runs.
- **48 MP peak memory**: one fresh process per case (8000x6000, 8-bit and
  16-bit input to same-dtype output), its peak RSS (VmHWM) and time.
- **Start-up**: ``import zdce_core``, ``zdce --help``, ``zdce plugins`` and a usage
  error, fresh processes, best of ``--repeat``.
- **First enhance**: ``zdce enhance`` of a 12 MP JPEG in a fresh process with
  empty user caches (``XDG_CACHE_HOME`` pointed at a new
  folder), then again; then ImageMagick reading it through the ``zdce:``
  delegate (installed into a temporary configuration folder), where found.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
STREET = ROOT.parent / "shared" / "data" / "test" / "hires" / "street-3840x2160.png"
ZDCE = [sys.executable, "-m", "zdce_core"]


def street(width: int, height: int) -> np.ndarray:
    """The shared 4K street photo at ``width`` x ``height`` (real content; resampled where needed)."""
    image = Image.open(STREET).convert("RGB")
    if image.size != (width, height):
        image = image.resize((width, height), Image.Resampling.LANCZOS)
    return np.asarray(image)


def peak_rss_mb() -> float:
    """This process's peak resident memory (VmHWM: unlike ru_maxrss, not inherited across exec)."""
    with open("/proc/self/status") as status:
        line = next(line for line in status if line.startswith("VmHWM:"))
    return int(line.split()[1]) / 1024


def load() -> str:
    return ", ".join(f"{v:.1f}" for v in os.getloadavg())


def four_k(jpeg: Path, repeat: int) -> dict[str, float]:
    """Best times of enhance (uint8 -> uint8, defaults) and of the JPEG round trip, interleaved."""
    from zdce_core import enhance
    from zdce_core.maths import render

    data = jpeg.read_bytes()
    rgb = np.asarray(Image.open(jpeg).convert("RGB"))
    # The street frame measures as noise-free (the filter is skipped); LOL-like noise makes it run.
    noisy = np.clip(rgb + np.random.default_rng(0).normal(0, 1.5, rgb.shape), 0, 255).round().astype(np.uint8)
    enhance(rgb[:64, :64].copy(), dtype=np.uint8)  # model load, once per process

    def floor():
        decoded = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))
        Image.fromarray(decoded).save(io.BytesIO(), "JPEG", quality=95)

    def with_reference_kernel():
        compiled, render.apply_curves = render.apply_curves, render.apply_curves_numpy
        try:
            enhance(rgb, dtype=np.uint8)
        finally:
            render.apply_curves = compiled

    cases = {
        "enhance": lambda: enhance(rgb, dtype=np.uint8),
        "floor": floor,
        "noisy": lambda: enhance(noisy, dtype=np.uint8),
        "noisy_plain": lambda: enhance(noisy, dtype=np.uint8, denoise=False),
        "reference": with_reference_kernel,
    }
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in cases}
    for _ in range(repeat):
        for name, case in cases.items():
            cpu, start = time.process_time(), time.perf_counter()
            case()
            times[name].append((time.perf_counter() - start, time.process_time() - cpu))
    result = {"kernel": render.apply_curves.__module__}
    for name, runs in times.items():
        result[name], result[f"{name}_cpu"] = min(runs)
    return result


def big(path: Path) -> dict[str, float]:
    """One 48 MP enhance in this process: seconds and the process's peak RSS."""
    from zdce_core import enhance

    rgb = np.load(path)
    start = time.perf_counter()
    out = enhance(rgb, dtype=rgb.dtype)
    seconds = time.perf_counter() - start
    assert out.shape == rgb.shape
    return {"seconds": seconds, "peak_rss_mb": peak_rss_mb()}


def in_fresh_process(*args: str) -> dict:
    done = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True)
    if done.returncode:
        return {"error": (done.stderr.strip().splitlines() or ["failed"])[-1]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(command: list[str], repeat: int, env: dict | None = None, ok: tuple[int, ...] = (0,)) -> str:
    """Best wall time of ``repeat`` runs of ``command``, with that run's CPU time (which load inflates less)."""
    best = (float("inf"), 0.0)
    for _ in range(repeat):
        cpu, start = children_cpu(), time.perf_counter()
        done = subprocess.run(command, capture_output=True, env=env)
        best = min(best, (time.perf_counter() - start, children_cpu() - cpu))
        if done.returncode not in ok:
            raise RuntimeError(f"{' '.join(map(str, command))}: exit {done.returncode}: {done.stderr.decode()[-300:]}")
    return f"{best[0]:.3f} s | {best[1]:.3f} s"


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as info:
            cpu = next(line.split(":", 1)[1].strip() for line in info if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return f"{cpu}, {os.cpu_count()} cores; Python {platform.python_version()}, NumPy {np.__version__}, {platform.platform()}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--skip-48mp", action="store_true")
    parser.add_argument("--case", choices=["4k", "big"], help=argparse.SUPPRESS)
    parser.add_argument("--input", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.case == "4k":
        print(json.dumps(four_k(args.input, args.repeat)))
        return
    if args.case == "big":
        print(json.dumps(big(args.input)))
        return

    print(f"Machine: {machine()}\nLoad average at the start: {load()}\n")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        rgb = street(3840, 2160)
        Image.fromarray(rgb).save(tmp / "4k.jpg", quality=95)
        result = in_fresh_process("--case", "4k", "--input", str(tmp / "4k.jpg"), "--repeat", str(args.repeat))
        if "error" in result:
            print(f"4K in process: failed: {result['error']}")
        else:
            ratio = result["enhance"] / result["floor"]
            print("| 3840x2160 uint8 -> uint8, defaults, in process | enhance | JPEG decode + encode q95 | ratio |")
            print("|---|---|---|---|")
            print(f"| wall, best of {args.repeat} | {result['enhance']:.3f} s | {result['floor']:.3f} s | {ratio:.2f}x |")
            print(f"| CPU of that run | {result['enhance_cpu']:.3f} s | {result['floor_cpu']:.3f} s | "
                  f"{result['enhance_cpu'] / result['floor_cpu']:.2f}x |\n")
            print("| the same frame with noise sigma 1.5/255 | wall | CPU |\n|---|---|---|")
            for name, label in (("noisy", "defaults (denoising runs)"), ("noisy_plain", "`denoise=False`")):
                print(f"| {label} | {result[name]:.3f} s | {result[name + '_cpu']:.3f} s |")
            print()
            print(f"Curve kernel in use: `{result['kernel']}`. With the NumPy reference kernel instead (an install "
                  f"without a C compiler), the clean frame: {result['reference']:.3f} s wall, "
                  f"{result['reference_cpu']:.3f} CPU-s, {result['reference'] / result['floor']:.2f}x.\n")

        if not args.skip_48mp:
            print("| 8000x6000 (48 MP) | time | peak RSS of the process |\n|---|---|---|")
            base = street(8000, 6000)
            for name, array in (("uint8 -> uint8", base), ("uint16 -> uint16", base.astype(np.uint16) * 257)):
                np.save(tmp / "big.npy", array)
                del array
                r = in_fresh_process("--case", "big", "--input", str(tmp / "big.npy"))
                cell = f"failed: {r['error']}" if "error" in r else f"{r['seconds']:.2f} s | {r['peak_rss_mb']:.0f} MB"
                print(f"| {name} | {cell} |", flush=True)
            del base
            (tmp / "big.npy").unlink()
            print()

        print(f"| fresh process (best of {args.repeat}) | wall | CPU |\n|---|---|---|")
        print(f"| `python -c pass` (the interpreter alone) | {timed([sys.executable, '-c', 'pass'], args.repeat)} |")
        print(f"| `import zdce_core` | {timed([sys.executable, '-c', 'import zdce_core'], args.repeat)} |")
        print(f"| `zdce --help` | {timed([*ZDCE, '--help'], args.repeat)} |")
        print(f"| `zdce plugins` | {timed([*ZDCE, 'plugins'], args.repeat)} |")
        print(f"| `zdce enhance --steps 9 x.jpg` (usage error) | {timed([*ZDCE, 'enhance', '--steps', '9', 'x.jpg'], args.repeat, ok=(2,))} |")

        photo = street(4000, 3000)
        Image.fromarray(photo).save(tmp / "12mp.jpg", quality=92)
        env = {**os.environ, "XDG_CACHE_HOME": str(tmp / "cache")}
        command = [*ZDCE, "enhance", str(tmp / "12mp.jpg"), "-o", str(tmp / "out.jpg")]
        first = timed(command, 1, env=env)
        later = timed(command, args.repeat, env=env)
        print(f"| `zdce enhance` 4000x3000 JPEG, first run, empty caches | {first} |")
        print(f"| `zdce enhance` 4000x3000 JPEG, later runs | {later} |")
        from zdce_plugins.imagemagick import find_executable

        magick = find_executable()
        if magick:
            prefix = tmp / "magick-config"
            subprocess.run([*ZDCE, "install", "imagemagick", "--prefix", str(prefix)], check=True, capture_output=True)
            env = {**env, "MAGICK_CONFIGURE_PATH": str(prefix)}
            through = timed([magick, f"zdce:{tmp / '12mp.jpg'}", str(tmp / "magick.jpg")], args.repeat, env=env)
            print(f"| `{Path(magick).name} zdce:photo.jpg out.jpg`, the same JPEG | {through} |")
    print(f"\nLoad average at the end: {load()}")


if __name__ == "__main__":
    main()
