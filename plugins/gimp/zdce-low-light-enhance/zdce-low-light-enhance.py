#!/usr/bin/python3
"""GIMP 3 filter Filters -> Low-light Enhance…: Zero-DCE curve enhancement of RGB and grey layers.

GIMP runs this file with its own Python, which has neither torch nor NumPy.
The pixels therefore travel to the zdce engine's own interpreter (written
below by ``zdce install gimp``) through ``python -m zdce_core hostbridge``,
one engine process per filter run: the dialog's preview and the final
apply share it, so a changed setting costs one small enhance, not an engine
start. Nothing in the image changes until every selected layer has been
enhanced successfully, so a failure leaves the image as it was.
"""

from __future__ import annotations

import contextlib
import gettext
import json
import os
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass

import gi

gi.require_version("Gimp", "3.0")
gi.require_version("GimpUi", "3.0")
gi.require_version("Gegl", "0.4")
gi.require_version("Gtk", "3.0")
from gi.repository import Gegl, GLib, GObject, Gimp, GimpUi, Gtk  # noqa: E402

# Written by `zdce install gimp`: the interpreter that has zdce_core installed, and
# from zdce_core.contract (this Python cannot import it) the ranges and defaults of the
# settings, the strengths the menu offers besides auto, and the bytes per pixel value
# of the hostbridge's wire format.
ENGINE_PYTHON = None
MIN_STEPS = None
MAX_STEPS = None
DEFAULT_STEPS = None
DEFAULT_STRENGTH = None
DEFAULT_DENOISE = None
STRENGTH_LEVELS = None
FLOAT_BYTES = None

PROCEDURE = "python-fu-zdce-low-light-enhance"
# GIMP looks for this domain's catalogs in the locale/ folder beside this file.
I18N_DOMAIN = "zdce"
_ = gettext.translation(
    I18N_DOMAIN, os.path.join(os.path.dirname(os.path.abspath(__file__)), "locale"), fallback=True
).gettext
TITLE = _("Low-light Enhance")
# Non-linear (sRGB-encoded) floats, by channel count: the values the engine sees when it reads a PNG.
FORMATS = {1: "Y' float", 2: "Y'A float", 3: "R'G'B' float", 4: "R'G'B'A float"}
PREVIEW_FORMATS = {
    1: ("Y' u8", Gimp.ImageType.GRAY_IMAGE),
    2: ("Y'A u8", Gimp.ImageType.GRAYA_IMAGE),
    3: ("R'G'B' u8", Gimp.ImageType.RGB_IMAGE),
    4: ("R'G'B'A u8", Gimp.ImageType.RGBA_IMAGE),
}
# Longest side of the preview: big enough to judge noise and exposure, small enough to update at once.
PREVIEW_SIZE = 360
# How often the progress bar pulses while the engine runs; how long the engine gets to exit.
PULSE_SECONDS = 0.1
CLOSE_SECONDS = 10


class FilterError(Exception):
    """A failure to report to the user as the procedure's error message."""


@dataclass(frozen=True)
class Settings:
    """The filter's arguments, as the engine's ``hostbridge`` takes them."""

    steps: int
    strength: str
    denoise: bool

    @classmethod
    def from_config(cls, config) -> "Settings":
        """Read the procedure config; the same path for the dialog, its preview and batch calls.

        Ranges need no check here: GIMP refuses out-of-range values before the
        plug-in runs (a config property keeps its old value, the PDB rejects the call).
        """
        return cls(config.get_property("steps"), config.get_property("strength"), config.get_property("denoise"))


def channels_of(drawable) -> int:
    """Grey or RGB, plus alpha."""
    return (3 if drawable.is_rgb() else 1) + (1 if drawable.has_alpha() else 0)


def target_layers(image, drawables) -> list:
    """The layers to enhance; FilterError for anything the engine cannot take."""
    if image.get_base_type() not in (Gimp.ImageBaseType.RGB, Gimp.ImageBaseType.GRAY):
        raise FilterError(_("{title} works on RGB and grayscale images; convert with Image > Mode.").format(title=TITLE))
    if not drawables:
        raise FilterError(_("{title}: select a layer first.").format(title=TITLE))
    for drawable in drawables:
        name = drawable.get_name()
        if not isinstance(drawable, Gimp.Layer):
            raise FilterError(_("{title} works on layers; '{name}' is a mask or channel.").format(title=TITLE, name=name))
        if isinstance(drawable, Gimp.GroupLayer):
            raise FilterError(
                _("{title} cannot change the layer group '{name}'; select a layer inside it.").format(title=TITLE, name=name)
            )
    return list(drawables)


