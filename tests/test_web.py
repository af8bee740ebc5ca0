"""The in-browser page in real headless Chromium (Debian's package) driven by Playwright, served by `zdce web`.

Screenshots are kept in test-artifacts/web/ at the top of the checkout.
"""

from __future__ import annotations

import base64
import contextlib
import io
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import ROOT, require_host
from zdce_core.app.commands.web import PAGE, RUNTIME
from zdce_core.maths.network import SHAPES
from zdce_core.weights import bundled_path, load_model, save_npz

CHROMIUM = Path("/usr/bin/chromium")
# No sandbox: CI runs as root; the rest keeps a test browser from reaching out or doing first-run work.
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run",
]
ARTIFACTS = ROOT / "test-artifacts" / "web"
TOLERANCE = 2  # levels of 8 bits between the canvas and ONNX Runtime (Python) on the same pixels

try:
    from playwright.sync_api import sync_playwright
except ImportError:
    sync_playwright = None
try:
    import onnxruntime as ort
except ImportError:
    ort = None


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    """Seeded random weights whose curves move every pixel far, so the checks below do not depend on
    how much the bundled checkpoint (retrained from time to time) changes the test photo."""
    rng = np.random.default_rng(7)
    path = tmp_path_factory.mktemp("web") / "strong.npz"
    save_npz({key: rng.normal(0, 0.15, shape).astype(np.float32) for key, shape in SHAPES.items()}, path)
    return path


@contextlib.contextmanager
def _serving(*options: str):
    """``zdce web`` on a free port; yields the page's address."""
    require_host(ort is not None, "onnxruntime", "pip install 'zdce[onnx]'")
    require_host(all((PAGE / "vendor" / f).is_file() for f in RUNTIME), "onnxruntime-web in web/vendor", "bash scripts/setup-web.sh")
    proc = subprocess.Popen([sys.executable, "-m", "zdce_core", "web", "--port", "0", *options],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        assert line.startswith("serving the page at http://"), line + proc.stderr.read()
        yield line.split()[4]
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@pytest.fixture(scope="module")
def server(weights):
    with _serving("--model", str(weights)) as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    require_host(CHROMIUM.exists(), "Debian's chromium", "bash scripts/hosts/chromium.sh")
    require_host(sync_playwright is not None, "Playwright for Python", "pip install -e '.[web-test]'")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, server):
    page = browser.new_page(viewport={"width": 1100, "height": 900})
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    yield page
    page.close()
    assert not errors, errors


def _open(page, url: str) -> None:
    page.goto(url)
    page.wait_for_selector("body[data-state=ready]", timeout=120_000)


def _give(page, path: Path, state: str = "done") -> None:
    runs = page.get_attribute("body", "data-runs") or "0"
    page.set_input_files("#file", str(path))
    _wait_for(page, state, runs)


def _wait_for(page, state: str, runs: str) -> None:
    done = f"document.body.dataset.state === 'error' || (document.body.dataset.state === 'done' && document.body.dataset.runs !== '{runs}')"
    page.wait_for_function(done, timeout=180_000)
    assert page.get_attribute("body", "data-state") == state, page.text_content("#error")


def _canvas(page, selector: str) -> np.ndarray:
    url = page.evaluate(f"document.querySelector('{selector}').toDataURL('image/png')")
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))).convert("RGB"))


def _reference(weights: Path, rgb: np.ndarray, strength: float) -> np.ndarray:
    """ONNX Runtime in Python on the same pixels and weights, rounded to 8 bits as the page (and the engine) round."""
    from zdce_core.export.graph import enhancer_model

    session = ort.InferenceSession(enhancer_model(load_model(weights)).SerializeToString(), providers=["CPUExecutionProvider"])
    image = (rgb.transpose(2, 0, 1)[None] / np.float32(255)).astype(np.float32)
    feeds = {"image": image, "steps": np.array(8, np.int64), "strength": np.array(strength, np.float32)}
    out = session.run(["enhanced"], feeds)[0][0].transpose(1, 2, 0)
    return np.floor(out * 255 + 0.5).astype(np.uint8)


def _levels(a: np.ndarray, b: np.ndarray) -> int:
    return int(np.abs(a.astype(np.int16) - b).max())


def _change(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(np.int16) - b).mean())


def test_browser_enhances_a_photo_like_onnx_runtime(page, server, weights, shared_photo):
    _open(page, server)
    _give(page, shared_photo)
    rgb = np.asarray(Image.open(shared_photo).convert("RGB"))
    shown = _canvas(page, "#after")
    assert _levels(_canvas(page, "#before"), rgb) == 0  # the page read the file's own pixels
    assert shown.shape == rgb.shape
    assert _levels(shown, _reference(weights, rgb, -1.0)) <= TOLERANCE
    assert _change(shown, rgb) > 20  # enhanced, not the photo handed back
    assert "auto" in page.text_content("#strength-value")
    page.screenshot(path=str(ARTIFACTS / "enhanced.png"), full_page=True)

    runs = page.get_attribute("body", "data-runs")
    page.fill("#strength", "0.3")
    _wait_for(page, "done", runs)
    weaker = _canvas(page, "#after")
    assert _levels(weaker, _reference(weights, rgb, 0.3)) <= TOLERANCE
    assert _change(weaker, shown) > 5 and _change(weaker, rgb) < _change(shown, rgb)  # the slider moved the result
    page.fill("#split", "20")
    page.screenshot(path=str(ARTIFACTS / "strength-0.3-split-20.png"), full_page=True)

    with page.expect_download() as download:
        page.click("#download")
    saved = ARTIFACTS / download.value.suggested_filename
    download.value.save_as(saved)
    assert saved.name == f"{shared_photo.stem}_enhanced.png"
    np.testing.assert_array_equal(np.asarray(Image.open(saved).convert("RGB")), weaker)


def test_browser_runs_the_bundled_model(browser, shared_photo):
    page = browser.new_page(viewport={"width": 1100, "height": 900})
    with _serving() as url:
        _open(page, url)
        _give(page, shared_photo)
        rgb = np.asarray(Image.open(shared_photo).convert("RGB"))
        assert _levels(_canvas(page, "#after"), _reference(bundled_path(), rgb, -1.0)) <= TOLERANCE
        page.screenshot(path=str(ARTIFACTS / "bundled-model.png"), full_page=True)
    page.close()


def test_browser_shows_an_error_for_a_text_file(page, server, tmp_path, shared_photo):
    _open(page, server)
    notes = tmp_path / "notes.txt"
    notes.write_text("not a photo\n")
    _give(page, notes, state="error")
    assert page.is_visible("#error")
    assert "notes.txt: not an image this browser can read" in page.text_content("#error")
    page.screenshot(path=str(ARTIFACTS / "text-file-error.png"), full_page=True)
    _give(page, shared_photo)  # the page recovers with a photo
    assert not page.is_visible("#error")


def test_browser_scales_down_a_photo_above_its_cap_and_says_so(page, server, shared_photo):
    _open(page, server + "?max-pixels=60000")
    _give(page, shared_photo)
    width, height = Image.open(shared_photo).size
    shown = _canvas(page, "#after")
    assert shown.shape[0] * shown.shape[1] <= 60_000 and shown.shape[0] < height
    assert abs(shown.shape[1] / shown.shape[0] - width / height) < 0.02
    notice = page.text_content("#notice")
    assert page.is_visible("#notice") and f"{width}×{height}" in notice and f"{shown.shape[1]}×{shown.shape[0]}" in notice
    page.screenshot(path=str(ARTIFACTS / "capped.png"), full_page=True)
