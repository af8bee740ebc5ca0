"""A new user's first hour (issue 22): a live progress bar, one-line usage errors, exit statuses, outputs
that cannot be written, the ImageMagick delegate's missing file, `zdce plugins` without starting hosts,
training output in a log, broken third-party plug-ins."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import struct
import subprocess
import sys
import termios
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent


def zdce(*args, env=None, cwd=None, timeout=300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "zdce_core", *map(str, args)], capture_output=True, text=True,
                          env=env, cwd=cwd, timeout=timeout)


def dark_photo(path: Path, size=(64, 48), seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    pixels = (rng.random((size[1], size[0], 3)) * 40).astype(np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path)
    return path


def one_usage_line(done: subprocess.CompletedProcess, command: str) -> str:
    assert done.returncode == 2, done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("zdce: error: ") and lines[0].endswith(f"(see zdce {command} --help)"), lines[0]
    return lines[0]


# Defect 2: the bar was drawn on the stderr that quiet_decoders points at /dev/null: 0/N, silence, N/N.
def test_batch_progress_bar_advances_on_a_terminal(tmp_path: Path) -> None:
    photos = [dark_photo(tmp_path / "in" / f"p{i}.png", size=(1600, 1200), seed=i) for i in range(5)]
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))  # a terminal 100 columns wide
    proc = subprocess.Popen(
        [sys.executable, "-m", "zdce_core", "batch", *map(str, photos), "-o", str(tmp_path / "out")],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=slave,
    )
    os.close(slave)
    seen, started = b"", time.monotonic()
    while time.monotonic() - started < 300:
        ready, _, _ = select.select([master], [], [], 1.0)
        if ready:
            try:
                chunk = os.read(master, 4096)
            except OSError:  # the terminal's other end closed: the command is done
                break
            if not chunk:
                break
            seen += chunk
        elif proc.poll() is not None:
            break
    os.close(master)
    assert proc.wait(timeout=60) == 0
    counts = [int(n) for n in re.findall(rb"\b(\d)/5\b", seen)]
    assert counts and counts[-1] == 5, seen[-400:]
    assert any(0 < n < 5 for n in counts), f"the bar never showed a count between 0 and 5: {seen[-400:]!r}"


# Defect 3: usage errors are one line with a hint, exit 2; argparse printed its usage block.
@pytest.mark.parametrize("command, option", [("enhance", ["--steps", "0"]), ("batch", ["--strength", "2"])])
def test_a_bad_option_value_is_one_line(tmp_path: Path, command: str, option: list[str]) -> None:
    photo = dark_photo(tmp_path / "p.png")
    args = [command, photo, *option] + (["-o", tmp_path / "out"] if command == "batch" else [])
    line = one_usage_line(zdce(*args), command)
    assert option[0] in line


def test_unknown_command_and_missing_argument_are_one_line() -> None:
    done = zdce("enhanse", "x.jpg")
    assert done.returncode == 2 and done.stderr.count("\n") == 1, done.stderr
    assert done.stderr.startswith("zdce: error: ") and done.stderr.rstrip().endswith("(see zdce --help)")
    assert "-o/--output" in one_usage_line(zdce("batch", "x.jpg"), "batch")


def test_output_format_and_overwriting_the_input_are_usage_errors(tmp_path: Path) -> None:
    photo = dark_photo(tmp_path / "p.png")
    line = one_usage_line(zdce("enhance", photo, "-o", tmp_path / "out.xyz"), "enhance")
    assert "out.xyz" in line and "unknown output format" in line
    assert "refusing to overwrite" in one_usage_line(zdce("enhance", photo, "-o", photo), "enhance")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.png"]


def test_a_file_that_fails_exits_1(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jpg"
    bad.write_text("not a photo")
    done = zdce("enhance", bad)
    assert done.returncode == 1 and done.stderr.startswith(f"zdce enhance: {bad}: ")


# Defect 4: an output folder that is a file.
def test_batch_output_folder_that_is_a_file(tmp_path: Path) -> None:
    photo = dark_photo(tmp_path / "p.png")
    (tmp_path / "results").write_text("a file")
    line = one_usage_line(zdce("batch", photo, "-o", tmp_path / "results"), "batch")
    assert f"{tmp_path / 'results'} is a file, not a folder" in line
    line = one_usage_line(zdce("batch", photo, "-o", tmp_path / "results" / "sub"), "batch")
    assert f"lies below {tmp_path / 'results'}, which is a file" in line


def test_enhance_output_below_a_file(tmp_path: Path) -> None:
    photo = dark_photo(tmp_path / "p.png")
    (tmp_path / "notes").write_text("a file")
    line = one_usage_line(zdce("enhance", photo, "-o", tmp_path / "notes" / "x.jpg"), "enhance")
    assert f"{tmp_path / 'notes'} is a file, not a folder" in line and "exists" not in line


def test_enhance_creates_the_folders_of_output_as_its_help_says(tmp_path: Path) -> None:
    photo = dark_photo(tmp_path / "p.png")
    target = tmp_path / "new" / "dir" / "out.jpg"
    done = zdce("enhance", photo, "-o", target)
    assert done.returncode == 0, done.stderr
    assert target.is_file()
    assert "are created" in " ".join(zdce("enhance", "--help").stdout.split())


# Defect 5: ImageMagick links its temporary to the named file; a missing file was "a broken symbolic link".
def test_delegate_names_a_missing_file(tmp_path: Path) -> None:
    link = tmp_path / "magick-XXXX"
    link.symlink_to(tmp_path / "missing.jpg")
    done = subprocess.run(
        [sys.executable, "-m", "zdce_plugins.imagemagick.delegate", str(link), str(tmp_path / "out.png"), "missing.jpg"],
        capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 1
    assert done.stderr.strip() == "zdce delegate: no such file: missing.jpg"


# Defect 6: `zdce plugins` started every host; under load they did not answer in 0.3 s.
def test_plugins_starts_no_host_without_wait(tmp_path: Path) -> None:
    """Hosts on PATH that record each start: the listing reads files only, --wait starts them."""
    bin_dir, log = tmp_path / "bin", tmp_path / "started.log"
    bin_dir.mkdir()
    for name, answer in (("gimp-console-3.0", "GNU Image Manipulation Program version 3.0.4"),
                         ("darktable", "this is darktable 4.2.1"), ("magick", "Version: ImageMagick 7.1.1-43")):
        script = bin_dir / name
        script.write_text(f"#!/bin/sh\necho {name} >> {log}\necho '{answer}'\n")
        script.chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    done = zdce("plugins", env=env)
    assert done.returncode == 0, done.stderr
    assert not log.exists(), log.read_text()
    adapters = done.stdout.split("\n\n", 1)[1]
    for name in ("gimp", "darktable", "imagemagick"):
        found = re.split(r"\s{2,}", next(r for r in adapters.splitlines() if r.startswith(name + " ")))[2]
        assert found != "no", adapters
    waited = zdce("plugins", "--wait", env=env)
    assert waited.returncode == 0, waited.stderr
    assert "gimp-console-3.0" in log.read_text()


def test_package_version_reads_dpkgs_database(tmp_path: Path) -> None:
    from zdce_core.adapters.hosts import package_version

    status = tmp_path / "status"
    status.write_text(textwrap.dedent("""\
        Package: gimp
        Status: deinstall ok config-files
        Version: 2.10.34-1

        Package: imagemagick
        Status: install ok installed
        Description: image tools
         Version: not this
        Version: 8:6.9.11.60+dfsg-1.6+deb12u1
        """))
    assert package_version("imagemagick", status) == "6.9.11.60"
    assert package_version("gimp", status) is None
    assert package_version("darktable", tmp_path / "absent") is None


# Defect 7: `zdce train` wrote \r bar frames into a log; hostbridge was listed among user commands.
def test_train_writes_one_line_per_epoch_to_a_log(tmp_path: Path) -> None:
    photos = [dark_photo(tmp_path / "photos" / f"p{i}.png", size=(96, 80), seed=i) for i in range(6)]
    log = tmp_path / "train.log"
    with open(log, "w") as stderr:
        done = subprocess.run(
            [sys.executable, "-m", "zdce_core", "train", str(photos[0].parent), "-o", str(tmp_path / "m.pt"),
             "--epochs", "2", "--batch-size", "3", "--crop", "64", "--device", "cpu", "--name", "log"],
            stdout=subprocess.PIPE, stderr=stderr, text=True, timeout=600,
        )
    text = log.read_text()
    assert done.returncode == 0, text
    assert "\r" not in text
    epochs = [line for line in text.splitlines() if line.startswith("epoch ")]
    assert [line.split(":")[0] for line in epochs] == ["epoch 1/2", "epoch 2/2"], text
    assert all(re.search(r"loss \d+\.\d{4}", line) for line in epochs)


def test_log_records_print_above_the_training_bar() -> None:
    """MLflow's first-use INFO lines come through logging: while the bar shows they go above it, whole lines."""
    import logging

    from tqdm import tqdm

    from zdce_core.app.commands.train import _AboveBar

    class Terminal:
        def __init__(self):
            self.text = ""

        def write(self, s):
            self.text += s

        def flush(self):
            pass

    screen = Terminal()
    bar = tqdm(total=3, file=screen, mininterval=0, ascii=True)
    handler = logging.StreamHandler(_AboveBar(bar))
    handler.setFormatter(logging.Formatter("INFO %(message)s"))
    logger = logging.getLogger("zdce-test-above-bar")
    logger.addHandler(handler)
    try:
        original = sys.stderr
        sys.stderr = screen
        bar.update(1)
        logger.warning("Creating initial MLflow database tables...")
        bar.update(1)
    finally:
        sys.stderr = original
        logger.removeHandler(handler)
        bar.close()
    lines = screen.text.replace("\r", "\n").splitlines()
    assert "INFO Creating initial MLflow database tables..." in lines


