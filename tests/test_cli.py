"""The zdce enhance and compare commands, run as a user runs them."""

from __future__ import annotations

import hashlib
import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image

from zdce_core.app.cli import COMMANDS, main
from zdce_core.training.model import DCENet


def zdce(*args, cwd=None):
    return subprocess.run(
        [sys.executable, "-m", "zdce_core", *map(str, args)], capture_output=True, text=True, cwd=cwd, timeout=300
    )


@pytest.fixture
def dark_jpeg(tmp_path, dark_rgb):
    path = tmp_path / "night shot.jpg"
    Image.fromarray(dark_rgb).save(path, quality=95)
    return path


def test_enhance_writes_beside_the_input_and_keeps_it(dark_jpeg):
    before = hashlib.sha256(dark_jpeg.read_bytes()).hexdigest()
    done = zdce("enhance", dark_jpeg)
    assert done.returncode == 0, done.stderr
    out = dark_jpeg.with_name("night shot_enhanced.jpg")
    assert f"wrote {out}" in done.stdout
    assert hashlib.sha256(dark_jpeg.read_bytes()).hexdigest() == before
    with Image.open(out) as im, Image.open(dark_jpeg) as src:
        assert im.format == "JPEG" and im.size == src.size
        assert np.asarray(im).mean() > np.asarray(src).mean()


def test_enhance_output_format_follows_extension(dark_jpeg, tmp_path):
    done = zdce("enhance", dark_jpeg, "-o", tmp_path / "out.png", "--steps", "3", "--strength", "0.5")
    assert done.returncode == 0, done.stderr
    with Image.open(tmp_path / "out.png") as im:
        assert im.format == "PNG"


def test_enhance_refuses_to_overwrite_the_input(dark_jpeg):
    before = dark_jpeg.read_bytes()
    done = zdce("enhance", dark_jpeg, "-o", dark_jpeg)
    assert done.returncode != 0
    assert "refusing to overwrite the input" in done.stderr and str(dark_jpeg) in done.stderr
    assert dark_jpeg.read_bytes() == before


@pytest.mark.parametrize(
    ("content", "reason"), [(b"", "empty file"), (b"hello", "not an image"), (None, "no such file")]
)
def test_enhance_bad_input_is_one_clear_line(tmp_path, content, reason):
    path = tmp_path / "bad.jpg"
    if content is not None:
        path.write_bytes(content)
    done = zdce("enhance", path)
    assert done.returncode != 0
    assert done.stderr.strip().count("\n") == 0, done.stderr
    assert str(path) in done.stderr and reason in done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == (["bad.jpg"] if content is not None else [])


@pytest.mark.parametrize("option", [["--steps", "9"], ["--strength", "2"], ["--quality", "0"]])
def test_enhance_bad_settings_are_refused(dark_jpeg, option):
    done = zdce("enhance", dark_jpeg, *option)
    assert done.returncode == 2 and option[0] in done.stderr


def test_enhance_with_own_model(dark_jpeg, tmp_path):
    torch.manual_seed(3)
    torch.save(DCENet().state_dict(), tmp_path / "mine.pt")
    own = zdce("enhance", dark_jpeg, "-o", tmp_path / "own.png", "--model", tmp_path / "mine.pt", "--strength", "1")
    bundled = zdce("enhance", dark_jpeg, "-o", tmp_path / "bundled.png", "--strength", "1")
    assert own.returncode == 0 and bundled.returncode == 0, own.stderr + bundled.stderr
    a = np.asarray(Image.open(tmp_path / "own.png"), dtype=int)
    b = np.asarray(Image.open(tmp_path / "bundled.png"), dtype=int)
    assert np.abs(a - b).max() > 5  # a different network gives a different picture
    bad = zdce("enhance", dark_jpeg, "--model", dark_jpeg)
    assert bad.returncode == 2 and "not a readable weights-only" in bad.stderr


def test_sample_and_compare_sheet(tmp_path, shared_photo):
    done = zdce("enhance", "--sample", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "night-street_enhanced.jpg").exists()
    done = zdce("compare", shared_photo, tmp_path / "night-street_enhanced.jpg", "-o", tmp_path / "sheet.png", "--height", "60")
    assert done.returncode == 0, done.stderr
    with Image.open(tmp_path / "sheet.png") as sheet:
        assert sheet.height > 2 * 60 and sheet.width > 5 * 60


def test_help_and_usage_errors_load_no_numeric_library():
    """`zdce --help` and a usage error start quickly: nothing heavy is imported (issue 10)."""
    code = (
        "import sys\n"
        "from zdce_core.app.cli import main\n"
        "for argv in (['--help'], ['enhance', '--steps', '9', 'x.jpg'], ['batch', '--help']):\n"
        "    try:\n"
        "        main(argv)\n"
        "    except SystemExit:\n"
        "        pass\n"
        "print(sorted(m for m in ('numpy', 'torch', 'numba', 'imagecodecs', 'scipy') if m in sys.modules), file=sys.stderr)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.stderr.strip().splitlines()[-1] == "[]", done.stderr


def test_help_lists_every_command_with_its_help_line(capsys):
    with pytest.raises(SystemExit) as done:
        main(["--help"])
    assert done.value.code == 0
    shown = " ".join(capsys.readouterr().out.split())  # argparse wraps long help lines
    for name, spec in COMMANDS.items():
        assert (f" {name} {' '.join(spec.help.split())} " in shown) is not spec.hidden, name


@pytest.mark.parametrize("name", COMMANDS)
def test_each_command_builds_its_own_parser(name, capsys):
    with pytest.raises(SystemExit) as done:
        main([name, "--help"])
    assert done.value.code == 0
    assert capsys.readouterr().out.startswith(f"usage: zdce {name} ")


def test_a_command_imports_only_its_own_module():
    """`zdce plugins` builds its parser without the photo pipeline (Pillow, the batch runner) of the other commands."""
    code = (
        "import sys\n"
        "from zdce_core.app.cli import build_parser\n"
        "build_parser('plugins').parse_args(['plugins'])\n"
        "print(sorted(m for m in sys.modules if m.startswith('zdce_core.app.')), 'PIL' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = "['zdce_core.app.cli', 'zdce_core.app.commands', 'zdce_core.app.commands.plugins'] False"
    assert done.stdout.strip() == loaded
