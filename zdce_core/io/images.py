"""Reading and writing photos: Pillow underneath, errors that name the file, atomic writes."""

from __future__ import annotations

import contextlib
import errno
import io
import os
import stat
import threading
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from ..contract import JPEG_QUALITY
from . import metadata
from .atomic import atomic_write
from .metadata import Metadata

_SPECIAL_FILES = (
    (stat.S_ISFIFO, "a named pipe (FIFO)"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
)
_SUBFILE_TYPE, _BITS_PER_SAMPLE, _PHOTOMETRIC, _SAMPLES_PER_PIXEL = 254, 258, 262, 277  # TIFF tags
_PHOTOMETRIC_RGB = 2
_DATA_TAGS = ((273, 279), (324, 325))  # TIFF (offsets, byte counts) of strips and of tiles


class ImageReadError(ValueError):
    """A file could not be read as an image; the message names the file and the reason."""


def list_images(directory: Path) -> list[Path]:
    """Every visible regular file directly in ``directory``, sorted; readers decide what is an image."""
    return sorted(p for p in Path(directory).iterdir() if p.is_file() and not p.name.startswith("."))


@dataclass(frozen=True)
class Photo:
    """Decoded pixels (upright, uint8 or uint16) and the metadata to carry over."""

    array: np.ndarray
    metadata: Metadata


def read_image(path: str | os.PathLike) -> np.ndarray:
    """Read ``path`` as an (H, W[, C]) uint8 or uint16 array, EXIF orientation applied.

    Grayscale stays 2-D, palette and CMYK become RGB(A), 16-bit stays 16-bit.
    """
    return read_photo(path).array


def read_photo(path: str | os.PathLike, *, max_pixels: int | None = Image.MAX_IMAGE_PIXELS) -> Photo:
    """Read ``path`` with its metadata; see :func:`read_image` for the pixel layout.

    Parameters
    ----------
    path : path-like
        The image file.
    max_pixels : int or None
        Refuse images with more pixels than this before decoding them
        (decompression bombs); ``None`` for no limit. The default is
        Pillow's own warning threshold; a larger limit lifts Pillow's own
        refusal too.

    Raises
    ------
    ImageReadError
        Naming the file and the reason: missing, not a regular file, empty,
        not an image, truncated, corrupt, over the pixel limit, several
        frames or pages, or an unsupported sample type or channel count.
        Whatever a decoder raises becomes this error.
    """
    path = Path(path)
    problem = file_problem(path) or ("empty file" if path.stat().st_size == 0 else None)
    if problem:
        raise ImageReadError(f"{path}: {problem}")
    try:
        with _pillow_limit_lifted(max_pixels), Image.open(path) as im:
            width, height = im.size
            if max_pixels is not None and width * height > max_pixels:
                raise ImageReadError(
                    f"{path}: {width}x{height} is {width * height} pixels, over the pixel limit of {max_pixels}"
                )
            layout = _unsupported_layout(im) or _truncated(path, im)
            if layout:
                raise ImageReadError(f"{path}: {layout}")
            # Before extract(): reading a PNG's EXIF may decode it and clear its tile list.
            sixteen = _is_16bit_colour(im)
            meta = metadata.extract(im)
            array, meta = _decode(path, im, meta, sixteen)
            orientation = meta.orientation
            if im.format == "TIFF" and metadata.ORIENTATION_TAG not in im.tag_v2:
                orientation = 1  # Pillow turned it upright while decoding (and dropped the tag); tifffile does not
            return Photo(metadata.apply_orientation(array, orientation), meta)
    except ImageReadError:
        raise
    except FileNotFoundError:
        raise ImageReadError(f"{path}: no such file") from None
    except Image.DecompressionBombError as exc:
        raise ImageReadError(f"{path}: over the pixel limit ({exc})") from None
    except UnidentifiedImageError:
        raise ImageReadError(f"{path}: {_unrecognised(path)}") from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise ImageReadError(f"{path}: not a readable image ({exc})") from None
    except Exception as exc:  # a decoder's own error type (struct.error, IndexError, ...): still this file's fault
        raise ImageReadError(f"{path}: not a readable image ({type(exc).__name__}: {exc})") from None


_PILLOW_LIMIT = threading.Lock()


@contextlib.contextmanager
def _pillow_limit_lifted(max_pixels: int | None) -> Iterator[None]:
    """Within the block, Pillow's own decompression-bomb limit is lifted where ``max_pixels`` allows more.

    Pillow refuses more than twice its ``MAX_IMAGE_PIXELS`` (on opening, and
    again when a TIFF or GIF frame is decoded) whatever the caller asked for;
    the caller's limit, checked from the header before decoding, is the one
    that must hold. Pillow's setting is process-wide, so it is lifted under a
    lock: photos over Pillow's limit are read one at a time.
    """
    pillow = Image.MAX_IMAGE_PIXELS
    if pillow is not None and max_pixels is not None and max_pixels <= 2 * pillow:
        yield
        return
    with _PILLOW_LIMIT:
        saved, Image.MAX_IMAGE_PIXELS = Image.MAX_IMAGE_PIXELS, None
        try:
            yield
        finally:
            Image.MAX_IMAGE_PIXELS = saved


def file_problem(path: Path) -> str | None:
    """Why ``path`` cannot hold a photo (missing, broken link, loop, FIFO, folder), or ``None``.

    Checked without opening it: opening a FIFO would wait for a writer.

    Examples
    --------
    >>> file_problem(Path("/no/such/folder/IMG_0001.jpg"))
    'no such file'
    >>> file_problem(Path("/"))
    'is a folder, not a photo'
    """
    try:
        info = path.stat()
    except FileNotFoundError:
        if path.is_symlink():
            return f"broken symbolic link (its target {os.readlink(path)} does not exist)"
        return "no such file"
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "symbolic link loop"
        return f"cannot be read ({exc.strerror})"
    if stat.S_ISDIR(info.st_mode):
        return "is a folder, not a photo"
    for test, kind in _SPECIAL_FILES:
        if test(info.st_mode):
            return f"not a regular file: {kind}"
    return None


def _unsupported_layout(im: Image.Image) -> str | None:
    """Why the opened image is not one still photo zdce can read in full, or ``None``."""
    frames = getattr(im, "n_frames", 1)
    if frames > 1 and im.format == "TIFF":
        frames = _full_size_pages(im)
        if frames > 1:
            return f"multi-page TIFF with {frames} pages; zdce enhances single photos: split it first"
    elif frames > 1:
        return f"animated {im.format} with {frames} frames; zdce enhances still photos: extract the frames first"
    if im.format == "TIFF":
        samples = im.tag_v2.get(_SAMPLES_PER_PIXEL, 1)
        if isinstance(samples, int) and samples > len(im.getbands()):
            return (
                f"TIFF with {samples} channels is not supported (Pillow reads only {len(im.getbands())} of them); "
                "save it as grey, RGB, RGBA or CMYK"
            )
    return None


def _truncated(path: Path, im: Image.Image) -> str | None:
    """Why the image data cannot all be in the file (it ends early, or is damaged), or ``None``.

    For a TIFF the decoders each name an incomplete file their own way
    (libdeflate's BAD_DATA, "decoder error -2", a strip that cannot be
    reshaped); the file's size says it plainly, before any decoding. A JPEG's
    damage Pillow would not report at all: see :mod:`zdce_core.io.jpeg`.
    """
    if im.format in ("JPEG", "MPO"):
        from . import jpeg

        return jpeg.damage(path.read_bytes())
    if im.format != "TIFF":
        return None
    end = 0
    for offsets_tag, counts_tag in _DATA_TAGS:
        offsets, counts = im.tag_v2.get(offsets_tag), im.tag_v2.get(counts_tag)
        if offsets is None or counts is None:
            continue
        offsets = offsets if isinstance(offsets, tuple) else (offsets,)
        counts = counts if isinstance(counts, tuple) else (counts,)
        end = max([end, *(int(o) + int(n) for o, n in zip(offsets, counts))])
    size = path.stat().st_size
    if end > size:
        return f"truncated TIFF: its image data runs to byte {end:,} but the file ends at byte {size:,}"
    return None


def _full_size_pages(im: Image.Image) -> int:
    # Pages flagged as reduced-resolution (thumbnails, previews) are not photos of their own.
    pages = 0
    for index in range(im.n_frames):
        im.seek(index)
        pages += not (int(im.tag_v2.get(_SUBFILE_TYPE, 0) or 0) & 1)
    im.seek(0)
    return pages


def _unrecognised(path: Path) -> str:
    # Pillow knows no mode for float colour, 5-channel or other exotic TIFFs; tifffile can say what they hold.
    with open(path, "rb") as f:
        head = f.read(16)
    if head[:4] in (b"II*\0", b"MM\0*", b"II+\0", b"MM\0+"):
        # The header says where the first directory is (classic TIFF: 4 bytes at 4; BigTIFF: 8 at 8).
        bigtiff = head[2:4] in (b"+\0", b"\0+")
        first = int.from_bytes(head[8:16] if bigtiff else head[4:8], "little" if head[:2] == b"II" else "big")
        size = path.stat().st_size
        if first >= size:
            return f"truncated TIFF: its first directory is at byte {first:,} but the file ends at byte {size:,}"
        import tifffile

        try:
            with tifffile.TiffFile(path) as tif:
                page = tif.pages.first
                samples, dtype = page.samplesperpixel, page.dtype
        except Exception as exc:  # tifffile's own TiffFileError, or struct/index errors on a broken file
            return f"not a readable TIFF ({exc})"
        if dtype in (np.uint8, np.uint16) and samples <= 4:
            return "not a readable TIFF (damaged tags, or a layout Pillow cannot decode)"
        return (
            f"TIFF with {samples} channel(s) of {dtype} samples is not supported; "
            "save it as 8- or 16-bit grey, RGB or RGBA"
        )
    if head.startswith(_PNG_SIGNATURE):
        return _png_damage(path)
    for signature, name in _SIGNATURES:
        if head.startswith(signature):
            return f"damaged {name} file: its header cannot be read"
    return "not an image file (format not recognised)"


def _png_damage(path: Path) -> str:
    """What is wrong with the chunks of a PNG Pillow refused to open (it names none of it)."""
    data = path.read_bytes()
    at = len(_PNG_SIGNATURE)
    while at + 8 <= len(data):
        length, kind = int.from_bytes(data[at : at + 4], "big"), data[at + 4 : at + 8]
        name = kind.decode("latin-1")
        if at + 12 + length > len(data):
            return f"damaged PNG: its {name!r} chunk is cut short (the file ends inside it)"
        if zlib.crc32(data[at + 4 : at + 8 + length]) != int.from_bytes(data[at + 8 + length : at + 12 + length], "big"):
            return f"damaged PNG: the checksum of its {name!r} chunk does not match its contents (the file is corrupt)"
        if kind == b"IDAT":
            break
        at += 12 + length
    return "damaged PNG: its header chunks cannot be read"


_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# How other formats Pillow reads begin: a file that starts so but fails to open is damaged, not unknown.
_SIGNATURES = ((b"\xff\xd8\xff", "JPEG"), (b"GIF8", "GIF"), (b"BM", "BMP"))


def _is_16bit_colour(im: Image.Image) -> bool:
    if im.format == "TIFF":
        # Pillow decodes 16-bit RGB(A) to 8 bits, and with separate colour planes
        # (PlanarConfiguration 2) reads the 16-bit samples as 8-bit ones: scrambled.
        bits = im.tag_v2.get(_BITS_PER_SAMPLE, 1)
        bits = bits if isinstance(bits, tuple) else (bits,)
        return im.tag_v2.get(_PHOTOMETRIC) == _PHOTOMETRIC_RGB and all(int(b) == 16 for b in bits)
    # Pillow decodes 16-bit colour to 8 bits; its tile's raw mode still says 16.
    rawmode = im.tile[0].args if im.tile else None
    rawmode = rawmode[0] if isinstance(rawmode, tuple) else rawmode
    return isinstance(rawmode, str) and ";16" in rawmode and im.mode in ("RGB", "RGBA", "LA")


def _decode(path: Path, im: Image.Image, meta: Metadata, sixteen: bool) -> tuple[np.ndarray, Metadata]:
    if im.format == "PNG" and sixteen:
        from . import png16  # its codec loads only for the photos that need it

        array = png16.decode(path.read_bytes())
        if array.shape[-1] == 2:
            grey, alpha = array[..., :1], array[..., 1:]
            array = np.concatenate([grey, grey, grey, alpha], axis=-1)
        return array, meta
    if im.format == "TIFF" and sixteen:
        return _read_tiff16(path, im), meta
    if im.mode == "F":
        raise ImageReadError(f"{path}: 32-bit floating-point images are not supported; save as 8 or 16 bit")
    if im.mode == "CMYK":
        return _cmyk_to_rgb(im, meta)
    array = to_array(im)
    if im.mode == "I" and array.size and np.asarray(im).max() > 65535:
        raise ImageReadError(f"{path}: 32-bit integer images are not supported; save as 8 or 16 bit")
    return array, meta


def _read_tiff16(path: Path, im: Image.Image) -> np.ndarray:
    import tifffile

    try:
        with tifffile.TiffFile(path) as tif:
            page = tif.pages.first
            array = page.asarray()
            if page.planarconfig == tifffile.PLANARCONFIG.SEPARATE:
                array = np.moveaxis(array, 0, -1)  # (samples, height, width) -> channels last
    except Exception as exc:  # tifffile raises its own error types for corrupt files
        raise ValueError(f"16-bit TIFF could not be decoded ({exc})") from None
    expected = (im.size[1], im.size[0], int(im.tag_v2.get(_SAMPLES_PER_PIXEL, 1)))
    if array.dtype != np.uint16 or array.shape != expected:
        raise ValueError(f"16-bit TIFF decoded as {array.dtype} {array.shape}, expected uint16 {expected}")
    return array


def _cmyk_to_rgb(im: Image.Image, meta: Metadata) -> tuple[np.ndarray, Metadata]:
    # With a CMYK profile the conversion is colour-managed and the output is
    # tagged sRGB; without one, or with one LittleCMS cannot use, Pillow's
    # plain formula is all there is.
    if meta.icc_profile and metadata.icc_colour_space(meta.icc_profile) == "CMYK":
        from PIL import ImageCms

        srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))
        try:
            source = ImageCms.ImageCmsProfile(io.BytesIO(meta.icc_profile))
            rgb = ImageCms.profileToProfile(im, source, srgb, outputMode="RGB")
        except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
            pass
        else:
            return np.asarray(rgb), replace(meta, icc_profile=srgb.tobytes())
    return np.asarray(im.convert("RGB")), replace(meta, icc_profile=None)


