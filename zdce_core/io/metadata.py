"""Photo metadata carried from an input file to its enhanced copy.

Orientation is applied to the pixels on reading and the EXIF orientation tag
is reset to 1 in what is carried over, so a viewer never rotates twice. An
ICC profile is kept only when it parses and its colour space still matches
the pixels.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, replace

from PIL import ExifTags, Image

from ..contract import JPEG_QUALITY

ORIENTATION_TAG = 0x0112
# The first-directory tags that describe a photo rather than how its pixels
# are stored. A TIFF's getexif() is its whole first directory (size, bit depth,
# photometric, colour map, strip offsets, ...), and a JPEG's can hold a stale
# size or resolution: carrying those over the writer's own tags makes files
# nothing can open. DPI and ICC travel in their own fields.
_DESCRIPTIVE_TAGS = frozenset(
    {
        0x010D,  # DocumentName
        0x010E,  # ImageDescription
        0x010F,  # Make
        0x0110,  # Model
        ORIENTATION_TAG,
        0x011D,  # PageName
        0x0131,  # Software
        0x0132,  # DateTime
        0x013B,  # Artist
        0x013C,  # HostComputer
        0x4746,  # Rating
        0x4749,  # RatingPercent
        0x8298,  # Copyright
        0x83BB,  # IPTC
        0x9C9B, 0x9C9C, 0x9C9D, 0x9C9E, 0x9C9F,  # XPTitle, XPComment, XPAuthor, XPKeywords, XPSubject
    }
)
_SUB_DIRECTORIES = (ExifTags.IFD.Exif, ExifTags.IFD.GPSInfo)
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
    """Read the metadata of an opened (not necessarily decoded) Pillow image.

    Only the descriptive EXIF fields are kept (camera, dates, author, the
    Exif and GPS directories), never the tags that describe how the source
    stored its pixels; fields that cannot be written back (malformed values)
    are dropped one by one rather than failing the photo.
    """
    source = im.getexif()
    orientation = _orientation(source.get(ORIENTATION_TAG))
    exif = _descriptive(source)
    dpi = im.info.get("dpi")
    subsampling = None
    if im.format == "JPEG":
        from PIL import JpegImagePlugin

        code = JpegImagePlugin.get_sampling(im)
        subsampling = next((name for name, value in SUBSAMPLING.items() if value == code), None)
    compression = im.info.get("compression") if im.format == "TIFF" else None
    return Metadata(
        format=im.format or "",
        exif=exif,
        icc_profile=_parsed_icc(im.info.get("icc_profile")),
        dpi=(float(dpi[0]), float(dpi[1])) if dpi and dpi[0] and dpi[1] else None,
        jpeg_subsampling=subsampling,
        tiff_compression=compression if compression in _LOSSLESS_TIFF else None,
        orientation=orientation,
    )


def _parsed_icc(profile: bytes | None) -> bytes | None:
    # A profile LittleCMS cannot parse (garbage behind a plausible header) would
    # be copied into the output, where no viewer could use it either.
    if not profile:
        return None
    from PIL import ImageCms

    try:
        ImageCms.ImageCmsProfile(io.BytesIO(profile))
    except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
        return None
    return profile


def _orientation(value: object) -> int:
    # Some writers store the tag as text ("6") or as a one-item sequence; anything else means upright.
    if isinstance(value, (tuple, list)) and len(value) == 1:
        value = value[0]
    if isinstance(value, bytes):
        value = value.decode("latin-1")
    try:
        number = int(str(value).strip("\0 ")) if isinstance(value, str) else int(value)
    except (TypeError, ValueError):
        return 1
    return number if number in range(1, 9) else 1


def _serialise(fields: dict[int, object]) -> bytes | None:
    exif = Image.Exif()
    for tag, value in fields.items():
        exif[tag] = value
    return exif.tobytes() if len(exif) else None


def _descriptive(source: Image.Exif) -> bytes | None:
    """The descriptive part of ``source`` as an EXIF block, orientation reset to 1."""
    fields: dict[int, object] = {tag: source[tag] for tag in source if tag in _DESCRIPTIVE_TAGS}
    for tag in _SUB_DIRECTORIES:
        if tag in source:
            try:
                directory = source.get_ifd(tag)
            except Exception:  # a directory pointer to nowhere: leave the directory out
                continue
            if directory:
                fields[tag] = dict(directory)
    if ORIENTATION_TAG in fields:
        fields[ORIENTATION_TAG] = 1
    try:
        return _serialise(fields)
    except Exception:  # Pillow raises struct.error, TypeError, ValueError... for a value it cannot pack
        kept = {}
        for tag, value in fields.items():
            try:
                _serialise({tag: value})
            except Exception:
                continue
            kept[tag] = value
        return _serialise(kept)


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
    meta: Metadata, fmt: str, *, quality: int = JPEG_QUALITY, subsampling: str | None = None
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
