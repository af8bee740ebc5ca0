"""Enhancement quality: the default against plain Zero-DCE and classic tools, on sets with and without a reference.

Not a test: prints tables for docs/quality.md and the model card, and optionally
renders a picture sheet. Every measure is :mod:`zdce_core.measures`'s, on the
8-bit result a user would save (each result is rounded to 8 bits first).

Sets:

- ``dev-synth`` (``../shared/data/dev-synth``, 38 CC0 / public-domain photos
  darkened 1.5-5.5 stops, the original as reference), split by name into a
  fixed TUNE half (the names at even positions 0, 2, 4, ... of the sorted
  ``pairs.csv`` names: :data:`TUNE`) that settings may be chosen on, and a
  REPORT half (odd positions: :data:`REPORT`) that nothing is chosen on. Per
  half: mean and worst PSNR, mean SSIM and CIEDE2000 per method, and "well-lit
  originals left alone": each model's default on the ``normal/`` photo against
  itself (PSNR mean and worst, mean luminance change);
- ``lol15-low``, ``dicm``, ``sci`` (all three folders) and ``hires`` (box-downscaled
  by 4) from ``../shared/data/test``, no reference: mean luminance, noise
  (:func:`~zdce_core.measures.noise`, 8-bit levels), clipped growth (points of
  :func:`~zdce_core.measures.clipped_share`), NIQE, BRISQUE (the ``brisque``
  package and the model it ships; ``pip install -e '.[bench]'``), near-black lift
  on the night photos (:func:`~zdce_core.measures.night`; mean and max) and the
  hue shift of coloured highlights;
- ``well-lit``: scikit-image's bundled colour photos, the input as reference;
- ``synthetic``: scikit-image photos darkened in linear light by 3, 4 and 5
  stops with shot and read noise (the 12 pairs earlier settings were tuned on),
  and a second draw at 2.5, 3.5 and 4.5 stops.

Methods: ``default`` and ``strength=1`` (``strength=1.0, denoise=False``, plain
Zero-DCE) of the bundled checkpoint and of each ``--model``, CLAHE, autocontrast,
gamma 0.4, and the input itself.

``--quick`` (for tuning, a few minutes): dev-synth TUNE half, lol15 without
BRISQUE, and the night photos of dicm and sci (near-black lift, clipped growth,
hue shift).

Usage::

    .venv/bin/python benchmarks/quality.py [--model A.pt --model B.npz ...] [--quick]
        [--sheet docs/images/quality-sheet.jpg] [--no-speed] [--no-brisque]
"""

from __future__ import annotations

import argparse
import csv
import shlex
import sys
import time
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path

import numpy as np
import skimage.data
from PIL import Image
from skimage.exposure import equalize_adapthist, rescale_intensity
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from zdce_core import enhance, enhance_steps, load_model, measures
from zdce_core.io.images import read_image
from zdce_core.maths.estimate import box_reduce, network_input
from zdce_core.contract import SRGB_EXPONENT, SRGB_LINEAR_BELOW, SRGB_OFFSET, SRGB_SLOPE
from zdce_core.maths.exposure import darkness, srgb_to_linear

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
TEST = DATA / "test"
DEV_SYNTH = DATA / "dev-synth"
NO_REFERENCE_SETS = {
    "lol15-low": "lol15-low/*.png",
    "dicm": "dicm/*.jpg",
    "sci": "sci/*/*.*",
    "hires/4": "hires/*.png",
}
TUNE = (
    "bb_abstract_spiral", "bb_canyon_wren", "bb_dragonfly_on_lavender", "bb_kitten_on_lawn",
    "bb_motherboard_circuits", "bb_orange_hallway", "bb_piazza_gae_aulenti", "bb_singaporean_cityscape",
    "bb_tea_gardens", "el_Ashim_DSilva", "el_Jay_Ruzesky", "el_Photo_by_SpaceX", "el_Ryan_Schroeder",
    "ga_galliumos_2_1_architectural", "ga_galliumos_2_1_underwater", "gc_bfly", "gc_zebra",
    "qu_nasa_pia01120", "sk_chelsea",
)
"""dev-synth pairs settings may be chosen on: even positions (0, 2, 4, ...) of the names in ``pairs.csv``, sorted."""
REPORT = (
    "bb_beacon_street_sunset", "bb_casa_mila", "bb_extreme_desert_hike", "bb_lake_sherburne",
    "bb_oakland_zoo_otters", "bb_perched_osprey", "bb_roman_colosseum", "bb_solaris_grapes",
    "bb_the_spices_of_life", "el_Carmine_De_Fazio", "el_Jonas_Nilsson_Lee", "el_Rob_Bye",
    "el_Sunset_by_the_Pier", "ga_galliumos_2_1_turbines", "ga_galliumos_3_0_architectural", "gc_coffee",
    "lo_seeding_by_Clements_Engelhardt", "sk_astronaut", "sk_coffee",
)
"""dev-synth pairs nothing is chosen on: the odd positions (1, 3, 5, ...)."""
WELL_LIT = ("astronaut", "chelsea", "coffee", "rocket", "motorcycle")
SYNTHETIC_SOURCES = ("astronaut", "chelsea", "coffee", "motorcycle")
STOPS = (3, 4, 5)
# Sensor model of the synthetic pairs: electrons at full scale for the normal
# exposure, and read noise in electrons; chosen so that the dark inputs carry
# about the noise measured on the LOL frames.
FULL_WELL, READ_NOISE = 8000.0, 2.0
PSNR_CAP = 60.0  # an unchanged image would count as infinite


