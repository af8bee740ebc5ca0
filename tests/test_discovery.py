"""The plug-in discovery layer: entry points, every hook, and the zdce plugins/install/uninstall commands."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from zdce_core.adapters import manager as plugins
from zdce_core.adapters.hookspecs import AdapterInfo, HostInfo, InstallOptions

BUILT_IN = ("darktable", "gimp", "imagemagick")


def _zdce(*args, env=None):
    return subprocess.run(
        [sys.executable, "-m", "zdce_core", *args], capture_output=True, text=True, env=env, check=False, timeout=120
    )


def test_built_in_adapters_come_through_the_entry_point_group():
    names = {a.entry_point: a for a in plugins.adapters()}
    for name in BUILT_IN:
        adapter = names[name]
        assert adapter.distribution == "zdce"
        assert adapter.plugin.__name__ == f"zdce_plugins.{name}"
        assert set(adapter.hooks) >= {
            "zdce_adapter_info", "zdce_detect_host", "zdce_install", "zdce_uninstall", "zdce_is_installed"
        }


@pytest.mark.parametrize("name", BUILT_IN)
def test_hook_adapter_info(name):
    info = plugins.call(plugins.find(name).plugin, "zdce_adapter_info")
    assert isinstance(info, AdapterInfo) and info.name == name and info.description


@pytest.mark.parametrize("name", BUILT_IN)
def test_hook_detect_host(name):
    host = plugins.call(plugins.find(name).plugin, "zdce_detect_host")
    assert host is None or (isinstance(host, HostInfo) and host.version and host.executable)


@pytest.mark.parametrize("name", BUILT_IN)
def test_hooks_install_is_installed_uninstall(name, tmp_path):
    """Install, then is_installed, then uninstall, through the real commands, into a fresh prefix."""
    plugin = plugins.find(name).plugin
    options = InstallOptions(prefix=tmp_path, python=sys.executable)
    assert plugins.call(plugin, "zdce_is_installed", options=options) is False
    done = _zdce("install", name, "--prefix", str(tmp_path))
    assert done.returncode == 0, done.stderr
    assert "installed" in done.stdout
    assert plugins.call(plugin, "zdce_is_installed", options=options) is True
    again = _zdce("install", name, "--prefix", str(tmp_path))  # idempotent
    assert again.returncode == 0, again.stderr
    done = _zdce("uninstall", name, "--prefix", str(tmp_path))
    assert done.returncode == 0, done.stderr
    assert plugins.call(plugin, "zdce_is_installed", options=options) is False


def test_unknown_host_is_a_one_line_error():
    done = _zdce("install", "photoshop")
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0
    assert "no zdce adapter named 'photoshop'" in done.stderr and "gimp" in done.stderr


def test_third_party_plugin_appears_in_zdce_plugins(tmp_path):
    """A throwaway distribution registers an adapter in the zdce group, exactly like ours."""
    (tmp_path / "zdce_acme.py").write_text(
        textwrap.dedent(
            """
            from zdce_core.adapters.hookspecs import AdapterInfo, hookimpl

            @hookimpl
            def zdce_adapter_info():
                return AdapterInfo(name="acme", host="Acme Photo", description="test adapter")

            @hookimpl
            def zdce_detect_host():
                return None
            """
        )
    )
    dist = tmp_path / "zdce_acme-1.2.3.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: zdce-acme\nVersion: 1.2.3\n")
    (dist / "entry_points.txt").write_text("[zdce]\nacme = zdce_acme\n")
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    done = _zdce("plugins", env=env)
    assert done.returncode == 0, done.stderr
    line = next(line for line in done.stdout.splitlines() if line.startswith("acme "))
    assert "zdce-acme 1.2.3" in line and "adapter_info,detect_host" in line
    for name in BUILT_IN:
        assert any(row.startswith(name + " ") for row in done.stdout.splitlines())


def test_manager_is_built_lazily():
    code = "import sys, zdce_core; print('pluggy' in sys.modules, 'zdce_plugins.gimp' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["False", "False"]