def to_array(im: Image.Image) -> np.ndarray:
    """A decoded Pillow image as a NumPy array in a mode ``enhance`` accepts.

    A transparent colour (PNG's tRNS chunk, a GIF's transparent index)
    becomes an alpha channel, whatever the mode: enhancing changes every
    colour, so a key colour would no longer mark the same pixels.
    """
    keyed = "transparency" in im.info
    if im.mode in ("I;16", "I;16B", "I;16L", "I"):
        grey = np.asarray(im).astype(np.uint16)
        if not keyed:
            return grey
        alpha = np.where(grey == im.info["transparency"], 0, np.iinfo(np.uint16).max).astype(np.uint16)
        return np.stack([grey, grey, grey, alpha], axis=-1)
    if im.mode in ("L", "RGB", "RGBA") and not (keyed and im.mode != "RGBA"):
        return np.asarray(im)
    if im.mode in ("LA", "PA") or keyed:
        return np.asarray(im.convert("RGBA"))
    return np.asarray(im.convert("RGB"))


def from_array(array: np.ndarray) -> Image.Image:
    """A uint8 or uint16 array as a Pillow image (16-bit grayscale keeps its depth)."""
    if array.dtype == np.uint16 and array.ndim == 3:
        # Pillow has no 16-bit RGB mode to write from; callers wanting 16-bit colour use write_image.
        raise ValueError("16-bit colour arrays need write_image, which writes them as 16-bit PNG or TIFF")
    return Image.fromarray(array)  # a 2-D uint16 array becomes mode I;16