# -- data -------------------------------------------------------------------------

def _bundled(name: str) -> np.ndarray:
    return skimage.data.stereo_motorcycle()[0] if name == "motorcycle" else getattr(skimage.data, name)()


def _linear_to_srgb(v: np.ndarray) -> np.ndarray:
    v = np.clip(v, 0.0, 1.0)
    knee = SRGB_LINEAR_BELOW / SRGB_SLOPE
    return np.where(v <= knee, SRGB_SLOPE * v, (1 + SRGB_OFFSET) * v ** (1 / SRGB_EXPONENT) - SRGB_OFFSET)


def darken(rgb: np.ndarray, stops: float, rng: np.random.Generator) -> np.ndarray:
    """``rgb`` (uint8) exposed ``stops`` stops shorter: scaled in linear light, shot and read noise, uint8."""
    electrons = srgb_to_linear(rgb / 255.0) * (FULL_WELL / 2.0**stops)
    noisy = rng.poisson(electrons) + rng.normal(0.0, READ_NOISE, electrons.shape)
    return np.round(_linear_to_srgb(noisy / FULL_WELL) * 255).astype(np.uint8)


def _rgb8(image: np.ndarray) -> np.ndarray:
    if image.dtype != np.uint8:
        image = np.round(image / 257.0).astype(np.uint8)
    if image.ndim == 2:
        image = np.repeat(image[..., None], 3, axis=-1)
    return np.ascontiguousarray(image[..., :3])


def no_reference_set(pattern: str) -> Iterator[np.ndarray]:
    for path in sorted(TEST.glob(pattern)):
        image = _rgb8(read_image(path))
        if pattern.startswith("hires"):
            image = np.round(box_reduce(image, 4) * 255).astype(np.uint8)
        yield image


def dev_synth_names() -> list[str]:
    """The pair names of ``pairs.csv``, sorted; an error if they no longer make :data:`TUNE` and :data:`REPORT`."""
    with open(DEV_SYNTH / "pairs.csv", newline="") as f:
        names = sorted(row["name"] for row in csv.DictReader(f))
    if tuple(names[0::2]) != TUNE or tuple(names[1::2]) != REPORT:
        sys.exit(f"{DEV_SYNTH / 'pairs.csv'}: the pairs changed; TUNE and REPORT in {__file__} list the old split")
    return names


def dev_synth_pairs(names: tuple[str, ...]) -> list[tuple[np.ndarray, np.ndarray]]:
    """``(low, normal)`` uint8 pairs of dev-synth."""
    return [(_rgb8(read_image(DEV_SYNTH / "low" / f"{n}.png")), _rgb8(read_image(DEV_SYNTH / "normal" / f"{n}.png")))
            for n in names]


def synthetic_pairs(seed: int = 0, stops: tuple[float, ...] = STOPS) -> list[tuple[np.ndarray, np.ndarray]]:
    """``(dark, reference)`` uint8 pairs, reproducible from ``seed``."""
    rng = np.random.default_rng(seed)
    return [(darken(_bundled(name), n, rng), _bundled(name)) for name in SYNTHETIC_SOURCES for n in stops]


