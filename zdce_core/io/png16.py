"""16-bit colour PNG: libpng (through imagecodecs) for the pixels, our own metadata chunks.

Pillow reads 16-bit RGB, RGBA and grey+alpha PNGs as 8-bit and cannot write
them. The encoder also writes 8-bit PNGs with stored, unfiltered rows, which
Pillow cannot (it always filters), for intermediate files another program
reads at once. libpng reads every valid PNG (interlaced ones too) and inflates only the
rows the header declares, so a stream that inflates to far more than that
costs no memory. imagecodecs writes no iCCP, pHYs or eXIf chunk, so those few
lines of the specification stay here; reading them is Pillow's job.
"""

from __future__ import annotations

import struct
import zlib

import imagecodecs
import numpy as np

SIGNATURE = b"\x89PNG\r\n\x1a\n"
_IHDR_END = len(SIGNATURE) + 8 + 13 + 4


def decode(data: bytes) -> np.ndarray:
    """Decode a 16-bit PNG to an (H, W[, C]) uint16 array.

    Raises
    ------
    ValueError
        If the data is not a complete, valid 16-bit PNG.
    """
    try:
        array = imagecodecs.png_decode(data)
    except Exception as exc:  # imagecodecs.PngError, or its own ValueError/RuntimeError
        raise ValueError(f"corrupt PNG ({exc})") from None
    if array.dtype != np.uint16:
        raise ValueError(f"expected a 16-bit PNG, got {array.dtype} samples")
    return array


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def encode(
    array: np.ndarray,
    *,
    icc_profile: bytes | None = None,
    exif: bytes | None = None,
    dpi: tuple[float, float] | None = None,
    level: int = 6,
) -> bytes:
    """Encode an (H, W[, C]) uint16 or uint8 array (C = 1..4) as a PNG of that depth.

    ``exif`` may carry Pillow's ``Exif\\0\\0`` prefix; PNG's eXIf chunk holds
    the TIFF structure after it. ``level`` 0 stores the rows unfiltered and
    uncompressed: about 10 times quicker to write than level 1 on a noisy
    photo, and quicker to read, for 3 to 20 times the size.
    """
    if array.dtype not in (np.uint16, np.uint8):
        raise TypeError(f"expected a uint16 or uint8 array, got {array.dtype}")
    if array.ndim == 3 and array.shape[-1] == 1:
        array = array[..., 0]
    if not (array.ndim == 2 or (array.ndim == 3 and array.shape[-1] in (2, 3, 4))):
        raise ValueError(f"cannot write an array of shape {array.shape} as PNG")
    # Filtering makes rows compress better; with nothing compressed it only costs time.
    row_filter = imagecodecs.PNG.FILTER.NONE if level == 0 else None
    png = imagecodecs.png_encode(np.ascontiguousarray(array), level=level, filter=row_filter)
    extra = []
    if icc_profile:
        extra.append(_chunk(b"iCCP", b"ICC Profile\0\0" + zlib.compress(icc_profile)))
    if dpi:
        per_metre = [round(v / 0.0254) for v in dpi]
        extra.append(_chunk(b"pHYs", struct.pack(">IIB", *per_metre, 1)))
    if exif:
        extra.append(_chunk(b"eXIf", exif[6:] if exif.startswith(b"Exif\0\0") else exif))
    # These chunks must come before the pixel data: right after IHDR, which is always first.
    return b"".join([png[:_IHDR_END], *extra, memoryview(png)[_IHDR_END:]])  # one copy of the pixels
