"""Video files through PyAV (FFmpeg's libraries): decoded, handed over and encoded one frame at a time.

:func:`transcode` streams a clip through a function on RGB frames: memory
holds a few frames (and the encoder's look-ahead) whatever the clip's length.
It keeps the size, the frame rate and every frame's timestamp, the rotation
(display matrix), the colour description (matrix, range, primaries,
transfer) and the container's metadata, and copies the audio streams'
packets untouched. Frames become RGB with the clip's own colour matrix and
range and go back the same way, so a frame the function leaves alone comes
back as it was, up to the encoder's loss.

A clip that cannot be read, has no video stream, or cannot be written as
asked raises :class:`VideoError`; a clip whose end is missing is written up
to its last good frame, and :class:`Report` says so. Nothing here prints.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import av
import av.logging
import numpy as np

from ..contract import VIDEO_CODEC, VIDEO_CRF

_STILL_FORMAT, _STILL_SUFFIX = "image2", "_pipe"  # FFmpeg's readers of photos (png_pipe, ...): a one-frame "video"
_CONTAINER_KEYS_DROPPED = {"encoder", "major_brand", "minor_version", "compatible_brands"}  # the muxer writes its own
_CUT_TOLERANCE = 0.5  # seconds of a promised duration that may be missing before a clip counts as cut short

_X264_LOOKAHEAD = 40  # frames: x264's look-ahead at its default preset, medium

LOOKAHEAD_PIXELS = _X264_LOOKAHEAD * 1920 * 1080
"""Pixels x264's look-ahead may hold: its 40 frames (preset medium) of 1080p.

