"""Fine-tuning: how long ``zdce train FOLDER --from bundled`` takes, and how the model it gives compares with the bundled one.

Not a test: prints figures for docs/fine-tuning.md. For each ``--photos`` count
it runs the command a user types (the default fine-tuning schedule, a run
folder with its sample sheets and measures, on the CPU) on the first photos of
a folder (SICE part 1 by default), timing the whole command, then measures the
fine-tuned models beside the bundled one with ``benchmarks/quality.py``'s
tables (each model's default and ``strength=1`` rows): the dev-synth pairs
(both halves: PSNR, SSIM, CIEDE2000 against the original exposure), lol15 (no
reference: luminance, noise, clipped growth, NIQE, near-black lift, hue shift)
and the night photos of DICM. The load average and the CPU seconds go beside
the wall time, because a shared machine's wall times mean little without them.

Usage::

    .venv/bin/python benchmarks/finetune.py [--data DIR] [--photos 40 400] [--epochs N]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import platform
import tempfile
import time
from pathlib import Path

import quality as q

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "train" / "sice-part1"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA, help="folder of training photos")
    parser.add_argument("--photos", type=int, nargs="+", default=[40], help="photo counts to fine-tune on")
    parser.add_argument("--epochs", type=int, help="epochs (default: the fine-tuning schedule's)")
    args = parser.parse_args()

    import torch

    from zdce_core.app.cli import main as zdce
    from zdce_core.io.images import list_images
    from zdce_core.training.schedule import FINE_TUNING
    from zdce_core.weights import bundled_path, load_model

    epochs = args.epochs or FINE_TUNING["epochs"]
    files = list_images(args.data)
    print(f"# {platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads; fine-tuning schedule {FINE_TUNING}, epochs {epochs}")
    models = {"bundled": load_model(bundled_path())}
    with tempfile.TemporaryDirectory() as tmp:
        for count in args.photos:
            folder = Path(tmp) / f"photos-{count}"
            folder.mkdir()
            for path in files[:count]:
                (folder / path.name).symlink_to(path.resolve())
            output = Path(tmp) / f"tuned-{count}.pt"
            command = ["train", str(folder), "-o", str(output), "--from", "bundled", "--epochs", str(epochs),
                       "--device", "cpu", "--quiet", "--name", f"tuned-{count}"]
            load_before = os.getloadavg()
            started, started_cpu = time.perf_counter(), time.process_time()
            with contextlib.redirect_stdout(io.StringIO()):  # the run's report: paths in a temporary folder
                assert zdce(command) == 0
            wall, cpu = time.perf_counter() - started, time.process_time() - started_cpu
            load_after = os.getloadavg()
            # CPU seconds over the threads say what an idle machine would take when others share this one.
            print(f"fine-tune {count} photos, {epochs} epochs: {wall:.1f} s wall for the whole command, {cpu:.1f} CPU s "
                  f"on {torch.get_num_threads()} threads (load average before {load_before[0]:.2f}, after {load_after[0]:.2f})")
            models[f"fine-tuned {count}"] = load_model(output)

    methods = q.model_methods(models)
    for half, names in (("TUNE", q.TUNE), ("REPORT", q.REPORT)):
        q.paired_table(f"dev-synth {half} half (low/ against normal/)", q.dev_synth_pairs(names), methods)
    q.no_reference_table("lol15-low", list(q.no_reference_set(q.NO_REFERENCE_SETS["lol15-low"])), methods)
    q.night_table("dicm", list(q.no_reference_set(q.NO_REFERENCE_SETS["dicm"])), methods)


if __name__ == "__main__":
    main()
