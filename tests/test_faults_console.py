"""What zdce prints: names, encodings, closed streams, limits and messages (issue 21, defects 5, 8, 9, 11, 12, 13).

Real ``zdce`` processes where the stream or the process matters; each test
failed on the code before its fix.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, PngImagePlugin

from zdce_core import enhance
from zdce_core.app.batch import Job, Settings, process
from zdce_core.app.cli import main as zdce_main
from zdce_core.io.images import ImageReadError, read_photo

FORGED = "zdce batch: 99 done, 0 skipped, 0 failed"


def _photo(path: Path, seed: int = 0, size=(24, 32)) -> Path:
    rng = np.random.default_rng(seed)
    Image.fromarray(rng.integers(5, 40, (*size, 3), dtype=np.uint8)).save(path)
    return path


def _zdce(*args, env=None, **options) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "zdce_core", *map(os.fspath, args)],
        capture_output=True, env={**os.environ, **(env or {})}, **options,
    )


# Defect 5: a name with a byte that is not UTF-8 stopped the summary (batch) or failed after writing (enhance).
@pytest.mark.parametrize("encoding", ["utf-8", "ascii"])
def test_undecodable_names_print_with_any_stream_encoding(tmp_path: Path, encoding: str) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / os.fsdecode(b"caf\xe9.jpg")).write_bytes(b"not a photo")
    _photo(folder / "good.png")
    (folder / os.fsdecode(b"z\xe9.png")).write_bytes((folder / "good.png").read_bytes())
    env = {"PYTHONIOENCODING": encoding}
    done = _zdce("batch", folder, "-o", tmp_path / "out", env=env)
    stdout = done.stdout.decode("ascii")  # escaped: plain ASCII whatever the names hold
    assert done.returncode == 1, done.stderr
    assert stdout.splitlines()[0] == "zdce batch: 2 done, 0 skipped, 1 failed"
    assert stdout.splitlines()[1].startswith(f"  failed: {folder}/caf\\xe9.jpg: ")
    one = _zdce("enhance", folder / os.fsdecode(b"z\xe9.png"), "-o", tmp_path / "one.png", env=env)
    assert one.returncode == 0, one.stderr
    assert one.stdout.decode("ascii") == f"wrote {tmp_path / 'one.png'}\n"


# Defect 8: `zdce batch ... 2>&1 | head -n1` stopped after 2 of 8 photos with exit 120.
def test_closed_output_never_stops_the_batch(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    for i in range(8):
        _photo(folder / f"p{i}.png", seed=i, size=(200, 300))
    out = tmp_path / "out"
    script = f'"{sys.executable}" -m zdce_core batch "{folder}" -o "{out}" 2>&1 | head -n1; echo "status ${{PIPESTATUS[0]}}"'
    done = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=300)
    assert done.stdout.splitlines()[-1] == "status 0", done.stdout + done.stderr
    assert sorted(p.name for p in out.iterdir()) == [f"p{i}.png" for i in range(8)]


# Defect 9: a failing file's name held a newline and a forged summary line.
def test_names_cannot_forge_output_lines(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    evil = folder / f"evil.jpg\n{FORGED}\n\x1b[2K.jpg"
    evil.write_bytes(b"not a photo")
    _photo(folder / "good.png")
    done = _zdce("batch", folder, "-o", tmp_path / "out", text=True)
    assert done.returncode == 1
    lines = (done.stdout + done.stderr).splitlines()
    assert FORGED not in lines and "\x1b" not in done.stdout + done.stderr, lines
    assert f"  failed: {folder}/evil.jpg\\n{FORGED}\\n\\x1b[2K.jpg: not an image file (format not recognised)" in lines
    as_json = _zdce("batch", folder, "-o", tmp_path / "out2", "--json", text=True)
    failed = [r for r in json.loads(as_json.stdout)["results"] if r["status"] == "failed"]
    assert [r["source"] for r in failed] == [str(evil)], "--json keeps the name exact"


# Defect 11: --max-pixels above Pillow's own limit was still refused at Pillow's limit.
def test_max_pixels_governs_the_decoders_limit(tmp_path: Path, monkeypatch, capsys) -> None:
    # Pillow's limit made small so a small photo stands for a 196 MP one: it refuses more than twice this.
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    photo = _photo(tmp_path / "big.png", size=(60, 60))
    assert read_photo(photo, max_pixels=10_000).array.shape == (60, 60, 3)
    with pytest.raises(ImageReadError, match="over the pixel limit of 3000"):
        read_photo(photo, max_pixels=3000)
    assert Image.MAX_IMAGE_PIXELS == 1000, "Pillow's setting is restored"
    # A TIFF is checked against Pillow's limit again when it is decoded.
    Image.fromarray(read_photo(photo, max_pixels=10_000).array).save(tmp_path / "big.tif")
    assert read_photo(tmp_path / "big.tif", max_pixels=10_000).array.shape == (60, 60, 3)
    assert zdce_main(["enhance", str(photo), "-o", str(tmp_path / "out.png"), "--max-pixels", "3e8"]) == 0
    assert zdce_main(["enhance", str(photo), "-o", str(tmp_path / "out2.png"), "--max-pixels", "3e3"]) == 1
    assert "over the pixel limit of 3000" in capsys.readouterr().err


# Defect 12: --cluster nonsense printed its line, then a Client.__del__ traceback after 10 s.
def test_malformed_cluster_address_is_one_line(tmp_path: Path) -> None:
    photo = _photo(tmp_path / "p.png")
    done = _zdce("batch", photo, "-o", tmp_path / "out", "--cluster", "nonsense", text=True, timeout=60)
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        "zdce: error: --cluster 'nonsense' is not a scheduler address (missing port number in address 'nonsense'); "
        "expected tcp://HOST:PORT (e.g. tcp://10.0.0.5:8786) or local:N (see zdce batch --help)"
    ]
    assert not (tmp_path / "out").exists()


# Defect 13: messages that named the wrong thing.
def test_bad_chunk_checksum_is_named(tmp_path: Path) -> None:
    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", "night street")
    out = io.BytesIO()
    Image.new("RGB", (8, 8), (10, 20, 30)).save(out, format="PNG", pnginfo=info)
    data = bytearray(out.getvalue())
    data[data.index(b"tEXt") + 6] ^= 0xFF
    (tmp_path / "crc.png").write_bytes(bytes(data))
    with pytest.raises(ImageReadError, match="damaged PNG: the checksum of its 'tEXt' chunk does not match"):
        read_photo(tmp_path / "crc.png")


def test_read_only_output_folder_names_the_output() -> None:
    # As root, permissions do not apply: the write runs as nobody, in a folder nobody may read but not write.
    folder = Path(tempfile.mkdtemp())
    root = os.geteuid() == 0
    try:
        folder.chmod(0o755)
        photo = _photo(folder / "p.png")
        out = folder / "out"
        out.mkdir()
        out.chmod(0o555)
        if root:
            os.seteuid(65534)
        try:
            result = process(Job(photo, out / "p.png"), Settings())
        finally:
            if root:
                os.seteuid(0)
        assert result.status == "failed"
        assert result.reason == f"[Errno 13] Permission denied: '{out / 'p.png'}'"
    finally:
        shutil.rmtree(folder)


def test_float_slightly_over_one_is_shown_as_it_is() -> None:
    image = np.full((4, 4, 3), 0.5)
    image[0, 0, 0] = 1.0000001
    with pytest.raises(ValueError, match=r"found 0\.5\.\.1\.0000001;"):
        enhance(image)


def test_imagemagick_delegate_escapes_the_name(tmp_path: Path, capsys) -> None:
    from zdce_plugins.imagemagick import delegate

    source = tmp_path / "notes.jpg"
    source.write_text("not a photo")
    name = f"x.jpg\n{FORGED}"
    assert delegate.main([str(source), str(tmp_path / "out.png"), name]) == 1
    err = capsys.readouterr().err
    assert err == f"zdce delegate: x.jpg\\n{FORGED}: not an image file (format not recognised)\n"


@pytest.mark.parametrize("encoding", ["utf-8", "ascii"])
def test_every_command_prints_undecodable_names(tmp_path: Path, encoding: str) -> None:
    # Defect 5 in the other commands: `zdce runs` on a folder named with the byte \xe9.
    folder = tmp_path / os.fsdecode(b"r\xe9sultats")
    folder.mkdir()
    done = _zdce("runs", folder, env={"PYTHONIOENCODING": encoding})
    assert done.returncode == 0, done.stderr
    assert done.stdout.decode("ascii") == f"no runs in {tmp_path}/r\\udce9sultats\n"