x264 keeps every look-ahead frame in memory; at 4K, 40 frames took ``zdce
video``'s peak RSS to 1.5 GB (``benchmarks/video.py``), so larger frames get
proportionally fewer (10 at 4K).
"""


class VideoError(ValueError):
    """A clip that cannot be read; the message names the problem, the caller the file."""


class OutputError(VideoError):
    """Output that cannot be written as asked (container, codec, settings); the caller names the output file."""


@dataclass(frozen=True)
class Encoding:
    """How the enhanced frames are encoded.

    Attributes
    ----------
    codec : str or None
        FFmpeg encoder name; ``None``: :data:`zdce_core.contract.VIDEO_CODEC`
        where the container holds it, else the container's default.
    crf : int or None
        Constant-quality level (lower is better) for encoders that have one;
        ``None`` leaves the encoder's default.
    preset : str or None
        Speed/size preset for encoders that have one (x264: ultrafast ...
        veryslow); ``None`` leaves the encoder's default (x264: medium).
    """

    codec: str | None = None
    crf: int | None = VIDEO_CRF
    preset: str | None = None


@dataclass(frozen=True)
class Clip:
    """What the written clip holds."""

    frames: int
    width: int
    height: int
    rate: float
    duration: float
    audio_streams: int
    codec: str
    cut_short: str = ""
    """Empty, or why the input ended before its header said it would (the clip holds every frame before that)."""


def _detail(exc: av.FFmpegError) -> str:
    # FFmpeg's own last log line (e.g. "moov atom not found") says more than the error code's text.
    log = getattr(exc, "log", None)
    if log and len(log) == 3 and str(log[2]).strip():
        return f"{exc.strerror}: {str(log[2]).strip()}"
    return str(exc.strerror or exc)


def output_format(target: str | os.PathLike) -> str:
    """The FFmpeg container format ``target``'s extension names, as ``ffmpeg`` would choose it.

    >>> output_format("night.mkv"), output_format("night.mp4")
    ('matroska', 'mp4')
    """
    try:
        with av.open(os.fspath(target), "w") as probe:  # opening for writing touches no file until a frame is written
            return probe.format.name
    except ValueError:
        raise OutputError(
            f"{Path(target).suffix or 'no extension'!r} names no container FFmpeg writes; use e.g. .mp4, .mkv, .mov or .webm"
        ) from None


def _open_input(source: Path):
    # FFmpeg's log on only while opening, captured (nothing printed): its last line names the problem. Left on, a
    # decoder thread logging while the interpreter frees the decoder deadlocks on the GIL.
    level = av.logging.get_level()
    av.logging.set_level(av.logging.ERROR)
    try:
        with av.logging.Capture():
            clip = av.open(os.fspath(source), metadata_errors="replace")
    except FileNotFoundError:
        raise VideoError("no such file") from None
    except IsADirectoryError:
        raise VideoError("is a folder, not a video") from None
    except av.FFmpegError as exc:
        raise VideoError(f"not a video FFmpeg can read, or damaged or cut short ({_detail(exc)})") from None
    finally:
        av.logging.set_level(level)
    try:
        if clip.format.name == _STILL_FORMAT or clip.format.name.endswith(_STILL_SUFFIX):
            raise VideoError("is a still image, not a video; use zdce enhance")
        if not clip.streams.video:
            kinds = ", ".join(sorted({s.type for s in clip.streams})) or "nothing"
            raise VideoError(f"has no video stream (it holds {kinds})")
        if clip.streams.video[0].codec_context is None:
            raise VideoError(f"no decoder for its video codec ({clip.streams.video[0].codec.name})")
    except BaseException:
        clip.close()
        raise
    return clip


def _encoder(output, encoding: Encoding) -> av.Codec:
    name = encoding.codec
    if name is None:
        name = VIDEO_CODEC if VIDEO_CODEC in output.supported_codecs else output.default_video_codec
    try:
        codec = av.Codec(name, "w")
    except av.FFmpegError:  # UnknownCodecError and friends
        codec = None
    except ValueError:
        codec = None
    if codec is None or codec.type != "video":
        raise OutputError(f"--codec {name}: no such video encoder in this FFmpeg (e.g. libx264, libx265, libvpx-vp9, libsvtav1)")
    if codec.name not in output.supported_codecs and codec.canonical_name not in output.supported_codecs:
        raise OutputError(
            f"codec {codec.name} cannot be stored in a {output.format.name} file; "
            f"choose another --codec (this container's default is {output.default_video_codec}) or another extension"
        )
    return codec


def _private_options(codec_name: str) -> set[str]:
    return {option.name for option in av.CodecContext.create(codec_name, "w").supported_options.private}


def _pixel_format(codec: av.Codec, source_format: str, deep: bool) -> str:
    formats = [f.name for f in codec.video_formats or ()]
    if not formats or source_format in formats:
        return source_format
    # The source's layout is not available: the encoder's first of the same depth.
    same_depth = [f for f in formats if (av.VideoFormat(f).components[0].bits > 8) == deep]
    return (same_depth or formats)[0]


class _Colour:
    """The colour matrix and range the clip's frames are converted to RGB and back with."""

    def __init__(self, frame: av.VideoFrame):
        # Untagged clips: the matrix players assume (Rec. 709 from 720 lines up, else 601), limited range.
        default_space = av.video.reformatter.Colorspace.ITU709 if frame.height >= 720 else av.video.reformatter.Colorspace.ITU601
        space = frame.colorspace
        self.space = space if space in {c.value for c in av.video.reformatter.Colorspace} else default_space
        self.range = frame.color_range or av.video.reformatter.ColorRange.MPEG
        self.deep = frame.format.components[0].bits > 8
        self.rgb = "rgb48le" if self.deep else "rgb24"

    def to_rgb(self, frame: av.VideoFrame) -> np.ndarray:
        return frame.to_ndarray(format=self.rgb, src_colorspace=self.space, src_color_range=self.range)

    def from_rgb(self, array: np.ndarray, pix_fmt: str) -> av.VideoFrame:
        rgb = av.VideoFrame.from_ndarray(array, format=self.rgb)
        return rgb.reformat(format=pix_fmt, dst_colorspace=self.space, dst_color_range=self.range)


def _display_matrix(frame: av.VideoFrame) -> list[int] | None:
    for side in frame.side_data:
        if side.type == av.sidedata.sidedata.Type.DISPLAYMATRIX:
            return np.frombuffer(bytes(side), "<i4").tolist()
    return None


