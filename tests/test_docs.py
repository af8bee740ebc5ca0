"""The README and docs/ pages: every relative link resolves, every command block's programs exist."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
FENCE = re.compile(r"^```(\S*)\s*$")
SHELL = {"sh", "bash", "shell", "console"}
# Words that start a command line but are not the program: an environment assignment, a wrapper.
WRAPPERS = {"sudo", "env", "nice", "time", "exec", "timeout"}
# ImageMagick 7 is `magick`, 6 (Debian 12) has `convert`; GIMP 3 is `gimp` where Debian packages it (13),
# `gimp-console-3.0` in Debian 12's chroot (scripts/hosts/gimp.sh).
ALTERNATIVES = {"magick": ("magick", "convert"), "gimp": ("gimp", "gimp-3.0", "gimp-console-3.0")}
# Programs of setups the test machines are not: darktable installed from Flathub.
OTHER_SETUPS = {"flatpak"}
HEREDOC = re.compile(r"<<-?\s*['\"]?(\w+)['\"]?")


def _without_code(text: str) -> str:
    """The page with fenced blocks and inline code removed: links inside code are examples, not links."""
    kept, fenced = [], False
    for line in text.splitlines():
        if FENCE.match(line.strip()):
            fenced = not fenced
            continue
        if not fenced:
            kept.append(re.sub(r"`[^`]*`", "", line))
    return "\n".join(kept)


def _links(page: Path) -> list[str]:
    return [m.group(1) for m in LINK.finditer(_without_code(page.read_text(encoding="utf-8")))]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_resolve(page: Path) -> None:
    broken = []
    for target in _links(page):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target) or target.startswith("#"):
            continue  # a URL (https:, mailto:) or a place on the same page
        path = (page.parent / target.split("#", 1)[0]).resolve()
        if not path.exists():
            broken.append(target)
    assert not broken, f"{page.relative_to(ROOT)}: links to nothing: {broken}"


def _command_lines(page: Path) -> list[str]:
    """The lines of the page's shell blocks, continuation lines joined, comments and prompts dropped."""
    lines, block, pending, heredoc = [], None, "", None
    for raw in page.read_text(encoding="utf-8").splitlines():
        fence = FENCE.match(raw.strip())
        if fence:
            block = fence.group(1) if block is None else None
            continue
        if block not in SHELL:
            continue
        if heredoc:  # a here-document's text is input, not commands
            heredoc = None if raw.strip() == heredoc else heredoc
            continue
        found = HEREDOC.search(raw)
        heredoc = found.group(1) if found else None
        line = pending + raw.strip()
        if line.endswith("\\"):
            pending = line[:-1] + " "
            continue
        try:
            shlex.split(line, comments=True)
        except ValueError:  # a quoted argument that goes on over the next lines
            pending = line + "\n"
            continue
        pending = ""
        line = line.removeprefix("$ ")
        if line and not line.startswith("#"):
            lines.append(line)
    return lines


def _programs(line: str) -> list[str]:
    """The program of each command on ``line`` (commands joined by &&, ||, ; and |)."""
    words = shlex.split(line, comments=True)
    programs, start = [], True
    for word in words:
        if word in ("&&", "||", ";", "|"):
            start = True
        elif start and (word in WRAPPERS or re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", word) or word.startswith("-")):
            continue  # VAR=value, sudo, nice -n 10 (its option and the option's value come next)
        elif start and word.isdigit():
            continue
        elif start:
            programs.append(word)
            start = False
    return programs


def _exists(program: str) -> bool:
    if "/" in program:
        return (ROOT / program).exists() or Path(program).exists()
    if program in OTHER_SETUPS or program in ("cd", "export", "source", ".", "echo", "for", "do", "done"):
        return True
    venv_bin = Path(sys.executable).parent
    return any((venv_bin / name).exists() or shutil.which(name) for name in ALTERNATIVES.get(program, (program,)))


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_command_blocks_name_programs_that_exist(page: Path) -> None:
    missing = sorted({p for line in _command_lines(page) for p in _programs(line) if not _exists(p)})
    assert not missing, f"{page.relative_to(ROOT)}: commands name programs found nowhere (venv, PATH, repository): {missing}"


def test_bash_scripts_the_pages_run_exist() -> None:
    """`bash scripts/x.sh` names its script as an argument: that file must be in the repository."""
    named = {word for page in PAGES for line in _command_lines(page)
             for word in re.findall(r"\bbash\s+(\S+\.sh)\b", line)}
    assert named and all((ROOT / name).is_file() for name in named), named


def test_readme_is_a_front_page() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(text.splitlines()) <= 250
    block = text.split("```sh\n", 1)[1].split("```", 1)[0]
    assert "bash scripts/setup.sh && .venv/bin/zdce enhance --sample" in block.splitlines()[0]
    assert block.splitlines()[1].startswith("bash scripts/test.sh")
    assert "bash scripts/test.sh" in (ROOT / ".ci" / "run").read_text()  # CI runs the README's test command
