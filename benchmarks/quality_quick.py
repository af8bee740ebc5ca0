"""The figures a checkpoint is judged by, in about 20 seconds: for choosing training settings.

Not a test, and not the full picture (``benchmarks/quality.py`` is, in about ten
minutes): one JSON line with the measures of ``quality.py`` that decide between
two checkpoints, each a mean over its set unless said otherwise:

- ``synthetic`` and ``synthetic_2``: the two draws of darkened pairs, default and
  plain (``strength=1.0, denoise=False``): PSNR, SSIM, CIEDE2000, worst pair's PSNR,
  and each pair's PSNR;
- ``night_lift``: near-black lift of the default on the DICM night photos 01, 08,
  12, 18 and 27, each;
- ``lol15``: the default's luminance and noise;
- ``full_strength``: per set, the clipped share's rise in points and the number of
  photos that came back darker, at ``strength=1.0``;
- ``well_lit_worst``: the lowest PSNR of a well-lit photo against itself, default;
- with ``--brisque``, the default's BRISQUE per set (about a minute more).

Usage::

    .venv/bin/python benchmarks/quality_quick.py [MODEL.npz|MODEL.pt] [--brisque]
"""

from __future__ import annotations

import argparse
import json
import time
from functools import partial

import numpy as np

import quality as q
from zdce_core import enhance, load_model

NIGHT = ("01", "08", "12", "18", "27")
"""DICM photos that are mostly black sky: a night photo should stay a night photo."""


def _synthetic(default, plain, seed: int, stops: tuple[float, ...]) -> dict:
    pairs = q.synthetic_pairs(seed=seed, stops=stops)
    result = {}
    for name, method in (("default", default), ("plain", plain)):
        rows = np.array([q.measures(dark, method(dark), ref) for dark, ref in pairs])
        result[name] = {
            "psnr": round(rows[:, 3].mean(), 2), "ssim": round(rows[:, 4].mean(), 3),
            "de2000": round(rows[:, 5].mean(), 2), "worst": round(rows[:, 3].min(), 2),
            "pairs": [round(v, 1) for v in rows[:, 3]],
        }
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("model", nargs="?", help="weights to measure (default: the bundled checkpoint)")
    parser.add_argument("--brisque", action="store_true", help="also the default's BRISQUE per set")
    args = parser.parse_args()
    model = load_model(args.model) if args.model else None
    default = partial(enhance, model=model)
    plain = partial(enhance, strength=1.0, denoise=False, model=model)
    started = time.perf_counter()

    figures = {
        "synthetic": _synthetic(default, plain, 0, q.STOPS),
        "synthetic_2": _synthetic(default, plain, 1, (2.5, 3.5, 4.5)),
    }
    sets = {name: list(q.no_reference_set(q.NO_REFERENCE_SETS[name])) for name in ("lol15-low", "dicm", "sci")}
    night = [q.read_image(q.DATA / "dicm" / f"{n}.jpg")[..., :3] for n in NIGHT]
    figures["night_lift"] = dict(zip(NIGHT, (round(q.near_black_lift(x, default(x)), 3) for x in night)))
    # quality.measures' columns without a reference: luminance, clipped, noise, black lift, darker, BRISQUE.
    lol = np.array([q.measures(x, default(x), None) for x in sets["lol15-low"]])
    figures["lol15"] = {"luminance": round(lol[:, 0].mean(), 3), "noise": round(lol[:, 2].mean(), 4)}
    figures["full_strength"] = {}
    for name, images in sets.items():
        rows = np.array([q.measures(x, plain(x), None) for x in images])
        rise = rows[:, 1].mean() - np.mean([q.clipped(q._float(x)) for x in images])
        figures["full_strength"][name] = {"clipped_rise": round(100 * rise, 2), "darker": int(rows[:, 4].sum())}
    well_lit = [np.ascontiguousarray(q._bundled(n)) for n in q.WELL_LIT]
    figures["well_lit_worst"] = round(min(q.measures(w, default(w), w)[3] for w in well_lit), 1)
    if args.brisque:
        score = q._Brisque()
        figures["brisque"] = {name: round(float(np.mean([score(default(x)) for x in images])), 2)
                              for name, images in sets.items()}
    figures["seconds"] = round(time.perf_counter() - started)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
