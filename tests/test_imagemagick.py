"""The ``zdce:`` delegate in real ImageMagick (6 on Debian 12, 7 on Debian 13), and its installer."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageCms

from zdce_core import enhance
from zdce_core.adapters import manager as plugins
from zdce_core.io import metadata, png16
from zdce_core.adapters.hookspecs import InstallOptions
from zdce_core.adapters.hosts import probe_version
from zdce_core.io.images import read_image, read_photo
from zdce_plugins.imagemagick import delegate

import zdce_plugins.imagemagick as adapter
from conftest import require_host

H, W = 48, 64
SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
USER_DELEGATES = """<?xml version="1.0" encoding="UTF-8"?>
<!-- my own delegates -->
<delegatemap>
  <delegate decode="foo" command="&quot;cat&quot; &quot;%i&quot; &gt; &quot;%o&quot;"/>
</delegatemap>
"""


@pytest.fixture(scope="module")
def executable() -> str:
    found = adapter.find_executable()
    require_host(
        found is not None,
        "ImageMagick (magick, or /usr/bin/convert and mogrify)",
        "sudo bash scripts/hosts/imagemagick.sh  (apt-get install imagemagick)",
    )
    return found


def commands(executable: str) -> dict[str, list[str]]:
    """The three front ends: ImageMagick 7's ``magick`` does all; 6 has separate programs."""
    if Path(executable).name == "magick":
        return {"magick": [executable], "convert": [executable], "mogrify": [executable, "mogrify"]}
    folder = Path(executable).parent
    return {"magick": [executable], "convert": [executable], "mogrify": [str(folder / "mogrify")]}


@pytest.fixture
def installed(tmp_path: Path) -> dict[str, str]:
    """``zdce install imagemagick`` into a fresh prefix, and an environment where ImageMagick reads only it."""
    prefix = tmp_path / "magick-config"
    done = subprocess.run(
        [sys.executable, "-m", "zdce_core", "install", "imagemagick", "--prefix", str(prefix)],
        capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert plugins.find("imagemagick").is_installed(InstallOptions(prefix=prefix))
    home = tmp_path / "home"
    home.mkdir()
    return dict(os.environ, MAGICK_CONFIGURE_PATH=str(prefix), HOME=str(home), XDG_CONFIG_HOME=str(home / ".config"))


def dark(seed: int, channels: int = 3, dtype=np.uint8) -> np.ndarray:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:H, 0:W]
    base = 0.10 + 0.06 * np.sin(xx / 6.0) * np.cos(yy / 5.0)
    planes = np.stack([base + 0.02 * c + rng.normal(0, 0.005, (H, W)) for c in range(channels)], -1)
    return (np.clip(planes, 0, 1) * np.iinfo(dtype).max).round().astype(dtype)


