"""``zdce video IN [-o OUT]``: enhance a clip, with curves kept steady over time; audio copied."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from ... import contract
from ...io.atomic import atomic_path, remove_stale
from ..console import quiet_decoders
from .options import add_curve_options, add_denoise_option, add_model_option, bounded

_LOG_EVERY = 10.0
"""Seconds between progress lines when stderr is not a terminal (a log file gets a line, not a bar)."""


def register(sub, name: str, help: str) -> None:
    p = sub.add_parser(
        name,
        help=help,
        description=(
            "Enhance a video clip (any container and codec FFmpeg reads), frame by frame with the photo engine, "
            "the curves smoothed over time and reset at scene cuts. Size, frame rate, timestamps, rotation and "
            "colour description are kept; audio streams are copied as they are. The output appears only when "
            "complete. Exit status: 0 when written (also for a clip cut short, which is reported), 1 when the "
            "input or output cannot be handled, 2 on a usage error, 130 after Ctrl-C. Needs pip install 'zdce[video]'."
        ),
        epilog="example: zdce video night.mp4 -o night_bright.mp4 --crf 20 --preset fast",
    )
    p.add_argument("input", help="the clip to enhance")
    p.add_argument("-o", "--output", help="where to write; the container follows the extension (default IN_enhanced.EXT)")
    add_curve_options(p)
    add_denoise_option(p)
    add_model_option(p, onnx=False)
    p.add_argument(
        "--time-constant", type=_time_constant, default=contract.TIME_CONSTANT, metavar="SECONDS",
        help="how slowly the curves follow the scene: 63%% of a change after this time, 98%% after 4 times it; "
        f"0 enhances each frame on its own (default {contract.TIME_CONSTANT})",
    )
    p.add_argument("--codec", metavar="NAME",
                   help=f"FFmpeg video encoder, e.g. libx264, libx265, libvpx-vp9, libsvtav1 (default {contract.VIDEO_CODEC} "
                   "where the container holds it, else the container's default)")
    p.add_argument("--crf", type=bounded(0, 63), default=contract.VIDEO_CRF, metavar="N",
                   help=f"constant quality for encoders that have it, lower is better (default {contract.VIDEO_CRF}: "
                   "visually lossless with x264)")
    p.add_argument("--preset", metavar="NAME", help="encoder speed preset, e.g. ultrafast ... veryslow for x264 (default the encoder's own: medium)")
    p.set_defaults(func=run)


def _time_constant(text: str) -> float:
    from ...video import check_time_constant

    try:
        return check_time_constant(float(text), name="value")
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


class _Progress:
    """A bar with frames and frames per second on a terminal; otherwise a line every :data:`_LOG_EVERY` seconds."""

    def __init__(self, source: Path) -> None:
        self.source, self.bar, self.start = source, None, time.perf_counter()
        self.next_line = self.start + _LOG_EVERY
        self.tty = sys.stderr.isatty()

    def __call__(self, done: int, total: int | None) -> None:
        if self.tty:
            if self.bar is None:
                from tqdm import tqdm

                self.bar = tqdm(total=total, unit="frame", file=sys.stderr, dynamic_ncols=True, desc=self.source.name)
            self.bar.update(done - self.bar.n)
            return
        now = time.perf_counter()
        if now >= self.next_line:
            of = f"/{total}" if total else ""
            print(f"zdce video: {self.source}: {done}{of} frames, {done / (now - self.start):.1f} fps", file=sys.stderr, flush=True)
            self.next_line = now + _LOG_EVERY

    def close(self) -> float:
        if self.bar is not None:
            self.bar.close()
        return time.perf_counter() - self.start


def run(args: argparse.Namespace) -> int:
    try:
        from ...io.video import Encoding, OutputError, VideoError, output_format, transcode
    except ImportError as exc:
        raise ValueError(f"zdce video needs PyAV: pip install 'zdce[video]' ({exc})") from None
    from ...video import VideoEnhancer

    source = Path(args.input)
    target = Path(args.output) if args.output else source.with_name(f"{source.stem}_enhanced{source.suffix}")
    if target.exists() and target.resolve() == source.resolve():
        raise ValueError(f"{target}: refusing to overwrite the input; choose another --output")
    from ...weights import load_model

    model = load_model(args.model) if args.model else None
    enhancers: list[VideoEnhancer] = []

    def enhance_frame(rgb, seconds):
        if not enhancers:  # the first frame tells the sample type: uint8, or uint16 for deeper sources
            enhancers.append(VideoEnhancer(
                args.steps, strength=args.strength, denoise=args.denoise, dtype=rgb.dtype.type, model=model,
                time_constant=args.time_constant,
            ))
        return enhancers[0](rgb, time=seconds)

    encoding = Encoding(codec=args.codec, crf=args.crf, preset=args.preset)
    remove_stale(target.parent)
    progress = _Progress(source)
    try:
        container = output_format(target)
        with quiet_decoders():
            try:
                with atomic_path(target) as tmp:
                    clip = transcode(source, tmp, enhance_frame, encoding=encoding, container_format=container,
                                     progress=progress)
            finally:
                # The bar draws on quiet_decoders' copy of the terminal, which closes with the block.
                seconds = progress.close()
    except VideoError as exc:
        print(f"zdce video: {target if isinstance(exc, OutputError) else source}: {exc}", file=sys.stderr)
        return 1
    if clip.cut_short:
        print(f"zdce video: {source}: cut short: {clip.cut_short}; wrote the {clip.frames} frames before it", file=sys.stderr)
    audio = f", {clip.audio_streams} audio stream{'s' if clip.audio_streams != 1 else ''} copied" if clip.audio_streams else ""
    print(
        f"wrote {target}: {clip.frames} frames, {clip.width}x{clip.height}, {clip.rate:.3g} fps, {clip.duration:.2f} s, "
        f"{clip.codec}{audio} ({clip.frames / seconds:.1f} frames per second)"
    )
    return 0
