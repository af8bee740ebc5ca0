"""Reading and writing photos: Pillow underneath, errors that name the file, atomic writes."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import Iterator

import numpy as np
from PIL import Image, ImageOps


class ImageReadError(ValueError):
    """A file could not be read as an image; the message names the file and the reason."""


def list_images(directory: Path) -> list[Path]:
    """Every visible regular file directly in ``directory``, sorted; readers decide what is an image."""
    return sorted(p for p in Path(directory).iterdir() if p.is_file() and not p.name.startswith("."))


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; it replaces ``path`` only if the block succeeds."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent or ".")
    os.close(fd)
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def read_image(path: str | os.PathLike) -> np.ndarray:
    """Read ``path`` as an (H, W[, C]) uint8 or uint16 array, EXIF orientation applied.

    Grayscale stays 2-D, palette and CMYK become RGB(A), 16-bit stays 16-bit.
    """
    path = Path(path)
    try:
        with Image.open(path) as im:
            im = ImageOps.exif_transpose(im)
            return to_array(im)
    except FileNotFoundError:
        raise ImageReadError(f"{path}: no such file") from None
    except Image.DecompressionBombError as exc:
        raise ImageReadError(f"{path}: too many pixels ({exc})") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageReadError(f"{path}: not a readable image ({exc})") from None


def to_array(im: Image.Image) -> np.ndarray:
    """A decoded Pillow image as a NumPy array in a mode ``enhance`` accepts."""
    if im.mode in ("I;16", "I;16B", "I;16L", "I"):
        return np.asarray(im).astype(np.uint16)
    if im.mode in ("L", "RGB", "RGBA"):
        return np.asarray(im)
    if im.mode in ("LA", "PA") or (im.mode == "P" and "transparency" in im.info):
        return np.asarray(im.convert("RGBA"))
    return np.asarray(im.convert("RGB"))


def from_array(array: np.ndarray) -> Image.Image:
    """A uint8 or uint16 array as a Pillow image (16-bit grayscale keeps its depth)."""
    if array.dtype == np.uint16 and array.ndim == 2:
        return Image.fromarray(array, mode="I;16")
    if array.dtype == np.uint16:
        # Pillow has no 16-bit RGB mode to write from; callers wanting 16-bit colour use write_image.
        raise ValueError("16-bit colour arrays need write_image, which writes them as 16-bit PNG or TIFF")
    return Image.fromarray(array)


def write_image(path: str | os.PathLike, array: np.ndarray, **save_options) -> None:
    """Write a uint8/uint16 array atomically; the format follows ``path``'s extension."""
    path = Path(path)
    fmt = Image.registered_extensions().get(path.suffix.lower())
    if fmt is None:
        raise ValueError(f"{path}: unknown output format {path.suffix!r}; use e.g. .jpg, .png or .tif")
    with atomic_path(path) as tmp:
        if array.dtype == np.uint16 and array.ndim == 3:
            _write_16bit_colour(tmp, array, fmt)
        else:
            im = from_array(array)
            if fmt == "JPEG" and im.mode == "RGBA":
                im = im.convert("RGB")
            im.save(tmp, format=fmt, **save_options)


def _write_16bit_colour(tmp: Path, array: np.ndarray, fmt: str) -> None:
    # Pillow cannot hold 16-bit RGB; scikit-image's tifffile/imageio plugins can write it.
    import imageio.v3 as iio

    ext = {"PNG": ".png", "TIFF": ".tif"}.get(fmt)
    if ext is None:
        raise ValueError(f"16-bit colour output needs PNG or TIFF, not {fmt}")
    iio.imwrite(tmp, array, extension=ext)
