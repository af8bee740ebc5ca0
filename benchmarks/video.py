"""Video: speed, memory and flicker of ``zdce video`` and ``VideoEnhancer``; prints the figures of docs/video.md.

Usage::

    python benchmarks/video.py [--frames 50] [--memory-frames 20,60] [--skip-memory]

- **Speed** at 1280x720, 1920x1080 and 3840x2160, on a dark noisy clip made
  here (libx264): frames per second of the enhancement alone
  (``VideoEnhancer`` on decoded frames in memory, with and without the
  denoiser, which the noisy frames make work), of the whole job
  (:func:`zdce_core.io.video.transcode`, what ``zdce video`` runs: decode,
  RGB, enhance, YUV, encode, audio copy) and of the plain decode -> encode
  floor with the same encoder settings (libx264, CRF 18, its default preset),
  measured side by side in this run.
- **Memory**: peak RSS of ``zdce video`` with its defaults on 4K clips of two
  lengths, the longer past x264's 40-frame look-ahead (fresh processes).
- **Flicker** (clips made here at 640x360, 25 fps, 3 s, encoded and decoded):
  :func:`zdce_core.measures.flicker` of the output relative to the input's,
  and the gain's own change per frame, on a static shot with sensor noise; on a lamp
  switched on mid-shot (0.9 stop: smoothed; two stops: a cut), when the
  output settles within 2 % of its final level; on a hard cut between two
  scenes, how many frames the curves take to become the new scene's.
  Frame-by-frame ``enhance`` (``time_constant=0``) is the baseline beside each.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import av
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from clips import read_frames, scene, to_uint8, write_clip  # noqa: E402

from zdce_core import VideoEnhancer, measures  # noqa: E402
from zdce_core.contract import VIDEO_CODEC, VIDEO_CRF  # noqa: E402
from zdce_core.io.video import Encoding, transcode  # noqa: E402

SIZES = {"1280x720": (720, 1280), "1920x1080": (1080, 1920), "3840x2160": (2160, 3840)}
FLICKER_SIZE = (360, 640)  # the measures are ratios of means: a small frame gives them as well, in a quarter of the time
SWITCH = 1  # second of the lamp clips' switch and of the cut
RATE = 25
SETTLE = 0.02  # within 2 % of the final level


def noisy_clip(path: Path, height: int, width: int, frames: int, *, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    base = scene(height, width, level=0.05, seed=seed)
    pool = [to_uint8(base, noise=0.015, rng=rng) for _ in range(min(frames, 10))]  # noise cycles: cheap to make
    write_clip(path, (pool[k % len(pool)] for k in range(frames)), rate=RATE, crf=VIDEO_CRF)


def floor(source: Path, target: Path) -> float:
    """Seconds to decode ``source`` and encode it again with zdce video's default encoder settings, no RGB."""
    start = time.perf_counter()
    with av.open(str(source)) as clip, av.open(str(target), "w") as out:
        video = clip.streams.video[0]
        video.thread_type = "AUTO"
        stream = out.add_stream(VIDEO_CODEC, rate=video.average_rate, options={"crf": str(VIDEO_CRF)})
        stream.width, stream.height, stream.pix_fmt = video.width, video.height, "yuv420p"
        stream.codec_context.time_base = video.time_base
        for frame in clip.decode(video):
            frame.pict_type = av.video.frame.PictureType.NONE
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return time.perf_counter() - start


