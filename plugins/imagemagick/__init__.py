"""ImageMagick adapter: a ``zdce:`` delegate, so ``magick zdce:in.jpg out.jpg`` enhances on read.

ImageMagick 6 and 7 read user delegates from ``delegates.xml`` in
``~/.config/ImageMagick/`` (and in every folder of ``MAGICK_CONFIGURE_PATH``).
Installing adds one marked ``<delegate decode="zdce">`` entry to that file,
creating it or merging into the user's own (after a backup); uninstalling
removes exactly the marked lines. The delegate runs
:mod:`zdce_plugins.imagemagick.delegate` with the engine's interpreter, on
ImageMagick's temporary copy (``%i``) and with the name the user gave
(``%M``, which ImageMagick quotes for the shell) for its messages.
"""

from __future__ import annotations

import fnmatch
import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from importlib import resources
from pathlib import Path

from zdce_core.adapters.hookspecs import Changes, HostAdapter, HostInfo, InstallOptions, hookimpl
from zdce_core.adapters.hosts import existing_mode, package_version, probe_version, user_config_dir
from zdce_core.io.atomic import atomic_path

DELEGATES = "delegates.xml"
BACKUP_SUFFIX = ".zdce-backup"
CODER = "zdce"
# Exactly the marked block the template writes, so removing it restores the file byte for byte.
BLOCK = re.compile(r"  <!-- zdce: begin\..*?<!-- zdce: end -->\n", re.DOTALL)
EMPTY_MAP = '<?xml version="1.0" encoding="UTF-8"?>\n<delegatemap>\n</delegatemap>\n'
# /usr/local/bin/convert can be a wrapper of some other tool: only these count as ImageMagick.
CANDIDATES = ("magick", "/usr/bin/magick", "/usr/bin/convert")
VERSION = re.compile(r"Version: ImageMagick (\S+)")
TIMEOUT_S = 30


def config_dir(options: InstallOptions) -> Path:
    """Where ``delegates.xml`` goes: ``--prefix``, else ImageMagick's user folder."""
    return user_config_dir(options, "ImageMagick")


def delegate_entry(python: str) -> str:
    """The marked delegate block that runs the engine with interpreter ``python``."""
    # Imported here, at install: xml.sax.saxutils loads urllib.request (about 20 ms), which `zdce plugins` need not pay.
    from xml.sax.saxutils import escape

    template = resources.files(__name__).joinpath("delegate.xml").read_text(encoding="utf-8")
    return template.replace("{python}", escape(python, {'"': "&quot;"}))


def find_executable() -> str | None:
    """``magick`` (ImageMagick 7) or ``/usr/bin/convert`` (ImageMagick 6), whichever is real."""
    found = _find()
    return found[0] if found else None


def _path(name: str) -> str | None:
    return shutil.which(name) if "/" not in name else (name if os.access(name, os.X_OK) else None)


def _find() -> tuple[str, str] | None:
    for name in CANDIDATES:
        path = _path(name)
        version = probe_version(path, "-version", VERSION) if path else None
        if version:
            return path, version
    return None


