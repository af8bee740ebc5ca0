"""Enhancement quality: the default (auto strength + denoise) against plain Zero-DCE and classic tools.

Not a test: prints tables for the README and the model card, and optionally
renders a picture sheet. Sets:

- ``lol15-low``, ``dicm``, ``sci`` (all three folders) and ``hires`` (box-downscaled
  by 4) from ``../shared/data/test``: no reference;
- ``well-lit``: scikit-image's bundled colour photos, where the input is the reference
  (a good default changes them little);
- ``synthetic``: well-lit photos darkened in linear light by 3, 4 and 5 stops with
  shot and read noise, the original as reference, and a second draw at 2.5, 3.5 and
  4.5 stops.

Columns: mean luminance, clipped share, noise (``estimate_sigma``); on sets
without a reference the *near-black lift* (mean output luminance of the pixels
whose input luminance is below 0.02, over the photos where those are at least
30% of the frame: a night scene should stay a night scene), the number of
photos that came back darker than they went in, and BRISQUE (the ``brisque``
package and the model it ships, lower is better; ``pip install -e '.[bench]'``),
also split into the photos the default lifts in full and those its guard
scales down or leaves alone;
with a reference PSNR, SSIM, CIEDE2000 (``skimage.color.deltaE_ciede2000``,
mean over pixels) and the worst single pair's PSNR.

Usage::

    .venv/bin/python benchmarks/quality.py [--sheet docs/images/quality-sheet.jpg] [--no-speed] [--no-brisque]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import skimage.data
from PIL import Image
from skimage.color import deltaE_ciede2000, rgb2lab
from skimage.exposure import equalize_adapthist, rescale_intensity
from skimage.metrics import peak_signal_noise_ratio, structural_similarity
from skimage.restoration import estimate_sigma

from zdce_core import enhance, enhance_steps
from zdce_core.maths.estimate import box_reduce, network_input
from zdce_core.maths.exposure import darkness, key
from zdce_core.maths.resample import LUMA
from zdce_core.io.images import read_image

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "test"
NO_REFERENCE_SETS = {
    "lol15-low": "lol15-low/*.png",
    "dicm": "dicm/*.jpg",
    "sci": "sci/*/*.*",
    "hires/4": "hires/*.png",
}
WELL_LIT = ("astronaut", "chelsea", "coffee", "rocket", "motorcycle")
SYNTHETIC_SOURCES = ("astronaut", "chelsea", "coffee", "motorcycle")
STOPS = (3, 4, 5)
# Sensor model of the synthetic pairs: electrons at full scale for the normal
# exposure, and read noise in electrons; chosen so that the dark inputs carry
# about the noise measured on the LOL frames (estimate_sigma ~0.006-0.007).
FULL_WELL, READ_NOISE = 8000.0, 2.0
CLIP = 0.99
NEAR_BLACK, NEAR_BLACK_SHARE = 0.02, 0.3
BRISQUE_METHODS = ("CLAHE", "plain Zero-DCE", "default")  # about 1 s per image each: the ones compared
MODEL = None  # the weights measured; None: the bundled checkpoint (main's --model sets it)
PSNR_CAP = 60.0  # an unchanged image would count as infinite


# -- data -------------------------------------------------------------------------

def _bundled(name: str) -> np.ndarray:
    return skimage.data.stereo_motorcycle()[0] if name == "motorcycle" else getattr(skimage.data, name)()


def _srgb_to_linear(v: np.ndarray) -> np.ndarray:
    return np.where(v <= 0.04045, v / 12.92, ((v + 0.055) / 1.055) ** 2.4)


def _linear_to_srgb(v: np.ndarray) -> np.ndarray:
    v = np.clip(v, 0.0, 1.0)
    return np.where(v <= 0.0031308, 12.92 * v, 1.055 * v ** (1 / 2.4) - 0.055)


def darken(rgb: np.ndarray, stops: float, rng: np.random.Generator) -> np.ndarray:
    """``rgb`` (uint8) exposed ``stops`` stops shorter: scaled in linear light, shot and read noise, uint8."""
    electrons = _srgb_to_linear(rgb / 255.0) * (FULL_WELL / 2.0**stops)
    noisy = rng.poisson(electrons) + rng.normal(0.0, READ_NOISE, electrons.shape)
    return np.round(_linear_to_srgb(noisy / FULL_WELL) * 255).astype(np.uint8)


def _downscale(rgb: np.ndarray, factor: int) -> np.ndarray:
    return np.round(box_reduce(np.ascontiguousarray(rgb[..., :3]), factor) * 255).astype(np.uint8)


def no_reference_set(pattern: str) -> Iterator[np.ndarray]:
    for path in sorted(DATA.glob(pattern)):
        image = read_image(path)
        if image.dtype != np.uint8:
            image = np.round(image / 257.0).astype(np.uint8)
        if image.ndim == 2:
            image = np.repeat(image[..., None], 3, axis=-1)
        yield _downscale(image, 4) if pattern.startswith("hires") else np.ascontiguousarray(image[..., :3])


def synthetic_pairs(seed: int = 0, stops: tuple[float, ...] = STOPS) -> list[tuple[np.ndarray, np.ndarray]]:
    """``(dark, reference)`` uint8 pairs, reproducible from ``seed``."""
    rng = np.random.default_rng(seed)
    return [(darken(_bundled(name), n, rng), _bundled(name)) for name in SYNTHETIC_SOURCES for n in stops]


# -- methods ----------------------------------------------------------------------

def _float(rgb: np.ndarray) -> np.ndarray:
    return rgb.astype(np.float32) / 255


def autocontrast(rgb: np.ndarray) -> np.ndarray:
    """Stretch the 0.5-99.5 percentile range of all channel values to [0, 1] (hue kept)."""
    x = _float(rgb)
    return rescale_intensity(x, in_range=tuple(np.percentile(x, (0.5, 99.5))), out_range=(0.0, 1.0))


METHODS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "input": _float,
    "gamma 0.4": lambda rgb: _float(rgb) ** 0.4,
    "autocontrast": autocontrast,
    "CLAHE": lambda rgb: equalize_adapthist(rgb).astype(np.float32),
    "plain Zero-DCE": lambda rgb: enhance(rgb, strength=1.0, denoise=False),
    "default": enhance,
}


# -- measures ---------------------------------------------------------------------

def luminance(x: np.ndarray) -> float:
    return float((x @ LUMA).mean())


def clipped(x: np.ndarray) -> float:
    """Fraction of pixels with any channel at or above :data:`CLIP`."""
    return float((x >= CLIP).any(axis=-1).mean())


def noise(x: np.ndarray) -> float:
    return float(estimate_sigma(x, channel_axis=-1, average_sigmas=True))


def near_black_lift(image: np.ndarray, out: np.ndarray) -> float:
    """Mean output luminance of the pixels darker than :data:`NEAR_BLACK` in the input; NaN if they are too few."""
    dark = (_float(image) @ LUMA) < NEAR_BLACK
    if dark.mean() < NEAR_BLACK_SHARE:
        return float("nan")
    return float((out @ LUMA)[dark].mean())


class _Brisque:
    """BRISQUE scores from the ``brisque`` package (its bundled SVM model; nothing is downloaded)."""

    def __init__(self):
        from brisque import BRISQUE

        class Scorer(BRISQUE):
            # brisque 0.2.0 converts 1-element arrays with float(), which NumPy 2 refuses.
            def scale_features(self, features):
                return super().scale_features([np.asarray(f, dtype=np.float64).item() for f in features])

        self.scorer = Scorer(url=False)

    def __call__(self, out: np.ndarray) -> float:
        return float(self.scorer.score(np.clip(out, 0, 1).astype(np.float64)))


def measures(image: np.ndarray, out: np.ndarray, reference: np.ndarray | None, brisque=None) -> list[float]:
    row = [luminance(out), clipped(out), noise(out)]
    if reference is None:
        darker = luminance(out) < luminance(_float(image)) - 1e-4
        row += [near_black_lift(image, out), float(darker), brisque(out) if brisque else float("nan")]
    else:
        ref, result = _float(reference), np.clip(out, 0, 1).astype(np.float32)
        row += [
            min(PSNR_CAP, peak_signal_noise_ratio(ref, result, data_range=1.0)),
            structural_similarity(ref, result, data_range=1.0, channel_axis=-1),
            float(deltaE_ciede2000(rgb2lab(ref), rgb2lab(result)).mean()),
        ]
    return row


def method_table(
    title: str, pairs: list[tuple[np.ndarray, np.ndarray | None]], brisque=None
) -> dict[str, np.ndarray]:
    """Print and return the measures of every method over ``pairs`` (reference may be None)."""
    has_ref = pairs[0][1] is not None
    header = f"{'method':16s} {'luminance':>9s} {'clipped%':>8s} {'noise':>7s}" + (
        f" {'PSNR dB':>8s} {'SSIM':>6s} {'dE2000':>6s} {'worst dB':>8s}" if has_ref
        else f" {'black lift':>10s} {'darker':>6s} {'BRISQUE':>7s}"
    )
    print(f"\n## {title} ({len(pairs)} images)\n{header}")
    result = {}
    for name, method in METHODS.items():
        scorer = brisque if name in BRISQUE_METHODS else None
        rows = np.array([measures(image, method(image), reference, scorer) for image, reference in pairs])
        result[name] = rows
        mean = rows.mean(axis=0)
        line = f"{name:16s} {mean[0]:9.3f} {100 * mean[1]:8.2f} {mean[2]:7.4f}"
        if has_ref:
            line += f" {mean[3]:8.2f} {mean[4]:6.3f} {mean[5]:6.2f} {rows[:, 3].min():8.2f}"
        else:
            lifts = rows[:, 3][~np.isnan(rows[:, 3])]
            lift = f"{lifts.mean():.3f} ({len(lifts)})" if len(lifts) else "-"
            score = f"{np.nanmean(rows[:, 5]):7.2f}" if scorer else f"{'-':>7s}"
            line += f" {lift:>10s} {int(rows[:, 4].sum()):6d} {score}"
        print(line)
    if not has_ref and brisque is not None:
        _brisque_by_guard([image for image, _ in pairs], result)
    return result


def _brisque_by_guard(images: list[np.ndarray], result: dict[str, np.ndarray]) -> None:
    """BRISQUE means over the photos the default lifts in full and over those its guard scales down or leaves alone."""
    full = np.array([darkness(network_input(image)[1]) == 1.0 for image in images])

    def mean(scores: np.ndarray) -> str:
        return f"{scores.mean():.2f}" if len(scores) else "-"

    parts = ", ".join(f"{name} {mean(result[name][full, 5])} / {mean(result[name][~full, 5])}" for name in BRISQUE_METHODS)
    print(f"BRISQUE, photos lifted in full ({int(full.sum())}) / guarded ({int((~full).sum())}): {parts}")


def mixed_table(images: list[np.ndarray]) -> None:
    """Dark scenes with bright parts (key <= 0.15, 99th luminance percentile >= 0.9): shadows and highlights."""
    mixed = []
    for image in images:
        luma = _float(image) @ LUMA
        if key(_float(image)) <= 0.15 and np.percentile(luma, 99) >= 0.9:
            mixed.append((image, luma))
    print(f"\n## mixed scenes from dicm + sci ({len(mixed)} images: key <= 0.15, 1% of pixels at luminance >= 0.9)")
    print(f"{'method':16s} {'shadows':>8s} {'highlights':>10s} {'clipped%':>8s}   (mean luminance of the darkest half / brightest 2% of input pixels)")
    for name in ("input", "plain Zero-DCE", "default"):
        rows = []
        for image, luma in mixed:
            out_luma = METHODS[name](image) @ LUMA
            dark, bright = luma <= np.median(luma), luma >= np.percentile(luma, 98)
            rows.append([out_luma[dark].mean(), out_luma[bright].mean(), clipped(METHODS[name](image))])
        m = np.mean(rows, axis=0)
        print(f"{name:16s} {m[0]:8.3f} {m[1]:10.3f} {100 * m[2]:8.2f}")


def steps_table(title: str, images: list[np.ndarray]) -> None:
    """Mean luminance and clipping at steps 4 and 8, and whether luminance rises with steps on every image."""
    print(f"\n### {title}: steps (mean over {len(images)} images)")
    print(f"{'settings':28s} {'lum in':>6s} {'clip% in':>8s} {'lum s4':>6s} {'clip% s4':>8s} {'lum s8':>6s} {'clip% s8':>8s} monotone")
    for label, options in (("default", {}), ("strength=1.0, no denoise", {"strength": 1.0, "denoise": False})):
        rows, monotone = [], True
        for image in images:
            outs = enhance_steps(image, model=MODEL, **options)
            curve = [luminance(out) for out in outs]
            monotone &= all(b >= a for a, b in zip(curve, curve[1:]))
            x = _float(image)
            rows.append([luminance(x), clipped(x), curve[3], clipped(outs[3]), curve[7], clipped(outs[7])])
        m = np.mean(rows, axis=0)
        print(f"{label:28s} {m[0]:6.3f} {100 * m[1]:8.2f} {m[2]:6.3f} {100 * m[3]:8.2f} {m[4]:6.3f} {100 * m[5]:8.2f} "
              f"{'yes' if monotone else 'NO'}")


def speed(repeats: int = 5) -> None:
    """3840x2160 uint8 -> uint8 on 2 threads: the cost of denoise on a clean and on a noisy frame."""
    path = DATA / "hires" / "street-3840x2160.png"
    if not path.exists():
        return
    clean = np.ascontiguousarray(read_image(path)[..., :3])
    # The street frame measures as noise-free, so denoise has nothing to do there; add LOL-like noise.
    noisy = np.clip(clean + np.random.default_rng(0).normal(0.0, 1.5, clean.shape), 0, 255).astype(np.uint8)
    print(f"\n## speed: 3840x2160 uint8 -> uint8, threads=2, best of {repeats} runs (wall s; CPU s of all threads)")
    for frame_name, frame in (("street", clean), ("street + noise 1.5/255", noisy)):
        for label, options in (("default", {}), ("default, denoise=False", {"denoise": False})):
            enhance(frame, dtype=np.uint8, threads=2, **options)
            wall, cpu = np.inf, np.inf
            for _ in range(repeats):
                start, start_cpu = time.perf_counter(), time.process_time()
                enhance(frame, dtype=np.uint8, threads=2, **options)
                wall = min(wall, time.perf_counter() - start)
                cpu = min(cpu, time.process_time() - start_cpu)
            print(f"{frame_name:24s} {label:24s} {wall:6.3f} s  {cpu:6.3f} CPU s")


# -- picture sheet ----------------------------------------------------------------

def sheet(rows: list[np.ndarray], path: Path, width: int = 300) -> None:
    """One row per image: input, CLAHE, plain Zero-DCE, default; saved as JPEG."""
    columns = ("input", "CLAHE", "plain Zero-DCE", "default")
    tiles = []
    for image in rows:
        height = round(image.shape[0] * width / image.shape[1])
        cells = [np.clip(METHODS[name](image), 0, 1) for name in columns]
        tiles.append(np.concatenate(
            [np.asarray(Image.fromarray(np.round(c * 255).astype(np.uint8)).resize((width, height), Image.LANCZOS))
             for c in cells], axis=1))
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.concatenate(tiles, axis=0)).save(path, quality=82, optimize=True)
    print(f"\nsheet: {path} ({path.stat().st_size // 1024} KB), columns: {', '.join(columns)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sheet", type=Path, help="write a picture sheet (JPEG) here")
    parser.add_argument("--no-speed", action="store_true", help="skip the 3840x2160 timing")
    parser.add_argument("--no-brisque", action="store_true", help="skip the BRISQUE scores (about 1 s per image)")
    parser.add_argument("--model", help="weights to measure instead of the bundled checkpoint (.npz or .pt)")
    args = parser.parse_args()
    if args.model:
        from functools import partial

        from zdce_core import load_model

        global MODEL
        net = MODEL = load_model(args.model)
        METHODS["plain Zero-DCE"] = partial(enhance, strength=1.0, denoise=False, model=net)
        METHODS["default"] = partial(enhance, model=net)
    brisque = None if args.no_brisque else _Brisque()

    sets = {name: list(no_reference_set(pattern)) for name, pattern in NO_REFERENCE_SETS.items()}
    well_lit = [np.ascontiguousarray(_bundled(name)) for name in WELL_LIT]
    pairs = synthetic_pairs()

    print("# zdce quality benchmark: means per set; luminance = Rec.709 weights on encoded RGB,")
    print(f"# clipped = any channel >= {CLIP}, noise = skimage estimate_sigma (channel average)")
    for name, images in sets.items():
        method_table(name, [(image, None) for image in images], brisque)
    lit = method_table("well-lit (reference = input)", [(image, image) for image in well_lit])
    print("per image, default PSNR vs input:",
          ", ".join(f"{n} {p:.1f}" for n, p in zip(WELL_LIT, lit["default"][:, 3])))
    method_table(f"synthetic ({'/'.join(map(str, STOPS))} stops darker, shot+read noise)", pairs)
    method_table("synthetic, second draw (2.5/3.5/4.5 stops, other noise seed)", synthetic_pairs(seed=1, stops=(2.5, 3.5, 4.5)))

    mixed_table(sets["dicm"] + sets["sci"])
    for name in ("lol15-low", "dicm", "sci"):
        steps_table(name, sets[name])
    if not args.no_speed:
        speed()
    if args.sheet:
        # A LOL frame, a mixed DICM scene (lamp-lit, bright spots), a SCI night scene, a synthetic pair, rocket (dusk).
        sheet([sets["lol15-low"][4], sets["dicm"][2], sets["sci"][12], pairs[4][0], well_lit[3]], args.sheet)


if __name__ == "__main__":
    main()
