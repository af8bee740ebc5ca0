"""The darktable adapter and Lua script, driven through the real darktable.

darktable runs headless as a Lua library under Xvfb (tests/darktable/driver.lua);
the script is the copy ``zdce install darktable --prefix`` wrote, and the engine
is the real ``zdce`` of this environment unless a test says otherwise.
"""

from __future__ import annotations

import glob
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import require_host
from zdce_core import contract, enhance
from zdce_core.adapters import manager as plugins
from zdce_core.adapters.hookspecs import InstallOptions
from zdce_core.io.images import read_image
from zdce_plugins import darktable as adapter

DRIVER = Path(__file__).parent / "darktable" / "driver.lua"
GUI_PROBE = Path(__file__).parent / "darktable" / "gui_probe.lua"
HOW = "sudo bash scripts/hosts/darktable.sh (Debian: apt-get install darktable lua5.4 xvfb xauth)"
TIFF = "TIFF (16-bit)"
# A file and folder name that breaks naive shell quoting.
AWKWARD_DIR = "ph o'to $HOME"
AWKWARD_NAME = 'low light\'s "night" `x`.png'
# The engine's result against enhance() on the very pixels darktable exported:
# the same computation, so only float rounding differs (TIFF; measured max 2.8e-4
# of full range on darktable 4.2), plus one more JPEG encoding of the result
# (JPEG, quality 95).
TIFF_MAX_ERROR = 1e-3
# darktable GUI starts: how long until luarc must have run, and how many starts to try.
START_TIMEOUT_S = 90
START_ATTEMPTS = 3
JPEG_MEAN_ERROR = 1.5 / 255
JPEG_MAX_ERROR = 24 / 255
# darktable's export of the test photo (an 8-bit sRGB PNG) against the photo, the worst row's mean
# error: measured below 1e-5 (16-bit TIFF) and 0.0055 (JPEG 95) on darktable 4.2 and 5.0, and
# 0.12-0.29 for exports whose lower half was never rendered (darktable 5.0.1 under
# OMP_NUM_THREADS=1 on 2 cores, darktable-cli too; the rest is whatever was in memory).
EXPORT_ROW_ERROR = {"tif": 1 / 255, "jpg": 4 / 255}


def _libdarktable() -> str | None:
    found = sorted(glob.glob("/usr/lib/*/darktable/libdarktable.so"))
    return found[0] if found else None


@pytest.fixture(scope="module")
def lua_cpath() -> str:
    lib = _libdarktable()
    ready = bool(lib and shutil.which("darktable") and shutil.which("lua5.4") and shutil.which("xvfb-run"))
    require_host(ready, "darktable (with libdarktable.so, lua5.4 and xvfb-run)", HOW)
    return str(Path(lib).parent / "lib?.so") + ";;"


@dataclass
class Run:
    """What one driver run printed."""

    ok: bool = False
    message: str = ""
    references: dict[str, Path] = field(default_factory=dict)
    imported: list[tuple[Path, Path, list[str]]] = field(default_factory=list)
    count: int = -1
    stdout: str = ""


def _install(configdir: Path) -> list[Path]:
    return plugins.find("darktable").install(InstallOptions(prefix=configdir, python=sys.executable)).paths


def _drive(
    lua_cpath: str, tmp: Path, mode: str, engine: str, steps: int, fmt: str, photos: list[Path],
    strength: str = "auto", denoise: str = "yes",
) -> Run:
    configdir = tmp / "dt config"
    if not (configdir / "luarc").exists():
        _install(configdir)
    refdir = tmp / "ref"
    refdir.mkdir(exist_ok=True)
    env = {**os.environ, "LUA_CPATH": lua_cpath, "TMPDIR": str(tmp / "tmp")}
    (tmp / "tmp").mkdir(exist_ok=True)
    args = ["xvfb-run", "-a", "lua5.4", str(DRIVER), str(configdir), mode, engine, str(steps), fmt, strength, denoise,
            str(refdir)]
    done = subprocess.run(args + [str(p) for p in photos], capture_output=True, text=True, env=env, timeout=300)
    run = Run(stdout=done.stdout)
    for line in done.stdout.splitlines():
        record, _, rest = line.partition("\t")
        fields = rest.split("\t")
        if record == "REF":
            run.references[fields[0]] = Path(fields[1])
        elif record == "RESULT":
            run.ok, run.message = fields[0] == "true", fields[1]
        elif record == "IMPORTED":
            run.imported.append((Path(fields[0]), Path(fields[1]), fields[2].split(";")))
        elif record == "COUNT":
            run.count = int(fields[0])
    assert run.count >= 0, f"driver did not finish (exit {done.returncode}):\n{done.stdout}\n{done.stderr[-3000:]}"
    return run