def test_hostbridge_is_not_among_the_user_commands() -> None:
    done = zdce("--help")
    assert done.returncode == 0
    assert "hostbridge" not in done.stdout
    assert zdce("hostbridge", "--help").returncode == 0  # still there for the plug-ins that run it


# Defect 8: one broken third-party plug-in broke `zdce plugins`, `install` and `train --tracker` for everyone.
def _broken_plugin(tmp_path: Path) -> dict:
    (tmp_path / "zdce_broken.py").write_text("import a_module_that_is_not_installed\n")
    dist = tmp_path / "zdce_broken-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: zdce-broken\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[zdce]\nbroken = zdce_broken\n")
    return {**os.environ, "PYTHONPATH": str(tmp_path)}


def test_a_broken_plugin_is_reported_and_the_rest_carries_on(tmp_path: Path) -> None:
    env = _broken_plugin(tmp_path)
    done = zdce("plugins", env=env)
    assert done.returncode == 0, done.stderr
    row = next(line for line in done.stdout.splitlines() if line.startswith("broken "))
    assert "zdce-broken 0.1" in row and "BROKEN: ModuleNotFoundError: No module named 'a_module_that_is_not_installed'" in row
    assert any(line.startswith("gimp ") for line in done.stdout.splitlines())
    installed = zdce("install", "darktable", "--prefix", tmp_path / "dt", env=env)
    assert installed.returncode == 0, installed.stderr
    refused = zdce("install", "broken", "--prefix", tmp_path / "x", env=env)
    assert "failed to load: broken (ModuleNotFoundError" in one_usage_line(refused, "install")


def test_load_plugins_chooses_the_third_party_plugins(tmp_path: Path) -> None:
    env = _broken_plugin(tmp_path)
    for value, loaded in (("", False), ("zdce-acme", False), ("broken", True), ("zdce-broken, other", True)):
        done = zdce("plugins", env={**env, "ZDCE_LOAD_PLUGINS": value})
        assert done.returncode == 0, done.stderr
        names = [line.split()[0] for line in done.stdout.split("\n\n")[0].splitlines()[1:]]
        assert ("broken" in names) is loaded, (value, names)
        assert {"gimp", "darktable", "imagemagick", "mlflow"} <= set(names)  # zdce's own always load
