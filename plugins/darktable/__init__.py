"""darktable adapter: a Lua script with an export target and a shortcut that run ``zdce batch``.

Installing copies ``zdce_enhance.lua`` to ``CONFIGDIR/lua/contrib/`` (CONFIGDIR is
``--prefix``, else ``$XDG_CONFIG_HOME/darktable``, else ``~/.config/darktable``),
with the absolute path of the engine's ``zdce`` written in as the default of its
"zdce executable" preference and the ranges, defaults and strength levels of
:mod:`zdce_core.contract` for its export-module widgets, and adds one ``require`` line to ``CONFIGDIR/luarc``.
Uninstalling removes exactly that line and that file.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
from importlib import resources
from pathlib import Path

from zdce_core import contract
from zdce_core.adapters.hookspecs import Changes, HostAdapter, HostInfo, InstallOptions, hookimpl
from zdce_core.adapters.hosts import existing_mode, fill_in, package_version, probe_version, user_config_dir
from zdce_core.io.atomic import atomic_path

SCRIPT = "zdce_enhance.lua"
MODULE = "contrib/zdce_enhance"
REQUIRE_LINE = f'require "{MODULE}"'
# "this is darktable 4.2.1" (4.x) or "darktable 5.0.1" (5.x).
VERSION = re.compile(r"darktable (\d\S*)")


def config_dir(options: InstallOptions) -> Path:
    """darktable's user configuration folder: ``--prefix``, else the XDG default."""
    return user_config_dir(options, "darktable")


def engine_executable(python: str) -> str:
    """The ``zdce`` program installed beside interpreter ``python``, else on PATH, else ``""``.

    The interpreter's path is kept unresolved: a virtual environment's ``bin``
    holds ``zdce``, the interpreter it links to does not.
    """
    if python:
        beside = Path(python).absolute().parent / "zdce"
        if os.access(beside, os.X_OK):
            return str(beside)
    return shutil.which("zdce") or ""


def lua_string(text: str) -> str:
    r"""``text`` as a double-quoted Lua string literal.

    >>> lua_string('/opt/my "zdce"\\bin')
    '"/opt/my \\"zdce\\"\\\\bin"'
    """
    escaped = []
    for ch in text:
        if ch in '"\\':
            escaped.append("\\" + ch)
        elif ord(ch) < 32 or ord(ch) == 127:
            escaped.append(f"\\{ord(ch):03d}")
        else:
            escaped.append(ch)
    return '"' + "".join(escaped) + '"'


def lua_value(value: object) -> str:
    """A Python bool, int, str, or list of them, as a Lua literal.

    >>> lua_value(["auto", 0.5, True])
    '{ "auto", "0.5", true }'
    """
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "{ " + ", ".join(lua_value(item) for item in value) + " }"
    return str(value) if isinstance(value, int) else lua_string(str(value))


def script_text(engine: str) -> str:
    """The Lua script with ``engine`` as its recorded default engine and the contract's values filled in."""
    template = resources.files(__name__).joinpath(SCRIPT).read_text(encoding="utf-8")
    values = {
        "INSTALLED_ENGINE": engine,
        "MIN_STEPS": contract.MIN_STEPS,
        "MAX_STEPS": contract.MAX_STEPS,
        "DEFAULT_STEPS": contract.DEFAULT_STEPS,
        "DEFAULT_STRENGTH": contract.DEFAULT_STRENGTH,
        "DEFAULT_DENOISE": contract.DEFAULT_DENOISE,
        # The preference stores the text `zdce batch --strength` takes.
        "STRENGTHS": ["auto", *map(str, contract.STRENGTH_LEVELS)],
    }
    return fill_in(template, {k: lua_value(v) for k, v in values.items()}, "local {name} = ", source=SCRIPT)


def _write(path: Path, text: str) -> None:
    with atomic_path(path, mode=existing_mode(path, 0o644)) as tmp:
        tmp.write_text(text, encoding="utf-8")


def _is_require_line(line: str) -> bool:
    return line.strip() == REQUIRE_LINE


def _installed_paths(options: InstallOptions) -> tuple[Path, Path]:
    """The script's place and the ``luarc`` that requires it."""
    folder = config_dir(options)
    return folder / "lua" / "contrib" / SCRIPT, folder / "luarc"


def locate() -> HostInfo | None:
    """darktable on PATH, with the version of Debian's package if it is installed; nothing runs."""
    executable = shutil.which("darktable")
    return HostInfo(executable=executable, version=package_version("darktable")) if executable else None


def detect() -> HostInfo | None:
    """darktable on PATH and the version it reports."""
    executable = shutil.which("darktable")
    # darktable 4.2 run as root prints its version and then exits 1.
    version = probe_version(executable, "--version", VERSION, check_exit=False) if executable else None
    return HostInfo(executable=executable, version=version) if executable and version else None


def install(options: InstallOptions) -> Changes:
    """Write the script (if it differs) and add its ``require`` line to ``luarc`` (if missing)."""
    script, luarc = _installed_paths(options)
    changed = []
    text = script_text(engine_executable(options.python or sys.executable))
    if not script.exists() or script.read_text(encoding="utf-8") != text:
        script.parent.mkdir(parents=True, exist_ok=True)
        _write(script, text)
        changed.append(script)
    before = luarc.read_text(encoding="utf-8") if luarc.exists() else ""
    if not any(_is_require_line(line) for line in before.splitlines()):
        separator = "" if before == "" or before.endswith("\n") else "\n"
        _write(luarc, before + separator + REQUIRE_LINE + "\n")
        changed.append(luarc)
    return Changes(paths=changed)


def uninstall(options: InstallOptions) -> Changes:
    """Remove the script and its ``require`` line, and folders install made that are left empty."""
    script, luarc = _installed_paths(options)
    changed = []
    if script.exists():
        script.unlink()
        changed.append(script)
        # Folders install made and nothing else uses: an empty folder is as good as none.
        for empty in (script.parent, script.parent.parent):
            try:
                empty.rmdir()
            except OSError:
                break
    if luarc.exists():
        before = luarc.read_text(encoding="utf-8")
        kept = [line for line in before.splitlines(keepends=True) if not _is_require_line(line)]
        after = "".join(kept)
        if after != before:
            if after.strip() == "":
                luarc.unlink()  # only our line was in it: as if it never existed
            else:
                _write(luarc, after)
            changed.append(luarc)
    return Changes(paths=changed)


def is_installed(options: InstallOptions) -> bool:
    """Whether the script is in place and ``luarc`` requires it."""
    script, luarc = _installed_paths(options)
    return script.exists() and luarc.exists() and any(
        _is_require_line(line) for line in luarc.read_text(encoding="utf-8").splitlines()
    )


@hookimpl
def zdce_host_adapters() -> list[HostAdapter]:
    """The darktable adapter."""
    return [
        HostAdapter(
            name="darktable",
            host="darktable 4.x/5.x",
            description="Lua script: export target 'Low-light enhance (Zero-DCE)' with its settings in the export "
            "module, and a shortcut; results grouped and tagged",
            detect=detect,
            install=install,
            uninstall=uninstall,
            is_installed=is_installed,
            locate=locate,
        )
    ]