def _add_video_stream(output, codec: av.Codec, source, first: av.VideoFrame, colour: _Colour, encoding: Encoding):
    rate = source.average_rate or source.guessed_rate or source.base_rate
    stream = output.add_stream(codec.name, rate=rate)
    stream.width, stream.height = first.width, first.height
    stream.pix_fmt = _pixel_format(codec, first.format.name, colour.deep)
    stream.time_base = source.time_base
    stream.codec_context.time_base = source.time_base
    if source.sample_aspect_ratio:
        stream.codec_context.sample_aspect_ratio = source.sample_aspect_ratio
    context = stream.codec_context
    context.colorspace, context.color_range = int(colour.space), int(colour.range)
    context.color_primaries, context.color_trc = first.color_primaries, first.color_trc
    if source.metadata.get("language"):
        stream.metadata["language"] = source.metadata["language"]
    private = _private_options(codec.name)
    options = {}
    if encoding.crf is not None and "crf" in private:
        options["crf"] = str(encoding.crf)
        context.bit_rate = 0  # constant quality, no bitrate target (libvpx reads a non-zero one as a cap)
    elif source.bit_rate:
        context.bit_rate = source.bit_rate  # no quality scale: at least the source's bitrate
    lookahead = LOOKAHEAD_PIXELS // (first.width * first.height)
    if "rc-lookahead" in private and lookahead < _X264_LOOKAHEAD:
        options["rc-lookahead"] = str(max(1, lookahead))
    if encoding.preset is not None:
        if "preset" not in private:
            raise OutputError(f"--preset does not apply to codec {codec.name}")
        options["preset"] = encoding.preset
    stream.options = options
    matrix = _display_matrix(first)
    if matrix is not None:
        stream.set_display_matrix(matrix)
    return stream


def _expected(source, clip) -> tuple[int | None, float | None]:
    """Frames and seconds the input's header promises, where it says."""
    frames = source.frames or None
    if source.duration is not None and source.time_base is not None:
        seconds = float(source.duration * source.time_base)
    elif clip.duration is not None:
        seconds = clip.duration / av.time_base
    else:
        seconds = None
    return frames, seconds


def transcode(
    source: str | os.PathLike,
    target: str | os.PathLike,
    process: Callable[[np.ndarray, float | None], np.ndarray],
    *,
    encoding: Encoding = Encoding(),
    container_format: str | None = None,
    progress: Callable[[int, int | None], None] = lambda done, total: None,
) -> Clip:
    """Decode ``source``, pass each frame through ``process``, encode the results into ``target``.

    Parameters
    ----------
    source
        Any clip FFmpeg reads.
    target
        Where to write (e.g. a temporary beside the final name).
    process
        ``process(rgb, seconds)``: an ``(H, W, 3)`` uint8 frame (uint16 for
        sources of more than 8 bits) and its presentation time; returns the
        frame to encode, same shape and dtype.
    encoding
        Encoder settings.
    container_format
        FFmpeg's name of the output container; by default from ``target``'s
        extension (see :func:`output_format`).
    progress
        Called after each frame with the frames done and the total the
        header promises (``None`` where it does not say).

    Raises
    ------
    VideoError
        The input is not a readable video, has no video stream or no
        decodable frame, or the encoding cannot be written to that container.
    """
    source, target = Path(source), Path(target)
    fmt = container_format or output_format(target)
    # The frames' generator is closed before the input: a decoder left suspended would hang the interpreter's exit.
    with _open_input(source) as clip, contextlib.closing(_demuxed(clip)) as items:
        video, audio = clip.streams.video[0], list(clip.streams.audio)
        promised_frames, promised_seconds = _expected(video, clip)
        early: list[av.Packet] = []  # audio ahead of the first frame, muxed once the output is set up
        try:
            first = next((item for item in items if isinstance(item, av.VideoFrame) or early.append(item)), None)
        except av.FFmpegError as exc:
            raise VideoError(f"no frame could be decoded ({_detail(exc)})") from None
        if first is None:
            raise VideoError("its video stream holds no frame that can be decoded")
        colour = _Colour(first)
        with av.open(os.fspath(target), "w", format=fmt) as output:
            output.metadata.update({k: v for k, v in clip.metadata.items() if k not in _CONTAINER_KEYS_DROPPED})
            codec = _encoder(output, encoding)
            stream = _add_video_stream(output, codec, video, first, colour, encoding)
            copies = {}
            for a in audio:
                try:
                    copies[a.index] = output.add_stream_from_template(a)
                except (ValueError, av.FFmpegError) as exc:
                    raise OutputError(f"its audio ({a.codec_context.name}) cannot be copied into {fmt}: {exc}") from None
            try:
                output.start_encoding()
            except av.FFmpegError as exc:
                raise OutputError(f"{fmt} cannot hold this encoding ({_detail(exc)}); try .mkv") from None
            writer = _Writer(output, stream, colour, process, copies)
            for packet in early:
                writer.copy(packet)
            writer.encode(first)
            progress(1, promised_frames)
            cut_short = ""
            try:
                for item in items:
                    if isinstance(item, av.VideoFrame):
                        writer.encode(item)
                        progress(writer.frames, promised_frames)
                    else:
                        writer.copy(item)
            except av.FFmpegError as exc:
                cut_short = f"decoding stopped after {writer.frames} frames ({_detail(exc)})"
            writer.flush()
        end = writer.last_time + writer.interval
        if not cut_short and promised_frames and writer.frames < promised_frames:
            cut_short = f"{writer.frames} of the {promised_frames} frames its header lists could be read"
        elif not cut_short and promised_seconds and promised_seconds - end > max(_CUT_TOLERANCE, 2 * writer.interval):
            cut_short = f"its frames end at {end:.2f} s of the {promised_seconds:.2f} s its header gives"
        return Clip(
            frames=writer.frames, width=first.width, height=first.height, rate=1.0 / writer.interval,
            duration=end - writer.first_time, audio_streams=len(copies), codec=codec.name, cut_short=cut_short,
        )


