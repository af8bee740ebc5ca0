"""A fault corpus, generated here: every kind of bad or awkward input, through every entry point.

Each file is built by :func:`build_corpus` (no binary fixtures). ``zdce batch``
(a real process, so its peak memory and its stderr are its own), ``zdce
enhance``, the ImageMagick delegate and the API run over all of it; the
originals must come out byte-identical, every good photo processed into a
file Pillow reads with the right size and mode, every bad file named once with
its reason, and no temporary file left anywhere.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import struct
import subprocess
import sys
import tracemalloc
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import tifffile
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st
from PIL import Image, TiffImagePlugin

from zdce_core import enhance
from zdce_core.app.batch import IMAGE_SUFFIXES
from zdce_core.app.cli import main as zdce_main
from zdce_core.io import png16
from zdce_core.io.images import ImageReadError, read_image, read_photo
from zdce_plugins.imagemagick import delegate

H, W = 36, 52
PNG = b"\x89PNG\r\n\x1a\n"
# The compressed-data bomb: a 16-bit PNG whose pixel stream inflates to this much past its rows.
BOMB_EXTRA = 96 << 20
# Peak resident memory of `zdce batch` over the whole corpus: measured 60 MiB with the NumPy engine;
# holding the bomb's inflated stream alone would take BOMB_EXTRA (96 MiB) more, twice in the old decoder.
BATCH_PEAK_LIMIT = 256 << 20


@dataclass(frozen=True)
class Good:
    size: tuple[int, int]  # (width, height) of the output, as Pillow reports it
    mode: str  # Pillow's mode of an output in the input's own format


@dataclass(frozen=True)
class Bad:
    reason: str  # words the one-line error must contain


def _dark(h: int = H, w: int = W, channels: int = 3, dtype=np.uint8, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    top = np.iinfo(dtype).max
    img = rng.uniform(0.04, 0.2, (h, w, channels)) * top
    img = img.round().astype(dtype)
    return img[..., 0] if channels == 1 else img


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _png16(pixels: np.ndarray, *, interlace: bool = False, extra_zeros: int = 0) -> bytes:
    """A 16-bit colour PNG written by hand: Adam7-interlaced, or followed by ``extra_zeros`` inflated bytes."""
    h, w, c = pixels.shape
    passes = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]
    raw = b""
    for x0, y0, dx, dy in passes if interlace else [(0, 0, 1, 1)]:
        sub = pixels[y0::dy, x0::dx]
        if sub.size:
            rows = np.ascontiguousarray(sub.astype(">u2")).view(np.uint8).reshape(sub.shape[0], -1)
            raw += np.concatenate([np.zeros((rows.shape[0], 1), np.uint8), rows], axis=1).tobytes()
    deflate = zlib.compressobj(1)
    data = deflate.compress(raw)
    block = bytes(1 << 20)
    for _ in range(extra_zeros >> 20):
        data += deflate.compress(block)
    data += deflate.flush()
    header = struct.pack(">IIBBBBB", w, h, 16, {3: 2, 4: 6}[c], 0, 0, int(interlace))
    return PNG + _chunk(b"IHDR", header) + _chunk(b"IDAT", data) + _chunk(b"IEND", b"")


def _tiff_with_entry(tag: int, *, new_type: int | None = None, new_count: int | None = None) -> bytes:
    """A valid little TIFF whose ``tag`` entry claims another field type, or more data than the file holds."""
    info = TiffImagePlugin.ImageFileDirectory_v2()
    info[0x010F] = "zdce-test-camera"
    out = io.BytesIO()
    Image.fromarray(_dark()).save(out, format="TIFF", tiffinfo=info)
    data = bytearray(out.getvalue())
    ifd = struct.unpack("<I", data[4:8])[0]
    for i in range(struct.unpack("<H", data[ifd : ifd + 2])[0]):
        entry = ifd + 2 + 12 * i
        if struct.unpack("<H", data[entry : entry + 2])[0] == tag:
            if new_type is not None:
                data[entry + 2 : entry + 4] = struct.pack("<H", new_type)
            if new_count is not None:
                data[entry + 4 : entry + 8] = struct.pack("<I", new_count)
            return bytes(data)
    raise AssertionError(f"tag {tag} not written")


def _lzw_tiff_with_bad_codes() -> bytes:
    """An LZW TIFF with junk in its strip: libtiff complains on descriptor 2, then Pillow fails it."""
    out = io.BytesIO()
    Image.fromarray(_dark(seed=3)).save(out, format="TIFF", compression="tiff_lzw")
    data = bytearray(out.getvalue())
    with Image.open(io.BytesIO(bytes(data))) as im:
        start, length = im.tag_v2[273][0], im.tag_v2[279][0]
    data[start + length // 3 : start + length // 3 + 24] = b"\xff" * 24
    return bytes(data)


def _frames(n: int) -> list[Image.Image]:
    return [Image.fromarray(_dark(seed=i)) for i in range(n)]


def build_corpus(folder: Path) -> tuple[dict[str, Good], dict[str, Bad], dict[str, str]]:
    """Write the corpus into ``folder``: (good files, bad files, files skipped with a reason)."""
    folder.mkdir(parents=True)
    good: dict[str, Good] = {}
    bad: dict[str, Bad] = {}
    rgb = _dark()

    def keep(name: str, size=(W, H), mode="RGB") -> Path:
        good[name] = Good(size, mode)
        return folder / name

    # Defect 1: TIFF layouts whose first directory (colour map, photometric, ...) used to be written back.
    Image.fromarray(rgb).quantize(16).save(keep("palette.tif"))
    Image.fromarray(rgb).convert("CMYK").save(keep("cmyk8.tif"))
    tifffile.imwrite(keep("cmyk16.tif"), _dark(channels=4, dtype=np.uint16), photometric="separated")
    Image.fromarray(rgb[..., 0]).convert("LA").save(keep("grey_alpha.tif", mode="RGBA"))
    Image.fromarray(rgb[..., 0] > 30).save(keep("bilevel.tif"))
    # Defect 2: non-square, rotated by EXIF orientation 5..8 (the output is upright: width and height swap).
    for orientation in (5, 6, 7, 8):
        Image.fromarray(rgb).save(keep(f"rotated{orientation}.tif", size=(H, W)), tiffinfo={274: orientation})
    # Defect 3: a malformed tag (PlanarConfiguration stored as a DOUBLE).
    keep("malformed_tag.tif").write_bytes(_tiff_with_entry(0x011C, new_type=12))
    # Item 7: decoder chatter. Pillow warns about (and skips) a tag claiming more data than the file holds.
    keep("tag_too_long.tif").write_bytes(_tiff_with_entry(0x010F, new_count=0x7FFF0000))
    # Item 7: an orientation tag stored as text that is no number; a CMYK JPEG whose ICC profile is junk.
    text = TiffImagePlugin.ImageFileDirectory_v2()
    text[274] = "right-top"
    text.tagtype[274] = 2
    Image.fromarray(rgb).save(keep("text_orientation.tif"), tiffinfo=text)
    junk_icc = bytes(16) + b"CMYK" + bytes(108)
    Image.fromarray(rgb).convert("CMYK").save(keep("cmyk_bad_icc.jpg"), icc_profile=junk_icc)
    # A TIFF whose second page is a reduced-resolution preview is one photo.
    with tifffile.TiffWriter(keep("with_preview.tif")) as tif:
        tif.write(rgb, photometric="rgb")
        tif.write(rgb[::4, ::4], photometric="rgb", subfiletype=1)
    # Defect 4: 16-bit PNGs: interlaced, and one whose pixel stream inflates far past its rows.
    keep("interlaced16.png", mode="RGBA").write_bytes(_png16(_dark(channels=4, dtype=np.uint16), interlace=True))
    keep("bomb16.png", mode="RGB").write_bytes(_png16(_dark(dtype=np.uint16), extra_zeros=BOMB_EXTRA))
    # Names: at the 255-byte limit (ASCII and two-byte characters), and characters shells care about.
    Image.fromarray(rgb).save(keep("n" * 251 + ".png"))
    Image.fromarray(rgb).save(keep("é" * 125 + ".jpg"))
    for name in ("-starts-with-dash.jpg", "with space's $(x) [1] *.png", "ünïcødé.webp"):
        Image.fromarray(rgb).save(keep(name))
    Image.fromarray(_dark(channels=1, dtype=np.uint16)).save(keep("grey16.png", mode="I;16"))

    # Refused, each with its reason.
    def refuse(name: str, reason: str) -> Path:
        bad[name] = Bad(reason)
        return folder / name

    png = (folder / "with space's $(x) [1] *.png").read_bytes()
    idat = png.index(b"IDAT") + 10
    refuse("corrupt.png", "not a readable image").write_bytes(png[:idat] + bytes([png[idat] ^ 0xFF]) + png[idat + 1 :])
    jpeg = (folder / "-starts-with-dash.jpg").read_bytes()
    refuse("truncated.jpg", "not a readable image").write_bytes(jpeg[: len(jpeg) // 2])
    refuse("empty.png", "empty file").write_bytes(b"")
    refuse("lzw_junk.tif", "not a readable image").write_bytes(_lzw_tiff_with_bad_codes())
    refuse("notes.jpg", "not an image file").write_text("holiday notes, not a photo\n")
    header = struct.pack(">IIBBBBB", 60_000, 60_000, 8, 2, 0, 0, 0)
    refuse("header_bomb.png", "over the pixel limit").write_bytes(
        PNG + _chunk(b"IHDR", header) + _chunk(b"IDAT", zlib.compress(bytes(64))) + _chunk(b"IEND", b"")
    )
    tifffile.imwrite(refuse("float.tif", "float32"), np.full((H, W, 3), 0.1, np.float32), photometric="rgb")
    tifffile.imwrite(
        refuse("five_channels.tif", "5 channels"), _dark(channels=5), photometric="rgb", extrasamples=("unspecified",) * 2
    )
    first, *rest = _frames(3)
    first.save(refuse("animated.gif", "animated GIF with 3 frames"), save_all=True, append_images=rest, duration=80)
    first.save(refuse("animated.webp", "animated WEBP with 3 frames"), save_all=True, append_images=rest, duration=80)
    first.save(refuse("animated.png", "animated PNG with 3 frames"), save_all=True, append_images=rest, duration=80)
    first.save(refuse("pages.tif", "multi-page TIFF with 3 pages"), save_all=True, append_images=rest)
    os.mkfifo(refuse("pipe.jpg", "named pipe"))
    os.symlink("nowhere.jpg", refuse("dangling.jpg", "broken symbolic link"))
    os.symlink("loop.jpg", refuse("loop.jpg", "symbolic link loop"))

    (folder / "album.jpg").mkdir()
    return good, bad, {"album.jpg": "is a folder"}


def _inputs_state(folder: Path) -> dict[str, object]:
    """Bytes of every regular file, link targets and kinds of the rest: what must not change."""
    state: dict[str, object] = {}
    for entry in sorted(os.scandir(folder), key=lambda e: e.name):
        if entry.is_symlink():
            state[entry.name] = ("link", os.readlink(entry.path))
        elif entry.is_file():
            state[entry.name] = hashlib.sha256(Path(entry.path).read_bytes()).hexdigest()
        else:
            state[entry.name] = ("other", entry.is_dir())
    return state


def _leftovers(*folders: Path) -> list[str]:
    return [str(p) for f in folders if f.exists() for p in f.rglob("*.part")]


def _check_output(path: Path, expected: Good, fmt: str | None = None) -> None:
    with Image.open(path) as im:
        im.load()
        assert im.size == expected.size, path.name
        if fmt is None:
            assert im.mode == expected.mode, path.name
        else:
            assert im.format == fmt, path.name


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory):
    folder = tmp_path_factory.mktemp("faults") / "in"
    good, bad, skipped = build_corpus(folder)
    return folder, good, bad, skipped, _inputs_state(folder)


def test_batch_over_the_corpus(corpus, tmp_path: Path) -> None:
    folder, good, bad, skipped, before = corpus
    out = tmp_path / "out"
    stdout_path = tmp_path / "stdout.json"
    # Linux starts a child's peak RSS at its parent's (the memory it had before exec), and this
    # pytest process may hold torch: a small launcher starts the batch and reports its peak.
    launcher = (
        "import os, subprocess, sys\n"
        "child = subprocess.Popen(sys.argv[2:])\n"
        "_, status, usage = os.wait4(child.pid, 0)\n"
        "open(sys.argv[1], 'w').write(str(usage.ru_maxrss))\n"
        "sys.exit(os.waitstatus_to_exitcode(status))\n"
    )
    peak_path = tmp_path / "peak_kib"
    with open(stdout_path, "w") as stdout:
        proc = subprocess.Popen(
            [sys.executable, "-c", launcher, str(peak_path),
             sys.executable, "-m", "zdce_core", "batch", str(folder), "-o", str(out), "--json"],
            stdout=stdout,
            stderr=subprocess.PIPE,
            text=True,
        )
        stderr = proc.stderr.read()
        proc.wait()
    peak_kib = int(peak_path.read_text())
    assert proc.returncode == 1, stderr
    assert _inputs_state(folder) == before, "an input changed"
    summary = json.loads(stdout_path.read_text())
    by_name = {Path(r["source"]).name: r for r in summary["results"]}
    assert len(by_name) == len(summary["results"]) == len(good) + len(bad) + len(skipped), "a file counted twice or not at all"
    for name, expected in good.items():
        assert by_name[name]["status"] == "done", (name, by_name[name]["reason"])
        _check_output(out / name, expected)
    # A batch leaves out what its name says is no photo type it writes (GIF): skipped, with that reason.
    skipped = {**skipped, **{n: "not a supported image type" for n in bad if Path(n).suffix not in IMAGE_SUFFIXES}}
    bad = {n: b for n, b in bad.items() if n not in skipped}
    for name, expected in bad.items():
        assert by_name[name]["status"] == "failed", name
        assert expected.reason in by_name[name]["reason"], (name, by_name[name]["reason"])
    for name, reason in skipped.items():
        assert by_name[name]["status"] == "skipped" and reason in by_name[name]["reason"], name
    assert summary["done"] == len(good) and summary["failed"] == len(bad) and summary["skipped"] == len(skipped)
    # stderr holds the per-file lines and nothing else (no Pillow warning, no libtiff or libpng message),
    # and names each bad file exactly once.
    lines = stderr.splitlines()
    assert all(line.startswith(("done     ", "failed   ", "skipped  ")) for line in lines), stderr
    for name in bad:
        assert sum(line.startswith(f"failed   {folder / name}: ") for line in lines) == 1, name
    assert {p.name for p in out.iterdir()} == set(good), "missing, extra or temporary files in the output"
    assert not _leftovers(folder, out)
    assert peak_kib * 1024 < BATCH_PEAK_LIMIT, f"peak memory {peak_kib >> 10} MiB"


def test_one_bad_photo_never_stops_a_batch(corpus, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    # A malformed tag used to raise struct.error out of the batch, a rotated TIFF SystemError.
    folder = corpus[0]
    names = ["malformed_tag.tif", "rotated6.tif", "corrupt.png", "palette.tif", "-starts-with-dash.jpg"]
    capsys.readouterr()
    code = zdce_main(["batch", *(str(folder / n) for n in names), "-o", str(tmp_path), "--json"])
    summary = json.loads(capsys.readouterr().out)
    assert code == 1
    assert (summary["done"], summary["failed"]) == (4, 1)
    assert [Path(r["source"]).name for r in summary["results"] if r["status"] == "failed"] == ["corrupt.png"]


def test_enhance_command_over_the_corpus(corpus, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    folder, good, bad, _, before = corpus
    for name, expected in {**good, **bad}.items():
        target = tmp_path / f"out{Path(name).suffix}"
        capsys.readouterr()
        code = zdce_main(["enhance", str(folder / name), "-o", str(target)])
        err = capsys.readouterr().err
        if name in good:
            assert code == 0, (name, err)
            _check_output(target, expected)
            target.unlink()
        else:
            assert code == 1, name
            assert err.count("\n") == 1 and err.startswith(f"zdce enhance: {folder / name}: "), err
            assert expected.reason in err, (name, err)
            assert not target.exists()
    assert _inputs_state(folder) == before
    assert not _leftovers(folder, tmp_path)


# Pillow's own warning for tag_too_long.tif reaches a library caller as a warning, as Pillow means it to;
# only the command line (app/console.py) keeps it off the terminal.
@pytest.mark.filterwarnings("ignore:Tag data larger than file")
def test_imagemagick_delegate_over_the_corpus(corpus, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    folder, good, bad, _, before = corpus
    for name, expected in {**good, **bad}.items():
        target = tmp_path / "out.miff"  # ImageMagick's name; the delegate writes PNG whatever it is
        capsys.readouterr()
        code = delegate.main([str(folder / name), str(target)])
        err = capsys.readouterr().err
        if name in good:
            assert code == 0, (name, err)
            _check_output(target, expected, fmt="PNG")
            target.unlink()
        else:
            assert code == 1 and expected.reason in err and err.count("\n") == 1, (name, err)
            assert not target.exists()
    assert _inputs_state(folder) == before
    assert not _leftovers(folder, tmp_path)


# Pillow's own warning for tag_too_long.tif reaches a library caller as a warning, as Pillow means it to;
# only the command line (app/console.py) keeps it off the terminal.
@pytest.mark.filterwarnings("ignore:Tag data larger than file")
def test_api_over_the_corpus(corpus) -> None:
    folder, good, bad, _, before = corpus
    for name in good:
        image = read_image(folder / name)
        out = enhance(image)
        assert out.shape == image.shape and out.dtype == np.float32, name
        assert np.isfinite(out).all(), name
    for name, expected in bad.items():
        with pytest.raises(ImageReadError) as caught:
            read_image(folder / name)
        assert str(caught.value).startswith(f"{folder / name}: ") and expected.reason in str(caught.value)
    assert _inputs_state(folder) == before


def test_decoding_a_compressed_data_bomb_is_bounded(corpus) -> None:
    # The pixels take H * W * 3 * 2 bytes; the stream inflates to BOMB_EXTRA more, which must never be held.
    folder = corpus[0]
    tracemalloc.start()
    try:
        photo = read_photo(folder / "bomb16.png")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert photo.array.shape == (H, W, 3) and photo.array.dtype == np.uint16
    assert peak < 16 << 20, f"decoding held {peak >> 20} MiB"


def test_interlaced_png16_keeps_its_pixels(corpus) -> None:
    pixels = _dark(channels=4, dtype=np.uint16)
    np.testing.assert_array_equal(png16.decode(_png16(pixels, interlace=True)), pixels)
    np.testing.assert_array_equal(read_image(corpus[0] / "interlaced16.png"), pixels)


# Property test: enhance on arbitrary small images of every accepted dtype and layout.
_DTYPES = st.sampled_from([np.uint8, np.uint16, np.float32, np.float64])


@st.composite
def _images(draw) -> tuple[np.ndarray, int | None]:
    dtype = draw(_DTYPES)
    h, w = draw(st.integers(1, 9)), draw(st.integers(1, 9))
    layout = draw(st.sampled_from(["grey", "last", "first"]))
    channels = draw(st.sampled_from([3, 4]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    shape = {"grey": (h, w), "last": (h, w, channels), "first": (channels, h, w)}[layout]
    if np.dtype(dtype).kind == "f":
        image = rng.uniform(0, 1, shape)
        image.flat[: draw(st.integers(0, 2))] = draw(st.sampled_from([0.0, 1.0]))  # the range's own ends
        image = image.astype(dtype)
    else:
        top = np.iinfo(dtype).max
        image = rng.integers(0, top, shape, endpoint=True).astype(dtype)
    return image, {"grey": None, "last": -1, "first": 0}[layout]


@seed(20260)
@settings(max_examples=40, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    case=_images(),
    steps=st.integers(1, 8),
    strength=st.one_of(st.just("auto"), st.floats(0, 1)),
    denoise=st.booleans(),
    out=st.sampled_from([None, np.uint8, np.uint16, np.float32, np.float64]),
)
def test_enhance_property(case, steps, strength, denoise, out) -> None:
    image, axis = case
    before = image.copy()
    result = enhance(image, steps, strength=strength, denoise=denoise, channel_axis=axis, dtype=out)
    np.testing.assert_array_equal(image, before)  # the input is never modified
    assert result.shape == image.shape
    expected = np.dtype(out) if out is not None else (np.dtype(np.float64) if image.dtype == np.float64 else np.dtype(np.float32))
    assert result.dtype == expected
    if result.dtype.kind == "f":
        assert np.isfinite(result).all()
        assert result.min() >= 0 and result.max() <= 1, (result.min(), result.max())
    if image.ndim == 3:
        alpha = np.take(image, [3], axis=axis) if image.shape[axis] == 4 else None
        if alpha is not None and np.dtype(out or np.float32) == image.dtype:
            np.testing.assert_array_equal(np.take(result, [3], axis=axis), alpha)


def test_enhance_has_a_pixel_limit(corpus, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    source, target = corpus[0] / "palette.tif", tmp_path / "out.tif"
    capsys.readouterr()
    assert zdce_main(["enhance", str(source), "-o", str(target), "--max-pixels", str(W * H - 1)]) == 1
    assert f"{source}: {W}x{H} is {W * H} pixels, over the pixel limit of {W * H - 1}" in capsys.readouterr().err
    assert not target.exists()
    assert zdce_main(["enhance", str(source), "-o", str(target), "--max-pixels", str(W * H)]) == 0