class Engine:
    """One ``zdce hostbridge`` process, started on first use and answering requests until closed."""

    def __init__(self):
        self.process = None
        self.starts = 0
        self.requests = 0
        self._lock = threading.Lock()
        self._errors = None

    def _start(self):
        if not ENGINE_PYTHON:
            raise FilterError(
                _("{title}: the zdce engine is not configured; install this plug-in with `zdce install gimp`.").format(
                    title=TITLE
                )
            )
        if not os.access(ENGINE_PYTHON, os.X_OK):
            raise FilterError(
                _("{title}: the zdce engine is missing ({path} is not an executable file); "
                  "reinstall zdce and run `zdce install gimp` again.").format(title=TITLE, path=ENGINE_PYTHON)
            )
        # The engine's interpreter must not pick up Python settings meant for GIMP's.
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
        # A file, not a pipe, for its messages: nobody reads them until it fails, and a full pipe would block it.
        self._errors = tempfile.TemporaryFile()
        command = [ENGINE_PYTHON, "-m", "zdce_core", "hostbridge"]
        try:
            self.process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                            stderr=self._errors, env=env)
        except OSError as exc:
            raise FilterError(
                _("{title}: cannot start the zdce engine ({path}): {why}.").format(
                    title=TITLE, path=ENGINE_PYTHON, why=exc.strerror)
            ) from None
        self.starts += 1

    def _close_input(self) -> None:
        # Closing flushes what is left, which fails if the engine has already gone.
        with contextlib.suppress(BrokenPipeError):
            self.process.stdin.close()

    def _failure(self) -> FilterError:
        """The engine has gone: its last message, or its exit status."""
        self._close_input()
        code = self.process.wait()
        self._errors.seek(0)
        lines = self._errors.read().decode("utf-8", "replace").strip().splitlines()
        self.process = None
        detail = lines[-1] if lines else _("exit status {code}").format(code=code)
        return FilterError(_("{title}: the zdce engine failed: {detail}").format(title=TITLE, detail=detail))

    def enhance(self, pixels: bytes, width: int, height: int, channels: int, settings: Settings) -> bytes:
        """Enhanced ``pixels`` (floats in ``FORMATS[channels]``); FilterError with the engine's message."""
        with self._lock:
            if self.process is None:
                self._start()
            header = {"width": width, "height": height, "channels": channels, "steps": settings.steps,
                      "strength": settings.strength, "denoise": settings.denoise}
            try:
                self.process.stdin.write(json.dumps(header).encode() + b"\n")
                self.process.stdin.write(pixels)
                self.process.stdin.flush()
                answer = self.process.stdout.readline()
            except BrokenPipeError:
                answer = b""
            if not answer:
                raise self._failure()
            reply = json.loads(answer)
            if "error" in reply:
                raise FilterError(_("{title}: the zdce engine refused the pixels: {detail}").format(
                    title=TITLE, detail=reply["error"]))
            expected = width * height * channels * FLOAT_BYTES
            result = self.process.stdout.read(expected)
            if len(result) != expected:
                raise self._failure()
            self.requests += 1
            return result

    def close(self) -> None:
        """End the engine (end of input ends it); kill it if it does not go."""
        if self.process is None:
            return
        self._close_input()
        try:
            self.process.wait(timeout=CLOSE_SECONDS)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process.stdout.close()
        self._errors.close()
        self.process = None


