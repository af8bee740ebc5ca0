"""The plug-in discovery layer: entry points, every hook, and the zdce plugins/install/uninstall commands."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap

import pytest

from zdce_core.adapters import manager as plugins
from zdce_core.adapters.hookspecs import Changes, HostAdapter, HostInfo, InstallOptions

BUILT_IN = ("darktable", "gimp", "imagemagick")


def _zdce(*args, env=None, timeout=120):
    return subprocess.run(
        [sys.executable, "-m", "zdce_core", *args], capture_output=True, text=True, env=env, check=False, timeout=timeout
    )


def test_built_in_adapters_come_through_the_entry_point_group():
    found = {p.entry_point: p for p in plugins.plugins()}
    for name in BUILT_IN:
        assert found[name].distribution == "zdce"
        assert found[name].hooks == ("zdce_host_adapters",)
    adapters = {a.name: a for a in plugins.adapters()}
    for name in BUILT_IN:
        assert isinstance(adapters[name], HostAdapter) and adapters[name].description
        assert adapters[name].install.__module__ == f"zdce_plugins.{name}"


@pytest.mark.parametrize("name", BUILT_IN)
def test_detect_host(name):
    host = plugins.find(name).detect()
    assert host is None or (isinstance(host, HostInfo) and host.version and host.executable)


@pytest.mark.parametrize("name", BUILT_IN)
def test_install_is_installed_uninstall(name, tmp_path):
    """Install, then is_installed, then uninstall, through the real commands, into a fresh prefix."""
    adapter = plugins.find(name)
    options = InstallOptions(prefix=tmp_path, python=sys.executable)
    assert adapter.is_installed(options) is False
    done = _zdce("install", name, "--prefix", str(tmp_path))
    assert done.returncode == 0, done.stderr
    assert "installed" in done.stdout
    assert adapter.is_installed(options) is True
    again = _zdce("install", name, "--prefix", str(tmp_path))  # idempotent
    assert again.returncode == 0, again.stderr
    done = _zdce("uninstall", name, "--prefix", str(tmp_path))
    assert done.returncode == 0, done.stderr
    assert adapter.is_installed(options) is False
    assert isinstance(adapter.uninstall(options), Changes)


def test_unknown_host_is_a_one_line_error():
    done = _zdce("install", "photoshop")
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0
    assert "no zdce adapter named 'photoshop'" in done.stderr and "gimp" in done.stderr


def _third_party(tmp_path, name: str, module: str, version: str = "1.2.3") -> dict:
    """A throwaway distribution ``zdce-NAME`` registering ``module`` (source text) in the zdce group, exactly like ours."""
    (tmp_path / f"zdce_{name}.py").write_text(textwrap.dedent(module))
    dist = tmp_path / f"zdce_{name}-{version}.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: zdce-{name}\nVersion: {version}\n")
    (dist / "entry_points.txt").write_text(f"[zdce]\n{name} = zdce_{name}\n")
    return {**os.environ, "PYTHONPATH": str(tmp_path)}


def test_third_party_plugin_answers_beside_the_built_in_ones(tmp_path):
    """A throwaway distribution registers a plug-in in the zdce group, exactly like ours: the hook is
    broadcast, its adapters join the built-in ones, its install warning reaches the user."""
    env = _third_party(
        tmp_path,
        "acme",
        """
        from zdce_core.adapters.hookspecs import Changes, HostAdapter, hookimpl

        def install(options):
            return Changes(paths=[options.prefix / "acme.cfg"], warnings=["Acme Photo 2 is too old"])

        @hookimpl
        def zdce_host_adapters():
            return [
                HostAdapter(name=name, host="Acme Photo", description=f"test adapter {name}",
                            detect=lambda: None, install=install, uninstall=lambda options: Changes(),
                            is_installed=lambda options: False)
                for name in ("acme", "acme-lite")
            ]
        """,
    )
    done = _zdce("plugins", env=env)
    assert done.returncode == 0, done.stderr
    rows = done.stdout.splitlines()
    plugin = next(line for line in rows if line.startswith("acme "))
    assert "zdce-acme 1.2.3" in plugin and "zdce_host_adapters" in plugin
    for name in ("acme", "acme-lite"):
        assert any(row.startswith(f"{name} ") and f"test adapter {name}" in row for row in rows)
    for name in BUILT_IN:
        assert sum(row.startswith(name + " ") for row in rows) == 2  # a plug-in row and an adapter row
    installed = _zdce("install", "acme-lite", "--prefix", str(tmp_path), env=env)
    assert installed.returncode == 0, installed.stderr
    assert installed.stdout == f"installed {tmp_path / 'acme.cfg'}\n"
    assert installed.stderr == "zdce: warning: Acme Photo 2 is too old\n"


def _adapter_row(listing: str, name: str) -> list[str]:
    """The cells of adapter ``name``'s row (the second table), split on the column gaps."""
    adapters = listing.split("\n\n", 1)[1].splitlines()
    return next(re.split(r"\s{2,}", row) for row in adapters if row.startswith(name + " "))


def test_listing_shows_each_hosts_version_as_detect_finds_it():
    """Real hosts: with --wait the HOST FOUND column is each built-in adapter's own detect() answer."""
    done = _zdce("plugins", "--wait")
    assert done.returncode == 0, done.stderr
    for name in BUILT_IN:
        host = plugins.find(name).detect()
        assert _adapter_row(done.stdout, name)[2] == (host.version if host else "no")


SLOW_HOST = """
    import time
    from zdce_core.adapters.hookspecs import Changes, HostAdapter, HostInfo, hookimpl

    def detect():
        time.sleep({seconds})
        return HostInfo(executable="/opt/slow/bin/slow", version="2.5")

    @hookimpl
    def zdce_host_adapters():
        return [HostAdapter(name="slow", host="Slow Photo", description="a host slow to report its version",
                            detect=detect, install=lambda options: Changes(), uninstall=lambda options: Changes(),
                            is_installed=lambda options: False)]
"""


def test_a_slow_host_does_not_hold_the_listing_back(tmp_path):
    """A host that takes a minute to report its version and gives no way to find it without starting it:
    the listing starts nothing, says --wait would ask it, and lists everything else."""
    env = _third_party(tmp_path, "slow", SLOW_HOST.format(seconds=60))
    done = _zdce("plugins", env=env, timeout=30)
    assert done.returncode == 0, done.stderr
    assert _adapter_row(done.stdout, "slow")[2] == "? (--wait asks the host)"
    for name in BUILT_IN:
        assert _adapter_row(done.stdout, name)


def test_wait_waits_for_a_slow_host(tmp_path):
    env = _third_party(tmp_path, "slow", SLOW_HOST.format(seconds=1.2))
    done = _zdce("plugins", "--wait", env=env)
    assert done.returncode == 0, done.stderr
    assert _adapter_row(done.stdout, "slow")[2] == "2.5"


def test_manager_is_built_lazily():
    code = "import sys, zdce_core; print('pluggy' in sys.modules, 'zdce_plugins.gimp' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["False", "False"]
