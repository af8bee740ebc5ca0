"""GIMP 3: Filters -> Low-light Enhance… run by real GIMP through the PDB, its preview path, and its adapter.

GIMP starts twice for the whole module (about 10 s each): once on a profile
installed with ``zdce install gimp`` for the listing, pixel and preview
checks, once on a profile whose engine fails. One batch script runs every
check of a session and writes the results as JSON. The dialog itself needs a
display; its preview runs the same code (the installed plug-in's
``PreviewSource`` and ``Engine``), which the batch script calls directly.
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
# What a user does in the dialog: three settings one after another, one engine answering them all.
PREVIEW_SETTINGS = [
    {"steps": 8, "strength": "auto", "denoise": True},
    {"steps": 2, "strength": "auto", "denoise": True},
    {"steps": 8, "strength": "0.5", "denoise": False},
]
# The plug-in's longest preview side.
PREVIEW_SIZE = 360

# Runs inside GIMP's Python (no NumPy): every job loads a file, optionally
# selects or converts it, runs the filter and reports the status, the error
# message and whether the layer kept its pixels.
DRIVER = r"""
import json, os, sys
import gi
gi.require_version("Gimp", "3.0")
gi.require_version("Gegl", "0.4")
from gi.repository import Gegl, Gimp, Gio

job = json.load(open(os.environ["ZDCE_GIMP_JOB"]))
plugin = None
if job.get("plugin"):
    # The installed plug-in as a module: its dialog's preview code, without the dialog.
    import importlib.machinery, importlib.util
    loader = importlib.machinery.SourceFileLoader("zdce_low_light_enhance", job["plugin"])
    plugin = importlib.util.module_from_spec(importlib.util.spec_from_loader(loader.name, loader))
    sys.modules[loader.name] = plugin  # dataclasses look their module up there
    loader.exec_module(plugin)
proc = Gimp.get_pdb().lookup_procedure(job["procedure"])
report = {"found": proc is not None}

def pixels(layer):
    rect = Gegl.Rectangle.new(0, 0, layer.get_width(), layer.get_height())
    return bytes(layer.get_buffer().get(rect, 1.0, "R'G'B'A u8", Gegl.AbyssPolicy.NONE))

def load(spec):
    image = Gimp.file_load(Gimp.RunMode.NONINTERACTIVE, Gio.File.new_for_path(spec["input"]))
    if spec.get("grey"):
        image.convert_grayscale()
    if spec.get("select"):
        image.select_rectangle(Gimp.ChannelOps.REPLACE, *spec["select"])
    if spec.get("export_before"):
        Gimp.file_save(Gimp.RunMode.NONINTERACTIVE, image, Gio.File.new_for_path(spec["export_before"]), None)
    return image

def preview(spec):
    image = load(spec)
    source = plugin.PreviewSource.of(image.get_layers()[0])
    open(spec["source"], "wb").write(source.pixels)
    engine = plugin.Engine()
    done = {"width": source.width, "height": source.height, "channels": source.channels, "pids": []}
    for i, settings in enumerate(spec["settings"]):
        result = source.enhanced(plugin.Settings(**settings), engine)
        open(f"{spec['source']}.{i}", "wb").write(result)
        open(f"{spec['source']}.{i}.u8", "wb").write(source.as_u8(result))
        done["pids"].append(engine.process.pid)
    done.update(starts=engine.starts, requests=engine.requests, alive=engine.process.poll() is None)
    process = engine.process
    engine.close()
    done["exit"] = process.returncode
    image.delete()
    return done

def run(spec):
    if spec.get("remove"):
        os.unlink(spec["remove"])
    image = load(spec)
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
    report["previews"] = {name: preview(spec) for name, spec in job.get("previews", {}).items()}
with open(job["report"], "w") as handle:
    json.dump(report, handle)
"""


def run_gimp(profile: Path, runs: dict[str, dict], work: Path, previews: dict[str, dict] | None = None) -> tuple[dict, str]:
    """Run the driver in headless GIMP on ``profile``; return its report and GIMP's output."""
    job = work / f"{profile.name}-job.json"
    report = work / f"{profile.name}-report.json"
    plugin = profile / "plug-ins" / PROCEDURE.removeprefix("python-fu-") / f"{PROCEDURE.removeprefix('python-fu-')}.py"
    job.write_text(json.dumps({"procedure": PROCEDURE, "runs": runs, "previews": previews or {},
                               "plugin": str(plugin) if previews else "", "report": str(report)}))
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
        "grey": {"input": str(photos["rgb"]), "grey": True, "settings": {"strength": "auto"},
                 "export_before": str(work / "grey-before.png"), "export": str(work / "grey.png")},
    }
    previews = {
        "rgb": {"input": str(photos["rgb"]), "source": str(work / "preview-rgb"), "settings": PREVIEW_SETTINGS},
        "grey-alpha": {"input": str(photos["rgba"]), "grey": True, "source": str(work / "preview-grey"),
                       "settings": PREVIEW_SETTINGS[:1]},
    }
    report, output = run_gimp(profile, runs, work, previews)
    return {"report": report, "output": output, "work": work}


