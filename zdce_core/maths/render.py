"""Apply estimated curve maps to the full-resolution image, band by band: NumPy, and one C loop.

The maps are upsampled bilinearly (``align_corners=False``, as
:func:`torch.nn.functional.interpolate`) to the image size and the curve
iterations ``x <- x + a * x * (1 - x)`` run in float32 on bands of rows, so
nothing of full image size is allocated besides the output. A band is
rendered, optionally filtered (:mod:`zdce_core.maths.denoise`), then clipped
to [0, 1] and only then converted to the output dtype: uint8, uint16 and float
results are one picture, rounded differently.

The curve iterations, the hot loop, run in a small C extension
(``zdce_core/maths/_curves.c``, built at install where a C compiler is found)
that keeps each value in a register through all steps; without it
:func:`apply_curves_numpy`, the reference it is tested against, runs instead
(same float32 operations, same result). No JIT compiler is involved, and the
bands run on a pool of threads that release the GIL, so the first call in a
fresh process is as fast as the others: see docs/speed.md.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from .resample import FULL_SCALE, source_coords

try:
    from ._curves import apply as _apply_compiled
except ImportError:  # installed without a C compiler
    _apply_compiled = None

BAND_ROWS = 16
"""Rows per work item: a band's float32 rows and temporaries stay in the CPU cache."""

_DTYPES = (np.dtype(np.uint8), np.dtype(np.uint16), np.dtype(np.float32), np.dtype(np.float64))

BandFilter = Callable[[np.ndarray, int, int, int], np.ndarray]
"""``filter(rows, first, top, bottom)``: filtered float32 rows ``top..bottom`` of the rendered
image, given rendered rows ``first..`` covering ``filter.halo`` rows on either side (within the image)."""


class CurvePlan:
    """The maps of one render, channels interleaved like the image's samples, and the bilinear weights.

    Shared by the workers of a render; each applies the curves through its own
    :class:`CurveRows`.
    """

    def __init__(self, maps: np.ndarray, height: int, width: int, steps: int, strength: float):
        n_maps, map_h, map_w = maps.shape
        if not 0 <= steps <= n_maps // 3:
            raise ValueError(f"steps must be in 0..{n_maps // 3}, got {steps}")
        # (map_h, steps, 3 * map_w): a map row's samples in the image's order, R G B per column.
        grouped = np.asarray(maps[: 3 * steps], np.float32).reshape(steps, 3, map_h, map_w).transpose(2, 0, 3, 1)
        self.maps = np.ascontiguousarray(grouped).reshape(map_h, steps, 3 * map_w)
        x0, x1, wx = source_coords(width, map_w)
        channels = np.arange(3)
        self.left = (3 * x0[:, None] + channels).ravel()
        self.right = (3 * x1[:, None] + channels).ravel()
        self.wx = np.repeat(wx, 3)
        self.y0, _, self.wy = source_coords(height, map_h)
        self.steps, self.strength, self.length = steps, np.float32(strength), 3 * width

    def interpolate(self, r: int, out: np.ndarray, scratch: np.ndarray) -> None:
        """Map row ``r`` interpolated along the image's width, times ``strength``, into ``(steps, 3 * W)`` ``out``."""
        np.take(self.maps[r], self.right, axis=1, out=out)
        left = np.take(self.maps[r], self.left, axis=1, out=scratch)
        out -= left
        out *= self.wx
        out += left
        out *= self.strength

    def rows(self) -> CurveRows:
        """A new worker's view of the plan."""
        return CurveRows(self)


