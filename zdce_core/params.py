"""The one parameter contract: what ``steps``, ``strength`` and ``denoise`` accept.

The API, the command line, the GIMP hostbridge, the ImageMagick delegate and
the host scripts (filled in at install time) all check settings here, against
the ranges and defaults of :mod:`zdce_core.contract`, so a range or a spelling
is defined once. Each ``check_*`` takes a Python value,
each ``parse_*`` the text a user typed (an option, an environment variable);
both raise :class:`ValueError` naming the setting, the value and what to use.
"""

from __future__ import annotations

import numbers

from .contract import ENGINES, MAX_STEPS, MIN_STEPS

_TRUE = ("1", "yes", "true", "on")
_FALSE = ("0", "no", "false", "off")


def check_steps(value, *, name: str = "steps") -> int:
    """``value`` as the number of curve iterations.

    >>> check_steps(4)
    4
    >>> check_steps(9)
    Traceback (most recent call last):
    ...
    ValueError: steps=9 is invalid; use an integer from 1 (gentlest) to 8 (full)
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or not MIN_STEPS <= value <= MAX_STEPS:
        raise ValueError(f"{name}={value!r} is invalid; use an integer from {MIN_STEPS} (gentlest) to {MAX_STEPS} (full)")
    return int(value)


def check_strength(value, *, name: str = "strength") -> float | str:
    """``value`` as a strength: ``"auto"`` or a finite number in [0, 1].

    >>> check_strength("auto"), check_strength(0.5)
    ('auto', 0.5)
    """
    if isinstance(value, str) and value == "auto":
        return value
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 <= value <= 1:
        raise ValueError(f"{name}={value!r} is invalid; use 'auto' or a number from 0 (unchanged) to 1 (full)")
    return float(value)


def check_denoise(value, *, name: str = "denoise") -> bool:
    """``value`` as the denoise switch: a real bool only (a string such as ``"no"`` is refused).

    >>> check_denoise(False)
    False
    """
    if not isinstance(value, (bool, numbers.Integral)) or isinstance(value, numbers.Integral) and value not in (0, 1):
        raise ValueError(f"{name}={value!r} is invalid; use True or False")
    return bool(value)


def check_engine(value, *, name: str = "engine") -> str:
    """``value`` as an engine name, one of :data:`ENGINES`.

    >>> check_engine("onnx")
    'onnx'
    """
    if not isinstance(value, str) or value not in ENGINES:
        raise ValueError(f"{name}={value!r} is invalid; use {' or '.join(repr(e) for e in ENGINES)}")
    return value


def parse_steps(text: str, *, name: str = "steps") -> int:
    """Steps from text, e.g. ``"4"``.

    >>> parse_steps(" 4 ")
    4
    """
    stripped = text.strip()
    if not stripped.isdigit():
        raise ValueError(f"{name}={text!r} is invalid; use an integer from {MIN_STEPS} (gentlest) to {MAX_STEPS} (full)")
    return check_steps(int(stripped), name=name)


def parse_strength(text: str, *, name: str = "strength") -> float | str:
    """Strength from text: ``"auto"`` or a number in [0, 1].

    >>> parse_strength("AUTO"), parse_strength("0.25")
    ('auto', 0.25)
    """
    stripped = text.strip().lower()
    if stripped == "auto":
        return "auto"
    try:
        value = float(stripped)
    except ValueError:
        value = float("nan")
    if not 0.0 <= value <= 1.0:  # also refuses nan
        raise ValueError(f"{name}={text!r} is invalid; use 'auto' or a number from 0 (unchanged) to 1 (full)")
    return value


def parse_denoise(text: str, *, name: str = "denoise") -> bool:
    """The denoise switch from text: 1/0, yes/no, true/false, on/off.

    >>> parse_denoise("off"), parse_denoise("Yes")
    (False, True)
    """
    stripped = text.strip().lower()
    if stripped in _TRUE:
        return True
    if stripped in _FALSE:
        return False
    raise ValueError(f"{name}={text!r} is invalid; use 1 or 0 (yes/no, true/false, on/off)")
