"""Shared fixtures: small real images, and the rule for missing host applications."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"


def require_host(found: bool, what: str, how: str) -> None:
    """Skip when a host application is missing, except under CI, where that fails the run."""
    if found:
        return
    message = f"{what} is not available; install it with: {how}"
    if os.environ.get("CI"):
        pytest.fail(f"CI needs {message}", pytrace=False)
    pytest.skip(message)


@pytest.fixture
def dark_rgb() -> np.ndarray:
    """A 48x64 uint8 dark RGB image with smooth structure and a little noise."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:48, 0:64]
    base = 0.08 + 0.06 * np.sin(xx / 7.0)[..., None] * np.cos(yy / 5.0)[..., None] + np.array([0.02, 0.0, -0.01])
    noisy = base + rng.normal(0, 0.01, (48, 64, 3))
    return (np.clip(noisy, 0, 1) * 255).round().astype(np.uint8)


@pytest.fixture(scope="session")
def shared_photo() -> Path:
    """A real low-light photo from the shared test data (600x400 PNG)."""
    path = SHARED_DATA / "test" / "lol15-low" / "1.png"
    if not path.exists():
        pytest.skip(f"shared test data missing: {path}")
    return path


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--fuzz", type=int, default=None, metavar="N", help="cases for tests/test_faults_fuzz.py (default 300)")
