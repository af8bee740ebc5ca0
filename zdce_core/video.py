"""The video API: :class:`VideoEnhancer` enhances a stream of frames with curves smoothed over time.

Each frame goes through the photo path of :func:`zdce_core.enhance` (the
same checks, estimate and render); only the curve maps between the two are
the smoothed ones of :class:`zdce_core.maths.temporal.CurveSmoother`. With
``time_constant=0`` every frame is exactly ``enhance(frame, ...)``.
"""

from __future__ import annotations

import numbers
import os

import numpy as np

from ._api import _check_channel_axis, _check_image, _check_options, _colour, _estimate, _finish, _render, output_dtype
from .contract import DEFAULT_DENOISE, DEFAULT_STEPS, DEFAULT_STRENGTH, ESTIMATE_SIDE, TIME_CONSTANT
from .maths.network import Network
from .maths.temporal import CurveSmoother

_FRAME_RATE = 30.0  # assumed when neither frame_rate nor the frames' times are given


def check_time_constant(value, *, name: str = "time_constant") -> float:
    """``value`` as a smoothing time constant: seconds, 0 (off) or more.

    >>> check_time_constant(0.25)
    0.25
    """
    return _check_seconds(value, name, zero=True)


def _check_seconds(value, name: str, *, zero: bool) -> float:
    ok = not isinstance(value, bool) and isinstance(value, numbers.Real) and np.isfinite(value)
    if not ok or value < 0 or (value == 0 and not zero):
        allowed = "0 (off) or more" if zero else "more than 0"
        raise ValueError(f"{name}={value!r} is invalid; use a number of seconds, {allowed}")
    return float(value)


class VideoEnhancer:
    """Enhance video frames one after another, keeping the curves steady over time.

    The curve maps the engine estimates for each frame are averaged over
    time (an exponential moving average of time constant ``time_constant``
    seconds) and restarted at scene cuts, so a static shot does not pump and
    a cut does not carry one scene's curves into the next (see
    :mod:`zdce_core.maths.temporal`). Frames are rendered at full resolution
    exactly as :func:`zdce_core.enhance` renders a photo.

    Parameters
    ----------
    steps, strength, denoise, channel_axis, dtype, estimate_size, model, threads
        As for :func:`zdce_core.enhance`; checked once, here. Frames run on
        the NumPy engine (an ONNX graph renders inside itself, where the
        smoothed maps cannot reach).
    frame_rate : float, optional
        Frames per second, for frames given without ``time`` (default 30).
    time_constant : float, optional
        Seconds the curves take to move ``1 - 1/e`` of the way to a new
        scene's (default :data:`zdce_core.contract.TIME_CONSTANT`, 0.25:
        98 % within one second); ``0`` enhances each frame on its own,
        exactly as ``enhance`` does.

    Raises
    ------
    TypeError, ValueError
        As :func:`zdce_core.enhance`, here for the options and on each call
        for the frame; ``ValueError`` for ``frame_rate`` or
        ``time_constant`` out of range.

    Examples
    --------
    Enhance a clip's frames before handing them to another model (PyAV
    decodes here; an OpenCV loop works the same way with BGR flipped to RGB)::

        import av
        from zdce_core import VideoEnhancer

        with av.open("night.mp4") as clip:
            stream = clip.streams.video[0]
            enhancer = VideoEnhancer(frame_rate=float(stream.average_rate), dtype=np.uint8)
            for frame in clip.decode(stream):
                bright = enhancer(frame.to_ndarray(format="rgb24"), time=frame.time)
                detections = detector(bright)

    >>> import numpy as np
    >>> from zdce_core import VideoEnhancer, enhance
    >>> frames = [np.full((36, 64, 3), 20 + k % 2, np.uint8) for k in range(4)]
    >>> enhancer = VideoEnhancer(dtype=np.uint8)
    >>> out = [enhancer(frame) for frame in frames]
    >>> out[0].shape, out[0].dtype, bool(out[0].mean() > frames[0].mean())
    ((36, 64, 3), dtype('uint8'), True)
    >>> bool(np.array_equal(VideoEnhancer(time_constant=0)(frames[1]), enhance(frames[1])))
    True
    """

    def __init__(
        self,
        steps: int = DEFAULT_STEPS,
        *,
        strength: float | str = DEFAULT_STRENGTH,
        denoise: bool = DEFAULT_DENOISE,
        channel_axis: int | None = -1,
        dtype=None,
        estimate_size: int = ESTIMATE_SIDE,
        model: Network | str | os.PathLike | None = None,
        threads: int | None = None,
        frame_rate: float = _FRAME_RATE,
        time_constant: float = TIME_CONSTANT,
    ):
        # The NumPy engine: the ONNX graph renders inside itself, where smoothed maps cannot reach.
        self._options, self._net = _check_options(steps, strength, denoise, estimate_size, model, threads, "numpy")
        _check_channel_axis(channel_axis)
        output_dtype(np.dtype(np.float32), dtype)  # refuses an unsupported dtype now, not at the first frame
        self._dtype, self._channel_axis = dtype, channel_axis
        self._interval = 1.0 / _check_seconds(frame_rate, "frame_rate", zero=False)
        self._smoother = CurveSmoother(check_time_constant(time_constant))
        self._time: float | None = None

    @property
    def scene_cut(self) -> bool:
        """Whether the last frame started a new scene (the first frame does): its curves were not averaged with earlier ones."""
        return self._smoother.cut

    def reset(self) -> None:
        """Forget earlier frames, e.g. before a clip that does not continue the last one."""
        self._smoother.reset()
        self._time = None

    def __call__(self, frame, *, time: float | None = None) -> np.ndarray:
        """Enhance the next frame of the stream.

        Parameters
        ----------
        frame : ndarray
            A frame as :func:`zdce_core.enhance` takes an image.
        time : float, optional
            Its presentation time in seconds (e.g. PyAV's ``frame.time``),
            for streams of variable frame rate; without it frames are
            ``1 / frame_rate`` apart.

        Returns
        -------
        ndarray
            The enhanced frame, as ``enhance`` returns an image.
        """
        image = _check_image(frame, self._channel_axis)
        options = {**self._options, "dtype": output_dtype(image.dtype, self._dtype)}
        interval = self._interval
        if time is not None:
            time = float(time)
            if self._time is not None:
                interval = time - self._time
            self._time = time
        colour = _colour(image)
        estimate = _estimate(colour, self._net, options)
        maps = self._smoother.update(estimate.maps, estimate.small, estimate.stops, interval)
        rendered = _render(colour, maps, options["steps"], estimate.scale, options)
        return _finish(image, rendered, self._channel_axis, options["dtype"])
