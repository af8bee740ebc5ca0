"""GIMP 3: Filters -> Low-light Enhance run by real GIMP through the PDB, and its adapter.

GIMP starts twice for the whole module (about 10 s each): once on a profile
installed with ``zdce install gimp`` for the listing and pixel checks, once
on a profile whose engine fails. One batch script runs every check of a
session and writes the results as JSON.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import ROOT, require_host
from zdce_core.adapters.hookspecs import InstallOptions
from zdce_plugins import gimp as gimp_adapter

PROCEDURE = "python-fu-zdce-low-light-enhance"
GIMP = shutil.which("gimp-console-3.0")
INSTALL_HINT = "sudo bash scripts/hosts/gimp.sh (GIMP 3: natively on Debian 13, a trixie chroot on Debian 12)"
# GIMP stores the engine's float result in the 8-bit layer and exports 8 bits:
# rounding costs up to half a level, float32 differences between runs a little
# more, so exported pixels must lie within one 8-bit level of enhance()'s output.
TOLERANCE_LEVELS = 1.0
# Half the shared photo's size keeps each engine call short.
PHOTO_SIZE = (300, 200)
SELECTION = (40, 30, 120, 80)  # x, y, width, height
GIMP_TIMEOUT_S = 300

# Runs inside GIMP's Python (no NumPy): every job loads a file, optionally
# selects or converts it, runs the filter and reports the status, the error
# message and whether the layer kept its pixels.
DRIVER = r"""
import json, os
import gi
gi.require_version("Gimp", "3.0")
gi.require_version("Gegl", "0.4")
from gi.repository import Gegl, Gimp, Gio

job = json.load(open(os.environ["ZDCE_GIMP_JOB"]))
proc = Gimp.get_pdb().lookup_procedure(job["procedure"])
report = {"found": proc is not None}

def pixels(layer):
    rect = Gegl.Rectangle.new(0, 0, layer.get_width(), layer.get_height())
    return bytes(layer.get_buffer().get(rect, 1.0, "R'G'B'A u8", Gegl.AbyssPolicy.NONE))

def run(spec):
    if spec.get("remove"):
        os.unlink(spec["remove"])
    image = Gimp.file_load(Gimp.RunMode.NONINTERACTIVE, Gio.File.new_for_path(spec["input"]))
    if spec.get("grey"):
        image.convert_grayscale()
    if spec.get("select"):
        image.select_rectangle(Gimp.ChannelOps.REPLACE, *spec["select"])
    layer = image.get_layers()[0]
    before = pixels(layer)
    config = proc.create_config()
    config.set_property("run-mode", Gimp.RunMode.NONINTERACTIVE)
    config.set_property("image", image)
    config.set_core_object_array("drawables", [layer])
    for name, value in spec.get("settings", {}).items():
        config.set_property(name, value)
        # Out-of-range values only warn and leave the old value: refuse them here.
        if config.get_property(name) != value:
            raise ValueError(f"GIMP refused {name}={value!r}")
    result = proc.run(config)
    done = {
        "status": result.index(0).value_nick,
        "message": str(result.index(1)) if result.length() > 1 else "",
        "unchanged": pixels(layer) == before,
    }
    if spec.get("export"):
        Gimp.file_save(Gimp.RunMode.NONINTERACTIVE, image, Gio.File.new_for_path(spec["export"]), None)
    image.delete()
    return done

if proc is not None:
    report["menu_paths"] = list(proc.get_menu_paths())
    report["menu_label"] = proc.get_menu_label()
    report["image_types"] = proc.get_image_types()
    report["runs"] = {name: run(spec) for name, spec in job["runs"].items()}
with open(job["report"], "w") as handle:
    json.dump(report, handle)
"""


def run_gimp(profile: Path, runs: dict[str, dict], work: Path) -> tuple[dict, str]:
    """Run the driver in headless GIMP on ``profile``; return its report and GIMP's output."""
    job = work / f"{profile.name}-job.json"
    report = work / f"{profile.name}-report.json"
    job.write_text(json.dumps({"procedure": PROCEDURE, "runs": runs, "report": str(report)}))
    env = dict(os.environ)
    env.update(
        GIMP3_DIRECTORY=str(profile),
        ZDCE_GIMP_JOB=str(job),
        # GIMP's own Python plug-ins (the batch interpreter among them) start with
        # `#!/usr/bin/env python3`: the venv must not come first on PATH.
        PATH="/usr/local/bin:/usr/bin:/bin",
        # Folders the chroot wrapper on Debian 12 must show inside (ignored natively).
        ZDCE_GIMP_BIND=os.pathsep.join([sys.prefix, sys.base_prefix, str(ROOT), str(work)]),
    )
    code = f"exec(open({str(work / 'driver.py')!r}).read())"
    (work / "driver.py").write_text(DRIVER)
    done = subprocess.run(
        [GIMP, "-i", "--batch-interpreter=python-fu-eval", "-b", code, "--quit"],
        env=env, capture_output=True, text=True, timeout=GIMP_TIMEOUT_S, check=False,
    )
    output = done.stdout + done.stderr
    assert report.exists(), f"GIMP wrote no report (exit {done.returncode}):\n{output[-4000:]}"
    return json.loads(report.read_text()), output


