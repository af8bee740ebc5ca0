"""Hostile checkpoints (issue 21, defects 3, 4, 10 and the quantized-tensor message of 13).

Each checkpoint is made here from the bundled weights or a real ``torch.save``;
each test failed on the code before its fix.
"""

from __future__ import annotations

import io
import os
import pickle
import subprocess
import sys
import tracemalloc
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from zdce_core import enhance, weights
from zdce_core.app.cli import main as zdce_main
from zdce_core.maths.network import Network
from zdce_core.training.model import DCENet

# The declared size of the bombs below: far past any DCE-Net array, cheap to deflate (about 200 KB on disk).
BOMB_BYTES = 200 << 20


def _bundled() -> dict[str, np.ndarray]:
    with np.load(weights.bundled_path(), allow_pickle=False) as archive:
        return {k: archive[k] for k in archive.files}


def _photo(folder: Path, name: str = "dark.png", seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    path = folder / name
    Image.fromarray(rng.integers(5, 40, (24, 32, 3), dtype=np.uint8)).save(path)
    return path


# Defect 3: finite but huge weights loaded, and enhance returned all-NaN pixels.
@pytest.mark.parametrize("factor", [1e6, 1e20])
def test_huge_finite_weights_are_refused_on_load(tmp_path: Path, factor: float) -> None:
    path = tmp_path / "huge.npz"
    np.savez(path, **{k: v * np.float32(factor) for k, v in _bundled().items()})
    with pytest.raises(ValueError, match="huge.npz: .*far outside a trained network's"):
        weights.load_model(path)


def test_enhance_raises_instead_of_returning_nan(dark_rgb) -> None:
    # Weights whose activations overflow float32 on this photo (x1e6 may only saturate the tanh head).
    net = Network.from_state({k: v * np.float32(1e10) for k, v in _bundled().items()})
    with pytest.raises(ValueError, match="not finite"):
        enhance(dark_rgb, model=net)


def test_enhance_command_with_huge_weights_writes_nothing(tmp_path: Path, capsys) -> None:
    model = tmp_path / "huge.npz"
    np.savez(model, **{k: v * np.float32(1e6) for k, v in _bundled().items()})
    photo = _photo(tmp_path)
    assert zdce_main(["enhance", str(photo), "--model", str(model)]) != 0
    assert "far outside a trained network's" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dark.png", "huge.npz"]


# Defect 4: zip bombs were inflated in full (4 GB, 15 s) before being refused.
def _deflated_zeros(archive: zipfile.ZipFile, name: str, size: int) -> None:
    info = zipfile.ZipInfo(name)
    info.compress_type = zipfile.ZIP_DEFLATED
    with archive.open(info, "w", force_zip64=True) as member:
        block = bytes(1 << 20)
        for _ in range(size >> 20):
            member.write(block)


def _npz_bomb(path: Path, member: str) -> None:
    state = _bundled()
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        for key, array in state.items():
            if f"{key}.npy" == member:
                continue
            buffer = io.BytesIO()
            np.save(buffer, array)
            archive.writestr(f"{key}.npy", buffer.getvalue())
        _deflated_zeros(archive, member, BOMB_BYTES)


@pytest.mark.parametrize("member", ["extra.npy", "conv1.weight.npy"])
def test_npz_zip_bomb_is_refused_before_inflating(tmp_path: Path, member: str) -> None:
    path = tmp_path / "bomb.npz"
    _npz_bomb(path, member)
    assert path.stat().st_size < BOMB_BYTES // 100
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match="bomb.npz: "):
            weights.load_model(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 16 << 20, f"{peak >> 20} MiB allocated while refusing it"


def test_npz_member_that_is_not_npy_is_named(tmp_path: Path) -> None:
    path = tmp_path / "odd.npz"
    np.savez(path, **_bundled())
    with zipfile.ZipFile(path, "a") as archive:
        archive.writestr("conv1.weight.npy", b"not an array")  # a second entry of that name; the last one counts
    with pytest.raises(ValueError, match=r"odd.npz: not a readable .npz weights file \("):
        weights.load_model(path)


def test_pt_zip_bomb_is_refused_before_inflating(tmp_path: Path) -> None:
    plain = io.BytesIO()
    torch.save(DCENet().state_dict(), plain)
    path = tmp_path / "bomb.pt"
    with zipfile.ZipFile(plain) as source, zipfile.ZipFile(path, "w") as archive:
        for info in source.infolist():
            archive.writestr(info, source.read(info))
        prefix = source.namelist()[0].split("/")[0]
        _deflated_zeros(archive, f"{prefix}/data/99", BOMB_BYTES)
    with pytest.raises(ValueError, match=r"bomb.pt: declares [\d,]+ bytes uncompressed"):
        weights.load_model(path)


def test_model_from_environment_is_read_once_per_process(tmp_path: Path, monkeypatch, capsys) -> None:
    bomb = tmp_path / "bomb.npz"
    _npz_bomb(bomb, "extra.npy")
    photos = [_photo(tmp_path, f"p{i}.png", seed=i) for i in range(4)]
    calls = []
    real = weights.load_model
    monkeypatch.setattr(weights, "load_model", lambda path: calls.append(path) or real(path))
    monkeypatch.setattr(weights, "_cache", {})
    monkeypatch.setenv(weights.MODEL_ENV, str(bomb))
    assert zdce_main(["batch", *map(str, photos), "-o", str(tmp_path / "out"), "-q"]) == 1
    assert calls == [str(bomb)]
    err = capsys.readouterr().err
    assert err.count("bomb.npz: extra is") == 0 and err.count("not a DCE-Net checkpoint") == 4, err


# Defect 10: a malicious pickle ran no code, but its refusal was 6-7 lines with colour codes.
class _Exploit:
    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_malicious_pt_is_one_plain_line(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    evil = tmp_path / "evil.pt"
    torch.save({"conv1.weight": _Exploit(str(marker))}, evil)
    photo = _photo(tmp_path)
    done = subprocess.run(
        [sys.executable, "-m", "zdce_core", "enhance", str(photo), "--model", str(evil)],
        capture_output=True, text=True, env={**os.environ, "TERM": "xterm-256color", "FORCE_COLOR": "1"},
    )
    assert done.returncode != 0
    assert not marker.exists(), "the pickle ran code"
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and "\x1b" not in done.stderr, done.stderr
    assert "evil.pt: not a readable weights-only PyTorch checkpoint (it holds Python objects other than tensors" in lines[0]
    assert "weights_only" not in lines[0].split("checkpoint", 1)[1], "it must not advise loading unsafely"
    plain_pickle = tmp_path / "plain.pt"
    plain_pickle.write_bytes(pickle.dumps({"conv1.weight": _Exploit(str(marker))}))
    with pytest.raises(ValueError) as caught:
        weights.load_model(plain_pickle)
    assert "\n" not in str(caught.value) and not marker.exists()


# Defect 13 (part): a quantized tensor was "a torch.strided cpu tensor".
def test_quantized_tensor_is_named(tmp_path: Path) -> None:
    state = DCENet().state_dict()
    state["conv2.weight"] = torch.quantize_per_tensor(state["conv2.weight"], 0.01, 0, torch.qint8)
    torch.save(state, tmp_path / "q.pt")
    with pytest.raises(ValueError, match=r"q.pt: conv2.weight is a quantized tensor \(torch.qint8\)"):
        weights.load_model(tmp_path / "q.pt")