def speed(frames: int, work: Path) -> list[str]:
    rows = ["| size | enhancement alone | the same, --no-denoise | whole job (zdce video) | decode -> encode floor | job / floor |",
            "|---|---|---|---|---|---|"]
    for name, (height, width) in SIZES.items():
        count = frames if height < 2160 else max(2, frames // 2)
        source = work / f"{name}.mp4"
        noisy_clip(source, height, width, count)
        decoded = list(read_frames(source))
        enhancer = VideoEnhancer(dtype=np.uint8, frame_rate=RATE)
        enhancer(decoded[0])  # warm: the bundled model loads once per process
        start = time.perf_counter()
        for frame in decoded:
            enhancer(frame)
        alone = time.perf_counter() - start
        plain = VideoEnhancer(dtype=np.uint8, frame_rate=RATE, denoise=False)
        start = time.perf_counter()
        for frame in decoded:
            plain(frame)
        no_denoise = time.perf_counter() - start
        del decoded
        base = floor(source, work / "floor.mp4")
        job_enhancer = VideoEnhancer(dtype=np.uint8, frame_rate=RATE)
        start = time.perf_counter()
        transcode(source, work / "job.mp4", lambda rgb, t: job_enhancer(rgb, time=t), encoding=Encoding())
        job = time.perf_counter() - start
        rows.append(
            f"| {name} ({count} frames) | {count / alone:.1f} fps | {count / no_denoise:.1f} fps | {count / job:.1f} fps | "
            f"{count / base:.1f} fps | "
            f"{job / base:.2f}x |"
        )
        print(rows[-1], flush=True)
    return rows


def memory(counts: list[int], work: Path) -> list[str]:
    rows = ["| 4K clip | peak RSS of zdce video | time |", "|---|---|---|"]
    for count in counts:
        source = work / f"4k-{count}.mp4"
        noisy_clip(source, 2160, 3840, count)
        start = time.perf_counter()
        # A fresh process each: getrusage's children maximum is the largest child so far, and these grow in length.
        probe = (
            "import resource, subprocess, sys; "
            "subprocess.run([sys.executable, '-m', 'zdce_core', 'video', *sys.argv[1:]], check=True, capture_output=True); "
            "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
        )
        done = subprocess.run([sys.executable, "-c", probe, str(source), "-o", str(work / "4k-out.mp4")],
                              capture_output=True, text=True, check=True)
        peak = int(done.stdout.split()[-1]) / 1024
        rows.append(f"| {count} frames ({count / RATE:.1f} s) | {peak:.0f} MiB | {time.perf_counter() - start:.1f} s |")
        print(rows[-1], flush=True)
    return rows


def luminance(frames) -> np.ndarray:
    return np.array([measures.luminance(frame).mean() for frame in frames])


def settle_seconds(levels: np.ndarray, switch: int) -> float:
    """Seconds after frame ``switch`` until the level stays within :data:`SETTLE` of its final value."""
    off = np.abs(levels - levels[-1]) > SETTLE * levels[-1]
    late = np.flatnonzero(off[switch:])
    return 0.0 if not len(late) else (late[-1] + 1) / RATE


def enhanced(frames, time_constant: float | None) -> list[np.ndarray]:
    options = {} if time_constant is None else {"time_constant": time_constant}
    enhancer = VideoEnhancer(dtype=np.uint8, frame_rate=RATE, **options)
    return [enhancer(f) for f in frames]


def flicker_figures(work: Path) -> list[str]:
    height, width = FLICKER_SIZE
    rng = np.random.default_rng(5)
    dark = scene(height, width, level=0.05, seed=1)
    clips = {
        "static": [to_uint8(dark, noise=0.02, rng=rng) for _ in range(3 * RATE)],
        "lamp +0.9 stop": [to_uint8(dark * (1.9 if k >= SWITCH * RATE else 1), noise=0.02, rng=rng) for k in range(3 * RATE)],
        "lamp +2 stops": [to_uint8(dark * (4 if k >= SWITCH * RATE else 1), noise=0.02, rng=rng) for k in range(3 * RATE)],
        "cut": [to_uint8(scene(height, width, level=0.05, seed=1 if k < SWITCH * RATE else 2), noise=0.02, rng=rng)
                for k in range(3 * RATE)],
    }
    decoded = {}
    for name, frames in clips.items():
        path = work / f"{name.replace(' ', '_')}.mp4"
        write_clip(path, frames, rate=RATE, crf=VIDEO_CRF, audio=False)
        decoded[name] = list(read_frames(path))
    rows = ["| clip | measure | smoothed (default) | frame by frame |", "|---|---|---|---|"]
    static = decoded["static"]
    outputs = [enhanced(static, tc) for tc in (None, 0.0)]
    ratios = [measures.flicker(out) / measures.flicker(static) for out in outputs]
    rows.append(f"| static, sensor noise | output flicker / input flicker | {ratios[0]:.2f}x | {ratios[1]:.2f}x |")
    # The gain's own flicker (log of output over input luminance): what the curves add, the input's noise taken out.
    gains = [np.abs(np.diff(np.log(luminance(out) / luminance(static)))).mean() * 100 for out in outputs]
    rows.append(f"| static, sensor noise | gain change per frame | {gains[0]:.3f} % | {gains[1]:.3f} % |")
    for name in ("lamp +0.9 stop", "lamp +2 stops"):
        settle = [settle_seconds(luminance(enhanced(decoded[name], tc)), SWITCH * RATE) for tc in (None, 0.0)]
        rows.append(f"| {name} at {SWITCH} s | settled within 2 % after | {settle[0]:.2f} s | {settle[1]:.2f} s |")
    smooth, single = enhanced(decoded["cut"], None), enhanced(decoded["cut"], 0.0)
    after = [k - SWITCH * RATE for k in range(SWITCH * RATE, len(smooth))
             if np.abs(smooth[k].astype(np.int16) - single[k]).max() <= 1]
    rows.append(f"| hard cut at {SWITCH} s | frames until the new scene's own curves | {after[0] if after else 'never'} | 0 |")
    for row in rows[2:]:
        print(row, flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--frames", type=int, default=50, help="frames per speed clip (half at 4K)")
    parser.add_argument("--memory-frames", default="20,60", help="lengths of the 4K clips whose peak RSS is measured")
    parser.add_argument("--skip-memory", action="store_true")
    args = parser.parse_args()
    command = " ".join(["python", "benchmarks/video.py", *sys.argv[1:]])
    print(f"{command}\n{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"load {os.getloadavg()[0]:.1f}, PyAV {av.__version__}, FFmpeg {av.ffmpeg_version_info}", flush=True)
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        tables = [speed(args.frames, work)]
        if not args.skip_memory:
            tables.append(memory([int(n) for n in args.memory_frames.split(",")], work))
        tables.append(flicker_figures(work))
    print(f"\nload at the end {os.getloadavg()[0]:.1f}; peak RSS of this process "
          f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB\n")
    for table in tables:
        print("\n".join(table), end="\n\n")


if __name__ == "__main__":
    main()
