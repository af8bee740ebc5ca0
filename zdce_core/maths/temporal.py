"""Curve maps over time: exponential smoothing with a time constant, reset at scene cuts.

Enhanced frame by frame, a video flickers: each frame gets its own exposure
and its own curve maps, so sensor noise, a passing light or the network's
64-pixel view shifting with small motion change the curves from one frame to
the next. :class:`CurveSmoother` keeps an exponential moving average of what
the engine estimates per frame, the curve maps after the exposure guard
(:mod:`zdce_core.maths.exposure`), so the exposure and the guard are smoothed
with them. After a step change in the scene the average has moved by ``1 - 1/e``
(63 %) of the way after ``time_constant`` seconds (by default
:data:`zdce_core.contract.TIME_CONSTANT`, 0.25) and by 98 % after four of them.

A scene cut is detected from the small copy the network runs on (already
computed for each frame): the frame is a new scene when its under-exposure
(:func:`zdce_core.maths.exposure.under_exposure`) differs from the previous
frame's by more than :data:`CUT_STOPS` stops, or when its
coarse brightness pattern, relative to its mean (so a change of exposure
alone does not count), differs by more than :data:`CUT_PATTERN` on average
(:func:`pattern_change`). At a cut the average restarts from the new
frame's maps, so one scene is never smeared into the next; a light switched
on or off by more than :data:`CUT_STOPS` counts as a cut too and the curves
follow it at once.
"""

from __future__ import annotations

import math

import numpy as np

from ..contract import TIME_CONSTANT
from .resample import LUMA, box_reduce, reduction_factor

CUT_STOPS = 2.2
"""Change of under-exposure between two frames, in stops of light, that starts a new scene.

About a doubling of the encoded (sRGB) levels, where the light grows 2 ** 2.2 times.
"""

CUT_PATTERN = 0.15
"""Mean absolute change of the relative brightness pattern (:func:`pattern_change`) that starts a new scene.

Measured on the generated scenes of ``tests/clips.py``: two different scenes
differ by 0.2 to 0.27 (real footage, with more contrast, by more); the same
scene with fresh sensor noise by at most 0.04 at 128x72 (0.003 at 1080p), and
moved by a sixteenth of its width by 0.1.
"""

PATTERN_SIDE = 16
"""Longer side of the grid the brightness pattern is compared on: coarse, so sensor noise averages out."""

_FLOOR = 1.0 / 255  # a black frame's pattern is flat, not noise divided by nearly nothing


def smoothing_weight(interval: float, time_constant: float) -> float:
    """The weight of a new frame ``interval`` seconds after the last one in an average of time constant ``time_constant``.

    ``time_constant=0`` turns smoothing off: each frame counts alone.

    >>> round(smoothing_weight(1 / 30, 0.25), 4), smoothing_weight(1 / 30, 0.0)
    (0.1248, 1.0)
    """
    if time_constant <= 0:
        return 1.0
    return 1.0 - math.exp(-max(interval, 0.0) / time_constant)


def brightness_pattern(small: np.ndarray) -> np.ndarray:
    """Luminance of a float ``(h, w, 3)`` copy on a grid of :data:`PATTERN_SIDE`, divided by its mean.

    >>> brightness_pattern(np.full((32, 64, 3), 0.2, np.float32)).shape
    (8, 16)
    """
    grid = box_reduce(small, reduction_factor(*small.shape[:2], PATTERN_SIDE)) @ LUMA
    return grid / (float(grid.mean()) + _FLOOR)


def pattern_change(previous: np.ndarray, current: np.ndarray) -> float:
    """Mean absolute difference of two brightness patterns (:func:`brightness_pattern`); inf if their grids differ.

    >>> flat = brightness_pattern(np.full((8, 8, 3), 0.2, np.float32))
    >>> pattern_change(flat, flat)
    0.0
    """
    if previous.shape != current.shape:
        return math.inf
    return float(np.abs(current - previous).mean())


class CurveSmoother:
    """The exponential moving average of a stream's curve maps, restarted at scene cuts.

    Parameters
    ----------
    time_constant : float
        Seconds (see :data:`zdce_core.contract.TIME_CONSTANT`); 0 passes each frame's maps through.

    Examples
    --------
    >>> smoother = CurveSmoother(0.25)
    >>> small = np.full((36, 64, 3), 0.05, np.float32)
    >>> smoother.update(np.zeros((24, 36, 64), np.float32), small, 4.0, 1 / 30)[0, 0, 0]
    np.float32(0.0)
    >>> round(float(smoother.update(np.ones((24, 36, 64), np.float32), small, 4.0, 1 / 30)[0, 0, 0]), 4)
    0.1248
    >>> smoother.cut, smoother.update(np.ones((24, 36, 64), np.float32), small, 1.0, 1 / 30)[0, 0, 0]
    (False, np.float32(1.0))
    >>> smoother.cut
    True
    """

    def __init__(self, time_constant: float = TIME_CONSTANT):
        self.time_constant = time_constant
        self.maps: np.ndarray | None = None
        self.cut = False
        self._stops = 0.0
        self._pattern: np.ndarray | None = None

    def reset(self) -> None:
        """Forget the stream: the next frame starts a new scene."""
        self.maps, self._pattern = None, None

    def update(self, maps: np.ndarray, small: np.ndarray, stops: float, interval: float) -> np.ndarray:
        """Fold in a frame's ``maps`` (its small copy ``small``, ``stops`` under-exposed), ``interval`` seconds after the last; return the maps to render it with.

        :attr:`cut` tells whether this frame started a new scene (the first frame does).
        """
        pattern = brightness_pattern(small)
        self.cut = (
            self.maps is None
            or self.maps.shape != maps.shape
            or abs(stops - self._stops) > CUT_STOPS
            or pattern_change(self._pattern, pattern) > CUT_PATTERN
        )
        if self.cut:
            self.maps = np.array(maps, np.float32)
        else:
            self.maps += np.float32(smoothing_weight(interval, self.time_constant)) * (maps - self.maps)
        self._stops, self._pattern = stops, pattern
        return self.maps