def run(argv: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(argv, env=env, cwd=cwd, capture_output=True, text=True, timeout=300)


def test_magick_reads_through_the_delegate(executable: str, installed: dict[str, str], tmp_path: Path) -> None:
    Image.fromarray(dark(1)).save(tmp_path / "in.png")
    done = run([*commands(executable)["magick"], "zdce:in.png", "out.png"], installed, tmp_path)
    assert done.returncode == 0, done.stderr
    expected = enhance(read_image(tmp_path / "in.png"), dtype=np.uint8)
    np.testing.assert_array_equal(read_image(tmp_path / "out.png"), expected)


def test_convert_resizes_the_enhanced_image(executable: str, installed: dict[str, str], tmp_path: Path) -> None:
    exif = Image.Exif()
    exif[metadata.ORIENTATION_TAG] = 6
    Image.fromarray(dark(2)).save(tmp_path / "in.jpg", exif=exif.tobytes(), icc_profile=SRGB)
    done = run([*commands(executable)["convert"], "zdce:in.jpg", "-resize", "50%", "out.png"], installed, tmp_path)
    assert done.returncode == 0, done.stderr
    out = read_photo(tmp_path / "out.png")
    # Rotated upright once (the stored image is 64 wide), never rotated again by a leftover tag.
    assert out.array.shape[:2] == (W // 2, H // 2)
    assert out.metadata.orientation == 1
    assert out.array.mean() > read_image(tmp_path / "in.jpg").mean() + 20


def test_mogrify_enhances_a_glob(executable: str, installed: dict[str, str], tmp_path: Path) -> None:
    for i in range(2):
        Image.fromarray(dark(10 + i)).save(tmp_path / f"night{i}.jpg")
    (tmp_path / "out").mkdir()
    done = run([*commands(executable)["mogrify"], "-path", "out", "-format", "png", "zdce:*.jpg"], installed, tmp_path)
    assert done.returncode == 0, done.stderr
    for i in range(2):
        out = read_image(tmp_path / "out" / f"night{i}.png")
        assert out.mean() > read_image(tmp_path / f"night{i}.jpg").mean() + 20


def test_sixteen_bit_and_settings_from_the_environment(
    executable: str, installed: dict[str, str], tmp_path: Path
) -> None:
    (tmp_path / "in.png").write_bytes(png16.encode(dark(3, dtype=np.uint16)))
    magick = commands(executable)["magick"]
    weak = run([*magick, "zdce:in.png", "weak.png"], {**installed, "ZDCE_STRENGTH": "0.2", "ZDCE_STEPS": "2"}, tmp_path)
    strong = run([*magick, "zdce:in.png", "strong.png"], {**installed, "ZDCE_STRENGTH": "1"}, tmp_path)
    assert weak.returncode == strong.returncode == 0, weak.stderr + strong.stderr
    weak_px, strong_px = read_image(tmp_path / "weak.png"), read_image(tmp_path / "strong.png")
    assert weak_px.dtype == strong_px.dtype == np.uint16
    assert weak_px.mean() < strong_px.mean()
    bad = run([*magick, "zdce:in.png", "bad.png"], {**installed, "ZDCE_STEPS": "twelve"}, tmp_path)
    assert bad.returncode != 0 and "ZDCE_STEPS='twelve' is invalid" in bad.stderr


def front_ends() -> list[list[str]]:
    """Every ImageMagick reader installed here: ``magick`` (7) and ``convert`` (6, or 7's compatibility name)."""
    found = [[path] for path in ("/usr/bin/magick", "/usr/bin/convert") if probe_version(path, "-version", adapter.VERSION)]
    return found or [["magick"]]  # none: the `executable` fixture reports the missing host


@pytest.mark.parametrize("front_end", front_ends(), ids=lambda argv: Path(argv[0]).name)
def test_a_failing_read_names_the_users_file(
    front_end: list[str], executable: str, installed: dict[str, str], tmp_path: Path
) -> None:
    # The delegate reads ImageMagick's temporary copy (magick-XXXX); its message names what the user typed.
    (tmp_path / "my photos").mkdir()
    (tmp_path / "my photos" / "notes $HOME.jpg").write_text("not a photo")
    done = run([*front_end, "zdce:my photos/notes $HOME.jpg", "out.png"], installed, tmp_path)
    assert done.returncode != 0
    [line] = [line for line in done.stderr.splitlines() if line.startswith("zdce delegate:")]
    assert line == "zdce delegate: my photos/notes $HOME.jpg: not an image file (format not recognised)"
    assert not (tmp_path / "out.png").exists()


@pytest.mark.parametrize("front_end", front_ends(), ids=lambda argv: Path(argv[0]).name)
def test_every_front_end_enhances_the_same(
    front_end: list[str], executable: str, installed: dict[str, str], tmp_path: Path
) -> None:
    Image.fromarray(dark(5)).save(tmp_path / "in.png")
    done = run([*front_end, "zdce:in.png", "out.png"], installed, tmp_path)
    assert done.returncode == 0, done.stderr
    np.testing.assert_array_equal(
        read_image(tmp_path / "out.png"), enhance(read_image(tmp_path / "in.png"), dtype=np.uint8)
    )


def test_png16_reads_imagemagick_files(executable: str, tmp_path: Path) -> None:
    # ImageMagick writes 16-bit PNGs with every row filter (Paeth, Average, ...): our decoder must undo them all.
    magick = commands(executable)["magick"]
    made = run([*magick, "-size", "97x61", "plasma:fractal", "-depth", "16", "p.png"], dict(os.environ), tmp_path)
    assert made.returncode == 0, made.stderr
    dumped = run([*magick, "p.png", "-depth", "16", "-compress", "none", "p.ppm"], dict(os.environ), tmp_path)
    assert dumped.returncode == 0, dumped.stderr
    header, body = (tmp_path / "p.ppm").read_text().split("65535", 1)
    expected = np.array(body.split(), dtype=np.uint16).reshape(61, 97, 3)
    np.testing.assert_array_equal(png16.decode((tmp_path / "p.png").read_bytes()), expected)


def test_security_policy_denial_is_detected(
    executable: str, installed: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    prefix = Path(installed["MAGICK_CONFIGURE_PATH"])
    (prefix / "policy.xml").write_text('<policymap>\n  <policy domain="delegate" rights="none" pattern="*"/>\n</policymap>\n')
    Image.fromarray(dark(4)).save(tmp_path / "in.png")
    done = run([*commands(executable)["magick"], "zdce:in.png", "out.png"], installed, tmp_path)
    assert done.returncode != 0 and "not allowed by the security policy" in done.stderr
    monkeypatch.setenv("MAGICK_CONFIGURE_PATH", str(prefix))
    explained = adapter.policy_denial(executable)
    assert explained and str(prefix / "policy.xml") in explained and "not allowed by the security policy" in explained


@pytest.mark.parametrize(
    "user_file",
    [
        USER_DELEGATES,
        USER_DELEGATES.replace("\n</delegatemap>", "</delegatemap>"),  # closing tag after an entry
        USER_DELEGATES.replace("</delegatemap>", "    </delegatemap>").replace("\n", "\r\n"),
    ],
    ids=["plain", "same-line", "indented-crlf"],
)
def test_install_merges_and_uninstall_restores(tmp_path: Path, user_file: str) -> None:
    options = InstallOptions(prefix=tmp_path, python="/opt/my env/bin/python")
    path, backup = tmp_path / "delegates.xml", tmp_path / ("delegates.xml" + adapter.BACKUP_SUFFIX)
    path.write_bytes(user_file.encode())
    assert not adapter.is_installed(options)
    assert adapter.install(options).paths == [path, backup]
    text = path.read_text()
    assert "<!-- my own delegates -->" in text and 'decode="foo"' in text
    assert (
        "&quot;/opt/my env/bin/python&quot; -I -m zdce_plugins.imagemagick.delegate "
        "&quot;%i&quot; &quot;%o&quot; &quot;%M&quot;" in text
    )
    assert backup.read_bytes() == user_file.encode()
    assert adapter.install(options).paths == []  # idempotent
    assert adapter.is_installed(options)
    assert adapter.uninstall(options).paths == [path, backup]
    assert path.read_bytes() == user_file.encode() and not backup.exists()
    assert adapter.uninstall(options).paths == []


def test_install_into_an_empty_prefix_and_back(tmp_path: Path) -> None:
    options = InstallOptions(prefix=tmp_path / "new", python=sys.executable)
    assert adapter.install(options).paths == [tmp_path / "new" / "delegates.xml"]
    assert adapter.uninstall(options).paths == [tmp_path / "new" / "delegates.xml"]
    assert list((tmp_path / "new").iterdir()) == []


def test_install_refuses_to_clobber(tmp_path: Path) -> None:
    options = InstallOptions(prefix=tmp_path, python=sys.executable)
    path = tmp_path / "delegates.xml"
    path.write_text("<delegatemap><delegate decode='foo'")  # broken XML
    with pytest.raises(ValueError, match="not valid XML"):
        adapter.install(options)
    assert path.read_text() == "<delegatemap><delegate decode='foo'"
    theirs = USER_DELEGATES.replace('decode="foo"', 'decode="zdce"')
    path.write_text(theirs)
    with pytest.raises(ValueError, match="did not write"):
        adapter.install(options)
    assert path.read_text() == theirs


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, {"steps": 8, "strength": "auto", "denoise": True}),
        ({"ZDCE_STEPS": "3", "ZDCE_STRENGTH": "0.5", "ZDCE_DENOISE": "off"}, {"steps": 3, "strength": 0.5, "denoise": False}),
    ],
)
def test_delegate_settings(environ: dict[str, str], expected: dict[str, object]) -> None:
    assert delegate.settings(environ) == expected


@pytest.mark.parametrize("environ", [{"ZDCE_STEPS": "9"}, {"ZDCE_STRENGTH": "lots"}, {"ZDCE_DENOISE": "maybe"}])
def test_delegate_settings_refuse_nonsense(environ: dict[str, str]) -> None:
    with pytest.raises(ValueError, match=next(iter(environ))):
        delegate.settings(environ)
