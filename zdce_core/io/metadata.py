"""Photo metadata carried from an input file to its enhanced copy.

Orientation is applied to the pixels on reading and the EXIF orientation tag
is reset to 1 in what is carried over, so a viewer never rotates twice. An
ICC profile is kept only when its colour space still matches the pixels.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from PIL import Image

ORIENTATION_TAG = 0x0112
# Output formats Pillow can embed each piece of metadata in.
_EXIF_FORMATS = {"JPEG", "PNG", "WEBP", "TIFF"}
_ICC_FORMATS = {"JPEG", "PNG", "WEBP", "TIFF"}
_DPI_FORMATS = {"JPEG", "PNG", "TIFF", "BMP"}
_LOSSLESS_TIFF = {"raw", "tiff_lzw", "tiff_adobe_deflate", "packbits"}
SUBSAMPLING = {"4:4:4": 0, "4:2:2": 1, "4:2:0": 2}


@dataclass(frozen=True)
class Metadata:
    """What is carried over from a source photo.

    Attributes
    ----------
    format : str
        Pillow's name for the source format ("JPEG", "PNG", ...).
    exif : bytes or None
        EXIF block with its orientation already reset to 1.
    icc_profile : bytes or None
        Embedded colour profile.
    dpi : tuple of float or None
        Horizontal and vertical resolution.
    jpeg_subsampling : str or None
        The source JPEG's chroma subsampling ("4:2:0", ...), kept by default.
    tiff_compression : str or None
        The source TIFF's compression when it is lossless, kept by default.
    orientation : int
        The EXIF orientation that was applied to the pixels (1 = none).
    """

    format: str = ""
    exif: bytes | None = None
    icc_profile: bytes | None = None
    dpi: tuple[float, float] | None = None
    jpeg_subsampling: str | None = None
    tiff_compression: str | None = None
    orientation: int = 1


def extract(im: Image.Image) -> Metadata:
    """Read the metadata of an opened (not necessarily decoded) Pillow image."""
    exif = im.getexif()
    orientation = int(exif.get(ORIENTATION_TAG, 1) or 1)
    if orientation not in range(1, 9):
        orientation = 1
    if ORIENTATION_TAG in exif:
        exif[ORIENTATION_TAG] = 1
    dpi = im.info.get("dpi")
    subsampling = None
    if im.format == "JPEG":
        from PIL import JpegImagePlugin

        code = JpegImagePlugin.get_sampling(im)
        subsampling = next((name for name, value in SUBSAMPLING.items() if value == code), None)
    compression = im.info.get("compression") if im.format == "TIFF" else None
    return Metadata(
        format=im.format or "",
        exif=exif.tobytes() if len(exif) else None,
        icc_profile=im.info.get("icc_profile") or None,
        dpi=(float(dpi[0]), float(dpi[1])) if dpi and dpi[0] and dpi[1] else None,
        jpeg_subsampling=subsampling,
        tiff_compression=compression if compression in _LOSSLESS_TIFF else None,
        orientation=orientation,
    )


def apply_orientation(array: np.ndarray, orientation: int) -> np.ndarray:
    """Turn pixels stored with EXIF ``orientation`` upright (as Pillow's ``exif_transpose``)."""
    import numpy as np  # here, not at the top: the command line's parsers read this module's constants

    ops = {
        1: lambda a: a,
        2: lambda a: a[:, ::-1],
        3: lambda a: a[::-1, ::-1],
        4: lambda a: a[::-1],
        5: lambda a: a.swapaxes(0, 1),
        6: lambda a: np.rot90(a, -1),
        7: lambda a: a.swapaxes(0, 1)[::-1, ::-1],
        8: lambda a: np.rot90(a, 1),
    }
    return np.ascontiguousarray(ops[orientation](array))


def icc_colour_space(profile: bytes) -> str:
    """The data colour space an ICC profile's header declares ("RGB", "GRAY", "CMYK", ...)."""
    return profile[16:20].decode("latin-1").strip() if len(profile) >= 20 else ""


def fit_to(meta: Metadata, array: np.ndarray) -> Metadata:
    """Drop an ICC profile whose colour space no longer matches ``array`` (grey vs colour)."""
    if meta.icc_profile is None:
        return meta
    wanted = "GRAY" if array.ndim == 2 else "RGB"
    return meta if icc_colour_space(meta.icc_profile) == wanted else replace(meta, icc_profile=None)


def save_options(
    meta: Metadata, fmt: str, *, quality: int = 92, subsampling: str | None = None
) -> dict[str, object]:
    """Pillow ``save`` options that carry ``meta`` into format ``fmt``.

    Parameters
    ----------
    meta : Metadata
        What to carry over.
    fmt : str
        Pillow's output format name.
    quality : int
        JPEG/WebP quality, 1..100.
    subsampling : str or None
        JPEG chroma subsampling ("4:4:4", "4:2:2", "4:2:0"); ``None`` keeps the
        source JPEG's, or uses 4:2:0 for other sources.
    """
    options: dict[str, object] = {}
    if meta.exif and fmt in _EXIF_FORMATS:
        options["exif"] = meta.exif
    if meta.icc_profile and fmt in _ICC_FORMATS:
        options["icc_profile"] = meta.icc_profile
    if meta.dpi and fmt in _DPI_FORMATS:
        options["dpi"] = meta.dpi
    if fmt == "JPEG":
        options["quality"] = quality
        options["subsampling"] = subsampling or meta.jpeg_subsampling or "4:2:0"
    elif fmt == "WEBP":
        options["quality"] = quality
    elif fmt == "TIFF":
        options["compression"] = meta.tiff_compression or "tiff_lzw"
    return options