def policy_denial(executable: str) -> str | None:
    """Explain why ImageMagick's security policy would refuse the ``zdce`` delegate, if it would.

    Reads ``-list policy`` (which names each policy.xml it loaded, including
    those in ``MAGICK_CONFIGURE_PATH``); the last delegate rule whose pattern
    matches ``zdce`` decides, as in ImageMagick.
    """
    try:
        done = subprocess.run(
            [executable, "-list", "policy"], capture_output=True, text=True, timeout=TIMEOUT_S, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    verdict = None
    source = domain = rights = ""
    for line in done.stdout.splitlines() + ["Policy: end"]:
        key, _, value = line.strip().partition(":")
        value = value.strip()
        if key == "Path":
            source = value
        elif key == "Policy":
            domain, rights = value, ""
        elif key == "rights":
            rights = value
        elif key == "pattern" and domain == "Delegate" and fnmatch.fnmatch(CODER, value.lower()):
            allowed = any(word in rights.lower() for word in ("execute", "all"))
            verdict = None if allowed else (
                f"ImageMagick's security policy {source} denies delegates matching {value!r} "
                f'(<policy domain="delegate" rights="{rights.lower()}" pattern="{value}"/>), so zdce: fails with '
                f'"not allowed by the security policy"; remove that rule or allow the zdce delegate'
            )
    return verdict


def locate() -> HostInfo | None:
    """The first ImageMagick program present, with the version of Debian's package if it is installed; nothing runs."""
    for name in CANDIDATES:
        path = _path(name)
        if path:
            return HostInfo(executable=path, version=package_version("imagemagick"))
    return None


def detect() -> HostInfo | None:
    """ImageMagick 7 or 6 and its version, marked when its security policy blocks the delegate."""
    found = _find()
    if found is None:
        return None
    executable, version = found
    denial = policy_denial(executable)
    return HostInfo(executable=executable, version=f"{version} (zdce delegate blocked by policy)" if denial else version)


def _read(path: Path) -> str:
    # Bytes, not read_text(): the user's line endings must survive untouched.
    return path.read_bytes().decode("utf-8")


def _read_checked(path: Path) -> str:
    text = _read(path)
    try:
        root = ET.fromstring(text)
    except ET.ParseError as exc:
        raise ValueError(f"{path}: not valid XML ({exc}); fix or move it away, nothing was changed") from None
    if root.tag != "delegatemap" or "</delegatemap>" not in text:
        raise ValueError(f"{path}: not an ImageMagick delegates file (no <delegatemap>); nothing was changed")
    return text


def _insertion_point(text: str) -> int:
    # Before the closing tag: at the start of its line when it stands alone there.
    end = text.rindex("</delegatemap>")
    line_start = text.rfind("\n", 0, end) + 1
    return line_start if not text[line_start:end].strip() else end


def _write(path: Path, text: str) -> None:
    ET.fromstring(text)  # never leave ImageMagick a file it cannot parse
    with atomic_path(path, mode=existing_mode(path, 0o644)) as tmp:
        tmp.write_bytes(text.encode("utf-8"))


def install(options: InstallOptions) -> Changes:
    """Add the marked delegate to ``delegates.xml`` (after a backup of the user's own); warn if policy blocks it."""
    folder = config_dir(options)
    path = folder / DELEGATES
    entry = delegate_entry(options.python or sys.executable)
    if path.exists():
        before = _read_checked(path)
        rest = BLOCK.sub("", before)
        foreign = [d for d in ET.fromstring(rest).iter("delegate") if d.get("decode", "").lower() == CODER]
        if foreign:
            raise ValueError(f"{path} already has a zdce delegate that zdce did not write; remove it first")
        at = _insertion_point(rest)
        after = rest[:at] + entry + rest[at:]
        changed = []
        if after != before:
            changed = [path]
            if rest != EMPTY_MAP:  # something of the user's is in it: keep a copy
                backup = path.with_name(path.name + BACKUP_SUFFIX)
                shutil.copy2(path, backup)
                changed.append(backup)
            _write(path, after)
    else:
        folder.mkdir(parents=True, exist_ok=True)
        at = _insertion_point(EMPTY_MAP)
        _write(path, EMPTY_MAP[:at] + entry + EMPTY_MAP[at:])
        changed = [path]
    executable = find_executable()
    denial = policy_denial(executable) if executable else None
    return Changes(paths=changed, warnings=[denial] if denial else [])


def uninstall(options: InstallOptions) -> Changes:
    """Remove exactly the marked delegate; the file goes if zdce created it, the backup once it matches."""
    path = config_dir(options) / DELEGATES
    if not path.exists():
        return Changes()
    before = _read_checked(path)
    after = BLOCK.sub("", before)
    if after == before:
        return Changes()
    backup = path.with_name(path.name + BACKUP_SUFFIX)
    changed = [path]
    if after == EMPTY_MAP and not backup.exists():
        path.unlink()  # zdce created this file: nothing of the user's is in it
        return Changes(paths=changed)
    _write(path, after)
    if backup.exists() and backup.read_bytes() == path.read_bytes():
        backup.unlink()  # the file is back to what the backup holds
        changed.append(backup)
    return Changes(paths=changed)


def is_installed(options: InstallOptions) -> bool:
    """Whether the marked delegate is in ``delegates.xml``."""
    path = config_dir(options) / DELEGATES
    return path.exists() and BLOCK.search(_read(path)) is not None


@hookimpl
def zdce_host_adapters() -> list[HostAdapter]:
    """The ImageMagick adapter."""
    return [
        HostAdapter(
            name="imagemagick",
            host="ImageMagick 6/7",
            description="zdce: delegate for magick/convert/mogrify (magick zdce:in.jpg out.jpg)",
            detect=detect,
            install=install,
            uninstall=uninstall,
            is_installed=is_installed,
            locate=locate,
        )
    ]
