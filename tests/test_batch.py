"""``zdce batch`` on a folder of real, mixed files: formats, depths, alpha, metadata, bad files, resuming."""

from __future__ import annotations

import hashlib
import os
import json
import signal
import struct
import subprocess
import sys
import time
import zlib
from pathlib import Path

import numpy as np
import pytest
import tifffile
from PIL import Image, ImageCms, ImageOps

from zdce_core import enhance
from zdce_core.app import batch
from zdce_core.io import metadata, png16
from zdce_core.app.cli import main
from zdce_core.io.images import ImageReadError, read_photo, write_photo

H, W = 48, 64
MAKE = "zdce-test-camera"
SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
GOOD = {
    "plain.jpg", "exif6.jpg", "grey.png", "grey16.png", "rgb16.png", "rgba.png", "palette.png",
    "palette_alpha.png", "grey_alpha.png", "lzw.tif", "rgb16.tif", "rgba.webp", "plain.bmp", "cmyk.jpg",
    "sub/nested.jpg",
}
BAD = {"corrupt.png", "truncated.jpg", "empty.png", "not_an_image.jpg", "bomb.png"}


def _dark(channels: int, seed: int, dtype=np.uint8) -> np.ndarray:
    """A dark, smooth, slightly noisy picture, so enhancement visibly brightens it."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:H, 0:W]
    base = 0.10 + 0.06 * np.sin(xx / 6.0) * np.cos(yy / 5.0)
    planes = [base + 0.02 * c + rng.normal(0, 0.005, (H, W)) for c in range(channels)]
    scale = np.iinfo(dtype).max
    img = (np.clip(np.stack(planes, -1), 0, 1) * scale).round().astype(dtype)
    return img[..., 0] if channels == 1 else img


def _alpha(dtype=np.uint8) -> np.ndarray:
    ramp = np.linspace(0, 1, W)[None, :].repeat(H, 0)
    return (ramp * np.iinfo(dtype).max).round().astype(dtype)


def _bomb_png(width: int = 40_000, height: int = 40_000) -> bytes:
    """A tiny PNG whose header claims a huge image (a decompression bomb's first step)."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return png16.SIGNATURE + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


def make_mixed_folder(folder: Path) -> None:
    """Write the 20 test files: 15 good ones of every kind and 5 bad ones."""
    (folder / "sub").mkdir(parents=True)
    rgb, rgba = _dark(3, 1), np.dstack([_dark(3, 2), _alpha()])
    Image.fromarray(rgb).save(folder / "plain.jpg", quality=90)
    exif = Image.Exif()
    exif[metadata.ORIENTATION_TAG] = 6
    exif[0x010F] = MAKE
    Image.fromarray(_dark(3, 3)).save(
        folder / "exif6.jpg", exif=exif.tobytes(), icc_profile=SRGB, dpi=(240, 240), subsampling="4:4:4"
    )
    Image.fromarray(_dark(1, 4)).save(folder / "grey.png")
    Image.fromarray(_dark(1, 5, np.uint16)).save(folder / "grey16.png")
    (folder / "rgb16.png").write_bytes(png16.encode(_dark(3, 6, np.uint16), icc_profile=SRGB, dpi=(300, 300)))
    Image.fromarray(rgba).save(folder / "rgba.png")
    Image.fromarray(rgb).quantize(64).save(folder / "palette.png")
    Image.fromarray(rgba).quantize(64).save(folder / "palette_alpha.png")
    Image.fromarray(np.dstack([_dark(1, 7), _alpha()])).save(folder / "grey_alpha.png")
    Image.fromarray(_dark(3, 8)).save(folder / "lzw.tif", compression="tiff_lzw", dpi=(150, 150))
    tifffile.imwrite(folder / "rgb16.tif", _dark(3, 9, np.uint16), photometric="rgb")
    Image.fromarray(np.dstack([_dark(3, 10), _alpha()])).save(folder / "rgba.webp", lossless=True)
    Image.fromarray(_dark(3, 11)).save(folder / "plain.bmp")
    Image.fromarray(_dark(3, 12)).convert("CMYK").save(folder / "cmyk.jpg")
    Image.fromarray(_dark(3, 13)).save(folder / "sub" / "nested.jpg")
    good_png = (folder / "rgba.png").read_bytes()
    idat = good_png.index(b"IDAT")
    (folder / "corrupt.png").write_bytes(good_png[: idat + 20] + bytes([good_png[idat + 20] ^ 0xFF]) + good_png[idat + 21 :])
    jpeg = (folder / "plain.jpg").read_bytes()
    (folder / "truncated.jpg").write_bytes(jpeg[: len(jpeg) // 2])
    (folder / "empty.png").write_bytes(b"")
    (folder / "not_an_image.jpg").write_text("these are my holiday notes, not a photo\n")
    (folder / "bomb.png").write_bytes(_bomb_png())


def hashes(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def zdce(*args: str | Path) -> subprocess.CompletedProcess:
    """The real command line, in a fresh process."""
    return subprocess.run([sys.executable, "-m", "zdce_core", *map(str, args)], capture_output=True, text=True, timeout=600)


def zdce_here(capsys: pytest.CaptureFixture, *args: str | Path) -> subprocess.CompletedProcess:
    """The same command line in this process, which saves starting Python and loading the model."""
    capsys.readouterr()
    try:
        code = main([str(a) for a in args])
    except SystemExit as exc:  # argparse rejecting an option
        code = exc.code
    out, err = capsys.readouterr()
    return subprocess.CompletedProcess(args, code, out, err)


@pytest.fixture
def mixed(tmp_path: Path) -> Path:
    folder = tmp_path / "shots"
    make_mixed_folder(folder)
    assert len([p for p in folder.rglob("*") if p.is_file()]) == 20
    return folder


def _luma(array: np.ndarray) -> float:
    colour = array if array.ndim == 2 else array[..., :3]
    return float(colour.mean()) / np.iinfo(array.dtype).max


def test_mixed_folder_is_enhanced_with_everything_intact(mixed: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    before = hashes(mixed)
    done = zdce("batch", mixed, "-o", out, "--recursive")
    assert hashes(mixed) == before, "an input file changed"
    assert done.returncode == 1, done.stderr
    assert "15 done, 0 skipped, 5 failed" in done.stdout
    for name in BAD:
        assert f"{mixed / name}:" in done.stdout, f"{name} not named in the summary"
    assert "over the pixel limit" in done.stdout
    written = {str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()}
    assert written == GOOD, "missing, extra or leftover temporary files"

    for name in sorted(GOOD):
        src, dst = read_photo(mixed / name), read_photo(out / name)
        assert dst.array.dtype == src.array.dtype, name
        assert dst.array.shape == src.array.shape, name
        assert _luma(dst.array) > _luma(src.array) + 0.05, f"{name} was not brightened"
        if Path(name).suffix in (".png", ".tif", ".bmp"):
            # Lossless outputs hold exactly the engine's picture (its float result, rounded).
            full = np.iinfo(src.array.dtype).max
            expected = np.rint(enhance(src.array) * full)
            # 2 levels: the engine's denoising filters its rounded integer result (tests/test_quality.py).
            tolerance = 2 if full == 255 else 8
            np.testing.assert_allclose(dst.array, expected, atol=tolerance, rtol=0, err_msg=name)
        if src.array.ndim == 3 and src.array.shape[-1] == 4:
            np.testing.assert_array_equal(dst.array[..., 3], src.array[..., 3], err_msg=f"{name} alpha changed")
        with Image.open(out / name) as im, Image.open(mixed / name) as original:
            assert im.format == original.format, name

    # Orientation applied once: upright pixels, tag reset, other EXIF, ICC, DPI and subsampling kept.
    with Image.open(mixed / "exif6.jpg") as im:
        upright = np.asarray(ImageOps.exif_transpose(im))
    with Image.open(out / "exif6.jpg") as im:
        assert im.size == (upright.shape[1], upright.shape[0]) == (H, W)
        assert im.getexif()[metadata.ORIENTATION_TAG] == 1
        assert im.getexif()[0x010F] == MAKE
        assert im.info["icc_profile"] == SRGB
        assert im.info["dpi"] == pytest.approx((240, 240))
        from PIL import JpegImagePlugin

        assert JpegImagePlugin.get_sampling(im) == metadata.SUBSAMPLING["4:4:4"]
    rgb16 = read_photo(out / "rgb16.png")
    assert rgb16.metadata.icc_profile == SRGB and rgb16.metadata.dpi == pytest.approx((300, 300), rel=1e-3)
    assert read_photo(out / "lzw.tif").metadata.tiff_compression == "tiff_lzw"
    assert read_photo(out / "cmyk.jpg").array.ndim == 3


def test_interrupted_run_resumes_with_skip_existing(mixed: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "out"
    args = [sys.executable, "-m", "zdce_core", "batch", str(mixed), "-o", str(out), "-r", "--quiet"]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300

    def visible_outputs() -> list[Path]:
        return [p for p in out.rglob("*") if p.is_file() and not p.name.startswith(".")] if out.exists() else []

    while not visible_outputs() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)  # no chance to tidy up: only atomic writes keep outputs whole
    proc.wait()
    first = visible_outputs()
    assert 1 <= len(first) < len(GOOD), f"{len(first)} outputs before the kill"
    for path in first:
        read_photo(path)  # complete, decodable files only

    # What a kill mid-write leaves, named as the killed process names its temporaries.
    (out / f".grey.png.{proc.pid}-abcdefgh.part").write_bytes(b"half a photo")
    resumed = zdce_here(capsys, "batch", mixed, "-o", out, "-r", "--skip-existing", "--json")
    assert not list(out.rglob("*.part")), "the rerun did not remove the killed run's temporary file"
    assert resumed.returncode == 1, resumed.stderr
    summary = json.loads(resumed.stdout)
    assert summary["skipped"] == len(first)
    assert summary["done"] == len(GOOD) - len(first)
    assert summary["failed"] == len(BAD)
    assert {str(p.relative_to(out)) for p in visible_outputs()} == GOOD


@pytest.mark.parametrize(
    ("workers", "signum", "status"),
    [("1", signal.SIGINT, 130), ("2", signal.SIGINT, 130), ("1", signal.SIGTERM, 143)],
    ids=["ctrl-c", "ctrl-c-2-workers", "sigterm"],
)
def test_ctrl_c_reports_what_was_written(mixed: Path, tmp_path: Path, workers: str, signum: int, status: int) -> None:
    # SIGTERM (timeout, systemd, kill) is handled like Ctrl-C: finish, report, leave no temporary file.
    out = tmp_path / "out"
    args = [sys.executable, "-m", "zdce_core", "batch", str(mixed), "-o", str(out), "-r", "--workers", workers, "--json"]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 300
    while proc.poll() is None and time.monotonic() < deadline:
        if out.exists() and any(not p.name.startswith(".") for p in out.rglob("*") if p.is_file()):
            break
        time.sleep(0.005)
    proc.send_signal(signum)
    stdout, stderr = proc.communicate(timeout=300)
    assert proc.returncode == status, stderr
    assert "stopping after the photos in progress" in stderr
    summary = json.loads(stdout)
    assert summary["interrupted"] is True
    written = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
    reported = sorted(str(Path(r["target"]).relative_to(out)) for r in summary["results"] if r["status"] == "done")
    assert written == reported, "every finished file is reported, and nothing half-written is left"
    assert 1 <= len(written) < len(GOOD)


def test_outdir_equal_to_input_folder_needs_a_suffix(mixed: Path, capsys: pytest.CaptureFixture) -> None:
    before = hashes(mixed)
    refused = zdce_here(capsys, "batch", mixed, "-o", mixed)
    assert refused.returncode == 2
    assert "is an input folder" in refused.stderr and "--suffix" in refused.stderr
    beside = zdce_here(capsys, "batch", mixed / "plain.jpg", mixed / "grey16.png", "-o", mixed, "--suffix", "_bright")
    assert beside.returncode == 0, beside.stderr
    assert (mixed / "plain_bright.jpg").exists() and (mixed / "grey16_bright.png").exists()
    assert {k: v for k, v in hashes(mixed).items() if "_bright" not in k} == before
    # A rerun over the folder leaves the earlier outputs alone instead of enhancing them again.
    again = batch.plan([str(mixed)], mixed, suffix="_bright")
    assert all("_bright" not in job.source.name for job in again.jobs)


def test_plan_never_targets_an_input(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "x.jpg").write_bytes(b"")
    (tmp_path / "a" / "x_e.jpg").write_bytes(b"")
    clash = batch.plan([str(tmp_path / "a" / "x.jpg"), str(tmp_path / "a" / "x_e.jpg")], tmp_path / "a", suffix="_e")
    assert clash.jobs == []
    assert [r.status for r in clash.settled] == [batch.SKIPPED, batch.SKIPPED]
    assert any("would overwrite an input" in r.reason for r in clash.settled)
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "x.jpg").write_bytes(b"")
    with pytest.raises(ValueError, match="would both be written"):
        batch.plan([str(tmp_path / "a"), str(tmp_path / "b")], tmp_path / "out")


def test_globs_and_recursion_keep_structure(mixed: Path, tmp_path: Path) -> None:
    flat = batch.plan([str(mixed / "*.jpg")], tmp_path / "o")
    assert {j.target.relative_to(tmp_path / "o").as_posix() for j in flat.jobs} == {
        "plain.jpg", "exif6.jpg", "cmyk.jpg", "truncated.jpg", "not_an_image.jpg"
    }
    deep = batch.plan([str(mixed / "**" / "*.jpg")], tmp_path / "o", recursive=True)
    assert "sub/nested.jpg" in {j.target.relative_to(tmp_path / "o").as_posix() for j in deep.jobs}
    top = batch.plan([str(mixed)], tmp_path / "o")
    assert all(j.source.parent == mixed for j in top.jobs)
    missing = batch.plan([str(tmp_path / "nowhere.jpg")], tmp_path / "o")
    assert [r.status for r in missing.settled] == [batch.FAILED]


def test_dry_run_writes_nothing(mixed: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "out"
    dry = zdce_here(capsys, "batch", mixed, "-o", out, "-r", "--dry-run", "--json")
    assert dry.returncode == 0, dry.stderr
    assert json.loads(dry.stdout)["planned"] == 20  # every file has an image name; none is read
    assert not out.exists()


def test_workers_give_the_same_pictures(mixed: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    names = [mixed / n for n in ("plain.jpg", "rgb16.png", "rgba.png", "grey.png")]
    one = zdce_here(capsys, "batch", *names, "-o", tmp_path / "one", "--quality", "100")
    two = zdce_here(capsys, "batch", *names, "-o", tmp_path / "two", "--quality", "100", "--workers", "3")
    assert one.returncode == two.returncode == 0, two.stderr
    for name in names:
        a, b = read_photo(tmp_path / "one" / name.name).array, read_photo(tmp_path / "two" / name.name).array
        np.testing.assert_array_equal(a, b, err_msg=name.name)


def test_engine_options_reach_enhance(mixed: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    src = mixed / "plain.jpg"
    weak = zdce_here(capsys, "batch", src, "-o", tmp_path / "weak", "--steps", "1", "--strength", "0.2", "--no-denoise")
    strong = zdce_here(capsys, "batch", src, "-o", tmp_path / "strong", "--steps", "8", "--strength", "1")
    assert weak.returncode == strong.returncode == 0, weak.stderr + strong.stderr
    assert _luma(read_photo(tmp_path / "weak" / "plain.jpg").array) < _luma(
        read_photo(tmp_path / "strong" / "plain.jpg").array
    )
    bad = zdce_here(capsys, "batch", src, "-o", tmp_path / "x", "--strength", "2")
    assert bad.returncode == 2 and "strength" in bad.stderr


@pytest.mark.parametrize("orientation", range(1, 9))
def test_orientation_matches_pillow(orientation: int, tmp_path: Path) -> None:
    exif = Image.Exif()
    exif[metadata.ORIENTATION_TAG] = orientation
    Image.fromarray(_dark(3, orientation)).save(tmp_path / "o.png", exif=exif.tobytes())
    with Image.open(tmp_path / "o.png") as im:
        expected = np.asarray(ImageOps.exif_transpose(im))
    photo = read_photo(tmp_path / "o.png")
    np.testing.assert_array_equal(photo.array, expected)
    assert photo.metadata.orientation == orientation
    carried = Image.Exif()
    carried.load(photo.metadata.exif)
    assert carried[metadata.ORIENTATION_TAG] == 1


@pytest.mark.parametrize("channels", [1, 2, 3, 4])
def test_png16_round_trip(channels: int, tmp_path: Path) -> None:
    rng = np.random.default_rng(channels)
    pixels = rng.integers(0, 65536, (H, W, channels), dtype=np.uint16)
    pixels = pixels[..., 0] if channels == 1 else pixels
    np.testing.assert_array_equal(png16.decode(png16.encode(pixels)), pixels)


def test_sixteen_bit_colour_files_round_trip(tmp_path: Path) -> None:
    pixels = np.dstack([_dark(3, 20, np.uint16), _alpha(np.uint16)])
    for name in ("x.png", "x.tif"):
        write_photo(tmp_path / name, pixels, metadata.Metadata(icc_profile=SRGB, dpi=(72.0, 72.0)))
        back = read_photo(tmp_path / name)
        np.testing.assert_array_equal(back.array, pixels)
        assert back.metadata.icc_profile == SRGB


def test_read_errors_name_the_file(mixed: Path) -> None:
    for name, words in {
        "empty.png": "empty file",
        "not_an_image.jpg": "not an image",
        "truncated.jpg": "not a readable image",
        "corrupt.png": "not a readable image",
        "bomb.png": "over the pixel limit",
    }.items():
        with pytest.raises(ImageReadError, match=words) as caught:
            read_photo(mixed / name)
        assert str(caught.value).startswith(str(mixed / name))


def test_output_modes(mixed: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    files = [mixed / "plain.jpg", mixed / "empty.png"]
    logged = zdce_here(capsys, "batch", *files, "-o", tmp_path / "a")
    assert logged.returncode == 1
    assert f"done     {mixed / 'plain.jpg'} -> {tmp_path / 'a' / 'plain.jpg'}" in logged.stderr
    assert f"failed   {mixed / 'empty.png'}: empty file" in logged.stderr
    assert logged.stdout.startswith("zdce batch: 1 done, 0 skipped, 1 failed")
    quiet = zdce_here(capsys, "batch", *files, "-o", tmp_path / "b", "--quiet")
    assert quiet.returncode == 1 and quiet.stdout == ""
    assert quiet.stderr.strip() == f"failed   {mixed / 'empty.png'}: empty file"


def test_progress_bar_on_a_terminal(mixed: Path, tmp_path: Path) -> None:
    import fcntl
    import pty
    import termios

    parent, child = pty.openpty()
    fcntl.ioctl(child, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))  # a new pty is 0 columns wide
    args = [sys.executable, "-m", "zdce_core", "batch", str(mixed / "plain.jpg"), str(mixed / "grey.png"), "-o", str(tmp_path)]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=child, text=True)
    os.close(child)
    chunks = []
    while True:
        try:
            chunk = os.read(parent, 4096)
        except OSError:  # the terminal closes when the command exits
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(parent)
    assert proc.wait(timeout=300) == 0
    screen = b"".join(chunks).decode(errors="replace")
    assert "2/2" in screen and "photo" in screen, screen
    assert "done     " not in screen  # no per-file log lines under a bar