# -- methods: uint8 RGB in, the 8-bit result out ------------------------------------

Method = Callable[[np.ndarray], np.ndarray]


def _float(rgb: np.ndarray) -> np.ndarray:
    return rgb.astype(np.float32) / 255


def _eight_bit(method: Callable[[np.ndarray], np.ndarray]) -> Method:
    return lambda rgb: measures.levels(method(rgb)).astype(np.uint8)


def autocontrast(rgb: np.ndarray) -> np.ndarray:
    """Stretch the 0.5-99.5 percentile range of all channel values to [0, 1] (hue kept)."""
    x = _float(rgb)
    return rescale_intensity(x, in_range=tuple(np.percentile(x, (0.5, 99.5))), out_range=(0.0, 1.0))


CLASSIC: dict[str, Method] = {
    "input": lambda rgb: rgb,
    "gamma 0.4": _eight_bit(lambda rgb: _float(rgb) ** 0.4),
    "autocontrast": _eight_bit(autocontrast),
    "CLAHE": _eight_bit(equalize_adapthist),
}


def model_methods(models: dict[str, object]) -> dict[str, Method]:
    """``default`` and ``strength=1`` rows of each model (``None``: the bundled checkpoint), labelled ``[NAME]``."""
    rows = {}
    for label, net in models.items():
        suffix = f" [{label}]" if label != "bundled" else ""
        rows[f"default{suffix}"] = _eight_bit(partial(enhance, model=net))
        rows[f"strength=1{suffix}"] = _eight_bit(partial(enhance, strength=1.0, denoise=False, model=net))
    return rows


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
        return float(self.scorer.score(out.astype(np.float64) / 255))


# -- tables -----------------------------------------------------------------------

def _mean(values) -> float:
    values = np.asarray(values, np.float64)
    values = values[~np.isnan(values)]
    return float(values.mean()) if len(values) else float("nan")


def _fmt(value: float, spec: str, width: int) -> str:
    return f"{'-':>{width}s}" if np.isnan(value) else f"{value:{width}{spec}}"


def psnr(reference: np.ndarray, out: np.ndarray) -> float:
    """PSNR of 8-bit images in dB, at most :data:`PSNR_CAP` (identical images count as the cap, not infinity)."""
    with np.errstate(divide="ignore"):
        return min(PSNR_CAP, float(peak_signal_noise_ratio(reference, out, data_range=255)))


def paired_table(title: str, pairs: list[tuple[np.ndarray, np.ndarray]], methods: dict[str, Method]) -> dict[str, np.ndarray]:
    """Print mean and worst PSNR, mean SSIM and CIEDE2000 of every method over ``(dark, reference)`` pairs."""
    print(f"\n## {title} ({len(pairs)} pairs)")
    print(f"{'method':24s} {'PSNR dB':>8s} {'worst dB':>8s} {'SSIM':>6s} {'dE2000':>6s}")
    result = {}
    for name, method in methods.items():
        rows = []
        for dark, reference in pairs:
            out = method(dark)
            rows.append([
                psnr(reference, out),
                structural_similarity(reference, out, data_range=255, channel_axis=-1),
                measures.ciede2000(reference, out),
            ])
        rows = result[name] = np.array(rows)
        print(f"{name:24s} {rows[:, 0].mean():8.2f} {rows[:, 0].min():8.2f} {rows[:, 1].mean():6.3f} {rows[:, 2].mean():6.2f}")
    return result


def left_alone_table(title: str, names: tuple[str, ...], normals: list[np.ndarray], methods: dict[str, Method]) -> None:
    """Each default on well-lit photos against themselves: PSNR mean and worst (which photo), mean luminance change."""
    print(f"\n### {title}: well-lit originals left alone (default on normal/ against itself, {len(normals)} photos)")
    print(f"{'method':24s} {'PSNR dB':>8s} {'worst dB':>8s} {'lum change':>10s}  worst photo")
    for name, method in methods.items():
        if not name.startswith("default"):
            continue
        scores, change = [], []
        for image in normals:
            out = method(image)
            scores.append(psnr(image, out))
            change.append(measures.luminance(out).mean() - measures.luminance(image).mean())
        worst = int(np.argmin(scores))
        print(f"{name:24s} {np.mean(scores):8.2f} {scores[worst]:8.2f} {np.mean(change):+10.4f}  {names[worst]}")


