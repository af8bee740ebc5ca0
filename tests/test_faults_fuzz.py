"""A seeded fuzz test: real JPEG, PNG, TIFF and WebP files, mutated, through one ``zdce batch``.

Each case takes a real camera JPEG (from the shared test photos) or a file
written by a real encoder (Pillow, tifffile, libpng) and damages it one way: flipped bytes, a cut (with or without the format's
end marker after it), or an edited segment, chunk or tag. One ``zdce batch``
process runs over all of them, and for every file the invariant must hold:

- done: a whole output that reads back with the input's size and bit depth
  (and a cut file is done only if it still decodes to the original pixels);
- failed: one line naming the file and the reason;
- never a crash of the batch, never a temporary left, the inputs unchanged,
  peak memory within a bound set by ``--max-pixels``.

The cases are the same on every run (seed :data:`SEED`). ``pytest
tests/test_faults_fuzz.py --fuzz N`` runs N of them instead of
:data:`CASES`.
"""

from __future__ import annotations

import hashlib
import io
import json
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
import tifffile
from PIL import Image

from conftest import SHARED_DATA, require_host
from zdce_core.io import png16
from zdce_core.io.images import ImageReadError, read_image

SEED = 21
CASES = 300
MAX_PIXELS = 4_000_000
# Peak RSS of the batch: the interpreter, NumPy and Pillow (about 100 MiB), plus the largest photo
# --max-pixels lets through (4 MP at 16-bit RGBA and the engine's float copies).
PEAK_LIMIT = 100 * 2**20 + MAX_PIXELS * 80
_LAUNCHER = (
    "import os, subprocess, sys\n"
    "child = subprocess.Popen(sys.argv[2:])\n"
    "_, status, usage = os.wait4(child.pid, 0)\n"
    "open(sys.argv[1], 'w').write(str(usage.ru_maxrss))\n"
    "sys.exit(os.waitstatus_to_exitcode(status))\n"
)