def while_pulsing(work):
    """Run ``work()`` in a thread, pulsing GIMP's progress bar until it returns; its result or its exception."""
    outcome = {}

    def target():
        try:
            outcome["value"] = work()
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
            outcome["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    while thread.is_alive():
        Gimp.progress_pulse()
        thread.join(PULSE_SECONDS)
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def enhanced_pixels(layer, settings: Settings, engine: Engine) -> bytes:
    """The whole layer enhanced by the engine, in the layer's float format."""
    width, height, channels = layer.get_width(), layer.get_height(), channels_of(layer)
    rect = Gegl.Rectangle.new(0, 0, width, height)
    # The whole layer goes to the engine even with a selection, so selected pixels
    # look exactly as they would after enhancing everything.
    pixels = layer.get_buffer().get(rect, 1.0, FORMATS[channels], Gegl.AbyssPolicy.NONE)
    return while_pulsing(lambda: engine.enhance(pixels, width, height, channels, settings))


def apply_pixels(layer, pixels: bytes) -> None:
    """Write ``pixels`` through the shadow buffer; merging it honours the selection."""
    width, height, channels = layer.get_width(), layer.get_height(), channels_of(layer)
    shadow = layer.get_shadow_buffer()
    shadow.set(Gegl.Rectangle.new(0, 0, width, height), FORMATS[channels], pixels)
    shadow.flush()
    layer.merge_shadow(True)
    _ok, x, y, w, h = layer.mask_intersect()
    layer.update(x, y, w, h)


def enhance_layers(image, layers: list, settings: Settings, engine: Engine) -> None:
    """Enhance every layer, then change them all in one undo step."""
    for layer in layers:
        if not layer.mask_intersect()[0]:
            raise FilterError(
                _("{title}: the selection does not cover any of layer '{name}'.").format(title=TITLE, name=layer.get_name())
            )
    Gimp.progress_init(TITLE)
    results = []
    for done, layer in enumerate(layers):
        results.append(enhanced_pixels(layer, settings, engine))
        Gimp.progress_update((done + 1) / (len(layers) + 1))
    image.undo_group_start()
    try:
        for layer, pixels in zip(layers, results):
            apply_pixels(layer, pixels)
    finally:
        image.undo_group_end()
    Gimp.progress_update(1.0)
    Gimp.displays_flush()


@dataclass(frozen=True)
class PreviewSource:
    """A reduced copy of the drawable (or of the selection's bounds) as the engine takes it."""

    pixels: bytes
    width: int
    height: int
    channels: int
    selection: bool

    @classmethod
    def of(cls, drawable, size: int = PREVIEW_SIZE) -> "PreviewSource":
        """At most ``size`` pixels on the longer side; GEGL does the reduction."""
        inside, x, y, w, h = drawable.mask_intersect()
        inside = inside and (w, h) != (drawable.get_width(), drawable.get_height())
        if not inside:
            x, y, w, h = 0, 0, drawable.get_width(), drawable.get_height()
        scale = min(1.0, size / max(w, h))
        width, height = max(1, round(w * scale)), max(1, round(h * scale))
        # GEGL takes the rectangle in the scaled coordinates.
        rect = Gegl.Rectangle.new(round(x * scale), round(y * scale), width, height)
        channels = channels_of(drawable)
        pixels = drawable.get_buffer().get(rect, scale, FORMATS[channels], Gegl.AbyssPolicy.CLAMP)
        return cls(bytes(pixels), width, height, channels, inside)

    def as_u8(self, pixels: bytes) -> bytes:
        """Float ``pixels`` of this size as 8-bit values for display (babl converts)."""
        buffer = Gegl.Buffer.new(FORMATS[self.channels], 0, 0, self.width, self.height)
        rect = Gegl.Rectangle.new(0, 0, self.width, self.height)
        buffer.set(rect, FORMATS[self.channels], pixels)
        return bytes(buffer.get(rect, 1.0, PREVIEW_FORMATS[self.channels][0], Gegl.AbyssPolicy.NONE))

    def enhanced(self, settings: Settings, engine: Engine) -> bytes:
        """The preview under ``settings``, as floats."""
        return engine.enhance(self.pixels, self.width, self.height, self.channels, settings)


class PreviewPane:
    """The dialog's preview: redrawn from the shared engine whenever a setting changes.

    The engine works in a thread so the dialog stays responsive; changes made
    meanwhile are coalesced into one more update.
    """

    def __init__(self, drawable, config, engine: Engine):
        self.config, self.engine = config, engine
        self.source = PreviewSource.of(drawable)
        self.busy = self.dirty = False
        self.area = GimpUi.PreviewArea.new()
        self.area.set_size_request(self.source.width, self.source.height)
        self.status = Gtk.Label(label=_("Starting the zdce engine…"))
        self.status.set_line_wrap(True)
        self.status.set_max_width_chars(48)
        self.widget = Gtk.Box(orientation=Gtk.Orientation.VERTICAL, spacing=6)
        frame = Gtk.Frame()
        frame.add(self.area)
        self.widget.pack_start(frame, False, False, 0)
        self.widget.pack_start(self.status, False, False, 0)
        self.widget.show_all()
        self.area.connect("size-allocate", lambda *args: self._draw(self.shown))
        self.shown = self.source.pixels  # the original until the first result
        config.connect("notify", self.changed)
        GLib.idle_add(self._update)

    def _draw(self, pixels: bytes) -> None:
        image_type = PREVIEW_FORMATS[self.source.channels][1]
        self.area.draw(0, 0, self.source.width, self.source.height, image_type, self.source.as_u8(pixels),
                       self.source.width * self.source.channels)

    def changed(self, *args) -> None:
        self.dirty = True
        if not self.busy:
            self._update()

    def _update(self) -> bool:
        self.dirty, self.busy = False, True
        settings = Settings.from_config(self.config)
        threading.Thread(target=self._work, args=(settings,), daemon=True).start()
        return False  # an idle callback that runs once

    def _work(self, settings: Settings) -> None:
        try:
            result, message = self.source.enhanced(settings, self.engine), ""
        except FilterError as exc:
            result, message = None, str(exc)
        GLib.idle_add(self._show, result, message)

    def _show(self, result, message: str) -> bool:
        self.busy = False
        if result is not None:
            self.shown = result
            self._draw(result)
        self.status.set_text(message or (_("Preview of the selection") if self.source.selection
                                         else _("Preview of the layer")))
        if self.dirty:
            self._update()
        return False


def run_dialog(procedure, config, drawable, engine: Engine) -> bool:
    """The dialog with its preview; whether the user pressed OK."""
    GimpUi.init(PROCEDURE)
    dialog = GimpUi.ProcedureDialog(procedure=procedure, config=config)
    try:
        preview = PreviewPane(drawable, config, engine)
        dialog.get_content_area().pack_start(preview.widget, False, False, 0)
        dialog.fill(None)
        return dialog.run()
    finally:
        dialog.destroy()


def run(procedure, run_mode, image, drawables, config, data):
    """The procedure body: dialog when interactive, then one shared path."""
    engine = Engine()
    try:
        layers = target_layers(image, drawables)
        if run_mode == Gimp.RunMode.INTERACTIVE and not run_dialog(procedure, config, layers[0], engine):
            return procedure.new_return_values(Gimp.PDBStatusType.CANCEL, GLib.Error())
        enhance_layers(image, layers, Settings.from_config(config), engine)
    except FilterError as exc:
        return procedure.new_return_values(Gimp.PDBStatusType.EXECUTION_ERROR, GLib.Error(str(exc)))
    except Exception as exc:  # noqa: BLE001 - GIMP shows a message, never a traceback
        message = _("{title} failed unexpectedly: {kind}: {detail}").format(
            title=TITLE, kind=type(exc).__name__, detail=exc)
        return procedure.new_return_values(Gimp.PDBStatusType.EXECUTION_ERROR, GLib.Error(message))
    finally:
        engine.close()
    return procedure.new_return_values(Gimp.PDBStatusType.SUCCESS, GLib.Error())


def strength_choice():
    """Auto, or a fixed share of the trained curves: one control for one setting."""
    choice = Gimp.Choice.new()
    choice.add("auto", 0, _("Auto (by exposure)"),
               _("Brighten dark areas fully and leave well-exposed areas nearly alone"))
    for index, level in enumerate(STRENGTH_LEVELS, start=1):
        choice.add(str(level), index, f"{round(level * 100)} %", _("This share of the trained curves"))
    return choice


class LowLightEnhance(Gimp.PlugIn):
    """Registers the one procedure of this plug-in."""

    def do_set_i18n(self, name):
        # Catalogs, when translated, go in the locale/ folder beside this file.
        return True, I18N_DOMAIN, None

    def do_query_procedures(self):
        return [PROCEDURE]

    def do_create_procedure(self, name):
        procedure = Gimp.ImageProcedure.new(self, name, Gimp.PDBProcType.PLUGIN, run, None)
        procedure.set_image_types("RGB*, GRAY*")
        procedure.set_sensitivity_mask(
            Gimp.ProcedureSensitivityMask.DRAWABLE | Gimp.ProcedureSensitivityMask.DRAWABLES
        )
        # The ellipsis: this filter opens a dialog before it changes anything.
        procedure.set_menu_label(_("_Low-light Enhance…"))
        procedure.add_menu_path("<Image>/Filters")
        procedure.set_documentation(
            _("Brighten a dark photo with Zero-DCE light-enhancement curves"),
            _("Estimates per-pixel brightening curves with the zdce engine (Zero-DCE) and applies them "
              "to the selected RGB or grayscale layers; only the selection changes when there is one, alpha "
              "is kept, and the whole change is one undo step. The dialog previews the result."),
            name,
        )
        procedure.set_attribution("zdce contributors", "zdce contributors", "2026")
        flags = GObject.ParamFlags.READWRITE
        procedure.add_int_argument(
            "steps", _("St_eps"),
            _("Curve iterations: more brighten deep shadows further ({low}-{high})").format(low=MIN_STEPS, high=MAX_STEPS),
            MIN_STEPS, MAX_STEPS, DEFAULT_STEPS, flags,
        )
        procedure.add_choice_argument(
            "strength", _("S_trength"),
            _("Auto adapts to the photo's exposure; a percentage scales the curves (100 % = as trained)"),
            strength_choice(), DEFAULT_STRENGTH, flags,
        )
        procedure.add_boolean_argument(
            "denoise", _("_Denoise"), _("Smooth the noise that brightening reveals"), DEFAULT_DENOISE, flags
        )
        return procedure


if __name__ == "__main__":
    Gimp.main(LowLightEnhance.__gtype__, sys.argv)
