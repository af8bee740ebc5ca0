"""How a result is judged: one definition of each measure that training, ``zdce runs`` and the benchmarks share.

Every measure takes RGB images, ``(h, w, 3)`` uint8, uint16 or float in [0, 1]
(sRGB-encoded, as the engine reads and writes them), and needs NumPy only.

- :func:`luminance`: the brightness rule, Rec. 709 weights (:data:`LUMA`) on
  the encoded values, in [0, 1];
- :func:`night` and :func:`near_black_lift`: pixels whose input luminance is
  below :data:`NEAR_BLACK` (a night sky, not a dim wall); a photo is a night
  photo when at least :data:`NIGHT_SHARE` of its pixels are;
- :func:`clipped` and :func:`clipped_share`: any channel at or above
  :data:`CLIP_LEVEL` in 8-bit levels;
- :func:`noise`: Immerkaer's estimate on the flat half of the 8-bit luma, in
  levels;
- :func:`rgb_to_lab`, :func:`ciede2000` and :func:`hue_shift`: colour
  differences in CIELAB (sRGB, D65);
- :func:`niqe`: the Natural Image Quality Evaluator with the published
  parameters (``data/niqe_pris_params.npz``, see ``data/README.md``);
- :func:`flicker`: a clip's mean frame-to-frame change of log mean
  luminance (``zdce video``'s temporal steadiness).
"""

from __future__ import annotations

import math
from functools import cache
from pathlib import Path

import numpy as np

from .maths.exposure import srgb_to_linear
from .maths.resample import LUMA, unit_scale

__all__ = [
    "LUMA", "NEAR_BLACK", "NIGHT_SHARE", "CLIP_LEVEL", "HUE_BRIGHT", "HUE_CHROMA",
    "luminance", "levels", "night", "near_black_lift", "clipped", "clipped_share", "noise",
    "rgb_to_lab", "delta_e2000", "ciede2000", "hue_shift", "niqe",
]

NEAR_BLACK = 0.02
"""Input luminance below which a pixel counts as near-black: a night sky, not a dim wall."""

NIGHT_SHARE = 0.20
"""Share of near-black input pixels from which a photo counts as a night photo (a night scene
should stay one; lol15's under-exposed interiors stay below it)."""

CLIP_LEVEL = 254
"""8-bit level from which a channel counts as clipped. Measured on the 8-bit result a user saves:
a curve that runs into white lands on 254 or 255 after rounding, while 253 and below (the
``>= 0.99`` rule this replaces) still holds gradation in bright but unclipped highlights."""

HUE_BRIGHT = 0.5
"""Input luminance above which a pixel is a highlight for :func:`hue_shift`."""

HUE_CHROMA = 10.0
"""CIELAB chroma of the input above which a highlight has a hue worth keeping (below it, a grey)."""

_SRGB_TO_XYZ = np.array(
    [[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]]
)  # IEC 61966-2-1; its row sums are the D65 white, so neutral greys get a = b = 0.
_NIQE_BLOCK = 96
_NIQE_PARAMS = Path(__file__).parent / "data" / "niqe_pris_params.npz"


def _rgb(image: np.ndarray, name: str = "image") -> np.ndarray:
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[-1] != 3 or image.shape[0] < 1 or image.shape[1] < 1:
        raise ValueError(f"{name} must be an (h, w, 3) RGB array, got shape {image.shape}; drop alpha with {name}[..., :3]")
    if image.dtype.kind not in "uf":
        raise ValueError(f"{name} must be uint8, uint16 or float in [0, 1], got dtype {image.dtype}")
    return image