def output_format(path: str | os.PathLike) -> str:
    """Pillow's format name for ``path``'s extension; ValueError naming the file if unknown."""
    path = Path(path)
    fmt = Image.registered_extensions().get(path.suffix.lower())
    if fmt is None:
        raise ValueError(f"{path}: unknown output format {path.suffix!r}; use e.g. .jpg, .png or .tif")
    return fmt


def write_image(path: str | os.PathLike, array: np.ndarray, **save_options) -> None:
    """Write a uint8/uint16 array atomically; the format follows ``path``'s extension."""
    path = Path(path)
    fmt = output_format(path)
    atomic_write(path, lambda tmp: _save(tmp, array, fmt, save_options))


def write_photo(
    path: str | os.PathLike,
    array: np.ndarray,
    meta: Metadata,
    *,
    fmt: str | None = None,
    quality: int = JPEG_QUALITY,
    subsampling: str | None = None,
    uncompressed: bool = False,
) -> None:
    """Write ``array`` atomically with ``meta`` (EXIF, ICC, DPI, JPEG/TIFF settings) carried over.

    Parameters
    ----------
    path : path-like
        Where to write.
    array : numpy.ndarray
        uint8 or uint16 pixels, (H, W) or (H, W, 3|4).
    meta : Metadata
        From :func:`read_photo`.
    fmt : str or None
        Pillow format name; ``None`` follows ``path``'s extension.
    quality, subsampling
        JPEG/WebP settings, see :func:`zdce_core.metadata.save_options`.
    uncompressed : bool
        PNG only: rows stored as they are (libpng, zlib level 0, no filter),
        the quickest to write and to read back, for a file another program
        reads at once (the ImageMagick delegate's).
    """
    fmt = fmt or output_format(path)
    if uncompressed and fmt != "PNG":
        raise ValueError(f"uncompressed applies to PNG output, not {fmt}")
    meta = metadata.fit_to(meta, array)
    options = metadata.save_options(meta, fmt, quality=quality, subsampling=subsampling)
    if uncompressed:
        atomic_write(path, lambda tmp: _write_png(tmp, array, options, level=0))
    else:
        atomic_write(path, lambda tmp: _save(tmp, array, fmt, options))


