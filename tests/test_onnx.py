"""The exported ONNX graph and the ONNX Runtime engine against the NumPy engine, on real photos."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from conftest import SHARED_DATA, require_host
from zdce_core import enhance, enhance_steps
from zdce_core.io.images import read_image
from zdce_core.maths.estimate import network_input
from zdce_core.maths.network import SHAPES, Network
from zdce_core.weights import default_model

try:
    import onnx
    import onnxruntime as ort

    from zdce_core.export.graph import enhancer_model
except ImportError:
    onnx = ort = None

TOLERANCE = 1 / 255


@pytest.fixture(scope="module", autouse=True)
def _onnx_installed():
    require_host(onnx is not None and ort is not None, "onnx and onnxruntime", "pip install 'zdce[onnx]'")


def _photo(relative: str) -> np.ndarray:
    path = SHARED_DATA / "test" / relative
    if not path.exists():
        pytest.skip(f"shared test data missing: {path}")
    return read_image(path)


# Real photos of three sizes: odd width and height, odd height, and the portrait 1080x1920 frame.
PHOTOS = {
    "733x479": lambda: _photo("dicm/35.jpg")[:479],
    "640x427": lambda: _photo("sci/difficult/2015_02057.jpg"),
    "1080x1920": lambda: _photo("hires/portrait-1080x1920.png"),
}


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """The bundled model exported by the command, and an ONNX Runtime session of the file."""
    path = tmp_path_factory.mktemp("onnx") / "zdce.onnx"
    done = subprocess.run([sys.executable, "-m", "zdce_core", "export", "-o", str(path)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return path, ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def _run(session, rgb: np.ndarray, steps: int, strength: float, *, maps: bool = False):
    image = (rgb.transpose(2, 0, 1)[None] / np.float32(255)).astype(np.float32)
    feeds = {"image": image, "steps": np.array(steps, np.int64), "strength": np.array(strength, np.float32)}
    enhanced, applied, small_maps = session.run(None, feeds)
    result = enhanced[0].transpose(1, 2, 0), float(applied[0])
    return (*result, small_maps[0]) if maps else result


def test_exported_file_passes_the_checker(exported):
    path, session = exported
    model = onnx.load(str(path))
    onnx.checker.check_model(model, full_check=True)
    assert [i.name for i in session.get_inputs()] == ["image", "steps", "strength"]
    dims = [d.dim_param or d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim]
    assert dims == ["N", 3, "H", "W"]  # any size


@pytest.mark.parametrize("size", PHOTOS)
def test_graph_equals_enhance_for_every_steps_and_strength(exported, size):
    rgb = PHOTOS[size]()
    assert "x".join(map(str, rgb.shape[1::-1])) == size
    _, session = exported
    worst = {}
    for steps in range(1, 9):
        for strength in (0.0, 0.5, 1.0):
            got, applied, maps = _run(session, rgb, steps, strength, maps=True)
            want = enhance(rgb, steps=steps, strength=strength, denoise=False)
            assert got.shape == want.shape and applied == strength
            worst[steps, strength] = float(np.abs(got - want).max())
    assert max(worst.values()) <= TOLERANCE, {k: round(v * 255, 3) for k, v in worst.items() if v > TOLERANCE}
    # The network ran on the engine's input planes (box reduction and exposure plane included).
    np.testing.assert_allclose(maps, default_model()(network_input(rgb)[0]), atol=1e-4)


def test_graph_equals_enhance_with_strong_curves():
    # Random weights whose curves move every pixel far: the curve steps, the upsampling and the guard are
    # compared where they matter, whatever the bundled checkpoint makes of these photos.
    rng = np.random.default_rng(7)
    net = Network.from_state({key: rng.normal(0, 0.15, shape).astype(np.float32) for key, shape in SHAPES.items()})
    session = ort.InferenceSession(enhancer_model(net).SerializeToString(), providers=["CPUExecutionProvider"])
    rgb = PHOTOS["733x479"]()
    for steps in (1, 4, 8):
        for strength in (-1.0, 0.5, 1.0):
            got, _ = _run(session, rgb, steps, strength)
            want = enhance(rgb, steps=steps, strength="auto" if strength < 0 else strength, denoise=False, model=net)
            assert np.abs(got - want).max() <= TOLERANCE, (steps, strength)
    assert np.abs(want - rgb / 255).mean() > 0.05  # steps 8, strength 1: a graph that handed back its input would fail


def test_negative_strength_is_the_guard(exported):
    _, session = exported
    rgb = _photo("lol15-low/1.png")
    got, applied = _run(session, rgb, 8, -1.0)
    np.testing.assert_allclose(got, enhance(rgb, denoise=False), atol=TOLERANCE)
    assert applied == 1.0  # a dark photo: the guard lifts it in full
    bright = np.clip(rgb.astype(np.int32) * 6, 0, 255).astype(np.uint8)
    got, applied = _run(session, bright, 8, -1.0)
    np.testing.assert_allclose(got, enhance(bright, denoise=False), atol=TOLERANCE)
    assert applied < 1.0


def test_onnx_engine_matches_numpy_engine_in_every_dtype(exported, tmp_path):
    path, _ = exported
    rgb = PHOTOS["640x427"]()
    for options in ({"dtype": np.uint8}, {"dtype": np.uint16, "steps": 3, "strength": 0.7}, {"denoise": False}):
        want = enhance(rgb, **options)
        for model in (None, path):
            got = enhance(rgb, engine="onnx", model=model, **options)
            assert got.dtype == want.dtype and got.shape == want.shape
            scale = 255 if want.dtype == np.uint8 else 65535 if want.dtype == np.uint16 else 1
            assert np.abs(got.astype(np.float64) - want).max() / scale <= TOLERANCE, options
    grey = rgb[..., 1]
    assert enhance(grey, channel_axis=None, engine="onnx").shape == grey.shape
    small = rgb[::4, ::4]
    previews = enhance_steps(small, engine="onnx", dtype=np.uint8)
    for k in (0, 3, 7):
        np.testing.assert_array_equal(previews[k], enhance(small, k + 1, engine="onnx", dtype=np.uint8))
        assert np.abs(previews[k].astype(int) - enhance(small, k + 1, dtype=np.uint8)).max() <= 1
    with pytest.raises(ValueError, match="engine='cuda' is invalid"):
        enhance(rgb, engine="cuda")
    with pytest.raises(ValueError, match="is an ONNX graph; run it with engine='onnx'"):
        enhance(rgb, model=path)


def test_export_without_torch_and_network_only(tmp_path):
    code = (
        "import sys; sys.modules['torch'] = None\n"
        "from zdce_core.app.cli import main\n"
        f"sys.exit(main(['export', '-o', {str(tmp_path / 'a.onnx')!r}]) or main(['export', '--network-only', '-o', {str(tmp_path / 'n.onnx')!r}]))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    net = default_model()
    planes = np.random.default_rng(0).random((1, 4, 37, 64), dtype=np.float32) - np.float32(0.5)
    maps = ort.InferenceSession(str(tmp_path / "n.onnx"), providers=["CPUExecutionProvider"]).run(None, {"planes": planes})[0]
    np.testing.assert_allclose(maps[0], net(planes[0].transpose(1, 2, 0)), atol=1e-5)
    assert (tmp_path / "a.onnx").stat().st_size > (tmp_path / "n.onnx").stat().st_size


def _zdce(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "zdce_core", *args], capture_output=True, text=True)


def test_malformed_or_non_finite_model_is_refused_in_one_line(exported, tmp_path, shared_photo):
    path, _ = exported
    text = tmp_path / "notes.onnx"
    text.write_text("not a model\n")
    broken = onnx.load(str(path))
    weight = next(t for t in broken.graph.initializer if t.name == "conv3.weight")
    values = onnx.numpy_helper.to_array(weight).copy()
    values[0, 0, 0, 0] = np.nan
    weight.CopyFrom(onnx.numpy_helper.from_array(values, weight.name))
    nan = tmp_path / "nan.onnx"
    nan.write_bytes(broken.SerializeToString())
    huge = onnx.load(str(path))
    weight = next(t for t in huge.graph.initializer if t.name == "conv1.weight")
    weight.CopyFrom(onnx.numpy_helper.from_array(onnx.numpy_helper.to_array(weight) * np.float32(1e6), weight.name))
    (tmp_path / "huge.onnx").write_bytes(huge.SerializeToString())
    network = tmp_path / "network.onnx"
    assert _zdce("export", "--network-only", "-o", str(network)).returncode == 0
    cases = {
        text: "notes.onnx: not a valid ONNX model",
        nan: "nan.onnx: conv3.weight holds NaN or infinite values",
        tmp_path / "huge.onnx": "huge.onnx: conv1.weight holds values up to",
        network: "network.onnx: not a whole-enhancer graph from zdce export",
    }
    for model, message in cases.items():
        done = _zdce("enhance", str(shared_photo), "-o", str(tmp_path / "out.png"), "--engine", "onnx", "--model", str(model))
        assert done.returncode == 2 and message in done.stderr, done.stderr
        assert len(done.stderr.strip().splitlines()) == 1
        with pytest.raises(ValueError, match=message.split(": ", 1)[1]):
            enhance(read_image(shared_photo), engine="onnx", model=model)
    assert not (tmp_path / "out.png").exists()
    done = _zdce("enhance", str(shared_photo), "-o", str(tmp_path / "out.png"), "--engine", "onnx", "--model", str(path))
    assert done.returncode == 0, done.stderr
    done = _zdce("export", "-o", str(tmp_path / "bad.tflite"))
    assert done.returncode == 2 and "must end in .npz or .onnx" in done.stderr
