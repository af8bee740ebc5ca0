"""darktable adapter: a Lua script with an export target and a shortcut that run ``zdce batch``.

Installing copies ``zdce_enhance.lua`` to ``CONFIGDIR/lua/contrib/`` (CONFIGDIR is
``--prefix``, else ``$XDG_CONFIG_HOME/darktable``, else ``~/.config/darktable``),
with the absolute path of the engine's ``zdce`` written in as the default of its
"zdce executable" preference, and adds one ``require`` line to ``CONFIGDIR/luarc``.
Uninstalling removes exactly that line and that file.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
from importlib import resources
from pathlib import Path

from zdce_core.adapters.hookspecs import AdapterInfo, HostInfo, InstallOptions, hookimpl
from zdce_core.adapters.hosts import probe_version, user_config_dir
from zdce_core.io.atomic import atomic_path

SCRIPT = "zdce_enhance.lua"
MODULE = "contrib/zdce_enhance"
REQUIRE_LINE = f'require "{MODULE}"'
# The one line of the shipped script that install fills in.
ENGINE_LINE = 'local INSTALLED_ENGINE = ""'
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


def script_text(engine: str) -> str:
    """The Lua script with ``engine`` as its recorded default engine."""
    template = resources.files(__name__).joinpath(SCRIPT).read_text(encoding="utf-8")
    if template.count(ENGINE_LINE) != 1:
        raise ValueError(f"{SCRIPT}: expected exactly one line {ENGINE_LINE!r} to fill in")
    return template.replace(ENGINE_LINE, f"local INSTALLED_ENGINE = {lua_string(engine)}")


def _write(path: Path, text: str) -> None:
    mode = path.stat().st_mode & 0o7777 if path.exists() else 0o644
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
        os.chmod(tmp, mode)


def _is_require_line(line: str) -> bool:
    return line.strip() == REQUIRE_LINE


def _installed_paths(options: InstallOptions) -> tuple[Path, Path]:
    """The script's place and the ``luarc`` that requires it."""
    folder = config_dir(options)
    return folder / "lua" / "contrib" / SCRIPT, folder / "luarc"


@hookimpl
def zdce_adapter_info() -> AdapterInfo:
    return AdapterInfo(
        name="darktable",
        host="darktable 4.x/5.x",
        description="Lua script: export target and shortcut 'Low-light enhance (Zero-DCE)', results grouped and tagged",
    )


@hookimpl
def zdce_detect_host() -> HostInfo | None:
    executable = shutil.which("darktable")
    # darktable 4.2 run as root prints its version and then exits 1.
    version = probe_version(executable, "--version", VERSION, check_exit=False) if executable else None
    return HostInfo(executable=executable, version=version) if executable and version else None


@hookimpl
def zdce_install(options: InstallOptions) -> list[Path]:
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
    return changed


@hookimpl
def zdce_uninstall(options: InstallOptions) -> list[Path]:
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
    return changed


@hookimpl
def zdce_is_installed(options: InstallOptions) -> bool:
    script, luarc = _installed_paths(options)
    return script.exists() and luarc.exists() and any(
        _is_require_line(line) for line in luarc.read_text(encoding="utf-8").splitlines()
    )