def _save(tmp: Path, array: np.ndarray, fmt: str, options: dict) -> None:
    if array.dtype == np.uint16 and array.ndim == 3:
        _write_16bit_colour(tmp, array, fmt, options)
        return
    im = from_array(array)
    if fmt == "JPEG" and im.mode == "RGBA":
        im = im.convert("RGB")
    im.save(tmp, format=fmt, **options)


def _write_16bit_colour(tmp: Path, array: np.ndarray, fmt: str, options: dict) -> None:
    # Pillow cannot hold 16-bit RGB: PNG goes through png16 (libpng), TIFF through tifffile.
    if fmt == "PNG":
        _write_png(tmp, array, options)
    elif fmt == "TIFF":
        import tifffile

        dpi = options.get("dpi")
        tifffile.imwrite(
            tmp,
            array,
            photometric="rgb",
            extrasamples=("unassalpha",) if array.shape[-1] == 4 else None,
            compression="zlib",
            iccprofile=options.get("icc_profile"),
            resolution=(dpi[0], dpi[1]) if dpi else None,
            resolutionunit="INCH" if dpi else None,
            metadata=None,
        )
    else:
        raise ValueError(f"16-bit colour output needs PNG or TIFF, not {fmt}")


def _write_png(tmp: Path, array: np.ndarray, options: dict, level: int = 6) -> None:
    from . import png16

    keep = {k: options[k] for k in ("icc_profile", "exif", "dpi") if k in options}
    tmp.write_bytes(png16.encode(array, level=level, **keep))