@pytest.fixture(scope="module")
def photos(tmp_path_factory, shared_photo) -> dict[str, Path]:
    """A half-size copy of the shared photo, and an RGBA version with an alpha ramp."""
    work = tmp_path_factory.mktemp("photos")
    with Image.open(shared_photo) as im:
        rgb = np.asarray(im.convert("RGB").resize(PHOTO_SIZE, Image.Resampling.LANCZOS))
    height, width = rgb.shape[:2]
    # No fully transparent pixels: PNG export may drop their colour.
    alpha = np.linspace(40, 255, width).round().astype(np.uint8)[None, :].repeat(height, axis=0)
    paths = {"rgb": work / "photo.png", "rgba": work / "photo-alpha.png"}
    Image.fromarray(rgb).save(paths["rgb"])
    Image.fromarray(np.dstack([rgb, alpha])).save(paths["rgba"])
    return paths


@pytest.fixture(scope="module")
def gimp_session(tmp_path_factory, photos) -> dict:
    """Install with `zdce install gimp` into a fresh profile and run the filter in GIMP."""
    require_host(GIMP is not None, "GIMP 3 (gimp-console-3.0)", INSTALL_HINT)
    work = tmp_path_factory.mktemp("gimp")
    profile = work / "profile"
    subprocess.run(
        [sys.executable, "-m", "zdce_core", "install", "gimp", "--prefix", str(profile)],
        check=True, capture_output=True, text=True,
    )
    runs = {
        "steps4": {"input": str(photos["rgb"]), "settings": {"steps": 4}, "export": str(work / "steps4.png")},
        "steps8": {"input": str(photos["rgb"]), "settings": {"steps": 8}, "export": str(work / "steps8.png")},
        "selection": {"input": str(photos["rgb"]), "select": SELECTION, "export": str(work / "selection.png")},
        "alpha": {"input": str(photos["rgba"]), "export": str(work / "alpha.png")},
        "grey": {"input": str(photos["rgb"]), "grey": True},
    }
    report, output = run_gimp(profile, runs, work)
    return {"report": report, "output": output, "work": work}


@pytest.fixture(scope="module")
def failing_session(tmp_path_factory, photos) -> dict:
    """A profile whose engine interpreter fails, then goes missing."""
    require_host(GIMP is not None, "GIMP 3 (gimp-console-3.0)", INSTALL_HINT)
    work = tmp_path_factory.mktemp("gimp-failing")
    engine = work / "broken-python"
    engine.write_text("#!/bin/sh\necho 'zdce hostbridge: simulated engine crash' >&2\nexit 3\n")
    engine.chmod(0o755)
    gimp_adapter.zdce_install(InstallOptions(prefix=work / "profile", python=str(engine)))
    runs = {
        "crash": {"input": str(photos["rgb"])},
        "missing": {"input": str(photos["rgb"]), "remove": str(engine)},
    }
    report, output = run_gimp(work / "profile", runs, work)
    return {"report": report, "output": output}


@functools.cache
def reference(path: Path, steps: int) -> np.ndarray:
    """enhance() on the same 8-bit input, scaled to 8-bit levels (float, unrounded)."""
    from zdce_core import enhance

    with Image.open(path) as im:
        return enhance(np.asarray(im), steps).astype(np.float64) * 255.0


def exported(path: Path) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im).astype(np.float64)


def test_install_makes_gimp_list_the_procedure(gimp_session):
    report = gimp_session["report"]
    assert report["found"], gimp_session["output"][-4000:]
    assert report["menu_paths"] == ["<Image>/Filters"]
    assert report["menu_label"] == "Low-light Enhance"
    assert report["image_types"] == "RGB*"


@pytest.mark.parametrize("steps", [4, 8])
def test_filter_matches_engine(gimp_session, photos, steps):
    run = gimp_session["report"]["runs"][f"steps{steps}"]
    assert run["status"] == "success", run["message"]
    got = exported(gimp_session["work"] / f"steps{steps}.png")
    want = reference(photos["rgb"], steps)
    assert got.shape == want.shape
    assert np.abs(got - want).max() <= TOLERANCE_LEVELS
    # The filter really brightens: not a copy of the input.
    assert got.mean() > exported(photos["rgb"]).mean() + 10


