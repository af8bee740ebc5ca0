#!/usr/bin/python3
"""GIMP 3 filter Filters -> Low-light Enhance: Zero-DCE curve enhancement of RGB(A) layers.

GIMP runs this file with its own Python, which has neither torch nor NumPy.
The pixels therefore travel to the zdce engine's own interpreter (written
below by ``zdce install gimp``) as raw float files in a private temporary
folder, through ``python -m zdce_core hostbridge``. Nothing in the image
changes until every selected layer has been enhanced successfully, so a
failure leaves the image as it was.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass

import gi

gi.require_version("Gimp", "3.0")
gi.require_version("GimpUi", "3.0")
gi.require_version("Gegl", "0.4")
from gi.repository import Gegl, GLib, GObject, Gimp, GimpUi  # noqa: E402

# Written by `zdce install gimp`: the interpreter that has zdce_core installed.
ENGINE_PYTHON = ""

PROCEDURE = "python-fu-zdce-low-light-enhance"
TITLE = "Low-light Enhance"
# Non-linear (sRGB-encoded) floats: the same values the engine sees when it reads a PNG.
FORMATS = {3: "R'G'B' float", 4: "R'G'B'A float"}
FLOAT_BYTES = 4
# How often the progress bar pulses while the engine runs.
PULSE_SECONDS = 0.1


class FilterError(Exception):
    """A failure to report to the user as the procedure's error message."""


@dataclass(frozen=True)
class Settings:
    """The filter's arguments, as the engine's ``hostbridge`` command takes them."""

    steps: int
    strength: str
    denoise: bool

    @classmethod
    def from_config(cls, config) -> "Settings":
        """Read the procedure config; the same path for the dialog and batch calls.

        Ranges need no check here: GIMP refuses out-of-range values before the
        plug-in runs (a config property keeps its old value, the PDB rejects the call).
        """
        strength = "auto" if config.get_property("auto-strength") else repr(config.get_property("strength"))
        return cls(config.get_property("steps"), strength, config.get_property("denoise"))


def target_layers(image, drawables) -> list:
    """The layers to enhance; FilterError for anything the engine cannot take."""
    if image.get_base_type() != Gimp.ImageBaseType.RGB:
        raise FilterError(f"{TITLE} works on RGB images; convert with Image > Mode > RGB.")
    if not drawables:
        raise FilterError(f"{TITLE}: select a layer first.")
    for drawable in drawables:
        name = drawable.get_name()
        if not isinstance(drawable, Gimp.Layer):
            raise FilterError(f"{TITLE} works on layers; '{name}' is a mask or channel.")
        if isinstance(drawable, Gimp.GroupLayer):
            raise FilterError(f"{TITLE} cannot change the layer group '{name}'; select a layer inside it.")
    return list(drawables)


def engine_command(settings: Settings, raw_in: str, raw_out: str, width: int, height: int, channels: int) -> list[str]:
    """The engine call for one layer; FilterError when no engine is configured or present."""
    if not ENGINE_PYTHON:
        raise FilterError(f"{TITLE}: the zdce engine is not configured; install this plug-in with `zdce install gimp`.")
    if not os.access(ENGINE_PYTHON, os.X_OK):
        raise FilterError(
            f"{TITLE}: the zdce engine is missing ({ENGINE_PYTHON} is not an executable file); "
            "reinstall zdce and run `zdce install gimp` again."
        )
    command = [ENGINE_PYTHON, "-m", "zdce_core", "hostbridge", raw_in, raw_out]
    command += ["--width", str(width), "--height", str(height), "--channels", str(channels)]
    command += ["--steps", str(settings.steps), "--strength", settings.strength]
    if not settings.denoise:
        command.append("--no-denoise")
    return command


def run_engine(command: list[str]) -> None:
    """Run the engine, pulsing the progress bar; FilterError with its message if it fails."""
    # The engine's interpreter must not pick up Python settings meant for GIMP's.
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    try:
        child = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                 stderr=subprocess.PIPE, env=env)
    except OSError as exc:
        raise FilterError(f"{TITLE}: cannot start the zdce engine ({command[0]}): {exc.strerror}.") from None
    with child:
        while child.poll() is None:
            Gimp.progress_pulse()
            time.sleep(PULSE_SECONDS)
        errors = child.stderr.read().decode("utf-8", "replace").strip().splitlines()
    if child.returncode != 0:
        detail = errors[-1] if errors else f"exit status {child.returncode}"
        raise FilterError(f"{TITLE}: the zdce engine failed: {detail}")


def enhanced_pixels(layer, settings: Settings, workdir: str) -> bytes:
    """The whole layer enhanced by the engine, in the layer's float format."""
    width, height = layer.get_width(), layer.get_height()
    channels = 4 if layer.has_alpha() else 3
    rect = Gegl.Rectangle.new(0, 0, width, height)
    # The whole layer goes to the engine even with a selection, so selected pixels
    # look exactly as they would after enhancing everything.
    pixels = layer.get_buffer().get(rect, 1.0, FORMATS[channels], Gegl.AbyssPolicy.NONE)
    raw_in = os.path.join(workdir, "in.raw")
    raw_out = os.path.join(workdir, "out.raw")
    with open(raw_in, "wb") as handle:
        handle.write(pixels)
    run_engine(engine_command(settings, raw_in, raw_out, width, height, channels))
    try:
        with open(raw_out, "rb") as handle:
            result = handle.read()
    except OSError as exc:
        raise FilterError(f"{TITLE}: the zdce engine wrote no result: {exc.strerror}.") from None
    if len(result) != width * height * channels * FLOAT_BYTES:
        raise FilterError(f"{TITLE}: the zdce engine returned {len(result)} bytes for a {width}x{height} layer.")
    return result