class CurveRows:
    """Applies a :class:`CurvePlan`'s curves to one worker's rows, top to bottom.

    It holds the two map rows its current image rows fall between, each
    interpolated along the width once: image row ``y`` then takes one
    multiply-add per step, the upper map row plus ``wy[y]`` times the
    difference to the lower one. A few rows' worth of memory per worker, and
    the interpolation shared out among the workers.
    """

    def __init__(self, plan: CurvePlan):
        self.plan = plan
        shape = (plan.steps, plan.length)
        self.upper, self.lower, self.slope, self.scratch = (np.empty(shape, np.float32) for _ in range(4))
        self.r = None

    def curves(self, x: np.ndarray, top: int) -> None:
        """Apply the curves in place to float32 rows ``x`` (image rows ``top..``), values in [0, 1]."""
        plan = self.plan
        if not plan.steps or not x.shape[0]:
            return
        ys = plan.y0[top : top + x.shape[0]]
        for start, stop in segments(ys):
            self._between(int(ys[start]))
            apply_curves(x[start:stop], plan.wy[top + start : top + stop], self.upper, self.slope)

    def _between(self, r: int) -> None:
        if r == self.r:
            return
        plan = self.plan
        if self.r is not None and r == self.r + 1:
            self.upper, self.lower = self.lower, self.upper  # moving down: the lower row becomes the upper
        else:
            plan.interpolate(r, self.upper, self.scratch)
        # source_coords pairs map row r with row min(r + 1, map_h - 1): the last row's slope is 0.
        plan.interpolate(min(r + 1, len(plan.maps) - 1), self.lower, self.scratch)
        np.subtract(self.lower, self.upper, out=self.slope)
        self.r = r


def apply_curves_numpy(x: np.ndarray, w: np.ndarray, upper: np.ndarray, slope: np.ndarray) -> None:
    """The curve iterations on rows between the same two map rows, in place: the reference.

    For each step ``s``, ``x <- x + a * (x - x * x)`` with ``a = w[:, None] * slope[s] + upper[s]``;
    ``x`` is float32 ``(rows, n)``, ``w`` the rows' weights, ``upper`` and ``slope`` ``(steps, n)``.
    The C kernel does the same float32 operations in the same order.

    >>> x = np.full((1, 3), 0.5, np.float32)
    >>> apply_curves_numpy(x, np.zeros(1, np.float32), np.ones((2, 3), np.float32), np.zeros((2, 3), np.float32))
    >>> x
    array([[0.9375, 0.9375, 0.9375]], dtype=float32)
    """
    a = np.empty_like(x)
    t = np.empty_like(x)
    w = w[:, None]
    for s in range(upper.shape[0]):
        np.multiply(w, slope[s], out=a)
        a += upper[s]
        np.multiply(x, x, out=t)
        np.subtract(x, t, out=t)
        t *= a
        x += t


apply_curves = _apply_compiled or apply_curves_numpy
"""The kernel :meth:`CurveRows.curves` runs: the compiled one where it was built, else the NumPy reference."""


def segments(ys: np.ndarray) -> list[tuple[int, int]]:
    """``(start, stop)`` of each run of equal values in ``ys``: rows that interpolate between the same two map rows.

    >>> segments(np.array([0, 0, 1, 1, 1, 3]))
    [(0, 2), (2, 5), (5, 6)]
    """
    cuts = (np.flatnonzero(np.diff(ys)) + 1).tolist()
    return list(zip([0, *cuts], [*cuts, len(ys)]))


def _load_rows(src: np.ndarray, top: int, bottom: int, scale: float) -> np.ndarray:
    rows = src[top:bottom].astype(np.float32)
    if scale != 1.0:
        rows *= np.float32(scale)
    return rows


def _store_rows(rows: np.ndarray, dst: np.ndarray, top: int, scale: float) -> None:
    """Clip float32 rows to [0, 1] exactly, then write them as ``dst``'s dtype (integers rounded to nearest)."""
    np.clip(rows, 0.0, 1.0, out=rows)
    if scale:
        rows *= np.float32(scale)
        rows += np.float32(0.5)
    dst[top : top + rows.shape[0]] = rows


