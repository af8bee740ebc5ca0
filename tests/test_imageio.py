"""read_image / write_image: depth, layout and errors that name the file."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import numpy as np
import pytest
import tifffile
from PIL import Image, ImageCms, TiffImagePlugin

from zdce_core.io.atomic import remove_stale
from zdce_core.io.images import ImageReadError, read_image, read_photo, write_image, write_photo
from zdce_core.io.metadata import Metadata


@pytest.mark.parametrize(
    ("name", "array"),
    [
        ("rgb.png", np.arange(4 * 5 * 3, dtype=np.uint8).reshape(4, 5, 3)),
        ("grey16.png", (np.arange(20, dtype=np.uint16) * 3000).reshape(4, 5)),
        ("rgb16.png", (np.arange(60, dtype=np.uint16) * 1000).reshape(4, 5, 3)),
        ("rgba.png", np.arange(4 * 5 * 4, dtype=np.uint8).reshape(4, 5, 4)),
        ("rgb16.tif", (np.arange(60, dtype=np.uint16) * 1000).reshape(4, 5, 3)),
    ],
)
def test_lossless_round_trip(tmp_path, name, array):
    write_image(tmp_path / name, array)
    back = read_image(tmp_path / name)
    assert back.dtype == array.dtype
    np.testing.assert_array_equal(back, array)
    assert [p.name for p in tmp_path.iterdir()] == [name]  # no temporary file left behind


def test_unknown_extension_names_the_file(tmp_path):
    with pytest.raises(ValueError, match=r"out\.xyz: unknown output format"):
        write_image(tmp_path / "out.xyz", np.zeros((2, 2, 3), np.uint8))
    assert list(tmp_path.iterdir()) == []


def test_unreadable_file_names_the_file(tmp_path):
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 20)
    with pytest.raises(ImageReadError, match="broken.png"):
        read_image(bad)


@pytest.mark.parametrize("bits", [8, 16])
def test_a_tiff_cut_short_is_refused_by_name(tmp_path, bits):
    rng = np.random.default_rng(bits)
    array = (rng.random((100, 150, 3)) * (2**bits - 1)).astype(np.uint8 if bits == 8 else np.uint16)
    whole, cut = tmp_path / "whole.tif", tmp_path / "cut short.tif"
    # As darktable writes them: the directory first, then deflate strips with the differencing predictor.
    tifffile.imwrite(whole, array, photometric="rgb", compression="zlib", predictor=True, rowsperstrip=9)
    np.testing.assert_array_equal(read_image(whole), array)
    # The copy ends where strip 6 of 12 begins: its lower half is missing, its directory intact.
    with tifffile.TiffFile(whole) as tif:
        strip6 = tif.pages.first.dataoffsets[6]
    cut.write_bytes(whole.read_bytes()[:strip6])
    why = rf"truncated TIFF: its image data runs to byte [\d,]+ but the file ends at byte {strip6:,}$"
    with pytest.raises(ImageReadError, match=rf"^{re.escape(str(cut))}: {why}"):
        read_image(cut)


@pytest.mark.filterwarnings("ignore:Corrupt EXIF data:UserWarning")  # Pillow's, while it looks for the directory
def test_a_tiff_cut_before_its_directory_is_refused_by_name(tmp_path):
    # Pillow writes the directory after the pixels: half a copy has none.
    whole, cut = tmp_path / "whole.tif", tmp_path / "cut.tif"
    noise = np.random.default_rng(0).integers(0, 256, (40, 60, 3), dtype=np.uint8)
    Image.fromarray(noise).save(whole, compression="tiff_deflate")
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    why = r"truncated TIFF: its first directory is at byte [\d,]+ but the file ends at byte [\d,]+$"
    with pytest.raises(ImageReadError, match=rf"^{re.escape(str(cut))}: {why}"):
        read_image(cut)


@pytest.mark.parametrize("name", ["n" * 251 + ".png", "é" * 125 + ".png"], ids=["ascii", "two-byte"])
def test_names_at_the_length_limit(tmp_path, name):
    # 255 bytes is the file-system limit; the temporary name must fit it too.
    assert len(name.encode()) in (255, 254)
    array = np.arange(4 * 5 * 3, dtype=np.uint8).reshape(4, 5, 3)
    write_image(tmp_path / name, array)
    np.testing.assert_array_equal(read_image(tmp_path / name), array)
    assert [p.name for p in tmp_path.iterdir()] == [name]


def test_only_dead_processes_temporaries_are_removed(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = tmp_path / f".x.jpg.{dead.pid}-abcdefgh.part"
    live = tmp_path / f".x.jpg.{os.getpid()}-abcdefgh.part"
    other = tmp_path / ".x.jpg.notes.part"
    for path in (stale, live, other):
        path.write_bytes(b"partial")
    assert remove_stale(tmp_path) == [stale]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([live.name, other.name])
    assert remove_stale(tmp_path / "missing") == []


def test_a_fifo_is_refused_without_opening_it(tmp_path):
    os.mkfifo(tmp_path / "pipe.png")  # opening it would wait for a writer forever
    with pytest.raises(ImageReadError, match=r"pipe\.png: not a regular file: a named pipe"):
        read_image(tmp_path / "pipe.png")


def test_tiff_layout_tags_are_not_carried_as_exif(tmp_path):
    # A TIFF's getexif() is its first directory: colour map, photometric, strips... Only the
    # descriptive part may travel, or the output (TIFF or not) holds tags that contradict its pixels.
    info = TiffImagePlugin.ImageFileDirectory_v2()
    info[0x010F] = "zdce-test-camera"
    rgb = np.full((10, 14, 3), 30, np.uint8)
    Image.fromarray(rgb).quantize(8).save(tmp_path / "p.tif", tiffinfo=info)
    photo = read_photo(tmp_path / "p.tif")
    carried = Image.Exif()
    carried.load(photo.metadata.exif)
    assert dict(carried) == {0x010F: "zdce-test-camera"}
    for name in ("out.tif", "out.jpg", "out.png"):
        write_photo(tmp_path / name, photo.array, photo.metadata)
        with Image.open(tmp_path / name) as im:
            im.load()
            assert im.size == (14, 10) and im.getexif()[0x010F] == "zdce-test-camera"


@pytest.mark.parametrize(
    "array",
    [
        np.arange(6 * 7 * 3, dtype=np.uint8).reshape(6, 7, 3),
        np.arange(6 * 7 * 4, dtype=np.uint8).reshape(6, 7, 4),
        np.arange(6 * 7, dtype=np.uint8).reshape(6, 7),
        (np.arange(6 * 7 * 3, dtype=np.uint16) * 500).reshape(6, 7, 3),
        (np.arange(6 * 7 * 4, dtype=np.uint16) * 300).reshape(6, 7, 4),
        (np.arange(6 * 7, dtype=np.uint16) * 1500).reshape(6, 7),
    ],
    ids=["rgb", "rgba", "grey", "rgb16", "rgba16", "grey16"],
)
def test_uncompressed_png_keeps_pixels_and_metadata(tmp_path, array):
    # The ImageMagick delegate's output: what a compressed PNG would carry, stored as it is.
    exif = Image.Exif()
    exif[0x0112] = 6  # rotated: the reader turns the pixels upright and resets the tag
    exif[0x010F] = "zdce-test-camera"
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    write_photo(tmp_path / "in.png", array, Metadata(exif=exif.tobytes(), icc_profile=srgb, dpi=(240.0, 240.0)))
    photo = read_photo(tmp_path / "in.png")
    write_photo(tmp_path / "out", photo.array, photo.metadata, fmt="PNG", uncompressed=True)
    back = read_photo(tmp_path / "out")
    assert back.array.dtype == array.dtype and back.array.shape[:2] == (7, 6)
    np.testing.assert_array_equal(back.array, photo.array)
    assert back.metadata.icc_profile == photo.metadata.icc_profile and back.metadata.orientation == 1
    assert array.ndim == 2 or back.metadata.icc_profile == srgb  # an RGB profile is dropped for grey pixels
    assert back.metadata.dpi == pytest.approx((240, 240), abs=0.1)
    with Image.open(tmp_path / "out") as im:
        assert im.format == "PNG" and im.getexif()[0x010F] == "zdce-test-camera"
    assert (tmp_path / "out").stat().st_size > array.nbytes  # stored, not compressed
    with pytest.raises(ValueError, match="uncompressed applies to PNG"):
        write_photo(tmp_path / "out.jpg", photo.array, photo.metadata, uncompressed=True)