NO_REF_COLUMNS = ("luminance", "noise", "clip+ pt", "NIQE", "BRISQUE", "lift", "lift max", "hue deg")


def no_reference_table(
    title: str, images: list[np.ndarray], methods: dict[str, Method], *, brisque=None, niqe: bool = True
) -> dict[str, np.ndarray]:
    """Print the no-reference measures of every method over ``images``; rows per image: :data:`NO_REF_COLUMNS` less the max."""
    is_night = np.array([measures.night(image) for image in images])
    clipped_in = np.array([measures.clipped_share(image) for image in images])
    print(f"\n## {title} ({len(images)} images, {int(is_night.sum())} night photos"
          f" (>= {measures.NIGHT_SHARE:.0%} of pixels below luminance {measures.NEAR_BLACK}))")
    print(f"{'method':24s} {'luminance':>9s} {'noise':>6s} {'clip+ pt':>8s} {'NIQE':>6s} {'BRISQUE':>7s}"
          f" {'lift':>6s} {'lift max':>8s} {'hue deg':>7s} {'hue n':>5s}")
    result = {}
    for name, method in methods.items():
        rows = []
        for image, dark_scene, clip_in in zip(images, is_night, clipped_in):
            out = method(image)
            rows.append([
                measures.luminance(out).mean(),
                measures.noise(out),
                100 * (measures.clipped_share(out) - clip_in),
                measures.niqe(out) if niqe else np.nan,
                brisque(out) if brisque else np.nan,
                measures.near_black_lift(image, out) if dark_scene else np.nan,
                measures.hue_shift(image, out),
            ])
        rows = result[name] = np.array(rows, np.float64)
        lifts, hues = rows[:, 5], rows[:, 6]
        lift_max = float(np.nanmax(lifts)) if is_night.any() else np.nan
        print(f"{name:24s} {rows[:, 0].mean():9.3f} {rows[:, 1].mean():6.3f} {rows[:, 2].mean():8.2f}"
              f" {_fmt(_mean(rows[:, 3]), '.3f', 6)} {_fmt(_mean(rows[:, 4]), '.2f', 7)}"
              f" {_fmt(_mean(lifts), '.3f', 6)} {_fmt(lift_max, '.3f', 8)} {_fmt(_mean(hues), '.2f', 7)}"
              f" {int((~np.isnan(hues)).sum()):5d}")
    return result


def night_table(title: str, images: list[np.ndarray], methods: dict[str, Method]) -> None:
    """The night photos of ``images`` only: near-black lift (mean, max), clipped growth and hue shift."""
    night = [image for image in images if measures.night(image)]
    print(f"\n## {title}: night photos only ({len(night)} of {len(images)})")
    print(f"{'method':24s} {'lift':>6s} {'lift max':>8s} {'clip+ pt':>8s} {'hue deg':>7s}")
    for name, method in methods.items():
        rows = []
        for image in night:
            out = method(image)
            rows.append([measures.near_black_lift(image, out),
                         100 * (measures.clipped_share(out) - measures.clipped_share(image)),
                         measures.hue_shift(image, out)])
        rows = np.array(rows, np.float64)
        print(f"{name:24s} {rows[:, 0].mean():6.3f} {rows[:, 0].max():8.3f} {rows[:, 1].mean():8.2f}"
              f" {_fmt(_mean(rows[:, 2]), '.2f', 7)}")


def _brisque_by_guard(images: list[np.ndarray], result: dict[str, np.ndarray], names: list[str]) -> None:
    """BRISQUE means over the photos the default lifts in full and over those its guard scales down or leaves alone."""
    full = np.array([darkness(network_input(image)[1]) == 1.0 for image in images])
    column = NO_REF_COLUMNS.index("BRISQUE")

    def mean(scores: np.ndarray) -> str:
        return f"{scores.mean():.2f}" if len(scores) else "-"

    parts = ", ".join(f"{n} {mean(result[n][full, column])} / {mean(result[n][~full, column])}" for n in names)
    print(f"BRISQUE, photos lifted in full ({int(full.sum())}) / guarded ({int((~full).sum())}): {parts}")