def test_selection_limits_the_change(gimp_session, photos):
    run = gimp_session["report"]["runs"]["selection"]
    assert run["status"] == "success", run["message"]
    got = exported(gimp_session["work"] / "selection.png")
    x, y, w, h = SELECTION
    inside = np.zeros(got.shape[:2], dtype=bool)
    inside[y : y + h, x : x + w] = True
    # Outside: untouched. Inside: what enhancing the whole layer gives there.
    np.testing.assert_array_equal(got[~inside], exported(photos["rgb"])[~inside])
    assert np.abs(got[inside] - reference(photos["rgb"], 8)[inside]).max() <= TOLERANCE_LEVELS


def test_alpha_survives(gimp_session, photos):
    run = gimp_session["report"]["runs"]["alpha"]
    assert run["status"] == "success", run["message"]
    got = exported(gimp_session["work"] / "alpha.png")
    source = exported(photos["rgba"])
    assert got.shape == source.shape
    np.testing.assert_array_equal(got[..., 3], source[..., 3])
    assert np.abs(got[..., :3] - reference(photos["rgba"], 8)[..., :3]).max() <= TOLERANCE_LEVELS


def test_grey_image_is_refused_with_a_message(gimp_session):
    run = gimp_session["report"]["runs"]["grey"]
    assert run["status"] == "execution-error"
    assert "RGB" in run["message"]
    assert run["unchanged"]


@pytest.mark.parametrize(
    ("name", "words"),
    [("crash", "simulated engine crash"), ("missing", "engine is missing")],
)
def test_engine_failure_is_an_error_with_unchanged_layer(failing_session, name, words):
    run = failing_session["report"]["runs"][name]
    assert run["status"] == "execution-error"
    assert words in run["message"]
    assert run["unchanged"]


def test_no_traceback_from_the_plug_in(gimp_session, failing_session):
    for session in (gimp_session, failing_session):
        assert "zdce-low-light-enhance.py\", line" not in session["output"]


def test_install_is_idempotent_and_uninstall_removes_only_its_folder(tmp_path):
    options = InstallOptions(prefix=tmp_path, python=sys.executable)
    neighbour = tmp_path / "plug-ins" / "someone-else"
    neighbour.mkdir(parents=True)
    assert not gimp_adapter.zdce_is_installed(options)
    first = gimp_adapter.zdce_install(options)
    assert gimp_adapter.zdce_install(options) == first
    script = tmp_path / "plug-ins" / "zdce-low-light-enhance" / "zdce-low-light-enhance.py"
    assert script in first
    assert os.access(script, os.X_OK)
    assert f"ENGINE_PYTHON = {sys.executable!r}" in script.read_text()
    assert gimp_adapter.zdce_is_installed(options)
    assert gimp_adapter.zdce_uninstall(options) == [script.parent]
    assert not script.parent.exists() and neighbour.is_dir()
    assert gimp_adapter.zdce_uninstall(options) == []


def test_install_needs_the_engine_interpreter(tmp_path):
    with pytest.raises(ValueError, match="interpreter"):
        gimp_adapter.zdce_install(InstallOptions(prefix=tmp_path))


def test_hostbridge_round_trip(tmp_path, dark_rgb):
    from zdce_core import enhance

    rgba = np.dstack([dark_rgb, np.full(dark_rgb.shape[:2], 200, np.uint8)]).astype(np.float32) / 255
    raw_in, raw_out = tmp_path / "in.raw", tmp_path / "out.raw"
    rgba.tofile(raw_in)
    height, width = rgba.shape[:2]
    done = subprocess.run(
        [sys.executable, "-m", "zdce_core", "hostbridge", str(raw_in), str(raw_out),
         "--width", str(width), "--height", str(height), "--channels", "4", "--steps", "4"],
        capture_output=True, text=True,
    )
    assert done.returncode == 0, done.stderr
    got = np.fromfile(raw_out, dtype=np.float32).reshape(rgba.shape)
    np.testing.assert_allclose(got, enhance(rgba, 4), atol=1e-5)
    np.testing.assert_array_equal(got[..., 3], rgba[..., 3])


def test_hostbridge_names_a_file_of_the_wrong_size(tmp_path):
    raw_in = tmp_path / "short.raw"
    raw_in.write_bytes(b"\0" * 12)
    done = subprocess.run(
        [sys.executable, "-m", "zdce_core", "hostbridge", str(raw_in), str(tmp_path / "out.raw"),
         "--width", "2", "--height", "2", "--channels", "3"],
        capture_output=True, text=True,
    )
    assert done.returncode == 2
    assert str(raw_in) in done.stderr and "expected 48" in done.stderr
    assert not (tmp_path / "out.raw").exists()