def _photo(folder: Path, size: tuple[int, int], shared_photo: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / AWKWARD_NAME
    with Image.open(shared_photo) as im:
        im.convert("RGB").resize(size, Image.LANCZOS).save(path)
    return path


def _batch(photo: Path, out: Path, *options: str) -> np.ndarray:
    """``zdce batch`` run on ``photo`` from the command line, its result read back."""
    engine = adapter.engine_executable(sys.executable)
    done = subprocess.run([engine, "batch", "-q", *options, "-o", str(out), str(photo)], capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return read_image(out / photo.name)


def _as_float(array: np.ndarray) -> np.ndarray:
    return array.astype(np.float64) / np.iinfo(array.dtype).max


def _exported(reference: Path, photo: Path) -> np.ndarray:
    """The file darktable exported for ``photo`` (as the engine got it), checked against the photo."""
    exported = read_image(reference)
    row_error = np.abs(_as_float(exported) - _as_float(read_image(photo))).mean(axis=(1, 2))
    wrong = np.nonzero(row_error > EXPORT_ROW_ERROR[reference.suffix[1:]])[0]
    assert wrong.size == 0, (
        f"darktable's export of {photo} is not the photo: {wrong.size} of {row_error.size} rows differ "
        f"(from row {wrong[0]}, worst row mean error {row_error.max():.3f})"
    )
    return exported


def _leftovers(tmp: Path) -> list[str]:
    # darktable itself may leave its own files in TMPDIR; ours are zdce-* folders.
    return [p.name for p in (tmp / "tmp").iterdir() if p.name.startswith("zdce")]


def test_export_target_enhances_imports_groups_and_tags(lua_cpath, tmp_path, shared_photo):
    # Two originals with the same name in different folders, in one export.
    photos = [_photo(tmp_path / AWKWARD_DIR / sub, (150, 100), shared_photo) for sub in ("a", "b")]
    # No executable preference: the engine `zdce install` recorded in the script is used.
    run = _drive(lua_cpath, tmp_path, "storage", "", 8, TIFF, photos)

    assert run.ok, run.message
    assert f"\n{run.message}\n" in f"\n{run.stdout}"  # shown to the user (dt.print), not only returned
    assert run.count == 4
    assert sorted(str(leader) for _, leader, _ in run.imported) == sorted(map(str, photos))
    for result, leader, tags in run.imported:
        assert result == leader.with_name(leader.stem + "_zdce.tif")
        assert "zdce|enhanced" in tags
        got = read_image(result)
        exported = _exported(run.references[str(leader)], leader)
        assert got.dtype == np.uint16 and exported.dtype == np.uint16  # 16-bit all the way
        # Like with like: what `zdce batch` makes of the very file darktable exported, run here by hand.
        want = _batch(run.references[str(leader)], tmp_path / "by hand", "--steps", "8")
        assert got.shape == want.shape
        assert np.abs(_as_float(got) - _as_float(want)).max() <= TIFF_MAX_ERROR
    assert _leftovers(tmp_path) == []


def test_shortcut_uses_preferred_jpeg_and_steps(lua_cpath, tmp_path, shared_photo):
    photo = _photo(tmp_path / AWKWARD_DIR, (150, 100), shared_photo)
    (photo.with_name(photo.stem + "_zdce.jpg")).write_bytes(b"an earlier result, not to be overwritten")
    engine = adapter.engine_executable(sys.executable)
    run = _drive(lua_cpath, tmp_path, "shortcut", engine, 4, "JPEG", [photo])

    assert run.ok, run.message
    [(result, leader, tags)] = run.imported
    assert leader == photo and "zdce|enhanced" in tags
    assert result == photo.with_name(photo.stem + "_zdce_2.jpg")
    assert photo.with_name(photo.stem + "_zdce.jpg").read_bytes() == b"an earlier result, not to be overwritten"
    got = _as_float(read_image(result))
    exported = _exported(run.references[str(photo)], photo)
    want = enhance(exported, steps=4)
    error = np.abs(got - want)
    assert error.mean() <= JPEG_MEAN_ERROR and error.max() <= JPEG_MAX_ERROR
    # steps=4 is gentler than steps=8: the preference reached the engine.
    assert got.mean() < enhance(exported, steps=8).mean()
    assert _leftovers(tmp_path) == []


def test_stored_strength_and_denoise_reach_the_engine(lua_cpath, tmp_path, shared_photo):
    # What the export module's widgets store (library mode has no widgets: the stored values are read).
    photo = _photo(tmp_path / AWKWARD_DIR, (150, 100), shared_photo)
    run = _drive(lua_cpath, tmp_path, "storage", "", 8, TIFF, [photo], strength="0.3", denoise="no")

    assert run.ok, run.message
    [(result, _, _)] = run.imported
    got = read_image(result)
    exported = _exported(run.references[str(photo)], photo)
    want = enhance(exported, steps=8, strength=0.3, denoise=False, dtype=np.uint16)
    assert np.abs(_as_float(got) - _as_float(want)).max() <= TIFF_MAX_ERROR
    # Visibly not the default (auto strength, denoise on).
    default = enhance(exported, steps=8, dtype=np.uint16)
    assert np.abs(_as_float(got) - _as_float(default)).mean() > 10 * TIFF_MAX_ERROR


def test_missing_engine_is_reported_and_nothing_imported(lua_cpath, tmp_path, shared_photo):
    photo = _photo(tmp_path / AWKWARD_DIR, (60, 40), shared_photo)
    missing = tmp_path / "no such dir" / "zdce"
    run = _drive(lua_cpath, tmp_path, "shortcut", str(missing), 8, TIFF, [photo])

    assert not run.ok
    assert "engine not found" in run.message and str(missing) in run.message
    assert f"\n{run.message}\n" in f"\n{run.stdout}"
    assert run.imported == [] and run.count == 1
    assert sorted(p.name for p in photo.parent.iterdir()) == [photo.name]
    assert _leftovers(tmp_path) == []


def test_failing_engine_is_reported_and_nothing_imported(lua_cpath, tmp_path, shared_photo):
    photo = _photo(tmp_path / AWKWARD_DIR, (60, 40), shared_photo)
    # An engine that writes a result for every input and then fails: none may be imported.
    broken = tmp_path / "broken engine"
    broken.write_text(
        "#!/bin/sh\n"
        'while [ "$1" != -o ]; do shift; done; out="$2"; shift 2\n'
        'mkdir -p "$out"; for f in "$@"; do case "$f" in -*) ;; *) cp "$f" "$out/";; esac; done\n'
        'echo "zdce batch: the model file is corrupt" >&2\n'
        "exit 2\n"
    )
    broken.chmod(0o755)
    run = _drive(lua_cpath, tmp_path, "storage", str(broken), 8, TIFF, [photo])

    assert not run.ok
    assert "exit 2" in run.message and "the model file is corrupt" in run.message
    assert f"\n{run.message}\n" in f"\n{run.stdout}"
    assert run.imported == [] and run.count == 1
    assert sorted(p.name for p in photo.parent.iterdir()) == [photo.name]
    assert _leftovers(tmp_path) == []


def test_partly_failing_engine_imports_the_rest_and_names_the_original(lua_cpath, tmp_path, shared_photo):
    photos = [_photo(tmp_path / AWKWARD_DIR / sub, (60, 40), shared_photo) for sub in ("a", "b")]
    # An engine that enhances (copies) the first input and fails the second, as `zdce batch` reports it.
    partial = tmp_path / "partial engine"
    partial.write_text(
        "#!/bin/sh\n"
        'while [ "$1" != -o ]; do shift; done; out="$2"; shift 2\n'
        'mkdir -p "$out"; cp "$1" "$out/"\n'
        'echo "failed   $2: not a readable image (truncated)" >&2\n'
        "exit 1\n"
    )
    partial.chmod(0o755)
    run = _drive(lua_cpath, tmp_path, "storage", str(partial), 8, TIFF, photos)

    assert not run.ok
    assert run.message == f"Zero-DCE: 1 of 2 image(s) failed: {photos[1]}: not a readable image (truncated)"
    assert [leader for _, leader, _ in run.imported] == [photos[0]] and "zdce|enhanced" in run.imported[0][2]
    assert run.count == 3
    assert sorted(p.name for p in photos[1].parent.iterdir()) == [photos[1].name]
    assert _leftovers(tmp_path) == []


def test_export_module_widgets_reach_the_engine_and_are_remembered(lua_cpath, tmp_path, shared_photo):
    configdir = tmp_path / "dt config"
    _install(configdir)
    started = tmp_path / "started"
    luarc = configdir / "luarc"
    # A marker before our script loads tells a hang in darktable's start-up from one in the script.
    luarc.write_text(f"io.open({adapter.lua_string(str(started))}, 'w'):close()\n" + luarc.read_text()
                     + f"dofile({adapter.lua_string(str(GUI_PROBE))})\n")
    photo = _photo(tmp_path / AWKWARD_DIR, (60, 40), shared_photo)
    report = tmp_path / "report.txt"
    (tmp_path / "tmp").mkdir()
    reference = tmp_path / "reference.tif"
    env = {**os.environ, "TMPDIR": str(tmp_path / "tmp"), "ZDCE_TEST_REPORT": str(report), "ZDCE_TEST_PHOTO": str(photo),
           "ZDCE_TEST_REFERENCE": str(reference)}
    args = ["xvfb-run", "-a", "darktable", "--configdir", str(configdir), "--cachedir", str(tmp_path / "cache"),
            "--library", ":memory:", "--conf", "write_sidecar_files=never"]
    # The probe quits darktable once it has reported; stop it if it hangs. Its messages go to a
    # file: nobody reads a pipe while it runs, and a full pipe would block it. Under load
    # darktable 4.2 sometimes hangs in its own start-up, before luarc runs (about 1 start in 3
    # at load 15, none at rest): the marker shows it, and only then is darktable started again.
    log = tmp_path / "darktable.log"
    for _attempt in range(START_ATTEMPTS):
        with log.open("wb") as errors:
            gui = subprocess.Popen(args, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                   stderr=errors, start_new_session=True)
            try:
                start = time.monotonic()
                deadline = start + 240
                while time.monotonic() < deadline and gui.poll() is None:
                    if not started.exists() and time.monotonic() > start + START_TIMEOUT_S:
                        break
                    if report.exists() and report.read_text().endswith("done\n"):
                        deadline = min(deadline, time.monotonic() + 60)
                    time.sleep(0.5)
            finally:
                if gui.poll() is None:
                    os.killpg(gui.pid, signal.SIGTERM)
                try:
                    gui.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    os.killpg(gui.pid, signal.SIGKILL)
                    gui.wait()
        if started.exists():
            break
    stderr = log.read_bytes()
    seen = {}
    for line in report.read_text().splitlines() if report.exists() else []:
        key, _, value = line.partition("\t")
        seen[key] = value.split("\t")
    assert "done" in seen, (
        f"the probe did not finish (luarc {'started' if started.exists() else 'never ran'}); "
        f"darktable said:\n{stderr.decode(errors='replace')[-3000:]}"
    )
    assert seen["gui"] == ["true"]
    # Registered preferences and their defaults: the engine install recorded, 8 steps, 16-bit TIFF.
    assert seen["executable"] == [adapter.engine_executable(sys.executable)]
    assert seen["format"] == [TIFF]
    # The widgets start from the engine's defaults (filled in from zdce_core.contract at install).
    assert seen["widgets"] == [str(contract.DEFAULT_STEPS), "auto (by exposure)", str(contract.DEFAULT_DENOISE).lower()]
    assert seen["changed"][0] == "20 %"
    assert seen["enhance"][0] == "true", seen["enhance"]
    result = photo.with_name(photo.stem + "_zdce.tif")
    assert seen["imported"] == [str(result), "true"]
    # The shortcut used what the widgets show, and stored it.
    assert seen["stored"] == ["4", "0.2", "no"]
    want = enhance(_exported(reference, photo), steps=4, strength=0.2, denoise=False, dtype=np.uint16)
    assert np.abs(_as_float(read_image(result)) - _as_float(want)).max() <= TIFF_MAX_ERROR
    assert seen["restart"] == ["true"]
    # darktable quit on its own (the probe asked it to) and wrote the settings for its next run.
    assert gui.returncode == 0, stderr.decode(errors="replace")[-3000:]
    rc = (configdir / "darktablerc").read_text()
    for line in ("zdce_enhance/steps=4", "zdce_enhance/strength=0.2", "zdce_enhance/denoise=no"):
        assert any(setting.endswith(line) for setting in rc.splitlines()), line
    assert _leftovers(tmp_path) == []


def test_detect_host_reports_darktable_version(lua_cpath):
    info = plugins.find("darktable").detect()
    assert info is not None and Path(info.executable).name == "darktable"
    shown = subprocess.run([info.executable, "--version"], capture_output=True, text=True, timeout=60)
    assert f"darktable {info.version}" in shown.stdout


def _hook(name: str, configdir: Path):
    adapter = plugins.find("darktable")
    answer = getattr(adapter, name)(InstallOptions(prefix=configdir, python=sys.executable))
    return answer if isinstance(answer, bool) else answer.paths


def test_install_is_idempotent_and_uninstall_restores_the_users_files(tmp_path):
    configdir = tmp_path / "config dir"
    contrib = configdir / "lua" / "contrib"
    contrib.mkdir(parents=True)
    (contrib / "theirs.lua").write_text("return {}\n")
    users_luarc = 'require "contrib/theirs"\n-- require "contrib/zdce_enhance" (a comment is not our line)\n'
    (configdir / "luarc").write_text(users_luarc)

    first = _hook("install", configdir)
    assert sorted(first) == sorted([contrib / "zdce_enhance.lua", configdir / "luarc"])
    assert _hook("install", configdir) == []
    luarc = (configdir / "luarc").read_text()
    assert luarc == users_luarc + 'require "contrib/zdce_enhance"\n'
    script = (contrib / "zdce_enhance.lua").read_text()
    engine = adapter.engine_executable(sys.executable)
    assert engine and f"local INSTALLED_ENGINE = {adapter.lua_string(engine)}" in script
    assert _hook("is_installed", configdir) is True

    assert sorted(_hook("uninstall", configdir)) == sorted(first)
    assert _hook("uninstall", configdir) == []
    assert (configdir / "luarc").read_text() == users_luarc
    assert sorted(p.name for p in contrib.iterdir()) == ["theirs.lua"]
    assert _hook("is_installed", configdir) is False


def test_uninstall_leaves_a_fresh_config_dir_as_it_was(tmp_path):
    configdir = tmp_path / "darktable"
    configdir.mkdir()
    _hook("install", configdir)
    assert (configdir / "luarc").read_text() == 'require "contrib/zdce_enhance"\n'
    _hook("uninstall", configdir)
    assert list(configdir.iterdir()) == []


def test_lua_string_survives_awkward_paths(tmp_path, lua_cpath):
    # The engine path written into the script must read back exactly in Lua.
    weird = '/opt/a "b"\\c\n\td\'e/zdce'
    probe = tmp_path / "probe.lua"
    probe.write_text(f"io.write({adapter.lua_string(weird)})\n")
    done = subprocess.run(["lua5.4", str(probe)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stdout == weird