def mixed_table(images: list[np.ndarray], methods: dict[str, Method]) -> None:
    """Dark scenes with bright parts (median luminance <= 0.15, 99th percentile >= 0.9): shadows and highlights."""
    mixed = []
    for image in images:
        luma = measures.luminance(image)
        if np.percentile(luma, 50) <= 0.15 and np.percentile(luma, 99) >= 0.9:
            mixed.append((image, luma))
    print(f"\n## mixed scenes from dicm + sci ({len(mixed)} images: half their pixels at luminance <= 0.15, 1% at >= 0.9)")
    print(f"{'method':24s} {'shadows':>8s} {'highlights':>10s} {'clipped%':>8s}   "
          "(mean luminance of the darkest half / brightest 2% of input pixels)")
    for name, method in methods.items():
        rows = []
        for image, luma in mixed:
            out = method(image)
            out_luma = measures.luminance(out)
            dark, bright = luma <= np.median(luma), luma >= np.percentile(luma, 98)
            rows.append([out_luma[dark].mean(), out_luma[bright].mean(), measures.clipped_share(out)])
        m = np.mean(rows, axis=0)
        print(f"{name:24s} {m[0]:8.3f} {m[1]:10.3f} {100 * m[2]:8.2f}")


def steps_table(title: str, images: list[np.ndarray], models: dict[str, object]) -> None:
    """Mean luminance and clipping at steps 4 and 8, and whether luminance rises with steps on every image."""
    print(f"\n### {title}: steps (mean over {len(images)} images)")
    print(f"{'settings':36s} {'lum in':>6s} {'clip% in':>8s} {'lum s4':>6s} {'clip% s4':>8s} {'lum s8':>6s} {'clip% s8':>8s} monotone")
    for label, net in models.items():
        for setting, options in (("default", {}), ("strength=1.0, no denoise", {"strength": 1.0, "denoise": False})):
            rows, monotone = [], True
            for image in images:
                outs = [measures.levels(out) / 255 for out in enhance_steps(image, model=net, **options)]
                curve = [measures.luminance(out).mean() for out in outs]
                monotone &= all(b >= a for a, b in zip(curve, curve[1:]))
                rows.append([measures.luminance(image).mean(), measures.clipped_share(image),
                             curve[3], measures.clipped_share(outs[3]), curve[7], measures.clipped_share(outs[7])])
            m = np.mean(rows, axis=0)
            print(f"{setting + ('' if label == 'bundled' else f' [{label}]'):36s} {m[0]:6.3f} {100 * m[1]:8.2f} {m[2]:6.3f}"
                  f" {100 * m[3]:8.2f} {m[4]:6.3f} {100 * m[5]:8.2f} {'yes' if monotone else 'NO'}")


def speed(repeats: int = 5) -> None:
    """3840x2160 uint8 -> uint8 on 2 threads: the cost of denoise on a clean and on a noisy frame."""
    path = TEST / "hires" / "street-3840x2160.png"
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

def sheet(rows: list[np.ndarray], methods: dict[str, Method], path: Path, width: int = 300) -> None:
    """One row per image: input, CLAHE and each model's strength=1 and default; saved as JPEG."""
    columns = [name for name in methods if name in ("input", "CLAHE") or name.startswith(("strength=1", "default"))]
    tiles = []
    for image in rows:
        height = round(image.shape[0] * width / image.shape[1])
        tiles.append(np.concatenate(
            [np.asarray(Image.fromarray(methods[name](image)).resize((width, height), Image.LANCZOS)) for name in columns],
            axis=1))
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.concatenate(tiles, axis=0)).save(path, quality=82, optimize=True)
    print(f"\nsheet: {path} ({path.stat().st_size // 1024} KB), columns: {', '.join(columns)}")