@pytest.fixture(scope="module")
def failing_session(tmp_path_factory, photos) -> dict:
    """A profile whose engine interpreter fails, then goes missing."""
    require_host(GIMP is not None, "GIMP 3 (gimp-console-3.0)", INSTALL_HINT)
    work = tmp_path_factory.mktemp("gimp-failing")
    engine = work / "broken-python"
    engine.write_text("#!/bin/sh\necho 'zdce hostbridge: simulated engine crash' >&2\nexit 3\n")
    engine.chmod(0o755)
    gimp_adapter.install(InstallOptions(prefix=work / "profile", python=str(engine)))
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
    assert report["menu_label"] == "_Low-light Enhance…"
    assert report["image_types"] == "RGB*, GRAY*"


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


def test_grey_image_is_enhanced(gimp_session):
    run = gimp_session["report"]["runs"]["grey"]
    assert run["status"] == "success", run["message"]
    assert not run["unchanged"]
    before = exported(gimp_session["work"] / "grey-before.png")
    got = exported(gimp_session["work"] / "grey.png")
    assert before.ndim == got.ndim == 2  # still a grayscale image
    from zdce_core import enhance

    want = enhance(before.astype(np.uint8), 8, channel_axis=None).astype(np.float64) * 255.0
    assert np.abs(got - want).max() <= TOLERANCE_LEVELS
    assert got.mean() > before.mean() + 10


def _floats(path: Path, preview: dict) -> np.ndarray:
    shape = (preview["height"], preview["width"], preview["channels"])
    return np.fromfile(path, dtype=np.float32).reshape(shape)


def test_preview_is_answered_by_one_kept_alive_engine(gimp_session, photos):
    preview = gimp_session["report"]["previews"]["rgb"]
    # One process answered every update, was still running after them, and ended cleanly when closed.
    assert preview["starts"] == 1 and preview["requests"] == len(PREVIEW_SETTINGS)
    assert len(set(preview["pids"])) == 1 and preview["alive"] and preview["exit"] == 0
    # A reduced copy of the layer, its shape kept.
    width, height = PHOTO_SIZE
    scale = PREVIEW_SIZE / max(width, height)
    assert (preview["width"], preview["height"]) == (min(width, round(width * scale)), min(height, round(height * scale)))
    source = _floats(Path(gimp_session["work"] / "preview-rgb"), preview)
    from zdce_core import enhance

    results = []
    for i, settings in enumerate(PREVIEW_SETTINGS):
        got = _floats(gimp_session["work"] / f"preview-rgb.{i}", preview)
        want = enhance(source, settings["steps"], strength=params_strength(settings["strength"]), denoise=settings["denoise"])
        np.testing.assert_allclose(got, want, atol=1e-5)  # each update used that update's settings
        shown = np.fromfile(gimp_session["work"] / f"preview-rgb.{i}.u8", dtype=np.uint8).reshape(got.shape)
        assert np.abs(shown - got.astype(np.float64) * 255).max() <= 0.5 + 1e-3  # drawn as 8-bit, rounded
        results.append(got)
    assert results[1].mean() < results[0].mean()  # fewer steps: a darker preview


def test_preview_of_a_grey_layer_with_alpha(gimp_session):
    preview = gimp_session["report"]["previews"]["grey-alpha"]
    assert preview["channels"] == 2 and preview["starts"] == 1 and preview["exit"] == 0
    source = _floats(gimp_session["work"] / "preview-grey", preview)
    got = _floats(gimp_session["work"] / "preview-grey.0", preview)
    np.testing.assert_array_equal(got[..., 1], source[..., 1])  # alpha untouched
    assert got[..., 0].mean() > source[..., 0].mean() + 0.04


