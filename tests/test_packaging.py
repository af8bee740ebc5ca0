"""A real non-editable install carries the engine, the checkpoint and every host file."""

from __future__ import annotations

import shutil
import site as site_module
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from conftest import require_host

ROOT = Path(__file__).resolve().parents[1]
HOST_FILES = [p.relative_to(ROOT / "plugins") for p in (ROOT / "plugins").rglob("*") if p.is_file() and "__pycache__" not in p.parts]


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """A throwaway venv with zdce installed from a wheel built from this tree; dependencies come from ours."""
    tmp = tmp_path_factory.mktemp("install")
    # Build from a copy: setuptools writes build/ and *.egg-info into the source tree.
    source = tmp / "src"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(".venv", ".git", ".data", "build", "*.egg-info", "__pycache__", "*.so"))
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", tmp / "dist", source],
        check=True,
        cwd=tmp,
    )
    (wheel,) = (tmp / "dist").glob("zdce-*.whl")
    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", venv], check=True)
    python = venv / "bin" / "python"
    site = Path(subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                               capture_output=True, text=True, check=True).stdout.strip())
    # Our dependencies without our editable zdce: a plain path entry processes no .pth files. All of our
    # site directories, not only the venv's: where setup.sh made the venv see the system's packages
    # (Debian 13's CPU torch), numpy comes from /usr/lib/python3/dist-packages.
    deps = [d for d in site_module.getsitepackages() if Path(d).is_dir()]
    (site / "deps.pth").write_text("".join(f"{d}\n" for d in deps))
    subprocess.run([sys.executable, "-m", "pip", "--python", python, "install", "-q", "--no-deps", wheel], check=True)
    return venv


def test_wheel_holds_host_files_weights_and_sample(installed):
    (wheel,) = (installed.parent / "dist").glob("zdce-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "zdce_core/weights/zdce-sice.npz" in names
    assert "zdce_core/weights/MODEL_CARD.md" in names
    assert "zdce_core/samples/night-street.jpg" in names
    assert "zdce_core/data/niqe_pris_params.npz" in names
    for rel in HOST_FILES:
        assert f"zdce_plugins/{rel.as_posix()}" in names, rel
    require_host(_has_kernel(wheel), "the compiled render kernel in the wheel", "a C compiler (gcc) and the Python headers")


def _has_kernel(wheel: Path) -> bool:
    """Whether the wheel carries the compiled render kernel (built where a C compiler was found)."""
    return any(n.startswith("zdce_core/maths/_curves.") and n.endswith(".so") for n in zipfile.ZipFile(wheel).namelist())


def test_installed_copy_runs_from_site_packages(installed, tmp_path):
    python = installed / "bin" / "python"
    code = (
        "import sys, zdce_core, zdce_plugins, numpy as np; "
        "print(zdce_core.__file__); print(zdce_plugins.__file__); "
        "print(float(zdce_core.enhance(np.full((8, 8, 3), 20, np.uint8)).mean())); "
        "print('torch' in sys.modules); "
        "from zdce_core.maths import render; print(render.apply_curves.__module__)"
    )
    done = subprocess.run([python, "-c", code], capture_output=True, text=True, check=True, cwd=tmp_path)
    core, adapters, mean, torch_loaded, kernel = done.stdout.split()
    assert str(installed) in core and str(installed) in adapters
    (wheel,) = (installed.parent / "dist").glob("zdce-*.whl")
    # The compiled render kernel where the wheel has it, else the NumPy reference.
    assert kernel == ("zdce_core.maths._curves" if _has_kernel(wheel) else "zdce_core.maths.render")
    assert float(mean) > 20 / 255
    assert torch_loaded == "False"  # inference runs without the train extra
    listing = subprocess.run([installed / "bin" / "zdce", "plugins"], capture_output=True, text=True, check=True)
    for name in ("gimp", "darktable", "imagemagick"):
        assert any(line.startswith(name + " ") for line in listing.stdout.splitlines())
    enhanced = subprocess.run([installed / "bin" / "zdce", "enhance", "--sample"], capture_output=True, text=True, cwd=tmp_path)
    assert enhanced.returncode == 0, enhanced.stderr
    assert (tmp_path / "night-street_enhanced.jpg").stat().st_size > 10_000