def _photo(h: int, w: int, channels: int, dtype, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    base = 0.04 + 0.2 * (xx / w)[..., None] * (0.6 + 0.4 * np.sin(yy / 4.0))[..., None]
    pixels = (base + rng.uniform(0, 0.05, (h, w, channels))) * np.iinfo(dtype).max
    return pixels.round().astype(dtype)


def _encoded(save, **options) -> bytes:
    out = io.BytesIO()
    save(out, **options)
    return out.getvalue()


def base_files() -> dict[str, bytes]:
    """The unharmed files, one per layout: name -> bytes."""
    rgb, grey = _photo(40, 56, 3, np.uint8, 1), _photo(40, 56, 1, np.uint8, 2)[..., 0]
    rgb16, rgba16 = _photo(40, 56, 3, np.uint16, 3), _photo(40, 56, 4, np.uint16, 4)
    im = Image.fromarray(rgb)

    def tiff(array, **options) -> bytes:
        out = io.BytesIO()
        tifffile.imwrite(out, array, **options)
        return out.getvalue()

    camera = SHARED_DATA / "test" / "dicm" / "27.jpg"  # a real camera JPEG, 640x480
    if not camera.exists():
        require_host(False, f"the shared test photo {camera}", "see ../shared/data/README.md")
    return {
        "camera.jpg": camera.read_bytes(),
        "baseline.jpg": _encoded(im.save, format="JPEG", quality=90),
        "progressive.jpg": _encoded(im.save, format="JPEG", quality=90, progressive=True),
        "restarts.jpg": _encoded(im.save, format="JPEG", quality=85, restart_marker_blocks=2),
        "rgb.png": _encoded(im.save, format="PNG"),
        "grey_keyed.png": _encoded(Image.fromarray(grey).save, format="PNG", transparency=int(grey[0, 0])),
        "rgb16.png": png16.encode(rgb16),
        "lzw.tif": _encoded(im.save, format="TIFF", compression="tiff_lzw"),
        "planar16.tif": tiff(np.moveaxis(rgba16, -1, 0), photometric="rgb", planarconfig="separate",
                             extrasamples=("unassalpha",)),
        "deflate16.tif": tiff(rgb16, photometric="rgb", compression="zlib"),
        "lossy.webp": _encoded(im.save, format="WEBP", quality=80),
        "lossless.webp": _encoded(Image.fromarray(_photo(40, 56, 4, np.uint8, 5)).save, format="WEBP", lossless=True),
    }


def _png_chunks(data: bytes) -> list[tuple[int, int]]:
    """(offset, body length) of each chunk."""
    chunks, at = [], 8
    while at + 8 <= len(data):
        length = int.from_bytes(data[at : at + 4], "big")
        chunks.append((at, length))
        at += 12 + length
    return chunks


def _jpeg_segments(data: bytes) -> list[int]:
    """Offsets of the marker segments before the first scan's data (SOS included)."""
    segments, at = [], 2
    while at + 4 <= len(data) and data[at] == 0xFF:
        segments.append(at)
        if data[at + 1] == 0xDA:
            break
        at += 2 + int.from_bytes(data[at + 2 : at + 4], "big")
    return segments


def _tiff_entries(data: bytes) -> list[int]:
    """Offsets of the first directory's 12-byte entries (the files here are little-endian)."""
    first = struct.unpack("<I", data[4:8])[0]
    count = struct.unpack("<H", data[first : first + 2])[0]
    return [first + 2 + 12 * i for i in range(count)]


def _edit(data: bytearray, name: str, rng: np.random.Generator) -> str:
    """Change one structural field of the format: a segment, chunk or tag. Returns what was done."""
    kind = name.rsplit(".", 1)[1]
    if kind == "jpg":
        at = int(rng.choice(_jpeg_segments(bytes(data))))
        marker = data[at + 1]
        if marker in (0xC0, 0xC2) and rng.random() < 0.6:
            field = int(rng.choice([5, 7, 9]))  # height, width, or component count
            data[field + at : field + at + 2] = int(rng.integers(0, 65536)).to_bytes(2, "big")
            return f"SOF field {field}"
        data[at + 2 : at + 4] = int(rng.integers(0, 65536)).to_bytes(2, "big")
        return f"length of marker {marker:#x}"
    if kind == "png":
        at, length = _png_chunks(bytes(data))[int(rng.integers(0, len(_png_chunks(bytes(data)))))]
        what = rng.choice(["length", "type", "body", "drop"])
        if what == "length":
            data[at : at + 4] = int(rng.integers(0, 1 << 31)).to_bytes(4, "big")
        elif what == "type":
            data[at + 4 + int(rng.integers(0, 4))] ^= 0x20  # critical <-> ancillary, public <-> private
        elif what == "body" and length:
            spot = at + 8 + int(rng.integers(0, length))
            data[spot] ^= int(rng.integers(1, 256))
            body = bytes(data[at + 4 : at + 8 + length])
            data[at + 8 + length : at + 12 + length] = struct.pack(">I", zlib.crc32(body))  # a valid checksum
        else:
            del data[at : at + 12 + length]
        return f"chunk {what}"
    if kind == "tif":
        entry = int(rng.choice(_tiff_entries(bytes(data))))
        field = int(rng.choice([2, 4, 8]))  # type, count, value or offset
        width = 2 if field == 2 else 4
        data[entry + field : entry + field + width] = int(rng.integers(0, 1 << (8 * width))).to_bytes(width, "little")
        return f"tag {struct.unpack('<H', data[entry : entry + 2])[0]} field {field}"
    # WebP: the RIFF size, or the first chunk's size or fourcc.
    field = int(rng.choice([4, 16, 12]))
    data[field : field + 4] = int(rng.integers(0, 1 << 32)).to_bytes(4, "little") if field != 12 else bytes(rng.integers(65, 91, 4, dtype=np.uint8))
    return f"RIFF field {field}"


_END_MARKERS = {"jpg": b"\xff\xd9", "png": struct.pack(">I", 0) + b"IEND" + struct.pack(">I", zlib.crc32(b"IEND"))}


def mutate(name: str, data: bytes, rng: np.random.Generator) -> tuple[str, bytes]:
    """One damaged copy of ``data``: (what was done, bytes)."""
    out = bytearray(data)
    how = rng.choice(["flip", "cut", "cut+end", "edit"])
    if how == "flip":
        spots = rng.integers(0, len(out), int(rng.integers(1, 9)))
        for spot in spots:
            out[spot] ^= int(rng.integers(1, 256))
        return f"flip {len(spots)} bytes", bytes(out)
    if how in ("cut", "cut+end"):
        cut = int(rng.integers(8, len(out)))
        end = _END_MARKERS.get(name.rsplit(".", 1)[1], b"") if how == "cut+end" else b""
        out = out[:cut] + end
        if name.endswith(".webp"):
            out[4:8] = struct.pack("<I", max(0, len(out) - 8))  # a RIFF size that matches the cut file
        return f"{how} at {cut}", bytes(out)
    return f"edit {_edit(out, name, rng)}", bytes(out)


def build_cases(folder: Path, count: int, seed: int = SEED) -> dict[str, str]:
    """Write ``count`` damaged files into ``folder``: file name -> what was done to which base file."""
    rng = np.random.default_rng(seed)
    bases = base_files()
    names = sorted(bases)
    cases = {}
    for i in range(count):
        base = names[i % len(names)]
        what, data = mutate(base, bases[base], rng)
        name = f"{i:04}-{base}"
        (folder / name).write_bytes(data)
        cases[name] = f"{base}: {what}"
    return cases


def _state(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def _decoded(path: Path) -> np.ndarray | None:
    try:
        return read_image(path)
    except ImageReadError:
        return None


def test_base_files_are_whole_photos(tmp_path: Path) -> None:
    # The invariant below means something only if the unharmed files go through.
    for name, data in base_files().items():
        (tmp_path / name).write_bytes(data)
        assert read_image(tmp_path / name).shape[:2] == ((480, 640) if name == "camera.jpg" else (40, 56)), name


@pytest.mark.filterwarnings("ignore::UserWarning")  # Pillow's, while this test reads the damaged files back
def test_fuzzed_files_through_one_batch(tmp_path: Path, request: pytest.FixtureRequest) -> None:
    count = request.config.getoption("fuzz") or CASES
    folder, out = tmp_path / "in", tmp_path / "out"
    folder.mkdir()
    cases = build_cases(folder, count)
    before = _state(folder)
    originals = {}
    for base, data in base_files().items():
        (tmp_path / base).write_bytes(data)
        originals[base] = read_image(tmp_path / base)
    peak_path = tmp_path / "peak_kib"
    done = subprocess.run(
        [sys.executable, "-c", _LAUNCHER, str(peak_path), sys.executable, "-m", "zdce_core", "batch", str(folder),
         "-o", str(out), "--json", "--max-pixels", str(MAX_PIXELS)],
        capture_output=True, text=True, timeout=1800,
    )
    assert done.returncode in (0, 1), f"the batch crashed ({done.returncode}): {done.stderr[-2000:]}"
    assert _state(folder) == before, "an input changed"
    summary = json.loads(done.stdout)
    by_name = {Path(r["source"]).name: r for r in summary["results"]}
    assert sorted(by_name) == sorted(cases), "a file counted twice or not at all"
    lines = done.stderr.splitlines()
    assert all(line.startswith(("done     ", "failed   ")) for line in lines), [l for l in lines if not l.startswith(("done", "failed"))]
    for name, what in cases.items():
        result = by_name[name]
        if result["status"] == "failed":
            assert result["reason"] and "\n" not in result["reason"], (what, result["reason"])
            assert sum(line.startswith(f"failed   {folder / name}: ") for line in lines) == 1, what
            assert not (out / name).exists(), what
            continue
        assert result["status"] == "done", (what, result)
        source = _decoded(folder / name)
        written = _decoded(out / name)
        assert source is not None and written is not None, f"{what}: done, but the output does not read back"
        assert written.shape[:2] == source.shape[:2] and written.dtype == source.dtype, what
        if what.split(": ", 1)[1].startswith("cut"):
            # A cut file is whole only if the cut took nothing but trailing bytes: the same pixels as before.
            np.testing.assert_array_equal(source, originals[name.split("-", 1)[1]], err_msg=f"{what}: done, but not whole")
    assert not list(out.glob(".*.part")), "a temporary was left"
    peak = int(peak_path.read_text()) * 1024
    assert peak < PEAK_LIMIT, f"peak memory {peak >> 20} MiB"
    assert 0 < summary["done"] and 0 < summary["failed"], summary["done"]  # the damage is varied enough to do both