def params_strength(text: str):
    from zdce_core import params

    return params.parse_strength(text)


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
    assert not gimp_adapter.is_installed(options)
    first = gimp_adapter.install(options).paths
    assert gimp_adapter.install(options).paths == first
    script = tmp_path / "plug-ins" / "zdce-low-light-enhance" / "zdce-low-light-enhance.py"
    assert script in first
    assert os.access(script, os.X_OK)
    text = script.read_text()
    assert f"\nENGINE_PYTHON = {sys.executable!r}\n" in text
    # The contract's values, filled in: GIMP's Python cannot import zdce_core.contract.
    from zdce_core import contract

    for name in ("MIN_STEPS", "MAX_STEPS", "DEFAULT_STEPS", "DEFAULT_STRENGTH", "DEFAULT_DENOISE"):
        assert f"\n{name} = {getattr(contract, name)!r}\n" in text
    assert f"\nSTRENGTH_LEVELS = {list(contract.STRENGTH_LEVELS)!r}\n" in text
    assert f"\nFLOAT_BYTES = {contract.WIRE_FLOAT_BYTES!r}\n" in text
    assert gimp_adapter.is_installed(options)
    assert gimp_adapter.uninstall(options).paths == [script.parent]
    assert not script.parent.exists() and neighbour.is_dir()
    assert gimp_adapter.uninstall(options).paths == []


def test_install_needs_the_engine_interpreter(tmp_path):
    with pytest.raises(ValueError, match="interpreter"):
        gimp_adapter.install(InstallOptions(prefix=tmp_path))


def _request(pixels: np.ndarray, **settings) -> bytes:
    height, width = pixels.shape[:2]
    channels = pixels.shape[2] if pixels.ndim == 3 else 1
    header = {"width": width, "height": height, "channels": channels, **settings}
    return json.dumps(header).encode() + b"\n" + pixels.astype(np.float32).tobytes()


def _answers(stdout: bytes, shapes: list[tuple[int, ...]]) -> list:
    """Split the bridge's output into its answers: a dict, or a dict and an array."""
    found = []
    for shape in shapes:
        line, _, stdout = stdout.partition(b"\n")
        answer = json.loads(line)
        if answer.get("ok"):
            size = int(np.prod(shape)) * 4
            found.append((answer, np.frombuffer(stdout[:size], dtype=np.float32).reshape(shape)))
            stdout = stdout[size:]
        else:
            found.append((answer, None))
    assert stdout == b""
    return found


def test_hostbridge_answers_requests_in_one_process(dark_rgb):
    from zdce_core import enhance

    rgba = np.dstack([dark_rgb, np.full(dark_rgb.shape[:2], 200, np.uint8)]).astype(np.float32) / 255
    grey = rgba[..., :1].copy()
    grey_alpha = rgba[..., [0, 3]].copy()
    requests = [
        _request(rgba, steps=4),
        _request(rgba, steps=4, strength="1.5"),  # refused, and the bridge answers the next one
        _request(grey, steps=8, strength="0.5", denoise=False),
        _request(grey_alpha),
    ]
    done = subprocess.run([sys.executable, "-m", "zdce_core", "hostbridge"], input=b"".join(requests),
                          capture_output=True, timeout=300)
    assert done.returncode == 0, done.stderr.decode()
    (ok1, got_rgba), (refused, _), (ok2, got_grey), (ok3, got_ga) = _answers(
        done.stdout, [rgba.shape, rgba.shape, grey.shape, grey_alpha.shape]
    )
    assert ok1 == ok2 == ok3 == {"ok": True}
    assert "strength='1.5' is invalid" in refused["error"]
    np.testing.assert_allclose(got_rgba, enhance(rgba, 4), atol=1e-5)
    np.testing.assert_array_equal(got_rgba[..., 3], rgba[..., 3])
    want = enhance(grey[..., 0], 8, strength=0.5, denoise=False, channel_axis=None)
    np.testing.assert_allclose(got_grey[..., 0], want, atol=1e-5)
    np.testing.assert_allclose(got_ga[..., 0], enhance(grey_alpha[..., 0], channel_axis=None), atol=1e-5)
    np.testing.assert_array_equal(got_ga[..., 1], grey_alpha[..., 1])


def test_hostbridge_names_a_request_it_cannot_read():
    done = subprocess.run(
        [sys.executable, "-m", "zdce_core", "hostbridge"],
        input=json.dumps({"width": 2, "height": 2, "channels": 3}).encode() + b"\n" + b"\0" * 12,
        capture_output=True, timeout=120,
    )
    assert done.returncode == 2
    assert json.loads(done.stdout) == {"error": "request ended after 12 of 48 pixel bytes"}