def _pair(image: np.ndarray, result: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    image, result = _rgb(image), _rgb(result, "result")
    if image.shape != result.shape:
        raise ValueError(f"result must have the shape of image, got {result.shape} and {image.shape}")
    return image, result


def _unit(image: np.ndarray) -> np.ndarray:
    return image.astype(np.float64) * unit_scale(image.dtype)


def luminance(image: np.ndarray) -> np.ndarray:
    """Per-pixel luminance in [0, 1]: :data:`LUMA` weights on the encoded values.

    >>> luminance(np.array([[[255, 255, 255], [0, 255, 0]]], np.uint8)).round(4)
    array([[1.    , 0.7154]])
    """
    return _unit(_rgb(image)) @ LUMA.astype(np.float64)


def levels(image: np.ndarray) -> np.ndarray:
    """``image`` as the 8-bit file would hold it, float64 levels 0-255 (floats clipped and rounded).

    >>> levels(np.array([[[0.0, 0.5, 1.2]]], np.float32))
    array([[[  0., 128., 255.]]])
    """
    image = _rgb(image)
    if image.dtype == np.uint8:
        return image.astype(np.float64)
    return np.round(np.clip(_unit(image), 0.0, 1.0) * 255.0)


def night(image: np.ndarray) -> bool:
    """Whether at least :data:`NIGHT_SHARE` of the pixels have luminance below :data:`NEAR_BLACK`."""
    return bool((luminance(image) < NEAR_BLACK).mean() >= NIGHT_SHARE)


def near_black_lift(image: np.ndarray, result: np.ndarray) -> float:
    """Mean luminance of ``result`` over the pixels whose ``image`` luminance is below :data:`NEAR_BLACK`.

    NaN when there are none. Reported over the :func:`night` photos of a set.

    >>> dark = np.zeros((2, 2, 3), np.uint8); dark[0, 0] = 200
    >>> round(near_black_lift(dark, np.full((2, 2, 3), 0.1)), 6)
    0.1
    """
    image, result = _pair(image, result)
    black = luminance(image) < NEAR_BLACK
    return float(luminance(result)[black].mean()) if black.any() else float("nan")


def clipped(image: np.ndarray) -> np.ndarray:
    """Per-pixel mask: any channel at or above :data:`CLIP_LEVEL` in 8-bit levels."""
    return (levels(image) >= CLIP_LEVEL).any(axis=-1)


def clipped_share(image: np.ndarray) -> float:
    """Share of pixels in [0, 1] that :func:`clipped` marks.

    >>> clipped_share(np.array([[[254, 0, 0], [253, 253, 253]]], np.uint8))
    0.5
    """
    return float(clipped(image).mean())


def _pad_filter(x: np.ndarray, kernel: np.ndarray, axis: int, mode: str) -> np.ndarray:
    """Correlate ``x`` with a 1-D odd ``kernel`` along ``axis``, borders padded by ``mode`` (NumPy's names)."""
    r = len(kernel) // 2
    pad = [(0, 0)] * x.ndim
    pad[axis] = (r, r)
    padded = np.pad(x, pad, mode=mode)
    n = x.shape[axis]
    out = np.zeros(x.shape, np.float64)
    for k, weight in enumerate(kernel):
        if weight:
            window = [slice(None)] * x.ndim
            window[axis] = slice(k, k + n)
            out += weight * padded[tuple(window)]
    return out


def _gaussian(x: np.ndarray, sigma: float, mode: str) -> np.ndarray:
    radius = int(4 * sigma + 0.5)  # 4 sigma, as scipy.ndimage.gaussian_filter
    t = np.arange(-radius, radius + 1)
    kernel = np.exp(-0.5 * (t / sigma) ** 2)
    kernel /= kernel.sum()
    return _pad_filter(_pad_filter(x, kernel, 0, mode), kernel, 1, mode)


def noise(image: np.ndarray) -> float:
    """Noise sigma of ``image`` in 8-bit levels, Immerkaer's estimate on the flat half of the picture.

    The Rec. 709 luma of the 8-bit image (:func:`levels`, levels 0-255) is
    filtered with Immerkaer's kernel ``[[1, -2, 1], [-2, 4, -2], [1, -2, 1]]``
    (borders reflected with the edge pixel repeated, as scipy.ndimage's "reflect", then one pixel
    trimmed), which cancels smooth content.
    Edges and texture are kept out: only pixels whose gradient magnitude (Sobel
    on the luma smoothed by a Gaussian of sigma 1) is at most its median count.
    sigma = sqrt(pi / 2) * mean(|response|) / 6.

    >>> rng = np.random.default_rng(0)
    >>> flat = np.clip(np.round(128 + rng.normal(0, 3, (300, 300, 1))), 0, 255).astype(np.uint8)
    >>> round(noise(np.repeat(flat, 3, axis=-1)), 1)
    3.0
    """
    luma = levels(image) @ LUMA.astype(np.float64)
    if min(luma.shape) < 3:
        raise ValueError(f"image must be at least 3x3 pixels for noise, got {luma.shape[1]}x{luma.shape[0]}")
    second = np.array([1.0, -2.0, 1.0])
    response = _pad_filter(_pad_filter(luma, second, 0, "symmetric"), second, 1, "symmetric")[1:-1, 1:-1]
    smooth = _gaussian(luma, 1.0, "symmetric")
    derivative, average = np.array([-1.0, 0.0, 1.0]), np.array([1.0, 2.0, 1.0])
    gx = _pad_filter(_pad_filter(smooth, derivative, 1, "symmetric"), average, 0, "symmetric")
    gy = _pad_filter(_pad_filter(smooth, derivative, 0, "symmetric"), average, 1, "symmetric")
    gradient = np.hypot(gx, gy)[1:-1, 1:-1]
    flat = gradient <= np.median(gradient)
    return float(math.sqrt(math.pi / 2) * np.abs(response[flat]).mean() / 6)


def rgb_to_lab(image: np.ndarray) -> np.ndarray:
    """CIELAB (D65) of an sRGB ``image``, float64 ``(h, w, 3)``: L in [0, 100].

    >>> rgb_to_lab(np.array([[[255, 255, 255], [128, 128, 128]]], np.uint8)).round(2)
    array([[[100.  ,   0.  ,   0.  ],
            [ 53.59,   0.  ,   0.  ]]])
    """
    image = _rgb(image)
    if image.dtype == np.uint8:
        linear = srgb_to_linear(np.arange(256) / 255.0)[image]  # 256 values to decode, not one per channel
    else:
        linear = srgb_to_linear(_unit(image))
    xyz = linear @ _SRGB_TO_XYZ.T / _SRGB_TO_XYZ.sum(axis=1)
    f = np.where(xyz > (6 / 29) ** 3, np.cbrt(xyz), xyz / (3 * (6 / 29) ** 2) + 4 / 29)
    return np.stack([116 * f[..., 1] - 16, 500 * (f[..., 0] - f[..., 1]), 200 * (f[..., 1] - f[..., 2])], axis=-1)


def delta_e2000(lab1: np.ndarray, lab2: np.ndarray) -> np.ndarray:
    """Per-pixel CIEDE2000 (Sharma, Wu and Dalal 2005; kL = kC = kH = 1) between CIELAB arrays ``(..., 3)``."""
    l1, a1, b1 = np.moveaxis(np.asarray(lab1, np.float64), -1, 0)
    l2, a2, b2 = np.moveaxis(np.asarray(lab2, np.float64), -1, 0)
    c_bar7 = ((np.hypot(a1, b1) + np.hypot(a2, b2)) / 2) ** 7
    g = 0.5 * (1 - np.sqrt(c_bar7 / (c_bar7 + 25.0**7)))
    a1p, a2p = (1 + g) * a1, (1 + g) * a2
    c1p, c2p = np.hypot(a1p, b1), np.hypot(a2p, b2)
    h1p = np.degrees(np.arctan2(b1, a1p)) % 360
    h2p = np.degrees(np.arctan2(b2, a2p)) % 360
    chromatic = c1p * c2p != 0
    dh = h2p - h1p
    dh = np.where(dh > 180, dh - 360, np.where(dh < -180, dh + 360, dh))
    dh = np.where(chromatic, dh, 0.0)
    d_big_h = 2 * np.sqrt(c1p * c2p) * np.sin(np.radians(dh) / 2)
    h_sum = h1p + h2p
    h_bar = np.where(
        np.abs(h1p - h2p) <= 180, h_sum / 2, np.where(h_sum < 360, (h_sum + 360) / 2, (h_sum - 360) / 2)
    )
    h_bar = np.where(chromatic, h_bar, h_sum)
    t = (1 - 0.17 * np.cos(np.radians(h_bar - 30)) + 0.24 * np.cos(np.radians(2 * h_bar))
         + 0.32 * np.cos(np.radians(3 * h_bar + 6)) - 0.20 * np.cos(np.radians(4 * h_bar - 63)))
    l_bar50 = ((l1 + l2) / 2 - 50) ** 2
    cp_bar = (c1p + c2p) / 2
    s_l = 1 + 0.015 * l_bar50 / np.sqrt(20 + l_bar50)
    s_c = 1 + 0.045 * cp_bar
    s_h = 1 + 0.015 * cp_bar * t
    r_c = 2 * np.sqrt(cp_bar**7 / (cp_bar**7 + 25.0**7))
    r_t = -np.sin(np.radians(60 * np.exp(-(((h_bar - 275) / 25) ** 2)))) * r_c
    dl, dc, dh_ = (l2 - l1) / s_l, (c2p - c1p) / s_c, d_big_h / s_h
    return np.sqrt(dl**2 + dc**2 + dh_**2 + r_t * dc * dh_)


def ciede2000(image: np.ndarray, result: np.ndarray) -> float:
    """Mean CIEDE2000 colour difference between two sRGB images (ΔE00 per pixel, D65).

    >>> grey, lighter = np.full((1, 1, 3), 128, np.uint8), np.full((1, 1, 3), 138, np.uint8)
    >>> round(ciede2000(grey, grey), 6), round(ciede2000(grey, lighter), 2)
    (0.0, 3.66)
    """
    image, result = _pair(image, result)
    return float(delta_e2000(rgb_to_lab(image), rgb_to_lab(result)).mean())


def hue_shift(image: np.ndarray, result: np.ndarray) -> float:
    """Mean absolute CIELAB hue-angle change, in degrees, of the coloured highlights of ``image``.

    The pixels counted have input luminance above :data:`HUE_BRIGHT`, input
    chroma above :data:`HUE_CHROMA`, and are :func:`clipped` in neither
    ``image`` nor ``result``: a lamp that keeps its orange scores 0. NaN when
    there are none.

    >>> orange = np.full((1, 1, 3), (230, 150, 60), np.uint8)
    >>> round(hue_shift(orange, orange), 6), round(hue_shift(orange, orange[..., ::-1].copy()), 1)
    (0.0, 158.6)
    """
    image, result = _pair(image, result)
    lab_in, lab_out = rgb_to_lab(image), rgb_to_lab(result)
    chroma = np.hypot(lab_in[..., 1], lab_in[..., 2])
    keep = (luminance(image) > HUE_BRIGHT) & (chroma > HUE_CHROMA) & ~clipped(image) & ~clipped(result)
    if not keep.any():
        return float("nan")
    h_in = np.arctan2(lab_in[keep, 2], lab_in[keep, 1])
    h_out = np.arctan2(lab_out[keep, 2], lab_out[keep, 1])
    change = np.degrees(np.abs(np.angle(np.exp(1j * (h_out - h_in)))))
    return float(change.mean())


# -- NIQE ---------------------------------------------------------------------------


@cache
def _niqe_params() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    with np.load(_NIQE_PARAMS, allow_pickle=False) as params:
        window = params["gaussian_window"]
        # The 7x7 window is an outer product of one Gaussian: filter with it in two passes.
        return params["mu_pris_param"][0], params["cov_pris_param"], window.sum(axis=1)


@cache
def _ggd_table() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Shape candidates 0.2..10 (step 0.001), their ratio r(shape), and Gamma(1/s), Gamma(2/s), Gamma(3/s)."""
    shapes = np.arange(0.2, 10.001, 0.001)
    gammas = [np.array([math.gamma(k / s) for s in shapes]) for k in (1, 2, 3)]
    ratio = gammas[1] ** 2 / (gammas[0] * gammas[2])  # increasing in the shape
    return shapes, ratio, *gammas  # type: ignore[return-value]


def _aggd(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Fit an asymmetric generalised Gaussian to each row of ``x`` (Mittal et al. 2012; moment matching on the table).

    Returns shape, left and right scale, and the distribution's mean. A row
    without negative (or positive) values gives NaN scales and the smallest
    shape, as the published MATLAB code does.
    """
    shapes, ratio, g1, g2, g3 = _ggd_table()
    negative, positive = x < 0, x > 0
    with np.errstate(invalid="ignore", divide="ignore"):
        left = np.sqrt((x**2 * negative).sum(axis=1) / negative.sum(axis=1))
        right = np.sqrt((x**2 * positive).sum(axis=1) / positive.sum(axis=1))
        g = left / right
        rhat = np.abs(x).mean(axis=1) ** 2 / (x**2).mean(axis=1)
        target = rhat * (g**3 + 1) * (g + 1) / (g**2 + 1) ** 2
    # The nearest tabulated ratio (the lower one on a tie); NaN takes the first entry, as MATLAB's min does.
    above = np.clip(np.searchsorted(ratio, target), 1, len(ratio) - 1)
    lower = (target - ratio[above - 1]) ** 2 <= (ratio[above] - target) ** 2
    index = np.where(np.isnan(target), 0, np.where(lower, above - 1, above))
    scale = np.sqrt(g1[index] / g3[index])
    beta_l, beta_r = left * scale, right * scale
    return shapes[index], beta_l, beta_r, (beta_r - beta_l) * g2[index] / g1[index]


def _block_features(normalised: np.ndarray, size: int) -> np.ndarray:
    """The 18 NIQE features of each ``size`` x ``size`` block, ``(blocks, 18)``."""
    h, w = normalised.shape
    blocks = normalised.reshape(h // size, size, w // size, size).transpose(0, 2, 1, 3).reshape(-1, size, size)
    flat = blocks.reshape(len(blocks), -1)
    shape, beta_l, beta_r, _ = _aggd(flat)
    features = [shape, (beta_l + beta_r) / 2]
    for shift in ((0, 1), (1, 0), (1, 1), (1, -1)):
        product = (blocks * np.roll(blocks, shift, axis=(1, 2))).reshape(len(blocks), -1)
        shape, beta_l, beta_r, mean = _aggd(product)
        features += [shape, mean, beta_l, beta_r]
    return np.stack(features, axis=1)


def _bicubic_half(length: int) -> np.ndarray:
    """``(ceil(length / 2), length)`` weights of MATLAB's ``imresize(x, 0.5)`` (bicubic, antialiased, symmetric borders)."""
    scale, width = 0.5, 4 / 0.5
    out = np.arange(1, math.ceil(length * scale) + 1)
    centre = out / scale + 0.5 * (1 - 1 / scale)
    left = np.floor(centre - width / 2)
    taps = left[:, None] + np.arange(math.ceil(width) + 2)
    d = np.abs(scale * (centre[:, None] - taps))
    cubic = np.where(d <= 1, 1.5 * d**3 - 2.5 * d**2 + 1, np.where(d <= 2, -0.5 * d**3 + 2.5 * d**2 - 4 * d + 2, 0.0))
    weights = scale * cubic
    weights /= weights.sum(axis=1, keepdims=True)
    # 1-based taps outside 1..length mirror back in (the edge pixel repeated), as MATLAB pads.
    period = np.arange(2 * length)
    mirror = np.where(period < length, period, 2 * length - 1 - period)
    columns = mirror[((taps - 1) % (2 * length)).astype(np.int64)]
    matrix = np.zeros((len(out), length))
    np.add.at(matrix, (np.repeat(np.arange(len(out)), taps.shape[1]), columns.ravel()), weights.ravel())
    return matrix


def niqe(image: np.ndarray) -> float:
    """NIQE of ``image`` (Mittal, Soundararajan and Bovik 2013) with the published model; lower is more natural.

    As the published MATLAB code computes it: the Y channel of the 8-bit image
    (BT.601 YCbCr, levels 16-235, rounded), cropped to whole 96x96 blocks;
    each pixel normalised by the local mean and deviation under the 7x7
    Gaussian window of the model; per block, asymmetric generalised Gaussian
    fits to the normalised values and to their products with the four
    neighbours; the same on the image halved by MATLAB's bicubic ``imresize``
    (48x48 blocks); the distance of the blocks' multivariate Gaussian to the
    pristine model's. The parameters are BasicSR 1.4.2's copy of the published
    ones (``data/README.md``); on BasicSR's ``baboon.png`` this gives MATLAB's
    5.7296.

    Parameters
    ----------
    image : (h, w, 3) ndarray
        sRGB, uint8, uint16 or float in [0, 1]; at least two 96x96 blocks.

    Returns
    -------
    float
        The score; NaN when fewer than two blocks have texture (a flat picture).
    """
    rgb = levels(image)
    h, w = rgb.shape[:2]
    rows, cols = h // _NIQE_BLOCK, w // _NIQE_BLOCK
    if rows * cols < 2:
        raise ValueError(f"image must hold at least two {_NIQE_BLOCK}x{_NIQE_BLOCK} blocks for NIQE, got {w}x{h}")
    y = np.round(16 + rgb @ np.array([65.481, 128.553, 24.966]) / 255)
    y = y[: rows * _NIQE_BLOCK, : cols * _NIQE_BLOCK]
    mu_pristine, cov_pristine, window = _niqe_params()
    features = []
    for size in (_NIQE_BLOCK, _NIQE_BLOCK // 2):
        mu = _pad_filter(_pad_filter(y, window, 0, "edge"), window, 1, "edge")
        var = _pad_filter(_pad_filter(y * y, window, 0, "edge"), window, 1, "edge") - mu * mu
        features.append(_block_features((y - mu) / (np.sqrt(np.abs(var)) + 1), size))
        if size == _NIQE_BLOCK:
            y = _bicubic_half(y.shape[0]) @ y @ _bicubic_half(y.shape[1]).T
    features = np.concatenate(features, axis=1)
    # MATLAB's nanmean and nancov: a feature's mean over the blocks where it is defined, the
    # covariance over the blocks where all are (a flat block, such as a black sky, has none).
    defined = ~np.isnan(features)
    complete = features[defined.all(axis=1)]
    if len(complete) < 2:
        return float("nan")
    mu_result = np.where(defined, features, 0.0).sum(axis=0) / defined.sum(axis=0)
    cov_result = np.cov(complete, rowvar=False)
    d = mu_pristine - mu_result
    return float(np.sqrt(d @ np.linalg.pinv((cov_pristine + cov_result) / 2) @ d))


def flicker(frames) -> float:
    """Mean frame-to-frame change of the natural log of the frames' mean :func:`luminance`: 0.01 is 1 % per frame.

    A ratio measure, so a clip and its brightened copy compare directly: a
    steady gain leaves it unchanged, curves that pump with each frame raise it.

    >>> dim = [np.full((2, 2, 3), v, np.uint8) for v in (100, 101, 100)]
    >>> round(flicker(dim), 4), round(flicker([2 * f for f in dim]), 4)
    (0.01, 0.01)
    """
    means = np.array([luminance(frame).mean() for frame in frames])
    return float(np.abs(np.diff(np.log(np.maximum(means, 1e-6)))).mean())
