"""Files that used to decode into a wrong picture reported as done (issue 21, defects 1, 2, 7 and the ICC case).

Every file is made here from real encoders (Pillow, tifffile) and then
damaged by hand; each test failed on the code before its fix.
"""

from __future__ import annotations

import io
import json
import os
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
import tifffile
from PIL import Image

from zdce_core.app.cli import main as zdce_main
from zdce_core.io.images import ImageReadError, read_image, read_photo

PNG = b"\x89PNG\r\n\x1a\n"


def _pixels(h: int, w: int, channels: int, dtype=np.uint8, seed: int = 0) -> np.ndarray:
    """A dark photo-like ramp with noise, so every row and channel differs."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    base = 0.05 + 0.15 * (xx / w)[..., None] * (0.5 + 0.5 * np.cos(yy / 5.0))[..., None]
    noisy = base + rng.uniform(0, 0.05, (h, w, channels))
    return (noisy * np.iinfo(dtype).max).round().astype(dtype)


def _batch(inputs: list[Path], out: Path, capsys, *options: str) -> tuple[int, dict]:
    capsys.readouterr()
    code = zdce_main(["batch", *map(str, inputs), "-o", str(out), "--json", *options])
    return code, json.loads(capsys.readouterr().out)


# Defect 1: 16-bit TIFFs with separate colour planes came out as scrambled 8-bit images.
@pytest.mark.parametrize("channels", [3, 4])
@pytest.mark.parametrize("tile", [None, (16, 16)], ids=["striped", "tiled"])
def test_planar_16bit_tiff_decodes_exactly(tmp_path: Path, channels: int, tile) -> None:
    pixels = _pixels(40, 56, channels, np.uint16)
    pixels[0, :6, 0] = [0, 100, 200, 300, 400, 500]
    if channels == 4:
        pixels[..., 3] = 40000
    path = tmp_path / "planar16.tif"
    tifffile.imwrite(
        path,
        np.moveaxis(pixels, -1, 0),
        photometric="rgb",
        planarconfig="separate",
        extrasamples=("unassalpha",) if channels == 4 else None,
        tile=tile,
    )
    decoded = read_image(path)
    assert decoded.dtype == np.uint16
    np.testing.assert_array_equal(decoded, pixels)


def test_planar_16bit_tiff_through_batch_keeps_its_pixels(tmp_path: Path, capsys) -> None:
    # `--strength 0` changes nothing but the noise filter's rounding: the output must match the input.
    pixels = _pixels(40, 56, 3, np.uint16, seed=1)
    path = tmp_path / "in" / "planar.tif"
    path.parent.mkdir()
    tifffile.imwrite(path, np.moveaxis(pixels, -1, 0), photometric="rgb", planarconfig="separate")
    code, summary = _batch([path], tmp_path / "out", capsys, "--strength", "0")
    assert code == 0 and summary["done"] == 1
    out = tifffile.imread(tmp_path / "out" / "planar.tif")
    assert out.dtype == np.uint16 and out.shape == pixels.shape
    assert np.abs(out.astype(float) - pixels).mean() < 0.01 * 65535


# Defect 2: JPEGs whose entropy-coded data is damaged but which still end with EOI.
def _jpeg(**options) -> bytes:
    out = io.BytesIO()
    Image.fromarray(_pixels(256, 384, 3, seed=2)).save(out, format="JPEG", quality=90, **options)
    return out.getvalue()


def _scan_starts(data: bytes) -> list[int]:
    """Offsets of the SOS markers (progressive files have several)."""
    starts, i = [], 2
    while data[i + 1] != 0xD9:
        length = int.from_bytes(data[i + 2 : i + 4], "big")
        if data[i + 1] != 0xDA:
            i += 2 + length
            continue
        starts.append(i)
        i += 2 + length
        while not (data[i] == 0xFF and data[i + 1] not in (0x00, *range(0xD0, 0xD8))):
            i += 1
    return starts


def _damaged_jpegs() -> dict[str, bytes]:
    whole, progressive = _jpeg(), _jpeg(progressive=True)
    random_mid_scan = bytearray(whole)
    middle = len(whole) * 2 // 3
    random_mid_scan[middle : middle + 40] = np.random.default_rng(3).integers(0, 255, 40, dtype=np.uint8).tobytes()
    small = io.BytesIO()
    Image.fromarray(_pixels(64, 64, 3)).save(small, format="JPEG")
    huge_header = bytearray(small.getvalue())
    sof = huge_header.index(b"\xff\xc0")
    huge_header[sof + 5 : sof + 9] = struct.pack(">HH", 9000, 9000)
    return {
        "cut_half_eoi.jpg": whole[: len(whole) // 2] + b"\xff\xd9",
        "progressive_3_scans_eoi.jpg": progressive[: _scan_starts(progressive)[3]] + b"\xff\xd9",
        "random_mid_scan.jpg": bytes(random_mid_scan),
        "huge_header.jpg": bytes(huge_header),
    }


@pytest.mark.parametrize("name", sorted(_damaged_jpegs()))
def test_damaged_jpeg_with_eoi_is_refused(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_bytes(_damaged_jpegs()[name])
    with pytest.raises(ImageReadError, match="damaged JPEG"):
        read_photo(path)


def test_damaged_jpegs_fail_in_a_batch_and_good_ones_pass(tmp_path: Path, capsys) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    for name, data in _damaged_jpegs().items():
        (folder / name).write_bytes(data)
    (folder / "good.jpg").write_bytes(_jpeg())
    (folder / "good_progressive.jpg").write_bytes(_jpeg(progressive=True))
    code, summary = _batch([folder], tmp_path / "out", capsys)
    assert code == 1
    status = {Path(r["source"]).name: r["status"] for r in summary["results"]}
    assert status == {**{n: "failed" for n in _damaged_jpegs()}, "good.jpg": "done", "good_progressive.jpg": "done"}
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["good.jpg", "good_progressive.jpg"]


def test_huge_jpeg_header_over_little_data_is_refused_before_allocating(tmp_path: Path) -> None:
    # 9000x9000 over a few hundred bytes cost 831 MB before libjpeg filled it with grey.
    path = tmp_path / "huge_header.jpg"
    path.write_bytes(_damaged_jpegs()["huge_header.jpg"])
    probe = (
        "import sys\n"
        "from zdce_core.io.images import ImageReadError, read_photo\n"
        "try:\n    read_photo(sys.argv[1])\nexcept ImageReadError as e:\n    print(e)\n"
        # VmHWM, not ru_maxrss: the latter keeps the parent's peak across exec.
        "print(next(l.split()[1] for l in open('/proc/self/status') if l.startswith('VmHWM')))\n"
    )
    out = subprocess.run([sys.executable, "-c", probe, str(path)], capture_output=True, text=True, check=True).stdout
    message, peak_kib = out.splitlines()
    assert "damaged JPEG" in message
    assert int(peak_kib) < 200 * 1024, f"peak {int(peak_kib) >> 10} MiB"


# Defect 7: PNG transparency keys (tRNS) were dropped for grey and RGB, and 16-bit RGB alone kept them.
def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _png_rgb16_keyed(pixels: np.ndarray, key: tuple[int, int, int]) -> bytes:
    h, w, _ = pixels.shape
    rows = np.ascontiguousarray(pixels.astype(">u2")).view(np.uint8).reshape(h, -1)
    raw = np.concatenate([np.zeros((h, 1), np.uint8), rows], axis=1).tobytes()
    header = struct.pack(">IIBBBBB", w, h, 16, 2, 0, 0, 0)
    return (
        PNG + _chunk(b"IHDR", header) + _chunk(b"tRNS", struct.pack(">HHH", *key))
        + _chunk(b"IDAT", zlib.compress(raw)) + _chunk(b"IEND", b"")
    )


def _keyed_pngs(folder: Path) -> dict[str, np.ndarray]:
    """PNGs with a transparent colour key, and the mask of pixels that must come out transparent."""
    masks = {}
    for name, channels, dtype in [("grey8", 1, np.uint8), ("rgb8", 3, np.uint8), ("grey16", 1, np.uint16), ("rgb16", 3, np.uint16)]:
        pixels = _pixels(30, 40, channels, dtype, seed=4)
        pixels[5:12, 7:20] = pixels[0, 0]  # a block in the key colour
        key = pixels[0, 0]
        mask = (pixels == key).all(axis=-1)
        path = folder / f"{name}.png"
        if name == "rgb16":
            path.write_bytes(_png_rgb16_keyed(pixels, tuple(int(v) for v in key)))
        elif channels == 1:
            Image.fromarray(pixels[..., 0]).save(path, transparency=int(key[0]))
        else:
            Image.fromarray(pixels).save(path, transparency=tuple(int(v) for v in key))
        masks[path.name] = mask
    return masks


def test_png_transparency_key_becomes_alpha_for_every_mode(tmp_path: Path) -> None:
    for name, mask in _keyed_pngs(tmp_path).items():
        array = read_image(tmp_path / name)
        assert array.ndim == 3 and array.shape[-1] == 4, name
        top = np.iinfo(array.dtype).max
        np.testing.assert_array_equal(array[..., 3], np.where(mask, 0, top), err_msg=name)


def test_png_transparency_key_survives_a_batch(tmp_path: Path, capsys) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    masks = _keyed_pngs(folder)
    code, summary = _batch([folder], tmp_path / "out", capsys)
    assert code == 0 and summary["done"] == len(masks)
    for name, mask in masks.items():
        out = read_image(tmp_path / "out" / name)
        assert out.shape[-1] == 4, name
        assert int((out[..., 3] == 0).sum()) == int(mask.sum()) > 0, name


# Also seen: a garbage ICC profile with an "RGB" header was copied unreadable into the output.
def test_unparsable_icc_profile_is_dropped(tmp_path: Path, capsys) -> None:
    garbage = bytearray(np.random.default_rng(5).integers(0, 255, 600, dtype=np.uint8).tobytes())
    garbage[:4] = struct.pack(">I", len(garbage))
    garbage[12:20] = b"mntrRGB "
    garbage[36:40] = b"acsp"
    folder = tmp_path / "in"
    folder.mkdir()
    Image.fromarray(_pixels(30, 40, 3)).save(folder / "icc.jpg", icc_profile=bytes(garbage))
    assert read_photo(folder / "icc.jpg").metadata.icc_profile is None
    code, _ = _batch([folder], tmp_path / "out", capsys)
    assert code == 0
    with Image.open(tmp_path / "out" / "icc.jpg") as im:
        assert "icc_profile" not in im.info


def test_harmless_jpeg_warning_is_not_damage(tmp_path: Path) -> None:
    # libjpeg warns about a JFIF 2.01 header; the pixels are whole, so the photo is read.
    data = bytearray(_jpeg())
    version = data.index(b"JFIF\0") + 5
    data[version] = 2
    (tmp_path / "jfif2.jpg").write_bytes(bytes(data))
    assert read_image(tmp_path / "jfif2.jpg").shape == (256, 384, 3)
