"""Every rule and number the parts of zdce share, defined once.

The API, the command line, training, the host adapters (whose scripts get
these values filled in at install time, since a host's own Python cannot
import zdce) and the benchmarks all read them from here. This module imports
nothing, so reading it costs nothing: ``zdce --help``, a host's script and
the GIMP bridge's parent never load NumPy for it.

The checks that apply the parameter rules are in :mod:`zdce_core.params`.
"""

# --- DCE-Net's shape: what a checkpoint must hold (not a user setting) ---

CURVE_ITERATIONS = 8
"""Curve iterations the network predicts maps for: its last layer has ``3 * CURVE_ITERATIONS`` outputs (RGB per iteration)."""

NETWORK_WIDTH = 32
"""Channels of every hidden convolution."""

NETWORK_INPUTS = 4
"""Input planes: red, green, blue and the exposure plane (how many stops the photo is under-exposed)."""

# --- Parameters a user sets (API keywords, command-line options, host dialogs, ZDCE_* variables) ---

MIN_STEPS, MAX_STEPS = 1, CURVE_ITERATIONS
"""Curve iterations a user may ask for: 1 (gentlest) to all those the network predicts."""

DEFAULT_STEPS = MAX_STEPS
DEFAULT_STRENGTH = "auto"
"""``"auto"``: the network's curves, scaled by how under-exposed the photo is (:data:`FINE_STOPS`, :data:`DARK_STOPS`)."""
DEFAULT_DENOISE = True

STRENGTH_LEVELS = tuple(round(0.1 * i, 1) for i in range(1, 11))
"""The fixed strengths a host's menu offers besides ``"auto"``: 0.1 to 1.0 in tenths (GIMP's choice, darktable's combobox)."""

ENGINES = ("numpy", "onnx")
"""Where the enhancer runs: the NumPy engine, or the exported graph in ONNX Runtime (``zdce[onnx]``)."""

DEFAULT_ENGINE = "numpy"

JPEG_QUALITY = 92
"""JPEG and WebP quality of written photos unless a user asks for another (1..100)."""

# --- Video (``zdce video``, ``zdce_core.VideoEnhancer``) ---

TIME_CONSTANT = 0.25
"""Seconds the smoothed curve maps take to move ``1 - 1/e`` (63 %) of the way to a new scene's; 98 % within one second."""

VIDEO_CODEC = "libx264"
"""The encoder ``zdce video`` uses where the container holds H.264 and none is asked for: fast, and every player reads it."""

VIDEO_CRF = 18
"""Constant-quality level ``zdce video`` asks of encoders that have one (x264, x265, VP9, AV1): visually lossless with x264."""

# --- The estimator: the small copy the network sees, and the rules on a photo's exposure ---

ESTIMATE_SIDE = 64
"""Longer side, in pixels, of the copy DCE-Net runs on (at most), in training and at inference.

Chosen by measurement on the 2-core machine (``benchmarks/train_speed.py``):
the network's forward and backward pass is most of a training step and grows
with the square of this side; at 128 an epoch over SICE part 1 costs about
four times what it costs at 64, far past the 2-minute budget. At 64 the
network's 15-pixel receptive field spans a quarter of the scene, and a 4K
photo gets maps of one value per 60x60 pixels, which the smooth curves allow.
"""

MAX_ESTIMATE_SIDE = 1024
"""Largest ``estimate_size`` accepted: the network's cost grows with its square (about 80 k multiply-adds per pixel)."""

BLACK_LOW, BLACK_HIGH = 0.007, 0.03
"""Levels below which a pixel or region counts as black, fading in up to the second.

The training target keeps black regions near black so night skies and sensor
noise are not lifted.
"""

SRGB_LINEAR_BELOW, SRGB_SLOPE, SRGB_OFFSET, SRGB_EXPONENT = 0.04045, 12.92, 0.055, 2.4
"""The sRGB transfer curve (IEC 61966-2-1): encoded levels up to ``SRGB_LINEAR_BELOW`` are linear light
times ``SRGB_SLOPE``; above, ``level = (1 + SRGB_OFFSET) * light ** (1 / SRGB_EXPONENT) - SRGB_OFFSET``.
The NumPy engine, training (torch) and the ONNX graph each decode with these numbers."""

WHITE = 0.83
"""Linear-light white point of a well-exposed photo: the :data:`WHITE_PERCENTILE` percentile of its brightest channel.

The geometric mean of that percentile over the tune half of
``shared/data/dev-synth/normal`` (the 19 photos at even positions of its
sorted names), measured on the copy the network sees; its spread there is
0.20 stops, against 0.60 stops for the log-average key.
"""

WHITE_PERCENTILE = 99.5
"""Percentile of the brightest channel that stands for a photo's white point (a few highlights may clip)."""

MAX_STOPS = 7.0
"""Largest under-exposure measured, in stops: a black frame is lifted by at most this; the exposure plane is stops over this."""

FINE_STOPS, DARK_STOPS = 0.6, 1.0
"""Under-exposures that ``strength="auto"`` leaves alone and lifts in full (training fades the gain in between them too).

A well-exposed photo whose brightest parts stay short of white (a grey cat, a
misty morning) measures up to about half a stop under.
"""

# --- The hostbridge wire format (``zdce hostbridge`` and the GIMP plug-in that talks to it) ---
# A request is one line of JSON, ``{"width": W, "height": H, "channels": C, "steps": N,
# "strength": "auto" or "0.5", "denoise": true}`` (at most WIRE_MAX_HEADER_BYTES), followed by
# W*H*C pixel values; the answer is a JSON line, ``{"ok": true}`` followed by the enhanced
# values in the same layout, or ``{"error": "..."}``. End of input ends the bridge.

WIRE_FLOAT_BYTES = 4
"""Bytes per pixel value: float32 in native byte order, interleaved channels, non-linear (sRGB-encoded) values in [0, 1]."""

WIRE_CHANNELS = (1, 2, 3, 4)
"""Channel counts a request may carry: grey, grey+alpha, RGB, RGBA."""

WIRE_MAX_HEADER_BYTES = 4096
"""Longest request line (the JSON header before the pixels)."""