def render(
    rgb: np.ndarray,
    maps: np.ndarray,
    *,
    steps: int,
    strength: float,
    dtype: np.dtype,
    out: np.ndarray | None = None,
    band_filter: BandFilter | None = None,
    threads: int = 1,
    band_rows: int = BAND_ROWS,
) -> np.ndarray:
    """Apply the first ``steps`` curve iterations of ``maps`` to ``rgb``.

    Parameters
    ----------
    rgb
        C-contiguous ``(H, W, 3)`` uint8, uint16, float32 or float64 image;
        floats in [0, 1].
    maps
        float32 ``(3 * iterations, h, w)`` curve maps from
        :func:`zdce_core.maths.estimate.estimate_curve_maps`, any ``h, w``.
    steps
        Number of curve iterations to apply, at most ``iterations``.
    strength
        Factor on every curve parameter: 0 is the identity.
    dtype
        Output dtype: float32/float64 in [0, 1], or uint8/uint16 at full
        range, rounded to nearest.
    out
        Optional C-contiguous ``(H, W, 3)`` array of ``dtype`` to write
        into; may be ``rgb`` itself unless a ``band_filter`` is given.
    band_filter
        Applied to each band of float rows before they are clipped and
        converted, e.g. :class:`zdce_core.maths.denoise.NoiseFilter`.
    threads
        Bands rendered at once.
    band_rows
        Rows per work item; the result does not depend on it.

    Returns
    -------
    numpy.ndarray
        ``out``, or a new ``(H, W, 3)`` array of ``dtype``.

    Examples
    --------
    >>> grey = np.full((2, 3, 3), 0.25, np.float32)
    >>> render(grey, np.ones((24, 1, 1), np.float32), steps=1, strength=0.5, dtype=np.float32)[0, 0]
    array([0.34375, 0.34375, 0.34375], dtype=float32)
    """
    dtype = np.dtype(dtype)
    height, width = rgb.shape[:2]
    if rgb.dtype not in _DTYPES or dtype not in _DTYPES:
        raise TypeError(f"render needs uint8, uint16, float32 or float64, got {rgb.dtype} -> {dtype}")
    plan = CurvePlan(maps, height, width, steps, strength)
    if out is None:
        out = np.empty((height, width, 3), dtype=dtype)
    elif out.shape != (height, width, 3) or out.dtype != dtype or not out.flags.c_contiguous:
        raise ValueError(f"out must be a C-contiguous {(height, width, 3)} {dtype} array")
    src = np.ascontiguousarray(rgb).reshape(height, -1)
    dst = out.reshape(height, -1)
    in_scale = 1.0 / FULL_SCALE.get(rgb.dtype, 1.0)
    out_scale = FULL_SCALE.get(dtype, 0.0)
    band_rows = max(1, band_rows)
    halo = band_filter.halo if band_filter is not None else 0
    if halo and np.shares_memory(src, dst):
        raise ValueError("out must not be rgb when a band filter reads neighbouring rows")

    def run(first: int, last: int) -> None:
        # One worker's rows, top to bottom, keeping the rendered rows the next band's filter needs.
        held, held_top = np.empty((0, src.shape[1]), np.float32), first
        curves = plan.rows()
        for top in range(first, last, band_rows):
            bottom = min(top + band_rows, last)
            lo, hi = max(0, top - halo), min(height, bottom + halo)
            keep = held[max(0, lo - held_top) :]
            new_top = held_top + held.shape[0] if keep.shape[0] else lo
            rows = _load_rows(src, new_top, hi, in_scale)
            curves.curves(rows, new_top)
            held, held_top = np.concatenate([keep, rows]) if keep.shape[0] else rows, lo
            # Without a filter ``held`` is exactly this band, and no later band needs it.
            result = band_filter(held, lo, top, bottom) if band_filter is not None else held
            _store_rows(result, dst, top, out_scale)

    workers = max(1, min(threads, -(-height // band_rows)))
    if workers == 1:
        run(0, height)
    else:
        # Contiguous shares of whole bands, so each worker renders its halo rows only at its ends.
        bands = -(-height // band_rows)
        edges = [min(height, band_rows * (bands * k // workers)) for k in range(workers + 1)]
        with ThreadPoolExecutor(workers, thread_name_prefix="zdce-render") as pool:
            for done in [pool.submit(run, a, b) for a, b in zip(edges, edges[1:]) if a < b]:
                done.result()
    return out