def apply_pixels(layer, pixels: bytes) -> None:
    """Write ``pixels`` through the shadow buffer; merging it honours the selection."""
    width, height = layer.get_width(), layer.get_height()
    channels = 4 if layer.has_alpha() else 3
    shadow = layer.get_shadow_buffer()
    shadow.set(Gegl.Rectangle.new(0, 0, width, height), FORMATS[channels], pixels)
    shadow.flush()
    layer.merge_shadow(True)
    _, x, y, w, h = layer.mask_intersect()
    layer.update(x, y, w, h)


def enhance_layers(image, layers: list, settings: Settings) -> None:
    """Enhance every layer, then change them all in one undo step."""
    for layer in layers:
        if not layer.mask_intersect()[0]:
            raise FilterError(f"{TITLE}: the selection does not cover any of layer '{layer.get_name()}'.")
    Gimp.progress_init(TITLE)
    results = []
    with tempfile.TemporaryDirectory(prefix="zdce-gimp-") as workdir:
        for done, layer in enumerate(layers):
            results.append(enhanced_pixels(layer, settings, workdir))
            Gimp.progress_update((done + 1) / (len(layers) + 1))
    image.undo_group_start()
    try:
        for layer, pixels in zip(layers, results):
            apply_pixels(layer, pixels)
    finally:
        image.undo_group_end()
    Gimp.progress_update(1.0)
    Gimp.displays_flush()


def run(procedure, run_mode, image, drawables, config, data):
    """The procedure body: dialog when interactive, then one shared path."""
    if run_mode == Gimp.RunMode.INTERACTIVE:
        GimpUi.init(PROCEDURE)
        dialog = GimpUi.ProcedureDialog(procedure=procedure, config=config)
        dialog.fill(None)
        # Strength is only read when Auto strength is off.
        dialog.set_sensitive("strength", True, config, "auto-strength", True)
        accepted = dialog.run()
        dialog.destroy()
        if not accepted:
            return procedure.new_return_values(Gimp.PDBStatusType.CANCEL, GLib.Error())
    try:
        settings = Settings.from_config(config)
        enhance_layers(image, target_layers(image, drawables), settings)
    except FilterError as exc:
        return procedure.new_return_values(Gimp.PDBStatusType.EXECUTION_ERROR, GLib.Error(str(exc)))
    except Exception as exc:  # noqa: BLE001 - GIMP shows a message, never a traceback
        message = f"{TITLE} failed unexpectedly: {type(exc).__name__}: {exc}"
        return procedure.new_return_values(Gimp.PDBStatusType.EXECUTION_ERROR, GLib.Error(message))
    return procedure.new_return_values(Gimp.PDBStatusType.SUCCESS, GLib.Error())


class LowLightEnhance(Gimp.PlugIn):
    """Registers the one procedure of this plug-in."""

    def do_set_i18n(self, name):
        return False

    def do_query_procedures(self):
        return [PROCEDURE]

    def do_create_procedure(self, name):
        procedure = Gimp.ImageProcedure.new(self, name, Gimp.PDBProcType.PLUGIN, run, None)
        procedure.set_image_types("RGB*")
        procedure.set_sensitivity_mask(
            Gimp.ProcedureSensitivityMask.DRAWABLE | Gimp.ProcedureSensitivityMask.DRAWABLES
        )
        procedure.set_menu_label(TITLE)
        procedure.add_menu_path("<Image>/Filters")
        procedure.set_documentation(
            "Brighten a dark photo with Zero-DCE light-enhancement curves",
            "Estimates per-pixel brightening curves with the zdce engine (Zero-DCE) and applies them "
            "to the selected RGB or RGBA layers; only the selection changes when there is one, alpha "
            "is kept, and the whole change is one undo step.",
            name,
        )
        procedure.set_attribution("zdce contributors", "zdce contributors", "2026")
        flags = GObject.ParamFlags.READWRITE
        procedure.add_int_argument(
            "steps", "St_eps", "Curve iterations: more brighten deep shadows further (1-8)", 1, 8, 8, flags
        )
        procedure.add_boolean_argument(
            "auto-strength", "_Auto strength",
            "Brighten dark areas fully and leave well-exposed areas nearly alone", True, flags
        )
        procedure.add_double_argument(
            "strength", "S_trength", "Scale of the curves, 0 (unchanged) to 1 (as trained); "
            "used when Auto strength is off", 0.0, 1.0, 1.0, flags
        )
        procedure.add_boolean_argument(
            "denoise", "_Denoise", "Smooth the noise that brightening reveals", True, flags
        )
        return procedure


Gimp.main(LowLightEnhance.__gtype__, sys.argv)
