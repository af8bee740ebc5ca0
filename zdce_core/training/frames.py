"""Frames of a video file as training photos: ``zdce train clip.mp4`` (PyAV, the ``video`` extra).

A clip is sampled at ``count`` instants spread evenly over its length (the
middle of each of ``count`` equal spans), by seeking to the keyframe before
each instant and decoding up to it, so a feature film costs ``count`` short
decodes, not a pass over every frame. Each frame is box-reduced as the
training loop would reduce a photo and written as a PNG into a folder, which
then trains, validates and fills the sample sheets like any folder of photos.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PIL import Image

from ..io.atomic import atomic_path
from ..maths.resample import reduction_factor

VIDEO_SUFFIXES = frozenset({".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".mpg", ".mpeg", ".ts", ".mts", ".wmv"})
"""File names ``zdce train`` reads as a video rather than as a folder of photos."""

DEFAULT_FRAMES = 200
"""Frames sampled from a clip unless told otherwise: an epoch as long as one over 200 photos."""


def is_video(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a file with a video suffix (:data:`VIDEO_SUFFIXES`)."""
    path = Path(path)
    return path.suffix.lower() in VIDEO_SUFFIXES and path.is_file()


def _require_av():
    try:
        import av
    except ImportError:
        raise ValueError("training on a video's frames needs PyAV: pip install 'zdce[video]' "
                         "(or extract frames into a folder with ffmpeg and train on that)") from None
    return av


def frames_of(video: str | os.PathLike, folder: str | os.PathLike, *, count: int, max_side: int) -> dict:
    """The frames of ``video`` in ``folder``: sampled by :func:`sample_frames` the first time, then read back.

    The description of the sample is kept beside the folder (``FOLDER.json``:
    the folder holds the frames alone), so a resumed run trains on the same
    frames and records the same clip.
    """
    import json

    record = Path(folder).with_name(Path(folder).name + ".json")
    if record.exists():
        return json.loads(record.read_text())
    described = sample_frames(video, folder, count=count, max_side=max_side)
    with atomic_path(record) as tmp:
        tmp.write_text(json.dumps(described, indent=2) + "\n")
    return described


def sample_frames(video: str | os.PathLike, folder: str | os.PathLike, *, count: int = DEFAULT_FRAMES,
                  max_side: int) -> dict:
    """Write up to ``count`` frames of ``video``, evenly spaced in time, into ``folder`` as ``frame-NNNNNN.png``.

    Each frame is box-reduced so its longer side is at most ``max_side`` (as
    :func:`zdce_core.training.loop.load_photos` reduces a photo). A frame met
    twice (a clip shorter than ``count`` frames) is written once.

    Returns
    -------
    dict
        ``file``, ``bytes``, ``seconds`` (the clip's length), ``size``
        (width, height), ``frames`` (how many were written) and ``times`` (their
        instants, seconds).

    Raises
    ------
    ValueError
        Naming the file: PyAV missing, not a video, no video stream, unknown length, no frame decoded.
    """
    av = _require_av()
    video, folder = Path(video), Path(folder)
    if count < 1:
        raise ValueError(f"frames={count} is invalid; sample 1 or more frames")
    try:
        container = av.open(str(video))
    except Exception as exc:  # PyAV raises a different error class for each FFmpeg failure.
        raise ValueError(f"{video}: not a readable video ({str(exc).splitlines()[0]})") from None
    with container:
        if not container.streams.video:
            raise ValueError(f"{video}: holds no video stream")
        stream = container.streams.video[0]
        start = float(stream.start_time * stream.time_base) if stream.start_time is not None else 0.0
        if stream.duration is not None:
            length = float(stream.duration * stream.time_base)
        elif container.duration is not None:
            length = container.duration / av.time_base
        else:
            raise ValueError(f"{video}: its length is unknown; extract frames into a folder (e.g. with ffmpeg) and train on that")
        folder.mkdir(parents=True, exist_ok=True)
        seen, times = set(), []
        try:
            for i in range(count):
                instant = start + (i + 0.5) * length / count
                frame = _frame_at(container, stream, instant)
                if frame is None or frame.pts in seen:
                    continue
                seen.add(frame.pts)
                _write(frame.to_ndarray(format="rgb24"), folder / f"frame-{len(times):06d}.png", max_side)
                times.append(round(float(frame.time), 3))
        except Exception as exc:  # a damaged stream fails in the decoder, with PyAV's error classes
            raise ValueError(f"{video}: decoding failed after {len(times)} frame(s) ({str(exc).splitlines()[0]})") from None
        if not times:
            raise ValueError(f"{video}: no frame could be decoded")
        size = (stream.codec_context.width, stream.codec_context.height)
    return {"file": str(video.resolve()), "bytes": video.stat().st_size, "seconds": round(length, 3),
            "size": list(size), "frames": len(times), "times": times}


def _frame_at(container, stream, instant: float):
    """The first frame shown at or after ``instant`` seconds (the last one, past the end)."""
    container.seek(int(instant / stream.time_base), stream=stream, backward=True, any_frame=False)
    last = None
    for frame in container.decode(stream):
        last = frame
        if frame.time is not None and frame.time + 1e-6 >= instant:
            return frame
    return last


def _write(rgb: np.ndarray, path: Path, max_side: int) -> None:
    image = Image.fromarray(rgb)
    factor = reduction_factor(image.height, image.width, max_side)
    if factor > 1:
        image = image.reduce(factor)
    with atomic_path(path) as tmp:
        image.save(tmp, format="PNG")
