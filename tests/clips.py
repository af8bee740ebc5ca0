"""Synthetic video clips written with real PyAV/FFmpeg: dark scenes, sensor noise, a light switch, a cut.

Shared by tests/test_video.py and benchmarks/video.py, so both measure the same scenes.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np

AUDIO_RATE = 48_000


def scene(height: int, width: int, *, level: float = 0.06, seed: int = 0) -> np.ndarray:
    """A dark float32 ``(H, W, 3)`` scene in [0, 1]: smooth shapes and edges around ``level`` (a different one per seed).

    >>> frame = scene(36, 64)
    >>> frame.shape, 0.03 < float(frame.mean()) < 0.09
    ((36, 64, 3), True)
    """
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    yy, xx = yy / height, xx / width
    relative = np.ones((height, width), np.float32)
    for _ in range(6):  # soft blobs and a few hard-edged boxes
        cy, cx, r = rng.uniform(0, 1), rng.uniform(0, 1), rng.uniform(0.05, 0.3)
        relative += rng.uniform(-0.6, 1.5) * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * r * r))
        top, left = rng.uniform(0, 0.8, 2)
        box = (yy > top) & (yy < top + 0.2) & (xx > left) & (xx < left + 0.2)
        relative[box] *= rng.uniform(0.3, 2.0)
    tint = rng.uniform(0.8, 1.2, 3).astype(np.float32)
    frame = level * np.clip(relative, 0.1, None)[..., None] / relative.mean() * tint
    return np.clip(frame, 0, 1).astype(np.float32)


def to_uint8(frame: np.ndarray, *, noise: float = 0.0, rng: np.random.Generator | None = None) -> np.ndarray:
    """A float frame as uint8, with Gaussian sensor noise of standard deviation ``noise`` (in [0, 1] units) added."""
    if noise:
        frame = frame + (rng or np.random.default_rng()).normal(0, noise, frame.shape).astype(np.float32)
    return np.clip(np.rint(frame * 255), 0, 255).astype(np.uint8)


def write_clip(
    path: str | Path,
    frames: Iterable[np.ndarray],
    *,
    rate: int = 25,
    audio: bool = True,
    codec: str = "libx264",
    crf: int = 12,
    preset: str = "ultrafast",
    rotation: int | None = None,
    options: dict[str, str] | None = None,
) -> int:
    """Encode uint8 RGB ``frames`` at ``rate`` fps into ``path``, with a 440 Hz AAC tone as long as the video; return the frame count."""
    import av

    with av.open(str(path), "w", options=options or {}) as out:
        video = out.add_stream(codec, rate=rate, options={"crf": str(crf), "preset": preset})
        sound = out.add_stream("aac", rate=AUDIO_RATE, layout="mono") if audio else None
        samples_done, count = 0, 0
        for count, frame in enumerate(frames, 1):
            if count == 1:
                video.width, video.height, video.pix_fmt = frame.shape[1], frame.shape[0], "yuv420p"
                if rotation is not None:
                    video.set_display_rotation(rotation)
            picture = av.VideoFrame.from_ndarray(frame, format="rgb24").reformat(format="yuv420p")
            picture.pts = count - 1
            out.mux(video.encode(picture))
            while sound is not None and samples_done < count * AUDIO_RATE // rate:
                t = (np.arange(1024) + samples_done) / AUDIO_RATE
                chunk = av.AudioFrame.from_ndarray((0.1 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)[None], format="fltp", layout="mono")
                chunk.sample_rate, chunk.pts = AUDIO_RATE, samples_done
                out.mux(sound.encode(chunk))
                samples_done += 1024
        out.mux(video.encode(None))
        if sound is not None:
            out.mux(sound.encode(None))
    return count


def read_frames(path: str | Path) -> Iterator[np.ndarray]:
    """The uint8 RGB frames of a clip, in order, converted as ``zdce video`` converts them."""
    import av

    from zdce_core.io.video import _Colour

    with av.open(str(path)) as clip:
        colour = None
        for frame in clip.decode(clip.streams.video[0]):
            colour = colour or _Colour(frame)
            yield colour.to_rgb(frame)