def _header(args: argparse.Namespace) -> None:
    print("# zdce quality benchmark")
    print(f"# command: {shlex.join([Path(sys.executable).name, *sys.argv])}")
    print(f"# measures: zdce_core.measures on the 8-bit result; luminance = Rec. 709 weights on encoded RGB;"
          f" clipped = any channel >= {measures.CLIP_LEVEL} of 255; noise = Immerkaer on the flat half of the"
          " 8-bit luma, levels; NIQE = published parameters; night photo = >= "
          f"{measures.NIGHT_SHARE:.0%} of pixels below luminance {measures.NEAR_BLACK}; hue = mean |CIELAB hue"
          f" change| of pixels with input luminance > {measures.HUE_BRIGHT}, chroma > {measures.HUE_CHROMA},"
          " clipped neither before nor after")
    print(f"# dev-synth split (sorted pairs.csv names): TUNE = even positions ({len(TUNE)}): {', '.join(TUNE)}")
    print(f"# dev-synth split: REPORT = odd positions ({len(REPORT)}): {', '.join(REPORT)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", action="append", default=[], metavar="PATH",
                        help="also measure these weights (.npz or .pt) beside the bundled checkpoint; repeat to compare several")
    parser.add_argument("--quick", action="store_true",
                        help="dev-synth TUNE half, lol15 (no BRISQUE) and the dicm/sci night photos only")
    parser.add_argument("--sheet", type=Path, help="write a picture sheet (JPEG) here")
    parser.add_argument("--no-speed", action="store_true", help="skip the 3840x2160 timing")
    parser.add_argument("--no-brisque", action="store_true", help="skip the BRISQUE scores (about 1 s per image)")
    args = parser.parse_args()
    models: dict[str, object] = {"bundled": None}
    for path in args.model:
        label = Path(path).stem
        if label in models:
            parser.error(f"--model {path}: two models named {label!r}; give them different file names")
        try:
            models[label] = load_model(path)
        except (OSError, ValueError) as error:
            parser.error(f"--model {path}: {error}")
    started = time.perf_counter()
    _header(args)
    dev_synth_names()
    mine = model_methods(models)
    paired_methods = {**CLASSIC, **mine}
    no_ref_methods = {"input": CLASSIC["input"], **mine, "CLAHE": CLASSIC["CLAHE"]}

    halves = {"TUNE": TUNE} if args.quick else {"TUNE": TUNE, "REPORT": REPORT}
    for half, names in halves.items():
        pairs = dev_synth_pairs(names)
        paired_table(f"dev-synth {half} half (low/ against normal/)", pairs, paired_methods)
        left_alone_table(f"dev-synth {half} half", names, [normal for _, normal in pairs], mine)

    if args.quick:
        no_reference_table("lol15-low", list(no_reference_set(NO_REFERENCE_SETS["lol15-low"])), no_ref_methods)
        for name in ("dicm", "sci"):
            night_table(name, list(no_reference_set(NO_REFERENCE_SETS[name])), {"input": CLASSIC["input"], **mine})
        print(f"\n# {time.perf_counter() - started:.0f} s")
        return

    brisque = None if args.no_brisque else _Brisque()
    sets = {name: list(no_reference_set(pattern)) for name, pattern in NO_REFERENCE_SETS.items()}
    for name, images in sets.items():
        result = no_reference_table(name, images, no_ref_methods, brisque=brisque)
        if brisque is not None:
            _brisque_by_guard(images, result, [n for n in no_ref_methods if n != "input"])

    well_lit = [np.ascontiguousarray(_bundled(name)) for name in WELL_LIT]
    paired_table("well-lit (reference = input)", [(image, image) for image in well_lit], paired_methods)
    pairs = synthetic_pairs()
    paired_table(f"synthetic ({'/'.join(map(str, STOPS))} stops darker, shot+read noise)", pairs, paired_methods)
    paired_table("synthetic, second draw (2.5/3.5/4.5 stops, other noise seed)",
                 synthetic_pairs(seed=1, stops=(2.5, 3.5, 4.5)), paired_methods)

    mixed_table(sets["dicm"] + sets["sci"], {"input": CLASSIC["input"], **mine})
    for name in ("lol15-low", "dicm", "sci"):
        steps_table(name, sets[name], models)
    if not args.no_speed:
        speed()
    if args.sheet:
        # A LOL frame, a mixed DICM scene (lamp-lit, bright spots), a SCI night scene, a synthetic pair, rocket (dusk).
        sheet([sets["lol15-low"][4], sets["dicm"][2], sets["sci"][12], pairs[4][0], well_lit[3]], no_ref_methods, args.sheet)
    print(f"\n# {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