def _demuxed(clip):
    """The first video stream's decoded frames and the audio streams' packets, in file order.

    A read or decode error ends it, after the frames the decoder still holds.
    """
    video = clip.streams.video[0]
    video.thread_type = "AUTO"  # frame and slice threads, as ffmpeg decodes
    try:
        for packet in clip.demux(video, *clip.streams.audio):
            if packet.stream.index == video.index:
                yield from packet.decode()  # the empty packet at the end flushes the decoder
            elif packet.dts is not None:  # not an end-of-stream marker
                yield packet
    except av.FFmpegError:
        with contextlib.suppress(av.FFmpegError):
            yield from video.decode(None)  # the frames decoded before the damage
        raise


class _Writer:
    """Encodes processed frames at their own timestamps and muxes copied audio packets."""

    def __init__(self, output, stream, colour: _Colour, process, copies):
        self.output, self.stream, self.colour, self.process, self.copies = output, stream, colour, process, copies
        rate = stream.codec_context.framerate
        self.interval = 1.0 / float(rate) if rate else 1.0 / 30
        self.time_base = stream.codec_context.time_base  # the source stream's: frames keep their timestamps
        self.frames, self.last_pts = 0, None
        self.first_time = self.last_time = 0.0

    def copy(self, packet: av.Packet) -> None:
        packet.stream = self.copies[packet.stream.index]
        self.output.mux(packet)

    def encode(self, frame: av.VideoFrame) -> None:
        pts = frame.pts
        if pts is None or (self.last_pts is not None and pts <= self.last_pts):
            # No timestamp, or one out of order (broken streams): the next tick keeps the encoder's order.
            pts = 0 if self.last_pts is None else self.last_pts + max(1, round(self.interval / float(self.time_base)))
        time = float(pts * self.time_base)
        if self.frames == 0:
            self.first_time = time
        result = self.colour.from_rgb(self.process(self.colour.to_rgb(frame), time), self.stream.pix_fmt)
        result.pts, result.time_base = pts, self.time_base
        self.output.mux(self.stream.encode(result))
        self.frames, self.last_pts, self.last_time = self.frames + 1, pts, time

    def flush(self) -> None:
        self.output.mux(self.stream.encode(None))
